"""Mail security (issue #13): no code readable at rest once its mail is sent or given up, nor in a
log line; old outbox rows purged; addresses beyond ASCII (an IDN domain, a UTF-8 local part)
delivered with IDNA and SMTPUTF8, or refused with a clear reason. Counted at a real aiosmtpd server."""

from __future__ import annotations

import email
import email.policy
import json
import logging
from datetime import timedelta
from email.headerregistry import Address

import pytest
from sqlalchemy import text

from app.extensions import db
from app.flows import codes
from app.models import OutboxMessage, User, utcnow
from app.outbox import compose
from harness.mailbox import SmtpServer, code_in, free_port, raw_header

from .helpers.portal import age_codes, build_app, dispose, last_code, outbox, post, registration

pytestmark = pytest.mark.smtp

IDN_DOMAIN = "bücher.example"
IDN_ASCII = "xn--bcher-kva.example"
SMTP_SERVER_LOG = "mail.log"  # aiosmtpd's own debug lines: the test's SMTP server, not the portal


@pytest.fixture
def make_app(database_url, tmp_path):
    """Apps with other settings; each lays the test database anew, so use one before making the next."""
    apps = []

    def make(**settings):
        apps.append(build_app(database_url, tmp_path / f"instance{len(apps)}", **settings))
        return apps[-1]

    yield make
    for app in apps:
        dispose(app)


def mailing(make_app, server, **settings):
    return make_app(MAIL_SERVER="127.0.0.1", MAIL_PORT=server.port, MAIL_DISPATCH="thread", **settings)


def assert_no_code_in(row: OutboxMessage, code: str) -> None:
    for field in ("subject", "body_text", "body_html", "headers_json", "last_error"):
        assert code not in (getattr(row, field) or ""), f"the code is still readable in outbox.{field}"


def user_count(app) -> int:
    with app.app_context():
        return db.session.query(User).count()


# --- point 12: codes at rest and in logs --------------------------------------------------------


def test_a_sent_code_mail_keeps_no_code_in_the_outbox(make_app, smtp):
    app = mailing(make_app, smtp)
    client = app.test_client()
    post(client, "/account/register", registration())
    code = code_in(smtp.mailbox.wait_for("ann@example.org")[0])
    app.extensions["outbox_dispatcher"].wait_idle()
    [row] = outbox(app)
    assert row.sent_at is not None
    assert_no_code_in(row, code)
    assert row.subject == "Your verification code: ••••••"  # what it was stays readable, the code does not
    assert post(client, "/account/verify", {"code": code}).status_code == 303
    age_codes(app, minutes=2)  # past the send throttle
    post(app.test_client(), "/account/reset", {"email": "ann@example.org"})  # the reset code mail too
    reset_code = code_in(smtp.mailbox.wait_for("ann@example.org", count=2)[-1])
    app.extensions["outbox_dispatcher"].wait_idle()
    assert all(r.sent_at is not None for r in outbox(app))
    for row in outbox(app):
        assert_no_code_in(row, reset_code)


def test_a_code_mail_given_up_keeps_no_code(make_app):
    app = make_app(MAIL_SERVER="127.0.0.1", MAIL_PORT=free_port(), MAIL_TIMEOUT_SECONDS=1, OUTBOX_MAX_ATTEMPTS=1)
    post(app.test_client(), "/account/register", registration())
    code = last_code(app, "ann@example.org")  # still pending: readable, it must be sent
    assert "0 sent, 1 failed" in app.test_cli_runner().invoke(args=["outbox", "send"]).output
    [row] = outbox(app)
    assert row.failed_at is not None and "ConnectionRefused" in row.last_error
    assert_no_code_in(row, code)


def test_a_code_mail_not_sent_before_its_code_expires_is_given_up_and_redacted(make_app):
    app = make_app(MAIL_SERVER="127.0.0.1", MAIL_PORT=free_port(), MAIL_TIMEOUT_SECONDS=1)
    post(app.test_client(), "/account/register", registration())
    code = last_code(app, "ann@example.org")
    with app.app_context():
        db.session.query(OutboxMessage).update({"created_at": utcnow() - timedelta(minutes=31)})
        db.session.commit()
    assert "0 sent, 0 failed" in app.test_cli_runner().invoke(args=["outbox", "send"]).output
    [row] = outbox(app)
    assert row.failed_at is not None and row.sent_at is None and "expired" in row.last_error
    assert_no_code_in(row, code)


