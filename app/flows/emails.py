"""Email addresses: validated with email-validator (no DNS), compared lower-cased after trimming."""
from __future__ import annotations

import unicodedata

from email_validator import EmailNotValidError, validate_email

MAX_EMAIL_LENGTH = 254


class InvalidEmail(ValueError):
    pass


def normalize_email(raw: str) -> str:
    """The canonical form we store and compare, or InvalidEmail with a sentence for the form."""
    value = (raw or "").strip()
    if not value:
        raise InvalidEmail("Enter your email address.")
    if any(unicodedata.category(ch) == "Cc" for ch in value) or "\ufffd" in value:
        raise InvalidEmail("The email address contains characters that are not allowed.")
    if len(value) > MAX_EMAIL_LENGTH:
        raise InvalidEmail(f"The email address is too long (at most {MAX_EMAIL_LENGTH} characters).")
    try:
        result = validate_email(value, check_deliverability=False)
    except EmailNotValidError as exc:
        raise InvalidEmail(str(exc)) from None
    return result.normalized.lower()
