"""Found and shared (issue #16): Atom feeds of the newest stories per language and per category,
the sitemap with its video entries, robots.txt, and the link-preview tags of a story page
(OpenGraph, Twitter card, JSON-LD).

Every absolute URL is built by ``external_url`` (app/urls.py), from SERVER_NAME, never from the
Host header of the request: a cached feed or page would otherwise carry whatever host its first
visitor sent.
"""

from __future__ import annotations

from datetime import UTC

from feedgen.feed import FeedGenerator
from flask import abort, current_app, make_response, render_template
from flask_babel import force_locale
from flask_babel import gettext as _

from ..flows import catalogue
from ..i18n import FORMAT_LOCALES, LANGUAGES, category, localized
from ..urls import PREFIX, external_url
from . import bp

FEED_SIZE = 30
SITEMAP_LIMIT = 50_000  # what one sitemap file may list (sitemaps.org)
LANGUAGE = f"<any({', '.join(LANGUAGES)}):language>"
# OpenGraph names a locale with its country.
OPEN_GRAPH_LOCALES = {"en": "en_GB", "fr": "fr_FR"}
ATOM = "application/atom+xml"


def story_url(story, language: str) -> str:
    """A story's page in ``language``: /fr/stories/<slug> for French."""
    return external_url("media.story", _language=language, slug=story.slug)


def _aware(moment):
    return moment.replace(tzinfo=UTC)  # the database keeps naive UTC


def went_live(story):
    return story.publish_at or story.published_at


@bp.route(f"/feeds/{LANGUAGE}.atom")
def feed(language):
    return _feed(language, None)


@bp.route(f"/feeds/{LANGUAGE}/<category_slug>.atom")
def category_feed(language, category_slug):
    return _feed(language, catalogue.category_by_slug(category_slug) or abort(404))


def _feed(language: str, chosen):
    with force_locale(FORMAT_LOCALES[language]):
        body = build_feed(language, chosen, catalogue.newest(FEED_SIZE, chosen))
    response = make_response(body)
    response.mimetype = ATOM
    return response


def build_feed(language: str, chosen, stories) -> bytes:
    portal = localized(current_app.config["PORTAL_NAME"], language)
    own = (
        external_url("media.category_feed", language=language, category_slug=chosen.slug)
        if chosen
        else external_url("media.feed", language=language)
    )
    generator = FeedGenerator()
    generator.id(own)
    generator.title(f"{portal} · {category(chosen.name)}" if chosen else portal)
    generator.subtitle(_("The newest stories"))
    generator.language(language)
    generator.link(href=own, rel="self", type=ATOM)
    home = external_url("media.index", _language=language, **({"category": chosen.slug} if chosen else {}))
    generator.link(href=home, rel="alternate", type="text/html")
    generator.author(name=localized(current_app.config["ORGANISATION_NAME"], language))
    if stories:  # an empty feed is dated by feedgen: now
        generator.updated(_aware(went_live(stories[0])))
    for story in reversed(stories):  # feedgen puts each new entry first
        words = story.text(language)
        entry = generator.add_entry()
        entry.id(external_url("media.story", slug=story.slug))
        entry.title(words.title)
        # feedgen 1.0 writes an entry's links without their rel, which Atom reads as "alternate":
        # so one link only (an enclosure would read as a second alternate)
        entry.link(href=story_url(story, language), rel="alternate")
        entry.summary(words.summary or words.title)
        entry.published(_aware(went_live(story)))
        entry.updated(_aware(went_live(story)))
        for each in story.categories:
            entry.category(term=each.slug, label=category(each.name))
    return generator.atom_str(pretty=False)


@bp.route("/sitemap.xml")
def sitemap():
    stories = catalogue.all_visible(SITEMAP_LIMIT - 1)
    response = make_response(
        render_template("media/sitemap.xml", stories=stories, story_url=story_url, went_live=went_live)
    )
    response.mimetype = "application/xml"
    return response


@bp.route("/robots.txt")
def robots():
    private = ["/account/", "/newsletter/", "/staff/"]
    private += [PREFIX + path for path in private] + ["/download/"]  # French URLs too (app/i18n.py)
    lines = [
        "User-agent: *",
        *(f"Disallow: {path}" for path in private),
        "",
        f"Sitemap: {external_url('media.sitemap')}",
        "",
    ]
    response = make_response("\n".join(lines))
    response.mimetype = "text/plain"
    return response


def iso_duration(seconds: float) -> str:
    """ISO 8601, as schema.org's VideoObject wants it: PT1M8S."""
    total = max(int(round(seconds or 0)), 0)
    hours, rest = divmod(total, 3600)
    return "PT" + (f"{hours}H" if hours else "") + f"{rest // 60}M{rest % 60}S"


def sharing(story, language: str) -> dict:
    """What a story page tells link previews and search engines: OpenGraph and Twitter tags, and
    the JSON-LD NewsArticle with its VideoObject (only public files: the poster and the preview)."""
    words = story.text(language)
    video = story.video
    preview = video.preview if video else None
    poster = external_url("media.poster", video_id=video.id) if video and video.poster_filename else None
    description = words.summary or words.title
    card = {
        "title": words.title,
        "description": description,
        "url": story_url(story, language),
        "image": poster,
        "locale": OPEN_GRAPH_LOCALES[language],
        "alternate_locales": [OPEN_GRAPH_LOCALES[code] for code in LANGUAGES if code != language],
        "video": external_url("media.preview", rendition_id=preview.id) if preview else None,
        "video_type": preview.mimetype if preview else None,
    }
    article = {
        "@context": "https://schema.org",
        "@type": "NewsArticle",
        "headline": words.title[:110],
        "description": description,
        "inLanguage": words.language,
        "url": card["url"],
        "mainEntityOfPage": card["url"],
        "datePublished": _aware(went_live(story)).isoformat(),
        "publisher": {"@type": "Organization", "name": localized(current_app.config["ORGANISATION_NAME"], language)},
    }
    if poster:
        article["image"] = [poster]
    if preview is not None:
        article["video"] = {
            "@type": "VideoObject",
            "name": words.title,
            "description": description,
            "uploadDate": _aware(went_live(story)).isoformat(),
            "duration": iso_duration(video.duration_seconds),
            "contentUrl": card["video"],
            **({"thumbnailUrl": [poster]} if poster else {}),
        }
    card["json_ld"] = article
    return card
