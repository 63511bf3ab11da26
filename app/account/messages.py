"""What the sign-in step says about a code that was not accepted."""

from flask_babel import gettext as _
from flask_babel import ngettext

from ..flows.second_factor import Check, Outcome
from ..messages import wait_phrase


def check_error(check: Check) -> str:
    if check.outcome is Outcome.LOCKED and check.retry_at is not None:  # a lock always has its end
        return _(
            "Too many wrong codes for this account. Please try again in %(wait)s.", wait=wait_phrase(check.retry_at)
        )
    if check.outcome is Outcome.EXHAUSTED:
        return _("Too many wrong codes. Log in again with your password to try once more.")
    message = (
        _("This code has already been used. Wait for the next code in your authenticator app.")
        if check.outcome is Outcome.REPLAYED
        else _("That code is not correct.")
    )
    if check.attempts_left:
        message += " " + ngettext(
            "You have %(num)s more attempt.", "You have %(num)s more attempts.", check.attempts_left
        )
    return message


def passkey_error(check: Check, *, alone: bool = False) -> str:
    """A passkey answer not accepted: at the second step (where a code is the other way), or on
    its own at the log-in step (where the password is). Never which account it was for."""
    if check.outcome is Outcome.LOCKED and check.retry_at is not None:  # a lock always has its end
        return _("Too many failed passkey attempts. Please try again in %(wait)s.", wait=wait_phrase(check.retry_at))
    if check.outcome is Outcome.EXHAUSTED:
        return (
            _("Too many failed passkey attempts. Log in with your email address and password.")
            if alone
            else _("Too many failed attempts. Log in again with your password to try once more.")
        )
    message = (
        _("The passkey was not accepted. Try again, or log in with your email address and password.")
        if alone
        else _("The passkey was not accepted. Try again, or enter a code.")
    )
    if check.attempts_left and not alone:  # alone, the count would tell a known passkey from a stranger's
        message += " " + ngettext(
            "You have %(num)s more attempt.", "You have %(num)s more attempts.", check.attempts_left
        )
    return message
