"""The newsletter (docs/portal.md, Newsletter): consent, one-click unsubscribe, and the digest of new stories.

The digest is queued in batches (one transaction each, the session emptied between them), so
10,000 subscribers never sit in memory or in one giant transaction. A delivery row per
subscriber and issue makes a re-run, or a run after a crash, send nothing twice.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import cast

from flask import current_app
from itsdangerous import BadSignature, URLSafeSerializer
from sqlalchemy import Table, delete, exists, select

from .. import mails
from ..extensions import db
from ..models import NewsletterDelivery, NewsletterIssue, OutboxMessage, Story, User, utcnow
from . import publishing

UNSUBSCRIBE_SALT = "newsletter-unsubscribe"
FIRST_ISSUE_COVERS = timedelta(days=7)
NEWSLETTER = "newsletter"


def _serializer() -> URLSafeSerializer:
    return URLSafeSerializer(current_app.config["SECRET_KEY"], salt=UNSUBSCRIBE_SALT)


def unsubscribe_token(user: User) -> str:
    """Signed and non-expiring; bound to the account and its address."""
    return _serializer().dumps({"u": user.id, "e": user.email})


class BadToken(Exception):
    pass


def user_for_token(token: str) -> User | None:
    """The account a link was made for; None when that account or address is gone."""
    try:
        data = _serializer().loads(token)
    except BadSignature:
        raise BadToken() from None
    if not isinstance(data, dict) or not isinstance(data.get("u"), int):
        raise BadToken()
    user = db.session.get(User, data["u"])
    return user if user is not None and user.email == data.get("e") else None


def subscribe(user: User, source: str, now: datetime | None = None) -> None:
    if user.newsletter_opt_in_at is None:
        user.newsletter_opt_in_at = now or utcnow()
        user.newsletter_opt_in_source = source[:32]
    db.session.commit()


def unsubscribe(user: User) -> None:
    """Stops newsletter mail at once, including digests queued but not sent yet."""
    user.newsletter_opt_in_at = None
    user.newsletter_opt_in_source = None
    db.session.execute(
        delete(OutboxMessage).where(
            OutboxMessage.recipient == user.email, OutboxMessage.kind == NEWSLETTER, OutboxMessage.sent_at.is_(None)
        )
    )
    db.session.commit()


@dataclass
class DigestReport:
    stories: list[tuple[datetime, str]] = field(default_factory=list)  # (published, title), newest first
    subscribers: int = 0
    queued: int = 0
    issue_id: int | None = None


def send_digest(*, dry_run: bool = False, batch_size: int = 500, now: datetime | None = None) -> DigestReport:
    now = now or utcnow()
    issue = (
        db.session.execute(
            select(NewsletterIssue).where(NewsletterIssue.finished_at.is_(None)).order_by(NewsletterIssue.id)
        )
        .scalars()
        .first()
    )  # resume an interrupted run
    if issue is None:
        last = (
            db.session.execute(select(NewsletterIssue).order_by(NewsletterIssue.covers_until.desc())).scalars().first()
        )
        covers_from = last.covers_until if last else now - FIRST_ISSUE_COVERS
        issue = NewsletterIssue(created_at=now, covers_from=covers_from, covers_until=now)
    stories = _stories(issue.covers_from, issue.covers_until)
    report = DigestReport(stories=[(s.published_at, s.title) for s in stories], subscribers=_subscriber_count())
    story_ids = [s.id for s in stories]
    if not stories or dry_run:
        db.session.rollback()
        return report
    issue.story_count = len(stories)
    db.session.add(issue)
    db.session.commit()
    report.issue_id = issue_id = issue.id
    last_id = 0
    while True:
        subscribers = (
            db.session.execute(
                select(User)
                .where(
                    User.id > last_id,
                    User.newsletter_opt_in_at.is_not(None),
                    User.verified_at.is_not(None),
                    ~exists().where(NewsletterDelivery.issue_id == issue_id, NewsletterDelivery.user_id == User.id),
                )
                .order_by(User.id)
                .limit(batch_size)
            )
            .scalars()
            .all()
        )
        if not subscribers:
            break
        batch_stories = (
            db.session.execute(select(Story).where(Story.id.in_(story_ids)).order_by(Story.published_at.desc()))
            .scalars()
            .all()
        )
        for user in subscribers:
            mails.queue_digest(user, batch_stories, unsubscribe_token(user))
            db.session.add(NewsletterDelivery(issue_id=issue_id, user_id=user.id, queued_at=now))
        last_id = subscribers[-1].id
        db.session.commit()
        report.queued += len(subscribers)
        db.session.expunge_all()  # keep memory flat whatever the list's size
    db.session.execute(
        cast(Table, NewsletterIssue.__table__)
        .update()
        .where(NewsletterIssue.id == issue_id)
        .values(finished_at=utcnow())
    )
    db.session.commit()
    return report


def _stories(after: datetime, until: datetime) -> list[Story]:
    """The stories that appeared in (after, until]: a scheduled one in the issue after its time,
    an imported one by its date; drafts never."""
    live = publishing.went_live_at()
    return list(
        db.session.execute(
            select(Story)
            .where(live > after, live <= until, publishing.visible(until))
            .order_by(Story.published_at.desc())
        ).scalars()
    )


def _subscriber_count() -> int:
    from sqlalchemy import func

    return db.session.execute(
        select(func.count(User.id)).where(User.newsletter_opt_in_at.is_not(None), User.verified_at.is_not(None))
    ).scalar_one()
