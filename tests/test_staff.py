"""The staff area and the story editor (issue #15): who may enter, CSRF, rate limit, audit rows,
drafts, publishing now or at a set time, unpublishing, the version check, the slug lock, the
preview, French, and the users promote/demote commands."""

from __future__ import annotations

import copy
import re
from datetime import datetime, timedelta

import pytest
from flask import url_for

from app.extensions import db
from app.flows import newsletter, publishing
from app.flows.importer import validate
from app.models import AuditEvent, Story, User

from .helpers.catalogue_data import STORIES, load
from .helpers.french import assert_french, visible
from .helpers.portal import csrf_token, post, register_and_verify
from .helpers.second_factor_helpers import set_up_authenticator
from .helpers.staff_data import STAFF, change_state, editor_form, make_draft, staff_client, story_row

MEMBER = "reader@example.org"


STAFF_SAMPLES = {"key": "days", "user_id": 1}  # the statistics' CSV of one table, an account to demote


def staff_urls(app, story_id: int) -> list[tuple[str, str]]:
    """(method, URL) of every staff route, found in the url_map."""
    found = []
    with app.test_request_context():
        for rule in app.url_map.iter_rules():
            if rule.endpoint.startswith("staff."):
                samples = {"story_id": story_id, **STAFF_SAMPLES}
                url = url_for(rule.endpoint, **{name: samples[name] for name in rule.arguments})
                found += [(method, url) for method in sorted(rule.methods & {"GET", "POST"})]
    return found


def save(client, story_id, version, **changes):
    return post(client, f"/staff/stories/{story_id}", editor_form(version=str(version), **changes))


@pytest.fixture
def clock(app):
    """The publication rules' clock, moved by the test."""
    moment = {"now": datetime(2026, 6, 1, 9, 0)}
    app.extensions[publishing.CLOCK] = lambda: moment["now"]
    return moment


# --- who may enter ---------------------------------------------------------------------------


def test_every_staff_url_is_a_404_for_anyone_but_staff(app):
    story_id = make_draft(app)
    urls = staff_urls(app, story_id)
    assert {
        ("GET", "/staff/"),
        ("GET", "/staff/stories/new"),
        ("POST", "/staff/stories/new"),
        ("POST", f"/staff/stories/{story_id}/state"),
        ("GET", f"/staff/stories/{story_id}/preview"),
    } <= set(urls)
    member = app.test_client()
    register_and_verify(member, app, MEMBER)
    for who, client in (("anonymous", app.test_client()), ("verified member", member)):
        for method, url in urls:
            for token in (True, False):  # with a valid token too: the area itself is not there
                data = {"csrf_token": csrf_token(client)} if token else {}
                response = client.open(url, method=method, data=data, headers={"Referer": "http://localhost/"})
                assert response.status_code == 404, (who, method, url, token, response.status_code)
                assert "Page not found" in response.get_data(as_text=True)
    staff = staff_client(app)
    for method, url in urls:
        if method == "GET":
            response = staff.get(url)
            assert response.status_code == 200, (url, response.status_code)
            assert "no-store" in response.headers["Cache-Control"]
    assert story_row(app, story_id).version == 1  # nothing the others sent changed it


def test_a_staff_post_without_a_valid_token_is_refused(app):
    story_id = make_draft(app)
    staff = staff_client(app)
    for _, url in (entry for entry in staff_urls(app, story_id) if entry[0] == "POST"):
        for data in ({}, {"csrf_token": "IjAwMDAi.aaaa.bbbb"}, {"csrf_token": csrf_token(app.test_client())}):
            response = staff.post(
                url,
                data={**editor_form(version="1"), "action": "publish", **data},
                headers={"Referer": "http://localhost/"},
            )
            assert response.status_code == 400 and "This form has expired" in response.get_data(as_text=True), url
    story = story_row(app, story_id)
    assert (story.state, story.version, story.title) == ("draft", 1, "Summit in Brussels")


