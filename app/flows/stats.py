"""Download statistics for the press office, read from the daily roll-up ``download_days``.

The roll-up is written with each download (``add_download``, called by app/flows/downloads.py), so
the statistics never read the whole log: a year of a busy portal is a few thousand rows a day at
most (day × story × rendition label, and day × organisation), whatever the number of downloads.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, CompoundSelect, Select, func, select, union_all
from sqlalchemy.dialects import postgresql, sqlite

from ..extensions import db
from ..models import (
    Download,
    DownloadDay,
    DownloadOrganisationDay,
    DownloadOrganisationMonth,
    Rendition,
    Story,
    User,
    Video,
)
from . import publishing

PRESETS = (30, 90, 365)
DEFAULT_DAYS = 30
LONGEST_DAYS = 3 * 366  # a longer range asked for is cut to this (a chart of more days says nothing)
TOP = 20


def add_download(
    at: datetime, story_id: int | None, label: str, organisation: str, *, downloads: int, bytes_sent: int
) -> None:
    """Add a new download (downloads=1) or more bytes of one (downloads=0) to its day's rows."""
    insert = postgresql.insert if db.session.get_bind().dialect.name == "postgresql" else sqlite.insert
    by_organisation = {"organisation": organisation[:200]}
    for table, key in (
        (DownloadDay, {"day": at.date(), "story_id": story_id, "label": label[:120]}),
        (DownloadOrganisationDay, {"day": at.date(), **by_organisation}),
        (DownloadOrganisationMonth, {"month": at.date().replace(day=1), **by_organisation}),
    ):
        statement = insert(table).values(downloads=downloads, bytes_sent=bytes_sent, **key)
        db.session.execute(
            statement.on_conflict_do_update(
                index_elements=list(key),
                set_={
                    "downloads": table.downloads + statement.excluded.downloads,
                    "bytes_sent": table.bytes_sent + statement.excluded.bytes_sent,
                },
            )
        )


@dataclass(frozen=True)
class Period:
    """The days the statistics cover, both ends included (UTC days)."""

    start: date
    end: date
    preset: int | None = None  # 30, 90 or 365 when chosen that way

    @property
    def days(self) -> list[date]:
        return [self.start + timedelta(days=n) for n in range((self.end - self.start).days + 1)]


def period(args: Mapping[str, str], today: date) -> Period:
    """The period a query asks for: ?from=YYYY-MM-DD&to=YYYY-MM-DD, else ?days=30|90|365; anything
    else (a date that is none, an end before the start) is the last 30 days."""
    start, end = _day(args.get("from")), _day(args.get("to"))
    if start and end and start <= end:
        return Period(max(start, end - timedelta(days=LONGEST_DAYS - 1)), end)
    days = int(args["days"]) if args.get("days", "").isdecimal() and int(args["days"]) in PRESETS else DEFAULT_DAYS
    return Period(today - timedelta(days=days - 1), today, days)


def _day(value: str | None) -> date | None:
    try:
        day = date.fromisoformat((value or "").strip())
    except ValueError:
        return None
    return day if date(2000, 1, 1) <= day <= date(2999, 12, 31) else None


def _in(period: Period, story_id: int | None = None) -> ColumnElement[bool]:
    condition = DownloadDay.day.between(period.start, period.end)
    return condition if story_id is None else condition & (DownloadDay.story_id == story_id)


COUNTS = (func.coalesce(func.sum(DownloadDay.downloads), 0), func.coalesce(func.sum(DownloadDay.bytes_sent), 0))


def totals(period: Period, story_id: int | None = None) -> tuple[int, int]:
    downloads, sent = db.session.execute(select(*COUNTS).where(_in(period, story_id))).one()
    return int(downloads), int(sent)


def per_day(period: Period, story_id: int | None = None) -> list[tuple[date, int, int]]:
    """Every day of the period, days without downloads included."""
    found = {
        _as_date(day): (int(n), int(sent))
        for day, n, sent in db.session.execute(
            select(DownloadDay.day, *COUNTS).where(_in(period, story_id)).group_by(DownloadDay.day)
        )
    }
    return [(day, *found.get(day, (0, 0))) for day in period.days]


def per_story(period: Period, limit: int = TOP) -> list[tuple[int | None, str | None, int, int]]:
    """The most downloaded stories: id (None for a deleted story), title, downloads, bytes."""
    downloads = COUNTS[0].label("downloads")
    # the sums from the roll-up's index alone; the titles of the few that made it
    top = db.session.execute(
        select(DownloadDay.story_id, downloads, COUNTS[1])
        .where(_in(period))
        .group_by(DownloadDay.story_id)
        .order_by(downloads.desc(), DownloadDay.story_id)
        .limit(limit)
    ).all()
    titles: dict[int | None, str] = dict(
        db.session.execute(select(Story.id, Story.title).where(Story.id.in_([row[0] for row in top]))).all()
    )
    return [(story_id, titles.get(story_id), int(n), int(sent)) for story_id, n, sent in top]


