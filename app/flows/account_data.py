"""What the portal holds about one account, for its owner: the downloads list on the account page,
and "Download my data" (GDPR articles 15 and 20: a copy of the personal data, in a format another
program can read)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Select, func, or_, select

from ..extensions import db
from ..models import (
    AuditEvent,
    Download,
    LoginSession,
    NewsletterDelivery,
    Rendition,
    Story,
    User,
    VerificationCode,
    Video,
    utcnow,
)

MAX_PAGE_DIGITS = 6


@dataclass(frozen=True)
class DownloadRow:
    at: datetime
    story: Story | None  # None: the story (or the file) was removed since
    label: str | None
    bytes_sent: int
    range_requested: str | None


@dataclass(frozen=True)
class DownloadsPage:
    rows: list[DownloadRow]
    page: int
    pages: int
    total: int


def page_number(raw: object) -> int:
    """A page number from a query argument: anything that is not a small positive number is page 1."""
    raw = raw.strip() if isinstance(raw, str) else ""
    return max(int(raw), 1) if raw.isdigit() and len(raw) <= MAX_PAGE_DIGITS else 1


def _downloads(user: User) -> Select[datetime, Story, str, int, str | None]:
    return (
        select(Download.at, Story, Rendition.label, Download.bytes_sent, Download.range_requested)
        .select_from(Download)
        .outerjoin(Rendition, Rendition.id == Download.rendition_id)
        .outerjoin(Video, Video.id == Rendition.video_id)
        .outerjoin(Story, Story.id == Video.story_id)
        .where(Download.user_id == user.id)
        .order_by(Download.at.desc(), Download.id.desc())
    )


def downloads_page(user: User, page: int, per_page: int) -> DownloadsPage:
    """The person's downloads, newest first; a page past the last one shows the last."""
    total = db.session.execute(
        select(func.count()).select_from(Download).where(Download.user_id == user.id)
    ).scalar_one()
    pages = max(1, -(-total // per_page))
    page = min(max(page, 1), pages)
    rows = db.session.execute(_downloads(user).offset((page - 1) * per_page).limit(per_page)).all()
    return DownloadsPage([DownloadRow(*row) for row in rows], page, pages, total)


def _when(moment: datetime | None) -> str | None:
    return moment.isoformat(timespec="seconds") + "Z" if moment else None


def export(user: User, *, portal: str, now: datetime | None = None) -> dict[str, Any]:
    """Everything the portal stores that names this account, as plain JSON values (times in UTC)."""
    logins = db.session.execute(
        select(LoginSession.created_at, LoginSession.expires_at)
        .where(LoginSession.user_id == user.id)
        .order_by(LoginSession.created_at)
    ).all()
    issues = (
        db.session.execute(
            select(NewsletterDelivery.queued_at)
            .where(NewsletterDelivery.user_id == user.id)
            .order_by(NewsletterDelivery.queued_at)
        )
        .scalars()
        .all()
    )
    sent_codes = db.session.execute(
        select(VerificationCode.created_at, VerificationCode.purpose, VerificationCode.address)
        .where(VerificationCode.user_id == user.id)
        .order_by(VerificationCode.created_at)
    ).all()
    events = (
        db.session.execute(
            select(AuditEvent)
            .where(or_(AuditEvent.actor_id == user.id, AuditEvent.subject_user_id == user.id))
            .order_by(AuditEvent.at, AuditEvent.id)
        )
        .scalars()
        .all()
    )
    downloads = db.session.execute(_downloads(user)).all()
    return {
        "portal": portal,
        "exported_at": _when(now or utcnow()),
        "account": {
            "email": user.email,
            "first_name": user.first_name,
            "last_name": user.last_name,
            "organisation": user.organisation,
            "language": user.language,
            "created_at": _when(user.created_at),
            "email_verified_at": _when(user.verified_at),
            "press_office_staff": bool(user.is_staff),
        },
        "consents": {
            "conditions_of_use": {"accepted_at": _when(user.conditions_accepted_at)},
            "newsletter": {
                "subscribed": user.newsletter_opt_in_at is not None,
                "subscribed_at": _when(user.newsletter_opt_in_at),
                "where": user.newsletter_opt_in_source,
            },
        },
        "logins": [{"started_at": _when(started), "ends_at": _when(ends)} for started, ends in logins],
        "codes_sent": [{"at": _when(at), "purpose": purpose, "to": address} for at, purpose, address in sent_codes],
        "newsletter_issues_sent": [_when(at) for at in issues],
        "downloads": [
            {
                "at": _when(at),
                "story": story.title if story else None,
                "story_address": story.slug if story else None,
                "file": label,
                "bytes_sent": sent,
                "range_requested": asked,
            }
            for at, story, label, sent, asked in downloads
        ],
        "audit_log": [
            {
                "at": _when(event.at),
                "action": event.action,
                "detail": event.detail,
                "ip": event.ip,
                "as": "actor" if event.actor_id == user.id else "subject",
            }
            for event in events
        ],
    }
