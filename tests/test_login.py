"""Log in / log out (docs/accounts.md, Log in; Log out) and sessions (docs/security.md, Sessions and cookies)."""

import bcrypt
import pytest

from app.extensions import db
from app.models import User

from .helpers.logins import copy_of, logged_in
from .helpers.portal import GOOD_PASSWORD, HTMX, csrf_token, last_code, outbox, post, register_and_verify, registration


def login(client, email="ann@example.org", password=GOOD_PASSWORD, htmx=False, **extra):
    return post(
        client, "/account/login", {"email": email, "password": password, "next": "/conditions", **extra}, htmx=htmx
    )


@pytest.fixture
def ann(app):
    register_and_verify(app.test_client(), app)
    return "ann@example.org"


def test_login_page_has_the_fields_and_the_links(client):
    body = client.get("/account/login?next=/conditions", headers=HTMX).get_data(as_text=True)
    for text in ("Log in", "Email address", "Password", "Keep me logged in on this device", "Create an account"):
        assert text in body
    assert "next=/conditions" in body or "next=%2Fconditions" in body


def test_login_goes_back_to_the_page_you_were_on(client, ann):
    response = login(client)
    assert response.status_code == 303 and response.headers["Location"] == "/conditions"
    assert "Ann Lee" in client.get("/conditions").get_data(as_text=True)


def test_htmx_login_leaves_the_dialog_with_hx_redirect(client, ann):
    response = login(client, htmx=True)
    assert response.headers["HX-Redirect"] == "/conditions"
    assert response.get_data() == b""


def test_email_is_matched_case_insensitively_after_trimming(client, ann):
    assert login(client, email="  ANN@Example.org ").status_code == 303


@pytest.mark.parametrize(
    "email, password",
    [
        ("ann@example.org", "Wrong-Password-1!"),
        ("nobody@example.org", GOOD_PASSWORD),
        ("not-an-address", GOOD_PASSWORD),
        ("ann@example.org", "x" * 2000),
    ],
)
def test_every_failure_says_the_same(client, ann, email, password):
    response = login(client, email=email, password=password, htmx=True)
    assert response.status_code == 422
    assert "Email or password is incorrect." in response.get_data(as_text=True)
    assert 'value="' + email + '"' in response.get_data(as_text=True) or len(email) > 300


def test_unknown_address_still_runs_bcrypt(client, monkeypatch):
    calls = []
    real = bcrypt.checkpw
    monkeypatch.setattr(bcrypt, "checkpw", lambda *args: calls.append(1) or real(*args))
    login(client, email="nobody@example.org")
    assert calls == [1]


def test_unverified_account_is_taken_to_the_code_step_with_a_fresh_code(client, app):
    post(app.test_client(), "/account/register", registration())
    from .helpers.portal import age_codes

    age_codes(app, minutes=2)
    response = login(client)
    assert response.status_code == 303 and "/account/verify" in response.headers["Location"]
    assert len(outbox(app, "ann@example.org")) == 2
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "Your email address is not verified yet" in page
    assert post(client, "/account/verify", {"code": last_code(app, "ann@example.org")}).status_code == 303


def test_login_renews_the_session(client, ann):
    client.get("/")
    token_before = csrf_token(client)
    with client.session_transaction() as session:
        session["planted"] = "by an attacker"
    login(client)
    with client.session_transaction() as session:
        assert "planted" not in session
        assert session["_user_id"].startswith("1:")
    assert csrf_token(client) != token_before


def test_remember_me_sets_a_lasting_http_only_cookie(client, ann):
    login(client, remember="y")
    cookie = client.get_cookie("remember_token")
    assert cookie is not None and cookie.http_only and cookie.expires is not None
    login(app_client := client.application.test_client())
    assert app_client.get_cookie("remember_token") is None


def test_session_cookie_flags(client, ann):
    response = login(client)
    cookies = response.headers.getlist("Set-Cookie")
    session_cookie = next(c for c in cookies if c.startswith("session="))
    assert "HttpOnly" in session_cookie and "SameSite=Lax" in session_cookie


def test_rotating_the_session_token_ends_sessions_and_remember_cookies(client, app, ann):
    login(client, remember="y")
    assert "Log out" in client.get("/").get_data(as_text=True)
    with app.app_context():
        user = db.session.query(User).one()
        user.session_token = "rotated"
        db.session.commit()
    assert "Log out" not in client.get("/").get_data(as_text=True)
    client.delete_cookie("session")
    assert "Log out" not in client.get("/").get_data(as_text=True)  # remember cookie refused too


