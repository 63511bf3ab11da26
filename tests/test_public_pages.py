"""Public pages that cost almost nothing to serve (issue #16): a visitor who only reads gets no
cookie, so no session is stored for them and a shared cache may keep the page.

The routes come from ``app.url_map``: a new public page is checked without anyone listing it here."""

from __future__ import annotations

import pytest

from app.security import ACCOUNT_BLUEPRINTS, STAFF_BLUEPRINTS

from .helpers.portal import csrf_token, post, register_and_verify, registration
from .helpers.routes import MEMBER, REQUEST_KINDS, load_catalogue, route_samples, routes

# Reading needs no session; the download asks who you are (it sends the visitor to log in).
ASKS_WHO_YOU_ARE = {"media.download"}
CATALOGUE_PARTIALS = [{"HX-Request": "true", "HX-Target": "results"}, {"HX-Request": "true", "HX-Target": "load-more"}]


def public_reads(app, catalogue):
    """(endpoint, URL) of every GET route outside the account and staff areas."""
    private = ACCOUNT_BLUEPRINTS | STAFF_BLUEPRINTS
    register_and_verify(app.test_client(), app, MEMBER)  # an address for the unsubscribe link's sample
    return [
        (rule.endpoint, url)
        for rule, url in routes(app, route_samples(app, catalogue), {"GET"})
        if rule.endpoint.split(".")[0] not in private
    ]


def test_a_visitor_who_only_reads_gets_no_cookie(app, tmp_path):
    catalogue = load_catalogue(app, tmp_path)
    urls = public_reads(app, catalogue)
    assert {"media.index", "media.story", "media.conditions", "media.privacy", "media.accessibility"} <= {
        endpoint for endpoint, _ in urls
    }
    extra = ["/?q=antalya", "/?q=nothing-at-all", "/?page=2", "/?from=nonsense", "/no-such-page", "/stories/no-such"]
    for endpoint, url in urls + [("", url) for url in extra]:
        kinds = list(REQUEST_KINDS.values()) + (CATALOGUE_PARTIALS if endpoint == "media.index" else [])
        for headers in kinds:
            for method in ("GET", "HEAD"):
                visitor = app.test_client()
                response = visitor.open(url, method=method, headers=headers)
                assert response.status_code < 500, url
                assert response.headers.getlist("Set-Cookie") == [], f"{method} {url} {headers}"
                response.close()


def test_a_visitor_page_carries_no_token_and_the_dialog_brings_its_own(app, tmp_path):
    load_catalogue(app, tmp_path)
    visitor = app.test_client()
    page = visitor.get("/").get_data(as_text=True)
    assert "X-CSRFToken" not in page and 'name="csrf_token"' not in page
    dialog = visitor.get("/account/register", headers={"HX-Request": "true", "HX-Target": "dialog-body"})
    assert dialog.status_code == 200 and dialog.headers.getlist("Set-Cookie"), "the dialog starts the session"
    assert 'name="csrf_token"' in dialog.get_data(as_text=True)
    # from here on the page carries the HTMX header token too, and the form posts
    assert "X-CSRFToken" in visitor.get("/").get_data(as_text=True)
    response = post(visitor, "/account/register", registration("reader@example.org"), htmx=True)
    assert response.status_code == 303, response.status_code


def test_a_post_without_a_session_is_refused_as_expired(app):
    response = app.test_client().post(
        "/account/login", data={"email": "a@example.org", "password": "x"}, headers={"Referer": "http://localhost/"}
    )
    assert response.status_code == 400


def test_csrf_token_helper_works_for_a_fresh_client(app):
    assert csrf_token(app.test_client())


# --- HTTP caching -----------------------------------------------------------------------


def cache_control(response) -> set[str]:
    return {part.strip() for part in response.headers.get("Cache-Control", "").split(",") if part.strip()}


@pytest.mark.parametrize("app_config", [{"PUBLIC_MAX_AGE_SECONDS": 45, "PUBLIC_STALE_WHILE_REVALIDATE_SECONDS": 90}])
def test_visitor_pages_are_public_with_an_etag_and_answer_304(app, app_config, tmp_path):
    catalogue = load_catalogue(app, tmp_path)
    visitor = app.test_client()
    for url in ("/", "/?q=antalya", f"/stories/{catalogue.slug}", "/conditions", "/privacy", "/accessibility"):
        first = visitor.get(url)
        assert first.status_code == 200, url
        assert cache_control(first) == {"public", "max-age=45", "stale-while-revalidate=90"}, url
        assert "Cookie" in first.vary, (url, first.vary)
        # only / alone depends on the preference (a French one is sent to /fr/): elsewhere the URL decides
        assert ("Accept-Language" in first.vary) == (url == "/"), (url, first.vary)
        etag = first.headers["ETag"]
        again = visitor.get(url, headers={"If-None-Match": etag})
        assert again.status_code == 304 and again.get_data() == b"", url
        assert again.headers["ETag"] == etag and cache_control(again) == cache_control(first)
        assert visitor.get(url, headers={"If-None-Match": '"something-else"'}).status_code == 200
        # the language, the page and a partial are other ETags
        french = "/fr" + url if url != "/" else "/fr/"
        others = {
            visitor.get(french).headers["ETag"],
            visitor.get(url, headers={"HX-Request": "true", "HX-Target": "results"}).headers.get("ETag"),
        }
        assert etag not in others, url
        # the English page's ETag never gets a 304 at the French URL, nor the reverse
        french_page = visitor.get(french, headers={"If-None-Match": etag})
        assert french_page.status_code == 200 and 'lang="fr"' in french_page.get_data(as_text=True), url
        english_page = visitor.get(url, headers={"If-None-Match": french_page.headers["ETag"]})
        assert english_page.status_code == 200 and '<html lang="en">' in english_page.get_data(as_text=True), url
    assert visitor.get("/?q=other").headers["ETag"] != visitor.get("/").headers["ETag"]


