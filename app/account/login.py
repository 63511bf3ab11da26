import secrets

from flask import current_app, request, session, url_for
from flask_babel import gettext as _

from ..account_session import Flow, begin_flow, end_browser_session, log_in, note_send
from ..flows import accounts, codes, passkeys, second_factor
from ..flows.redirects import safe_next
from ..limits import account_key, flow_source, form_address_key, limit_posts, network_key, per_source
from ..rendering import form_status, redirect_page, redirect_step, render_step
from . import bp, pending, trusted
from .forms import LoginForm, PasskeyLoginForm, RegisterForm
from .messages import passkey_error
from .passkey_views import SIGN_IN, keep_challenge, relying_party, take_challenge

PASSKEY_ATTEMPT_KEY = "passkey_sign_in"


@bp.route("/register", methods=["GET", "POST"])
@limit_posts(per_source(form_address_key))
def register():
    form = RegisterForm()
    if form.validate_on_submit():
        flow = begin_flow(form.email.data, codes.VERIFY, form.next.data)
        data = accounts.Registration(
            form.email.data, form.password.data, form.first_name.data, form.last_name.data, form.organisation.data
        )
        note_send(accounts.register(data, source=flow_source(flow)))
        return redirect_step(url_for("account.verify"))
    return render_step("account/register.html", form=form, status=form_status(form))


@bp.route("/login", methods=["GET", "POST"])
@limit_posts(form_address_key)
def login():
    form = LoginForm()
    if form.validate_on_submit():
        user = accounts.authenticate(form.email.data, form.password.data)
        if user is not None and not user.is_verified:
            flow = begin_flow(user.email, codes.VERIFY, form.next.data)
            note_send(accounts.send_verification_code(user, source=flow_source(flow)))
            return redirect_step(url_for("account.verify", unverified=1))
        if user is not None and second_factor.has_second_factor(user) and not trusted.recognised(user):
            pending.begin(user, remember=form.remember.data, next_url=form.next.data)
            return redirect_step(url_for("account.two_step_sign_in"))
        if user is not None:
            log_in(user, remember=form.remember.data)
            return redirect_page(safe_next(form.next.data, url_for("media.index")))
        form.form_errors.append(_("Email or password is incorrect."))
    return render_step("account/login.html", form=form, status=form_status(form))


@bp.route("/login/passkey/options", methods=["POST"])
@limit_posts(network_key)
def login_passkey_options():
    """Sign in with a passkey on its own: the browser offers the ones it has for the site."""
    options, challenge = passkeys.authentication_options(None, rp_id=relying_party()[0])
    keep_challenge(challenge, SIGN_IN)
    return current_app.response_class(options, mimetype="application/json")


@bp.route("/login/passkey", methods=["POST"])
@limit_posts(network_key)
def login_passkey():
    """A passkey (unlocked by its owner) is both factors: logged in as after the password and the
    second factor; failed answers count as wrong entries (app/flows/passkeys.py)."""
    form, challenge = PasskeyLoginForm(), take_challenge(SIGN_IN)
    login_form = LoginForm(formdata=None, next=form.next.data)
    if form.validate_on_submit():
        rp_id, origin = relying_party()
        # the wrong entries of this browser's tries, until a log in starts a new session
        attempt = session.setdefault(PASSKEY_ATTEMPT_KEY, secrets.token_urlsafe(18))
        check, user = passkeys.sign_in_alone(
            form.credential.data,
            challenge=challenge,
            rp_id=rp_id,
            origin=origin,
            source=flow_source(Flow(str(attempt), "", "passkey-sign-in")),
        )
        if user is not None:
            log_in(user)
            return redirect_page(safe_next(form.next.data, url_for("media.index")))
        login_form.form_errors.append(passkey_error(check, alone=True))
    else:
        login_form.form_errors.append(
            _("The passkey was not accepted. Try again, or log in with your email address and password.")
        )
    return render_step("account/login.html", form=login_form, status=422)


@bp.route("/logout", methods=["POST"])
@limit_posts(account_key)
def logout():
    end_browser_session()
    return redirect_page(safe_next(request.form.get("next"), url_for("media.index")))