def test_sent_and_failed_mails_are_purged_after_the_retention_period(make_app):
    app = make_app(OUTBOX_RETENTION_DAYS=7)
    now = utcnow()
    old, recent = now - timedelta(days=8), now - timedelta(days=6)
    rows = {
        "sent long ago": dict(sent_at=old),
        "failed long ago": dict(failed_at=old),
        "sent lately": dict(sent_at=recent),
        "failed lately": dict(failed_at=recent),
        "pending since long ago": dict(next_attempt_at=now + timedelta(hours=1)),
    }
    with app.app_context():
        for subject, state in rows.items():
            db.session.add(
                OutboxMessage(
                    recipient="ann@example.org", subject=subject, body_text="", body_html="", created_at=old, **state
                )
            )
        db.session.commit()
    result = app.test_cli_runner().invoke(args=["outbox", "purge"])
    assert result.exit_code == 0 and "2 purged" in result.output, result.output
    assert sorted(r.subject for r in outbox(app)) == ["failed lately", "pending since long ago", "sent lately"]
    with app.app_context():  # the worker sweeps as well
        db.session.query(OutboxMessage).update({"sent_at": old, "failed_at": None})
        db.session.commit()
    assert "3 purged" in app.test_cli_runner().invoke(args=["outbox", "send"]).output
    assert outbox(app) == []


def test_in_production_without_a_mail_server_codes_stay_out_of_the_log(make_app, caplog):
    caplog.set_level(logging.DEBUG)
    app = make_app(TESTING=False, DEBUG=False, SERVER_NAME="localhost")
    assert any("MAIL_SERVER" in r.getMessage() and r.levelno >= logging.WARNING for r in caplog.records)
    post(app.test_client(), "/account/register", registration())
    code = last_code(app, "ann@example.org")
    assert "0 sent, 1 failed" in app.test_cli_runner().invoke(args=["outbox", "send"]).output
    [row] = outbox(app)
    assert row.sent_at is None and row.failed_at is None and "MAIL_SERVER" in row.last_error  # kept, not lost
    assert not [r.getMessage() for r in caplog.records if code in r.getMessage()]


def test_no_log_line_carries_a_code_when_sending_or_failing(make_app, smtp, caplog):
    caplog.set_level(logging.DEBUG)
    app = mailing(make_app, smtp)
    post(app.test_client(), "/account/register", registration())
    sent = code_in(smtp.mailbox.wait_for("ann@example.org")[0])
    app.extensions["outbox_dispatcher"].wait_idle()  # done with the database, which the next app lays anew
    down = make_app(
        MAIL_SERVER="127.0.0.1",
        MAIL_PORT=free_port(),
        MAIL_TIMEOUT_SECONDS=1,
        OUTBOX_MAX_ATTEMPTS=2,
        OUTBOX_RETRY_BASE_SECONDS=0,
    )
    post(down.test_client(), "/account/register", registration("bob@example.org"))
    failed = last_code(down, "bob@example.org")
    for _ in range(2):
        down.test_cli_runner().invoke(args=["outbox", "send"])
    logged = "\n".join(r.getMessage() for r in caplog.records if r.name != SMTP_SERVER_LOG)
    assert "Giving up on mail" in logged and sent not in logged and failed not in logged


# --- point 16: addresses beyond ASCII -----------------------------------------------------------


def test_an_idn_domain_gets_its_code_through_a_plain_ascii_server(make_app, smtp):
    app = mailing(make_app, smtp)
    client = app.test_client()
    assert post(client, "/account/register", registration(f"ann@{IDN_DOMAIN}")).status_code == 303
    [mail] = smtp.mailbox.wait_for(f"ann@{IDN_ASCII}")
    assert mail.envelope.rcpt_tos == [f"ann@{IDN_ASCII}"] and "SMTPUTF8" not in mail.envelope.mail_options
    assert raw_header(mail, "To") == f"To: ann@{IDN_ASCII}\r\n".encode()
    assert post(client, "/account/verify", {"code": code_in(mail)}).status_code == 303


def test_a_utf8_local_part_gets_its_code_where_the_server_offers_smtputf8(make_app):
    with SmtpServer(smtputf8=True) as server:
        app = mailing(make_app, server)
        client = app.test_client()
        assert post(client, "/account/register", registration(f"josé@{IDN_DOMAIN}")).status_code == 303
        [mail] = server.mailbox.wait_for(f"josé@{IDN_ASCII}")
        assert mail.envelope.rcpt_tos == [f"josé@{IDN_ASCII}"] and "SMTPUTF8" in mail.envelope.mail_options
        assert raw_header(mail, "To") == f"To: josé@{IDN_ASCII}\r\n".encode()
        assert post(client, "/account/verify", {"code": code_in(mail)}).status_code == 303