@pytest.mark.parametrize("app_config", [{"RATELIMIT_STAFF": "3 per minute"}])
def test_staff_posts_are_rate_limited_per_account(app, app_config):
    story_id = make_draft(app)
    staff = staff_client(app)
    statuses = [save(staff, story_id, version, title=f"Take {version}").status_code for version in range(1, 6)]
    assert statuses == [303, 303, 303, 429, 429]
    assert story_row(app, story_id).title == "Take 3"
    other = staff_client(app, "second.officer@example.org")  # each staff account has its own count
    assert save(other, story_id, 4, title="Take 4").status_code == 303
    member = app.test_client()
    register_and_verify(member, app, MEMBER)
    assert all(save(member, story_id, 5).status_code == 404 for _ in range(5))  # never a 429 that shows the area


def test_every_staff_change_writes_an_audit_row(app, clock):
    staff = staff_client(app)
    response = post(staff, "/staff/stories/new", editor_form())
    assert response.status_code == 303
    story_id = int(response.headers["Location"].rsplit("/", 1)[1])
    assert save(staff, story_id, 1, title="Summit opens in Brussels").status_code == 303
    assert change_state(staff, story_id, 2, "schedule", publish_at="2026-06-02T08:30").status_code == 303
    assert change_state(staff, story_id, 3, "publish").status_code == 303
    assert change_state(staff, story_id, 4, "unpublish").status_code == 303
    with app.app_context():
        officer = db.session.query(User).filter_by(email=STAFF).one()
        rows = db.session.query(AuditEvent).filter(AuditEvent.story_id.is_not(None)).order_by(AuditEvent.id).all()
        assert [row.action for row in rows] == [
            "story.create",
            "story.update",
            "story.schedule",
            "story.publish",
            "story.unpublish",
        ]
        assert {(row.actor_id, row.story_id, row.ip) for row in rows} == {(officer.id, story_id, "127.0.0.1")}
        assert rows[2].detail == "2026-06-02T08:30"
        assert all(row.at is not None for row in rows)
        promoted = db.session.query(AuditEvent).filter_by(action="user.promote").one()
        assert promoted.subject_user_id == officer.id


# --- the editor ---------------------------------------------------------------------------------


def test_a_new_story_is_a_draft_nobody_else_sees(app):
    staff = staff_client(app)
    response = post(staff, "/staff/stories/new", editor_form(title="Défense : sommet à Bruxelles"))
    assert response.status_code == 303
    story = story_row(app, int(response.headers["Location"].rsplit("/", 1)[1]))
    assert (story.state, story.slug, story.version) == ("draft", "defense-sommet-a-bruxelles", 1)
    assert story.video.shotlist == "00:00:01 Wide shot" and [c.name for c in story.categories] == ["Summits"]
    visitor = app.test_client()
    assert visitor.get(f"/stories/{story.slug}").status_code == 404
    assert story.slug not in visitor.get("/?q=sommet").get_data(as_text=True)
    assert story.slug not in visitor.get("/").get_data(as_text=True)
    listing = staff.get("/staff/?q=sommet").get_data(as_text=True)  # the same search finds it for staff
    assert f"/staff/stories/{story.id}" in listing and "Draft" in listing
    assert f"/staff/stories/{story.id}" not in staff.get("/staff/?state=published").get_data(as_text=True)
    # as one types (HTMX): the results block alone
    partial = staff.get("/staff/?q=sommet&state=draft", headers={"HX-Request": "true", "HX-Target": "staff-results"})
    assert partial.status_code == 200 and "<html" not in partial.get_data(as_text=True)
    assert f"/staff/stories/{story.id}" in partial.get_data(as_text=True)


def test_field_errors_follow_the_importers_rules(app, tmp_path):
    staff = staff_client(app)
    response = post(
        staff,
        "/staff/stories/new",
        editor_form(
            title="",
            published="14/05/2026",
            location="x" * 201,
            shot_at=["1:2", "00:00:05", ""],
            shot_text=["Wide", "Close", ""],
            fr_shot_text=["", "Gros plan", ""],
            fr_summary="Les dirigeants.",
        ),
    )
    page = response.get_data(as_text=True)
    assert response.status_code == 422
    assert "The story was not saved" in page
    for field, message in (
        ("title", "required"),
        ("published", "not a date (YYYY-MM-DD)"),
        ("location", "at most 200 characters"),
        ("fr_title", "required"),
    ):
        assert re.search(rf'id="{field}-error">{re.escape(message)}<', page), field
    assert "Row 1: needs" in page and "Row 2" not in page
    # what was typed stays, the empty rows too
    assert 'value="Gros plan"' in page and "Les dirigeants." in page and page.count('name="shot_at"') == 5
    with app.app_context():
        assert db.session.query(Story).count() == 0
    # the importer says the same of the same fields
    problems = validate(
        {
            "stories": [
                {
                    "slug": "s",
                    "title": "",
                    "published": "14/05/2026",
                    "location": "x" * 201,
                    "translations": {"fr": {"summary": "Les dirigeants."}},
                    "video": {"shotlist": [{"at": "1:2", "text": "Wide"}], "renditions": []},
                }
            ]
        },
        tmp_path,
    )
    for expected in (
        "stories[0].title: required",
        "stories[0].published: not a date (YYYY-MM-DD)",
        "stories[0].location: at most 200 characters",
        "stories[0].translations.fr.title: required",
        'stories[0].video.shotlist[0]: needs "at" (HH:MM:SS) and "text"',
    ):
        assert expected in problems, (expected, problems)


