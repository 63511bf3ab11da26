"""Brute force against emailed codes (issue #7; docs/security.md, Codes).

The attacker asks for a password reset for Ann's address (the code goes to Ann) and guesses,
from many browsers and many IP addresses. The account's own caps hold without any rate limit:
a code dies after 5 wrong entries, an address takes at most 20 wrong entries an hour, after which
even the right code is refused. With rate limits on, the flood gets 429 as well, keyed by the
connection's address (REMOTE_ADDR): an X-Forwarded-For header changes nothing when no proxy is
configured. After the hour, Ann gets in with a fresh code.
"""

from __future__ import annotations

import random
from datetime import timedelta

import pytest

from app.extensions import db
from app.models import VerificationCode, WrongCodeEntry

from .helpers.portal import GOOD_PASSWORD, age_codes, csrf_token, outbox, post, register_and_verify
from .helpers.reset import NEW_PASSWORD, reset_code

ANN = "ann@example.org"
REFERER = {"Referer": "http://localhost/"}
EXHAUSTED = "entered wrongly too many times"
LOCKED = "Too many wrong codes for this address"


def wrong_guesses(rng: random.Random, right: str, count: int) -> list[str]:
    return [guess for guess in (f"{rng.randrange(1_000_000):06d}" for _ in range(count * 2)) if guess != right][:count]


def random_ip(rng: random.Random) -> str:
    return ".".join(str(rng.randrange(1, 255)) for _ in range(4))


class Attacker:
    """One reset flow for Ann's address, its session cookie copied into as many browsers as wanted."""

    def __init__(self, app, remote_addr="127.0.0.1"):
        self.app = app
        browser = app.test_client()
        response = browser.post(
            "/account/reset",
            data={"email": ANN, "csrf_token": csrf_token(browser)},
            headers=REFERER,
            environ_base={"REMOTE_ADDR": remote_addr},
        )
        assert response.status_code == 303
        self.token = csrf_token(browser)
        self.cookie = browser.get_cookie("session").value

    def browser(self):
        client = self.app.test_client()
        client.set_cookie("session", self.cookie)
        return client, self.token

    def guess(self, code, remote_addr, forwarded_for=None, browser=None):
        client, token = browser or self.browser()
        headers = {**REFERER, **({"X-Forwarded-For": forwarded_for} if forwarded_for else {})}
        return client.post(
            "/account/reset/code",
            data={"code": code, "csrf_token": token},
            headers=headers,
            environ_base={"REMOTE_ADDR": remote_addr},
        )


def wrong_entries(app) -> int:
    with app.app_context():
        return db.session.query(WrongCodeEntry).filter_by(address=ANN).count()


def newest_code_wrong_entries(app) -> int:
    with app.app_context():
        newest = db.session.query(VerificationCode).filter_by(address=ANN).order_by(VerificationCode.id.desc()).first()
        return newest.wrong_entries


def an_hour_passes(app):
    age_codes(app, minutes=61)
    with app.app_context():
        for entry in db.session.query(WrongCodeEntry):
            entry.at -= timedelta(minutes=61)
        db.session.commit()


def ann_resets_her_password(app):
    ann = app.test_client()
    assert post(ann, "/account/reset", {"email": ANN}).status_code == 303
    response = post(ann, "/account/reset/code", {"code": reset_code(app)})
    assert response.status_code == 303 and response.headers["Location"].endswith("/account/reset/password")
    response = post(ann, "/account/reset/password", {"password": NEW_PASSWORD, "confirm": NEW_PASSWORD})
    assert response.status_code == 303
    assert post(app.test_client(), "/account/login", {"email": ANN, "password": NEW_PASSWORD}).status_code == 303


def assert_not_in(app, attackers):
    """No attacker browser holds a reset grant, and Ann's password is still hers."""
    for attacker in attackers:
        page = attacker.browser()[0].get("/account/reset/password").get_data(as_text=True)
        assert "needs a code checked in this browser" in page
    assert post(app.test_client(), "/account/login", {"email": ANN, "password": GOOD_PASSWORD}).status_code == 303


@pytest.fixture
def ann(app):
    register_and_verify(app.test_client(), app, ANN)
    an_hour_passes(app)  # the verification mail no longer counts against the hourly send cap
    return ANN


NO_RATE_LIMITS = {"RATELIMIT_PER_IP": "1000000 per minute", "RATELIMIT_PER_ADDRESS": "1000000 per minute"}


