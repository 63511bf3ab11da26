from flask import current_app
from flask_babel import lazy_gettext as _l

from ..i18n import localized
from ..outbox import queue_mail
from ..urls import external_url


def _portal(user) -> str:
    return localized(current_app.config["PORTAL_NAME"], user.language)


def queue_factor_notice(user, *, kind: str, added: bool, when) -> None:
    """The owner learns that a second factor was added or removed (``kind``: "authenticator",
    "passkey", or "all" when staff reset them)."""
    subject = (_l("A second factor was added to your %(portal)s account", portal=_portal(user)) if added
               else _l("A second factor was removed from your %(portal)s account", portal=_portal(user)))
    queue_mail(user.email, subject, "twofactor/mail/factor_changed", language=user.language, user=user, factor=kind,
               added=added, when=when, settings_url=external_url("twofactor.settings"))


def queue_recovery_code_used_notice(user, *, left: int, when) -> None:
    queue_mail(user.email, _l("A recovery code was used to sign in to your %(portal)s account", portal=_portal(user)),
               "twofactor/mail/recovery_code_used", language=user.language, user=user, left=left, when=when,
               settings_url=external_url("twofactor.settings"))