def test_logout_is_a_post(client, ann):
    login(client)
    assert client.get("/account/logout").status_code == 405
    assert "Log out" in client.get("/").get_data(as_text=True)
    response = post(client, "/account/logout", {"next": "/conditions"})
    assert response.status_code == 303 and response.headers["Location"] == "/conditions"
    assert "Log out" not in client.get("/").get_data(as_text=True)


@pytest.mark.parametrize(
    "hostile",
    [
        "//evil.example",
        "https://evil.example",
        "/\\evil.example",
        "javascript:alert(1)",
        "%2F%2Fevil.example",
        "\t//evil.example",
    ],
)
def test_next_never_leaves_the_site(client, ann, hostile):
    response = post(client, "/account/login", {"email": ann, "password": GOOD_PASSWORD, "next": hostile})
    assert response.headers["Location"] == "/"


def test_post_without_csrf_token_is_refused_with_a_readable_message(client, ann):
    response = post(client, "/account/login", {"email": ann, "password": GOOD_PASSWORD}, token=False)
    assert response.status_code == 400
    assert "This form has expired" in response.get_data(as_text=True)
    response = post(client, "/account/login", {"email": ann, "password": GOOD_PASSWORD}, token=False, htmx=True)
    assert response.headers["HX-Retarget"] == "#step-alert"
    assert "This form has expired" in response.get_data(as_text=True)


def test_csrf_token_in_the_htmx_header_is_accepted(client, ann):
    token = csrf_token(client)
    response = client.post(
        "/account/login", data={"email": ann, "password": GOOD_PASSWORD}, headers={**HTMX, "X-CSRFToken": token}
    )
    assert response.headers.get("HX-Redirect") == "/"


def test_csrf_token_does_not_expire_while_a_page_is_left_open(app):
    assert app.config["WTF_CSRF_TIME_LIMIT"] is None


@pytest.mark.parametrize("app_config", [{"RATELIMIT_PER_ADDRESS": "3 per minute"}])
def test_logins_are_rate_limited_per_address_with_a_readable_message(app, app_config):
    clients = [app.test_client() for _ in range(4)]
    for c in clients[:3]:
        assert login(c, password="Wrong-Password-1!").status_code == 422
    response = login(clients[3], password="Wrong-Password-1!", htmx=True)
    assert response.status_code == 429
    assert response.headers["HX-Retarget"] == "#step-alert"
    assert "Too many attempts" in response.get_data(as_text=True)
    assert login(clients[3], email="other@example.org").status_code == 422  # other addresses go on


@pytest.mark.parametrize("app_config", [{"RATELIMIT_PER_IP": "3 per minute"}])
def test_logins_are_rate_limited_per_ip(app, app_config):
    c = app.test_client()
    for n in range(3):
        assert login(c, email=f"user{n}@example.org").status_code == 422
    response = login(c, email="user9@example.org")
    assert response.status_code == 429
    assert "Please wait a moment" in response.get_data(as_text=True)


@pytest.mark.parametrize("app_config", [{"RATELIMIT_PER_ADDRESS": "2 per minute"}])
def test_register_verify_and_resend_are_rate_limited(app, app_config):
    c = app.test_client()
    statuses = [post(c, "/account/register", registration()).status_code for _ in range(3)]
    assert statuses[-1] == 429
    statuses = [post(c, "/account/verify", {"code": "000000"}).status_code for _ in range(3)]
    assert statuses[-1] == 429
    statuses = [post(c, "/account/verify/resend").status_code for _ in range(3)]
    assert statuses[-1] == 429


def test_log_out_ends_every_copy_of_the_session_and_remember_cookies(client, ann):
    login(client, remember="y")
    copies = {
        "session": copy_of(client, "session"),
        "remember": copy_of(client, "remember_token"),
        "both": copy_of(client, "session", "remember_token"),
    }
    assert all(logged_in(copy) for copy in copies.values())
    assert post(client, "/account/logout").status_code == 303
    assert not logged_in(client)
    for name, copy in copies.items():
        assert not logged_in(copy), f"a copy of the {name} cookie still logs in after log out"


def test_log_out_ends_a_session_restored_from_the_remember_cookie(client, ann):
    """A browser reopened the next day has only the remember-me cookie; its log out ends that too."""
    login(client, remember="y")
    kept = copy_of(client, "remember_token")
    client.delete_cookie("session")
    assert logged_in(client)
    post(client, "/account/logout")
    assert not logged_in(kept)


