from flask import request, url_for
from flask_login import login_required

from ...account_session import end_flow, log_in, return_to
from ...code_step import CodeForm, Purpose, code_views
from ...flows import accounts, codes
from ...rendering import redirect_step, render_step
from . import bp


def _verified(result: codes.CodeCheck):
    if result.outcome is codes.Outcome.ACCEPTED:
        log_in(result.user)
        end_flow()
    if result.ok:  # a double submit is welcomed too, with the first answer's session, never a new one
        return redirect_step(url_for("verification.welcome"))
    return None


VERIFY = Purpose(
    code=codes.VERIFY,
    blueprint=bp.name,
    view_name="verify",
    start_endpoint="auth.login",
    form=CodeForm,
    check=lambda address, code, source: accounts.confirm_address(address, code, source=source),
    accepted=_verified,
    page_context=lambda: {"unverified": bool(request.args.get("unverified"))},
)
code_views(bp, "/verify", VERIFY)  # verification.verify and verification.resend


@bp.route("/welcome")
@login_required
def welcome():
    return render_step("verification/welcome.html", next_url=return_to())
