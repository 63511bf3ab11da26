"""Account flows: registering, logging in, verifying an address by code.

Whether an address has an account never changes what the person at the keyboard sees, nor how
long it takes: both paths do the same work. Registering hashes a password, records a code (a
stand-in when nothing may be mailed) and writes one mail to the outbox (the code, or a notice to
the owner). Where a code is asked for an address that gets none, a stand-in is recorded and the
code mail is written all the same, marked never to be sent (``send_stand_in``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from flask import current_app
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from .. import mails, outbox
from ..extensions import db
from ..i18n import current_language
from ..models import User, utcnow
from . import audit, codes
from .emails import InvalidEmail, normalize_email
from .passwords import hash_password, spend_verify_time, verify_password


@dataclass(frozen=True)
class Registration:
    email: str  # already normalised
    password: str
    first_name: str
    last_name: str
    organisation: str


def code_policy() -> codes.CodePolicy:
    return codes.service().policy


def find_user(address: str) -> User | None:
    return db.session.execute(select(User).where(User.email == address)).scalar_one_or_none()


def register(data: Registration, *, source: codes.Source, now: datetime | None = None) -> datetime | None:
    """Create the account (or tell the owner someone tried); returns when a code may next be sent."""
    now = now or utcnow()
    password_hash = hash_password(data.password, current_app.config["BCRYPT_ROUNDS"])
    existing = find_user(data.email)
    if existing is None:
        user = User(
            email=data.email,
            password_hash=password_hash,
            first_name=data.first_name,
            last_name=data.last_name,
            organisation=data.organisation,
            conditions_accepted_at=now,
            created_at=now,
            language=current_language(),  # the site and its mails stay in the language they registered in
        )
        db.session.add(user)
        try:
            db.session.flush()
        except IntegrityError:  # the same address registered a moment ago in another request
            db.session.rollback()
            existing = find_user(data.email)
    blocked_until = locked_send_blocked_until(data.email, source, now)
    if blocked_until is None:
        if existing is None:
            send_code(user, codes.VERIFY, source, now)
        else:
            issue_stand_in(data.email, codes.VERIFY, source, now)
            mails.queue_registration_attempt_notice(existing)
    db.session.commit()
    return blocked_until


def authenticate(raw_email: str, password: str) -> User | None:
    """The account for these credentials, or None; always costs one bcrypt check."""
    rounds = current_app.config["BCRYPT_ROUNDS"]
    try:
        user = find_user(normalize_email(raw_email))
    except InvalidEmail:
        user = None
    if user is None:
        spend_verify_time(password, rounds)
    elif verify_password(password, user.password_hash):
        return user
    audit.login_failed(raw_email)  # either way, so that the two cost the same
    return None


def send_verification_code(user: User, *, source: codes.Source, now: datetime | None = None) -> datetime | None:
    """A fresh code for an unverified account that just proved its password."""
    now = now or utcnow()
    blocked_until = locked_send_blocked_until(user.email, source, now)
    if blocked_until is None:
        send_code(user, codes.VERIFY, source, now)
    db.session.commit()
    return blocked_until


def resend_code(address: str, purpose: str, *, source: codes.Source, now: datetime | None = None) -> datetime | None:
    """ "Send new code": a real code only where one is due, a stand-in everywhere else."""
    now = now or utcnow()
    blocked_until = locked_send_blocked_until(address, source, now)
    if blocked_until is None:
        user = find_user(address)
        wants_code = user is not None and (purpose == codes.RESET or not user.is_verified)
        if user is not None and wants_code:
            send_code(user, purpose, source, now)
        else:
            send_stand_in(address, purpose, source, now)
    db.session.commit()
    return blocked_until


def confirm_address(
    address: str, submitted: str, *, source: codes.Source, now: datetime | None = None
) -> codes.CodeCheck:
    """Check a verification code; on success the account is verified."""
    now = now or utcnow()
    result = codes.service().check(address, codes.VERIFY, submitted, source=source, now=now)
    if result.outcome is codes.Outcome.ACCEPTED and result.user is not None and result.user.verified_at is None:
        result.user.verified_at = now
        audit.record("account.verified", subject=result.user, now=now)
    db.session.commit()
    return result


def locked_send_blocked_until(address: str, source: codes.Source, now: datetime) -> datetime | None:
    """``codes.send_blocked_until`` with the mailbox locked until the caller commits, so that the
    send that follows is counted before anyone else looks."""
    codes.lock_mailbox(codes.mailbox_of(address))
    return codes.service().send_blocked_until(address, now, source)


def send_code(user: User, purpose: str, source: codes.Source, now: datetime) -> None:
    code = codes.service().issue(user.email, purpose, user=user, source=source, now=now)
    mails.queue_code_mail(user, code, purpose)


def issue_stand_in(address: str, purpose: str, source: codes.Source, now: datetime) -> None:
    codes.service().issue(address, purpose, user=None, source=source, now=now)


def send_stand_in(address: str, purpose: str, source: codes.Source, now: datetime) -> None:
    """``send_code`` where no code may go out: a stand-in, and the code mail written to the outbox
    as for an account (in the page's language), the same rows in the same statements, so that both
    take the same work (and time). The mail is marked as a stand-in and as given up at once: no
    sender ever picks it up, and the outbox's clean-up removes it with the others."""
    issue_stand_in(address, purpose, source, now)
    reader = User(email=address, first_name="", language=current_language())
    mail = mails.queue_code_mail(reader, codes.generate_code(), purpose)
    for name, value in outbox.redacted(mail).items():  # its code matches nothing; kept like a sent one's
        setattr(mail, name, value)
    mail.kind, mail.failed_at, mail.last_error = outbox.STAND_IN_MAIL, now, "stand-in: never sent"


class CodeFlow(Protocol):
    """What is read of a browser's flow (app/account_session.py, Flow): no web import here."""

    @property
    def id(self) -> str: ...
    @property
    def address(self) -> str: ...


def flow_has_live_code(flow: CodeFlow, purpose: str, now: datetime | None = None) -> bool:
    return codes.service().flow_has_live_code(flow.address, purpose, flow.id, now or utcnow())


def next_send_at(address: str, source: codes.Source | None = None, now: datetime | None = None) -> datetime | None:
    return codes.service().send_blocked_until(address, now or utcnow(), source)
