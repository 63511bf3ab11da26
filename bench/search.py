"""5. Search latency over 100,000 stories: the app's full-text search vs LIKE '%word%'.

In-process, inside an app context: ``catalogue.find_stories(parse_query({"q": ...}), 24)`` is
what the catalogue page runs for a search box, including the selectin loads of the 24 stories'
categories, videos and renditions. The baseline runs the same ``select(Story)`` (so the same
loads) with ``LIKE '%word%'`` on title, summary and body for every word, newest first. Each call
gets a fresh session, as a request would. Every query runs once untimed, then ``rounds`` timed
times; a query's latency is the median of its rounds, and the set's median and p95 are taken
over the queries.

On PostgreSQL (only with TEST_DATABASE_URL) the same happens in a database created for the run
and dropped after it; the baseline uses ILIKE there (PostgreSQL's LIKE is case-sensitive).
"""

from __future__ import annotations

import math
import secrets
import statistics
import time
from datetime import datetime
from pathlib import Path

from harness.servers import app_config, fresh_database

from .corpus import check_index_matches_app, index_all, load_stories

NEWEST = datetime(2025, 6, 1, 12, 0)
PER_PAGE = 24

# (kind, text typed in the search box): about 50 queries.
QUERIES = [
    *[
        ("common", q)
        for q in ("nato", "allies", "defence", "minister", "summit", "security", "secretary", "exercise", "support")
    ],
    *[
        ("medium", q)
        for q in (
            "baltic",
            "submarine",
            "cyber",
            "ukraine",
            "helicopter",
            "arctic",
            "brussels",
            "paratroopers",
            "icebreaker",
        )
    ],
    *[
        ("rare", q)
        for q in (
            "kirkenes",
            "svalbard",
            "narva",
            "hydrographic",
            "bathymetry",
            "ornithologist",
            "glockenspiel",
            "sonobuoy",
            "falconry",
            "zeppelin",
            "xylophone",
        )
    ],
    *[
        ("two words", q)
        for q in (
            "baltic sea",
            "air policing",
            "secretary general",
            "defence ministers",
            "press conference",
            "cyber defence",
            "maritime patrol",
            "lighthouse nato",
            "fighter jets",
            "svalbard icebreaker",
        )
    ],
    # As typed: htmx sends the box after a 300 ms pause, so partial words reach the server.
    *[
        ("prefix", q)
        for q in (
            "m",
            "mi",
            "min",
            "minis",
            "minist",
            "ba",
            "bal",
            "balt",
            "sub",
            "subm",
            "def",
            "secretary ge",
            "air pol",
        )
    ],
]


def build_sqlite(template: Path, path: Path, count: int, progress=print) -> dict:
    from app import create_app
    from app.extensions import db

    fresh_database(template, path)
    started = time.perf_counter()
    app = create_app(app_config(f"sqlite:///{path}"))
    with app.app_context():
        with db.engine.begin() as connection:
            load_stories(connection, count, newest=NEWEST, progress=_every(progress, count, "SQLite"))
            indexed = time.perf_counter()
            index_all(connection)
        index_seconds = time.perf_counter() - indexed
        check_index_matches_app(db.session, 1)
        db.session.remove()
        db.engine.dispose()
    return {
        "stories": count,
        "build_seconds": round(time.perf_counter() - started, 1),
        "index_seconds": round(index_seconds, 1),
        "database_mb": round(path.stat().st_size / 1e6, 1),
    }


def _every(progress, count: int, label: str):
    return lambda n: progress(f"5/7 {label}: {n:,}/{count:,} stories written") if n % 25_000 == 0 else None


def like_statement(words: list[str], dialect: str):
    from sqlalchemy import and_, or_, select

    from app.models import Story

    def contains(column, word):
        pattern = f"%{word}%"
        return column.ilike(pattern) if dialect == "postgresql" else column.like(pattern)

    where = and_(*[or_(*(contains(c, w) for c in (Story.title, Story.summary, Story.body))) for w in words])
    return select(Story).where(where).order_by(Story.published_at.desc(), Story.id.desc()).limit(PER_PAGE + 1)


def percentile(values: list[float], p: float) -> float:
    """Nearest rank."""
    ordered = sorted(values)
    return ordered[max(math.ceil(p / 100 * len(ordered)) - 1, 0)]


