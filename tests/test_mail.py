"""Mail through a real SMTP server (aiosmtpd): codes, notices, the outbox and its worker."""

import logging

import pytest

from app.extensions import db
from app.models import OutboxMessage
from harness.mailbox import SmtpServer, code_in, free_port, text_of

from .helpers.portal import age_codes, build_app, dispose, last_code, outbox, post, registration

pytestmark = pytest.mark.smtp


@pytest.fixture
def mailing_app(database_url, smtp, tmp_path):
    app = build_app(
        database_url,
        tmp_path / "instance",
        MAIL_SERVER="127.0.0.1",
        MAIL_PORT=smtp.port,
        MAIL_DISPATCH="thread",
        MAIL_DEFAULT_SENDER="Press Office <press@portal.example>",
    )
    yield app
    dispose(app)


def test_code_arrives_by_smtp_and_verifies_the_account(mailing_app, smtp):
    client = mailing_app.test_client()
    post(client, "/account/register", registration("reporter@example.org"))
    [mail] = smtp.mailbox.wait_for("reporter@example.org")
    assert mail["From"] == "Press Office <press@portal.example>"
    assert "verification code" in mail["Subject"]
    assert mail.get_body(preferencelist=("html",)) is not None  # plain text + HTML
    code = code_in(mail)
    assert "This code will expire in 30 minutes" in text_of(mail)
    assert post(client, "/account/verify", {"code": code}).status_code == 303
    assert "You have successfully created your account" in client.get("/account/welcome").get_data(as_text=True)
    mailing_app.extensions["outbox_dispatcher"].wait_idle()
    [row] = outbox(mailing_app)
    assert row.sent_at is not None and row.attempts == 1


def test_owner_of_a_taken_address_gets_a_notice_by_smtp(mailing_app, smtp):
    post(mailing_app.test_client(), "/account/register", registration("owner@example.org"))
    smtp.mailbox.wait_for("owner@example.org")
    age_codes(mailing_app, minutes=2)
    post(mailing_app.test_client(), "/account/register", registration("Owner@Example.org"))
    notice = smtp.mailbox.wait_for("owner@example.org", count=2)[-1]
    assert "Someone tried to create" in notice["Subject"]
    assert "http://localhost/account/login" in text_of(notice)


def test_smtp_down_keeps_mails_and_the_worker_delivers_each_once(database_url, tmp_path):
    port = free_port()  # nothing listens here yet
    app = build_app(
        database_url,
        tmp_path / "instance",
        MAIL_SERVER="127.0.0.1",
        MAIL_PORT=port,
        MAIL_DISPATCH="thread",
        MAIL_TIMEOUT_SECONDS=2,
        OUTBOX_RETRY_BASE_SECONDS=0,
    )
    try:
        for n in range(3):
            response = post(app.test_client(), "/account/register", registration(f"user{n}@example.org"))
            assert response.status_code == 303  # the person is not kept waiting by the outage
        app.extensions["outbox_dispatcher"].wait_idle()
        rows = outbox(app)
        assert len(rows) == 3 and all(r.sent_at is None and r.last_error for r in rows)
        with SmtpServer(port=port) as late:  # the SMTP server comes back
            runner = app.test_cli_runner()
            result = runner.invoke(args=["outbox", "send"])
            assert "3 sent, 0 failed" in result.output
            assert runner.invoke(args=["outbox", "send"]).output.strip() == "outbox: 0 sent, 0 failed"
            for n in range(3):
                assert len(late.mailbox.wait_for(f"user{n}@example.org")) == 1
            assert len(late.mailbox.messages) == 3
    finally:
        dispose(app)


def test_a_message_is_given_up_after_the_configured_attempts(database_url, tmp_path):
    app = build_app(
        database_url,
        tmp_path / "instance",
        MAIL_SERVER="127.0.0.1",
        MAIL_PORT=free_port(),
        MAIL_DISPATCH="worker",
        MAIL_TIMEOUT_SECONDS=1,
        OUTBOX_RETRY_BASE_SECONDS=0,
        OUTBOX_MAX_ATTEMPTS=2,
    )
    try:
        post(app.test_client(), "/account/register", registration())
        runner = app.test_cli_runner()
        assert "0 sent, 1 failed" in runner.invoke(args=["outbox", "send"]).output
        assert "0 sent, 1 failed" in runner.invoke(args=["outbox", "send"]).output
        assert "0 sent, 0 failed" in runner.invoke(args=["outbox", "send"]).output
        with app.app_context():
            row = db.session.query(OutboxMessage).one()
            assert row.failed_at is not None and row.attempts == 2 and "ConnectionRefused" in row.last_error
    finally:
        dispose(app)


def test_without_a_mail_server_mails_go_to_the_log_in_development(database_url, tmp_path, caplog):
    """The newcomer's mailbox (README); production never logs a code (tests/test_mail_security.py)."""
    app = build_app(database_url, tmp_path / "instance", MAIL_DISPATCH="worker")
    try:
        post(app.test_client(), "/account/register", registration())
        code = last_code(app, "ann@example.org")
        with caplog.at_level(logging.INFO, logger="app.outbox"):
            assert "1 sent" in app.test_cli_runner().invoke(args=["outbox", "send"]).output
        logged = "\n".join(r.getMessage() for r in caplog.records)
        assert "ann@example.org" in logged and code in logged
    finally:
        dispose(app)
