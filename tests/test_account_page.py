"""The account page (docs/portal.md, Account page): profile, newsletter switch, change password, delete."""

import pytest

from app.extensions import db
from app.flows import login_sessions
from app.models import OutboxMessage, User, VerificationCode, WrongCodeEntry

from .helpers.logins import copy_of, logged_in, login
from .helpers.portal import GOOD_PASSWORD, HTMX, csrf_token, outbox, post, register_and_verify

NEW_PASSWORD = "Green-Valley-77?"


@pytest.fixture
def ann(app, client):
    register_and_verify(client, app)
    return "ann@example.org"


def user(app):
    with app.app_context():
        return db.session.query(User).one_or_none()


def test_account_page_needs_a_login(client):
    assert client.get("/account").status_code == 303
    response = client.get("/account", headers=HTMX)
    assert response.headers["HX-Redirect"] == "/account/login?next=/account" and response.get_data() == b""
    assert post(client, "/account/profile", htmx=True).headers["HX-Redirect"].startswith("/account/login")


def test_account_page_shows_who_you_are(client, ann):
    page = client.get("/account")
    body = page.get_data(as_text=True)
    assert page.status_code == 200 and page.headers["Cache-Control"] == "no-store"
    for text in (
        "ann@example.org",
        'value="Ann"',
        'value="Lee"',
        'value="Example Broadcasting"',
        "Change password",
        "Delete the account",
        "Newsletter",
    ):
        assert text in body


def test_edit_names_and_organisation(client, app, ann):
    response = post(
        client, "/account/profile", {"first_name": " Anna ", "last_name": "Lee-Smith", "organisation": "ZDF"}, htmx=True
    )
    assert response.status_code == 200 and "Saved." in response.get_data(as_text=True)
    assert response.get_data(as_text=True).lstrip().startswith('<section id="account-profile"')
    assert (user(app).first_name, user(app).last_name, user(app).organisation) == ("Anna", "Lee-Smith", "ZDF")
    response = post(client, "/account/profile", {"first_name": "", "last_name": "x" * 500, "organisation": "Z"})
    assert response.status_code == 422
    assert "Enter your first name." in response.get_data(as_text=True)
    assert user(app).first_name == "Anna"


def test_newsletter_switch(client, app, ann):
    assert "You do not receive our newsletter." in client.get("/account").get_data(as_text=True)
    response = post(client, "/account/newsletter", {"subscribe": "on"}, htmx=True)
    assert "You receive our newsletter" in response.get_data(as_text=True)
    assert user(app).newsletter_opt_in_source == "account page"
    post(client, "/account/newsletter", {"subscribe": "off"})
    assert user(app).newsletter_opt_in_at is None
    assert post(client, "/account/newsletter", {"subscribe": "maybe"}).status_code == 422


def test_change_password_keeps_this_session_and_ends_the_others(app, client, ann):
    other = app.test_client()
    login(other, remember=True)
    response = post(
        client,
        "/account/password",
        {"current": GOOD_PASSWORD, "password": NEW_PASSWORD, "confirm": NEW_PASSWORD},
        htmx=True,
    )
    assert response.headers["HX-Redirect"] == "/account"
    page = client.get("/account").get_data(as_text=True)
    assert "Your password has been changed." in page and "Log out" in page
    assert "Log out" not in other.get("/").get_data(as_text=True)
    other.delete_cookie("session")
    assert "Log out" not in other.get("/").get_data(as_text=True)
    assert "password was changed" in outbox(app, "ann@example.org")[-1].subject
    assert login(app.test_client(), NEW_PASSWORD).status_code == 303


def test_change_password_asks_for_the_current_one(client, app, ann):
    response = post(
        client, "/account/password", {"current": "Wrong-Password-1!", "password": NEW_PASSWORD, "confirm": NEW_PASSWORD}
    )
    assert response.status_code == 422 and "That is not your current password." in response.get_data(as_text=True)
    response = post(
        client, "/account/password", {"current": GOOD_PASSWORD, "password": GOOD_PASSWORD, "confirm": GOOD_PASSWORD}
    )
    assert "must be different from your current password" in response.get_data(as_text=True)
    response = post(client, "/account/password", {"current": GOOD_PASSWORD, "password": "weak", "confirm": "weak"})
    assert "at least 12 characters" in response.get_data(as_text=True)
    assert login(app.test_client()).status_code == 303  # unchanged


