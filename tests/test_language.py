"""Language choice: Accept-Language, the EN | FR switch, the cookie, the account."""

import pytest

from app.extensions import db
from app.models import User

from .helpers.portal import GOOD_PASSWORD, post, register_and_verify

# What a browser sends when the EN | FR switch on one of the site's pages is clicked
FROM_THIS_SITE = {"Sec-Fetch-Site": "same-origin", "Referer": "http://localhost/conditions"}


def account_language(app):
    with app.app_context():
        return db.session.query(User).one().language


def lang_of(response):
    import re

    return re.search(r'<html lang="(\w+)">', response.get_data(as_text=True)).group(1)


@pytest.mark.parametrize(
    "header, expected",
    [
        (None, "en"),
        ("fr", "fr"),
        ("fr-CA,fr;q=0.9,en;q=0.8", "fr"),
        ("en-GB,en;q=0.9,fr;q=0.5", "en"),
        ("de-DE,de;q=0.9", "en"),
        ("de,fr;q=0.5", "fr"),
        ("*", "en"),
        ("\x00;;;q=abc", "en"),
        ("x" * 5000, "en"),
    ],
)
def test_first_visit_follows_accept_language(client, header, expected):
    headers = {"Accept-Language": header} if header is not None else {}
    assert lang_of(client.get("/", headers=headers)) == expected


def test_switch_keeps_the_page_and_is_remembered(client):
    response = client.get("/conditions?lang=fr")
    assert lang_of(response) == "fr"
    cookie = client.get_cookie("lang")
    assert cookie.value == "fr" and cookie.http_only
    assert lang_of(client.get("/conditions", headers={"Accept-Language": "en"})) == "fr"  # the choice wins
    assert lang_of(client.get("/?lang=en")) == "en" and lang_of(client.get("/")) == "en"


def test_switch_links_keep_path_and_query(client):
    body = client.get("/?q=baltic&page=2").get_data(as_text=True)
    assert 'href="/?q=baltic&amp;page=2&amp;lang=fr"' in body and 'hreflang="fr"' in body


@pytest.mark.parametrize("value", ["de", "", "../fr", "fr\x00", "FR"])
def test_unknown_languages_are_ignored(client, value):
    response = client.get("/", query_string={"lang": value})
    assert response.status_code == 200 and lang_of(response) == "en" and client.get_cookie("lang") is None


def test_the_account_remembers_the_language_on_a_new_device(app, client):
    register_and_verify(client, app)
    client.get("/?lang=fr", headers=FROM_THIS_SITE)
    with app.app_context():
        assert db.session.query(User).one().language == "fr"
    other = app.test_client()
    post(other, "/account/login", {"email": "ann@example.org", "password": GOOD_PASSWORD})
    assert lang_of(other.get("/")) == "fr"


def test_registration_records_the_language_in_use(app):
    client = app.test_client()
    client.get("/?lang=fr")
    register_and_verify(client, app)
    with app.app_context():
        assert db.session.query(User).one().language == "fr"


def test_a_dialog_step_in_the_other_language(client):
    partial = client.get("/account/login?next=/conditions&lang=fr", headers={"HX-Request": "true"})
    body = partial.get_data(as_text=True)
    assert "<html" not in body and 'data-url="/account/login?next=/conditions&amp;lang=fr"' in body
    assert client.get_cookie("lang").value == "fr"


@pytest.mark.parametrize(
    "headers",
    [
        {"Sec-Fetch-Site": "cross-site", "Referer": "https://evil.example/page"},
        {"Sec-Fetch-Site": "same-site", "Referer": "http://sub.localhost/"},
        {"Sec-Fetch-Site": "cross-site", "Referer": "http://localhost/"},  # the header a page cannot forge wins
        {"Sec-Fetch-Site": "none"},  # typed or from a bookmark: nothing says the switch was clicked
        {"Referer": "https://evil.example/"},  # an older browser
        {"Referer": "http://localhost.evil.example/"},
        {"Referer": "http://[::1"},
        {},
    ],
)
def test_a_language_link_from_elsewhere_does_not_change_the_account(app, client, headers):
    """A GET from another site may show the page in French, but not store that on the account."""
    register_and_verify(client, app)
    assert account_language(app) == "en"
    response = client.get("/conditions?lang=fr", headers=headers)
    assert response.status_code == 200 and lang_of(response) == "fr"
    assert account_language(app) == "en"


@pytest.mark.parametrize("headers", [FROM_THIS_SITE, {"Referer": "http://localhost/?q=x"}])
def test_the_switch_on_the_sites_own_pages_changes_the_account(app, client, headers):
    register_and_verify(client, app)
    client.get("/conditions?lang=fr", headers=headers)
    assert account_language(app) == "fr"
