"""Download statistics (/staff/stats, and a block on each staff story page), each table as CSV."""

from __future__ import annotations

import io
from dataclasses import dataclass

from flask import abort, render_template, request
from flask_babel import lazy_gettext as _l

from ..flows import reports, stats
from ..models import utcnow
from . import bp
from .charts import bar_chart


@dataclass(frozen=True)
class Table:
    """A table of figures: each column's heading and kind (text, story, date, count, bytes)."""

    key: str
    caption: str
    columns: list[tuple[str, str]]
    rows: list[list]


def _by_day(period, story_id):
    return [[day, n, sent] for day, n, sent in stats.per_day(period, story_id)]


def _by_story(period, story_id):
    return [[(story, title), n, sent] for story, title, n, sent in stats.per_story(period)]


def _newest(period, story_id):
    return [[(story, title), published, n] for story, title, published, n in stats.newest_stories(period)]


def _by_rendition(period, story_id):
    return [list(row) for row in stats.per_rendition(period, story_id)]


def _by_organisation(period, story_id):
    return [list(row) for row in stats.per_organisation(period, story_id)]


def _signups(period, story_id):
    return [list(row) for row in stats.weekly_signups(period)]


DOWNLOADS, BYTES = (_l("Downloads"), "count"), (_l("Bytes sent"), "bytes")
# key: (caption, columns, rows, on a story's page too)
TABLES: dict[str, tuple] = {
    "days": (_l("Downloads per day"), [(_l("Day"), "date"), DOWNLOADS, BYTES], _by_day, True),
    "stories": (_l("Most downloaded stories"), [(_l("Story"), "story"), DOWNLOADS, BYTES], _by_story, False),
    "newest": (_l("Newest stories"), [(_l("Story"), "story"), (_l("Published"), "date"), DOWNLOADS], _newest, False),
    "renditions": (_l("Downloads per rendition"), [(_l("Rendition"), "text"), DOWNLOADS, BYTES], _by_rendition, True),
    "organisations": (
        _l("Downloads per organisation"),
        [(_l("Organisation"), "text"), DOWNLOADS, BYTES],
        _by_organisation,
        True,
    ),
    "signups": (
        _l("New accounts and newsletter subscribers per week"),
        [(_l("Week of"), "date"), (_l("New accounts"), "count"), (_l("New subscribers"), "count")],
        _signups,
        False,
    ),
}


def tables(period: stats.Period, story_id: int | None = None, keys=None) -> dict[str, Table]:
    chosen = [key for key, spec in TABLES.items() if (story_id is None or spec[3]) and (keys is None or key in keys)]
    return {key: Table(key, TABLES[key][0], TABLES[key][1], TABLES[key][2](period, story_id)) for key in chosen}


def charts(found: dict[str, Table]) -> dict:
    """The per-day downloads and the weekly sign-ups as bar charts."""
    drawn = {}
    if "days" in found:
        drawn["days"] = bar_chart([(row[0].isoformat(), row[1]) for row in found["days"].rows])
    if "signups" in found:
        drawn["signups"] = bar_chart([(row[0].isoformat(), row[1]) for row in found["signups"].rows])
    return drawn


def story_block(story_id: int) -> dict:
    """What the staff story page shows of the story's downloads: the last 30 days."""
    period = stats.period({}, utcnow().date())
    found = tables(period, story_id)
    return {"period": period, "tables": found, "charts": charts(found), "totals": _totals(found), "story_id": story_id}


def _totals(found: dict[str, Table]) -> tuple[int, int]:
    """The period's downloads and bytes: the sum of its days (one query fewer than stats.totals)."""
    return sum(row[1] for row in found["days"].rows), sum(row[2] for row in found["days"].rows)


@bp.route("/stats")
def statistics():
    period = stats.period(request.args, utcnow().date())
    found = tables(period)
    return render_template(
        "staff/stats.html",
        period=period,
        tables=found,
        charts=charts(found),
        totals=_totals(found),
        presets=stats.PRESETS,
    )


@bp.route("/stats/<key>.csv")
def statistics_csv(key):
    asked = request.args.get("story", "")
    story_id = int(asked) if asked.isdecimal() and len(asked) < 12 else None
    if key not in TABLES or (story_id is not None and not TABLES[key][3]):
        abort(404)
    period = stats.period(request.args, utcnow().date())
    table = tables(period, story_id, keys={key})[key]
    output = io.StringIO()
    reports.write_csv(output, [str(title) for title, _ in table.columns], [_csv_row(table, row) for row in table.rows])
    name = f"{key}-{period.start.isoformat()}-{period.end.isoformat()}.csv"
    return (
        output.getvalue(),
        200,
        {"Content-Type": "text/csv; charset=utf-8", "Content-Disposition": f'attachment; filename="{name}"'},
    )


def _csv_row(table: Table, row: list) -> list:
    cells = []
    for (_, kind), value in zip(table.columns, row, strict=True):
        if kind == "story":
            value = value[1] or "(removed)"
        elif kind == "date":
            value = value.date().isoformat() if hasattr(value, "hour") else value.isoformat()
        cells.append(value if value != "" else "(none)")
    return cells
