"""Part "stats": the statistics page over a big download log.

A database gets 200 stories (3 renditions each), 10,000 accounts in 300 organisations and
1,000,000 downloads spread over 400 days, with the roll-ups the app keeps with each download
(app/flows/stats.py: by day, story and label; by day and by month and organisation), written here
in one pass as the app would have. Then the
staff pages are asked for in-process (Flask test client, a staff session): the statistics page for
30, 90 and 365 days, a CSV, and a story's staff page with its figures. For comparison, the plain
per-day GROUP BY over the whole log (what the page would cost without the roll-up) is timed too.

Goal: the statistics page answers in ≤ 200 ms (median) on each database.
"""

from __future__ import annotations

import random
import statistics
import time
from datetime import date, datetime, timedelta

from harness.servers import app_config

GOAL_MS = 200.0
STORIES, LABELS, USERS, ORGANISATIONS, DAYS = 200, ("HD 1080p25", "SD 576p25", "Audio"), 10_000, 300, 400
CHUNK = 50_000


def build(database_url: str, rows: int, progress=print, create: bool = False) -> dict:
    """Stories, renditions, accounts, the log and its roll-up, written with core inserts."""
    from sqlalchemy import insert

    from app import create_app
    from app.extensions import db
    from app.models import (
        Download,
        DownloadDay,
        DownloadOrganisationDay,
        DownloadOrganisationMonth,
        Rendition,
        Story,
        User,
        Video,
    )

    app = create_app(app_config(database_url))
    started = time.perf_counter()
    rng = random.Random(17)
    today = datetime.utcnow().replace(hour=0, minute=0, second=0, microsecond=0)
    with app.app_context():
        if create:
            db.create_all()
        with db.engine.begin() as connection:
            connection.execute(
                insert(Story),
                [
                    {
                        "id": n,
                        "slug": f"story-{n}",
                        "title": f"Story {n}",
                        "published_at": today - timedelta(days=2 * n),
                        "search_key": n,
                    }
                    for n in range(1, STORIES + 1)
                ],
            )
            connection.execute(insert(Video), [{"id": n, "story_id": n} for n in range(1, STORIES + 1)])
            connection.execute(
                insert(Rendition),
                [
                    {
                        "id": (n - 1) * len(LABELS) + i + 1,
                        "video_id": n,
                        "label": label,
                        "container": "mp4",
                        "codec": "h264",
                        "width": 1920,
                        "height": 1080,
                        "bytes": 10**9,
                        "filename": f"s{n}/{i}.mp4",
                    }
                    for n in range(1, STORIES + 1)
                    for i, label in enumerate(LABELS)
                ],
            )
            connection.execute(
                insert(User),
                [
                    {
                        "id": n,
                        "email": f"user{n}@example.org",
                        "password_hash": "x",
                        "first_name": "A",
                        "last_name": "B",
                        "organisation": f"Organisation {n % ORGANISATIONS}",
                        "conditions_accepted_at": today,
                        "created_at": today - timedelta(days=n % DAYS),
                        "verified_at": today - timedelta(days=n % DAYS),
                        "newsletter_opt_in_at": today - timedelta(days=n % DAYS) if n % 3 == 0 else None,
                    }
                    for n in range(1, USERS + 1)
                ],
            )
        days: dict[tuple, list[int]] = {}
        organisations: dict[tuple, list[int]] = {}
        written = 0
        while written < rows:
            batch = []
            for _ in range(min(CHUNK, rows - written)):
                user = rng.randint(1, USERS)
                story = min(int(rng.paretovariate(1.2)), STORIES)  # a few stories get most downloads
                label_index = rng.randrange(len(LABELS))
                at = today - timedelta(seconds=rng.randrange(DAYS * 86400))
                sent = rng.randrange(10**6, 10**9)
                organisation = f"Organisation {user % ORGANISATIONS}"
                batch.append(
                    {
                        "user_id": user,
                        "rendition_id": (story - 1) * len(LABELS) + label_index + 1,
                        "at": at,
                        "last_at": at,
                        "requests": 1,
                        "bytes_sent": sent,
                        "organisation": organisation,
                    }
                )
                for table, key in (
                    (days, (at.date(), story, LABELS[label_index])),
                    (organisations, (at.date(), organisation)),
                ):
                    counts = table.setdefault(key, [0, 0])
                    counts[0] += 1
                    counts[1] += sent
            with db.engine.begin() as connection:
                connection.execute(insert(Download), batch)
            written += len(batch)
            progress(f"stats: {written:,}/{rows:,} downloads written ({time.perf_counter() - started:.0f} s)")
        with db.engine.begin() as connection:
            roll_up = [
                {"day": day, "story_id": story, "label": label, "downloads": n, "bytes_sent": sent}
                for (day, story, label), (n, sent) in days.items()
            ]
            by_organisation = [
                {"day": day, "organisation": organisation, "downloads": n, "bytes_sent": sent}
                for (day, organisation), (n, sent) in organisations.items()
            ]
            months: dict[tuple, list[int]] = {}
            for (day, organisation), (n, sent) in organisations.items():
                counts = months.setdefault((day.replace(day=1), organisation), [0, 0])
                counts[0] += n
                counts[1] += sent
            by_month = [
                {"month": month, "organisation": organisation, "downloads": n, "bytes_sent": sent}
                for (month, organisation), (n, sent) in months.items()
            ]
            for table, values in (
                (DownloadDay, roll_up),
                (DownloadOrganisationDay, by_organisation),
                (DownloadOrganisationMonth, by_month),
            ):
                for start in range(0, len(values), CHUNK):
                    connection.execute(insert(table), values[start : start + CHUNK])
            connection.exec_driver_sql("ANALYZE")
        db.session.remove()
        db.engine.dispose()
    return {
        "downloads": rows,
        "roll_up_rows": len(days) + len(organisations) + len(months),
        "build_seconds": round(time.perf_counter() - started, 1),
    }


