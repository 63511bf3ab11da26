"""Moving an account to another email address: the current password first, then a code mailed to
the new address (the code rules of app/flows/codes.py, bound to the browser flow that asked), and
once it is entered the address changes, every login of the account ends and the old address is
told.

Asking for an address that already has an account answers and works as for any other (one code
row, one mail, the same caps): that account's owner gets a notice instead of a code, and a
stand-in is recorded that no entry can match.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.exc import IntegrityError

from .. import mails
from ..extensions import db
from ..models import User, utcnow
from . import codes, login_sessions
from .accounts import find_user, issue_stand_in, locked_send_blocked_until, send_stand_in
from .passwords import verify_password


class Refusal(enum.Enum):
    WRONG_PASSWORD = "wrong_password"
    SAME_ADDRESS = "same_address"


def refusal(user: User, password: str, new_address: str) -> Refusal | None:
    """Why the change cannot start (one bcrypt check, always), or None. ``new_address`` is normalised."""
    if not verify_password(password, user.password_hash):
        return Refusal.WRONG_PASSWORD
    if new_address == user.email:
        return Refusal.SAME_ADDRESS
    return None


def send_code(
    user: User, new_address: str, *, source: codes.Source, resend: bool = False, now: datetime | None = None
) -> datetime | None:
    """A code to ``new_address`` for ``user``, unless the caps say wait (then: until when).

    Where the address has an account, its owner is told instead (on the first ask; a "Send new
    code" writes a stand-in code mail, never sent, as the other steps do)."""
    now = now or utcnow()
    blocked_until = locked_send_blocked_until(new_address, source, now)
    if blocked_until is None:
        owner = find_user(new_address)
        if owner is None:
            code = codes.service().issue(new_address, codes.EMAIL_CHANGE, user=user, source=source, now=now)
            mails.queue_code_mail(user, code, codes.EMAIL_CHANGE, to=new_address)
        elif resend:
            send_stand_in(new_address, codes.EMAIL_CHANGE, source, now)
        else:
            issue_stand_in(new_address, codes.EMAIL_CHANGE, source, now)
            mails.queue_address_taken_notice(owner)
    db.session.commit()
    return blocked_until


@dataclass(frozen=True)
class Confirmation:
    check: codes.CodeCheck
    changed: bool = False
    taken: bool = False  # the code was right, but the address got an account of its own meanwhile


def confirm(
    user: User, new_address: str, submitted: str, *, source: codes.Source, now: datetime | None = None
) -> Confirmation:
    """Check the code; when it is right, ``user`` moves to ``new_address``: every code of both
    addresses is voided (a reset code mailed to the old address must not reach the account any
    more), every login of the account ends (the caller logs this browser in again) and the old
    address gets a notice."""
    now = now or utcnow()
    check = codes.service().check(new_address, codes.EMAIL_CHANGE, submitted, source=source, now=now)
    if check.outcome is not codes.Outcome.ACCEPTED:
        db.session.commit()
        return Confirmation(check)
    if check.user is None or check.user.id != user.id:  # another account's code: none for this one
        db.session.commit()
        return Confirmation(codes.CodeCheck(codes.Outcome.NO_CODE))
    if find_user(new_address) is not None:
        db.session.commit()
        return Confirmation(check, taken=True)
    old_address = user.email
    user.email = new_address
    try:
        db.session.flush()
    except IntegrityError:  # registered in another request a moment ago
        db.session.rollback()
        return Confirmation(check, taken=True)
    codes.void_codes(old_address, None, now=now)
    codes.void_codes(new_address, None, now=now)
    login_sessions.end_every_login(user)
    mails.queue_address_changed_notice(user, old_address=old_address, when=now)
    db.session.commit()
    return Confirmation(check, changed=True)
