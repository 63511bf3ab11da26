from flask import request, url_for
from flask_login import login_required

from ...account_session import current_flow, end_flow, log_in, return_to
from ...flows import accounts, codes
from ...limits import flow_address_key, flow_source, limit_posts, per_source
from ...rendering import form_status, redirect_page, redirect_step, render_step
from . import bp
from .forms import CodeForm
from .messages import code_error
from .steps import render_code_step, resend_code_step


@bp.route("/verify", methods=["GET", "POST"])
@limit_posts(per_source(flow_address_key(codes.VERIFY)))
def verify():
    flow, form = current_flow(codes.VERIFY), CodeForm()
    if flow is None and request.method == "GET":
        return redirect_page(url_for("auth.login"))
    if form.validate_on_submit():
        if flow is None:
            return render_code_step(codes.VERIFY, None, form, no_flow=True, status=409)
        result = accounts.confirm_address(flow.address, form.code.data, source=flow_source(flow))
        if result.outcome is codes.Outcome.ACCEPTED:
            log_in(result.user)
            end_flow()
        if result.ok:  # a double submit is welcomed too, with the first answer's session, never a new one
            return redirect_step(url_for("verification.welcome"))
        form.code.errors.append(code_error(result))
    return render_code_step(
        codes.VERIFY, flow, form, unverified=bool(request.args.get("unverified")), status=form_status(form)
    )


@bp.route("/verify/resend", methods=["POST"])
@limit_posts(per_source(flow_address_key(codes.VERIFY)))
def resend():
    return resend_code_step(codes.VERIFY)


@bp.route("/welcome")
@login_required
def welcome():
    return render_step("verification/welcome.html", next_url=return_to())
