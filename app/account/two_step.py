from flask import current_app, flash, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required

from ..account_session import Flow, keep_this_browser_logged_in, log_in, return_to
from ..flows import second_factor
from ..flows.passwords import verify_password
from ..flows.redirects import safe_next
from ..i18n import localized
from ..limits import account_key, flow_source, limit_posts
from ..rendering import form_status, redirect_page, render_step
from . import bp, pending, trusted
from .forms import PasskeyForm, PasskeyNameForm, PasskeySignInForm, PasswordConfirmForm, SecondFactorForm, TotpSetupForm
from .messages import check_error
from .qr import qr_svg


def render_settings(status: int = 200, **context):
    context.setdefault("confirm", PasswordConfirmForm(formdata=None))
    context.setdefault("passkey_form", PasskeyForm(formdata=None))
    context.setdefault("name_form", PasskeyNameForm(formdata=None))
    context.setdefault("remove_form", None)
    context.setdefault("removing", None)
    user = current_user._get_current_object()
    return render_step(
        "account/two_step/settings.html",
        block="main",
        status=status,
        totp=second_factor.totp_factor(user),
        passkeys=second_factor.passkeys(user),
        codes_left=second_factor.recovery_codes_left(user),
        next_url=safe_next(request.args.get("next"), ""),
        **context,
    )


@bp.route("/two-step")
@login_required
def two_step():
    return render_settings()


@bp.route("/two-step/authenticator", methods=["GET", "POST"])
@login_required
@limit_posts(account_key)
def two_step_authenticator():
    user, form = current_user._get_current_object(), TotpSetupForm()
    if second_factor.totp_factor(user) is not None:
        return redirect_page(url_for("account.two_step"))
    factor = second_factor.pending_totp(user)
    if form.validate_on_submit():
        recovery = second_factor.confirm_totp(user, form.code.data)
        if recovery is not None:
            keep_this_browser_logged_in()
            return render_recovery_codes(recovery, added=True)
        form.code.errors.append(_("That code is not correct. Check the time on your phone and try again."))
    uri = second_factor.provisioning_uri(factor, user, localized(current_app.config["PORTAL_NAME"]))
    return render_step(
        "account/two_step/authenticator.html",
        block="main",
        status=form_status(form),
        form=form,
        secret=factor.secret,
        qr=qr_svg(uri),
        next_url=safe_next(request.args.get("next"), ""),
    )


def render_recovery_codes(recovery, *, added: bool = False):
    return render_step(
        "account/two_step/recovery_codes.html",
        block="main",
        recovery=recovery or [],
        added=added,
        next_url=safe_next(request.values.get("next"), ""),
    )


@bp.route("/two-step/authenticator/remove", methods=["POST"])
@login_required
@limit_posts(account_key)
def two_step_remove_authenticator():
    form = PasswordConfirmForm()
    if not password_confirmed(form):
        return render_settings(status=422, confirm=form)
    if second_factor.remove_totp(current_user._get_current_object()):
        keep_this_browser_logged_in()
        flash(_("The authenticator app no longer signs in to your account. Every other session has been logged out."))
    return redirect_page(url_for("account.two_step"))


def password_confirmed(form: PasswordConfirmForm) -> bool:
    """Removing a factor or making new recovery codes: the password again, said wrong when it is."""
    if form.validate_on_submit() and verify_password(form.factor_password.data, current_user.password_hash):
        return True
    if not form.errors:
        form.factor_password.errors.append(_("That is not your password."))
    return False


@bp.route("/two-step/recovery-codes", methods=["POST"])
@login_required
@limit_posts(account_key)
def two_step_recovery_codes():
    form = PasswordConfirmForm()
    if not password_confirmed(form):
        return render_settings(status=422, confirm=form)
    recovery = second_factor.regenerate_recovery_codes(current_user._get_current_object())
    return render_recovery_codes(recovery) if recovery is not None else redirect_page(url_for("account.two_step"))


@bp.route("/two-step/forget-browsers", methods=["POST"])
@login_required
@limit_posts(account_key)
def two_step_forget_browsers():
    second_factor.forget_browsers(current_user._get_current_object())  # the app-wide CSRF check came first
    flash(_("Every browser will ask for the second factor again."))
    return redirect_page(url_for("account.two_step"))


@bp.route("/two-step/sign-in", methods=["GET", "POST"])
@limit_posts(pending.attempt_account_key)
def two_step_sign_in():
    attempt, form = pending.current(), SecondFactorForm()
    if attempt is None:
        return redirect_page(url_for("account.login"))
    if form.validate_on_submit():
        source = flow_source(Flow(attempt.attempt, attempt.user.email, "second-factor"))
        check = second_factor.check_second_factor(attempt.user, form.code.data, source=source)
        if check.ok:
            pending.end()
            log_in(attempt.user, remember=attempt.remember)
            response = redirect_page(return_to(url_for("media.index")))
            if form.remember_browser.data and not attempt.user.is_staff:
                trusted.remember(response, attempt.user)
            return response
        form.code.errors.append(check_error(check))
    return render_sign_in(attempt, form=form, status=form_status(form))


def render_sign_in(attempt, *, form=None, status: int = 200, **context):
    return render_step(
        "account/two_step/sign_in.html",
        form=form or SecondFactorForm(formdata=None),
        user=attempt.user,
        has_totp=second_factor.totp_factor(attempt.user) is not None,
        has_passkeys=bool(second_factor.passkeys(attempt.user)),
        passkey_form=PasskeySignInForm(),
        status=status,
        **context,
    )
