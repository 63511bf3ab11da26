"""Language choice (issue #16): the URL decides (French under /fr/); the EN | FR switch's
``?lang=`` redirects there and is remembered (cookie, account), and that preference, else
Accept-Language, chooses where ``/`` alone sends someone."""

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
    response = client.get("/", headers=headers)
    if expected == "fr":
        assert response.status_code == 302 and response.headers["Location"] == "/fr/"
        assert {"Cookie", "Accept-Language"} <= set(response.vary) and response.headers["Cache-Control"] == "private"
    else:
        assert response.status_code == 200 and "Accept-Language" in response.vary
    assert lang_of(client.get("/", headers=headers, follow_redirects=True)) == expected


@pytest.mark.parametrize("headers", [{"Accept-Language": "fr"}, {"Accept-Language": "en"}, {}])
@pytest.mark.parametrize("cookie", ["fr", "en", None])
def test_the_url_decides_the_language_whatever_the_preference(client, headers, cookie):
    if cookie:
        client.set_cookie("lang", cookie)
    for path in ("/conditions", "/?q=baltic", "/account/login", "/nowhere"):
        assert lang_of(client.get(path, headers=headers)) == "en", path
        assert lang_of(client.get("/fr" + path, headers=headers)) == "fr", path
    assert lang_of(client.get("/fr", headers=headers)) == "fr"


def test_switch_keeps_the_page_and_is_remembered(client):
    response = client.get("/conditions?lang=fr&x=1")
    assert response.status_code == 301 and response.headers["Location"] == "/fr/conditions?x=1"
    assert response.headers["Cache-Control"] == "no-store"
    cookie = client.get_cookie("lang")
    assert cookie.value == "fr" and cookie.http_only
    assert lang_of(client.get("/conditions?lang=fr", follow_redirects=True)) == "fr"
    # the preference chooses where / alone goes, over Accept-Language
    assert client.get("/", headers={"Accept-Language": "en"}).headers["Location"] == "/fr/"
    back = client.get("/fr/conditions?lang=en")
    assert back.status_code == 301 and back.headers["Location"] == "/conditions"
    assert lang_of(client.get("/", headers={"Accept-Language": "fr"})) == "en"


def test_switch_links_keep_path_and_query(client):
    body = client.get("/?q=baltic&page=2").get_data(as_text=True)
    assert 'href="/fr/?q=baltic&amp;page=2&amp;lang=fr" lang="fr" hreflang="fr"' in body
    assert 'href="/?q=baltic&amp;page=2&amp;lang=en" lang="en" hreflang="en"' in body
    body = client.get("/fr/conditions").get_data(as_text=True)
    assert 'href="/conditions?lang=en" lang="en"' in body and 'href="/fr/conditions?lang=fr" lang="fr"' in body
    # an account step's page to come back to goes to the other language with it
    body = client.get("/fr/account/login?next=/fr/conditions").get_data(as_text=True)
    assert 'href="/account/login?next=%2Fconditions&amp;lang=en" lang="en"' in body
    assert 'hreflang="en" href="http://localhost/account/login?next=%2Fconditions"' in body


def test_hreflang_alternates_on_every_page(client):
    for path in ("/", "/conditions", "/?q=baltic", "/account/login", "/nowhere"):
        for prefix in ("", "/fr"):
            body = client.get(prefix + path).get_data(as_text=True)
            french = "/fr" + path if path != "/" else "/fr/"
            assert f'<link rel="alternate" hreflang="en" href="http://localhost{path}">' in body, (prefix, path)
            assert f'<link rel="alternate" hreflang="fr" href="http://localhost{french}">' in body, (prefix, path)
            assert f'<link rel="alternate" hreflang="x-default" href="http://localhost{path}">' in body


@pytest.mark.parametrize("app_config", [{"SERVER_NAME": "media.example.org", "PREFERRED_URL_SCHEME": "https"}])
def test_hreflang_alternates_are_built_from_server_name(app, app_config):
    body = app.test_client().get("/fr/conditions", base_url="https://media.example.org").get_data(as_text=True)
    assert '<link rel="alternate" hreflang="en" href="https://media.example.org/conditions">' in body
    assert '<link rel="alternate" hreflang="fr" href="https://media.example.org/fr/conditions">' in body


