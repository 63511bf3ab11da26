"""Password reset by emailed code (docs/accounts.md, Reset; docs/security.md, Codes)."""

import re

import pytest

from app.extensions import db
from app.models import User, VerificationCode

from .helpers.portal import GOOD_PASSWORD, HTMX, age_codes, last_code, outbox, post, register_and_verify, registration
from .helpers.reset import NEW_PASSWORD, full_reset, login, reset_code, start_reset


@pytest.fixture
def ann(app):
    register_and_verify(app.test_client(), app)
    age_codes(app, minutes=2)  # past the send throttle of the verification mail
    return "ann@example.org"


def test_reset_step_texts(client):
    body = client.get("/account/reset", headers=HTMX).get_data(as_text=True)
    assert "Reset password" in body
    assert "Enter the email address you registered with and we will send you a code to reset your password." in body
    login_step = client.get("/account/login").get_data(as_text=True)
    assert "Forgot your password?" in login_step and "/account/reset" in login_step


def test_whole_reset_by_code(client, app, ann):
    response = start_reset(client)
    assert response.status_code == 303 and response.headers["Location"].endswith("/account/reset/code")
    page = client.get("/account/reset/code").get_data(as_text=True)
    assert "Check your inbox and enter the reset code" in page and "Send new code" in page
    response = post(client, "/account/reset/code", {"code": reset_code(app)})
    assert response.headers["Location"].endswith("/account/reset/password")
    page = client.get("/account/reset/password").get_data(as_text=True)
    assert "Create a new password" in page
    assert (
        "The password must be at least 12 characters long, no spaces, include upper/lowercase letters, numbers and symbols."  # noqa: E501 (the message whole, as people read it)
        in page
    )
    response = post(client, "/account/reset/password", {"password": NEW_PASSWORD, "confirm": NEW_PASSWORD})
    assert response.headers["Location"].endswith("/account/reset/done")
    done = client.get("/account/reset/done").get_data(as_text=True)
    assert "Your password has been updated" in done
    assert "Click the button to return to the page you were on and log in with your new password." in done
    assert 'href="/account/login?next=/conditions"' in done
    assert "Log out" not in done  # a reset never logs the person in
    assert login(client, GOOD_PASSWORD).status_code == 422
    assert login(client, NEW_PASSWORD).status_code == 303
    notice = outbox(app, "ann@example.org")[-1]
    assert "password was changed" in notice.subject
    assert NEW_PASSWORD not in notice.body_text and NEW_PASSWORD not in notice.body_html


def test_unverified_account_gets_a_code_and_is_verified_by_the_reset(client, app):
    post(app.test_client(), "/account/register", registration())
    age_codes(app, minutes=2)
    full_reset(client, app)
    with app.app_context():
        assert db.session.query(User).one().verified_at is not None


def test_reset_codes_and_verification_codes_do_not_mix(client, app):
    post(client, "/account/register", registration())
    verification = last_code(app, "ann@example.org")
    age_codes(app, minutes=2)
    start_reset(client)
    response = post(client, "/account/reset/code", {"code": verification})
    if verification != reset_code(app):
        assert response.status_code == 422
    # and a reset code does nothing in the verification step
    other = app.test_client()
    post(other, "/account/login", {"email": "ann@example.org", "password": GOOD_PASSWORD})
    response = post(other, "/account/verify", {"code": reset_code(app)})
    assert response.status_code in (422, 429)


def test_new_password_step_cannot_be_skipped(client, app, ann):
    assert "needs a code checked in this browser" in client.get("/account/reset/password").get_data(as_text=True)
    start_reset(client)
    response = post(client, "/account/reset/password", {"password": NEW_PASSWORD, "confirm": NEW_PASSWORD})
    assert response.status_code == 409
    assert login(app.test_client(), GOOD_PASSWORD).status_code == 303  # unchanged


def test_the_grant_works_once(client, app, ann):
    start_reset(client)
    post(client, "/account/reset/code", {"code": reset_code(app)})
    with client.session_transaction() as session:
        saved = dict(session)
    assert (
        post(client, "/account/reset/password", {"password": NEW_PASSWORD, "confirm": NEW_PASSWORD}).status_code == 303
    )
    with client.session_transaction() as session:  # replay the form with the cookie from before
        session.clear()
        session.update(saved)
    response = post(
        client, "/account/reset/password", {"password": "Other-Password-55#", "confirm": "Other-Password-55#"}
    )
    assert response.status_code == 409
    assert login(app.test_client(), NEW_PASSWORD).status_code == 303


def test_the_grant_expires_after_thirty_minutes(client, app, ann):
    start_reset(client)
    post(client, "/account/reset/code", {"code": reset_code(app)})
    with client.session_transaction() as session:
        session["reset_grant"]["issued_at"] -= 31 * 60
        session.modified = True
    response = post(client, "/account/reset/password", {"password": NEW_PASSWORD, "confirm": NEW_PASSWORD})
    assert response.status_code == 409


