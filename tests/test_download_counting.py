"""One download is one person fetching one rendition: the requests of one account for one
rendition within DOWNLOAD_COUNT_WINDOW_HOURS of the first count once, their bytes added up."""

import csv
import io
import threading
from datetime import datetime, timedelta

import pytest

from app.extensions import db
from app.flows import downloads
from app.models import (
    Download,
    DownloadDay,
    DownloadOrganisationDay,
    DownloadOrganisationMonth,
    Rendition,
    User,
    utcnow,
)

from .helpers.catalogue_data import load, story_entry
from .helpers.portal import register_and_verify

SIZE = 300_000


@pytest.fixture
def renditions(app, tmp_path):
    load(
        app,
        tmp_path,
        [
            story_entry(
                "antalya",
                "Antalya",
                sizes=(
                    ("HD 1080p25", 1920, 1080, SIZE, False),
                    ("SD 576p25", 1024, 576, SIZE // 2, False),
                    ("Preview 360p", 640, 360, 4000, True),
                ),
            )
        ],
    )
    with app.app_context():
        return [r.id for r in db.session.query(Rendition).filter_by(is_preview=False).order_by(Rendition.id)]


@pytest.fixture
def verified(app, client):
    register_and_verify(client, app)
    return client


def logged(app):
    with app.app_context():
        return [
            (row.user_id, row.rendition_id, row.requests, row.bytes_sent)
            for row in db.session.query(Download).order_by(Download.id)
        ]


def test_a_resumed_download_counts_once_with_the_bytes_sent(verified, app, renditions):
    hd = renditions[0]
    assert verified.get(f"/download/{hd}", headers={"Range": "bytes=0-99999"}).status_code == 206
    assert verified.get(f"/download/{hd}", headers={"Range": "bytes=100000-"}).status_code == 206
    [(user, rendition, requests, sent)] = logged(app)
    assert (rendition, requests, sent) == (hd, 2, SIZE)


def test_the_export_has_one_row_per_download_with_its_requests_and_bytes(verified, app, renditions):
    hd = renditions[0]
    verified.get(f"/download/{hd}", headers={"Range": "bytes=0-99"})
    verified.get(f"/download/{hd}", headers={"Range": "bytes=100-"})
    rows = list(csv.reader(io.StringIO(app.test_cli_runner().invoke(args=["downloads", "export"]).output)))
    assert rows[0][6:] == ["bytes_sent", "range", "requests", "last_request_at_utc"]
    assert len(rows) == 2 and rows[1][6:9] == [str(SIZE), "bytes=0-99", "2"]
    assert rows[1][9] >= rows[1][0]


def test_two_renditions_are_two_downloads(verified, app, renditions):
    hd, sd = renditions
    verified.get(f"/download/{hd}")
    verified.get(f"/download/{sd}")
    verified.get(f"/download/{hd}", headers={"Range": "bytes=0-9"})
    assert [(r, n, sent) for _, r, n, sent in logged(app)] == [(hd, 2, SIZE + 10), (sd, 1, SIZE // 2)]


def test_two_accounts_are_two_downloads(app, renditions):
    hd = renditions[0]
    for address in ("ann@example.org", "bob@example.org"):
        client = app.test_client()
        register_and_verify(client, app, address)
        client.get(f"/download/{hd}")
    rows = logged(app)
    assert len(rows) == 2 and rows[0][0] != rows[1][0] and all(row[2:] == (1, SIZE) for row in rows)


def test_parallel_range_requests_count_once(verified, app, renditions):
    """A download manager fetches a file in parallel parts: one download, every part's bytes."""
    hd = renditions[0]
    parts = 6
    step = SIZE // parts
    barrier = threading.Barrier(parts)
    answers = []

    def fetch(index):
        client = app.test_client()
        client.set_cookie("session", verified.get_cookie("session").value)
        for cookie in ("remember_token",):
            if verified.get_cookie(cookie):
                client.set_cookie(cookie, verified.get_cookie(cookie).value)
        last = SIZE - 1 if index == parts - 1 else (index + 1) * step - 1
        barrier.wait()
        answers.append(client.get(f"/download/{hd}", headers={"Range": f"bytes={index * step}-{last}"}).status_code)

    threads = [threading.Thread(target=fetch, args=(i,)) for i in range(parts)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert answers == [206] * parts
    [(user, rendition, requests, sent)] = logged(app)
    assert (requests, sent) == (parts, SIZE)


def test_the_window_starts_at_the_first_request(app, renditions):
    hd = renditions[0]
    with app.app_context():
        user = User(
            email="cy@example.org",
            first_name="Cy",
            last_name="Ma",
            organisation="Org",
            password_hash="x",
            verified_at=utcnow(),
            conditions_accepted_at=utcnow(),
        )
        db.session.add(user)
        db.session.commit()
        rendition = db.session.get(Rendition, hd)
        start = utcnow()
        window = timedelta(hours=6)
        for minutes in (0, 60, 359):
            downloads.record(
                user, rendition, bytes_sent=10, range_header=None, window=window, now=start + timedelta(minutes=minutes)
            )
        downloads.record(
            user, rendition, bytes_sent=5, range_header=None, window=window, now=start + timedelta(minutes=361)
        )
    assert [row[2:] for row in logged(app)] == [(3, 30), (1, 5)]


@pytest.mark.parametrize("app_config", [{"DOWNLOAD_COUNT_WINDOW_HOURS": 0}])
def test_the_window_is_a_setting(verified, app, renditions, app_config):
    hd = renditions[0]
    verified.get(f"/download/{hd}")
    verified.get(f"/download/{hd}")
    assert [row[2:] for row in logged(app)] == [(1, SIZE), (1, SIZE)]


def test_the_migration_merges_the_old_log_by_the_same_rule(database_url, tmp_path):
    """Rows of the log from before (one per request) are merged as the app now counts: one account,
    one rendition, within 6 hours of the first request; a deleted account's rows stay apart."""
    from flask_migrate import upgrade
    from sqlalchemy import select

    from app import create_app
    from harness.servers import ROOT

    from .helpers.portal import _empty_database

    app = create_app(
        {"TESTING": True, "SECRET_KEY": "x", "INSTANCE_PATH": str(tmp_path), "SQLALCHEMY_DATABASE_URI": database_url}
    )
    t0 = "2026-01-01 08:00:00"
    old_rows = [  # user, rendition, at, bytes
        (1, 1, t0, 100),
        (1, 1, "2026-01-01 08:00:00", 200),
        (1, 1, "2026-01-01 13:59:59", 50),  # one download
        (1, 1, "2026-01-01 14:00:00", 7),  # 6 h after the first: a new one
        (1, 2, "2026-01-01 08:30:00", 1000),  # another rendition
        (2, 1, "2026-01-01 08:10:00", 30),
        (2, 1, "2026-01-01 09:10:00", 40),  # another account
        (None, 1, t0, 5),
        (None, 1, t0, 6),  # deleted accounts: no telling them apart
    ]
    with app.app_context():
        _empty_database()
        upgrade(directory=str(ROOT / "migrations"), revision="5c8e2f4a9d17")
        with db.engine.begin() as connection:
            for id_ in (1, 2):
                insert_row(connection, "users", id=id_, email=f"{id_}@example.org")
            insert_row(connection, "stories", id=1, slug="s")
            insert_row(connection, "videos", id=1, story_id=1)
            for id_, label in ((1, "HD"), (2, "SD")):
                insert_row(connection, "renditions", id=id_, video_id=1, label=label)
            for user, rendition, at, sent in old_rows:
                insert_row(
                    connection,
                    "downloads",
                    user_id=user,
                    rendition_id=rendition,
                    at=datetime.fromisoformat(at),
                    bytes_sent=sent,
                    range_requested=None,
                )
        upgrade(directory=str(ROOT / "migrations"), revision="8c4d1f6a2e93")
        with db.engine.connect() as connection:
            rows = connection.execute(
                select(
                    Download.user_id,
                    Download.rendition_id,
                    Download.at,
                    Download.last_at,
                    Download.requests,
                    Download.bytes_sent,
                )
            ).all()
        rows.sort(key=lambda row: (row[0] is None, row[0] or 0, row[1], row[2], row[5]))
        day = datetime(2026, 1, 1)
        assert [tuple(row) for row in rows] == [
            (1, 1, day.replace(hour=8), day.replace(hour=13, minute=59, second=59), 3, 350),
            (1, 1, day.replace(hour=14), day.replace(hour=14), 1, 7),
            (1, 2, day.replace(hour=8, minute=30), day.replace(hour=8, minute=30), 1, 1000),
            (2, 1, day.replace(hour=8, minute=10), day.replace(hour=9, minute=10), 2, 70),
            (None, 1, day.replace(hour=8), day.replace(hour=8), 1, 5),
            (None, 1, day.replace(hour=8), day.replace(hour=8), 1, 6),
        ]
        with db.engine.connect() as connection:
            days = connection.execute(
                select(DownloadDay.day, DownloadDay.label, DownloadDay.downloads, DownloadDay.bytes_sent)
            ).all()
            organisations = connection.execute(
                select(
                    DownloadOrganisationDay.organisation,
                    DownloadOrganisationDay.downloads,
                    DownloadOrganisationDay.bytes_sent,
                )
            ).all()
            kept = set(connection.execute(select(Download.organisation)).scalars())
        assert sorted(tuple(row) for row in days) == [
            (day.date(), "HD", 5, 350 + 7 + 70 + 11),
            (day.date(), "SD", 1, 1000),
        ]
        # the accounts' organisation is "o"; a deleted account's is not known
        assert sorted(tuple(row) for row in organisations) == [("", 2, 11), ("o", 4, 1427)] and kept == {"", "o"}
        # the next revision sums them by month (app/flows/stats.py reads whole months there)
        with db.engine.begin() as connection:
            insert_row(
                connection,
                "download_organisation_days",
                day=datetime(2026, 1, 31).date(),
                organisation="o",
                downloads=3,
                bytes_sent=30,
            )
            insert_row(
                connection,
                "download_organisation_days",
                day=datetime(2026, 2, 1).date(),
                organisation="o",
                downloads=1,
                bytes_sent=5,
            )
        upgrade(directory=str(ROOT / "migrations"), revision="3b7e9d2c4a10")
        with db.engine.connect() as connection:
            months = connection.execute(
                select(
                    DownloadOrganisationMonth.month,
                    DownloadOrganisationMonth.organisation,
                    DownloadOrganisationMonth.downloads,
                    DownloadOrganisationMonth.bytes_sent,
                )
            ).all()
        january, february = datetime(2026, 1, 1).date(), datetime(2026, 2, 1).date()
        assert sorted(tuple(row) for row in months) == [
            (january, "", 2, 11),
            (january, "o", 7, 1457),
            (february, "o", 1, 5),
        ]
        db.engine.dispose()


def insert_row(connection, table_name: str, **values) -> None:
    """A row of a table as an earlier revision made it: every required column not given gets a value of its type."""
    from sqlalchemy import MetaData, Table

    table = Table(table_name, MetaData(), autoload_with=connection)
    row = dict(values)
    for column in table.columns:
        if column.name in row or column.nullable or column.server_default is not None or column.primary_key:
            continue
        python_type = column.type.python_type
        row[column.name] = {str: column.name[:1], int: 0, bool: False, float: 0.0, datetime: datetime(2026, 1, 1)}.get(
            python_type, None
        )
    connection.execute(table.insert().values(**row))
