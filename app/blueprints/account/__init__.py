"""The account page: name and organisation, newsletter, password, deleting the account."""

from flask import Blueprint

bp = Blueprint("account", __name__, url_prefix="/account")
