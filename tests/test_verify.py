"""The code step, "Send new code", and the welcome step
(docs/accounts.md, Verify the address; Welcome and newsletter)."""

from app.extensions import db
from app.models import User, VerificationCode

from .helpers.portal import GOOD_PASSWORD, HTMX, age_codes, csrf_token, last_code, outbox, post, registration


def user(app, email="ann@example.org"):
    with app.app_context():
        return db.session.query(User).filter_by(email=email).one()


def errors(response):
    import re

    return re.findall(r'class="error"[^>]*>([^<]+)', response.get_data(as_text=True))


def test_right_code_verifies_logs_in_and_welcomes(client, app):
    post(client, "/account/register", registration())
    response = post(client, "/account/verify", {"code": last_code(app, "ann@example.org")})
    assert response.status_code == 303 and response.headers["Location"].endswith("/account/welcome")
    assert user(app).verified_at is not None
    page = client.get("/account/welcome").get_data(as_text=True)
    assert "You have successfully created your account" in page
    assert "From now on you can download videos from our website" in page
    assert "Subscribe to our newsletter" in page
    assert (
        "If you would also like to subscribe to the newsletter and receive our latest updates, click on the button below."  # noqa: E501 (the message whole, as people read it)
        in page
    )
    assert 'href="/conditions"' in page  # back to the page the dialog was opened from
    assert "Ann Lee" in page  # the header shows the logged-in person


def test_code_typed_with_spaces_or_a_dash_is_accepted(client, app):
    post(client, "/account/register", registration())
    code = last_code(app, "ann@example.org")
    response = post(client, "/account/verify", {"code": f" {code[:3]} {code[3:]} "})
    assert response.status_code == 303


def test_wrong_code_says_so_next_to_the_field(client, app):
    post(client, "/account/register", registration())
    code = last_code(app, "ann@example.org")
    wrong = f"{(int(code) + 1) % 1000000:06d}"
    response = post(client, "/account/verify", {"code": wrong}, htmx=True)
    assert response.status_code == 422
    assert errors(response) == [
        "That code is not correct. Check the email and try again. You have 4 more attempts with this code."
    ]
    assert 'aria-invalid="true"' in response.get_data(as_text=True)


def test_malformed_codes_get_a_format_message_and_do_not_count(client, app):
    post(client, "/account/register", registration())
    for typed in ("12345", "1234567", "12a456", "abcdef", "", " ", "１２３４５６", "12345\x00"):
        response = post(client, "/account/verify", {"code": typed})
        assert response.status_code == 422, typed
        assert errors(response) in (
            ["The code is 6 digits (numbers only), as in the email."],
            ["Enter the 6-digit code from the email."],
        ), typed
    with app.app_context():
        assert db.session.query(VerificationCode).one().wrong_entries == 0


def test_expired_code_is_named_as_expired(client, app):
    post(client, "/account/register", registration())
    age_codes(app, minutes=31)
    response = post(client, "/account/verify", {"code": last_code(app, "ann@example.org")})
    assert "This code has expired" in errors(response)[0]


def test_used_code_replayed_from_another_browser(client, app):
    post(client, "/account/register", registration())
    code = last_code(app, "ann@example.org")
    post(client, "/account/verify", {"code": code})
    other = app.test_client()
    with other.session_transaction() as session:  # another browser claims the same flow
        session["account_flow"] = {"id": "other", "address": "ann@example.org", "purpose": "verify"}
    response = post(other, "/account/verify", {"code": code})
    assert "A newer code was asked for in another browser" in errors(response)[0]
    assert "Log out" not in other.get("/").get_data(as_text=True)


def logged_in(client) -> bool:
    return "Log out" in client.get("/").get_data(as_text=True)


