"""Emailed 6-digit codes (SPEC §3): issuing, checking and voiding.

Codes are bound to one address and one purpose, stored only as a keyed hash, single use, and
die after a number of wrong entries. A new code voids the previous one. The send throttle and
the hourly wrong-entry cap are counted per address, whether or not it has an account.
"""
from __future__ import annotations

import enum
import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select, update

from ..extensions import db
from ..models import User, VerificationCode, WrongCodeEntry

VERIFY = "verify"
RESET = "reset"
PURPOSES = (VERIFY, RESET)
CODE_DIGITS = 6


@dataclass(frozen=True)
class CodePolicy:
    lifetime: timedelta = timedelta(minutes=30)
    max_wrong_entries: int = 5
    wrong_entries_per_hour: int = 20
    resend_interval: timedelta = timedelta(seconds=60)
    sends_per_hour: int = 5

    @classmethod
    def from_config(cls, config) -> "CodePolicy":
        return cls(
            lifetime=timedelta(seconds=config["CODE_LIFETIME_SECONDS"]),
            max_wrong_entries=config["CODE_MAX_WRONG_ENTRIES"],
            wrong_entries_per_hour=config["CODE_WRONG_ENTRIES_PER_HOUR"],
            resend_interval=timedelta(seconds=config["CODE_RESEND_INTERVAL_SECONDS"]),
            sends_per_hour=config["CODE_SENDS_PER_HOUR"],
        )


class Outcome(enum.Enum):
    ACCEPTED = "accepted"
    ALREADY_ACCEPTED = "already_accepted"  # the same browser sent the right code twice (grants nothing)
    WRONG = "wrong"
    EXPIRED = "expired"
    USED = "used"
    EXHAUSTED = "exhausted"  # too many wrong entries for this code
    LOCKED = "locked"  # too many wrong entries for this address in the last hour
    NO_CODE = "no_code"
    OTHER_BROWSER = "other_browser"  # the newest code was asked for in another browser


@dataclass(frozen=True)
class CodeCheck:
    outcome: Outcome
    user: User | None = None
    attempts_left: int = 0
    retry_at: datetime | None = None

    @property
    def ok(self) -> bool:
        return self.outcome in (Outcome.ACCEPTED, Outcome.ALREADY_ACCEPTED)


def generate_code() -> str:
    return f"{secrets.randbelow(10 ** CODE_DIGITS):0{CODE_DIGITS}d}"


def hash_code(code: str, *, address: str, purpose: str, secret: str) -> str:
    message = f"{purpose}\x00{address}\x00{code}".encode()
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def send_blocked_until(address: str, now: datetime, policy: CodePolicy) -> datetime | None:
    """When the next code may be sent to ``address``, or None if it may be sent now."""
    hour_ago = now - timedelta(hours=1)
    sends = db.session.execute(
        select(VerificationCode.created_at)
        .where(VerificationCode.address == address, VerificationCode.created_at > hour_ago)
        .order_by(VerificationCode.created_at)
    ).scalars().all()
    blocked = []
    if sends and sends[-1] + policy.resend_interval > now:
        blocked.append(sends[-1] + policy.resend_interval)
    if len(sends) >= policy.sends_per_hour:
        blocked.append(sends[-policy.sends_per_hour] + timedelta(hours=1))
    return max(blocked) if blocked else None


def issue_code(
    address: str,
    purpose: str,
    *,
    user: User | None,
    flow_id: str,
    secret: str,
    policy: CodePolicy,
    now: datetime,
) -> str | None:
    """Record a new code for ``address`` and void the previous ones; return the code to mail.

    With ``user=None`` a stand-in is recorded that no entry can match, and None is returned:
    nothing is mailed, but throttles and counters move exactly as for a real code.
    The caller checks ``send_blocked_until`` first and commits.
    """
    assert purpose in PURPOSES
    void_codes(address, purpose, now=now)
    code = generate_code() if user is not None else None
    stored = code if code is not None else secrets.token_hex(16)  # never a 6-digit string
    db.session.add(
        VerificationCode(
            address=address,
            user_id=user.id if user is not None else None,
            purpose=purpose,
            code_hash=hash_code(stored, address=address, purpose=purpose, secret=secret),
            flow_id=flow_id,
            created_at=now,
            expires_at=now + policy.lifetime,
        )
    )
    return code


