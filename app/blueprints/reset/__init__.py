"""Password reset by emailed code."""

from flask import Blueprint

bp = Blueprint("reset", __name__, url_prefix="/account/reset")
