"""No way to tell whether an address has an account (docs/security.md, Enumeration; issue #7).

Register, reset, moving an account to another address (issue #18) and "Send new code" (in the
verification, the reset and the address change) answer the same for an address with a verified
account, with an unverified one and with none: the same
status and the same bytes (but for the CSRF token and the address as typed), as a whole page
and as an HTMX step, and in about the same time (medians within 20 %).
"""

from __future__ import annotations

import random
import statistics
import time
from collections import Counter
from contextlib import contextmanager, nullcontext
from itertools import count

import pytest
from flask import template_rendered
from sqlalchemy import event

from app.extensions import db
from app.flows import passwords
from app.models import OutboxMessage, utcnow
from app.outbox import STAND_IN_MAIL
from app.outbox import pending_ids as outbox_pending_ids

from .helpers.enumeration import normalised
from .helpers.portal import (
    CSRF_RE,
    GOOD_PASSWORD,
    HTMX,
    age_codes,
    csrf_token,
    outbox,
    post,
    register_and_verify,
    registration,
)

VERIFIED, UNVERIFIED = "vera@example.org", "umar@example.org"  # all addresses here are 16 characters
MEMBER = "mona@example.org"  # the account that asks to move to each of them
KINDS = ("verified", "unverified", "unknown")
ROUNDS = 15  # timed requests per kind of address in a batch, the kinds taking turns
BATCHES = 3
TOLERANCE = 1.2


@pytest.fixture
def app_config():
    return {"RATELIMIT_PER_IP": "100000 per minute", "RATELIMIT_PER_ADDRESS": "100000 per minute"}


@pytest.fixture
def addresses(app):
    register_and_verify(app.test_client(), app, VERIFIED)
    post(app.test_client(), "/account/register", registration(UNVERIFIED))
    register_and_verify(app.test_client(), app, MEMBER)
    fresh = count(1)
    # an address of the same length each time, so nothing in a page differs by length either
    return lambda kind: {"verified": VERIFIED, "unverified": UNVERIFIED}.get(kind) or f"n{next(fresh):03d}@example.org"


# Each step: (untimed preparation, the timed request). The preparation puts the browser where the
# step is used; the request is what a person (or a prober) sends.


def register(client, address, htmx, token):
    return post(client, "/account/register", {**registration(address), "csrf_token": token}, htmx=htmx)


def request_reset(client, address, htmx, token):
    return post(client, "/account/reset", {"email": address, "csrf_token": token}, htmx=htmx)


def resend_verification(client, address, htmx, token):
    return post(client, "/account/verify/resend", {"csrf_token": token}, htmx=htmx)


def resend_reset(client, address, htmx, token):
    return post(client, "/account/reset/code/resend", {"csrf_token": token}, htmx=htmx)


def log_in_member(client, address, htmx, token):
    post(client, "/account/login", {"email": MEMBER, "password": GOOD_PASSWORD, "csrf_token": token})
    return CSRF_RE.search(client.get("/account").get_data(as_text=True)).group(1)  # a log in starts a new session


def change_email(client, address, htmx, token):
    data = {"new_email": address, "email_password": GOOD_PASSWORD, "csrf_token": token}
    return post(client, "/account/email", data, htmx=htmx)


def start_email_change(client, address, htmx, token):
    token = log_in_member(client, address, htmx, token)
    change_email(client, address, htmx, token)
    return token


def resend_email_change(client, address, htmx, token):
    return post(client, "/account/email/resend", {"csrf_token": token}, htmx=htmx)


STEPS = {
    "register": (None, register),
    "reset": (None, request_reset),
    # registering puts a browser on the code step; for a fresh address that made the account
    "resend-verification": (register, resend_verification),
    "resend-reset": (request_reset, resend_reset),
    "email-change": (log_in_member, change_email),
    "resend-email-change": (start_email_change, resend_email_change),
}
PASSWORD_CHECKED = {"register", "email-change"}  # one bcrypt hash or check, on every path


def run_step(app, step, address, *, htmx=False, observe=None):
    """A new browser through one step; returns (the answer, the page it leads to, seconds taken).
    ``observe``: a context manager around the timed request alone."""
    prepare, request = STEPS[step]
    client = app.test_client()
    token = csrf_token(client)  # the dialog opened: a visitor who only read has no session (issue #16)
    if prepare:
        prepared = prepare(client, address, htmx, token)
        token = prepared if isinstance(prepared, str) else token  # a step that logs in has a new token
    age_codes(app, minutes=61)  # no send throttle: every request does its whole work
    with observe or nullcontext():
        started = time.perf_counter()
        response = request(client, address, htmx, token)
        seconds = time.perf_counter() - started
    following = None
    if response.status_code == 303:
        following = client.get(response.headers["Location"], headers=HTMX if htmx else {})
    return response, following, seconds


