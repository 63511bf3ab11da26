"""The audit log: who did what to which story, when, from where.

A row names its actor and any account it acted on by id only (set to NULL when that account is
deleted), so nothing in the log identifies a deleted account's person. A failed log-in names the
address typed by a keyed hash of it (``address_key``), never the address itself: the log can be
searched for an address, but not read back into one. Rows are kept AUDIT_RETENTION_DAYS (``sweep``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, cast

from flask import g, has_app_context
from sqlalchemy import CursorResult, delete, or_, select, update

from ..extensions import db
from ..models import AuditEvent, Story, User, utcnow
from .emails import InvalidEmail, normalize_email
from .keyed_hash import keyed_hash

ADDRESS_PREFIX = "address #"


def record(
    action: str,
    *,
    actor: object = None,
    story: object = None,
    subject: object = None,
    detail: str = "",
    ip: str | None = None,
    now: datetime | None = None,
) -> AuditEvent:
    """Add an audit row to the session; the caller's commit writes it with the change it records.
    Without ``ip``, the address of the request being answered (``g.audit_ip``, set for every
    request by app/staff/audit.py), so rules that know no request still say where a change came from."""
    if ip is None and has_app_context():
        ip = g.get("audit_ip")
    event = AuditEvent(
        at=now or utcnow(),
        action=action,
        actor_id=getattr(actor, "id", None),
        story_id=getattr(story, "id", None),
        subject_user_id=getattr(subject, "id", None),
        detail=detail[:1000],
        ip=(ip or "")[:45] or None,
    )
    db.session.add(event)
    return event


def address_key(typed: str) -> str:
    """A keyed hash of an address as accounts store it (or as typed, when it is no address): the
    same for every spelling of one address, readable by no one without the app's SECRET_KEY."""
    try:
        address = normalize_email(typed)
    except InvalidEmail:
        address = typed.strip().lower()
    return keyed_hash("audit-address", address)[:20]


def login_failed(typed: str) -> None:
    """A failed log-in, written at once (the request changes nothing else)."""
    record("login.failed", detail=ADDRESS_PREFIX + address_key(typed[:254]))
    db.session.commit()


def account_deleted(user: User) -> None:
    """Before an account is deleted: its rows lose the addresses they came from (its id goes by
    ON DELETE SET NULL), and the deletion is recorded without naming anyone."""
    key = ADDRESS_PREFIX + address_key(user.email)
    db.session.execute(
        update(AuditEvent)
        .where(or_(AuditEvent.actor_id == user.id, AuditEvent.subject_user_id == user.id, AuditEvent.detail == key))
        .values(ip=None)
    )
    record("account.delete", ip="")


def sweep(days: int, now: datetime | None = None) -> int:
    """Delete the rows older than ``days``; how many went."""
    cutoff = (now or utcnow()) - timedelta(days=days)
    deleted = cast(CursorResult[Any], db.session.execute(delete(AuditEvent).where(AuditEvent.at < cutoff))).rowcount
    db.session.commit()
    return deleted


@dataclass(frozen=True)
class Search:
    person: str = ""
    story: str = ""
    page: int = 1

    @classmethod
    def from_args(cls, args: Mapping[str, str]) -> Search:
        page = args.get("page", "")
        return cls(
            _printable(args.get("person", ""))[:254],
            _printable(args.get("story", ""))[:200],
            int(page) if page.isdecimal() and 0 < len(page) < 6 and int(page) > 0 else 1,
        )


@dataclass(frozen=True)
class Row:
    event: AuditEvent
    actor: User | None
    subject: User | None
    story: Story | None


def find(search: Search, per_page: int = 50) -> tuple[list[Row], bool]:
    """The rows that match, newest first, and whether there are more. A person is found by
    address (their account's id in any role, or the hash a failed log-in left) or by id; a story
    by words of its title or by id."""
    query = select(AuditEvent).order_by(AuditEvent.at.desc(), AuditEvent.id.desc())
    if search.person:
        ids = [int(search.person)] if search.person.isdecimal() and len(search.person) < 12 else []
        ids = ids + list(db.session.scalars(select(User.id).where(User.email == _normalised(search.person))))
        query = query.where(
            or_(
                AuditEvent.actor_id.in_(ids),
                AuditEvent.subject_user_id.in_(ids),
                AuditEvent.detail == ADDRESS_PREFIX + address_key(search.person),
            )
        )
    if search.story:
        text = search.story
        ids = [int(text)] if text.isdecimal() and len(text) < 12 else []
        pattern = "%" + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        titled = select(Story.id).where(Story.title.ilike(pattern, escape="\\"))
        query = query.where(or_(AuditEvent.story_id.in_(ids), AuditEvent.story_id.in_(titled)))
    events = list(db.session.scalars(query.offset((search.page - 1) * per_page).limit(per_page + 1)))
    people = _by_id(User, {e.actor_id for e in events} | {e.subject_user_id for e in events})
    stories = _by_id(Story, {e.story_id for e in events})
    rows = [
        Row(e, people.get(e.actor_id), people.get(e.subject_user_id), stories.get(e.story_id))
        for e in events[:per_page]
    ]
    return rows, len(events) > per_page


def _printable(text: str) -> str:
    """What PostgreSQL takes in a text comparison (no NUL) and a person could mean."""
    return "".join(ch for ch in text if ch.isprintable()).strip()


def _by_id(model: Any, ids: set[int | None]) -> dict[int | None, Any]:
    ids = {i for i in ids if i is not None}
    return {item.id: item for item in db.session.scalars(select(model).where(model.id.in_(ids)))} if ids else {}


def _normalised(typed: str) -> str:
    try:
        return normalize_email(typed)
    except InvalidEmail:
        return typed
