"""The database locked or restarting for a few seconds (issue #7): readable 503s, never a 500,
and everything carries on by itself afterwards, the requests, the sender thread and the worker.

SQLite: another connection holds the write lock (BEGIN EXCLUSIVE) past a short busy timeout.
PostgreSQL: the app reaches the server through tests/helpers/tcp_proxy.py, which is cut (every connection
closed, new ones refused) and restored, as in a server restart.
"""

from __future__ import annotations

import contextlib
import signal
import sqlite3
import threading

import pytest
from sqlalchemy import event
from sqlalchemy.engine import make_url

from app.extensions import db
from app.models import User
from harness.servers import OutboxWorker

from .helpers.faults import process_env, wait_until
from .helpers.portal import build_app, csrf_token, dispose, outbox, post, register_and_verify, registration
from .helpers.tcp_proxy import TcpProxy

BUSY_TIMEOUT_MS = 300  # SQLite waits this long for a lock, then the request fails


class SqliteOutage:
    """Another connection holding SQLite's write lock."""

    def __init__(self, url: str):
        self.url, self.path = url, make_url(url).database
        self._holder: sqlite3.Connection | None = None

    def down(self) -> None:
        self._holder = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        self._holder.execute("BEGIN EXCLUSIVE")

    def up(self) -> None:
        holder, self._holder = self._holder, None
        if holder is not None:
            holder.execute("ROLLBACK")
            holder.close()

    def close(self) -> None:
        self.up()

    def down_when(self, app, sql: str) -> None:
        """Take the lock just before the app runs a statement containing ``sql``."""
        armed = [True]

        def take_lock(_conn, _cursor, statement, *_):
            if armed[0] and sql in statement:
                armed[0] = False
                self.down()

        with app.app_context():
            engine = db.engine
        event.listen(engine, "before_cursor_execute", take_lock)


class PostgresOutage:
    """A cut in the line between the app and PostgreSQL (the shared server itself is not touched)."""

    def __init__(self, url: str):
        target = make_url(url)
        self.proxy = TcpProxy(target.host or "127.0.0.1", target.port or 5432)
        self.proxy.restore()
        self.url = target.set(host="127.0.0.1", port=self.proxy.port).render_as_string(hide_password=False)

    def down(self) -> None:
        self.proxy.cut()

    def up(self) -> None:
        self.proxy.restore()

    def close(self) -> None:
        self.proxy.cut()

    def down_when(self, app, sql: str) -> None:
        """Cut the line as the app sends a statement containing ``sql``."""
        self.proxy.cut_when(sql.encode())


@pytest.fixture
def outage(database_url):
    outage = SqliteOutage(database_url) if database_url.startswith("sqlite") else PostgresOutage(database_url)
    try:
        yield outage
    finally:
        outage.close()


@contextlib.contextmanager
def database_down(outage):
    outage.down()
    try:
        yield
    finally:
        outage.up()


@pytest.fixture
def make_app(outage, tmp_path):
    """Builds the app on the database behind ``outage``."""
    apps = []

    def make(**config):
        apps.append(build_app(outage.url, tmp_path / "instance", SQLITE_BUSY_TIMEOUT_MS=BUSY_TIMEOUT_MS, **config))
        return apps[-1]

    yield make
    outage.up()  # a failed test may have left the database down
    for app in apps:
        dispose(app)


@pytest.fixture
def app(make_app):
    return make_app()


def assert_busy_page(response, *, partial: bool) -> None:
    body = response.get_data(as_text=True)
    assert response.status_code == 503, body[:500]
    assert int(response.headers["Retry-After"]) > 0
    assert "The portal is busy" in body and "try again in a few seconds" in body
    assert "Traceback" not in body and "sqlalchemy" not in body.lower() and "INSERT" not in body
    if partial:  # into the dialog step's alert area; the form keeps what was typed
        assert response.headers["HX-Retarget"] == "#step-alert" and body.startswith("<p><strong>")
    else:
        assert "<html" in body and 'id="step-title"' in body


@pytest.mark.parametrize("htmx", [False, True], ids=["page", "htmx"])
def test_registration_while_the_database_is_down_gets_503_and_the_same_request_then_succeeds(app, outage, htmx):
    client = app.test_client()
    form = {**registration(), "csrf_token": csrf_token(client)}
    with database_down(outage):
        assert_busy_page(post(client, "/account/register", form, htmx=htmx), partial=htmx)
    response = post(client, "/account/register", form, htmx=htmx)  # the same request, the same app
    assert response.status_code == 303 and response.headers["Location"].endswith("/account/verify")
    with app.app_context():
        assert db.session.query(User).filter_by(email="ann@example.org").count() == 1
    assert len(outbox(app, "ann@example.org")) == 1


def test_a_connection_lost_in_the_middle_of_a_request_gives_503_and_nothing_half_written(app, outage):
    client = app.test_client()
    form = {**registration(), "csrf_token": csrf_token(client)}
    outage.down_when(app, "INSERT INTO users")
    assert_busy_page(post(client, "/account/register", form), partial=False)
    outage.up()
    assert outbox(app) == []
    with app.app_context():
        assert db.session.query(User).count() == 0
    assert post(client, "/account/register", form).status_code == 303


