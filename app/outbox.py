"""The mail outbox (docs/mail.md): no mail is lost.

``queue_mail`` writes the message into the ``outbox`` table in the caller's transaction. After
that transaction commits, this process delivers it in a background thread (MAIL_DISPATCH =
"thread"), so no request waits for the SMTP server. ``flask outbox send`` delivers whatever is
still pending (SMTP down, process killed) and can run as a worker with ``--loop``.
Each message is claimed with a conditional UPDATE before it is sent, so the thread and any
number of workers never send one message twice at the same time.

A code mail (``kind="code"``) keeps no code once it is sent or given up, nor once its code has
expired unsent; sent and given-up mails are deleted after OUTBOX_RETENTION_DAYS (``sweep``).
"""

from __future__ import annotations

import json
import logging
import os
import queue
import re
import smtplib
import threading
import time
from collections.abc import Sequence
from datetime import datetime, timedelta
from email.headerregistry import Address
from email.message import EmailMessage
from email.policy import EmailPolicy
from email.utils import formatdate, make_msgid, parseaddr
from typing import Any, cast

from flask import current_app, render_template
from flask_babel import force_locale
from sqlalchemy import CursorResult, delete, event, exists, or_, select, update
from sqlalchemy.exc import SQLAlchemyError

from .database import database_error_text, database_unavailable
from .extensions import db
from .flows.emails import InvalidEmail, smtp_address
from .i18n import mail_locale
from .models import OutboxMessage, User, utcnow

log = logging.getLogger(__name__)

_NEW_MESSAGES = "outbox_new_messages"
_COMMITTED_IDS = "outbox_committed_ids"
RECORD_RETRY_INTERVAL = timedelta(seconds=0.5)
# What a mail is, in its ``kind`` column:
ACCOUNT_MAIL = "account"  # a notice to an account
CODE_MAIL = "code"  # carries a one-time code: readable at rest only until it is sent
STAND_IN_MAIL = "stand-in"  # a code mail written for an address that gets none: never sent (app/flows/accounts.py)
NEWSLETTER = "newsletter"
SWEEP_INTERVAL_SECONDS = 60  # how often a looping worker expires and purges


class Undeliverable(Exception):
    """No retry can send this mail (an address this SMTP server cannot carry): given up at once."""


class MailNotConfigured(Exception):
    """Production with no MAIL_SERVER: the mail waits in the outbox (it is never written to the log)."""


def queue_mail(
    recipient: str,
    subject: str,
    template: str,
    *,
    headers: dict | None = None,
    kind: str = ACCOUNT_MAIL,
    language: str | None = None,
    **context,
) -> OutboxMessage:
    """Render ``template``.txt and .html and add the mail to the current transaction.

    Account mails (notices, and ``kind="code"`` for codes) are sent right after the commit; bulk
    mails (``kind="newsletter"``) wait for the worker, so a digest run never floods one process.
    ``language`` is the recipient's ("en"/"fr"); ``subject`` may be a lazy string, translated then.
    """
    with force_locale(mail_locale(language)):
        message = OutboxMessage(
            kind=kind,
            recipient=recipient,
            subject=str(subject),
            body_text=render_template(f"{template}.txt", **context),
            body_html=render_template(f"{template}.html", **context),
            headers_json=json.dumps(headers or {}),
            next_attempt_at=utcnow(),
        )
    db.session.add(message)
    if kind != NEWSLETTER:
        db.session.info.setdefault(_NEW_MESSAGES, []).append(message)
    return message


def _remember_ids(session, _context):
    new = session.info.pop(_NEW_MESSAGES, None)
    if new:
        session.info.setdefault(_COMMITTED_IDS, []).extend(m.id for m in new if m.id is not None)


def _dispatch_after_commit(session):
    ids = session.info.pop(_COMMITTED_IDS, None)
    if ids:
        dispatcher = current_app.extensions.get("outbox_dispatcher")
        if dispatcher is not None:
            dispatcher.submit(ids)


def _forget_after_rollback(session):
    session.info.pop(_NEW_MESSAGES, None)
    session.info.pop(_COMMITTED_IDS, None)


