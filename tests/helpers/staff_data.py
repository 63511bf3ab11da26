"""Staff accounts and stories for the staff-area tests (and the route walks of other tests)."""

from __future__ import annotations

from app.extensions import db
from app.flows import publishing
from app.flows.staff import set_staff
from app.models import Story

from .portal import post, register_and_verify
from .second_factor_helpers import set_up_authenticator

STAFF = "press.officer@example.org"


def promote(app, email: str) -> None:
    with app.app_context():
        set_staff(email, True)
        db.session.remove()


def staff_client(app, email: str = STAFF):
    """A browser logged in as a staff account (registered and verified like anyone, then promoted,
    with an authenticator app set up: the staff area asks for a second factor)."""
    client = app.test_client()
    register_and_verify(client, app, email)
    promote(app, email)
    set_up_authenticator(client, app, email)
    return client


def story_entry(title: str = "Summit in Brussels", **changes) -> dict:
    """A story as the editor sends it to app.flows.publishing (the manifest's shape)."""
    entry = {
        "title": title,
        "published": "2026-05-14",
        "location": "Brussels",
        "summary": "Leaders meet.",
        "body": "First paragraph.\n\nSecond paragraph.",
        "credit": "NATO",
        "rights": "",
        "categories": [],
        "video": {"shotlist": []},
    }
    entry.update(changes)
    return entry


def make_draft(app, title: str = "Summit in Brussels", **changes) -> int:
    """A draft written through the editor's rule (no request): its id."""
    with app.app_context():
        story = publishing.create_story(story_entry(title, **changes), publishing.Actor(None))
        story_id = story.id
        db.session.remove()
    return story_id


def story_row(app, story_id: int) -> Story:
    with app.app_context():
        story = db.session.get(Story, story_id)
        db.session.expunge(story)
        return story


def editor_form(story_id=None, **changes) -> dict:
    data = {
        "action": "save",
        "title": "Summit in Brussels",
        "location": "Brussels",
        "published": "2026-05-14",
        "summary": "Leaders meet.",
        "body": "First paragraph.",
        "categories": "Summits",
        "credit": "NATO",
        "rights": "",
        "shot_at": ["00:00:01", "", ""],
        "shot_text": ["Wide shot", "", ""],
        "fr_shot_text": ["", "", ""],
    }
    data.update(changes)
    return data


def change_state(client, story_id, version, action, **fields):
    return post(client, f"/staff/stories/{story_id}/state", {"version": str(version), "action": action, **fields})
