"""The staff area (/staff/): the press office publishes from the browser.

Every staff URL, GET or POST, answers 404 to anyone who is not a logged-in staff account, so the
area cannot even be found by others. Feature modules register their views on ``bp``.
"""
from flask import Blueprint

from .access import require_staff

bp = Blueprint("staff", __name__, url_prefix="/staff")
bp.before_request(require_staff)