def test_log_out_leaves_the_accounts_other_browsers_logged_in(app, client, ann):
    other = app.test_client()
    login(other, remember="y")
    login(client)
    post(client, "/account/logout")
    assert not logged_in(client) and logged_in(other)
    other.delete_cookie("session")
    assert logged_in(other)  # by its remember-me cookie


def test_logging_in_again_ends_the_browsers_previous_login(client, ann):
    login(client)
    before = copy_of(client, "session")
    login(client)
    assert logged_in(client) and not logged_in(before)


def test_a_login_ends_after_the_remember_cookie_duration(app, client, ann):
    from datetime import timedelta

    from app.models import LoginSession

    login(client, remember="y")
    with app.app_context():
        for row in db.session.query(LoginSession):
            row.expires_at -= app.config["REMEMBER_COOKIE_DURATION"] + timedelta(seconds=1)
        db.session.commit()
    assert not logged_in(client)


def test_a_session_from_before_server_side_logins_is_refused(client, app, ann):
    """Cookies that name only the account and its token (no login) could never be ended: refused."""
    with app.app_context():
        user = db.session.query(User).one()
        identity = f"{user.id}:{user.session_token}"
    with client.session_transaction() as session:
        session["_user_id"] = identity
    assert not logged_in(client)


@pytest.mark.parametrize(
    "identity", ["", "1", "1:", "1::", "1:x:", ":x:y", "1:x:y:z", "١:x:y", "9" * 40 + ":x:y", "1:x\x00:y", "-1:x:y"]
)
def test_a_malformed_identity_in_a_signed_session_is_no_one(client, ann, identity):
    with client.session_transaction() as session:
        session["_user_id"] = identity
    response = client.get("/conditions")
    assert response.status_code == 200 and "Log out" not in response.get_data(as_text=True)


ANN_VARIANTS = ["ann@ｅｘａｍｐｌｅ.org", "ann@ｅｘａｍｐｌｅ．ｏｒｇ", " Ann@EXAMPLE.org ", "ann@example.ORG"]


@pytest.mark.parametrize("app_config", [{"RATELIMIT_PER_ADDRESS": "3 per minute"}])
@pytest.mark.parametrize("variant", ANN_VARIANTS)
def test_the_per_address_limit_counts_every_way_of_writing_the_address(app, app_config, ann, variant):
    """Issue #13, 3: full-width letters in the domain (and the like) are the same address to the
    account, so they are the same address to the limit: no fresh bucket, no log-in past it."""
    clients = [app.test_client() for _ in range(4)]
    for c in clients[:3]:
        assert login(c, password="Wrong-Password-1!").status_code == 422
    assert login(clients[3], email=variant).status_code == 429
    assert "Log out" not in clients[3].get("/").get_data(as_text=True)


@pytest.mark.parametrize("app_config", [{"RATELIMIT_PER_ADDRESS": "2 per minute"}])
def test_register_and_reset_count_every_way_of_writing_the_address(app, app_config):
    statuses = [
        post(app.test_client(), "/account/register", registration(email)).status_code
        for email in ("bob@example.org", "bob@ｅｘａｍｐｌｅ.org", "BOB@example.org")
    ]
    assert statuses == [303, 303, 429]
    statuses = [
        post(app.test_client(), "/account/reset", {"email": email}).status_code
        for email in ("cat@ｅｘａｍｐｌｅ.org", "Cat@example.org", "cat@example.org")
    ]
    assert statuses == [303, 303, 429]


@pytest.mark.parametrize("app_config", [{"RATELIMIT_PER_IP": "3 per minute"}])
def test_the_per_ip_limit_counts_an_ipv6_slash_64_as_one_client(app, app_config):
    """One subscriber holds a whole IPv6 /64: a new address from it is no new bucket."""

    def login_from(n, remote_addr):
        c = app.test_client()
        return c.post(
            "/account/login",
            data={"email": f"user{n}@example.org", "password": "Wrong-Password-1!", "csrf_token": csrf_token(c)},
            headers={"Referer": "http://localhost/"},
            environ_base={"REMOTE_ADDR": remote_addr},
        )

    for n in range(3):
        assert login_from(n, f"2001:db8:0:5::{n + 1}").status_code == 422
    assert login_from(7, "2001:db8:0:5:ffff:ffff:ffff:fffe").status_code == 429
    assert login_from(8, "2001:db8:0:6::1").status_code == 422  # the next /64 is someone else
