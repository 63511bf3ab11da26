"""Emailed 6-digit codes (docs/security.md, Codes): issuing, checking and voiding.

Codes are bound to one address, one purpose and the browser flow that asked for them, stored only
as a keyed hash, single use, and die after a number of wrong entries. A new code voids the previous
one. The send throttle and the hourly wrong-entry cap are counted per address (the send throttle
also per mailbox: ``pat+1@`` and ``pat+2@`` are one mailbox), whether or not it has an account; and
per source (the browser flow, and the client's network), so that no one source can use up
another person's share: whoever else asks, the owner can still get a code and enter it.

Every send and every check for a mailbox holds a lock on that mailbox until its transaction ends
(``lock_mailbox``), so that the counting and what follows from it are one step, also for
requests arriving at once in several processes.
"""

from __future__ import annotations

import enum
import hashlib
import hmac
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, cast, overload

from flask import current_app
from sqlalchemy import CursorResult, select, text, update

from ..extensions import db
from ..models import CODE_EMAIL_CHANGE, CODE_RESET, CODE_VERIFY, User, VerificationCode, WrongCodeEntry

VERIFY, RESET, EMAIL_CHANGE = CODE_VERIFY, CODE_RESET, CODE_EMAIL_CHANGE
PURPOSES = (VERIFY, RESET, EMAIL_CHANGE)
CODE_DIGITS = 6
HOUR = timedelta(hours=1)


@dataclass(frozen=True)
class CodePolicy:
    lifetime: timedelta = timedelta(minutes=30)
    max_wrong_entries: int = 5
    wrong_entries_per_hour: int = 20
    resend_interval: timedelta = timedelta(seconds=60)
    sends_per_hour: int = 5
    # what one source (a browser flow, a network) may use of the two hourly caps above
    sends_per_source_per_hour: int = 3
    wrong_entries_per_source_per_hour: int = 10

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> CodePolicy:
        return cls(
            lifetime=timedelta(seconds=config["CODE_LIFETIME_SECONDS"]),
            max_wrong_entries=config["CODE_MAX_WRONG_ENTRIES"],
            wrong_entries_per_hour=config["CODE_WRONG_ENTRIES_PER_HOUR"],
            resend_interval=timedelta(seconds=config["CODE_RESEND_INTERVAL_SECONDS"]),
            sends_per_hour=config["CODE_SENDS_PER_HOUR"],
            sends_per_source_per_hour=config["CODE_SENDS_PER_SOURCE_PER_HOUR"],
            wrong_entries_per_source_per_hour=config["CODE_WRONG_ENTRIES_PER_SOURCE_PER_HOUR"],
        )


@dataclass(frozen=True)
class Source:
    """Who asks for or enters a code: the browser flow, and the client's network as an opaque key
    (``limits.flow_source``: a keyed hash of the IPv4 address or IPv6 /64)."""

    flow_id: str
    network: str


@dataclass(frozen=True)
class CodeService:
    """The functions below with the app's secret and policy given once: what the account, reset
    and email-change rules call (``service()``), so that none of them passes the key and the caps
    along. Tests of the counting itself call the functions with a policy of their own."""

    secret: str
    policy: CodePolicy

    @overload
    def issue(self, address: str, purpose: str, *, user: User, source: Source, now: datetime) -> str: ...
    @overload
    def issue(self, address: str, purpose: str, *, user: None, source: Source, now: datetime) -> None: ...
    def issue(self, address: str, purpose: str, *, user: User | None, source: Source, now: datetime) -> str | None:
        return issue_code(address, purpose, user=user, source=source, secret=self.secret, policy=self.policy, now=now)

    def check(self, address: str, purpose: str, submitted: str, *, source: Source, now: datetime) -> CodeCheck:
        return check_code(address, purpose, submitted, source=source, secret=self.secret, policy=self.policy, now=now)

    def send_blocked_until(self, address: str, now: datetime, source: Source | None = None) -> datetime | None:
        return send_blocked_until(address, now, self.policy, source)

    def flow_has_live_code(self, address: str, purpose: str, flow_id: str, now: datetime) -> bool:
        return flow_has_live_code(address, purpose, flow_id, now, self.policy)


def service() -> CodeService:
    """The app's code service, configured from its settings (SECRET_KEY and the CODE_* caps)."""
    config = current_app.config
    return CodeService(secret=config["SECRET_KEY"], policy=CodePolicy.from_config(config))


def mailbox_of(address: str) -> str:
    """The mailbox an address reaches: a normalised address without its ``+tag``."""
    local, at, domain = address.rpartition("@")
    if not at or local.startswith('"'):
        return address
    base = local.split("+", 1)[0]
    return f"{base or local}@{domain}"


