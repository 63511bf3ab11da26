"""The code step (verify the email address) and the welcome step."""

from flask import Blueprint

bp = Blueprint("verification", __name__, url_prefix="/account")
