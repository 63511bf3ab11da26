"""Which databases the tests run on: SQLite always, PostgreSQL when TEST_DATABASE_URL is set.
Imported by conftest.py first, so everything that reads TEST_DATABASE_URL reads this worker's."""

from __future__ import annotations

import os

import pytest


def _own_database(url: str | None) -> str | None:
    """With pytest-xdist each worker empties and rebuilds the schema test by test, so each gets a
    database of its own beside TEST_DATABASE_URL's (``<name>_gw0``, ...), created when missing."""
    worker = os.environ.get("PYTEST_XDIST_WORKER")
    if not url or not worker:
        return url
    from sqlalchemy import create_engine, make_url, text

    base = make_url(url)
    own = base.set(database=f"{base.database}_{worker}")
    engine = create_engine(base, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as connection:
            if (
                connection.scalar(text("SELECT 1 FROM pg_database WHERE datname = :name"), {"name": own.database})
                is None
            ):
                connection.exec_driver_sql(f'CREATE DATABASE "{own.database}"')
    finally:
        engine.dispose()
    return own.render_as_string(hide_password=False)


# Everything that reads TEST_DATABASE_URL (the fixtures, the scale-out cluster) reads this worker's.
if os.environ.get("TEST_DATABASE_URL"):
    os.environ["TEST_DATABASE_URL"] = _own_database(os.environ["TEST_DATABASE_URL"])
DATABASES = ["sqlite"] + (["postgresql"] if os.environ.get("TEST_DATABASE_URL") else [])
if os.environ.get("REQUIRE_POSTGRES") and "postgresql" not in DATABASES:
    raise pytest.UsageError("REQUIRE_POSTGRES is set but TEST_DATABASE_URL is not: PostgreSQL tests would not run")