def void_codes(address: str, purpose: str | None = None, *, now: datetime) -> None:
    query = update(VerificationCode).where(
        VerificationCode.address == address,
        VerificationCode.used_at.is_(None),
        VerificationCode.voided_at.is_(None),
    )
    if purpose is not None:
        query = query.where(VerificationCode.purpose == purpose)
    db.session.execute(query.values(voided_at=now))


def wrong_entries_blocked_until(address: str, now: datetime, policy: CodePolicy) -> datetime | None:
    hour_ago = now - timedelta(hours=1)
    count, oldest = db.session.execute(
        select(func.count(WrongCodeEntry.id), func.min(WrongCodeEntry.at)).where(
            WrongCodeEntry.address == address, WrongCodeEntry.at > hour_ago
        )
    ).one()
    if count >= policy.wrong_entries_per_hour:
        recent = db.session.execute(
            select(WrongCodeEntry.at)
            .where(WrongCodeEntry.address == address, WrongCodeEntry.at > hour_ago)
            .order_by(WrongCodeEntry.at.desc())
            .offset(policy.wrong_entries_per_hour - 1)
            .limit(1)
        ).scalar_one()
        return recent + timedelta(hours=1)
    return None


def check_code(
    address: str,
    purpose: str,
    submitted: str,
    *,
    flow_id: str,
    secret: str,
    policy: CodePolicy,
    now: datetime,
) -> CodeCheck:
    """Check ``submitted`` against the newest code for ``address`` and ``purpose``.

    A code only works in the browser flow that asked for it: whoever else starts a flow for the
    same address (a second registration, a log-in, a reset) cannot use the code mailed for another.

    Consuming a code and counting a wrong entry are single conditional UPDATEs, so parallel
    requests can neither use one code twice nor get past the wrong-entry limit.
    The caller commits.
    """
    locked_until = wrong_entries_blocked_until(address, now, policy)
    if locked_until is not None:
        return CodeCheck(Outcome.LOCKED, retry_at=locked_until)
    record = db.session.execute(
        select(VerificationCode)
        .where(VerificationCode.address == address, VerificationCode.purpose == purpose)
        .order_by(VerificationCode.created_at.desc(), VerificationCode.id.desc())
        .limit(1)
    ).scalar_one_or_none()
    if record is None:
        return CodeCheck(Outcome.NO_CODE)
    if record.flow_id != flow_id:
        return CodeCheck(Outcome.OTHER_BROWSER)
    matches = record.user_id is not None and hmac.compare_digest(
        record.code_hash, hash_code(submitted, address=address, purpose=purpose, secret=secret)
    )
    if record.used_at is not None:
        if matches and now < record.expires_at:
            return CodeCheck(Outcome.ALREADY_ACCEPTED)  # no user: a used code logs nobody in
        if matches:
            return CodeCheck(Outcome.USED)
    elif record.voided_at is not None:
        return CodeCheck(Outcome.NO_CODE)
    elif record.wrong_entries >= policy.max_wrong_entries:
        return CodeCheck(Outcome.EXHAUSTED)
    elif now >= record.expires_at:
        return CodeCheck(Outcome.EXPIRED)
    elif matches:
        consumed = db.session.execute(
            update(VerificationCode)
            .where(VerificationCode.id == record.id, VerificationCode.used_at.is_(None))
            .values(used_at=now)
        ).rowcount
        if consumed == 1:
            return CodeCheck(Outcome.ACCEPTED, user=db.session.get(User, record.user_id))
        return CodeCheck(Outcome.USED)
    return _count_wrong_entry(record, address, now, policy)


def _count_wrong_entry(record: VerificationCode, address: str, now: datetime, policy: CodePolicy) -> CodeCheck:
    db.session.add(WrongCodeEntry(address=address, at=now))
    if record.used_at is not None:
        return CodeCheck(Outcome.WRONG, attempts_left=0)
    counted = db.session.execute(
        update(VerificationCode)
        .where(
            VerificationCode.id == record.id,
            VerificationCode.wrong_entries < policy.max_wrong_entries,
        )
        .values(wrong_entries=VerificationCode.wrong_entries + 1)
        .returning(VerificationCode.wrong_entries)
    ).scalar_one_or_none()
    if counted is None or counted >= policy.max_wrong_entries:
        return CodeCheck(Outcome.EXHAUSTED)
    return CodeCheck(Outcome.WRONG, attempts_left=policy.max_wrong_entries - counted)
