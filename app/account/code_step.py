"""The code step, shared by every feature that mails a 6-digit code: registration (verify the
address) and password reset ask for it in the account dialog; the account page's email change
uses its messages and its resend form.

Each feature describes its step once as a ``Purpose`` (which code, its endpoints, its form, and
what an accepted code leads to) and gets one code view and one "Send new code" view from here
(``code_views``); the template ``account/code_step.html`` reads the purpose's endpoints. So no
feature imports another's views, forms or templates (docs/architecture.md, Layers).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from flask import request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_babel import ngettext
from werkzeug.wrappers import Response

from ..account_session import Flow, current_flow, note_send
from ..flows import accounts, codes
from ..flows.codes import CodeCheck, Outcome
from ..forms import PortalForm, code_field
from ..limits import flow_address_key, flow_source, limit_posts, per_source
from ..messages import COUNTDOWN_LIMIT, wait_phrase, wait_seconds
from ..rendering import form_status, redirect_page, render_step
from . import bp

TEMPLATE = "account/code_step.html"


class ResendForm(PortalForm):
    """Only the CSRF token: the address comes from this browser's flow."""


class CodeForm(PortalForm):
    """A code mailed to confirm an address: registration's and the account page's email change."""

    code = code_field(_l("Verification code"))


@dataclass(frozen=True)
class Purpose:
    """One kind of code step. ``accepted`` is what a right code leads to (the step's answer);
    ``check`` checks a code for the flow's address (app/flows)."""

    code: str  # codes.VERIFY, codes.RESET
    view_name: str  # the code step's view on the account blueprint
    resend_name: str  # its "Send new code" view
    start_endpoint: str  # where a browser with no flow for this code is sent
    form: type[PortalForm]
    check: Callable[[str, str, codes.Source], CodeCheck]
    accepted: Callable[[CodeCheck], Response | None]
    page_context: Callable[[], dict[str, Any]] = dict  # what else the step's page says

    @property
    def endpoints(self) -> dict[str, str]:
        return {
            "code": f"{bp.name}.{self.view_name}",
            "resend": f"{bp.name}.{self.resend_name}",
            "start": self.start_endpoint,
        }


def send_wait(until: datetime) -> dict[str, Any]:
    """What the code step needs to say when a new code can be sent: the wait in words (said
    without JavaScript) and, for a short one, its seconds (portal.js counts them down)."""
    seconds = wait_seconds(until)
    return {"resend_phrase": wait_phrase(until), "resend_seconds": seconds if seconds < COUNTDOWN_LIMIT else None}


def send_wait_message(until: datetime) -> str:
    """The wait in one sentence, where no step counts it down (the account page's email change)."""
    return _("You can ask for a new code in %(wait)s.", wait=wait_phrase(until))


def code_error(result: CodeCheck) -> str:
    outcome = result.outcome
    if outcome is Outcome.WRONG:
        message = _("That code is not correct. Check the email and try again.")
        left = result.attempts_left
        if left:
            message += " " + ngettext(
                "You have %(num)s more attempt with this code.", "You have %(num)s more attempts with this code.", left
            )
        return message
    if outcome is Outcome.EXPIRED:
        return _("This code has expired (codes last 30 minutes). Use “Send new code” to get a new one.")
    if outcome is Outcome.USED:
        return _("This code has already been used. Use “Send new code” if you need another one.")
    if outcome is Outcome.EXHAUSTED:
        return _(
            "This code was entered wrongly too many times and no longer works. Use “Send new code” to get a new one."
        )
    if outcome is Outcome.OTHER_BROWSER:
        return _(
            "A newer code was asked for in another browser or tab. Enter the code from the newest email "
            "where you asked for it, or use “Send new code” to get a code for this browser."
        )
    if outcome is Outcome.LOCKED and result.retry_at is not None:  # a lock always has its end
        return _(
            "Too many wrong codes for this address. Please try again in %(wait)s.", wait=wait_phrase(result.retry_at)
        )
    return _("There is no valid code for this step any more. Use “Send new code” to get a new one.")


def render_code_step(purpose: Purpose, flow: Flow | None, form: PortalForm, *, status: int = 200, **context: Any):
    blocked_until = accounts.next_send_at(flow.address, flow_source(flow)) if flow else None
    if blocked_until:
        context.update(send_wait(blocked_until))
    # A send held back by the throttle: is there a code this browser can enter for this step, or
    # was the code a moment ago for another step (a registration) or another browser?
    code_waiting = flow is not None and not flow.sent and accounts.flow_has_live_code(flow, purpose.code)
    return render_step(
        TEMPLATE,
        form=form,
        resend=ResendForm(),
        flow=flow,
        purpose=purpose.code,
        endpoints=purpose.endpoints,
        status=status,
        code_waiting=code_waiting,
        **context,
    )


def code_view(purpose: Purpose) -> Callable[[], Any]:
    """The code step: GET shows it, POST checks the code against this browser's flow."""

    def view():
        flow, form = current_flow(purpose.code), purpose.form()
        if flow is None and request.method == "GET":
            return redirect_page(url_for(purpose.start_endpoint))
        if form.validate_on_submit():
            if flow is None:
                return render_code_step(purpose, None, form, no_flow=True, status=409)
            result = purpose.check(flow.address, form.code.data, flow_source(flow))
            answer = purpose.accepted(result)
            if answer is not None:
                return answer
            form.code.errors.append(code_error(result))
        return render_code_step(purpose, flow, form, status=form_status(form), **purpose.page_context())

    return view


def resend_view(purpose: Purpose) -> Callable[[], Any]:
    """ "Send new code": a new code (or a stand-in) unless the send throttle says wait."""

    def view():
        flow, resend_form = current_flow(purpose.code), ResendForm()
        if flow is None or not resend_form.validate_on_submit():
            return redirect_page(url_for(purpose.start_endpoint))
        blocked_until = accounts.resend_code(flow.address, purpose.code, source=flow_source(flow))
        if blocked_until is None:
            note_send(None)
            flow = current_flow(purpose.code)
        return render_code_step(
            purpose,
            flow,
            purpose.form(formdata=None),
            resent=blocked_until is None,
            status=429 if blocked_until else 200,
        )

    return view


def code_views(path: str, purpose: Purpose) -> None:
    """Register the purpose's code step at ``path`` and its "Send new code" at ``path``/resend, as
    ``account.<view_name>`` and ``account.<resend_name>``, each limited per flow address and source."""
    limited = limit_posts(per_source(flow_address_key(purpose.code)))
    for name, view, methods, rule in (
        (purpose.view_name, code_view(purpose), ["GET", "POST"], path),
        (purpose.resend_name, resend_view(purpose), ["POST"], f"{path}/resend"),
    ):
        # Flask-Limiter counts each view under its module and name: each needs its own
        view.__name__ = view.__qualname__ = name
        bp.add_url_rule(rule, name, limited(view), methods=methods)