def per_rendition(period: Period, story_id: int | None = None) -> list[tuple[str, int, int]]:
    """Downloads by rendition (its label: "HD 1080p25"), most downloaded first."""
    downloads = COUNTS[0].label("downloads")
    rows = db.session.execute(
        select(DownloadDay.label, downloads, COUNTS[1])
        .where(_in(period, story_id))
        .group_by(DownloadDay.label)
        .order_by(downloads.desc(), DownloadDay.label)
    )
    return [(label, int(n), int(sent)) for label, n, sent in rows]


def per_organisation(period: Period, story_id: int | None = None, limit: int = 50) -> list[tuple[str, int, int]]:
    """The organisations that downloaded most (as each account named it when it downloaded); for
    one story read from the log itself (a story's downloads in a period are few), else from the
    organisations' roll-ups: the whole calendar months of the period by month, its other days by day."""
    column: Any  # the roll-ups' column or the log's
    if story_id is None:
        rolled = _organisation_rows(period).subquery()
        column = rolled.c.organisation
        downloads = func.sum(rolled.c.downloads).label("downloads")
        query = select(column, downloads, func.sum(rolled.c.bytes_sent))
    else:
        column = Download.organisation
        downloads = func.count().label("downloads")
        query = (
            select(column, downloads, func.sum(Download.bytes_sent))
            .join(Rendition, Rendition.id == Download.rendition_id)
            .join(Video, Video.id == Rendition.video_id)
            .where(
                Video.story_id == story_id,
                Download.at >= _midnight(period.start),
                Download.at < _midnight(period.end + timedelta(days=1)),
            )
        )
    rows = db.session.execute(query.group_by(column).order_by(downloads.desc(), column).limit(limit))
    return [(organisation, int(n), int(sent or 0)) for organisation, n, sent in rows]


def _organisation_rows(period: Period) -> Select[str, int, int] | CompoundSelect[str, int, int]:
    """The roll-up rows that make up the period: its whole months, then the days before and after them."""
    days = DownloadOrganisationDay
    columns = (days.organisation, days.downloads, days.bytes_sent)
    first, after = whole_months(period)
    if first >= after:
        return select(*columns).where(days.day.between(period.start, period.end))
    months = DownloadOrganisationMonth
    return union_all(
        select(months.organisation, months.downloads, months.bytes_sent).where(
            months.month >= first, months.month < after
        ),
        select(*columns).where(days.day >= period.start, days.day < first),
        select(*columns).where(days.day >= after, days.day <= period.end),
    )


def whole_months(period: Period) -> tuple[date, date]:
    """The first day of the period's first whole calendar month and the first day after its last
    (the same day, or the first after the second, when the period holds no whole month)."""
    first = period.start if period.start.day == 1 else _next_month(period.start)
    return first, (period.end + timedelta(days=1)).replace(day=1)


def _next_month(day: date) -> date:
    return (day.replace(day=1) + timedelta(days=32)).replace(day=1)


def _midnight(day: date) -> datetime:
    return datetime.combine(day, datetime.min.time())


def newest_stories(period: Period, limit: int = 10) -> list[tuple[int, str, datetime, int]]:
    """The newest stories visitors see, with their downloads in the period."""
    stories = db.session.execute(
        select(Story.id, Story.title, Story.published_at)
        .where(publishing.visible())
        .order_by(Story.published_at.desc(), Story.id.desc())
        .limit(limit)
    ).all()
    counts = dict(
        db.session.execute(
            select(DownloadDay.story_id, COUNTS[0])
            .where(_in(period), DownloadDay.story_id.in_([s.id for s in stories]))
            .group_by(DownloadDay.story_id)
        ).all()
    )
    return [(story_id, title, published, int(counts.get(story_id, 0))) for story_id, title, published in stories]


def weekly_signups(period: Period) -> list[tuple[date, int, int]]:
    """New verified accounts and newsletter subscriptions per week (weeks start on Monday)."""
    weeks = {}
    first = period.start - timedelta(days=period.start.weekday())
    while first <= period.end:
        weeks[first] = [0, 0]
        first += timedelta(days=7)
    start, end = _midnight(period.start), _midnight(period.end + timedelta(days=1))
    for index, column in enumerate((User.verified_at, User.newsletter_opt_in_at)):
        day = func.date(column)
        for value, n in db.session.execute(
            select(day, func.count()).where(column >= start, column < end).group_by(day)
        ):
            value = _as_date(value)
            weeks[value - timedelta(days=value.weekday())][index] += int(n)
    return [(week, accounts, subscribers) for week, (accounts, subscribers) in weeks.items()]


def _as_date(value: object) -> date:
    """A day as the database gives it (SQLite: text)."""
    return value if isinstance(value, date) else date.fromisoformat(str(value)[:10])
