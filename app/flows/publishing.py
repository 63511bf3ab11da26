"""Writing and publishing stories from the staff area: drafts, publishing now or at a set time,
unpublishing, and the one rule for who sees a story.

A story is a draft (staff only) or published; a published story whose ``publish_at`` is still
ahead is scheduled, and appears by itself at that time: nothing is written then, every listing
asks ``visible()`` with the clock's time, and the catalogue cache's key includes whether the next
publication time has passed (app/media/cards.py).

Saves carry the version the editor was showing; a save from an older version is refused
(``VersionConflict``), so two people editing one story never overwrite each other unseen.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, ParamSpec, TypeVar, cast

from flask import current_app, has_app_context
from sqlalchemy import ColumnElement, CursorResult, and_, func, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import InstrumentedAttribute

from .. import search
from ..extensions import db
from ..models import DRAFT as DRAFT  # with SCHEDULED: the states, read here by the views
from ..models import PUBLISHED as PUBLISHED
from ..models import Category, Story, StoryTranslation, Video, utcnow
from . import audit
from .story_fields import TRANSLATION_LANGUAGES, parse_date, shotlist_text, slugify

SCHEDULED = "scheduled"  # a published story whose time has not come: shown, never stored
STATES = (DRAFT, SCHEDULED, PUBLISHED)
P = ParamSpec("P")
R = TypeVar("R")
CLOCK = "publishing_clock"


def now() -> datetime:
    """The time for every publication rule (naive UTC); tests put a clock in
    ``app.extensions["publishing_clock"]`` to move it."""
    clock: Callable[[], datetime] | None = current_app.extensions.get(CLOCK) if has_app_context() else None
    return clock() if clock else utcnow()


def visible(at: datetime | None = None) -> ColumnElement[bool]:
    """The condition on Story for what visitors see: published, and its time has come."""
    at = at or now()
    return and_(Story.state == PUBLISHED, or_(Story.publish_at.is_(None), Story.publish_at <= at))


def state_of(story: Story, at: datetime | None = None) -> str:
    if story.state != PUBLISHED:
        return DRAFT
    return SCHEDULED if story.publish_at is not None and story.publish_at > (at or now()) else PUBLISHED


def is_visible(story: Story, at: datetime | None = None) -> bool:
    return state_of(story, at) == PUBLISHED


def in_state(state: str, at: datetime | None = None) -> ColumnElement[bool]:
    """The condition on Story for one of STATES (the staff list's filter)."""
    at = at or now()
    if state == DRAFT:
        return Story.state == DRAFT
    if state == SCHEDULED:
        return and_(Story.state == PUBLISHED, Story.publish_at > at)
    return visible(at)


def went_live_at() -> ColumnElement[datetime]:
    """When a story appeared: its publication time, or (imported) its date."""
    return func.coalesce(Story.publish_at, Story.published_at)


def next_publication(at: datetime | None = None) -> datetime | None:
    """The earliest publication time still ahead: when the catalogue changes without a write."""
    return db.session.execute(
        select(func.min(Story.publish_at)).where(Story.state == PUBLISHED, Story.publish_at > (at or now()))
    ).scalar()


class VersionConflict(Exception):
    """Someone saved the story since this editor's version was read."""


@dataclass
class Actor:
    """Who acts and from where, for the audit log."""

    user: object
    ip: str | None = None


def _retried(write: Callable[P, R]) -> Callable[P, R]:
    """Two people saving stories of one title at once may both find its slug free (or a new
    category's); the second commit then breaks the unique index. Its transaction is rolled back
    whole (the version it took included) and the write runs again, finding the next free slug."""

    def run(*args: P.args, **kwargs: P.kwargs) -> R:
        for _ in range(ATTEMPTS - 1):
            try:
                return write(*args, **kwargs)
            except IntegrityError:
                db.session.rollback()
        return write(*args, **kwargs)

    return run


ATTEMPTS = 3


@_retried
def create_story(entry: dict[str, Any], actor: Actor) -> Story:
    """A new draft from the editor's fields (already checked with story_fields.story_problems)."""
    story = Story(
        state=DRAFT,
        slug_locked=False,
        version=1,
        slug=_free_slug(entry["title"], None),
        title="",
        published_at=parse_date(entry["published"]),
    )
    db.session.add(story)
    _apply(story, entry)
    db.session.flush()
    search.index_story(db.session, story)
    audit.record("story.create", actor=actor.user, story=story, ip=actor.ip, detail=story.slug)
    db.session.commit()
    return story


@_retried
def save_story(story: Story, entry: dict[str, Any], version: int, actor: Actor) -> Story:
    """Save the editor's fields over ``version``; VersionConflict if it is no longer the latest."""
    _take_version(story, version)
    _apply(story, entry)
    if not story.slug_locked:
        story.slug = _free_slug(story.title, story.id)
    db.session.flush()
    search.index_story(db.session, story)
    audit.record("story.update", actor=actor.user, story=story, ip=actor.ip, detail=f"version {story.version}")
    db.session.commit()
    return story


def publish(story: Story, version: int, actor: Actor, at: datetime | None = None) -> Story:
    """Publish now, or at ``at`` (scheduled). The slug is fixed from here on."""
    _take_version(story, version)
    moment = now()
    story.state, story.publish_at, story.slug_locked = PUBLISHED, max(at or moment, moment), True
    scheduled = story.publish_at > moment
    audit.record(
        "story.schedule" if scheduled else "story.publish",
        actor=actor.user,
        story=story,
        ip=actor.ip,
        detail=story.publish_at.isoformat(timespec="minutes"),
    )
    db.session.commit()
    return story


def unpublish(story: Story, version: int, actor: Actor) -> Story:
    """Back to a draft: off the catalogue, search, digest and story page at once (its slug stays)."""
    _take_version(story, version)
    story.state, story.publish_at = DRAFT, None
    audit.record("story.unpublish", actor=actor.user, story=story, ip=actor.ip)
    db.session.commit()
    return story


def _take_version(story: Story, version: int) -> None:
    """Move the story from ``version`` to the next one in the database, or refuse: the UPDATE
    holds the row until commit, so of two saves of one version only the first gets through."""
    taken = cast(
        CursorResult[Any],
        db.session.execute(
            update(Story)
            .where(Story.id == story.id, Story.version == version)
            .values(version=Story.version + 1)
            .execution_options(synchronize_session=False)
        ),
    )
    if taken.rowcount != 1:
        db.session.rollback()
        raise VersionConflict()
    story.version = version + 1
    db.session.flush()


def _apply(story: Story, entry: dict[str, Any]) -> None:
    story.title = entry["title"].strip()
    published_at = parse_date(entry["published"])
    assert published_at is not None  # the caller checked the fields (story_fields.story_problems)
    story.published_at = published_at
    for attribute, key in FIELD_NAMES:
        if attribute != "title":
            setattr(story, attribute, (entry.get(key) or "").strip())
    story.categories = _categories(entry.get("categories", []))
    shots = entry.get("video", {}).get("shotlist", [])
    if shots or story.video is not None:
        video = story.video
        if video is None:  # the shotlist waits on a video row until the master is uploaded
            video = Video(duration_seconds=0)
            story.videos.append(video)
        video.shotlist = shotlist_text(shots)
    for language in TRANSLATION_LANGUAGES:
        _apply_translation(story, language, (entry.get("translations") or {}).get(language))


# (Story attribute, manifest key), the same for StoryTranslation.
FIELD_NAMES = (
    ("title", "title"),
    ("location", "location"),
    ("summary", "summary"),
    ("body", "body"),
    ("credit_line", "credit"),
    ("rights_note", "rights"),
)


def _apply_translation(story: Story, language: str, fields: dict[str, Any] | None) -> None:
    translation = story.translation(language)
    if not fields:
        if translation is not None:
            story.translations.remove(translation)
        return
    if translation is None:
        translation = StoryTranslation(language=language, title="")
        story.translations.append(translation)
    for attribute, key in FIELD_NAMES:
        setattr(translation, attribute, (fields.get(key) or "").strip())
    translation.shotlist = shotlist_text(fields.get("shotlist", []))


def _categories(names: list[str]) -> list[Category]:
    wanted = list(dict.fromkeys(name.strip() for name in names if name.strip()))
    found = {c.name: c for c in db.session.execute(select(Category).where(Category.name.in_(wanted))).scalars()}
    for name in wanted:
        if name not in found:
            found[name] = Category(name=name, slug=_free_category_slug(slugify(name, "category")))
            db.session.add(found[name])
    return [found[name] for name in wanted]


def _free_slug(title: str, story_id: int | None) -> str:
    """The title's slug, with -2, -3... when another story has it."""
    return _free(slugify(title), Story.slug, Story.id != story_id if story_id else None)


def _free_category_slug(base: str) -> str:
    return _free(base, Category.slug, None)


def _free(base: str, column: InstrumentedAttribute[str], other: ColumnElement[bool] | None) -> str:
    condition = column.like(base[:60] + "%")  # base, base-2, and the shortened ones of a long base
    taken = set(
        db.session.execute(select(column).where(condition if other is None else and_(condition, other))).scalars()
    )
    candidate, number = base, 1
    while candidate in taken:
        number += 1
        suffix = f"-{number}"
        candidate = base[: 80 - len(suffix)].rstrip("-") + suffix
    return candidate