def measure(database_url: str, rounds: int = 10) -> dict:
    """Median and p95 of the staff pages, in-process, logged in as a staff account."""
    import pyotp
    from sqlalchemy import func, select

    from app import create_app
    from app.extensions import db
    from app.flows import login_sessions, stats
    from app.models import Download, TotpFactor, User, utcnow

    app = create_app(app_config(database_url, DOWNLOAD_COUNT_WINDOW_HOURS=6))
    out = {}
    with app.app_context():
        user = db.session.get(User, 1)
        user.is_staff = True
        # staff pages ask for a second factor set up (STAFF_REQUIRE_SECOND_FACTOR): measured with its check
        db.session.add(TotpFactor(user_id=user.id, secret=pyotp.random_base32(), confirmed_at=utcnow()))
        db.session.commit()
        client = app.test_client()
        with client.session_transaction() as session:
            login_sessions.start(user)
            session["_user_id"] = user.get_id()
            session["_fresh"] = True
        db.session.commit()
        pages = {
            "stats 30 days": "/staff/stats?days=30",
            "stats 90 days": "/staff/stats?days=90",
            "stats 365 days": "/staff/stats?days=365",
            "stats any range (400 days)": f"/staff/stats?from={date.today() - timedelta(days=399)}&to={date.today()}",
            "CSV per organisation, 365 days": "/staff/stats/organisations.csv?days=365",
            "staff story page (story 1)": "/staff/stories/1",
        }
        for name, url in pages.items():
            timings = []
            for _ in range(rounds + 1):
                started = time.perf_counter()
                response = client.get(url)
                timings.append((time.perf_counter() - started) * 1000)
                if response.status_code != 200:
                    raise RuntimeError(f"{url}: {response.status_code}")
            timings = sorted(timings[1:])  # the first warms the caches
            out[name] = {
                "median_ms": round(statistics.median(timings), 1),
                "p95_ms": round(timings[max(0, int(len(timings) * 0.95) - 1)], 1),
            }
        day = func.date(Download.at)
        started = time.perf_counter()
        db.session.execute(select(day, func.count(), func.sum(Download.bytes_sent)).group_by(day)).all()
        out["plain GROUP BY per day over the log (no roll-up)"] = {
            "median_ms": round((time.perf_counter() - started) * 1000, 1),
            "p95_ms": None,
        }
        period = stats.period({"days": "365"}, date.today())
        out["check: roll-up total = log total (365 days)"] = stats.totals(period)[0] == db.session.scalar(
            select(func.count())
            .select_from(Download)
            .where(Download.at >= datetime.combine(period.start, datetime.min.time()))
        )
        db.session.remove()
        db.engine.dispose()
    out["pass"] = all(
        value["median_ms"] <= GOAL_MS
        for name, value in out.items()
        if isinstance(value, dict) and name.startswith("stats ")
    )
    return out
