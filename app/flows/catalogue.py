"""The catalogue: what a search box, date range, category and page number ask for."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any, TypeVarTuple

from flask_babel import gettext as _
from sqlalchemy import ColumnElement, Select, func, literal, select, union_all
from sqlalchemy.orm import joinedload

from .. import search
from ..extensions import db
from ..models import Category, Story, Video
from . import publishing
from .story_fields import SLUG

Ts = TypeVarTuple("Ts")

MAX_PAGE = 10_000
MAX_QUERY_LENGTH = 200


@dataclass
class CatalogueQuery:
    text: str = ""
    date_from: date | None = None
    date_to: date | None = None
    category: str = ""
    page: int = 1
    errors: dict[str, str] = field(default_factory=dict)

    @property
    def words(self) -> list[str]:
        return search.tokens(self.text)

    @property
    def last_word_is_short(self) -> bool:
        """Whether the last word is still too short to be searched as the start of words."""
        return bool(self.words) and not search.last_word_is_prefix(self.words)

    def args(self, **changes: object) -> dict[str, object]:
        """Query-string arguments for links (next page, bookmarks)."""
        values = {
            "q": self.text,
            "from": self.date_from.isoformat() if self.date_from else "",
            "to": self.date_to.isoformat() if self.date_to else "",
            "category": self.category,
            "page": self.page,
        }
        values.update(changes)
        if values["page"] == 1:
            del values["page"]  # the first page is the plain URL
        return {k: v for k, v in values.items() if v not in ("", None)}


@dataclass
class CataloguePage:
    stories: list[Story]
    has_more: bool
    query: CatalogueQuery
    total: int | None = None  # how many stories match in all; None: not counted (the staff list)


def parse_query(args: Mapping[str, object]) -> CatalogueQuery:
    """Read request arguments leniently: anything odd becomes a message, never an error page."""
    query = CatalogueQuery(text=_text(args.get("q"))[:MAX_QUERY_LENGTH])
    for name, attr in (("from", "date_from"), ("to", "date_to")):
        raw = _text(args.get(name)).strip()
        if raw:
            try:
                setattr(query, attr, date.fromisoformat(raw))
            except ValueError:
                query.errors[name] = _("Use a date like 2025-05-14.")
    if query.date_from and query.date_to and query.date_from > query.date_to:
        query.errors["to"] = _("The end date is before the start date.")
    category = _text(args.get("category")).strip()
    if category and SLUG.match(category):
        query.category = category
    elif category:
        query.errors["category"] = _("Unknown category.")
    raw_page = _text(args.get("page")).strip()
    query.page = min(max(int(raw_page), 1), MAX_PAGE) if raw_page.isdigit() and len(raw_page) < 7 else 1
    return query


def find_stories(
    query: CatalogueQuery, per_page: int, only: ColumnElement[bool] | None = None, *, count: bool = False
) -> CataloguePage:
    """Newest first; with words, the search's tiers one after the other (see app.search).
    ``only``: which stories may be listed, a condition on Story; the published ones by default
    (the staff list asks for drafts and scheduled ones too, through the same search).
    ``count``: also say how many match in all ("12 stories"): a first page that holds every
    match has counted them already; otherwise one count over the same conditions."""
    offset, wanted = (query.page - 1) * per_page, per_page + 1
    only = publishing.visible() if only is None else only
    tiers = search.tiers(db.session, query.words) if query.words else None
    if tiers is None:  # no words
        statement = _filtered(select(Story), query, only).order_by(Story.published_at.desc(), Story.id.desc())
        stories = _cards(statement.offset(offset).limit(wanted))
    else:
        stories = _cards(_search_page(query, tiers, offset, wanted, only))
    page = CataloguePage(stories[:per_page], len(stories) > per_page, query)
    if count:
        page.total = _count(query, tiers, only) if page.has_more or query.page > 1 else len(page.stories)
    return page


def _count(query: CatalogueQuery, tiers: list[search.Tier] | None, only: ColumnElement[bool]) -> int:
    if tiers is None:
        return db.session.execute(_filtered(select(func.count(Story.id)), query, only)).scalar_one()
    matches = union_all(*_tier_matches(query, tiers, only)).subquery()
    return db.session.execute(select(func.count()).select_from(matches)).scalar_one()


def _search_page(
    query: CatalogueQuery, tiers: list[search.Tier], offset: int, limit: int, only: ColumnElement[bool]
) -> Select[Story]:
    """One statement for a page of search results: the tiers' matches, each newest first, one
    tier after the other (UNION ALL), and the page cut from them. The database reads the tiers
    in turn and stops once it holds the page, so a page in the first tier never reads the others
    (app.extensions keeps PostgreSQL from reading them in parallel, which would mix their order)."""
    joins_on = getattr(Story, tiers[0].joins_on)
    page = union_all(*_tier_matches(query, tiers, only, limit=offset + limit)).offset(offset).limit(limit).subquery()
    return select(Story).join(page, joins_on == page.c.story_id).order_by(page.c.tier, Story.search_key.desc())


def _tier_matches(
    query: CatalogueQuery, tiers: list[search.Tier], only: ColumnElement[bool], limit: int | None = None
) -> list[Select[Any]]:
    """Each search tier's matching stories (id and tier), newest first, at most ``limit`` each."""
    joins_on = getattr(Story, tiers[0].joins_on)
    matches = []
    for position, tier in enumerate(tiers):
        found = select(tier.story_key.label("story_id"), literal(position).label("tier")).select_from(tier.target)
        found = _filtered(found.join(Story, joins_on == tier.story_key), query, only).where(tier.where)
        if limit is not None:
            # Each tier keeps its own order and limit inside the union (a subquery, as SQLite asks).
            found = found.order_by(tier.order).limit(limit)
        matches.append(select(found.subquery()))
    return matches