def measure(database_uri: str, rounds: int, budget_seconds: float = 30.0, progress=print, label: str = "") -> dict:
    """Every query with the app's search and with the LIKE baseline: once untimed, then ``rounds``
    times each, alternating (stops early, after at least one round, when the budget is spent)."""
    from app import create_app
    from app.extensions import db
    from app.flows.catalogue import find_stories, parse_query

    app = create_app(app_config(database_uri))
    samples = {q: {"fts": [], "like": []} for _, q in QUERIES}
    found = {}
    with app.app_context():
        dialect = db.engine.dialect.name

        def run_fts(q: str) -> tuple[float, int]:
            started = time.perf_counter()
            page = find_stories(parse_query({"q": q}), PER_PAGE)
            elapsed = time.perf_counter() - started
            db.session.remove()
            return elapsed, len(page.stories)

        def run_like(q: str) -> tuple[float, int]:
            started = time.perf_counter()
            stories = list(db.session.execute(like_statement(parse_query({"q": q}).words, dialect)).scalars())[
                :PER_PAGE
            ]
            elapsed = time.perf_counter() - started
            db.session.remove()
            return elapsed, len(stories)

        try:
            for _, q in QUERIES:  # untimed: fills caches, and what each one finds
                found[q] = {"fts": run_fts(q)[1], "like": run_like(q)[1]}
            started, done = time.perf_counter(), 0
            for r in range(rounds):
                if r and time.perf_counter() - started > budget_seconds:
                    break
                progress(f"5/7 {label}round {r + 1}/{rounds} of {len(QUERIES)} queries, app search and LIKE")
                for _, q in QUERIES:
                    samples[q]["fts"].append(run_fts(q)[0])
                    samples[q]["like"].append(run_like(q)[0])
                done += 1
        finally:
            db.session.remove()
            db.engine.dispose()
    per_query = [
        {
            "kind": kind,
            "query": q,
            "fts_ms": round(statistics.median(samples[q]["fts"]) * 1000, 2),
            "like_ms": round(statistics.median(samples[q]["like"]) * 1000, 2),
            "fts_results": found[q]["fts"],
            "like_results": found[q]["like"],
        }
        for kind, q in QUERIES
    ]
    return {"dialect": dialect, "rounds": done, "queries": len(QUERIES), **summary(per_query), "per_query": per_query}


def summary(per_query: list[dict]) -> dict:
    fts, like = [r["fts_ms"] for r in per_query], [r["like_ms"] for r in per_query]
    out = {
        "fts_median_ms": round(statistics.median(fts), 2),
        "fts_p95_ms": round(percentile(fts, 95), 2),
        "like_median_ms": round(statistics.median(like), 2),
        "like_p95_ms": round(percentile(like, 95), 2),
        "fts_max_ms": max(fts),
        "fts_slowest": max(per_query, key=lambda r: r["fts_ms"])["query"],
        "by_kind": {},
    }
    out["speedup_median"] = round(out["like_median_ms"] / out["fts_median_ms"], 2) if out["fts_median_ms"] else None
    out["speedup_p95"] = round(out["like_p95_ms"] / out["fts_p95_ms"], 2) if out["fts_p95_ms"] else None
    for kind in dict.fromkeys(r["kind"] for r in per_query):
        rows = [r for r in per_query if r["kind"] == kind]
        out["by_kind"][kind] = {
            "queries": len(rows),
            "fts_median_ms": round(statistics.median(r["fts_ms"] for r in rows), 2),
            "fts_max_ms": max(r["fts_ms"] for r in rows),
            "like_median_ms": round(statistics.median(r["like_ms"] for r in rows), 2),
            "like_max_ms": max(r["like_ms"] for r in rows),
        }
    return out


# --- PostgreSQL (optional) ---------------------------------------------------------------------


class PostgresDatabase:
    """``CREATE DATABASE bench_search_<hex>`` next to TEST_DATABASE_URL's, dropped again on exit."""

    def __init__(self, base_url: str):
        from sqlalchemy.engine import make_url

        self.base = make_url(
            base_url.replace("postgresql://", "postgresql+psycopg://", 1)
            if base_url.startswith("postgresql://")
            else base_url
        )
        self.name = f"bench_search_{secrets.token_hex(4)}"
        self.url = self.base.set(database=self.name).render_as_string(hide_password=False)
        self.created = False

    def _admin(self):
        import psycopg

        url = self.base.set(drivername="postgresql").render_as_string(hide_password=False)
        return psycopg.connect(url, autocommit=True, connect_timeout=10)

    def __enter__(self) -> PostgresDatabase:
        with self._admin() as connection:
            connection.execute(f'CREATE DATABASE "{self.name}"')
        self.created = True
        return self

    def __exit__(self, *exc) -> None:
        if self.created:
            with self._admin() as connection:
                connection.execute(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)')
            self.created = False


def build_postgres(database_url: str, count: int, budget_seconds: float, progress=print) -> dict:
    """The schema (models + app.search.create_schema), then stories in chunks of 10,000, each
    indexed with the app's tsvector expression; stops early when the budget is spent."""
    from app import create_app, search
    from app.extensions import db

    app = create_app(app_config(database_url))
    started, built, chunk = time.perf_counter(), 0, 10_000
    with app.app_context():
        db.create_all()
        with db.engine.begin() as connection:
            search.create_schema(connection)
        while built < count:
            n = min(chunk, count - built)
            with db.engine.begin() as connection:
                load_stories(connection, n, newest=NEWEST, first_id=built + 1, total=count)
                index_all(connection, built + 1, built + n)
            built += n
            elapsed = time.perf_counter() - started
            progress(f"5/7 PostgreSQL: {built:,}/{count:,} stories written and indexed ({elapsed:.0f} s)")
            if built < count and elapsed / built * min(chunk, count - built) + elapsed > budget_seconds:
                progress(f"5/7 PostgreSQL: stopping at {built:,} stories (build budget {budget_seconds:g} s)")
                break
        with db.engine.begin() as connection:
            connection.exec_driver_sql("ANALYZE")
        check_index_matches_app(db.session, 1)
        db.session.remove()
        db.engine.dispose()
    return {"stories": built, "requested": count, "build_seconds": round(time.perf_counter() - started, 1)}