def lock_mailbox(mailbox: str) -> None:
    """Hold every other send and check for ``mailbox`` back until this transaction ends."""
    lock(f"mailbox\x00{mailbox}")


def lock(name: str) -> None:
    """Hold back every other transaction that locks ``name`` until this one ends.

    PostgreSQL: a transaction-level advisory lock on the name. SQLite has one writer: the
    transaction starts as a write transaction at once (BEGIN IMMEDIATE), unless it already
    writes (and so already holds the lock). What is read after this is what the previous holder
    committed."""
    connection = db.session.connection()
    if connection.dialect.name == "postgresql":
        digest = hashlib.sha256(name.encode()).digest()
        connection.execute(
            text("SELECT pg_advisory_xact_lock(:key)"), {"key": int.from_bytes(digest[:8], "big", signed=True)}
        )
    elif connection.dialect.name == "sqlite":
        dbapi_connection = connection.connection.dbapi_connection
        assert dbapi_connection is not None  # checked out by the session just above, so open
        if not dbapi_connection.in_transaction:
            connection.exec_driver_sql("BEGIN IMMEDIATE")


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
    return f"{secrets.randbelow(10**CODE_DIGITS):0{CODE_DIGITS}d}"


def hash_code(code: str, *, address: str, purpose: str, secret: str) -> str:
    message = f"{purpose}\x00{address}\x00{code}".encode()
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def send_blocked_until(
    address: str, now: datetime, policy: CodePolicy, source: Source | None = None
) -> datetime | None:
    """When the next code may be sent to ``address``, or None if it may be sent now.

    Per mailbox: ``resend_interval`` between sends, ``sends_per_hour`` (every send to the address
    is one to its mailbox, so the address is held to the same); per source (this flow, this
    network): ``sends_per_source_per_hour`` to the mailbox."""
    sends = db.session.execute(
        select(VerificationCode.created_at, VerificationCode.flow_id, VerificationCode.network)
        .where(VerificationCode.mailbox == mailbox_of(address), VerificationCode.created_at > now - HOUR)
        .order_by(VerificationCode.created_at)
    ).all()
    times = [send.created_at for send in sends]
    blocked = [_hourly_cap(times, policy.sends_per_hour)]
    if times:
        blocked.append(times[-1] + policy.resend_interval)
    if source is not None:
        share = policy.sends_per_source_per_hour
        blocked.append(_hourly_cap([s.created_at for s in sends if s.flow_id == source.flow_id], share))
        blocked.append(_hourly_cap([s.created_at for s in sends if s.network == source.network], share))
    return max((moment for moment in blocked if moment is not None and moment > now), default=None)


def _hourly_cap(times: list[datetime], cap: int) -> datetime | None:
    """With ``times`` (in order, within the last hour) and at most ``cap`` an hour: when the next may be."""
    return times[-cap] + HOUR if len(times) >= cap else None


@overload
def issue_code(
    address: str, purpose: str, *, user: User, source: Source, secret: str, policy: CodePolicy, now: datetime
) -> str: ...
@overload
def issue_code(
    address: str, purpose: str, *, user: None, source: Source, secret: str, policy: CodePolicy, now: datetime
) -> None: ...
def issue_code(
    address: str,
    purpose: str,
    *,
    user: User | None,
    source: Source,
    secret: str,
    policy: CodePolicy,
    now: datetime,
) -> str | None:
    """Record a new code for ``address`` and void the previous ones; return the code to mail.

    With ``user=None`` a stand-in is recorded that no entry can match, and None is returned:
    nothing is mailed, but throttles and counters move exactly as for a real code.
    The caller locks the mailbox, checks ``send_blocked_until`` first and commits.
    """
    assert purpose in PURPOSES
    void_codes(address, purpose, now=now)
    code = generate_code() if user is not None else None
    stored = code if code is not None else secrets.token_hex(16)  # never a 6-digit string
    db.session.add(
        VerificationCode(
            address=address,
            mailbox=mailbox_of(address),
            user_id=user.id if user is not None else None,
            purpose=purpose,
            code_hash=hash_code(stored, address=address, purpose=purpose, secret=secret),
            flow_id=source.flow_id,
            network=source.network,
            created_at=now,
            expires_at=now + policy.lifetime,
        )
    )
    return code


def flow_has_live_code(address: str, purpose: str, flow_id: str, now: datetime, policy: CodePolicy) -> bool:
    """Whether the newest code for ``address`` and ``purpose`` is one this browser flow can still
    enter (its own, unused, not voided, not expired, not worn out by wrong entries). A stand-in
    counts as a code here, so the answer is the same whether or not the address has an account."""
    record = db.session.execute(
        select(
            VerificationCode.flow_id,
            VerificationCode.used_at,
            VerificationCode.voided_at,
            VerificationCode.expires_at,
            VerificationCode.wrong_entries,
        )
        .where(VerificationCode.address == address, VerificationCode.purpose == purpose)
        .order_by(VerificationCode.created_at.desc(), VerificationCode.id.desc())
        .limit(1)
    ).one_or_none()
    return (
        record is not None
        and record.flow_id == flow_id
        and record.used_at is None
        and record.voided_at is None
        and now < record.expires_at
        and record.wrong_entries < policy.max_wrong_entries
    )