NEUTRAL = ["/static/css/portal.css", "/healthz", "/feeds/fr.atom", "/feeds/en.atom", "/sitemap.xml", "/robots.txt"]


@pytest.mark.parametrize("path", NEUTRAL)
def test_neutral_urls_have_no_french_copy(client, path):
    assert client.get(path).status_code == 200
    assert client.get("/fr" + path).status_code == 404


def test_a_french_page_links_the_neutral_urls_unprefixed(client):
    body = client.get("/fr/").get_data(as_text=True)
    assert 'href="/static/css/portal.css"' in body and 'href="/feeds/fr.atom"' in body and "/fr/static" not in body
    assert 'href="/fr/conditions"' in body and 'href="/fr/account/login?next=/fr/"' in body


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
    assert other.get("/").headers["Location"] == "/fr/"  # / follows the account
    assert lang_of(other.get("/", follow_redirects=True)) == "fr"
    assert lang_of(other.get("/conditions")) == "en"  # an English URL stays English


def test_registration_records_the_language_in_use(app):
    client = app.test_client()
    register_and_verify(client, app, prefix="/fr")
    with app.app_context():
        assert db.session.query(User).one().language == "fr"


def test_a_dialog_step_in_the_other_language(client):
    partial = client.get("/fr/account/login?next=/conditions", headers={"HX-Request": "true"})
    body = partial.get_data(as_text=True)
    assert "<html" not in body and 'data-url="/fr/account/login?next=/conditions"' in body
    # the dialog's own EN | FR loads these (app/static/js/portal.js): the page to come back to follows
    assert 'data-url-en="/account/login?next=%2Fconditions"' in body
    assert 'data-url-fr="/fr/account/login?next=%2Ffr%2Fconditions"' in body
    assert 'lang="fr"' in body


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
    """A GET from another site may send the browser to the French page, but not store that on the account."""
    register_and_verify(client, app)
    assert account_language(app) == "en"
    response = client.get("/conditions?lang=fr", headers=headers)
    assert response.status_code == 301 and response.headers["Location"] == "/fr/conditions"
    assert lang_of(client.get("/conditions?lang=fr", headers=headers, follow_redirects=True)) == "fr"
    assert account_language(app) == "en"


@pytest.mark.parametrize("headers", [FROM_THIS_SITE, {"Referer": "http://localhost/?q=x"}])
def test_the_switch_on_the_sites_own_pages_changes_the_account(app, client, headers):
    register_and_verify(client, app)
    client.get("/fr/conditions?lang=fr", headers=headers)
    assert account_language(app) == "fr"


@pytest.mark.parametrize("language", ["en", "fr"])
@pytest.mark.parametrize("page", ["/conditions", "/fr/conditions"])
def test_every_link_a_mail_carries_is_in_the_accounts_language(app, client, language, page):
    """Whatever page caused the mail (English or French URL), its links are the recipient's."""
    import re
    from datetime import datetime
    from urllib.parse import urlsplit

    from app import mails
    from app.models import OutboxMessage, Story

    register_and_verify(client, app)
    with app.app_context():
        user = db.session.query(User).one()
        user.language = language
        db.session.commit()
        db.session.query(OutboxMessage).delete()
        story = Story(slug="antalya", state="published")
        with app.test_request_context(page):
            when = datetime(2026, 1, 1)
            mails.queue_registration_attempt_notice(user)
            mails.queue_password_changed_notice(user, when)
            mails.queue_address_taken_notice(user)
            mails.queue_factor_notice(user, kind="passkey", added=True, when=when)
            mails.queue_recovery_code_used_notice(user, left=3, when=when)
            mails.queue_staff_notice(user, True)
            mails.queue_digest(user, [story], "token")
        db.session.commit()
        sent = db.session.query(OutboxMessage).all()
        assert len(sent) == 7
        for mail in sent:
            links = re.findall(r'https?://[^\s<>"]+', mail.body_text + mail.body_html + mail.headers_json)
            assert links, mail.subject
            for link in links:
                french = urlsplit(link).path.startswith("/fr/")
                assert french == (language == "fr"), (mail.subject, link)
