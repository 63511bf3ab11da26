"""Issuing, checking and voiding emailed codes (docs/security.md, Codes), against the real database."""

from datetime import timedelta

import pytest

from app.extensions import db
from app.flows import codes
from app.flows.codes import CodePolicy, Outcome, Source
from app.models import User, VerificationCode, utcnow

SECRET = "unit-test-secret"
POLICY = CodePolicy()


@pytest.fixture
def ctx(app):
    with app.app_context():
        yield


def make_user(email="ann@example.org"):
    user = User(
        email=email,
        password_hash="x",
        first_name="Ann",
        last_name="Lee",
        organisation="O",
        conditions_accepted_at=utcnow(),
    )
    db.session.add(user)
    db.session.commit()
    return user


def issue(user, now, address=None, purpose=codes.VERIFY, flow="flow-1", network="net-1"):
    code = codes.issue_code(
        address or user.email, purpose, user=user, source=Source(flow, network), secret=SECRET, policy=POLICY, now=now
    )
    db.session.commit()
    return code


def check(address, code, now, purpose=codes.VERIFY, flow="flow-1", network="net-1"):
    result = codes.check_code(
        address, purpose, code, source=Source(flow, network), secret=SECRET, policy=POLICY, now=now
    )
    db.session.commit()
    return result


def wrong(code):
    return f"{(int(code) + 1) % 1_000_000:06d}"


def test_generated_codes_are_six_digits_with_leading_zeros_kept():
    seen = {codes.generate_code() for _ in range(3000)}
    assert all(len(c) == 6 and c.isdigit() for c in seen)
    assert any(c.startswith("0") for c in seen)


def test_code_is_stored_only_as_a_keyed_hash(ctx):
    user, now = make_user(), utcnow()
    code = issue(user, now)
    record = db.session.query(VerificationCode).one()
    assert code not in record.code_hash
    assert record.code_hash == codes.hash_code(code, address=user.email, purpose="verify", secret=SECRET)
    assert record.code_hash != codes.hash_code(code, address=user.email, purpose="verify", secret="other")


def test_right_code_is_accepted_once(ctx):
    user, now = make_user(), utcnow()
    code = issue(user, now)
    assert check(user.email, code, now).outcome is Outcome.ACCEPTED
    assert check(user.email, code, now, flow="another-browser").outcome is Outcome.OTHER_BROWSER
    assert check(user.email, code, now + timedelta(minutes=30)).outcome is Outcome.USED


def test_same_browser_sending_the_right_code_twice_is_not_an_error(ctx):
    user, now = make_user(), utcnow()
    code = issue(user, now)
    assert check(user.email, code, now).ok
    again = check(user.email, code, now)
    assert again.outcome is Outcome.ALREADY_ACCEPTED
    assert again.user is None  # nothing to log in: only the first check hands out the account


def test_a_used_code_is_only_used_once_its_lifetime_is_over(ctx):
    user, now = make_user(), utcnow()
    code = issue(user, now)
    assert check(user.email, code, now).outcome is Outcome.ACCEPTED
    assert check(user.email, code, now + timedelta(minutes=31)).outcome is Outcome.USED


def test_code_expires_after_its_lifetime(ctx):
    user, now = make_user(), utcnow()
    code = issue(user, now)
    assert check(user.email, code, now + timedelta(minutes=30)).outcome is Outcome.EXPIRED
    assert check(user.email, code, now + timedelta(minutes=29, seconds=59)).outcome is Outcome.ACCEPTED


def test_code_dies_after_five_wrong_entries(ctx):
    user, now = make_user(), utcnow()
    code = issue(user, now)
    results = [check(user.email, wrong(code), now) for _ in range(5)]
    assert [r.attempts_left for r in results[:4]] == [4, 3, 2, 1]
    assert results[4].outcome is Outcome.EXHAUSTED
    assert check(user.email, code, now).outcome is Outcome.EXHAUSTED


def test_new_code_voids_the_previous_one(ctx):
    user, now = make_user(), utcnow()
    first = issue(user, now)
    second = issue(user, now + timedelta(seconds=61))
    later = now + timedelta(seconds=62)
    if first != second:
        assert check(user.email, first, later).outcome is Outcome.WRONG
    assert check(user.email, second, later).outcome is Outcome.ACCEPTED


def test_codes_only_work_in_the_flow_that_asked_for_them(ctx):
    user, now = make_user(), utcnow()
    code = issue(user, now, flow="asker")
    assert check(user.email, code, now, flow="someone-else").outcome is Outcome.OTHER_BROWSER
    assert check(user.email, code, now, flow="asker").outcome is Outcome.ACCEPTED


def test_codes_are_bound_to_their_purpose(ctx):
    user, now = make_user(), utcnow()
    code = issue(user, now, purpose=codes.RESET)
    assert check(user.email, code, now, purpose=codes.VERIFY).outcome is Outcome.NO_CODE
    assert check(user.email, code, now, purpose=codes.RESET).outcome is Outcome.ACCEPTED