class ThreadDispatcher:
    """Delivers newly committed mails of this process in a few background threads, so one
    slow SMTP answer does not hold up the next person's code."""

    def __init__(self, app):
        self.app = app
        self._pid = None
        self._queue: queue.Queue[list[int]] = queue.Queue()

    def submit(self, ids: list[int]) -> None:
        if self._pid != os.getpid():  # first use, or a forked worker (gunicorn --preload)
            self._pid = os.getpid()
            self._queue = queue.Queue()
            for n in range(self.app.config["MAIL_DISPATCH_THREADS"]):
                threading.Thread(target=self._run, name=f"outbox-dispatcher-{n}", daemon=True).start()
        for message_id in ids:
            self._queue.put([message_id])

    def _run(self) -> None:
        while True:
            ids = self._queue.get()
            try:
                with self.app.app_context():
                    for message_id in ids:
                        deliver(message_id)
            except Exception as exc:  # keep the thread alive; the worker retries what is left
                if not database_unavailable(exc):
                    log.exception("Outbox dispatcher failed; pending mails stay in the outbox")
                else:
                    log.warning(
                        "Outbox dispatcher: the database is unavailable (%s); the worker will send what is pending",
                        database_error_text(exc),
                    )
            finally:
                self._queue.task_done()

    def wait_idle(self) -> None:
        """Block until everything submitted so far was attempted (tests, benchmarks)."""
        self._queue.join()


def init_outbox(app) -> None:
    # Mails committed by the app's sessions go out at once (the listeners above); bound to
    # db.session, not SQLAlchemy's Session class, and once however many apps are built.
    for name, listener in (
        ("after_flush", _remember_ids),
        ("after_commit", _dispatch_after_commit),
        ("after_rollback", _forget_after_rollback),
    ):
        if not event.contains(db.session, name, listener):
            event.listen(db.session, name, listener)
    if app.config["MAIL_DISPATCH"] == "thread":
        app.extensions["outbox_dispatcher"] = ThreadDispatcher(app)


def pending_ids(now: datetime, limit: int = 100) -> Sequence[int]:
    return (
        db.session.execute(
            select(OutboxMessage.id)
            .where(
                OutboxMessage.sent_at.is_(None),
                OutboxMessage.failed_at.is_(None),
                OutboxMessage.next_attempt_at <= now,
                or_(OutboxMessage.claimed_until.is_(None), OutboxMessage.claimed_until < now),
            )
            .order_by(OutboxMessage.id)
            .limit(limit)
        )
        .scalars()
        .all()
    )


def deliver_pending(limit: int = 100) -> tuple[int, int]:
    """Try every due message once; returns (sent, failed)."""
    sent = failed = 0
    for message_id in pending_ids(utcnow(), limit):
        result = deliver(message_id)
        sent += result is True
        failed += result is False
    return sent, failed


def deliver(message_id: int) -> bool | None:
    """Claim, send and mark one message. True sent, False failed, None not ours to send.

    A claim that is never released (the process died while sending) expires after
    OUTBOX_CLAIM_SECONDS; the message is then due again for any process."""
    now = utcnow()
    claim_until = now + timedelta(seconds=current_app.config["OUTBOX_CLAIM_SECONDS"])
    claimed = cast(
        CursorResult[Any],
        db.session.execute(
            update(OutboxMessage)
            .where(
                OutboxMessage.id == message_id,
                OutboxMessage.sent_at.is_(None),
                OutboxMessage.failed_at.is_(None),
                or_(OutboxMessage.claimed_until.is_(None), OutboxMessage.claimed_until < now),
            )
            .values(claimed_until=claim_until, attempts=OutboxMessage.attempts + 1)
        ),
    ).rowcount
    db.session.commit()
    if claimed != 1:
        return None
    message = db.session.get(OutboxMessage, message_id)
    if message is None:  # deleted since the claim (unsubscribed, account deleted): nothing to send
        return None
    if message.kind == NEWSLETTER and not _still_subscribed(message.recipient):
        message.failed_at, message.claimed_until, message.last_error = utcnow(), None, "cancelled: unsubscribed"
        db.session.commit()
        return None
    try:
        _transport(message)
    except Exception as exc:  # SMTP down, refused, timed out: retry later with back-off
        _record_failure(message, exc)
        return False
    _record_sent(message_id, claim_until, redacted(message))
    return True


