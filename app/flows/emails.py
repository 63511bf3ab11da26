"""Email addresses: validated with email-validator (no DNS), compared lower-cased after trimming.

An address is stored as people type it (``josé@bücher.example``); ``smtp_address`` says how it
travels: the domain in IDNA ASCII (``xn--bcher-kva.example``) and, for a local part beyond ASCII,
only through a server that offers SMTPUTF8 (RFC 6531)."""

from __future__ import annotations

from collections.abc import Callable

from email_validator import EmailNotValidError, validate_email
from flask_babel import gettext

from .text import has_control_characters

_: Callable[..., str] = gettext  # flask_babel is untyped; its gettext gives a str

MAX_EMAIL_LENGTH = 254


class InvalidEmail(ValueError):
    pass


def normalize_email(raw: str) -> str:
    """The canonical form we store and compare, or InvalidEmail with a sentence for the form."""
    value = (raw or "").strip()
    if not value:
        raise InvalidEmail(_("Enter your email address."))
    if has_control_characters(value) or "\ufffd" in value:
        raise InvalidEmail(_("The email address contains characters that are not allowed."))
    if len(value) > MAX_EMAIL_LENGTH:
        raise InvalidEmail(_("The email address is too long (at most %(count)s characters).", count=MAX_EMAIL_LENGTH))
    try:
        result = validate_email(value, check_deliverability=False)
    except EmailNotValidError as exc:
        raise InvalidEmail(_explain(str(exc))) from None
    return result.normalized.lower()


def smtp_address(address: str) -> tuple[str, bool]:
    """``address`` as SMTP carries it (envelope and headers), and whether that needs SMTPUTF8."""
    if address.isascii():
        return address, False
    try:
        result = validate_email(address, check_deliverability=False)
    except EmailNotValidError as exc:
        raise InvalidEmail(str(exc)) from None
    return f"{result.local_part}@{result.ascii_domain}", result.smtputf8


def check_deliverable(address: str, server_has_smtputf8: bool | None) -> None:
    """InvalidEmail for a valid address our mail cannot reach: a local part beyond ASCII when the
    SMTP server is known to lack SMTPUTF8 (None: not known; the outbox finds out and says so)."""
    if server_has_smtputf8 is False and smtp_address(address)[1]:
        raise InvalidEmail(
            _(
                "This address cannot receive our mail: use an address with no accents or other "
                "special letters before the @-sign."
            )
        )


def _explain(reason: str) -> str:
    """email-validator explains in English only: say it again in a sentence of our own (translated)."""
    if "at-sign" in reason:  # a "full-width" or "small commercial at" look-alike of @
        return _("The email address must use a regular @-sign.")
    if "must have an @-sign" in reason or "after the @-sign contains invalid characters: '@'" in reason:
        return _("The email address is not valid. It must have exactly one @-sign.")
    if "something after the @-sign" in reason:
        return _("There must be something after the @-sign.")
    if "something before the @-sign" in reason:
        return _("There must be something before the @-sign.")
    if "too long before the @-sign" in reason:
        return _("The part before the @-sign is too long.")
    if "too long after the @-sign" in reason or "so many characters" in reason:
        return _("The part after the @-sign is too long.")
    if "too long" in reason:
        return _("The email address is too long (at most %(count)s characters).", count=MAX_EMAIL_LENGTH)
    if (
        "display name" in reason
        or "angle bracket" in reason
        or "after the email address" in reason
        or "after close quote" in reason
    ):
        return _("Enter only the email address, without a name or angle brackets.")
    if (
        "should have a period" in reason
        or "top-level domain" in reason
        or "special-use" in reason
        or "bracket" in reason
    ):
        return _("The part after the @-sign must be a domain name, like example.org.")
    if "period" in reason or "hyphen" in reason:
        return _("The email address has a period or a hyphen where it is not allowed.")
    if "before the @-sign" in reason:
        return _("The part before the @-sign contains characters that are not allowed.")
    if "after the @-sign" in reason and "invalid character" in reason:
        return _("The part after the @-sign contains characters that are not allowed.")
    if "after the @-sign" in reason:
        return _("The part after the @-sign must be a domain name, like example.org.")
    if "character" in reason or "ASCII" in reason:
        return _("The email address contains characters that are not allowed.")
    return _("Enter a valid email address, like name@example.org.")
