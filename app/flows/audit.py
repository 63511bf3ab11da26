"""The audit log: who did what to which story, when, from where.

A row names its actor and any account it acted on by id only (set to NULL when that account is
deleted), so nothing in the log identifies a deleted account's person.
"""
from __future__ import annotations

from datetime import datetime

from ..extensions import db
from ..models import AuditEvent, utcnow


def record(action: str, *, actor=None, story=None, subject=None, detail: str = "", ip: str | None = None,
           now: datetime | None = None) -> AuditEvent:
    """Add an audit row to the session; the caller's commit writes it with the change it records."""
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
