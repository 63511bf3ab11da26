"""The app as the tests build it, and what a route test does as a browser would: read the CSRF
token, post a form, read the mail outbox, register and verify an account."""

from __future__ import annotations

import contextvars
import re

from flask.testing import FlaskClient, FlaskCliRunner

from app import create_app, search
from app.extensions import db, limiter
from app.models import OutboxMessage, User, VerificationCode
from harness.mailbox import CODE_RE, text_of

BASE_CONFIG = {
    "TESTING": True,
    "SECRET_KEY": "test-secret-key",
    "BCRYPT_ROUNDS": 4,
    "MAIL_DISPATCH": "worker",
    "RATELIMIT_STORAGE_URI": "memory://",
    "LOG_LEVEL": "WARNING",
}


class BrowserClient(FlaskClient):
    """A test client that behaves as one browser against a production server: its requests run in
    a ``contextvars.Context`` of its own. pytest-flask keeps a test request context pushed for the
    whole test (so ``url_for`` works in tests), and Flask reuses a pushed app context, with its
    ``g``, for every request made inside it: without this, every request of a test, and of its
    other clients, would share Flask-WTF's CSRF token and Flask-Login's user. A context the client
    preserves (``with client:``, as pytest-flask's ``client`` fixture does) stays in the same
    Context, where its next request or the end of the ``with`` closes it."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._browser = contextvars.Context()
        self._browser_entered = False

    def open(self, *args, **kwargs):
        if self._browser_entered:  # following a redirect: already in the browser's Context
            return super().open(*args, **kwargs)
        self._browser_entered = True
        try:
            return self._browser.run(super().open, *args, **kwargs)
        finally:
            self._browser_entered = False

    def __exit__(self, *exc_info):
        return self._browser.run(super().__exit__, *exc_info)


class CommandRunner(FlaskCliRunner):
    """``flask <command>`` as from a shell: in a ``contextvars.Context`` of its own, so the command
    pushes its own app context (and database session) instead of running in pytest-flask's."""

    def invoke(self, *args, **kwargs):
        return contextvars.Context().run(super().invoke, *args, **kwargs)


def build_app(database_url: str, instance_path, **overrides):
    app = create_app(
        {**BASE_CONFIG, "SQLALCHEMY_DATABASE_URI": database_url, "INSTANCE_PATH": str(instance_path), **overrides}
    )
    app.test_client_class, app.test_cli_runner_class = BrowserClient, CommandRunner
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


def _empty_database() -> None:
    """No tables at all, as before the first migration (inside an app context)."""
    from app.extensions import db

    with db.engine.begin() as connection:
        search.drop_schema(connection)
    db.drop_all()
    with db.engine.begin() as connection:
        connection.exec_driver_sql("DROP TABLE IF EXISTS alembic_version")


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


# Where a live portal's SMTP server keeps what it received (the live_portal fixture): a live portal
# sends a mail at once, and a sent code mail keeps no code in the outbox (app/outbox.py,
# ``redacted``), so its code is read there.
MAILBOX = "tests.smtp_mailbox"


def last_code(app, address) -> str:
    mailbox = app.extensions.get(MAILBOX)
    if mailbox is not None:
        received = mailbox.wait_for(address, count=len(outbox(app, address)))
        codes = [CODE_RE.search(text_of(message)) for message in received]
        assert any(codes), f"no code mailed to {address}"
        return [code for code in codes if code][-1].group(1)
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


def nothing_written(app):
    with app.app_context():
        return all(db.session.query(model).count() == 0 for model in (User, VerificationCode, OutboxMessage))