def test_account_takes_at_most_twenty_wrong_entries_an_hour(ctx):
    user, now = make_user(), utcnow()
    for round_ in range(4):  # four codes, five wrong entries each, each from its own flow and network
        t, source = now + timedelta(minutes=2 * round_), {"flow": f"flow-{round_}", "network": f"net-{round_}"}
        issue(user, t, **source)
        for _ in range(5):
            check(user.email, "999999" if round_ % 2 else "888888", t, **source)
    t = now + timedelta(minutes=9)
    code = issue(user, t, flow="owner", network="net-owner")
    locked = check(user.email, code, t, flow="owner", network="net-owner")
    assert locked.outcome is Outcome.LOCKED
    assert locked.retry_at > t
    # once the wrong entries are more than an hour old, a new code works again
    later = now + timedelta(minutes=67)
    assert check(user.email, issue(user, later), later).outcome is Outcome.ACCEPTED


def test_one_flow_or_network_uses_at_most_ten_of_the_hours_wrong_entries(ctx):
    """Issue #13, 9: one source cannot use up the address's hourly cap; the owner still gets in."""
    user, now = make_user(), utcnow()
    for round_ in range(2):
        t = now + timedelta(minutes=2 * round_)
        issue(user, t, flow="attacker", network="net-attacker")
        for _ in range(5):
            check(user.email, "999999", t, flow="attacker", network="net-attacker")
    t = now + timedelta(minutes=5)
    for flow, network in (("attacker", "net-elsewhere"), ("new-flow", "net-attacker")):
        code = issue(user, t, flow=flow, network=network)
        assert check(user.email, "999999", t, flow=flow, network=network).outcome is Outcome.LOCKED
    code = issue(user, t, flow="owner", network="net-owner")
    assert check(user.email, code, t, flow="owner", network="net-owner").outcome is Outcome.ACCEPTED


def test_send_throttle_sixty_seconds_and_five_an_hour(ctx):
    user, now = make_user(), utcnow()
    address = user.email
    assert codes.send_blocked_until(address, now, POLICY) is None
    issue(user, now)
    assert codes.send_blocked_until(address, now + timedelta(seconds=59), POLICY) == now + timedelta(seconds=60)
    for i in range(1, 5):
        issue(user, now + timedelta(minutes=2 * i))
    blocked = codes.send_blocked_until(address, now + timedelta(minutes=10), POLICY)
    assert blocked == now + timedelta(hours=1)


def test_stand_in_codes_throttle_alike_and_match_nothing(ctx):
    now = utcnow()
    address = "nobody@example.org"
    assert (
        codes.issue_code(
            address, codes.VERIFY, user=None, source=Source("flow-1", "net-1"), secret=SECRET, policy=POLICY, now=now
        )
        is None
    )
    db.session.commit()
    assert codes.send_blocked_until(address, now, POLICY) is not None
    outcomes = {check(address, f"{n:06d}", now).outcome for n in range(5)}
    assert outcomes <= {Outcome.WRONG, Outcome.EXHAUSTED}
    assert check(address, "000000", now).outcome is Outcome.EXHAUSTED


def test_one_flow_or_network_gets_at_most_three_codes_an_hour_sent_to_an_address(ctx):
    """Issue #13, 9: the address's five an hour are not one source's to use up."""
    user, now = make_user(), utcnow()
    for minutes in (0, 2, 4):
        issue(user, now + timedelta(minutes=minutes), flow="attacker", network="net-a")
    t = now + timedelta(minutes=6)
    for flow, network in (("attacker", "net-b"), ("attacker-3", "net-a")):
        assert codes.send_blocked_until(user.email, t, POLICY, Source(flow, network)) == now + timedelta(hours=1)
    assert codes.send_blocked_until(user.email, t, POLICY, Source("owner", "net-owner")) is None


def test_plus_addresses_share_their_mailbox_s_throttle(ctx):
    """Issue #13, 19: pat+1@, pat+2@ ... are one mailbox: one code a minute, five an hour, in all."""
    now = utcnow()
    assert codes.mailbox_of("pat+news@example.org") == "pat@example.org"
    assert codes.mailbox_of("+pat@example.org") == "+pat@example.org"
    assert codes.mailbox_of("pat@example.org") == "pat@example.org"
    for n in range(5):
        t = now + timedelta(minutes=2 * n)
        address = f"pat+{n}@example.org"
        assert codes.send_blocked_until(address, t, POLICY) is None
        make_user(address)
        issue(db.session.query(User).filter_by(email=address).one(), t, flow=f"f{n}", network=f"n{n}")
        assert codes.send_blocked_until("pat+other@example.org", t + timedelta(seconds=30), POLICY) is not None
    t = now + timedelta(minutes=12)
    assert codes.send_blocked_until("pat@example.org", t, POLICY) == now + timedelta(hours=1)
    assert codes.send_blocked_until("pat+9@example.org", t, POLICY) == now + timedelta(hours=1)
    assert codes.send_blocked_until("patrick@example.org", t, POLICY) is None
