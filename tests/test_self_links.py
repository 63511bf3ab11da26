"""Links a page makes to itself (issue #13): the EN | FR switch, the dialog's own address (the
in-dialog switch reloads it), and the page to come back to after logging in. They are built from
the route that answered, never copied from the request's path: ``GET /%5Cevil.example`` used to
link to ``/\\evil.example?lang=fr``, which browsers follow to evil.example.

Nothing of the app judges the links: ``stays_on_site`` (tests/helpers/redirects.py) reads them
as a browser does."""

from __future__ import annotations

import html
import re
from urllib.parse import unquote

import pytest

from .helpers.portal import HTMX
from .helpers.redirects import HOSTILE, stays_on_site

# Every attribute that holds an address the browser (or htmx) goes to, and the hidden "next".
LINK_RE = re.compile(r'\b(href|action|data-url|hx-get|hx-post)="([^"]*)"')
NEXT_RE = re.compile(r'name="next"[^>]*value="([^"]*)"|value="([^"]*)"[^>]*name="next"')
# Request paths a client can send: the hostile next values that are paths, as a server decodes them.
HOSTILE_PATHS = [path for path in HOSTILE if path.startswith("/")] + ["/%2F%2Fevil.example", "/%0D%0A/evil.example"]


def wsgi_path(raw: str) -> str:
    """PATH_INFO as a WSGI server hands it on: the percent-decoded UTF-8 bytes, read as latin-1."""
    return unquote(raw).encode("utf-8", "surrogateescape").decode("latin-1")


def links(body: str) -> list[tuple[str, str]]:
    found = [(name, html.unescape(value)) for name, value in LINK_RE.findall(body)]
    found += [("next", html.unescape(a or b)) for a, b in NEXT_RE.findall(body)]
    return [(name, value) for name, value in found if not value.startswith("#")]


@pytest.mark.parametrize("raw", HOSTILE_PATHS)
def test_every_link_on_a_page_at_a_hostile_path_stays_on_the_site(client, raw):
    for headers in ({}, HTMX, {"HX-Request": "true", "HX-Target": "dialog-body"}):
        response = client.get(
            "/", query_string={"q": "x"}, headers=headers, environ_overrides={"PATH_INFO": wsgi_path(raw)}
        )
        assert response.status_code < 500, raw
        found = links(response.get_data(as_text=True))
        assert found or headers, f"{raw}: no links found on the page"  # an alert-area partial has none
        # the hreflang alternates are absolute, at the app's own origin (no SERVER_NAME here)
        off_site = [(name, value) for name, value in found if not stays_on_site(value.removeprefix("http://localhost"))]
        assert not off_site, f"{raw} {headers}: {off_site}"


def test_the_switch_on_a_404_at_a_backslash_path_is_a_local_link(client):
    body = client.get("/%5Cevil.example").get_data(as_text=True)
    switch = re.findall(r'<a href="([^"]*)" lang="fr"', body)
    assert len(switch) == 1 and "\\" not in switch[0] and stays_on_site(html.unescape(switch[0])), switch


def test_the_switch_on_a_routed_page_keeps_its_route_and_query(client):
    body = client.get("/stories/no-such-story?ref=a%26b").get_data(as_text=True)
    assert 'href="/fr/stories/no-such-story?ref=a%26b&amp;lang=fr"' in body
    # a backslash inside a route's variable is encoded by the route, not copied
    body = client.get("/stories/%5Cevil.example").get_data(as_text=True)
    assert 'href="/fr/stories/%5Cevil.example?lang=fr"' in body


def test_a_404_in_the_dialog_reloads_a_local_address(client):
    body = client.get("/%5Cevil.example", headers={"HX-Request": "true", "HX-Target": "dialog-body"}).get_data(
        as_text=True
    )
    urls = re.findall(r'data-url="([^"]*)"', body)
    assert urls and all(stays_on_site(html.unescape(url)) for url in urls), urls
