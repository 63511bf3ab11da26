"""The staff area (/staff/): the press office publishes from the browser.

Every staff URL, GET or POST, answers 404 to anyone who is not a logged-in staff account, so the
area cannot even be found by others: its CSRF check comes after that (``require_staff``), where
the app-wide one would answer a stranger's post with "form expired". Every POST is rate-limited
per staff account. Feature modules register their views on ``bp``.
"""

from flask import Blueprint, current_app
from flask_login import current_user

from ..extensions import csrf, limiter
from ..staff_access import is_staff, require_staff

bp = Blueprint("staff", __name__, url_prefix="/staff")
bp.before_request(require_staff)
csrf.exempt(bp)  # checked in require_staff, once the visitor is known to be staff
limiter.limit(
    lambda: current_app.config["RATELIMIT_STAFF"],
    key_func=lambda: f"staff:{current_user.id}",
    methods=["POST"],
    exempt_when=lambda: not is_staff(current_user),
)(bp)
