"""What the code step says about a checked code or a send that has to wait."""

from __future__ import annotations

from datetime import datetime

from flask_babel import gettext as _
from flask_babel import ngettext

from ...flows.codes import CodeCheck, Outcome
from ...messages import COUNTDOWN_LIMIT, wait_phrase, wait_seconds


def send_wait(until: datetime) -> dict:
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