def test_double_submit_of_the_right_code_welcomes_twice(client, app):
    post(client, "/account/register", registration())
    code = last_code(app, "ann@example.org")
    with client.session_transaction() as session:
        before = dict(session)
    first = post(client, "/account/verify", {"code": code})
    logged_in_cookie = client.get_cookie("session").value
    with client.session_transaction() as session:  # the second click carries the old cookie
        session.clear()
        session.update(before)
    old_cookie = client.get_cookie("session").value
    second = post(client, "/account/verify", {"code": code})
    assert first.status_code == second.status_code == 303
    assert second.headers["Location"].endswith("/account/welcome")
    # the second answer leaves the browser the cookie of the first one (it sets none of its own)
    assert "Set-Cookie" not in second.headers
    client.set_cookie("session", logged_in_cookie)
    assert "You have successfully created your account" in client.get("/account/welcome").get_data(as_text=True)
    # a browser that only ever got the second answer is welcomed to a log-in, not logged in
    late = app.test_client()
    late.set_cookie("session", old_cookie)
    assert post(late, "/account/verify", {"code": code}).status_code == 303
    assert not logged_in(late)
    assert late.get("/account/welcome").headers["Location"].startswith("/account/login")


def test_a_used_code_never_logs_anyone_in_again(client, app):
    """Issue #13, 1: a copy of the registering browser's cookie, replayed with the used code after
    the owner logged out and changed the password, and after the code's lifetime."""
    from .helpers.reset import NEW_PASSWORD, full_reset

    post(client, "/account/register", registration())
    code = last_code(app, "ann@example.org")
    copied = client.get_cookie("session").value
    assert post(client, "/account/verify", {"code": code}).status_code == 303
    post(client, "/account/logout")
    age_codes(app, minutes=2)
    assert full_reset(app.test_client(), app).headers["Location"].endswith("/account/reset/done")
    for minutes in (0, 31):
        age_codes(app, minutes=minutes)
        thief = app.test_client()
        thief.set_cookie("session", copied)
        response = post(thief, "/account/verify", {"code": code})
        assert not logged_in(thief), minutes
        if response.status_code == 303:
            assert thief.get(response.headers["Location"]).status_code == 303  # the welcome step wants a log-in
    assert (
        post(app.test_client(), "/account/login", {"email": "ann@example.org", "password": NEW_PASSWORD}).status_code
        == 303
    )


def test_five_wrong_entries_kill_the_code(client, app):
    post(client, "/account/register", registration())
    code = last_code(app, "ann@example.org")
    wrong = f"{(int(code) + 1) % 1000000:06d}"
    for _ in range(5):
        response = post(client, "/account/verify", {"code": wrong})
    assert "entered wrongly too many times" in errors(response)[0]
    response = post(client, "/account/verify", {"code": code})
    assert "entered wrongly too many times" in errors(response)[0]
    assert user(app).verified_at is None


def test_verify_without_a_registration_in_progress(client, app):
    response = post(client, "/account/verify", {"code": "123456"})
    assert response.status_code == 409
    assert "No registration or log-in in this browser is waiting for a code" in response.get_data(as_text=True)
    page = client.get("/account/verify")
    assert page.status_code == 303 and "/account/login" in page.headers["Location"]
    partial = client.get("/account/verify", headers=HTMX)
    assert partial.headers["HX-Redirect"] == "/account/login" and partial.get_data() == b""


def test_send_new_code_waits_sixty_seconds_then_voids_the_old_code(client, app):
    post(client, "/account/register", registration())
    first = last_code(app, "ann@example.org")
    response = post(client, "/account/verify/resend", htmx=True)
    assert response.status_code == 429
    assert "You can ask for a new code in" in response.get_data(as_text=True)
    assert len(outbox(app, "ann@example.org")) == 1
    age_codes(app, minutes=2)
    response = post(client, "/account/verify/resend", htmx=True)
    assert response.status_code == 200
    assert "We have sent a new code." in response.get_data(as_text=True)
    assert len(outbox(app, "ann@example.org")) == 2
    second = last_code(app, "ann@example.org")
    if first != second:
        assert errors(post(client, "/account/verify", {"code": first}))
    assert post(client, "/account/verify", {"code": second}).status_code == 303