def void_codes(address: str, purpose: str | None = None, *, now: datetime) -> None:
    query = update(VerificationCode).where(
        VerificationCode.address == address,
        VerificationCode.used_at.is_(None),
        VerificationCode.voided_at.is_(None),
    )
    if purpose is not None:
        query = query.where(VerificationCode.purpose == purpose)
    db.session.execute(query.values(voided_at=now))


def wrong_entries_blocked_until(
    address: str, now: datetime, policy: CodePolicy, source: Source | None = None
) -> datetime | None:
    """Until when ``address`` takes no code entry: ``wrong_entries_per_hour`` in all, and from
    ``source`` (this flow, this network) ``wrong_entries_per_source_per_hour``."""
    entries = db.session.execute(
        select(WrongCodeEntry.at, WrongCodeEntry.flow_id, WrongCodeEntry.network)
        .where(WrongCodeEntry.address == address, WrongCodeEntry.at > now - HOUR)
        .order_by(WrongCodeEntry.at)
    ).all()
    blocked = [_hourly_cap([entry.at for entry in entries], policy.wrong_entries_per_hour)]
    if source is not None:
        share = policy.wrong_entries_per_source_per_hour
        blocked.append(_hourly_cap([e.at for e in entries if e.flow_id == source.flow_id], share))
        blocked.append(_hourly_cap([e.at for e in entries if e.network == source.network], share))
    return max((moment for moment in blocked if moment is not None), default=None)


def check_code(
    address: str,
    purpose: str,
    submitted: str,
    *,
    source: Source,
    secret: str,
    policy: CodePolicy,
    now: datetime,
) -> CodeCheck:
    """Check ``submitted`` against the newest code for ``address`` and ``purpose``.

    A code only works in the browser flow that asked for it: whoever else starts a flow for the
    same address (a second registration, a log-in, a reset) cannot use the code mailed for another.

    The mailbox is locked first, so the caps, the comparison and what it changes (the code used,
    a wrong entry counted) are one step: guesses sent at once are checked one after the other.
    The caller commits (which ends the lock).
    """
    lock_mailbox(mailbox_of(address))
    locked_until = wrong_entries_blocked_until(address, now, policy, source)
    if locked_until is not None:
        return CodeCheck(Outcome.LOCKED, retry_at=locked_until)
    record = db.session.execute(
        select(VerificationCode)
        .where(VerificationCode.address == address, VerificationCode.purpose == purpose)
        .order_by(VerificationCode.created_at.desc(), VerificationCode.id.desc())
        .limit(1)
        .execution_options(populate_existing=True)  # as committed by whoever held the lock before
    ).scalar_one_or_none()
    if record is None:
        return CodeCheck(Outcome.NO_CODE)
    if record.flow_id != source.flow_id:
        return CodeCheck(Outcome.OTHER_BROWSER)
    if record.voided_at is None and record.used_at is None:
        if record.wrong_entries >= policy.max_wrong_entries:
            return CodeCheck(Outcome.EXHAUSTED)
        if now >= record.expires_at:
            return CodeCheck(Outcome.EXPIRED)
    elif record.used_at is None:
        return CodeCheck(Outcome.NO_CODE)
    matches = record.user_id is not None and hmac.compare_digest(
        record.code_hash, hash_code(submitted, address=address, purpose=purpose, secret=secret)
    )
    if record.used_at is not None:
        if matches:
            if now < record.expires_at:
                return CodeCheck(Outcome.ALREADY_ACCEPTED)  # no user: a used code logs nobody in
            return CodeCheck(Outcome.USED)
    elif matches:
        consumed = cast(
            CursorResult[Any],
            db.session.execute(
                update(VerificationCode)
                .where(VerificationCode.id == record.id, VerificationCode.used_at.is_(None))
                .values(used_at=now)
            ),
        ).rowcount
        if consumed == 1:
            return CodeCheck(Outcome.ACCEPTED, user=db.session.get(User, record.user_id))
        return CodeCheck(Outcome.USED)
    return _count_wrong_entry(record, address, source, now, policy)


def _count_wrong_entry(
    record: VerificationCode, address: str, source: Source, now: datetime, policy: CodePolicy
) -> CodeCheck:
    db.session.add(WrongCodeEntry(address=address, at=now, flow_id=source.flow_id, network=source.network))
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
