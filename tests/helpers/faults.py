"""Helpers of the fault tests (issue #7): the mail worker as a real process, registrations in
parallel, waiting for the database to reach a state."""

from __future__ import annotations

import subprocess
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from sqlalchemy import func, select

from app.extensions import db
from app.models import OutboxMessage
from harness.servers import BIN, ROOT, app_env

from .portal import post, registration


def process_env(database_url: str, **settings) -> dict[str, str]:
    """The environment of an app process (gunicorn, ``flask``) on the tests' database."""
    # app_env's own SQLite path is replaced by the URL given
    return app_env(Path("unused.db"), SQLALCHEMY_DATABASE_URI=database_url, BCRYPT_ROUNDS=4, **settings)


def outbox_send(env: dict[str, str], *args: str, timeout: float = 60) -> subprocess.CompletedProcess:
    """One run of ``flask --app wsgi outbox send`` as its own process."""
    return subprocess.run(
        [str(BIN / "flask"), "--app", "wsgi", "outbox", "send", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def wait_until(condition, timeout: float, what: str, interval: float = 0.05):
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {timeout}s: {what}")
        time.sleep(interval)


def register_concurrently(app, addresses: list[str], threads: int = 4) -> list[int]:
    """Each address registers from its own browser, ``threads`` at a time; the response statuses."""

    def register(address: str) -> int:
        return post(app.test_client(), "/account/register", registration(address)).status_code

    with ThreadPoolExecutor(threads) as pool:
        return list(pool.map(register, addresses))


def unsent_count(app) -> int:
    with app.app_context():
        count = db.session.scalar(
            select(func.count()).select_from(OutboxMessage).where(OutboxMessage.sent_at.is_(None))
        )
        db.session.remove()
        return count