@pytest.mark.parametrize("app_config", [NO_RATE_LIMITS])
def test_a_thousand_wrong_codes_from_many_browsers_and_ips_never_get_in(app, ann):
    """The account's caps alone (rate limits out of the way): five codes an hour (the send cap),
    200 wrong guesses at each, from 20 browsers on 20 IPs (and a random X-Forwarded-For)."""
    rng, attackers, guesses = random.Random(7), [], 0
    per_code, per_hour = app.config["CODE_MAX_WRONG_ENTRIES"], app.config["CODE_WRONG_ENTRIES_PER_HOUR"]
    for round_number in range(1, 6):
        age_codes(app, minutes=2)  # past the 60 s between sends; the wrong entries stay within the hour
        attacker = Attacker(app, f"203.0.113.{round_number}")  # one network asks for three codes at most
        attackers.append(attacker)
        right = reset_code(app)
        # ten copies of the flow's cookie, and ten browsers that asked for their own code a moment later
        copies = [attacker.browser() for _ in range(10)]
        late = [app.test_client() for _ in range(10)]
        for browser in late:
            post(browser, "/account/reset", {"email": ANN})  # throttled: no code of their own
        browsers = copies + [(browser, csrf_token(browser)) for browser in late]
        for index, code in enumerate(wrong_guesses(rng, right, 200)):
            response = attacker.guess(code, f"192.0.2.{index % 20 + 1}", random_ip(rng), browsers[index % 20])
            assert response.status_code == 422, (round_number, index, response.status_code)
            guesses += 1
        # the right code, from the flow that asked for it, after the caps have bitten
        response = attacker.guess(right, "192.0.2.99")
        assert response.status_code == 422
        if round_number < 5:
            assert newest_code_wrong_entries(app) == per_code  # the code died after 5
            assert wrong_entries(app) == per_code * round_number
        else:
            assert newest_code_wrong_entries(app) == 0  # nothing more is even counted
            assert wrong_entries(app) == per_hour
        # until the hour's cap is reached the code is dead; from then on the address is locked
        assert (EXHAUSTED if per_code * round_number < per_hour else LOCKED) in response.get_data(as_text=True)
    assert guesses == 1000
    assert_not_in(app, attackers)
    age_codes(app, minutes=2)
    Attacker(app)  # a sixth code within the hour is not sent: the send cap holds too
    assert len([m for m in outbox(app, ANN) if "reset" in m.subject]) == 5
    an_hour_passes(app)
    ann_resets_her_password(app)


def test_with_rate_limits_on_the_flood_gets_429_and_the_caps_still_hold(app, ann):
    """Default limits: 10 code entries a minute per address from one network (the per-address
    bucket is counted per source, so that nobody's flood fills the owner's); a flood spread over
    many networks is stopped by the code caps instead (the test above)."""
    rng = random.Random(11)
    attacker = Attacker(app)
    right = reset_code(app)
    statuses = []
    for code in wrong_guesses(rng, right, 40):
        response = attacker.guess(code, "10.0.0.1", random_ip(rng))
        statuses.append(response.status_code)
    assert statuses[:10] == [422] * 10
    assert set(statuses[10:]) == {429}
    assert "Too many attempts" in response.get_data(as_text=True)
    assert newest_code_wrong_entries(app) == app.config["CODE_MAX_WRONG_ENTRIES"]
    assert attacker.guess(right, "10.0.0.1").status_code == 429
    response = attacker.guess(right, "10.99.99.1")  # another network: the limit lets it through, the cap not
    assert response.status_code == 422 and EXHAUSTED in response.get_data(as_text=True)
    assert_not_in(app, [attacker])
    an_hour_passes(app)
    ann_resets_her_password(app)


@pytest.mark.parametrize("app_config", [{"RATELIMIT_PER_ADDRESS": "100000 per minute"}])
def test_x_forwarded_for_does_not_change_the_client_ip(app, ann):
    """Without a proxy configured, the per-IP limit (30 a minute) counts REMOTE_ADDR, never the header."""
    rng = random.Random(13)
    attacker = Attacker(app)
    right = reset_code(app)
    statuses = [
        attacker.guess(code, "203.0.113.5", random_ip(rng)).status_code for code in wrong_guesses(rng, right, 40)
    ]
    assert statuses[:30] == [422] * 30 and set(statuses[30:]) == {429}
    assert attacker.guess("000000", "203.0.113.6", "203.0.113.5").status_code == 422
    assert wrong_entries(app) <= app.config["CODE_WRONG_ENTRIES_PER_HOUR"]


@pytest.mark.parametrize("app_config", [NO_RATE_LIMITS])
def test_one_attacker_cannot_lock_the_owner_out_of_recovery(app, ann):
    """Issue #13, 9: from one network and one flow, three resends and twenty wrong codes used to
    take all five code mails of the hour and all twenty wrong entries: Ann could not reset her
    password for an hour. Now one source gets three codes and ten wrong entries; Ann gets in."""
    rng, network = random.Random(17), "203.0.113.9"
    attacker = Attacker(app, network)
    for _ in range(4):
        right = reset_code(app)
        for code in wrong_guesses(rng, right, 5):
            attacker.guess(code, network)
        age_codes(app, minutes=2)
        client, token = attacker.browser()
        client.post(
            "/account/reset/code/resend",
            data={"csrf_token": token},
            headers=REFERER,
            environ_base={"REMOTE_ADDR": network},
        )
    assert len([m for m in outbox(app, ANN) if "reset" in m.subject]) == 3
    assert wrong_entries(app) == 10
    assert LOCKED in attacker.guess("000000", "198.51.100.99").get_data(as_text=True)  # the flow is spent
    ann_resets_her_password(app)


def test_a_flood_of_posts_for_annes_address_does_not_lock_her_out_of_recovery(app, ann):
    """With the default limits, an attacker's flood of reset requests and codes for Ann's address
    gets 429 from its own network, but fills no bucket that Ann's posts count in: from her own
    network she asks for a code, enters it and sets a new password (before: 60 POSTs in the hour
    locked every reset step of her address for everyone)."""
    attacker_network = "203.0.113.77"
    flood = app.test_client()
    statuses = [
        flood.post(
            "/account/reset",
            data={"email": ANN, "csrf_token": csrf_token(flood)},
            headers=REFERER,
            environ_base={"REMOTE_ADDR": attacker_network},
        ).status_code
        for _ in range(12)
    ]
    assert statuses[:10] == [303] * 10 and statuses[10:] == [429, 429]
    attacker = Attacker(app, "198.51.100.77")
    codes = [attacker.guess(f"{n:06d}", "198.51.100.77").status_code for n in range(12)]
    assert codes[-1] == 429
    age_codes(app, minutes=2)  # past the send interval of the attacker's last code
    ann_resets_her_password(app)
