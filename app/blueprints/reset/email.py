from flask import current_app
from flask_babel import lazy_gettext as _l

from ...i18n import localized
from ...outbox import queue_mail
from ...urls import external_url


def queue_password_changed_notice(user, when) -> None:
    """After every reset or change: no password in it, and what to do if it was not them."""
    queue_mail(
        user.email,
        _l("Your %(portal)s password was changed", portal=localized(current_app.config["PORTAL_NAME"], user.language)),
        "reset/mail/password_changed",
        language=user.language,
        user=user,
        when=when,
        reset_url=external_url("reset.request_code"),
    )