@pytest.mark.parametrize("htmx", [False, True], ids=["page", "htmx"])
def test_a_logged_in_person_gets_503_too_and_is_still_logged_in_afterwards(app, outage, htmx):
    """The busy page cannot look up who is logged in; it must not fail trying (it was a bare 500)."""
    client = app.test_client()
    register_and_verify(client, app)
    form = {
        "first_name": "Annie",
        "last_name": "Lee",
        "organisation": "Example Broadcasting",
        "csrf_token": csrf_token(client),
    }
    headers = {"HX-Request": "true", "HX-Target": "account-profile"} if htmx else {}
    with database_down(outage):
        response = client.post("/account/profile", data=form, headers=headers)
        assert response.status_code == 503 and "The portal is busy" in response.get_data(as_text=True)
        if htmx:  # into the profile form's alert area: the names as typed stay in the form
            assert response.headers["HX-Retarget"] == "#account-profile-alert"
    response = client.post("/account/profile", data=form, headers=headers)
    assert response.status_code == 200
    with app.app_context():
        assert db.session.query(User).one().first_name == "Annie"


def test_a_logged_in_language_switch_during_an_outage_gets_503_not_500(app, outage):
    """The choice is saved on the account by the switch's redirect (a before_request function,
    app/i18n.py); when that fails, the busy page answers, not a 500."""
    app.config["PROPAGATE_EXCEPTIONS"] = False  # as in production: Flask handles what fails after the view
    client = app.test_client()
    register_and_verify(client, app)
    switch = {"Sec-Fetch-Site": "same-origin"}  # the switch on the site's own page, which the account keeps
    with database_down(outage):
        response = client.get("/?lang=fr", headers=switch)
        assert response.status_code == 503 and "Retry-After" in response.headers
    assert client.get("/?lang=fr", headers=switch).status_code == 301
    with app.app_context():
        assert db.session.query(User).one().language == "fr"


@pytest.mark.smtp
def test_the_outbox_worker_process_carries_on_through_an_outage(make_app, outage, smtp, tmp_path):
    app = make_app(MAIL_DISPATCH="worker")
    env = process_env(outage.url, MAIL_SERVER="127.0.0.1", MAIL_PORT=smtp.port, SQLITE_BUSY_TIMEOUT_MS=BUSY_TIMEOUT_MS)
    with OutboxWorker(env, tmp_path / "worker.log", interval=0.1) as worker:
        post(app.test_client(), "/account/register", registration("before@example.org"))
        smtp.mailbox.wait_for("before@example.org")  # the worker works
        wait_until(lambda: outbox(app)[0].sent_at, 10, "the mail noted as sent")  # and is idle
        worker.process.send_signal(signal.SIGSTOP)  # held while a mail is queued...
        post(app.test_client(), "/account/register", registration("during@example.org"))
        with database_down(outage):  # ...and goes on polling into the outage
            worker.process.send_signal(signal.SIGCONT)
            wait_until(
                lambda: worker.output().count("database is unavailable") >= 2 or not worker.running,
                20,
                "the worker to hit the outage twice",
            )
            assert worker.running, worker.output()
            single = app.test_cli_runner().invoke(args=["outbox", "send"])  # one pass says so and stops
            assert single.exit_code == 1 and "Error: the database is unavailable" in single.output
        smtp.mailbox.wait_for("during@example.org")  # ...and delivers once it is back
        assert worker.running
    for address in ("before@example.org", "during@example.org"):
        assert len(smtp.mailbox.to(address)) == 1
    assert "Traceback" not in worker.output()


@pytest.mark.smtp
def test_the_sender_thread_carries_on_after_an_outage_and_the_worker_sends_what_it_could_not(make_app, outage, smtp):
    app = make_app(MAIL_SERVER="127.0.0.1", MAIL_PORT=smtp.port, MAIL_DISPATCH="thread")
    # the registration commits; the database goes as the thread claims the mail
    outage.down_when(app, "attempts=(outbox.attempts")  # the claim
    assert post(app.test_client(), "/account/register", registration("ann@example.org")).status_code == 303
    app.extensions["outbox_dispatcher"].wait_idle()
    outage.up()
    [ann] = outbox(app, "ann@example.org")
    assert ann.sent_at is None and ann.attempts == 0  # the claim never happened
    post(app.test_client(), "/account/register", registration("bob@example.org"))
    smtp.mailbox.wait_for("bob@example.org")  # the thread lives on
    assert app.test_cli_runner().invoke(args=["outbox", "send"]).output.strip() == "outbox: 1 sent, 0 failed"
    assert [len(smtp.mailbox.to(a)) for a in ("ann@example.org", "bob@example.org")] == [1, 1]


@pytest.mark.smtp
def test_a_mail_sent_just_before_the_database_went_is_noted_when_it_is_back_not_sent_twice(make_app, outage, smtp):
    app = make_app(MAIL_SERVER="127.0.0.1", MAIL_PORT=smtp.port, MAIL_DISPATCH="worker", OUTBOX_CLAIM_SECONDS=5)
    post(app.test_client(), "/account/register", registration("ann@example.org"))
    outage.down_when(app, "sent_at=")  # as the sender notes the mail as sent
    restore = threading.Timer(1.5, outage.up)
    restore.start()
    try:
        output = app.test_cli_runner().invoke(args=["outbox", "send"]).output.strip()
    finally:
        restore.join()
    assert output == "outbox: 1 sent, 0 failed"
    [ann] = outbox(app)
    assert ann.sent_at is not None and ann.claimed_until is None
    assert app.test_cli_runner().invoke(args=["outbox", "send"]).output.strip() == "outbox: 0 sent, 0 failed"
    assert len(smtp.mailbox.to("ann@example.org")) == 1
