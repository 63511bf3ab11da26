from flask import request, url_for
from flask_login import login_required

from ...account_session import current_flow, end_flow, log_in, return_to
from ...flows import accounts, codes
from ...limits import limit_posts
from ...rendering import redirect_page, redirect_step, render_step
from . import bp
from .forms import CodeForm, ResendForm
from .messages import code_error, send_wait_message


def flow_address_key() -> str:
    flow = current_flow(codes.VERIFY)
    return "address:" + (flow.address if flow else "-")


@bp.route("/verify", methods=["GET", "POST"])
@limit_posts(flow_address_key)
def verify():
    flow, form = current_flow(codes.VERIFY), CodeForm()
    if flow is None and request.method == "GET":
        return redirect_page(url_for("auth.login"))
    if form.validate_on_submit():
        if flow is None:
            return render_step("verification/verify.html", form=form, no_flow=True, status=409)
        result = accounts.confirm_address(flow.address, form.code.data, flow_id=flow.id)
        if result.ok:
            log_in(result.user)
            end_flow()
            return redirect_step(url_for("verification.welcome"))
        form.code.errors.append(code_error(result))
    blocked_until = accounts.next_send_at(flow.address) if flow else None
    return render_step("verification/verify.html", form=form, resend=ResendForm(), flow=flow,
                       unverified=bool(request.args.get("unverified")),
                       resend_message=send_wait_message(blocked_until) if blocked_until else None,
                       status=422 if form.errors else 200)


@bp.route("/verify/resend", methods=["POST"])
@limit_posts(flow_address_key)
def resend():
    flow, resend_form = current_flow(codes.VERIFY), ResendForm()
    if flow is None or not resend_form.validate_on_submit():
        return redirect_page(url_for("auth.login"))
    blocked_until = accounts.resend_code(flow.address, codes.VERIFY, flow_id=flow.id)
    message = send_wait_message(blocked_until) if blocked_until else None
    return render_step("verification/verify.html", form=CodeForm(formdata=None), resend=resend_form, flow=flow,
                       resend_message=message, resent=blocked_until is None, status=429 if blocked_until else 200)


@bp.route("/welcome")
@login_required
def welcome():
    return render_step("verification/welcome.html", next_url=return_to())
