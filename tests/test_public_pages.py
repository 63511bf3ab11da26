"""Public pages that cost almost nothing to serve (issue #16): a visitor who only reads gets no
cookie, so no session is stored for them and a shared cache may keep the page.

The routes come from ``app.url_map``: a new public page is checked without anyone listing it here."""
from __future__ import annotations

import pytest

from app.security import ACCOUNT_BLUEPRINTS, STAFF_BLUEPRINTS

from .conftest import csrf_token, post, register_and_verify, registration
from .test_security_headers import MEMBER, REQUEST_KINDS, load_catalogue, route_samples, routes

# Reading needs no session; the download asks who you are (it sends the visitor to log in).
ASKS_WHO_YOU_ARE = {"media.download"}
CATALOGUE_PARTIALS = [{"HX-Request": "true", "HX-Target": "results"}, {"HX-Request": "true", "HX-Target": "load-more"}]


def public_reads(app, catalogue):
    """(endpoint, URL) of every GET route outside the account and staff areas."""
    private = ACCOUNT_BLUEPRINTS | STAFF_BLUEPRINTS
    register_and_verify(app.test_client(), app, MEMBER)  # an address for the unsubscribe link's sample
    return [(rule.endpoint, url) for rule, url in routes(app, route_samples(app, catalogue), {"GET"})
            if rule.endpoint.split(".")[0] not in private]


def test_a_visitor_who_only_reads_gets_no_cookie(app, tmp_path):
    catalogue = load_catalogue(app, tmp_path)
    urls = public_reads(app, catalogue)
    assert {"media.index", "media.story", "media.conditions", "media.privacy", "media.accessibility"} \
        <= {endpoint for endpoint, _ in urls}
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
    response = app.test_client().post("/account/login", data={"email": "a@example.org", "password": "x"},
                                      headers={"Referer": "http://localhost/"})
    assert response.status_code == 400


def test_csrf_token_helper_works_for_a_fresh_client(app):
    assert csrf_token(app.test_client())
