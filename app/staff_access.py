"""Who may enter the staff area: one rule, used by every staff blueprint (the staff area, uploads)
and by the public pages that show staff more (a draft's preview)."""

from __future__ import annotations

from flask import abort, current_app, redirect, request, url_for
from flask_login import current_user

from .extensions import csrf
from .flows.second_factor import has_second_factor


def is_staff(user) -> bool:
    return bool(getattr(user, "is_authenticated", False) and getattr(user, "is_staff", False))


def require_staff():
    """``before_request`` of staff blueprints: 404, not 403, so the area is invisible to others;
    a staff account without a second factor is sent to set one up (STAFF_REQUIRE_SECOND_FACTOR);
    then the CSRF check of a staff POST (the blueprint is exempt from the app-wide one, which
    would run first and answer a stranger's post with "form expired" instead of 404)."""
    if not is_staff(current_user):
        abort(404)
    if current_app.config["STAFF_REQUIRE_SECOND_FACTOR"] and not has_second_factor(current_user):
        # walked to set one up first, and brought back here after
        return redirect(url_for("account.two_step", next=(request.script_root + request.full_path).rstrip("?")), 303)
    csrf.protect()
