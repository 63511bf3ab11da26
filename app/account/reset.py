from flask import request, session, url_for
from flask_babel import gettext as _

from ..account_session import begin_flow, end_flow, note_send, return_to
from ..flows import codes, recovery
from ..flows.recovery import PasswordChange, ResetGrant
from ..limits import flow_source, form_address_key, key_for_account, limit_posts, per_source
from ..rendering import form_status, redirect_step, render_step
from . import bp
from .code_step import Purpose, code_views
from .forms import NewPasswordForm, RequestResetForm, ResetCodeForm

GRANT_KEY = "reset_grant"


@bp.route("/reset", methods=["GET", "POST"])
@limit_posts(per_source(form_address_key))
def reset():
    form = RequestResetForm()
    if form.validate_on_submit():
        flow = begin_flow(form.email.data, codes.RESET, form.next.data)
        note_send(recovery.request_reset(flow.address, source=flow_source(flow)))
        return redirect_step(url_for("account.reset_code"))
    return render_step("account/reset_request.html", form=form, status=form_status(form))


def _granted(result: codes.CodeCheck):
    if result.outcome is codes.Outcome.ACCEPTED and result.user is not None:  # accepted: the code's account
        session[GRANT_KEY] = ResetGrant.for_user(result.user).as_dict()
        end_flow()
        return redirect_step(url_for("account.reset_password"))
    return None


RESET = Purpose(
    code=codes.RESET,
    view_name="reset_code",
    resend_name="reset_resend",
    start_endpoint="account.reset",
    form=ResetCodeForm,
    check=lambda address, code, source: recovery.confirm_reset_code(address, code, source=source),
    accepted=_granted,
)
code_views("/reset/code", RESET)  # account.reset_code and account.reset_resend


def grant_account_key() -> str:
    grant = ResetGrant.from_dict(session.get(GRANT_KEY))
    return key_for_account(grant.user_id if grant else "-")


@bp.route("/reset/password", methods=["GET", "POST"])
@limit_posts(grant_account_key)  # each try runs bcrypt (is the new password the old one?)
def reset_password():
    grant = ResetGrant.from_dict(session.get(GRANT_KEY))
    user = grant.user_if_valid() if grant else None
    form = NewPasswordForm()
    if user is None:
        return render_step(
            "account/reset_password.html", form=form, no_grant=True, status=409 if request.method == "POST" else 200
        )
    if form.validate_on_submit():
        change = recovery.set_new_password(user, form.password.data)
        if change is PasswordChange.DONE:
            session.pop(GRANT_KEY, None)
            return redirect_step(url_for("account.reset_done"))
        if change is PasswordChange.GRANT_SPENT:
            return render_step("account/reset_password.html", form=form, no_grant=True, status=409)
        form.password.errors.append(_("The new password must be different from your current password."))
    return render_step("account/reset_password.html", form=form, status=form_status(form))


@bp.route("/reset/done")
def reset_done():
    return render_step("account/reset_done.html", next_url=return_to())
