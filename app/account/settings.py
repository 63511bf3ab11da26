import json

from flask import current_app, flash, make_response, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required

from ..account_session import (
    begin_flow,
    current_flow,
    end_browser_session,
    end_flow,
    keep_this_browser_logged_in,
    note_send,
)
from ..flows import account_data, accounts, codes, email_change, login_sessions, recovery
from ..flows import newsletter as newsletter_flow
from ..flows.downloads import content_disposition
from ..flows.recovery import PasswordChange
from ..i18n import localized
from ..limits import account_key, flow_source, limit_posts
from ..rendering import form_status, redirect_page, render_step
from . import bp
from .code_step import CodeForm, ResendForm, code_error, send_wait_message
from .forms import ChangePasswordForm, DeleteAccountForm, EmailChangeForm, NewsletterForm, ProfileForm


def render_account(block: str = "main", status: int = 200, *, profile_saved: bool = False, email_message=None, **forms):
    """The account page, or one of its sections (``block``) for HTMX."""
    forms.setdefault("profile", ProfileForm(formdata=None, obj=current_user))
    forms.setdefault("newsletter", NewsletterForm(formdata=None))
    forms.setdefault("email", EmailChangeForm(formdata=None))
    forms.setdefault("email_code", CodeForm(formdata=None))
    forms.setdefault("password", ChangePasswordForm(formdata=None))
    forms.setdefault("delete", DeleteAccountForm(formdata=None))
    email_flow = current_flow(codes.EMAIL_CHANGE)
    if email_flow is not None and email_message is None:
        blocked_until = accounts.next_send_at(email_flow.address, flow_source(email_flow))
        email_message = send_wait_message(blocked_until) if blocked_until else None
    downloads = account_data.downloads_page(
        current_user,
        account_data.page_number(request.args.get("page")),
        current_app.config["ACCOUNT_DOWNLOADS_PAGE_SIZE"],
    )
    return render_step(
        "account/index.html",
        block=block,
        status=status,
        forms=forms,
        profile_saved=profile_saved,
        email_flow=email_flow,
        email_message=email_message,
        downloads=downloads,
    )


@bp.route("")
@login_required
def index():
    # the downloads list's pages swap only the list
    return render_account("downloads" if request.headers.get("HX-Target") == "account-downloads" else "main")


@bp.route("/data", methods=["POST"])
@login_required
@limit_posts(account_key)
def data():
    """ "Download my data": a JSON file, never stored by a cache (the account pages are no-store)."""
    export = account_data.export(current_user, portal=localized(current_app.config["PORTAL_NAME"]))
    response = make_response(json.dumps(export, ensure_ascii=False, indent=2) + "\n")
    response.mimetype = "application/json"
    response.headers["Content-Disposition"] = content_disposition(f"account-data-{export['exported_at'][:10]}.json")
    return response


@bp.route("/profile", methods=["POST"])
@login_required
@limit_posts(account_key)
def profile():
    form = ProfileForm()
    if form.validate_on_submit():
        recovery.update_profile(
            current_user,
            first_name=form.first_name.data,
            last_name=form.last_name.data,
            organisation=form.organisation.data,
        )
    return render_account("profile", status=form_status(form), profile=form, profile_saved=not form.errors)


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
    return render_account("newsletter", status=form_status(form))


@bp.route("/password", methods=["POST"])
@login_required
@limit_posts(account_key)
def password():
    form = ChangePasswordForm()
    if form.validate_on_submit():
        result = recovery.change_password(current_user, form.current.data, form.password.data)
        if result is PasswordChange.DONE:
            keep_this_browser_logged_in()
            flash(_("Your password has been changed. Every other session has been logged out."))
            return redirect_page(url_for("account.index"))
        field = form.current if result is PasswordChange.WRONG_CURRENT else form.password
        field.errors.append(
            _("That is not your current password.")
            if result is PasswordChange.WRONG_CURRENT
            else _("The new password must be different from your current password.")
        )
    return render_account("password", status=422, password=form)


@bp.route("/email", methods=["POST"])
@login_required
@limit_posts(account_key)
def email():
    form = EmailChangeForm()
    if form.validate_on_submit():
        refusal = email_change.refusal(current_user, form.email_password.data, form.new_email.data)
        if refusal is None:
            flow = begin_flow(form.new_email.data, codes.EMAIL_CHANGE)
            note_send(email_change.send_code(current_user, flow.address, source=flow_source(flow)))
            return render_account("email")
        if refusal is email_change.Refusal.WRONG_PASSWORD:
            form.email_password.errors.append(_("That is not your password."))
        else:
            form.new_email.errors.append(_("This is already the address of your account."))
    return render_account("email", status=422, email=form)


@bp.route("/email/code", methods=["POST"])
@login_required
@limit_posts(account_key)
def email_code():
    flow, form = current_flow(codes.EMAIL_CHANGE), CodeForm()
    if flow is None:  # ended in another tab, or by a log in
        return render_account("email", status=409)
    if form.validate_on_submit():
        result = email_change.confirm(current_user, flow.address, form.code.data, source=flow_source(flow))
        if result.changed:
            end_flow()
            keep_this_browser_logged_in()
            flash(
                _(
                    "Your email address is now %(address)s. Every other session has been logged out.",
                    address=flow.address,
                )
            )
            return redirect_page(url_for("account.index"))
        form.code.errors.append(
            _("This address has just been registered for another account.")
            if result.taken
            else code_error(result.check)
        )
    return render_account("email", status=422, email_code=form)


@bp.route("/email/resend", methods=["POST"])
@login_required
@limit_posts(account_key)
def email_resend():
    flow, form = current_flow(codes.EMAIL_CHANGE), ResendForm()
    if flow is None or not form.validate_on_submit():
        return render_account("email", status=409)
    blocked_until = email_change.send_code(current_user, flow.address, source=flow_source(flow), resend=True)
    if blocked_until is None:
        note_send(None)  # a code went out: the section no longer says that none was sent
    message = (
        send_wait_message(blocked_until)
        if blocked_until
        else _("We have sent a new code. Codes sent before it no longer work.")
    )
    return render_account("email", status=429 if blocked_until else 200, email_message=message)


@bp.route("/email/cancel", methods=["POST"])
@login_required
@limit_posts(account_key)
def email_cancel():
    if current_flow(codes.EMAIL_CHANGE) is not None:
        end_flow()
    return render_account("email")


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
