from flask import current_app
from flask_babel import lazy_gettext as _l

from ...i18n import localized
from ...outbox import queue_mail
from ...urls import external_url


def queue_registration_attempt_notice(user) -> None:
    """The owner of an address learns that someone tried to register it (no code is sent)."""
    queue_mail(
        user.email,
        _l("Someone tried to create a %(portal)s account with your address",
           portal=localized(current_app.config["PORTAL_NAME"], user.language)),
        "auth/mail/registration_attempt",
        language=user.language,
        user=user,
        login_url=external_url("auth.login"),
        reset_url=external_url("reset.request_code"),
    )