def test_code_from_another_browser_is_refused_there(app, ann):
    asker, other = app.test_client(), app.test_client()
    start_reset(asker)
    code = reset_code(app)
    response = post(other, "/account/reset/code", {"code": code})
    assert response.status_code == 409
    assert "If you asked for the code in another browser, enter it there" in response.get_data(as_text=True)
    assert post(asker, "/account/reset/code", {"code": code}).status_code == 303


def test_an_older_browser_flow_is_told_a_newer_code_exists(app, ann):
    first, second = app.test_client(), app.test_client()
    start_reset(first)
    first_code = reset_code(app)
    age_codes(app, minutes=2)
    start_reset(second)
    response = post(first, "/account/reset/code", {"code": first_code})
    assert "A newer code was asked for in another browser" in response.get_data(as_text=True)


def test_new_password_equal_to_the_old_is_refused(client, app, ann):
    response = full_reset(client, app, password=GOOD_PASSWORD)
    assert response.status_code == 422
    assert "must be different from your current password" in response.get_data(as_text=True)


def test_policy_applies_and_names_the_rule(client, app, ann):
    response = full_reset(client, app, password="short")
    assert "at least 12 characters" in response.get_data(as_text=True)
    long = "Aa1!" + "ü" * 100  # 204 bytes: past bcrypt's 72
    assert post(client, "/account/reset/password", {"password": long, "confirm": long}).status_code == 303
    assert login(app.test_client(), long).status_code == 303


def test_reset_ends_every_session_and_remember_cookie_and_voids_codes(app, ann):
    old = app.test_client()
    login(old, GOOD_PASSWORD)
    post(old, "/account/login", {"email": ann, "password": GOOD_PASSWORD, "remember": "y"})
    assert "Log out" in old.get("/").get_data(as_text=True)
    resetter = app.test_client()
    start_reset(resetter)
    post(resetter, "/account/reset/code", {"code": reset_code(app)})
    # a second code asked meanwhile from elsewhere must die with the reset
    post(resetter, "/account/reset/password", {"password": NEW_PASSWORD, "confirm": NEW_PASSWORD})
    assert "Log out" not in old.get("/").get_data(as_text=True)
    old.delete_cookie("session")
    assert "Log out" not in old.get("/").get_data(as_text=True)
    with app.app_context():
        assert all(c.used_at or c.voided_at for c in db.session.query(VerificationCode))


def test_fifty_reset_requests_in_a_minute_send_one_mail(app, ann):
    client = app.test_client()
    statuses = [start_reset(client).status_code for _ in range(50)]
    assert statuses.count(303) <= 10 and 429 in statuses
    assert len([m for m in outbox(app, ann) if "reset" in m.subject]) == 1
    limited = start_reset(client, htmx=True)
    assert limited.status_code == 429 and "Too many attempts" in limited.get_data(as_text=True)


def test_throttled_code_step_says_when_a_new_code_is_possible(client, app, ann):
    start_reset(client)
    response = post(client, "/account/reset/code/resend", htmx=True)
    assert response.status_code == 429
    said = re.sub(r"<[^>]+>", "", response.get_data(as_text=True))  # the seconds are in a countdown <span>
    assert re.search(r"You can ask for a new code in \d+ seconds", said)


@pytest.mark.parametrize("email", ["nobody\x00@example.org", "ñandú@ジャパン.example", "a" * 300, "x@y"])
def test_odd_addresses_get_a_clear_answer(client, app, email):
    response = start_reset(client, email)
    assert response.status_code in (303, 422)
    if response.status_code == 422:
        assert 'id="email-error"' in response.get_data(as_text=True)
    assert outbox(app) == []


def test_wrong_step_posts(client):
    assert post(client, "/account/reset/code", {"code": "123456"}).status_code == 409
    assert post(client, "/account/reset/code/resend").status_code == 303
    assert client.get("/account/reset/code", headers=HTMX).headers["HX-Redirect"] == "/account/reset"


def test_a_held_back_code_is_not_claimed_as_sent(app, ann):
    for address in ("ann@example.org", "nobody@example.org"):
        client = app.test_client()
        start_reset(client, address)
        age_codes(app, minutes=0)
        client = app.test_client()
        body = start_reset(client, address, follow=True).get_data(as_text=True)
        # another browser's code does not work here: the step says no code was sent for it
        assert "We have not sent a code to reset your password yet" in body, address
        assert "We have sent a code to reset your password" not in body


def test_double_click_on_reset_password_without_javascript(client, app, ann):
    client.get("/account/reset")  # the form is shown first, as in a browser
    with client.session_transaction() as session:
        before = dict(session)
    start_reset(client)  # first click: a code is mailed
    with client.session_transaction() as session:  # second click carried the same old cookie
        session.clear()
        session.update(before)
    start_reset(client)  # throttled: no second code
    response = post(client, "/account/reset/code", {"code": reset_code(app)})
    assert response.status_code == 303, response.get_data(as_text=True)
