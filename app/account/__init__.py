"""The account: everything under ``/account`` on one blueprint, modelled on Flask-Security's
feature modules (docs/accounts.md). Each module is one step or page; the rules they call are in
app/flows/ (accounts, codes, recovery, email_change, second_factor, passkeys, login_sessions).

- login.py: register, log in (password, or a passkey alone), log out
- verify.py: the address's code step and the welcome step
- reset.py: password reset by emailed code
- code_step.py: the one code step and "Send new code" view, for each ``Purpose``
- settings.py: the account page (name, newsletter, password, email change, data, deletion)
- two_step.py, passkey_views.py, pending.py, trusted.py, qr.py, messages.py: the second factor
- forms.py: every form of these steps

``routes.py`` imports the view modules, which attach their views to ``bp``.
"""

from flask import Blueprint

bp = Blueprint("account", __name__, url_prefix="/account")
