"""The code step is shared by registration ("verify") and password reset ("reset")."""

from flask import url_for

from ...account_session import current_flow, note_send
from ...flows import accounts, codes
from ...limits import flow_source
from ...rendering import redirect_page, render_step
from .forms import CODE_FORMS, ResendForm
from .messages import send_wait

ENDPOINTS = {
    codes.VERIFY: {"code": "verification.verify", "resend": "verification.resend", "start": "auth.login"},
    codes.RESET: {"code": "reset.code", "resend": "reset.resend", "start": "reset.request_code"},
}


def render_code_step(purpose: str, flow, form, *, status: int = 200, **context):
    blocked_until = accounts.next_send_at(flow.address, flow_source(flow)) if flow else None
    if blocked_until:
        context.update(send_wait(blocked_until))
    # A send held back by the throttle: is there a code this browser can enter for this step, or
    # was the code a moment ago for another step (a registration) or another browser?
    code_waiting = bool(flow) and not flow.sent and accounts.flow_has_live_code(flow, purpose)
    return render_step(
        "verification/verify.html",
        form=form,
        resend=ResendForm(),
        flow=flow,
        purpose=purpose,
        endpoints=ENDPOINTS[purpose],
        status=status,
        code_waiting=code_waiting,
        **context,
    )


def resend_code_step(purpose: str):
    """ "Send new code": a new code (or a stand-in) unless the send throttle says wait."""
    flow, resend_form = current_flow(purpose), ResendForm()
    if flow is None or not resend_form.validate_on_submit():
        return redirect_page(url_for(ENDPOINTS[purpose]["start"]))
    blocked_until = accounts.resend_code(flow.address, purpose, source=flow_source(flow))
    if blocked_until is None:
        note_send(None)
        flow = current_flow(purpose)
    return render_code_step(
        purpose,
        flow,
        CODE_FORMS[purpose](formdata=None),
        resent=blocked_until is None,
        status=429 if blocked_until else 200,
    )