def test_add_rows_works_without_javascript_and_saves_nothing(app):
    story_id = make_draft(app)
    staff = staff_client(app)
    response = post(staff, f"/staff/stories/{story_id}", editor_form(version="1", action="add-rows", title="Typed"))
    page = response.get_data(as_text=True)
    assert response.status_code == 200
    assert page.count('name="shot_at"') == 1 + 3 + 5 and 'value="Typed"' in page and 'value="Wide shot"' in page
    assert story_row(app, story_id).title == "Summit in Brussels"


def test_a_save_over_an_older_version_is_refused_and_keeps_the_typed_text(app):
    story_id = make_draft(app)
    ann, bob = staff_client(app), staff_client(app, "bob.officer@example.org")
    for client in (ann, bob):  # both open the story at version 1
        assert 'name="version" type="hidden" value="1"' in client.get(f"/staff/stories/{story_id}").get_data(
            as_text=True
        )
    assert save(ann, story_id, 1, title="Ann's title", body="Ann's body").status_code == 303
    response = save(bob, story_id, 1, title="Bob's title", body="Bob's long body typed for an hour")
    page = response.get_data(as_text=True)
    assert response.status_code == 409
    assert "Someone else saved this story after you opened it" in page
    assert 'value="Bob&#39;s title"' in page and "Bob&#39;s long body typed for an hour" in page
    assert 'name="version" type="hidden" value="1"' in page  # sending it again is refused again
    assert save(bob, story_id, 1, title="Bob again").status_code == 409
    story = story_row(app, story_id)
    assert (story.title, story.body, story.version) == ("Ann's title", "Ann's body", 2)
    # publishing from a page showing an older version is refused too
    assert change_state(bob, story_id, 1, "publish").status_code == 303
    assert story_row(app, story_id).state == "draft"
    assert "Someone else saved this story" in bob.get(f"/staff/stories/{story_id}").get_data(as_text=True)


def test_the_slug_follows_the_title_until_the_story_is_published(app):
    story_id = make_draft(app, "First title")
    staff = staff_client(app)
    assert story_row(app, story_id).slug == "first-title"
    save(staff, story_id, 1, title="Second title")
    assert story_row(app, story_id).slug == "second-title"
    make_draft(app, "Second title")  # another story with that title gets its own address
    assert story_row(app, story_id + 1).slug == "second-title-2"
    change_state(staff, story_id, 2, "publish")
    save(staff, story_id, 3, title="Third title")
    change_state(staff, story_id, 4, "unpublish")
    save(staff, story_id, 5, title="Fourth title")
    story = story_row(app, story_id)
    assert (story.title, story.slug, story.slug_locked) == ("Fourth title", "second-title", True)


def test_publish_now_and_unpublish(app):
    story_id = make_draft(app, "Allied ships train in the Baltic")
    staff, visitor = staff_client(app), app.test_client()
    slug = "allied-ships-train-in-the-baltic"
    assert change_state(staff, story_id, 1, "publish").status_code == 303
    assert visitor.get(f"/stories/{slug}").status_code == 200
    assert slug in visitor.get("/").get_data(as_text=True) and slug in visitor.get("/?q=baltic").get_data(as_text=True)
    assert change_state(staff, story_id, 2, "unpublish").status_code == 303
    assert visitor.get(f"/stories/{slug}").status_code == 404
    assert slug not in visitor.get("/").get_data(as_text=True) and slug not in visitor.get("/?q=baltic").get_data(
        as_text=True
    )


