"""Proof under attack (issue #7): 200 browsers register, verify and download for a minute under
``gunicorn -w 4``, on SQLite and on PostgreSQL, without a 5xx, a timeout, a "database is locked"
or a lost mail.

``harness/load.py`` drives the load (bench/README.md, part 8); ``LOAD_SECONDS`` sets its length
(60 by default). The report is printed (``pytest -s``) and written to test-artifacts/load-<db>.json.
"""

import os
from pathlib import Path

import pytest

from harness import load

LOAD_SECONDS = float(os.environ.get("LOAD_SECONDS", load.SECONDS))


@pytest.mark.slow
@pytest.mark.smtp
def test_200_browsers_register_verify_and_download_without_a_fault(database_url, tmp_path, request):
    label = "sqlite" if database_url.startswith("sqlite") else "postgresql"
    try:
        report = load.run(database_url, tmp_path / "load", seconds=LOAD_SECONDS, label=label)
    finally:
        if label == "postgresql":  # leave the shared test database empty, as the fixtures expect
            load.wipe_postgres(database_url)
    load.write_json(report, Path(request.config.rootpath) / "test-artifacts" / f"load-{label}.json")
    table = "\n".join(load.render(report))
    print("\n" + table)
    faults = load.faults(report)
    assert not faults, "\n".join(faults) + "\n" + table
    assert report["seconds"] == LOAD_SECONDS and report["clients"] == 200 and report["workers"] == 4


def test_sqlite_connections_wait_for_the_write_lock_and_commit_without_an_fsync(tmp_path):
    from sqlalchemy import text

    from app import create_app
    from app.extensions import db

    app = create_app(
        {
            "TESTING": True,
            "SECRET_KEY": "x",
            "INSTANCE_PATH": str(tmp_path),
            "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'p.db'}",
            "SQLITE_BUSY_TIMEOUT_MS": 4321,
        }
    )
    with app.app_context():
        pragmas = {
            name: db.session.execute(text(f"PRAGMA {name}")).scalar()
            for name in ("journal_mode", "busy_timeout", "synchronous", "foreign_keys")
        }
        db.engine.dispose()
    assert pragmas == {"journal_mode": "wal", "busy_timeout": 4321, "synchronous": 1, "foreign_keys": 1}
