from flask import current_app
from flask_babel import lazy_gettext as _l

from ...i18n import localized
from ...outbox import queue_mail
from ...urls import external_url


def _portal(user) -> str:
    return localized(current_app.config["PORTAL_NAME"], user.language)


def queue_address_taken_notice(owner) -> None:
    """The owner of an address learns that another account asked to move to it (no code is sent)."""
    queue_mail(
        owner.email,
        _l("Someone asked to move a %(portal)s account to your address", portal=_portal(owner)),
        "account/mail/address_taken",
        language=owner.language,
        user=owner,
        reset_url=external_url("reset.request_code"),
    )


def queue_address_changed_notice(user, *, old_address: str, when) -> None:
    """The old address learns that the account has moved, and where to."""
    queue_mail(
        old_address,
        _l("The email address of your %(portal)s account was changed", portal=_portal(user)),
        "account/mail/address_changed",
        language=user.language,
        user=user,
        old_address=old_address,
        when=when,
    )
