"""English and French throughout (issue: pages, the dialog, mails, the newsletter).

The walk renders every page and dialog step in French and fails on any English source
string (a msgid of the catalogue) still showing, and on common English words, outside
content that is marked lang="en" (a story not yet translated) and proper nouns."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

import pytest

from .helpers.french import PO, POT, assert_french, catalog, visible
from .helpers.portal import GOOD_PASSWORD, age_codes, csrf_token, last_code, outbox

FR = {"Accept-Language": "fr-FR,fr;q=0.9,en;q=0.5"}


def test_every_message_has_a_french_translation():
    assert POT.exists() and PO.exists()
    french = {m.id: m for m in catalog(PO) if m.id}
    missing, broken = [], []
    for message in catalog(POT):
        if not message.id:
            continue
        translated = french.get(message.id)
        strings = translated.string if translated else None
        strings = strings if isinstance(strings, tuple) else (strings,)
        if not translated or not all(strings) or "fuzzy" in translated.flags:
            missing.append(message.id)
            continue
        ids = message.id if isinstance(message.id, tuple) else (message.id,)
        wanted = set(re.findall(r"%\(\w+\)s", " ".join(ids)))
        for text in strings:
            if set(re.findall(r"%\(\w+\)s", text)) - wanted or (wanted - {"%(num)s"}) - set(
                re.findall(r"%\(\w+\)s", text)
            ):
                broken.append((message.id, text))
    assert missing == [], f"{len(missing)} untranslated, e.g. {missing[:5]}"
    assert broken == [], broken[:5]


@pytest.fixture
def demo(app):
    assert app.test_cli_runner().invoke(args=["media", "demo"]).exit_code == 0
    return app


def french(url: str) -> str:
    """The French page's URL (issue #16: French pages live under /fr/)."""
    return url if url.startswith("/fr/") else "/fr" + url


def get(client, url, **kw):
    response = client.get(french(url), headers={**FR, **kw.pop("headers", {})}, **kw)
    assert response.status_code < 500, url
    return response


def fpost(client, url, data, **kw):
    data = {"csrf_token": csrf_token(client), **data}
    return client.post(french(url), data=data, headers={**FR, "Referer": "http://localhost/"}, **kw)


def test_html_lang_and_dates_in_french(client, demo):
    page = get(client, "/stories/foreign-ministers-meet-in-antalya").get_data(as_text=True)
    assert "Avec l’aimable autorisation de l’OTAN" in page and "Pas de publicité" in page
    assert '<html lang="fr">' in page and "15 mai 2025" in page
    assert re.search(r"\d+,\d\u00a0ko|\d+\u00a0ko", page)
    assert '<html lang="en">' in client.get("/").get_data(as_text=True)


