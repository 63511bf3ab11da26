"""The audit log (/staff/audit): a row for each staff action and account security event, who,
what, from where; searchable by person and story; swept after AUDIT_RETENTION_DAYS; nothing in it
names a deleted account's person, and a failed log-in never keeps the address typed."""

from datetime import timedelta

from app.extensions import db
from app.flows import audit
from app.models import AuditEvent, User, utcnow

from .helpers.portal import GOOD_PASSWORD, age_codes, post, register_and_verify
from .helpers.reset import NEW_PASSWORD, full_reset
from .helpers.staff_data import STAFF, change_state, editor_form, staff_client

IP = "203.0.113.9"


def rows(app, **where):
    with app.app_context():
        return [
            (e.action, e.actor_id, e.subject_user_id, e.story_id, e.detail, e.ip)
            for e in db.session.query(AuditEvent).filter_by(**where).order_by(AuditEvent.id)
        ]


def user_id(app, email):
    with app.app_context():
        return db.session.query(User).filter_by(email=email).one().id


def test_each_staff_action_is_a_row_with_who_and_where(app):
    staff = staff_client(app)
    staff.environ_base["REMOTE_ADDR"] = IP
    created = post(staff, "/staff/stories/new", editor_form())
    story_id = int(created.headers["Location"].rsplit("/", 1)[1])
    post(staff, f"/staff/stories/{story_id}", editor_form(version="1", title="Summit, day two"))
    change_state(staff, story_id, 2, "schedule", publish_at="2099-01-01T09:00")
    change_state(staff, story_id, 3, "unpublish")
    change_state(staff, story_id, 4, "publish")
    me = user_id(app, STAFF)
    actions = [(action, actor, story, ip) for action, actor, _, story, _, ip in rows(app, story_id=story_id)]
    assert [a for a, *_ in actions] == [
        "story.create",
        "story.update",
        "story.schedule",
        "story.unpublish",
        "story.publish",
    ]
    assert all((actor, story, ip) == (me, story_id, IP) for _, actor, story, ip in actions)
    page = staff.get("/staff/audit").get_data(as_text=True)
    for shown in (
        "Story created",
        "Story saved",
        "Story scheduled",
        "Story unpublished",
        "Story published",
        STAFF,
        IP,
        "Summit, day two",
    ):
        assert shown in page, shown


def test_account_security_events_are_rows(app, client):
    client.environ_base["REMOTE_ADDR"] = IP
    register_and_verify(client, app)
    ann = user_id(app, "ann@example.org")
    post(client, "/account/password", {"current": GOOD_PASSWORD, "password": NEW_PASSWORD, "confirm": NEW_PASSWORD})
    age_codes(app, minutes=2)  # the next code mail to the address is due
    full_reset(app.test_client(), app, password=GOOD_PASSWORD)
    post(app.test_client(), "/account/login", {"email": "ANN@example.org", "password": "Not-the-password-1"})
    post(app.test_client(), "/account/login", {"email": "nobody@example.org", "password": "Not-the-password-1"})
    found = rows(app)
    assert [(action, subject) for action, _, subject, *_ in found[:3]] == [
        ("account.verified", ann),
        ("account.password_change", ann),
        ("account.password_reset", ann),
    ]
    assert found[0][5] == IP
    failures = [detail for action, *_, detail, _ in found if action == "login.failed"]
    assert failures == [
        audit.ADDRESS_PREFIX + key for key in with_app(app, audit.address_key, "ann@example.org", "nobody@example.org")
    ]
    assert not any("@" in detail for *_, detail, _ in found)


def with_app(app, function, *values):
    with app.app_context():
        return [function(value) for value in values]


def test_a_deleted_account_leaves_no_trace_of_its_person(app, client):
    client.environ_base["REMOTE_ADDR"] = IP
    register_and_verify(client, app)
    post(app.test_client(), "/account/login", {"email": "ann@example.org", "password": "Not-the-password-1"})
    post(client, "/account/delete", {"delete_password": GOOD_PASSWORD})
    found = rows(app)
    assert [action for action, *_ in found] == ["account.verified", "login.failed", "account.delete"]
    assert all(actor is None and subject is None and ip is None for _, actor, subject, _, _, ip in found)
    assert "ann@example.org" not in str(found)


def test_search_by_person_and_story(app):
    staff = staff_client(app)
    first = int(
        post(staff, "/staff/stories/new", editor_form(title="Baltic patrol")).headers["Location"].rsplit("/", 1)[1]
    )
    post(staff, "/staff/stories/new", editor_form(title="Summit in Brussels"))
    post(app.test_client(), "/account/login", {"email": STAFF, "password": "Not-the-password-1"})
    other = staff_client(app, "second.officer@example.org")
    post(other, "/staff/stories/new", editor_form(title="Exercise at sea"))

    def shown(**args):
        body = staff.get("/staff/audit", query_string=args).get_data(as_text=True)
        return {title for title in ("Baltic patrol", "Summit in Brussels", "Exercise at sea") if title in body}, body

    titles, body = shown(person=STAFF)
    assert titles == {"Baltic patrol", "Summit in Brussels"} and "Failed log-in" in body and "address code" in body
    assert shown(person=" SECOND.officer@example.org ")[0] == {"Exercise at sea"}
    assert shown(story="baltic")[0] == {"Baltic patrol"}
    assert shown(story=str(first))[0] == {"Baltic patrol"}
    assert shown(story="100%_\\")[0] == set()
    for odd in (
        {"page": "0"},
        {"page": "9" * 30},
        {"page": "²"},
        {"person": "²"},
        {"story": "²"},
        {"person": "\x00"},
        {"story": "x" * 5000},
    ):
        assert staff.get("/staff/audit", query_string=odd).status_code == 200, odd


def test_old_rows_are_swept(app):
    with app.app_context():
        audit.record("story.create", now=utcnow() - timedelta(days=366))
        audit.record("story.update", now=utcnow() - timedelta(days=364))
        db.session.commit()
    output = app.test_cli_runner().invoke(args=["audit", "sweep"]).output
    assert "1 rows" in output
    assert [action for action, *_ in rows(app)] == ["story.update"]


def test_the_outbox_worker_sweeps_the_audit_log_too(app):
    with app.app_context():
        audit.record("story.create", now=utcnow() - timedelta(days=400))
        db.session.commit()
    app.test_cli_runner().invoke(args=["outbox", "send"])
    assert rows(app) == []


def test_only_staff_see_the_audit_log(app, client):
    assert client.get("/staff/audit").status_code == 404
    register_and_verify(client, app, "someone@example.org")
    assert client.get("/staff/audit?person=x").status_code == 404


def test_the_audit_log_is_in_french(app):
    from .helpers.french import assert_french, visible

    staff = staff_client(app)
    post(staff, "/staff/stories/new", editor_form(title="Sommet"))
    staff.get("/staff/")  # shows the editor's English "saved" notice
    body = staff.get("/fr/staff/audit").get_data(as_text=True)
    assert "Reportage créé" in body
    assert_french(visible(body), "/staff/audit")
