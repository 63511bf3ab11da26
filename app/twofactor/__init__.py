"""Second factors on the web (issue #19): the account's "Two-step sign-in" page (authenticator
set-up, passkeys, recovery codes) and the sign-in step that asks for a factor after a right
password. The rules are in app/flows/second_factor.py and app/flows/passkeys.py."""

from flask import Blueprint

bp = Blueprint("twofactor", __name__, url_prefix="/account/two-step")