@pytest.mark.parametrize("htmx", [False, True], ids=["page", "htmx"])
@pytest.mark.parametrize("step", STEPS)
def test_the_same_answer_whether_or_not_the_address_has_an_account(app, addresses, step, htmx):
    answers = {}
    for kind in KINDS:
        address = addresses(kind)
        response, following, _ = run_step(app, step, address, htmx=htmx)
        assert response.status_code in (200, 303), (kind, response.status_code)
        answers[kind] = (normalised(response, address), normalised(following, address))
        if kind == "unknown" and step in ("reset", "resend-reset"):
            assert outbox(app, address) == []  # no mail to an address without an account
    assert answers["verified"] == answers["unverified"] == answers["unknown"]


class Work:
    """What one request did: bcrypt hashes and checks, mails written, commits."""

    def __init__(self, app, monkeypatch):
        self.app, self.monkeypatch, self.counts = app, monkeypatch, Counter()

    def counting(self, name, function):
        def counted(*args, **kwargs):
            self.counts[name] += 1
            return function(*args, **kwargs)

        return counted

    @contextmanager
    def __call__(self):
        self.counts = Counter()
        with self.monkeypatch.context() as patch:
            patch.setattr(passwords.bcrypt, "hashpw", self.counting("bcrypt", passwords.bcrypt.hashpw))
            patch.setattr(passwords.bcrypt, "checkpw", self.counting("bcrypt", passwords.bcrypt.checkpw))

            def rendered(sender, template, context, **extra):
                if "/mail/" in (template.name or ""):
                    self.counts["mail templates"] += 1

            def committed(connection):
                self.counts["commits"] += 1

            def executed(connection, cursor, statement, parameters, context, executemany):
                # the catalogue cache looks once a second, by the clock (its version, the next publication)
                if "catalogue_version" not in statement and "min(stories.publish_at)" not in statement:
                    self.statements.append(" ".join(statement.split()))

            with self.app.app_context():
                engine = db.engine
            self.statements = []
            event.listen(engine, "commit", committed)
            event.listen(engine, "before_cursor_execute", executed)
            try:
                with template_rendered.connected_to(rendered, self.app):
                    yield
            finally:
                event.remove(engine, "commit", committed)
                event.remove(engine, "before_cursor_execute", executed)


@pytest.mark.parametrize("step", STEPS)
def test_the_same_work_whether_or_not_the_address_has_an_account(app, addresses, step, monkeypatch):
    """The same kind of work on every path, counted: so the test's cheap bcrypt cost cannot hide a
    path that skips it (or skips writing the mail)."""
    work, done = Work(app, monkeypatch), {}
    for kind in KINDS:
        run_step(app, step, addresses(kind), observe=work())
        done[kind] = dict(work.counts)
    assert done["verified"] == done["unverified"] == done["unknown"], done
    assert done["unknown"]["mail templates"] == 2 and done["unknown"]["commits"] == 1
    assert done["unknown"].get("bcrypt", 0) == (1 if step in PASSWORD_CHECKED else 0)


@pytest.mark.parametrize("step", [step for step in STEPS if step != "register"])
def test_the_same_sql_statements_whether_or_not_the_address_has_an_account(app, addresses, step, monkeypatch):
    """Issue #13, 10: reset and "Send new code" send the same statements, in the same order, to
    the database on every path (only their values differ): the code mail is written to the outbox
    for an address without an account too (and never sent), so no path is a write shorter."""
    work, done = Work(app, monkeypatch), {}
    for kind in KINDS:
        run_step(app, step, addresses(kind), observe=work())
        done[kind] = work.statements
    assert done["verified"] == done["unverified"] == done["unknown"], done
    assert any(statement.startswith("INSERT INTO outbox") for statement in done["unknown"])
    if step == "email-change":  # there the taken address's owner is mailed a notice: no stand-in mail
        return
    with app.app_context():  # what the unknown address's path wrote is never sent
        stand_ins = db.session.query(OutboxMessage).filter(OutboxMessage.kind == STAND_IN_MAIL).all()
        assert stand_ins and all(mail.failed_at is not None for mail in stand_ins)
        assert not set(outbox_pending_ids(utcnow())) & {mail.id for mail in stand_ins}


def medians(app, step, addresses, rounds):
    times = {kind: [] for kind in KINDS}
    order = random.Random(step)
    for _ in range(rounds):
        for kind in order.sample(KINDS, len(KINDS)):
            times[kind].append(run_step(app, step, addresses(kind))[2])
    return times


@pytest.mark.timing  # measured while no other test runs (make test's second part)
@pytest.mark.parametrize("step", STEPS)
def test_the_same_time_whether_or_not_the_address_has_an_account(app, addresses, step):
    """Medians of alternating requests within 20 %. On a busy machine the first batch may be
    noisy; up to two more batches are then added to the same sample (a real difference stays)."""
    for kind in KINDS:  # warm-up: templates compiled, connections open
        run_step(app, step, addresses(kind))
    times = {kind: [] for kind in KINDS}
    for _ in range(BATCHES):
        for kind, values in medians(app, step, addresses, ROUNDS).items():
            times[kind] += values
        middle = {kind: statistics.median(values) for kind, values in times.items()}
        if max(middle.values()) / min(middle.values()) <= TOLERANCE:
            break
    shown = {kind: f"{seconds * 1000:.2f} ms" for kind, seconds in middle.items()}
    assert max(middle.values()) / min(middle.values()) <= TOLERANCE, shown