def test_delete_account_removes_personal_data_and_logs_out(client, app, ann):
    response = post(client, "/account/delete", {"delete_password": "Wrong-Password-1!"})
    assert response.status_code == 422 and "That is not your password." in response.get_data(as_text=True)
    assert user(app) is not None
    response = post(client, "/account/delete", {"delete_password": GOOD_PASSWORD}, htmx=True)
    assert response.headers["HX-Redirect"] == "/account/deleted"
    assert "Your account has been deleted" in client.get("/account/deleted").get_data(as_text=True)
    assert "Log out" not in client.get("/").get_data(as_text=True)
    with app.app_context():
        assert db.session.query(User).count() == 0
        for model, column in (
            (VerificationCode, VerificationCode.address),
            (WrongCodeEntry, WrongCodeEntry.address),
            (OutboxMessage, OutboxMessage.recipient),
        ):
            assert db.session.query(model).filter(column == "ann@example.org").count() == 0
    assert login(app.test_client()).status_code == 422


def test_header_links_to_the_account_page(client, ann):
    assert 'href="/account"' in client.get("/").get_data(as_text=True)


def test_account_forms_without_csrf_are_refused(client, ann):
    for url in (
        "/account/profile",
        "/account/newsletter",
        "/account/password",
        "/account/delete",
        "/account/logout-everywhere",
    ):
        response = client.post(url, data={"subscribe": "on", "delete_password": GOOD_PASSWORD})
        assert response.status_code == 400, url
    assert "Log out" in client.get("/").get_data(as_text=True)  # nothing was deleted


@pytest.mark.parametrize("section", ["profile", "newsletter", "email", "password", "delete"])
def test_an_error_from_an_account_form_goes_into_its_alert_area_and_keeps_the_form(client, ann, section):
    """An expired form (or a busy database, a rate limit) must not replace the section, which
    would throw away what was typed: the message goes into the section's own alert area."""
    page = client.get("/account").get_data(as_text=True)
    start = page.index(f'<section id="account-{section}"')
    own_section = page[start : page.index("</section>", start)]
    assert f'<div id="account-{section}-alert" class="step-alert" role="alert"></div>' in own_section
    response = client.post(
        f"/account/{section}",
        data={"csrf_token": "stale", "first_name": "Typed"},
        headers={"HX-Request": "true", "HX-Target": f"account-{section}"},
    )
    body = response.get_data(as_text=True)
    assert response.status_code == 400
    assert response.headers["HX-Retarget"] == f"#account-{section}-alert"
    assert response.headers["HX-Reswap"] == "innerHTML"
    assert body.startswith("<p><strong>This form has expired.</strong>") and "<section" not in body


def test_delete_account_deletes_the_remember_cookie_and_the_session(app, ann):
    browser = app.test_client()
    login(browser, remember=True)
    assert browser.get_cookie("remember_token") is not None
    assert post(browser, "/account/delete", {"delete_password": GOOD_PASSWORD}).status_code == 303
    assert browser.get_cookie("remember_token") is None, "the remember-me cookie outlives the account"
    with browser.session_transaction() as session:
        assert "_user_id" not in session


WRONG_TRIES = {
    "password": {"current": "Wrong-Password-1!", "password": NEW_PASSWORD, "confirm": NEW_PASSWORD},
    "delete": {"delete_password": "Wrong-Password-1!"},
}


def section_post(client, section, data, remote_addr="127.0.0.1"):
    client.environ_base["REMOTE_ADDR"] = remote_addr
    return client.post(
        f"/account/{section}",
        data={**data, "csrf_token": csrf_token(client)},
        headers={"HX-Request": "true", "HX-Target": f"account-{section}"},
    )


