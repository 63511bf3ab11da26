"""Fixtures: the app on SQLite and (with TEST_DATABASE_URL) PostgreSQL, a real SMTP server,
and a live portal served over HTTP for the browser tests."""
from __future__ import annotations

import os
import re
import threading

import pytest
from werkzeug.serving import make_server

from app import create_app, search
from app.extensions import db, limiter
from app.models import OutboxMessage

from .mailbox import SmtpServer

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
            if connection.scalar(text("SELECT 1 FROM pg_database WHERE datname = :name"), {"name": own.database}) is None:
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

BASE_CONFIG = {
    "TESTING": True,
    "SECRET_KEY": "test-secret-key",
    "BCRYPT_ROUNDS": 4,
    "MAIL_DISPATCH": "worker",
    "RATELIMIT_STORAGE_URI": "memory://",
    "LOG_LEVEL": "WARNING",
}


# pytest-flask's own request context and its ``with app.test_client()`` client keep contexts
# open between requests; every later request then reuses that app context and its ``g``, so
# two "browsers" in one test would share Flask-WTF's cached CSRF token and Flask-Login's user.
# Here each request gets its own context, as in production.
@pytest.fixture(autouse=True)
def _push_request_context():
    yield


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture(params=DATABASES)
def database_url(request, tmp_path):
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'portal.db'}"
    return os.environ["TEST_DATABASE_URL"]


def build_app(database_url: str, instance_path, **overrides):
    app = create_app({**BASE_CONFIG, "SQLALCHEMY_DATABASE_URI": database_url, "INSTANCE_PATH": str(instance_path),
                      **overrides})
    with app.app_context():
        with db.engine.begin() as connection:
            search.drop_schema(connection)
        db.drop_all()
        db.create_all()
        with db.engine.begin() as connection:
            search.create_schema(connection)
    limiter.reset()
    return app


def dispose(app) -> None:
    dispatcher = app.extensions.get("outbox_dispatcher")
    if dispatcher is not None:
        dispatcher.wait_idle()
    with app.app_context():
        db.session.remove()
        with db.engine.begin() as connection:
            search.drop_schema(connection)
        db.drop_all()
        db.engine.dispose()


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
    from .uploads_helpers import staff_browser

    return staff_browser(app)


@pytest.fixture
def story(app, tmp_path):
    """The id of one imported story."""
    from .uploads_helpers import story_id

    return story_id(app, tmp_path)


@pytest.fixture
def smtp():
    with SmtpServer() as server:
        yield server


@pytest.fixture
def live_portal(database_url, smtp, app_config, tmp_path):
    """The portal served over real HTTP, mailing through the real SMTP server."""
    app = build_app(database_url, tmp_path / "instance", MAIL_SERVER="127.0.0.1", MAIL_PORT=smtp.port, MAIL_DISPATCH="thread",
                    **app_config)
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield LivePortal(app, f"http://127.0.0.1:{server.server_port}", smtp.mailbox)
    finally:
        server.shutdown()
        thread.join(5)
        dispose(app)


class LivePortal:
    def __init__(self, app, url, mailbox):
        self.app, self.url, self.mailbox = app, url, mailbox


# --- helpers for route tests -------------------------------------------------------------

CSRF_RE = re.compile(r'"X-CSRFToken": "([^"]+)"')
HTMX = {"HX-Request": "true", "HX-Target": "account-step"}


def csrf_token(client) -> str:
    """The client's CSRF token, from a page's HTMX header. A visitor who has only read pages has
    no session and so no token (issue #16): the account dialog, opened as a browser would, starts one."""
    found = CSRF_RE.search(client.get("/").get_data(as_text=True))
    if found is None:
        found = CSRF_RE.search(client.get("/account/login").get_data(as_text=True))
    return found.group(1)


def post(client, url, data=None, *, htmx=False, follow=False, token=True):
    data = dict(data or {})
    if token:
        data.setdefault("csrf_token", csrf_token(client))
    config = client.application.config
    # a browser sends a same-origin Referer (Referrer-Policy: same-origin); Flask-WTF checks it over HTTPS
    referer = f"{config['PREFERRED_URL_SCHEME']}://{config.get('SERVER_NAME') or 'localhost'}/"
    headers = {**(HTMX if htmx else {}), "Referer": referer}
    return client.post(url, data=data, headers=headers, follow_redirects=follow)


def outbox(app, address=None) -> list[OutboxMessage]:
    """The mails written to go out (not the stand-ins written for addresses that get no code)."""
    from app.outbox import STAND_IN_MAIL

    with app.app_context():
        query = db.session.query(OutboxMessage).filter(OutboxMessage.kind != STAND_IN_MAIL).order_by(OutboxMessage.id)
        if address:
            query = query.filter(OutboxMessage.recipient == address)
        rows = query.all()
        db.session.expunge_all()
        return rows


def last_code(app, address) -> str:
    mails = [m for m in outbox(app, address) if re.search(r"^\s*\d{6}\s*$", m.body_text, re.M)]
    assert mails, f"no code mailed to {address}"
    return re.search(r"^\s*(\d{6})\s*$", mails[-1].body_text, re.M).group(1)


GOOD_PASSWORD = "Blue-Harbour-42!"


def registration(email="ann@example.org", **changes):
    data = {
        "email": email,
        "password": GOOD_PASSWORD,
        "confirm": GOOD_PASSWORD,
        "first_name": "Ann",
        "last_name": "Lee",
        "organisation": "Example Broadcasting",
        "accept_conditions": "y",
        "next": "/conditions",
    }
    data.update(changes)
    return data


def age_codes(app, minutes):
    """Move every recorded code ``minutes`` into the past (send throttles, expiry)."""
    from datetime import timedelta

    from app.models import VerificationCode

    with app.app_context():
        for record in db.session.query(VerificationCode):
            record.created_at -= timedelta(minutes=minutes)
            record.expires_at -= timedelta(minutes=minutes)
        db.session.commit()


def register_and_verify(client, app, email="ann@example.org", prefix=""):
    """``prefix="/fr"``: through the French pages (the account is then French)."""
    registered = post(client, prefix + "/account/register", registration(email))
    assert registered.status_code == 303, (registered.status_code, registered.get_data(as_text=True)[:2000])
    return post(client, prefix + "/account/verify", {"code": last_code(app, email)})