def redacted(message: OutboxMessage) -> dict:
    """What a code mail keeps once it is sent or given up: whom, when and what kind, not the code
    (the subject's digits masked, no body). Other mails keep everything until they are purged."""
    if message.kind != CODE_MAIL:
        return {}
    return {"subject": re.sub(r"\d", "•", message.subject), "body_text": "", "body_html": ""}


def sweep(now: datetime | None = None) -> tuple[int, int]:
    """Give up code mails whose code expired unsent (redacted: nobody can use it any more), and
    delete the mails sent or given up more than OUTBOX_RETENTION_DAYS ago. Returns (expired, purged)."""
    config = current_app.config
    now = now or utcnow()
    unsent = (
        OutboxMessage.sent_at.is_(None),
        OutboxMessage.failed_at.is_(None),
        or_(OutboxMessage.claimed_until.is_(None), OutboxMessage.claimed_until < now),
    )
    stale = (
        db.session.execute(
            select(OutboxMessage).where(
                OutboxMessage.kind == CODE_MAIL,
                *unsent,
                OutboxMessage.created_at < now - timedelta(seconds=config["CODE_LIFETIME_SECONDS"]),
            )
        )
        .scalars()
        .all()
    )
    expired = 0
    for message in stale:  # the same conditions again: a sender that claimed it meanwhile keeps it
        expired += cast(
            CursorResult[Any],
            db.session.execute(
                update(OutboxMessage)
                .where(OutboxMessage.id == message.id, *unsent)
                .values(
                    failed_at=now, last_error="given up: its code expired before it could be sent", **redacted(message)
                )
                .execution_options(synchronize_session=False)
            ),
        ).rowcount
    cutoff = now - timedelta(days=config["OUTBOX_RETENTION_DAYS"])
    purged = cast(
        CursorResult[Any],
        db.session.execute(
            delete(OutboxMessage)
            .where(or_(OutboxMessage.sent_at < cutoff, OutboxMessage.failed_at < cutoff))
            .execution_options(synchronize_session=False)
        ),
    ).rowcount
    db.session.commit()
    return expired, purged


def _record_sent(message_id: int, claim_until: datetime, redactions: dict) -> None:
    """The SMTP server has the mail: note that, trying again through a database outage while our
    claim holds, so that nobody sends it a second time. (Past the claim it may be sent again:
    at least once, never lost.)"""
    while True:
        try:
            db.session.execute(
                update(OutboxMessage)
                .where(OutboxMessage.id == message_id)
                .values(sent_at=utcnow(), claimed_until=None, last_error=None, **redactions)
            )
            db.session.commit()
            return
        except SQLAlchemyError as exc:
            db.session.rollback()
            if not database_unavailable(exc) or utcnow() + RECORD_RETRY_INTERVAL >= claim_until:
                raise
            log.warning(
                "Mail %s was sent, but the database is unavailable to note it (%s); trying again",
                message_id,
                database_error_text(exc),
            )
            time.sleep(RECORD_RETRY_INTERVAL.total_seconds())


def _still_subscribed(address: str) -> bool:
    """Unsubscribing (or deleting the account) stops even a digest already queued."""
    return db.session.execute(
        select(exists().where(User.email == address, User.newsletter_opt_in_at.is_not(None)))
    ).scalar_one()


def _record_failure(message: OutboxMessage, exc: Exception) -> None:
    config = current_app.config
    message.last_error = f"{type(exc).__name__}: {exc}"[:2000]
    message.claimed_until = None
    if message.attempts >= config["OUTBOX_MAX_ATTEMPTS"] or isinstance(exc, Undeliverable):
        message.failed_at = utcnow()
        for name, value in redacted(message).items():
            setattr(message, name, value)
        log.error("Giving up on mail %s to %s: %s", message.id, message.recipient, message.last_error)
    else:
        delay = config["OUTBOX_RETRY_BASE_SECONDS"] * 2 ** (message.attempts - 1)
        message.next_attempt_at = utcnow() + timedelta(seconds=min(delay, 6 * 3600))
        log.warning(
            "Mail %s to %s not sent (attempt %s): %s",
            message.id,
            message.recipient,
            message.attempts,
            message.last_error,
        )
    db.session.commit()