@pytest.mark.parametrize("section", sorted(WRONG_TRIES))
@pytest.mark.parametrize("app_config", [{"RATELIMIT_PER_ADDRESS": "3 per minute"}])
def test_password_checks_on_the_account_page_are_limited_per_account(app, app_config, ann, section):
    """Guesses at the current password are counted for the account, whichever browser and
    address they come from; the refusal goes into the section's alert area."""
    browsers = [app.test_client() for _ in range(2)]
    for browser in browsers:
        login(browser)
    answers = [section_post(browsers[n % 2], section, WRONG_TRIES[section], f"10.0.0.{n}") for n in range(4)]
    assert [a.status_code for a in answers] == [422, 422, 422, 429]
    assert answers[-1].headers["HX-Retarget"] == f"#account-{section}-alert"
    assert "Too many attempts" in answers[-1].get_data(as_text=True)
    assert user(app) is not None


@pytest.mark.parametrize("section", sorted(WRONG_TRIES))
@pytest.mark.parametrize("app_config", [{"RATELIMIT_PER_IP": "3 per minute"}])
def test_password_checks_on_the_account_page_are_limited_per_ip(app, app_config, ann, section):
    other = app.test_client()
    register_and_verify(other, app, "bob@example.org")
    mine = app.test_client()
    login(mine)
    answers = [
        section_post(browser, section, WRONG_TRIES[section], "10.0.0.9") for browser in (mine, other, mine, other)
    ]
    assert [a.status_code for a in answers] == [422, 422, 422, 429]


@pytest.mark.parametrize("app_config", [{"RATELIMIT_PER_ADDRESS": "2 per minute"}])
def test_every_account_form_is_rate_limited(app, app_config, client, ann):
    forms = {
        "profile": {"first_name": "Ann", "last_name": "Lee", "organisation": "ZDF"},
        "newsletter": {"subscribe": "on"},
    }
    for section, data in forms.items():
        assert [section_post(client, section, data).status_code for _ in range(3)] == [200, 200, 429], section


def test_log_out_everywhere_ends_every_login_of_the_account(app, ann):
    here, phone, laptop = (app.test_client() for _ in range(3))
    for browser in (here, phone, laptop):
        login(browser, remember=True)
    copies = [copy_of(here, "session", "remember_token"), copy_of(phone, "remember_token")]
    page = here.get("/account").get_data(as_text=True)
    assert 'action="/account/logout-everywhere"' in page and "Log out everywhere" in page
    response = post(here, "/account/logout-everywhere")
    assert response.status_code == 303 and response.headers["Location"] == "/"
    assert here.get_cookie("remember_token") is None
    assert "You have been logged out on every device." in here.get("/").get_data(as_text=True)
    for browser in (here, phone, laptop, *copies):
        assert not logged_in(browser)
    phone.delete_cookie("session")
    assert not logged_in(phone)  # its remember-me cookie is refused too
    assert login(app.test_client()).status_code == 303  # the password still works


def test_log_out_everywhere_in_french(app, ann):
    browser = app.test_client()
    login(browser)
    page = browser.get("/fr/account").get_data(as_text=True)
    assert "Se déconnecter partout" in page and "Log out everywhere" not in page
    follow = post(browser, "/fr/account/logout-everywhere", follow=True).get_data(as_text=True)
    assert "Votre compte est déconnecté sur tous les appareils." in follow


def test_log_out_everywhere_needs_a_login(client):
    response = post(client, "/account/logout-everywhere")
    assert response.status_code == 303 and response.headers["Location"].startswith("/account/login")


def logged_in_without_a_form(app, browser):
    """A login made directly (the log in form has rate limits of its own)."""
    with app.app_context():
        account = db.session.query(User).one()
        login_sessions.start(account)
        identity = account.get_id()
    with browser.session_transaction() as session:
        session["_user_id"] = identity


@pytest.mark.parametrize("app_config", [{"RATELIMIT_PER_ADDRESS": "2 per minute"}])
def test_log_out_everywhere_is_rate_limited(app, app_config, ann):
    browser = app.test_client()
    statuses = []
    for _ in range(3):
        logged_in_without_a_form(app, browser)
        statuses.append(post(browser, "/account/logout-everywhere").status_code)
    assert statuses == [303, 303, 429]


@pytest.mark.parametrize("app_config", [{"RATELIMIT_PER_IP": "2 per minute"}])
def test_log_out_is_rate_limited(app, app_config, ann):
    browser = app.test_client()
    assert [post(browser, "/account/logout").status_code for _ in range(3)] == [303, 303, 429]