@pytest.mark.parametrize("app_config", [{"CATALOGUE_VERSION_RECHECK_SECONDS": 3600}])
def test_a_scheduled_story_appears_at_its_time_with_nothing_written(app, app_config, clock):
    """The catalogue's cache is keyed by the catalogue version, read here once an hour: the
    story must still appear at its time, though nothing changes the version then."""
    story_id = make_draft(app, "Air policing scramble")
    staff, visitor = staff_client(app), app.test_client()
    slug = "air-policing-scramble"
    assert change_state(staff, story_id, 1, "schedule", publish_at="2026-06-01T10:00").status_code == 303
    with app.app_context():
        subscriber = db.session.query(User).filter_by(email=STAFF).one()
        newsletter.subscribe(subscriber, "test", now=clock["now"])
    assert "Scheduled" in staff.get("/staff/").get_data(as_text=True)
    for url in ("/", "/?q=scramble"):  # cached now, without the story
        assert slug not in visitor.get(url).get_data(as_text=True)
    assert visitor.get(f"/stories/{slug}").status_code == 404
    with app.app_context():
        assert newsletter.send_digest(dry_run=True, now=clock["now"]).stories == []
    clock["now"] = datetime(2026, 6, 1, 10, 0, 1)
    for url in ("/", "/?q=scramble"):
        assert slug in visitor.get(url).get_data(as_text=True), url
    assert visitor.get(f"/stories/{slug}").status_code == 200
    with app.app_context():
        assert [title for _, title in newsletter.send_digest(dry_run=True, now=clock["now"]).stories] == [
            "Air policing scramble"
        ]
    assert "Published" in staff.get("/staff/").get_data(as_text=True)


def test_a_schedule_needs_a_time(app):
    story_id = make_draft(app)
    staff = staff_client(app)
    response = change_state(staff, story_id, 1, "schedule", publish_at="next tuesday")
    assert response.status_code == 422 and "Use a date and time like 2025-05-14 09:30." in response.get_data(
        as_text=True
    )
    assert story_row(app, story_id).state == "draft"


def test_preview_shows_a_draft_to_staff_only(app, tmp_path):
    load(app, tmp_path, copy.deepcopy(STORIES[:1]))  # load() takes the entries' _bytes
    with app.app_context():
        story = db.session.query(Story).one()
        story_id, slug, preview = story.id, story.slug, story.video.preview.id
        db.session.remove()
    staff, visitor = staff_client(app), app.test_client()
    assert change_state(staff, story_id, 1, "unpublish").status_code == 303
    page = staff.get(f"/staff/stories/{story_id}/preview")
    assert page.status_code == 200
    assert "Preview: this is the public page as a visitor will see it." in page.get_data(as_text=True)
    assert f"/media/preview/{preview}" in page.get_data(as_text=True)
    assert staff.get(f"/media/preview/{preview}").status_code == 200  # the player plays for staff
    for url in (f"/stories/{slug}", f"/media/preview/{preview}", f"/staff/stories/{story_id}/preview"):
        assert visitor.get(url).status_code == 404, url


def test_an_imported_story_is_published_and_stays_so(app, tmp_path):
    load(app, tmp_path, copy.deepcopy(STORIES[:1]))  # load() takes the entries' _bytes
    with app.app_context():
        story = db.session.query(Story).one()
        assert (story.state, story.publish_at, story.slug_locked) == ("published", None, True)
        assert publishing.is_visible(story)
        db.session.remove()
    assert app.test_client().get(f"/stories/{STORIES[0]['slug']}").status_code == 200


# --- French -------------------------------------------------------------------------------------


def test_the_staff_pages_are_in_french(app):
    story_id = make_draft(app)
    staff = staff_client(app)
    for url in ("/staff/", "/staff/stories/new", f"/staff/stories/{story_id}", f"/staff/stories/{story_id}/preview"):
        response = staff.get("/fr" + url)  # the account itself registered in English: the URL decides
        assert response.status_code == 200
        assert_french(visible(response.get_data(as_text=True)), url)
    response = post(staff, "/fr/staff/stories/new", editor_form(title="", shot_at=["1:2", "", ""]))
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert_french(visible(page), "the editor's errors")
    assert 'id="title-error">obligatoire<' in page and "Ligne 1 :" in page