def _transport(message: OutboxMessage) -> None:
    config = current_app.config
    if not config.get("MAIL_SERVER"):
        if not (current_app.debug or current_app.testing):
            raise MailNotConfigured(
                "no MAIL_SERVER is configured (set FLASK_MAIL_SERVER); outside development "
                "no mail is written to the log"
            )
        # Development without an SMTP server: the log is the mailbox, codes and all (README).
        log.info("Mail to %s — %s\n%s", message.recipient, message.subject, message.body_text)
        return
    name, sender = parseaddr(config["MAIL_DEFAULT_SENDER"])
    sender, sender_utf8 = smtp_address(sender)
    try:
        recipient, recipient_utf8 = smtp_address(message.recipient)
    except InvalidEmail as exc:
        raise Undeliverable(f"{message.recipient} is not an address SMTP can carry: {exc}") from None
    smtp_class = smtplib.SMTP_SSL if config["MAIL_USE_SSL"] else smtplib.SMTP
    smtp = smtp_class(config["MAIL_SERVER"], config["MAIL_PORT"], timeout=config["MAIL_TIMEOUT_SECONDS"])
    try:
        if config["MAIL_USE_TLS"]:
            smtp.starttls()
        if config.get("MAIL_USERNAME"):
            smtp.login(config["MAIL_USERNAME"], config["MAIL_PASSWORD"])
        smtp.ehlo_or_helo_if_needed()
        utf8 = sender_utf8 or recipient_utf8
        if utf8 and not smtp.has_extn("smtputf8"):
            raise Undeliverable(
                f"{message.recipient} has letters beyond ASCII before the @-sign, which needs "
                f"SMTPUTF8, and the SMTP server {config['MAIL_SERVER']} does not offer it"
            )
        options = []
        if utf8:
            options = ["SMTPUTF8", "BODY=8BITMIME"] if smtp.has_extn("8bitmime") else ["SMTPUTF8"]
        smtp.sendmail(
            sender,
            [recipient],
            compose(message, Address(name, addr_spec=sender), recipient, utf8=utf8),
            mail_options=options,
        )
    finally:
        _say_goodbye(smtp)


class _WirePolicy(EmailPolicy):
    """Headers as SMTP carries them (CRLF, folded at spaces near 78 characters), except that a
    header all in ASCII is never RFC 2047-encoded: one with no space to fold at (List-Unsubscribe's
    long URL) would otherwise go out as "=?utf-8?q?=3Chttps…", which mail services do not read as a
    link, so they offer no one-click unsubscribe. Such a header stays on one line (RFC 5322 allows 998)."""

    def fold_binary(self, name, value):
        folded = super().fold_binary(name, value)
        text = str(value)
        if b"=?" in folded and "=?" not in text and text.isascii() and len(name) + 2 + len(text) <= 998:
            return f"{name}: {text}{self.linesep}".encode("ascii")
        return folded


WIRE = _WirePolicy(linesep="\r\n", cte_type="7bit")
WIRE_UTF8 = WIRE.clone(utf8=True, cte_type="8bit")  # SMTPUTF8: UTF-8 headers, 8-bit bodies (RFC 6531)


def compose(message: OutboxMessage, sender: Address, recipient: str, *, utf8: bool = False) -> bytes:
    """The mail as it goes over SMTP: plain text and HTML alternatives, and its extra headers."""
    mime = EmailMessage(policy=WIRE_UTF8 if utf8 else WIRE)
    mime["Subject"] = message.subject
    mime["From"] = sender
    mime["To"] = recipient
    mime["Date"] = formatdate(localtime=True)
    mime["Message-ID"] = make_msgid(domain=sender.domain or None)
    for name, value in json.loads(message.headers_json or "{}").items():
        mime[name] = value
    mime.set_content(message.body_text)
    mime.add_alternative(message.body_html, subtype="html")
    return mime.as_bytes()


def _say_goodbye(smtp: smtplib.SMTP) -> None:
    """QUIT, ignoring how the server answers: once it has said "250" to the message, the mail is
    its to deliver, and a failed goodbye must not make us send it a second time."""
    try:
        smtp.quit()
    except (smtplib.SMTPException, OSError) as exc:
        log.info("SMTP server did not close the session cleanly: %s", exc)
        smtp.close()
