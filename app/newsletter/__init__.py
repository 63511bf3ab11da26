"""Newsletter: subscribe, one-click unsubscribe, and ``flask newsletter send``."""

from flask import Blueprint

bp = Blueprint("newsletter", __name__, url_prefix="/newsletter", cli_group="newsletter")
