from flask import request, url_for
from flask_login import login_required

from ..account_session import end_flow, log_in, return_to
from ..flows import accounts, codes
from ..rendering import redirect_step, render_step
from . import bp
from .code_step import CodeForm, Purpose, code_views


def _verified(result: codes.CodeCheck):
    if result.outcome is codes.Outcome.ACCEPTED:
        log_in(result.user)
        end_flow()
    if result.ok:  # a double submit is welcomed too, with the first answer's session, never a new one
        return redirect_step(url_for("account.welcome"))
    return None


VERIFY = Purpose(
    code=codes.VERIFY,
    view_name="verify",
    resend_name="verify_resend",
    start_endpoint="account.login",
    form=CodeForm,
    check=lambda address, code, source: accounts.confirm_address(address, code, source=source),
    accepted=_verified,
    page_context=lambda: {"unverified": bool(request.args.get("unverified"))},
)
code_views("/verify", VERIFY)  # account.verify and account.verify_resend


@bp.route("/welcome")
@login_required
def welcome():
    return render_step("account/welcome.html", next_url=return_to())
