"""Found and shared (issue #16): Atom feeds per language and category, the sitemap with video
entries, robots.txt, and a story page's link-preview tags and JSON-LD."""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from datetime import datetime

import pytest

from app.flows import publishing

from .helpers.catalogue_data import load, story_entry
from .helpers.staff_data import make_draft, story_row

ATOM = "{http://www.w3.org/2005/Atom}"
SITEMAP = "{http://www.sitemaps.org/schemas/sitemap/0.9}"
VIDEO = "{http://www.google.com/schemas/sitemap-video/1.1}"
XHTML = "{http://www.w3.org/1999/xhtml}"
HOSTILE = 'Summit </script><script>alert(1)</script> "quoted" & <b>bold</b>'
SITE = {"SERVER_NAME": "media.example.org", "PREFERRED_URL_SCHEME": "https"}
EVIL = "http://evil.example"  # the Host a request may carry: never in an absolute URL


def stories():
    french = {"fr": {"title": "Les ministres se réunissent à Antalya", "summary": "Les ministres préparent le sommet."}}
    return [
        story_entry(
            "antalya",
            "Ministers meet in Antalya",
            "2025-05-15",
            categories=("Summits",),
            summary="Ministers prepare the summit.",
        )
        | {"translations": french},
        story_entry("baltic", "Ships train in the Baltic", "2025-03-02", categories=("Exercises",)),
        story_entry("hostile", HOSTILE, "2024-01-01", categories=("Exercises",), summary=HOSTILE),
    ]


@pytest.fixture
def catalogue(app, tmp_path):
    load(app, tmp_path, stories())
    return app


def alternate(entry) -> str:
    """The entry's page: its link with rel="alternate", which is what a link without rel means (RFC 4287)."""
    [link] = [link for link in entry.findall(f"{ATOM}link") if link.get("rel", "alternate") == "alternate"]
    return link.get("href")


def entries(response):
    assert response.status_code == 200 and response.mimetype == "application/atom+xml"
    root = ET.fromstring(response.get_data())
    return root, [(entry.find(f"{ATOM}title").text, alternate(entry)) for entry in root.findall(f"{ATOM}entry")]


@pytest.mark.parametrize("app_config", [SITE])
def test_feeds_list_the_newest_stories_in_their_language(client, catalogue, app_config):
    root, english = entries(client.get("/feeds/en.atom", base_url=EVIL))
    assert [title for title, _ in english] == ["Ministers meet in Antalya", "Ships train in the Baltic", HOSTILE]
    assert english[0][1] == "https://media.example.org/stories/antalya"
    assert root.find(f"{ATOM}link[@rel='self']").get("href") == "https://media.example.org/feeds/en.atom"
    _, french = entries(client.get("/feeds/fr.atom", base_url=EVIL))
    assert french[0] == ("Les ministres se réunissent à Antalya", "https://media.example.org/fr/stories/antalya")
    assert french[1][0] == "Ships train in the Baltic"  # no translation: the original
    _, exercises = entries(client.get("/feeds/en/exercises.atom", base_url=EVIL))
    assert [title for title, _ in exercises] == ["Ships train in the Baltic", HOSTILE]
    body = client.get("/feeds/fr/exercises.atom").get_data(as_text=True)
    assert "evil.example" not in body and "<script>" not in body
    for missing in ("/feeds/de.atom", "/feeds/en/no-such-category.atom", "/feeds/en/Bad%20Slug.atom"):
        assert client.get(missing).status_code == 404, missing


def test_pages_link_their_feeds(client, catalogue):
    page = client.get("/").get_data(as_text=True)
    assert re.search(
        r'<link rel="alternate" type="application/atom\+xml" title="[^"]+" href="[^"]*/feeds/en.atom">', page
    )
    assert "/feeds/fr.atom" in client.get("/fr/").get_data(as_text=True)
    assert "/feeds/en/exercises.atom" in client.get("/?category=exercises").get_data(as_text=True)
    for url in ("/feeds/en.atom", "/feeds/en/exercises.atom"):
        assert client.get(url).status_code == 200


def test_a_scheduled_story_joins_the_feed_and_sitemap_when_its_time_comes(client, app, catalogue):
    moment = {"now": datetime(2026, 6, 1, 9, 0)}
    app.extensions[publishing.CLOCK] = lambda: moment["now"]
    story_id = make_draft(app, "Scheduled summit")
    with app.app_context():
        from app.extensions import db
        from app.models import Story

        story = db.session.get(Story, story_id)
        publishing.publish(story, story.version, publishing.Actor(None), at=datetime(2026, 6, 1, 12, 0))
        db.session.remove()
    slug = story_row(app, story_id).slug
    first = client.get("/feeds/en.atom")
    assert "Scheduled summit" not in [title for title, _ in entries(first)[1]]
    assert slug not in client.get("/sitemap.xml").get_data(as_text=True)
    moment["now"] = datetime(2026, 6, 1, 12, 0, 1)
    again = client.get("/feeds/en.atom", headers={"If-None-Match": first.headers["ETag"]})
    assert [title for title, _ in entries(again)[1]][0] == "Scheduled summit"
    assert f"/stories/{slug}<" in client.get("/sitemap.xml").get_data(as_text=True)


