"""The app process killed (kill -9) right after registrations commit (issue #7): gunicorn with the
thread dispatcher, a hung SMTP server so the thread cannot deliver, then the worker."""

from __future__ import annotations

import os
import signal
import socket
import time

import pytest

from app.models import utcnow
from harness.client import Browser
from harness.mailbox import SmtpServer, code_in, free_port
from harness.servers import Gunicorn

from .helpers.faults import outbox_send, process_env, wait_until
from .helpers.portal import build_app, dispose, outbox, registration

pytestmark = pytest.mark.smtp

CLAIM_SECONDS = 5  # long enough for the first worker pass below on a busy machine, short enough to wait out


class HungSmtpServer:
    """A port that takes connections and never says a word: the sender waits for the greeting
    until its MAIL_TIMEOUT_SECONDS."""

    def __init__(self, port: int):
        self.socket = socket.create_server(("127.0.0.1", port))

    def __enter__(self) -> HungSmtpServer:
        return self

    def __exit__(self, *exc) -> None:
        self.socket.close()


def register(url: str, address: str) -> int:
    browser = Browser(url, timeout=30)
    return browser.post("/account/register", {**registration(address), "csrf_token": browser.csrf_token()}).status


def test_mails_of_a_killed_process_are_sent_by_the_worker_exactly_once(database_url, tmp_path):
    port = free_port()
    app = build_app(
        database_url,
        tmp_path / "instance",
        MAIL_SERVER="127.0.0.1",
        MAIL_PORT=port,
        MAIL_DISPATCH="worker",
        OUTBOX_RETRY_BASE_SECONDS=0,
    )  # the same database, for the worker
    env = process_env(
        database_url,
        MAIL_SERVER="127.0.0.1",
        MAIL_PORT=port,
        MAIL_DISPATCH="thread",
        MAIL_DISPATCH_THREADS=1,
        MAIL_TIMEOUT_SECONDS=60,
        OUTBOX_CLAIM_SECONDS=CLAIM_SECONDS,
        OUTBOX_RETRY_BASE_SECONDS=0,
    )
    try:
        with HungSmtpServer(port), Gunicorn(env, tmp_path / "gunicorn.log", workers=1) as server:
            # ann's mail: the (only) sender thread claims it and hangs in the SMTP greeting
            assert register(server.url, "ann@example.org") == 303
            wait_until(lambda: outbox(app, "ann@example.org")[0].claimed_until, 10, "ann's mail claimed")
            # bob's mail is committed and waits for that thread; the process dies as his answer arrives
            assert register(server.url, "bob@example.org") == 303
            os.killpg(server.process.pid, signal.SIGKILL)
            server.process.wait(10)
        [ann], [bob] = outbox(app, "ann@example.org"), outbox(app, "bob@example.org")
        assert ann.sent_at is None and ann.attempts == 1 and ann.claimed_until > utcnow()
        assert bob.sent_at is None and bob.attempts == 0 and bob.claimed_until is None

        with SmtpServer(port=port) as smtp:  # the SMTP server answers again
            # bob's mail goes at once; ann's waits for its claim: for all anyone knows, the
            # process that claimed it might still be sending it
            assert app.test_cli_runner().invoke(args=["outbox", "send"]).output.strip() == "outbox: 1 sent, 0 failed"
            assert [len(smtp.mailbox.to(a)) for a in ("ann@example.org", "bob@example.org")] == [0, 1]
            [ann] = outbox(app, "ann@example.org")
            assert ann.sent_at is None and ann.claimed_until is not None
            time.sleep(max(0.0, (ann.claimed_until - utcnow()).total_seconds()) + 0.1)

            result = outbox_send({**env, "FLASK_MAIL_DISPATCH": "worker"})  # the worker, as its own process
            assert result.stdout.strip() == "outbox: 1 sent, 0 failed", result.stderr
            assert app.test_cli_runner().invoke(args=["outbox", "send"]).output.strip() == "outbox: 0 sent, 0 failed"
            for row in outbox(app):
                [mail] = smtp.mailbox.to(row.recipient)
                assert code_in(mail) not in row.subject + row.body_text and row.sent_at is not None  # none kept
            assert len(smtp.mailbox.messages) == 2
    finally:
        dispose(app)
