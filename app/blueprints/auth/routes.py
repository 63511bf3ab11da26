from flask import request, url_for
from flask_babel import gettext as _

from ...account_session import begin_flow, end_browser_session, log_in, note_send
from ...flows import accounts, codes, second_factor
from ...flows.redirects import safe_next
from ...limits import account_key, flow_source, form_address_key, limit_posts, per_source
from ...rendering import redirect_page, redirect_step, render_step
from ...twofactor import pending, trusted
from . import bp
from .forms import LoginForm, RegisterForm


@bp.route("/register", methods=["GET", "POST"])
@limit_posts(per_source(form_address_key))
def register():
    form = RegisterForm()
    if form.validate_on_submit():
        flow = begin_flow(form.email.data, codes.VERIFY, form.next.data)
        data = accounts.Registration(form.email.data, form.password.data, form.first_name.data,
                                     form.last_name.data, form.organisation.data)
        note_send(accounts.register(data, source=flow_source(flow)))
        return redirect_step(url_for("verification.verify"))
    return render_step("auth/register.html", form=form, status=422 if form.errors else 200)


@bp.route("/login", methods=["GET", "POST"])
@limit_posts(form_address_key)
def login():
    form = LoginForm()
    if form.validate_on_submit():
        user = accounts.authenticate(form.email.data, form.password.data)
        if user is not None and not user.is_verified:
            flow = begin_flow(user.email, codes.VERIFY, form.next.data)
            note_send(accounts.send_verification_code(user, source=flow_source(flow)))
            return redirect_step(url_for("verification.verify", unverified=1))
        if user is not None and second_factor.has_second_factor(user) and not trusted.recognised(user):
            pending.begin(user, remember=form.remember.data, next_url=form.next.data)
            return redirect_step(url_for("twofactor.sign_in"))
        if user is not None:
            log_in(user, remember=form.remember.data)
            return redirect_page(safe_next(form.next.data, url_for("media.index")))
        form.form_errors.append(_("Email or password is incorrect."))
    return render_step("auth/login.html", form=form, status=422 if form.errors else 200)


@bp.route("/logout", methods=["POST"])
@limit_posts(account_key)
def logout():
    end_browser_session()
    return redirect_page(safe_next(request.form.get("next"), url_for("media.index")))
