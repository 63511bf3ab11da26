"""Faults on the mail side (issue #7): the SMTP server down while people register, and a server
that takes the connection and then refuses or drops it. Counted at a real aiosmtpd server."""

from __future__ import annotations

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP

from app.extensions import db
from app.models import User
from harness.mailbox import Mailbox, SmtpServer, code_in, free_port
from harness.servers import OutboxWorker

from .helpers.faults import process_env, register_concurrently, unsent_count, wait_until
from .helpers.portal import build_app, dispose, outbox, post, registration

pytestmark = pytest.mark.smtp

PEOPLE = 20


def test_smtp_down_while_twenty_register_then_each_code_arrives_once(database_url, tmp_path):
    port = free_port()  # nothing listens here: the SMTP server is down
    app = build_app(
        database_url,
        tmp_path / "instance",
        MAIL_SERVER="127.0.0.1",
        MAIL_PORT=port,
        MAIL_DISPATCH="thread",
        MAIL_TIMEOUT_SECONDS=2,
        OUTBOX_RETRY_BASE_SECONDS=0,
        RATELIMIT_PER_IP="100 per minute",
    )  # 40 people behind one test IP
    first = [f"early{n}@example.org" for n in range(PEOPLE)]
    later = [f"later{n}@example.org" for n in range(PEOPLE)]
    try:
        assert register_concurrently(app, first) == [303] * PEOPLE  # nobody waits for, or sees, the outage
        app.extensions["outbox_dispatcher"].wait_idle()
        with app.app_context():
            assert sorted(db.session.scalars(db.select(User.email))) == sorted(first)
        rows = outbox(app)
        assert sorted(r.recipient for r in rows) == sorted(first)
        assert all(r.sent_at is None and r.attempts == 1 and "ConnectionRefused" in r.last_error for r in rows)

        with SmtpServer(port=port) as smtp:  # the SMTP server comes back
            env = process_env(database_url, MAIL_SERVER="127.0.0.1", MAIL_PORT=port, OUTBOX_RETRY_BASE_SECONDS=0)
            with OutboxWorker(env, tmp_path / "worker.log") as worker:
                # ...and while the worker catches up, 20 more register: their mails go by the
                # thread at once, racing the worker's polls for the same rows
                assert register_concurrently(app, later) == [303] * PEOPLE
                wait_until(lambda: unsent_count(app) == 0 or not worker.running, 30, "every mail marked sent")
                assert worker.running, worker.output()
            assert worker.sent_total() >= PEOPLE  # the worker delivered (at least) the waiting ones
            app.extensions["outbox_dispatcher"].wait_idle()
            assert app.test_cli_runner().invoke(args=["outbox", "send"]).output.strip() == "outbox: 0 sent, 0 failed"

            rows = {r.recipient: r for r in outbox(app)}
            for address in first + later:
                [mail] = smtp.mailbox.to(address)  # exactly one code mail each
                assert code_in(mail) not in rows[address].subject + rows[address].body_text  # sent: none kept
            assert len(smtp.mailbox.messages) == 2 * PEOPLE
            # one claim per sending: the failed try and the worker's for the first ones, one for the rest
            assert {rows[a].attempts for a in first} == {2} and {rows[a].attempts for a in later} == {1}
    finally:
        dispose(app)


class FaultyMailbox(Mailbox):
    """A mailbox whose server fails the next ``times`` sessions at one step (``fault``), then behaves."""

    def __init__(self):
        super().__init__()
        self.fault, self.times = None, 0

    def fail(self, fault: str, times: int = 1) -> None:
        self.fault, self.times = fault, times

    def failing(self, fault: str) -> bool:
        if self.fault == fault and self.times > 0:
            self.times -= 1
            return True
        return False

    async def handle_MAIL(self, server, session, envelope, address, mail_options):
        if self.failing("421 at MAIL"):
            return "421 4.3.2 Service not available, closing transmission channel"
        envelope.mail_from = address
        envelope.mail_options.extend(mail_options)
        return "250 OK"

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if self.failing("450 at RCPT"):
            return "450 4.2.1 Mailbox busy, try again later"
        if self.failing("550 at RCPT"):
            return "550 5.1.1 Mailbox unavailable"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        if self.failing("451 at DATA"):
            return "451 4.3.0 Local error, try again later"
        if self.failing("554 at DATA"):
            return "554 5.6.0 Transaction failed"
        if self.failing("dropped after accepting DATA"):
            await super().handle_DATA(server, session, envelope)  # kept: the server has taken the mail
            server.transport.abort()  # ...and the line dies before its "250" reaches the sender
            return "250 never seen"
        return await super().handle_DATA(server, session, envelope)

    async def handle_QUIT(self, server, session, envelope):
        if self.failing("error at QUIT"):
            return "421 4.4.2 Connection timed out"
        return "221 Bye"


