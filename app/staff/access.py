"""Who may enter the staff area: one rule, used by every staff blueprint."""
from __future__ import annotations

from flask import abort
from flask_login import current_user

from ..extensions import csrf


def is_staff(user) -> bool:
    return bool(getattr(user, "is_authenticated", False) and getattr(user, "is_staff", False))


def require_staff() -> None:
    """``before_request`` of staff blueprints: 404, not 403, so the area is invisible to others;
    then the CSRF check of a staff POST (the blueprint is exempt from the app-wide one, which
    would run first and answer a stranger's post with "form expired" instead of 404)."""
    if not is_staff(current_user):
        abort(404)
    csrf.protect()