def test_walk_every_page_and_step_in_french(client, demo):
    pages = [
        "/",
        "/?q=antalya",
        "/?q=zzzzzz",
        "/?page=99",
        "/?from=yesterday",
        "/conditions",
        "/stories/foreign-ministers-meet-in-antalya",
        "/stories/nope",
        "/account/register",
        "/account/login",
        "/account/login?intent=download&next=/",
        "/account/reset",
        "/account/deleted",
        "/newsletter/unsubscribe/bad",
    ]
    for url in pages:
        for headers in ({}, {"HX-Request": "true"}):
            assert_french(visible(get(client, url, headers=headers).get_data(as_text=True)), f"{url} {headers}")
    # every form re-rendered with every error
    for url in ("/account/register", "/account/login", "/account/reset"):
        assert_french(visible(fpost(client, url, {}).get_data(as_text=True)), f"{url} errors")
    # registration in French: the code step, a wrong code, the mail, the welcome step
    data = {
        "email": "anne@example.org",
        "password": GOOD_PASSWORD,
        "confirm": GOOD_PASSWORD,
        "first_name": "Anne",
        "last_name": "Leroy",
        "organisation": "France Télévisions",
        "accept_conditions": "y",
    }
    response = fpost(client, "/account/register", data, follow_redirects=True)
    assert_french(visible(response.get_data(as_text=True)), "code step")
    assert_french(visible(fpost(client, "/account/verify", {"code": "000000"}).get_data(as_text=True)), "wrong code")
    assert_french(visible(fpost(client, "/account/verify/resend", {}).get_data(as_text=True)), "resend wait")
    [mail] = outbox(demo, "anne@example.org")
    assert_french(mail.subject + " " + mail.body_text, "code mail (text)")
    assert_french(visible(mail.body_html), "code mail (html)")
    welcome = fpost(client, "/account/verify", {"code": last_code(demo, "anne@example.org")}, follow_redirects=True)
    assert_french(visible(welcome.get_data(as_text=True)), "welcome")
    subscribed = fpost(client, "/newsletter/subscribe", {}, follow_redirects=True)
    assert_french(visible(subscribed.get_data(as_text=True)), "subscribed")
    for url in ("/account", "/stories/foreign-ministers-meet-in-antalya?download=1"):
        assert_french(visible(get(client, url, follow_redirects=True).get_data(as_text=True)), url)
    assert_french(
        visible(fpost(client, "/account/password", {"current": "nope"}).get_data(as_text=True)), "password errors"
    )
    # reset in French, in another browser
    age_codes(demo, minutes=2)
    other = demo.test_client()
    response = fpost(other, "/account/reset", {"email": "anne@example.org"}, follow_redirects=True)
    assert_french(visible(response.get_data(as_text=True)), "reset code step")
    reset_mail = outbox(demo, "anne@example.org")[-1]
    assert_french(reset_mail.subject + " " + reset_mail.body_text, "reset mail")
    code = re.search(r"^\s*(\d{6})\s*$", reset_mail.body_text, re.M).group(1)
    page = fpost(other, "/account/reset/code", {"code": code}, follow_redirects=True)
    assert_french(visible(page.get_data(as_text=True)), "new password step")
    done = fpost(
        other,
        "/account/reset/password",
        {"password": "Vert-Vallon-77?", "confirm": "Vert-Vallon-77?"},
        follow_redirects=True,
    )
    assert_french(visible(done.get_data(as_text=True)), "reset done")
    changed = outbox(demo, "anne@example.org")[-1]
    assert_french(changed.subject + " " + changed.body_text, "password changed mail")


def test_mails_go_out_in_the_account_language(client, app):
    data = {
        "email": "anne@example.org",
        "password": GOOD_PASSWORD,
        "confirm": GOOD_PASSWORD,
        "first_name": "Anne",
        "last_name": "Leroy",
        "organisation": "RFI",
        "accept_conditions": "y",
    }
    fpost(client, "/account/register", data)
    [mail] = outbox(app, "anne@example.org")
    assert "Votre code" in mail.subject or "code" in mail.subject.lower()
    assert_french(mail.body_text, "code mail")


def test_the_digest_and_unsubscribe_page_in_french(client, demo):
    from datetime import timedelta

    from app.extensions import db
    from app.models import Story, utcnow

    data = {
        "email": "anne@example.org",
        "password": GOOD_PASSWORD,
        "confirm": GOOD_PASSWORD,
        "first_name": "Anne",
        "last_name": "Leroy",
        "organisation": "RFI",
        "accept_conditions": "y",
    }
    fpost(client, "/account/register", data)
    fpost(client, "/account/verify", {"code": last_code(demo, "anne@example.org")})
    fpost(client, "/newsletter/subscribe", {})
    with demo.app_context():  # two demo stories "published" this week
        for story in db.session.query(Story).limit(2):
            story.published_at = utcnow() - timedelta(days=1)
        db.session.commit()
    assert "Queued 1 digests" in demo.test_cli_runner().invoke(args=["newsletter", "send"]).output
    digest = [m for m in outbox(demo, "anne@example.org") if m.kind == "newsletter"][0]
    assert_french(digest.subject + " " + digest.body_text, "digest (text)")
    assert_french(visible(digest.body_html), "digest (html)")
    # every link the mail carries is to the French pages (the account's language)
    links = re.findall(r"https?://[^\s<>\"]+", digest.body_text)
    assert links and all(urlsplit(link).path.startswith("/fr/") for link in links), links
    link = re.search(r"/fr/newsletter/unsubscribe/[\w.-]+", digest.body_text).group(0)
    assert_french(visible(get(demo.test_client(), link).get_data(as_text=True)), "unsubscribe page")
