"""Register, log in, log out."""
from flask import Blueprint

bp = Blueprint("auth", __name__, url_prefix="/account")

from . import routes  # noqa: E402,F401  (routes attach themselves to bp)
