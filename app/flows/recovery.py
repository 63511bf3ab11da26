"""Password reset by emailed code, password change, and the rest of what an account owner
can do to the account (docs/accounts.md, Reset; docs/portal.md, Account page)."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, cast

from flask import current_app
from sqlalchemy import CursorResult, delete, update

from .. import mails
from ..extensions import db
from ..models import OutboxMessage, User, VerificationCode, WrongCodeEntry, new_session_token, utcnow
from . import audit, codes
from .accounts import resend_code
from .passwords import hash_password, verify_password


def request_reset(address: str, *, source: codes.Source, now: datetime | None = None) -> datetime | None:
    """A reset code for a known address; for any other the same work with a stand-in, no mail.
    Asking first and asking again ("Send new code") are one rule (``accounts.resend_code``)."""
    return resend_code(address, codes.RESET, source=source, now=now)


def confirm_reset_code(
    address: str, submitted: str, *, source: codes.Source, now: datetime | None = None
) -> codes.CodeCheck:
    """Check a reset code."""
    result = codes.service().check(address, codes.RESET, submitted, source=source, now=now or utcnow())
    db.session.commit()
    return result


@dataclass(frozen=True)
class ResetGrant:
    """What a checked reset code allows: one new password, in this browser, for a while.

    It holds the account's session token as it was; setting the password rotates the token,
    so the grant works once and a replayed form finds it spent.
    """

    user_id: int
    session_token: str
    issued_at: float

    def as_dict(self) -> dict[str, Any]:
        return {"user_id": self.user_id, "session_token": self.session_token, "issued_at": self.issued_at}

    @classmethod
    def from_dict(cls, data: Any) -> ResetGrant | None:
        try:
            return cls(int(data["user_id"]), str(data["session_token"]), float(data["issued_at"]))
        except (TypeError, KeyError, ValueError):
            return None

    @classmethod
    def for_user(cls, user: User, now: datetime | None = None) -> ResetGrant:
        return cls(user.id, user.session_token, _epoch(now or utcnow()))

    def user_if_valid(self, now: datetime | None = None) -> User | None:
        lifetime = current_app.config["CODE_LIFETIME_SECONDS"]
        if _epoch(now or utcnow()) - self.issued_at > lifetime:
            return None
        user = db.session.get(User, self.user_id)
        if user is None or user.session_token != self.session_token:
            return None
        return user


class PasswordChange(enum.Enum):
    DONE = "done"
    SAME_AS_OLD = "same_as_old"
    WRONG_CURRENT = "wrong_current"
    GRANT_SPENT = "grant_spent"  # another form with the same reset grant set the password first


def set_new_password(user: User, new_password: str, *, now: datetime | None = None) -> PasswordChange:
    """Reset: set the password, end every session, void codes, mark the address verified.

    ``user`` comes from a ``ResetGrant``: its session token is rotated with a conditional UPDATE
    (only from the token the grant holds), so of two forms sent at once with one grant, one
    sets the password and the other finds the grant spent."""
    now = now or utcnow()
    if verify_password(new_password, user.password_hash):
        return PasswordChange.SAME_AS_OLD
    granted_token, new_token = user.session_token, new_session_token()
    rotated = cast(
        CursorResult[Any],
        db.session.execute(
            update(User).where(User.id == user.id, User.session_token == granted_token).values(session_token=new_token)
        ),
    ).rowcount
    if rotated != 1:
        db.session.rollback()
        return PasswordChange.GRANT_SPENT
    _replace_password(user, new_password, now, session_token=new_token)
    if user.verified_at is None:
        user.verified_at = now  # the code proved control of the address
    codes.void_codes(user.email, None, now=now)
    audit.record("account.password_reset", subject=user, now=now)
    db.session.commit()
    return PasswordChange.DONE


def change_password(user: User, current: str, new_password: str, *, now: datetime | None = None) -> PasswordChange:
    """From the account page: the current password first; the caller logs this session in again."""
    if not verify_password(current, user.password_hash):
        return PasswordChange.WRONG_CURRENT
    if current == new_password or verify_password(new_password, user.password_hash):
        return PasswordChange.SAME_AS_OLD
    _replace_password(user, new_password, now or utcnow())
    audit.record("account.password_change", subject=user)
    db.session.commit()
    return PasswordChange.DONE


def _replace_password(user: User, new_password: str, now: datetime, *, session_token: str | None = None) -> None:
    user.password_hash = hash_password(new_password, current_app.config["BCRYPT_ROUNDS"])
    user.session_token = session_token or new_session_token()  # every other session and remember-me cookie ends
    mails.queue_password_changed_notice(user, when=now)


def update_profile(user: User, *, first_name: str, last_name: str, organisation: str) -> None:
    user.first_name, user.last_name, user.organisation = first_name, last_name, organisation
    db.session.commit()


def delete_account(user: User, password: str) -> bool:
    """Remove the account and every row that names its address; False if the password is wrong."""
    if not verify_password(password, user.password_hash):
        return False
    address = user.email
    db.session.execute(delete(VerificationCode).where(VerificationCode.address == address))
    db.session.execute(delete(WrongCodeEntry).where(WrongCodeEntry.address == address))
    db.session.execute(delete(OutboxMessage).where(OutboxMessage.recipient == address))
    audit.account_deleted(user)
    db.session.delete(user)
    db.session.commit()
    return True


def _epoch(moment: datetime) -> float:
    return (moment - datetime(1970, 1, 1)) / timedelta(seconds=1)