@pytest.mark.parametrize("app_config", [SITE])
def test_sitemap_lists_every_story_with_its_video(client, catalogue, app_config):
    response = client.get("/sitemap.xml", base_url=EVIL)
    assert response.status_code == 200 and response.mimetype == "application/xml"
    root = ET.fromstring(response.get_data())
    urls = {url.find(f"{SITEMAP}loc").text: url for url in root.findall(f"{SITEMAP}url")}
    assert set(urls) == {
        "https://media.example.org/",
        *(f"https://media.example.org/stories/{slug}" for slug in ("antalya", "baltic", "hostile")),
    }
    for loc, url in urls.items():  # each page names its French URL beside it
        alternates = {link.get("hreflang"): link.get("href") for link in url.findall(f"{XHTML}link")}
        assert alternates == {"en": loc, "fr": loc.replace(".org/", ".org/fr/")}, loc
    video = urls["https://media.example.org/stories/hostile"].find(f"{VIDEO}video")
    assert video.find(f"{VIDEO}title").text == HOSTILE and video.find(f"{VIDEO}duration").text == "8"
    for tag in ("thumbnail_loc", "content_loc", "player_loc"):
        assert video.find(f"{VIDEO}{tag}").text.startswith("https://media.example.org/media/"), tag
    assert "evil.example" not in response.get_data(as_text=True)


@pytest.mark.parametrize("app_config", [SITE])
def test_robots_names_the_sitemap_and_keeps_crawlers_out_of_private_areas(client, app_config):
    response = client.get("/robots.txt", base_url=EVIL)
    assert response.status_code == 200 and response.mimetype == "text/plain"
    text = response.get_data(as_text=True)
    assert "Sitemap: https://media.example.org/sitemap.xml" in text
    assert {
        "Disallow: /account/",
        "Disallow: /staff/",
        "Disallow: /download/",
        "Disallow: /fr/account/",
        "Disallow: /fr/staff/",
    } <= set(text.splitlines())


def meta(page: str, attribute: str, name: str) -> list[str]:
    return re.findall(rf'<meta {attribute}="{re.escape(name)}" content="([^"]*)">', page)


@pytest.mark.parametrize("app_config", [SITE])
def test_story_pages_carry_link_preview_tags_and_json_ld(client, catalogue, app_config):
    page = client.get("/stories/antalya", base_url=EVIL).get_data(as_text=True)
    assert meta(page, "property", "og:title") == ["Ministers meet in Antalya"]
    assert meta(page, "property", "og:description") == ["Ministers prepare the summit."]
    assert meta(page, "property", "og:locale") == ["en_GB"] and meta(page, "property", "og:locale:alternate") == [
        "fr_FR"
    ]
    [image] = meta(page, "property", "og:image")
    [video] = meta(page, "property", "og:video")
    assert image.startswith("https://media.example.org/media/poster/")
    assert video.startswith("https://media.example.org/media/preview/")
    assert meta(page, "name", "twitter:card") == ["summary_large_image"]
    assert meta(page, "name", "twitter:image") == [image]
    data = json.loads(re.search(r'<script type="application/ld\+json">(.*?)</script>', page, re.S).group(1))
    assert data["@type"] == "NewsArticle" and data["headline"] == "Ministers meet in Antalya"
    assert data["video"]["@type"] == "VideoObject" and data["video"]["contentUrl"] == video
    assert data["video"]["thumbnailUrl"] == [image] and data["video"]["duration"] == "PT0M8S"
    assert data["video"]["uploadDate"].startswith("2025-05-15") and "download" not in json.dumps(data)
    assert "evil.example" not in page
    french = client.get("/fr/stories/antalya").get_data(as_text=True)
    assert meta(french, "property", "og:title") == ["Les ministres se réunissent à Antalya"]
    assert meta(french, "property", "og:locale") == ["fr_FR"]


def test_a_hostile_title_is_escaped_in_every_tag(client, catalogue):
    page = client.get("/stories/hostile").get_data(as_text=True)
    assert "<script>alert(1)" not in page and "<b>bold</b>" not in page
    assert meta(page, "property", "og:title") == [
        "Summit &lt;/script&gt;&lt;script&gt;alert(1)&lt;/script&gt; &#34;quoted&#34; &amp; &lt;b&gt;bold&lt;/b&gt;"
    ]
    scripts = re.findall(r'<script type="application/ld\+json">(.*?)</script>', page, re.S)
    assert len(scripts) == 1 and json.loads(scripts[0])["headline"] == HOSTILE[:110]
