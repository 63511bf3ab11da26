"""Fixtures: the app on SQLite and (with TEST_DATABASE_URL) PostgreSQL, a real SMTP server,
and a live portal served over HTTP for the browser tests."""

from __future__ import annotations

import os
import threading

import pytest
from werkzeug.serving import make_server

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
def app(database_url, app_config, tmp_path):
    app = build_app(database_url, tmp_path / "instance", **app_config)
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
def live_portal(database_url, smtp, app_config, tmp_path):
    """The portal served over real HTTP, mailing through the real SMTP server."""
    app = build_app(
        database_url,
        tmp_path / "instance",
        MAIL_SERVER="127.0.0.1",
        MAIL_PORT=smtp.port,
        MAIL_DISPATCH="thread",
        **app_config,
    )
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        app.extensions[MAILBOX] = smtp.mailbox
        yield LivePortal(app, f"http://127.0.0.1:{server.server_port}", smtp.mailbox)
    finally:
        server.shutdown()
        thread.join(5)
        dispose(app)
