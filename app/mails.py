"""Every mail the rules send, composed here and put in the outbox (app/outbox.py, docs/mail.md).

This module sits below the rules (app/flows), which call it, and above the outbox and the models:
it imports nothing from the web layer or the rules. Each mail's templates stay beside the pages of
its feature (``<feature>/mail/<name>.html`` and ``.txt``). Subjects are lazy strings: the outbox
translates them into the recipient's language; every link is absolute, built from SERVER_NAME,
at the URL of the recipient's language (app/urls.py).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING

from flask import current_app
from flask_babel import LazyString, ngettext
from flask_babel import lazy_gettext as _l

from .i18n import localized
from .models import CODE_EMAIL_CHANGE, CODE_RESET, CODE_VERIFY
from .outbox import CODE_MAIL, queue_mail
from .urls import external_url

if TYPE_CHECKING:
    from .models import OutboxMessage, Story, User


def _portal(user: User) -> str:
    return localized(current_app.config["PORTAL_NAME"], user.language)


# Codes and account notices

CODE_SUBJECTS = {
    CODE_VERIFY: lambda code: _l("Your verification code: %(code)s", code=code),
    CODE_RESET: lambda code: _l("Your code to reset your password: %(code)s", code=code),
    CODE_EMAIL_CHANGE: lambda code: _l("Your code to confirm your new email address: %(code)s", code=code),
}


def queue_code_mail(user: User, code: str, purpose: str, *, to: str | None = None) -> OutboxMessage:
    """The code mail for ``user``, to their address or (an address change) to ``to``."""
    minutes = current_app.config["CODE_LIFETIME_SECONDS"] // 60
    return queue_mail(
        to or user.email,
        CODE_SUBJECTS[purpose](code),
        "account/mail/code",
        language=user.language,
        kind=CODE_MAIL,  # the outbox keeps no code once it is sent
        user=user,
        code=code,
        purpose=purpose,
        minutes=minutes,
    )


def queue_registration_attempt_notice(user: User) -> None:
    """The owner of an address learns that someone tried to register it (no code is sent)."""
    queue_mail(
        user.email,
        _l("Someone tried to create a %(portal)s account with your address", portal=_portal(user)),
        "account/mail/registration_attempt",
        language=user.language,
        user=user,
        login_url=external_url("account.login", _language=user.language),
        reset_url=external_url("account.reset", _language=user.language),
    )


def queue_password_changed_notice(user: User, when: datetime) -> None:
    """After every reset or change: no password in it, and what to do if it was not them."""
    queue_mail(
        user.email,
        _l("Your %(portal)s password was changed", portal=_portal(user)),
        "account/mail/password_changed",
        language=user.language,
        user=user,
        when=when,
        reset_url=external_url("account.reset", _language=user.language),
    )


def queue_address_taken_notice(owner: User) -> None:
    """The owner of an address learns that another account asked to move to it (no code is sent)."""
    queue_mail(
        owner.email,
        _l("Someone asked to move a %(portal)s account to your address", portal=_portal(owner)),
        "account/mail/address_taken",
        language=owner.language,
        user=owner,
        reset_url=external_url("account.reset", _language=owner.language),
    )


def queue_address_changed_notice(user: User, *, old_address: str, when: datetime) -> None:
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


# Second factor


def queue_factor_notice(user: User, *, kind: str, added: bool, when: datetime) -> None:
    """The owner learns that a second factor was added or removed (``kind``: "authenticator",
    "passkey", or "all" when staff reset them)."""
    subject = (
        _l("A second factor was added to your %(portal)s account", portal=_portal(user))
        if added
        else _l("A second factor was removed from your %(portal)s account", portal=_portal(user))
    )
    queue_mail(
        user.email,
        subject,
        "account/mail/factor_changed",
        language=user.language,
        user=user,
        factor=kind,
        added=added,
        when=when,
        settings_url=external_url("account.two_step", _language=user.language),
    )


def queue_recovery_code_used_notice(user: User, *, left: int, when: datetime) -> None:
    queue_mail(
        user.email,
        _l("A recovery code was used to sign in to your %(portal)s account", portal=_portal(user)),
        "account/mail/recovery_code_used",
        language=user.language,
        user=user,
        left=left,
        when=when,
        settings_url=external_url("account.two_step", _language=user.language),
    )


# Staff


def queue_staff_notice(user: User, staff: bool) -> None:
    """The notice a person gets when they join or leave the press office team (app/flows/staff.py)."""
    portal = _portal(user)
    subject = (
        _l("You can now publish on %(portal)s", portal=portal)
        if staff
        else _l("You no longer publish on %(portal)s", portal=portal)
    )
    queue_mail(
        user.email,
        subject,
        "staff/mail/staff_changed",
        language=user.language,
        user=user,
        staff=staff,
        staff_url=external_url("staff.index", _language=user.language),
    )


# Newsletter


def digest_subject(portal: str, count: int) -> LazyString:
    """A lazy subject (with a plural): queue_mail translates it into the recipient's language."""
    return LazyString(
        lambda: ngettext("%(portal)s: %(num)s new story", "%(portal)s: %(num)s new stories", count, portal=portal)
    )


def queue_digest(user: User, stories: Sequence[Story], token: str) -> None:
    """One digest mail, with RFC 8058 one-click unsubscribe headers."""
    unsubscribe_url = external_url("newsletter.unsubscribe", _language=user.language, token=token)
    queue_mail(
        user.email,
        digest_subject(_portal(user), len(stories)),
        "newsletter/mail/digest",
        language=user.language,
        kind="newsletter",
        headers={"List-Unsubscribe": f"<{unsubscribe_url}>", "List-Unsubscribe-Post": "List-Unsubscribe=One-Click"},
        user=user,
        stories=[(story, external_url("media.story", _language=user.language, slug=story.slug)) for story in stories],
        unsubscribe_url=unsubscribe_url,
        home_url=external_url("media.index", _language=user.language),
    )
