from flask import current_app, flash, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required

from ...account_session import end_browser_session, log_in
from ...flows import login_sessions, newsletter as newsletter_flow, recovery
from ...flows.recovery import PasswordChange
from ...limits import account_key, limit_posts
from ...rendering import redirect_page, render_step
from . import bp
from .forms import ChangePasswordForm, DeleteAccountForm, NewsletterForm, ProfileForm


def render_account(block: str = "main", status: int = 200, *, profile_saved: bool = False, **forms):
    """The account page, or one of its sections (``block``) for HTMX."""
    forms.setdefault("profile", ProfileForm(formdata=None, obj=current_user))
    forms.setdefault("newsletter", NewsletterForm(formdata=None))
    forms.setdefault("password", ChangePasswordForm(formdata=None))
    forms.setdefault("delete", DeleteAccountForm(formdata=None))
    return render_step("account/index.html", block=block, status=status, forms=forms, profile_saved=profile_saved)


@bp.route("")
@login_required
def index():
    return render_account()


@bp.route("/profile", methods=["POST"])
@login_required
@limit_posts(account_key)
def profile():
    form = ProfileForm()
    if form.validate_on_submit():
        recovery.update_profile(current_user, first_name=form.first_name.data, last_name=form.last_name.data,
                                organisation=form.organisation.data)
    return render_account("profile", status=422 if form.errors else 200, profile=form, profile_saved=not form.errors)


@bp.route("/newsletter", methods=["POST"])
@login_required
@limit_posts(account_key)
def newsletter():
    form = NewsletterForm()
    if form.validate_on_submit():
        if form.subscribe.data == "on":
            newsletter_flow.subscribe(current_user, source="account page")
        else:
            newsletter_flow.unsubscribe(current_user)
    return render_account("newsletter", status=422 if form.errors else 200)


@bp.route("/password", methods=["POST"])
@login_required
@limit_posts(account_key)
def password():
    form = ChangePasswordForm()
    if form.validate_on_submit():
        result = recovery.change_password(current_user, form.current.data, form.password.data)
        if result is PasswordChange.DONE:
            remembered = current_app.config.get("REMEMBER_COOKIE_NAME", "remember_token") in request.cookies
            log_in(current_user._get_current_object(), remember=remembered)  # this session stays
            flash(_("Your password has been changed. Every other session has been logged out."))
            return redirect_page(url_for("account.index"))
        field = form.current if result is PasswordChange.WRONG_CURRENT else form.password
        field.errors.append(_("That is not your current password.") if result is PasswordChange.WRONG_CURRENT
                            else _("The new password must be different from your current password."))
    return render_account("password", status=422, password=form)


@bp.route("/delete", methods=["POST"])
@login_required
@limit_posts(account_key)
def delete():
    form = DeleteAccountForm()
    if form.validate_on_submit():
        if recovery.delete_account(current_user._get_current_object(), form.delete_password.data):
            end_browser_session()
            return redirect_page(url_for("account.deleted"))
        form.delete_password.errors.append(_("That is not your password."))
    return render_account("delete", status=422, delete=form)


@bp.route("/logout-everywhere", methods=["POST"])
@login_required
@limit_posts(account_key)
def logout_everywhere():
    login_sessions.end_all(current_user._get_current_object())
    end_browser_session()
    flash(_("You have been logged out on every device."))
    return redirect_page(url_for("media.index"))


@bp.route("/deleted")
def deleted():
    return render_template("account/deleted.html")