def test_an_edit_or_an_import_gives_a_fresh_page_and_a_new_etag(app, tmp_path):
    from app.extensions import db
    from app.models import Story

    from .helpers.catalogue_data import load, story_entry

    catalogue = load_catalogue(app, tmp_path)
    visitor = app.test_client()
    url = f"/stories/{catalogue.slug}"
    etags = {path: visitor.get(path).headers["ETag"] for path in (url, "/")}
    with app.app_context():
        db.session.execute(db.select(Story)).scalar_one().title = "Corrected title"
        db.session.commit()
    answer = visitor.get(url, headers={"If-None-Match": etags[url]})
    assert answer.status_code == 200 and "Corrected title" in answer.get_data(as_text=True)
    load(app, tmp_path / "more", [story_entry("newer", "A newer story", "2026-01-01")])
    answer = visitor.get("/", headers={"If-None-Match": etags["/"]})
    assert answer.status_code == 200 and "A newer story" in answer.get_data(as_text=True)


def test_pages_for_people_with_a_session_are_never_public(app, tmp_path):
    catalogue = load_catalogue(app, tmp_path)
    member, dialog_open = app.test_client(), app.test_client()
    register_and_verify(member, app, "cache.member@example.org")
    dialog_open.get("/account/login")
    visitor_etag = app.test_client().get("/").headers["ETag"]
    for url in ("/", f"/stories/{catalogue.slug}", "/conditions"):
        page = member.get(url, headers={"If-None-Match": visitor_etag})
        assert page.status_code == 200 and {"private", "no-store"} <= cache_control(page), url
        assert "ETag" not in page.headers
        opened = dialog_open.get(url, headers={"If-None-Match": visitor_etag})
        assert (
            opened.status_code == 200 and "private" in cache_control(opened) and "public" not in cache_control(opened)
        )
    assert "no-store" in cache_control(dialog_open.get("/account/login"))


def test_a_language_switch_sets_its_cookie_on_a_page_no_shared_cache_keeps(app, tmp_path):
    response = app.test_client().get("/?lang=fr")
    assert [c.split("=")[0] for c in response.headers.getlist("Set-Cookie")] == ["lang"]
    assert "public" not in cache_control(response) and "ETag" not in response.headers


# --- the story page, cached ---------------------------------------------------------------


def test_the_story_page_is_rendered_once_per_catalogue_version_and_language_for_visitors(app, tmp_path):
    from flask import template_rendered

    from app.extensions import db
    from app.models import Story

    catalogue = load_catalogue(app, tmp_path)
    url = f"/stories/{catalogue.slug}"
    rendered = []

    def note(sender, template, context, **extra):
        if template.name == "media/story.html":
            rendered.append(context.get("current_language"))

    template_rendered.connect(note, app)
    try:
        pages = [app.test_client().get(url).get_data(as_text=True) for _ in range(3)]
        assert rendered == ["en"] and pages[0] == pages[1] == pages[2]
        french = app.test_client().get("/fr" + url, headers={"Accept-Language": "en"}).get_data(as_text=True)
        assert rendered == ["en", "fr"] and 'lang="fr"' in french
        # the French URL's cached page is never the English one, nor the reverse, whatever the preference
        english = app.test_client().get(url, headers={"Accept-Language": "fr"})
        assert '<html lang="en">' in english.get_data(as_text=True)
        assert rendered == ["en", "fr"]
        member = app.test_client()
        register_and_verify(member, app, "story.member@example.org")
        assert "Ann Lee" in member.get(url).get_data(as_text=True) and len(rendered) == 3  # not from the cache
        with app.app_context():
            db.session.execute(db.select(Story)).scalar_one().title = "Corrected title"
            db.session.commit()
        assert "Corrected title" in app.test_client().get(url).get_data(as_text=True) and len(rendered) == 4
        assert app.test_client().get("/stories/no-such-story").status_code == 404
    finally:
        template_rendered.disconnect(note, app)
