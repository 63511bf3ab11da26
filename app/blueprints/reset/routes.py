from flask import request, session, url_for
from flask_babel import gettext as _

from ...account_session import begin_flow, end_flow, note_send, return_to
from ...code_step import Purpose, code_views
from ...flows import codes, recovery
from ...flows.recovery import PasswordChange, ResetGrant
from ...limits import flow_source, form_address_key, key_for_account, limit_posts, per_source
from ...rendering import form_status, redirect_step, render_step
from . import bp
from .forms import NewPasswordForm, RequestResetForm, ResetCodeForm

GRANT_KEY = "reset_grant"


@bp.route("", methods=["GET", "POST"])
@limit_posts(per_source(form_address_key))
def request_code():
    form = RequestResetForm()
    if form.validate_on_submit():
        flow = begin_flow(form.email.data, codes.RESET, form.next.data)
        note_send(recovery.request_reset(flow.address, source=flow_source(flow)))
        return redirect_step(url_for("reset.code"))
    return render_step("reset/request.html", form=form, status=form_status(form))


def _granted(result: codes.CodeCheck):
    if result.outcome is codes.Outcome.ACCEPTED and result.user is not None:  # accepted: the code's account
        session[GRANT_KEY] = ResetGrant.for_user(result.user).as_dict()
        end_flow()
        return redirect_step(url_for("reset.new_password"))
    return None


RESET = Purpose(
    code=codes.RESET,
    blueprint=bp.name,
    view_name="code",
    start_endpoint="reset.request_code",
    form=ResetCodeForm,
    check=lambda address, code, source: recovery.confirm_reset_code(address, code, source=source),
    accepted=_granted,
)
code_views(bp, "/code", RESET)  # reset.code and reset.resend


def grant_account_key() -> str:
    grant = ResetGrant.from_dict(session.get(GRANT_KEY))
    return key_for_account(grant.user_id if grant else "-")


@bp.route("/password", methods=["GET", "POST"])
@limit_posts(grant_account_key)  # each try runs bcrypt (is the new password the old one?)
def new_password():
    grant = ResetGrant.from_dict(session.get(GRANT_KEY))
    user = grant.user_if_valid() if grant else None
    form = NewPasswordForm()
    if user is None:
        return render_step(
            "reset/password.html", form=form, no_grant=True, status=409 if request.method == "POST" else 200
        )
    if form.validate_on_submit():
        change = recovery.set_new_password(user, form.password.data)
        if change is PasswordChange.DONE:
            session.pop(GRANT_KEY, None)
            return redirect_step(url_for("reset.done"))
        if change is PasswordChange.GRANT_SPENT:
            return render_step("reset/password.html", form=form, no_grant=True, status=409)
        form.password.errors.append(_("The new password must be different from your current password."))
    return render_step("reset/password.html", form=form, status=form_status(form))


@bp.route("/done")
def done():
    return render_step("reset/done.html", next_url=return_to())
