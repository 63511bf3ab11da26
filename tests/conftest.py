"""Fixtures: the app on SQLite and (with TEST_DATABASE_URL) PostgreSQL, a real SMTP server,
and a live portal served over HTTP for the browser tests. pytest-flask provides ``client``,
``live_server`` and the test request context around each test from the ``app`` defined here."""

from __future__ import annotations

import os

import pytest

from app.extensions import db
from harness.mailbox import SmtpServer

from .helpers.databases import DATABASES
from .helpers.portal import MAILBOX, LivePortal, build_app, dispose


def pytest_sessionstart(session):
    """Tests read the French catalogue as it is in the .po file, never a stale .mo. Written once,
    by the process that starts the run (with pytest-xdist, before its workers start)."""
    if os.environ.get("PYTEST_XDIST_WORKER"):
        return
    from pathlib import Path

    from babel.messages.mofile import write_mo
    from babel.messages.pofile import read_po

    for po in Path(__file__).resolve().parents[1].glob("app/translations/*/LC_MESSAGES/messages.po"):
        with po.open("rb") as source:
            catalog = read_po(source)
        with po.with_suffix(".mo").open("wb") as target:
            write_mo(target, catalog, use_fuzzy=False)


@pytest.fixture(params=DATABASES)
def database_url(request, tmp_path):
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'portal.db'}"
    return os.environ["TEST_DATABASE_URL"]


@pytest.fixture
def app_config():
    """Tests override settings by overriding this fixture or parametrising it."""
    return {}


@pytest.fixture
def app(request, database_url, app_config, tmp_path):
    """The app under test, on a fresh database. When the test also asks for pytest-flask's
    ``live_server``, the app is served by it, in a process of its own (forked): it mails through
    the test's real SMTP server as soon as a mail is queued, and is named localhost (WebAuthn needs
    a name, never an address)."""
    live = {}
    if "live_server" in request.fixturenames:
        smtp = request.getfixturevalue("smtp")
        live = {
            "MAIL_SERVER": "127.0.0.1",
            "MAIL_PORT": smtp.port,
            "MAIL_DISPATCH": "thread",
            "SERVER_NAME": "localhost",  # live_server adds its port
            # what the test changes through its own app (another process) shows at the next request
            "CATALOGUE_VERSION_RECHECK_SECONDS": 0,
        }
    app = build_app(database_url, tmp_path / "instance", **{**live, **app_config})
    if live:
        app.extensions[MAILBOX] = smtp.mailbox
        with app.app_context():
            db.engine.dispose()  # the forked server must not share this process's pooled connections
    yield app
    dispose(app)


@pytest.fixture
def staff(app):
    """A logged-in staff browser (second factor set up) and its CSRF token."""
    from .helpers.uploads_helpers import staff_browser

    return staff_browser(app)


@pytest.fixture
def story(app, tmp_path):
    """The id of one imported story."""
    from .helpers.uploads_helpers import story_id

    return story_id(app, tmp_path)


@pytest.fixture
def smtp():
    with SmtpServer() as server:
        yield server


@pytest.fixture
def live_portal(live_server, app, smtp):
    """The portal served over real HTTP by pytest-flask's ``live_server``, mailing through the
    real SMTP server."""
    return LivePortal(app, live_server.url(), smtp.mailbox)