def resend_from(client, remote_addr):
    return client.post(
        "/account/verify/resend",
        data={"csrf_token": csrf_token(client)},
        headers={"Referer": "http://localhost/"},
        environ_base={"REMOTE_ADDR": remote_addr},
    )


def test_at_most_five_codes_an_hour_and_three_for_one_browser_or_network(client, app):
    """Five an hour to the address; one browser flow, or one network, gets three of them, so that
    whoever asks over and over for someone else's address leaves its owner two (issue #13, 9)."""
    post(client, "/account/register", registration())
    for _ in range(2):
        age_codes(app, minutes=2)
        assert resend_from(client, "192.0.2.1").status_code == 200
    age_codes(app, minutes=2)
    response = resend_from(client, "192.0.2.2")  # the same flow from elsewhere: its three are used
    assert response.status_code == 429 and "minutes" in response.get_data(as_text=True)
    others = [app.test_client() for _ in range(3)]
    for n, other in enumerate(others):  # log-ins of the unverified account from elsewhere
        age_codes(app, minutes=2)
        other.post(
            "/account/login",
            data={"email": "ann@example.org", "password": GOOD_PASSWORD, "csrf_token": csrf_token(other)},
            headers={"Referer": "http://localhost/"},
            environ_base={"REMOTE_ADDR": f"198.51.100.{n}"},
        )
    age_codes(app, minutes=2)
    response = resend_from(others[-1], "198.51.100.2")
    assert response.status_code == 429 and "minutes" in response.get_data(as_text=True)
    assert len(outbox(app, "ann@example.org")) == 5


def test_welcome_needs_a_login(client):
    response = client.get("/account/welcome")
    assert response.status_code == 303 and "/account/login?next=/account/welcome" in response.headers["Location"]
    partial = client.get("/account/welcome", headers=HTMX)
    assert partial.headers["HX-Redirect"].startswith("/account/login") and partial.get_data() == b""


def test_newsletter_button_records_the_wish_and_confirms_in_place(client, app):
    post(client, "/account/register", registration())
    post(client, "/account/verify", {"code": last_code(app, "ann@example.org")})
    response = post(client, "/newsletter/subscribe", htmx=True)
    body = response.get_data(as_text=True)
    assert body.lstrip().startswith('<div id="newsletter-offer"')
    assert "You are subscribed to our newsletter" in body
    assert user(app).newsletter_opt_in_at is not None
    assert user(app).newsletter_opt_in_source == "welcome"
    # without JavaScript the welcome step comes back (after a 303, so a reload sends nothing twice)
    full = post(client, "/newsletter/subscribe")
    assert full.status_code == 303 and full.headers["Location"] == "/account/welcome"
    page = client.get(full.headers["Location"]).get_data(as_text=True)
    assert "<html" in page and "You are subscribed" in page


def test_newsletter_needs_a_login(client):
    response = post(client, "/newsletter/subscribe", htmx=True)
    assert response.headers["HX-Redirect"].startswith("/account/login")


def test_a_verification_code_only_works_in_the_browser_flow_that_asked_for_it(app):
    """Issue #13, 8: a second registration of the same address within the send interval starts a
    flow in another browser; the first browser's code does nothing there."""
    first, second = app.test_client(), app.test_client()
    post(first, "/account/register", registration())
    code = last_code(app, "ann@example.org")
    assert (
        post(
            second, "/account/register", registration(password="Other-Harbour-43!", confirm="Other-Harbour-43!")
        ).status_code
        == 303
    )
    response = post(second, "/account/verify", {"code": code})
    assert response.status_code == 422
    assert "A newer code was asked for in another browser" in errors(response)[0]
    assert "Log out" not in second.get("/").get_data(as_text=True)
    assert user(app).verified_at is None
    assert post(first, "/account/verify", {"code": code}).status_code == 303