def test_the_french_text_written_in_the_editor_is_the_french_page(app):
    staff = staff_client(app)
    response = post(
        staff,
        "/staff/stories/new",
        editor_form(
            fr_title="Sommet à Bruxelles",
            fr_summary="Les dirigeants se réunissent.",
            fr_shot_text=["Plan large", "", ""],
        ),
    )
    story_id = int(response.headers["Location"].rsplit("/", 1)[1])
    change_state(staff, story_id, 1, "publish")
    story = story_row(app, story_id)
    assert story.translation("fr").shotlist == "00:00:01 Plan large"
    french = app.test_client().get(f"/fr/stories/{story.slug}").get_data(as_text=True)
    assert "Sommet à Bruxelles" in french and "Les dirigeants se réunissent." in french and "Plan large" in french
    # emptied again: the French page falls back to English and says so
    save(staff, story_id, 2, fr_title="", fr_summary="", fr_shot_text=["", "", ""])
    french = app.test_client().get(f"/fr/stories/{story.slug}").get_data(as_text=True)
    assert "Summit in Brussels" in french and "pas encore disponible en français" in french


# --- the command line ---------------------------------------------------------------------------


def test_users_promote_and_demote(app):
    member = app.test_client()
    register_and_verify(member, app, MEMBER)
    runner = app.test_cli_runner()
    assert member.get("/staff/").status_code == 404
    result = runner.invoke(args=["users", "promote", " Reader@Example.org "])
    assert result.exit_code == 0 and "reader@example.org is now staff" in result.output
    # staff now: walked to set up a second factor first (STAFF_REQUIRE_SECOND_FACTOR), then in
    assert member.get("/staff/").headers["Location"].startswith("/account/two-step?next=")
    set_up_authenticator(member, app, MEMBER)
    assert member.get("/staff/").status_code == 200
    result = runner.invoke(args=["users", "demote", MEMBER])
    assert result.exit_code == 0 and "no longer staff" in result.output
    assert member.get("/staff/").status_code == 404
    for args in (["users", "promote", "nobody@example.org"], ["users", "promote", "not an address"]):
        result = runner.invoke(args=args)
        assert result.exit_code != 0 and "Error" in result.output
    with app.app_context():
        assert [
            e.action
            for e in db.session.query(AuditEvent).filter(AuditEvent.action.like("user.%")).order_by(AuditEvent.id)
        ] == ["user.promote", "user.demote"]


def test_an_unverified_account_cannot_be_promoted(app):
    post(
        app.test_client(),
        "/account/register",
        {
            "email": "new@example.org",
            "password": "Blue-Harbour-42!",
            "confirm": "Blue-Harbour-42!",
            "first_name": "N",
            "last_name": "O",
            "organisation": "P",
            "accept_conditions": "y",
        },
    )
    result = app.test_cli_runner().invoke(args=["users", "promote", "new@example.org"])
    assert result.exit_code != 0 and "has not verified" in result.output
    with app.app_context():
        assert db.session.query(User).filter_by(email="new@example.org").one().is_staff is False


def test_the_rules_take_the_clock(app, clock):
    with app.app_context():
        at = clock["now"]
        assert publishing.now() == at
        story = Story(state="published", publish_at=at + timedelta(minutes=1))
        assert publishing.state_of(story) == "scheduled"
        clock["now"] = at + timedelta(minutes=1)
        assert publishing.state_of(story) == "published"


def test_two_stories_taking_one_slug_at_once_both_get_saved(app, monkeypatch):
    """Two saves of one title at the same moment both find its slug free; the second's commit
    breaks the unique index (was a 500). It is written again with the next free slug."""
    make_draft(app, "Summit")
    real, calls = publishing._free_slug, []

    def as_if_at_the_same_time(title, story_id):
        calls.append(title)
        return "summit" if len(calls) == 1 else real(title, story_id)  # the first look saw it free

    monkeypatch.setattr(publishing, "_free_slug", as_if_at_the_same_time)
    staff = staff_client(app)
    response = post(staff, "/staff/stories/new", editor_form(title="Summit"))
    assert response.status_code == 303
    assert story_row(app, int(response.headers["Location"].rsplit("/", 1)[1])).slug == "summit-2"
    with app.app_context():
        assert db.session.query(AuditEvent).filter_by(action="story.create").count() == 2