def test_a_utf8_local_part_fails_at_once_with_a_clear_reason_where_the_server_lacks_smtputf8(make_app, smtp, caplog):
    caplog.set_level(logging.WARNING)
    app = mailing(make_app, smtp)
    assert post(app.test_client(), "/account/register", registration("josé@example.org")).status_code == 303
    app.extensions["outbox_dispatcher"].wait_idle()
    [row] = outbox(app)
    assert row.failed_at is not None and row.attempts == 1 and "SMTPUTF8" in row.last_error  # no pointless retries
    assert any("SMTPUTF8" in r.getMessage() and r.levelno == logging.ERROR for r in caplog.records)
    assert smtp.mailbox.messages == []


def test_registration_refuses_a_utf8_local_part_when_the_server_is_known_to_lack_smtputf8(make_app):
    app = make_app(MAIL_SMTPUTF8=False)
    response = post(app.test_client(), "/account/register", registration("josé@example.org"))
    assert response.status_code == 422
    assert "cannot receive our mail" in response.get_data(as_text=True)
    assert user_count(app) == 0
    # a domain beyond ASCII is always deliverable (IDNA); so is everything when the server has SMTPUTF8
    assert post(app.test_client(), "/account/register", registration(f"ann@{IDN_DOMAIN}")).status_code == 303
    willing = make_app(MAIL_SMTPUTF8=True)
    assert post(willing.test_client(), "/account/register", registration("josé@example.org")).status_code == 303


REFUSE_MAIL = {  # the database refuses every new outbox row, as a broken or full database might
    "sqlite": ["CREATE TRIGGER refuse_mail BEFORE INSERT ON outbox BEGIN SELECT RAISE(ABORT, 'refused'); END"],
    "postgresql": [
        "CREATE OR REPLACE FUNCTION refuse_mail() RETURNS trigger AS $$ BEGIN RAISE EXCEPTION 'refused'; "
        "END $$ LANGUAGE plpgsql",
        "CREATE TRIGGER refuse_mail BEFORE INSERT ON outbox FOR EACH ROW EXECUTE FUNCTION refuse_mail()",
    ],
}


def test_a_database_error_while_writing_a_code_mail_logs_no_code(make_app, caplog, monkeypatch):
    """The error's log line names the statement, never its parameters (the mail, with its code)."""
    monkeypatch.setattr(codes, "generate_code", lambda: "424242")
    app = make_app()
    with app.app_context():
        dialect = db.engine.dialect.name
        for statement in REFUSE_MAIL[dialect]:
            db.session.execute(text(statement))
        db.session.commit()
    try:
        caplog.set_level(logging.DEBUG)
        assert post(app.test_client(), "/account/register", registration()).status_code == 500
        assert "Unhandled error" in caplog.text and "refused" in caplog.text  # the error is logged...
        assert "424242" not in caplog.text  # ...without the code
    finally:
        if dialect == "postgresql":
            with app.app_context():
                db.session.execute(text("DROP TRIGGER refuse_mail ON outbox"))
                db.session.execute(text("DROP FUNCTION refuse_mail()"))
                db.session.commit()


# --- point 18: headers as they go over the wire -------------------------------------------------


def test_no_ascii_header_is_encoded_and_every_header_reads_back_as_written():
    """Beyond List-Unsubscribe (tests/test_newsletter.py): any header all in ASCII that is too long to
    fold stays one plain line; headers beyond ASCII are encoded (or UTF-8 with SMTPUTF8) and read back."""
    long_link = "<https://media.example.org/" + "x" * 300 + ">"
    subject = "OTAN Multimédia : 12 nouveaux reportages sur la défense collective et l’Alliance atlantique"
    message = OutboxMessage(
        subject=subject,
        body_text="Bonjour José",
        body_html="<p>Bonjour José</p>",
        headers_json=json.dumps({"List-Unsubscribe": long_link, "X-Long": "a" * 200}),
    )
    sender = Address("Presse OTAN Multimédia", addr_spec="press@media.example.org")
    for recipient, utf8 in ((f"ann@{IDN_ASCII}", False), (f"josé@{IDN_ASCII}", True)):
        raw = compose(message, sender, recipient, utf8=utf8)
        assert f"\r\nList-Unsubscribe: {long_link}\r\n".encode() in raw
        assert b"\r\nX-Long: " + b"a" * 200 + b"\r\n" in raw
        assert raw.isascii() != utf8  # 8-bit only where SMTPUTF8 carries it
        parsed = email.message_from_bytes(raw, policy=email.policy.default)
        assert parsed["Subject"] == subject and parsed["To"] == recipient
        assert parsed["From"] == "Presse OTAN Multimédia <press@media.example.org>"
        assert parsed.get_body(preferencelist=("plain",)).get_content().strip() == "Bonjour José"
