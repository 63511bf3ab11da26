"""Guesses sent at once (issue #13, 11): the consume and the caps are one atomic step.

Real threads, each with its own database connection, against the file SQLite and PostgreSQL of
the ``app`` fixture. Checking a guess is made slow on purpose (a sleep in the hash), so that
without a lock every guess would read the code before any other had counted.
"""

from __future__ import annotations

import threading
import time
from datetime import timedelta

import pytest

from app.extensions import db
from app.flows import codes
from app.models import OutboxMessage, VerificationCode, WrongCodeEntry, utcnow

from .helpers.portal import csrf_token, post, register_and_verify
from .helpers.reset import reset_code

ANN = "ann@example.org"
NO_RATE_LIMITS = {"RATELIMIT_PER_IP": "1000000 per minute", "RATELIMIT_PER_ADDRESS": "1000000 per minute"}


@pytest.fixture
def app_config():
    return NO_RATE_LIMITS


class SlowChecks:
    """Counts the guesses actually compared with the code, each taking a while."""

    def __init__(self, monkeypatch):
        self.compared, self._lock = 0, threading.Lock()
        original = codes.hash_code

        def slow_hash(*args, **kwargs):
            with self._lock:
                self.compared += 1
            time.sleep(0.05)
            return original(*args, **kwargs)

        monkeypatch.setattr(codes, "hash_code", slow_hash)


def reset_flow(app):
    """A reset flow for Ann; returns its cookie and CSRF token, to be copied into many browsers."""
    register_and_verify(app.test_client(), app, ANN)
    an_hour_passes(app)
    browser = app.test_client()
    assert post(browser, "/account/reset", {"email": ANN}).status_code == 303
    return browser.get_cookie("session").value, csrf_token(browser)


def an_hour_passes(app):
    with app.app_context():
        for record in db.session.query(VerificationCode):
            record.created_at -= timedelta(minutes=61)
            record.expires_at -= timedelta(minutes=61)
        db.session.commit()


def guess_at_once(app, cookie, token, guesses, remote_addrs=None):
    """Every guess from its own browser and thread, released together."""
    barrier, statuses = threading.Barrier(len(guesses)), [None] * len(guesses)

    def guess(index, code):
        client = app.test_client()
        client.set_cookie("session", cookie)
        addr = remote_addrs[index] if remote_addrs else "192.0.2.1"
        barrier.wait()
        statuses[index] = client.post(
            "/account/reset/code",
            data={"code": code, "csrf_token": token},
            headers={"Referer": "http://localhost/"},
            environ_base={"REMOTE_ADDR": addr},
        ).status_code

    threads = [threading.Thread(target=guess, args=(n, code)) for n, code in enumerate(guesses)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    return statuses


def wrong_guesses(right, count):
    return [f"{(int(right) + n) % 1_000_000:06d}" for n in range(1, count + 1)]


def counts(app):
    with app.app_context():
        newest = db.session.query(VerificationCode).filter_by(address=ANN).order_by(VerificationCode.id.desc()).first()
        return newest.wrong_entries, db.session.query(WrongCodeEntry).filter_by(address=ANN).count()


def test_twelve_guesses_at_once_on_one_flow_admit_five(app, monkeypatch):
    cookie, token = reset_flow(app)
    right = reset_code(app)
    checks = SlowChecks(monkeypatch)
    statuses = guess_at_once(app, cookie, token, wrong_guesses(right, 12))
    assert statuses == [422] * 12
    assert checks.compared <= app.config["CODE_MAX_WRONG_ENTRIES"]
    assert counts(app) == (5, 5)


def test_the_hourly_cap_holds_for_guesses_sent_at_once(app, monkeypatch):
    cookie, token = reset_flow(app)
    right = reset_code(app)
    with app.app_context():  # 18 wrong entries for Ann already this hour
        db.session.add_all(WrongCodeEntry(address=ANN, at=utcnow() - timedelta(minutes=5)) for _ in range(18))
        db.session.commit()
    checks = SlowChecks(monkeypatch)
    statuses = guess_at_once(app, cookie, token, wrong_guesses(right, 5))
    assert statuses == [422] * 5
    assert checks.compared == 2
    assert counts(app) == (2, 20)


def test_the_reset_grant_works_once_for_forms_sent_at_once(app):
    """Two new-password forms with one grant, sent at once: one password is set, once."""
    from .helpers.reset import login

    cookie, token = reset_flow(app)
    client = app.test_client()
    client.set_cookie("session", cookie)
    assert post(client, "/account/reset/code", {"code": reset_code(app), "csrf_token": token}).status_code == 303
    granted = client.get_cookie("session").value
    passwords = [f"Green-Valley-{n:02d}?" for n in range(6)]
    barrier, statuses = threading.Barrier(len(passwords)), {}

    def submit(password):
        browser = app.test_client()
        browser.set_cookie("session", granted)
        barrier.wait()
        statuses[password] = browser.post(
            "/account/reset/password",
            headers={"Referer": "http://localhost/"},
            data={"password": password, "confirm": password, "csrf_token": token},
        ).status_code

    threads = [threading.Thread(target=submit, args=(password,)) for password in passwords]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    winners = [password for password, status in statuses.items() if status == 303]
    assert len(winners) == 1 and sorted(statuses.values()) == [303] + [409] * 5, statuses
    assert login(app.test_client(), winners[0]).status_code == 303
    with app.app_context():
        notices = db.session.query(OutboxMessage).filter(OutboxMessage.subject.like("%password was changed%")).count()
    assert notices == 1
