"""Reports for the press office."""

import csv
from collections.abc import Iterable, Iterator
from itertools import chain
from typing import IO

from sqlalchemy import select

from ..extensions import db
from ..models import Download, Rendition, Story, User, Video

# A spreadsheet runs a cell that begins with one of these as a formula (CSV injection, OWASP).
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def spreadsheet_safe(value: object) -> object:
    """Text that a spreadsheet would run as a formula, with a leading ' so that it shows as text."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def write_csv(output: IO[str], header: list[str], rows: Iterable[Iterable[object]]) -> None:
    """Every CSV the app writes goes through here, so no cell of it is a formula."""
    writer = csv.writer(output)
    for row in chain([header], rows):
        writer.writerow([spreadsheet_safe(value) for value in row])


# One row per download (app/flows/downloads.py: one account fetching one rendition, its requests
# within DOWNLOAD_COUNT_WINDOW_HOURS); bytes_sent adds up its requests' answers, "range" is its first
# request's Range header.
DOWNLOAD_COLUMNS = [
    "downloaded_at_utc",
    "email",
    "name",
    "organisation",
    "story",
    "rendition",
    "bytes_sent",
    "range",
    "requests",
    "last_request_at_utc",
]


def download_rows(batch: int = 1000) -> Iterator[list[object]]:
    """Every download, oldest first, streamed in batches (no whole log in memory)."""
    statement = (
        select(
            Download.at,
            User.email,
            User.first_name,
            User.last_name,
            User.organisation,
            Story.title,
            Rendition.label,
            Download.bytes_sent,
            Download.range_requested,
            Download.requests,
            Download.last_at,
        )
        .outerjoin(User, User.id == Download.user_id)
        .outerjoin(Rendition, Rendition.id == Download.rendition_id)
        .outerjoin(Video, Video.id == Rendition.video_id)
        .outerjoin(Story, Story.id == Video.story_id)
        .order_by(Download.at, Download.id)
        .execution_options(yield_per=batch)
    )
    for at, email, first, last, organisation, title, label, sent, range_, requests, last_at in db.session.execute(
        statement
    ):
        name = f"{first} {last}" if email else ""
        yield [
            at.isoformat(timespec="seconds"),
            email or "(deleted account)",
            name,
            organisation or "",
            title or "(removed)",
            label or "(removed)",
            sent,
            range_ or "",
            requests,
            last_at.isoformat(timespec="seconds"),
        ]
