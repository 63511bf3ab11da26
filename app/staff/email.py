"""The notice a person gets when they join or leave the press office team (app/flows/staff.py)."""
from flask import current_app
from flask_babel import lazy_gettext as _l

from ..i18n import localized
from ..outbox import queue_mail
from ..urls import external_url


def queue_staff_notice(user, staff: bool) -> None:
    portal = localized(current_app.config["PORTAL_NAME"], user.language)
    subject = (_l("You can now publish on %(portal)s", portal=portal) if staff
               else _l("You no longer publish on %(portal)s", portal=portal))
    queue_mail(user.email, subject, "staff/mail/staff_changed", language=user.language, user=user, staff=staff,
               staff_url=external_url("staff.index"))