def _filtered(statement: Select[*Ts], query: CatalogueQuery, only: ColumnElement[bool]) -> Select[*Ts]:
    statement = statement.where(only)
    if query.date_from and "from" not in query.errors:
        statement = statement.where(Story.published_at >= datetime.combine(query.date_from, time.min))
    if query.date_to and "to" not in query.errors and query.date_to < date.max:  # up to date.max: no bound
        statement = statement.where(Story.published_at < datetime.combine(query.date_to + timedelta(days=1), time.min))
    if query.category:
        statement = statement.where(Story.categories.any(Category.slug == query.category))
    return statement


def _cards(statement: Select[Story]) -> list[Story]:
    """The stories a page of cards shows, with what a card shows loaded and nothing more: videos
    and translations (one or none each) in the same statement, categories in a second one."""
    statement = statement.options(
        joinedload(Story.videos).lazyload(Video.renditions),
        joinedload(Story.translations),
    )
    return list(db.session.execute(statement).unique().scalars())


def newest(limit: int, category: Category | None = None) -> list[Story]:
    """The stories visitors see, the latest to appear first (a feed): a scheduled one joins
    when its time comes, by the same rule as every listing (``publishing.visible``)."""
    statement = select(Story).where(publishing.visible())
    if category is not None:
        statement = statement.where(Story.categories.any(Category.id == category.id))
    statement = statement.order_by(publishing.went_live_at().desc(), Story.id.desc()).limit(limit)
    return _with_media(statement)


def all_visible(limit: int) -> list[Story]:
    """Every story visitors see, newest first, at most ``limit`` (a sitemap)."""
    return _with_media(
        select(Story)
        .where(publishing.visible())
        .order_by(publishing.went_live_at().desc(), Story.id.desc())
        .limit(limit)
    )


def _with_media(statement: Select[Story]) -> list[Story]:
    statement = statement.options(joinedload(Story.videos), joinedload(Story.translations))
    return list(db.session.execute(statement).unique().scalars())


def category_by_slug(slug: str) -> Category | None:
    if not SLUG.match(slug or ""):
        return None
    return db.session.execute(select(Category).where(Category.slug == slug)).scalar_one_or_none()


def all_categories() -> list[Category]:
    return list(db.session.execute(select(Category).order_by(Category.name)).scalars())


def story_by_slug(slug: str) -> Story | None:
    """A published story's page (drafts and scheduled stories are no page yet)."""
    if not SLUG.match(slug or ""):
        return None
    return db.session.execute(select(Story).where(Story.slug == slug, publishing.visible())).scalar_one_or_none()


def _text(value: object) -> str:
    return value if isinstance(value, str) else ""
