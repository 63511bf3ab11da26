"""nginx's proxy_cache in front of the portal (issue #16): visitors' pages are served from the
cache, and the cache never gives a logged-in person's page to a visitor, nor one language's page
to a request for the other.

Real gunicorn and real nginx with the README's proxy_cache settings, two clients at a time."""

from __future__ import annotations

import re

import pytest

from harness.client import Browser
from harness.servers import Gunicorn, Nginx, app_env, flask, latest_code

from .helpers.catalogue_data import story_entry, write_manifest
from .helpers.portal import HTMX, registration
from .helpers.services import migrated_database, nginx_installed, required

# The README's proxy_cache settings (section "Deployment"), with the cache in the test's folder.
CACHE_ZONE = (
    "proxy_cache_path {directory}/cache levels=1:2 keys_zone=portal:10m max_size=100m inactive=10m use_temp_path=off;"
)
SERVER = """
        location / {{
            proxy_pass http://127.0.0.1:{port};
            proxy_set_header Host $host;
            proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
            proxy_set_header X-Forwarded-Proto $scheme;

            proxy_cache portal;
            proxy_cache_key $scheme$host$request_uri;
            proxy_cache_bypass $cookie_session $cookie_remember_token;
            proxy_no_cache $cookie_session $cookie_remember_token;
            proxy_cache_revalidate on;
            proxy_cache_lock on;
            proxy_cache_use_stale error timeout updating http_500 http_502 http_503 http_504;
            proxy_cache_background_update on;
            add_header X-Cache-Status $upstream_cache_status always;
        }}
"""
MEMBER = "nginx.member@example.org"
FRENCH = {"fr": {"title": "Les ministres se réunissent à Antalya", "summary": "Les ministres préparent le sommet."}}


@pytest.fixture(scope="module")
def servers(tmp_path_factory):
    required("nginx", nginx_installed)
    folder = tmp_path_factory.mktemp("public-cache")
    database = migrated_database(folder)
    env = app_env(database, MEDIA_ROOT=str(folder / "media"))
    manifest = write_manifest(
        folder / "import", [story_entry("antalya", "Ministers meet in Antalya") | {"translations": FRENCH}]
    )
    flask(env, "media", "import", str(manifest))
    with Gunicorn(env, folder / "gunicorn.log", workers=1) as app_server:
        http = CACHE_ZONE.format(directory=folder / "nginx")
        with Nginx(folder / "nginx", SERVER.format(port=app_server.port), http=http) as front:
            yield front, database


def member(front, database) -> Browser:
    browser = Browser(front.url)
    answer = browser.post(
        "/account/register", {**registration(MEMBER), "csrf_token": browser.csrf_token()}, headers=HTMX
    )
    assert answer.status == 303, answer.status
    answer = browser.post(
        "/account/verify", {"code": latest_code(database, MEMBER), "csrf_token": browser.csrf_token()}, headers=HTMX
    )
    assert answer.status == 303, answer.status
    assert "Log out" in browser.get("/").text
    return browser


def test_visitors_are_served_from_the_cache(servers):
    front, _ = servers
    first, second = Browser(front.url), Browser(front.url)
    assert first.get("/conditions").header("X-Cache-Status") in ("MISS", "EXPIRED")
    again = second.get("/conditions")
    assert again.status == 200 and again.header("X-Cache-Status") == "HIT"
    assert again.header("Set-Cookie") is None and not second.cookies


def test_the_cache_never_gives_a_logged_in_page_to_a_visitor(servers):
    front, database = servers
    ann = member(front, database)
    for url in ("/", "/stories/antalya", "/privacy", "/?q=ministers"):
        page = ann.get(url)  # first: were it stored, the visitor below would get it
        assert page.status == 200 and "Log out" in page.text, url
        assert page.header("X-Cache-Status") in ("BYPASS", None), (url, page.header("X-Cache-Status"))
        for _ in range(2):  # the second visit would be a HIT of whatever the first stored
            visitor = Browser(front.url)
            seen = visitor.get(url)
            assert seen.status == 200 and "Log out" not in seen.text and "Ann" not in seen.text, url
            assert "X-CSRFToken" not in seen.text
    assert Browser(front.url).get("/privacy").header("X-Cache-Status") == "HIT"
    assert "Log out" in ann.get("/privacy").text  # and the member is never given the visitors' copy


def title(page) -> str:
    return re.search(r"<h1[^>]*>([^<]+)</h1>", page.text).group(1)


def french_and_english_clients(front) -> dict[str, Browser]:
    """Two visitors whose every preference is one language: the switch's cookie and Accept-Language."""
    clients = {}
    for language in ("fr", "en"):
        client = Browser(front.url)
        switched = client.get(f"/?lang={language}")
        assert switched.status == 301 and client.cookies.get("lang") == language
        clients[language] = client
    return clients


ACCEPT = {"fr": {"Accept-Language": "fr-FR,fr;q=0.9"}, "en": {"Accept-Language": "en-GB,en;q=0.9"}}


@pytest.mark.parametrize("first, then", [("fr", "en"), ("en", "fr")])
def test_the_cache_never_gives_one_language_to_the_other(servers, first, then):
    """Each language has its own URL (/fr/...): whoever asks first, and whatever they prefer, the
    French URL gives French and the English URL English, from the cache after the first time."""
    front, _ = servers
    titles = {"en": "Ministers meet in Antalya", "fr": "Les ministres se réunissent à Antalya"}
    urls = {"en": f"/stories/antalya?from-{first}", "fr": f"/fr/stories/antalya?from-{first}"}  # new to the cache
    clients = french_and_english_clients(front)
    for url_language in (first, then):
        # the client who prefers the other language asks first: a cache that mixed them would store its page
        for asker in (then if url_language == first else first, url_language, then, first):
            page = clients[asker].get(urls[url_language], headers=ACCEPT[asker])
            assert page.status == 200, (asker, urls[url_language])
            assert title(page) == titles[url_language], (asker, url_language, page.header("X-Cache-Status"))
            assert f'<html lang="{url_language}">' in page.text
        assert page.header("X-Cache-Status") == "HIT"  # the pages did come from the cache
    # / alone follows the preference: the French visitor is sent to /fr/, never given the English page
    for _ in range(2):
        assert clients["en"].get("/", headers=ACCEPT["en"]).status == 200
        french = clients["fr"].get("/", headers=ACCEPT["fr"])
        assert french.status == 302 and french.header("Location").endswith("/fr/"), french.status
        assert '<html lang="en">' in Browser(front.url).get("/", headers=ACCEPT["en"]).text
        assert Browser(front.url).get("/", headers=ACCEPT["fr"]).status == 302
