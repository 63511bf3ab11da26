"""The route walk: every rule of ``app.url_map`` as a URL, in each language, with sample values
for its variable parts from a one-story catalogue (a new route with variables fails the walk until
it has its sample), and the kinds of request HTMX sends."""

from __future__ import annotations

import copy
from dataclasses import dataclass

from app.extensions import db
from app.flows import captions, newsletter
from app.models import Caption, Category, Rendition, Story, User, Video

from .catalogue_data import STORIES, load
from .portal import HTMX

MEMBER = "walk.member@example.org"
# The request headers HTMX sends: a step swapped into the open dialog, a link that opens the
# dialog (#dialog-body), and the catalogue's live search (#results) and "Load more".
REQUEST_KINDS = {
    "page": {},
    "htmx step": HTMX,
    "htmx dialog": {"HX-Request": "true", "HX-Target": "dialog-body"},
}


@dataclass
class Catalogue:
    slug: str
    preview_id: int
    download_id: int
    video_id: int
    story_id: int
    caption_id: int
    category: str


def load_catalogue(app, tmp_path) -> Catalogue:
    load(app, tmp_path, copy.deepcopy(STORIES[:1]))
    with app.app_context():
        captions.save(
            db.session.query(Story).one(),
            "en",
            b"WEBVTT\n\n00:00:00.000 --> 00:00:02.000\nA caption\n",
            config=app.config,
        )
        renditions = db.session.query(Rendition).all()
        catalogue = Catalogue(
            slug=STORIES[0]["slug"],
            preview_id=next(r.id for r in renditions if r.is_preview),
            download_id=next(r.id for r in renditions if not r.is_preview),
            video_id=db.session.query(Video.id).scalar(),
            story_id=db.session.query(Story.id).scalar(),
            caption_id=db.session.query(Caption.id).scalar(),
            category=db.session.query(Category.slug).scalar(),
        )
        db.session.remove()
    return catalogue


def unsubscribe_token(app, email: str) -> str:
    with app.app_context():
        token = newsletter.unsubscribe_token(db.session.query(User).filter_by(email=email).one())
        db.session.remove()
    return token


def route_samples(app, catalogue: Catalogue, email: str = MEMBER) -> dict[str, dict]:
    """Values for the variable parts of each route, by endpoint. A new route with variables
    fails the walk until it has its sample here."""
    return {
        "static": {"filename": "css/portal.css"},
        "media.story": {"slug": catalogue.slug},
        "media.feed": {"language": "fr"},
        "media.category_feed": {"language": "en", "category_slug": catalogue.category},
        "media.preview": {"rendition_id": catalogue.preview_id},
        "media.poster": {"video_id": catalogue.video_id},
        "media.download": {"rendition_id": catalogue.download_id},
        "media.captions_file": {"caption_id": catalogue.caption_id},
        "newsletter.unsubscribe": {"token": unsubscribe_token(app, email)},
        **{f"staff.{name}": {"story_id": catalogue.story_id} for name in STAFF_STORY_PAGES},
        "staff.statistics_csv": {"key": "stories"},
        "staff.demote": {"user_id": 1},
        **upload_samples(catalogue.story_id),
    }


STAFF_STORY_PAGES = ("edit", "change_state", "preview")


def upload_samples(story_id: int) -> dict[str, dict]:
    """The staff upload routes (app/uploads): a story, an upload's key, a transcoding job."""
    return {
        "uploads.story": {"story_id": story_id},
        "uploads.poster": {"story_id": story_id},
        "uploads.add_captions": {"story_id": story_id},
        "uploads.remove_captions": {"story_id": story_id, "language": "en"},
        "uploads.cancel": {"job_id": 1},
        "uploads.retry": {"job_id": 1},
        **{endpoint: {"key": "0" * 32} for endpoint in ("uploads.upload", "uploads.append", "uploads.terminate")},
    }


# Every page at its English URL and its French one (issue #16, app/i18n.py); the neutral
# endpoints (files, feeds) answer 404 under /fr/, with the same headers.
LANGUAGE_PREFIXES = ("", "/fr")


def routes(app, samples: dict[str, dict], methods: set[str]) -> list[tuple[object, str]]:
    """(rule, URL) of every rule in the URL map that answers one of ``methods``, in each language."""
    from flask import url_for

    found = []
    for rule in app.url_map.iter_rules():
        if not rule.methods & methods:
            continue
        values = samples.get(rule.endpoint, {})
        missing = rule.arguments - set(values)
        assert not missing, f"route {rule.rule} ({rule.endpoint}) is new: give its {sorted(missing)} a sample value"
        with app.test_request_context():
            url = url_for(rule.endpoint, **values)
        found += [(rule, prefix + url) for prefix in LANGUAGE_PREFIXES]
    assert found, "no routes found"
    return found
