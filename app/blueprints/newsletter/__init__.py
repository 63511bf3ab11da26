"""Newsletter subscription (delivery of the digest comes with the newsletter issue)."""
from flask import Blueprint

bp = Blueprint("newsletter", __name__, url_prefix="/newsletter")