class _FaultySMTP(SMTP):
    async def smtp_DATA(self, arg):
        if not self.event_handler.failing("dropped in the middle of DATA"):
            return await super().smtp_DATA(arg)
        await self.push("354 End data with <CR><LF>.<CR><LF>")
        await self._reader.readuntil(b"\r\n")  # the first line of the message, then the line goes dead
        self.transport.abort()


class FaultySmtpServer(SmtpServer):
    def __init__(self):
        super().__init__()
        self.mailbox = FaultyMailbox()
        self.controller = Controller(self.mailbox, hostname="127.0.0.1", port=self.port)
        self.controller.factory = lambda: _FaultySMTP(self.mailbox)


@pytest.fixture
def faulty_smtp():
    with FaultySmtpServer() as server:
        yield server


@pytest.fixture
def worker_app(database_url, faulty_smtp, tmp_path):
    """Mails wait for `outbox send` (here through the CLI runner), so each pass is one attempt."""
    app = build_app(
        database_url,
        tmp_path / "instance",
        MAIL_SERVER="127.0.0.1",
        MAIL_PORT=faulty_smtp.port,
        MAIL_DISPATCH="worker",
        MAIL_TIMEOUT_SECONDS=5,
        OUTBOX_RETRY_BASE_SECONDS=0,
    )
    yield app
    dispose(app)


def send_pass(app) -> str:
    return app.test_cli_runner().invoke(args=["outbox", "send"]).output.strip()


@pytest.mark.parametrize(
    "fault, error",
    [
        ("421 at MAIL", "421"),
        ("450 at RCPT", "450"),
        ("550 at RCPT", "550"),
        ("451 at DATA", "451"),
        ("554 at DATA", "554"),
        ("dropped in the middle of DATA", "SMTPServerDisconnected"),
    ],
)
def test_a_refused_or_broken_session_is_retried_and_the_mail_arrives_once(worker_app, faulty_smtp, fault, error):
    post(worker_app.test_client(), "/account/register", registration("ann@example.org"))
    faulty_smtp.mailbox.fail(fault)
    assert send_pass(worker_app) == "outbox: 0 sent, 1 failed"
    assert faulty_smtp.mailbox.messages == []
    [row] = outbox(worker_app)
    assert row.sent_at is None and error in row.last_error

    assert send_pass(worker_app) == "outbox: 1 sent, 0 failed"
    assert send_pass(worker_app) == "outbox: 0 sent, 0 failed"
    [mail] = faulty_smtp.mailbox.to("ann@example.org")
    assert code_in(mail) in row.body_text


def test_a_failed_goodbye_after_the_mail_was_accepted_does_not_send_it_again(worker_app, faulty_smtp):
    """Once the server has said "250" to the message it is the server's; a bad answer to QUIT
    changes nothing."""
    post(worker_app.test_client(), "/account/register", registration("ann@example.org"))
    faulty_smtp.mailbox.fail("error at QUIT")
    assert send_pass(worker_app) == "outbox: 1 sent, 0 failed"
    assert faulty_smtp.mailbox.times == 0  # the fault did happen
    assert send_pass(worker_app) == "outbox: 0 sent, 0 failed"
    assert len(faulty_smtp.mailbox.to("ann@example.org")) == 1


def test_a_server_that_drops_after_taking_the_mail_gets_it_twice_at_least_once_delivery(worker_app, faulty_smtp):
    """The edge SMTP cannot close (RFC 1047): the server stored the mail, but its "250" never came,
    so for the sender it is not sent. The outbox errs on the side of sending again: the person
    may get the code twice, never zero times."""
    post(worker_app.test_client(), "/account/register", registration("ann@example.org"))
    faulty_smtp.mailbox.fail("dropped after accepting DATA")
    assert send_pass(worker_app) == "outbox: 0 sent, 1 failed"
    assert len(faulty_smtp.mailbox.to("ann@example.org")) == 1
    assert send_pass(worker_app) == "outbox: 1 sent, 0 failed"
    first, second = faulty_smtp.mailbox.to("ann@example.org")
    assert code_in(first) == code_in(second)  # the same mail, twice
