"""Staff management (/staff/people): promote a verified account by address, demote; the last
staff member stays; each change audited and mailed (English or French)."""

from app.extensions import db
from app.models import AuditEvent, User

from .helpers.portal import outbox, post, register_and_verify
from .helpers.staff_data import STAFF, staff_client

MEMBER = "reader@example.org"


def staff_flags(app):
    with app.app_context():
        return {u.email: u.is_staff for u in db.session.query(User)}


def ids(app, email):
    with app.app_context():
        return db.session.query(User).filter_by(email=email).one().id


def test_promote_a_verified_account_then_demote_it(app):
    staff = staff_client(app)
    register_and_verify(app.test_client(), app, MEMBER)
    response = post(staff, "/staff/people", {"email": " Reader@Example.org "})
    assert response.status_code == 303
    assert staff_flags(app)[MEMBER] is True
    page = staff.get("/staff/people").get_data(as_text=True)
    assert "reader@example.org is now staff" in page and MEMBER in page
    member_id = ids(app, MEMBER)
    assert post(staff, f"/staff/people/{member_id}/demote").status_code == 303
    assert staff_flags(app)[MEMBER] is False
    with app.app_context():
        events = [
            (e.action, e.actor_id, e.subject_user_id)
            for e in db.session.query(AuditEvent)
            .filter(AuditEvent.action.in_(["user.promote", "user.demote"]))
            .order_by(AuditEvent.id)
        ]
    me = ids(app, STAFF)
    assert events == [
        ("user.promote", None, ids(app, STAFF)),
        ("user.promote", me, member_id),
        ("user.demote", me, member_id),
    ]
    subjects = [m.subject for m in outbox(app, MEMBER) if "publish" in m.subject]
    assert subjects == ["You can now publish on NATO Multimedia", "You no longer publish on NATO Multimedia"]


def test_the_notice_goes_in_the_persons_language(app):
    staff = staff_client(app)
    french = app.test_client()
    register_and_verify(french, app, MEMBER)
    with app.app_context():
        db.session.query(User).filter_by(email=MEMBER).one().language = "fr"
        db.session.commit()
    post(staff, "/staff/people", {"email": MEMBER})
    [notice] = [m for m in outbox(app, MEMBER) if "publi" in m.subject]
    assert notice.subject.startswith("Vous pouvez désormais publier") and "service de presse" in notice.body_text


def test_refusals_are_said_and_change_nothing(app):
    staff = staff_client(app)
    post(app.test_client(), "/account/register", {"email": "new@example.org"})  # not even registered
    for address, said in (
        ("nobody@example.org", "No account has this address"),
        ("not an address", "valid email"),
        ("", "required"),
    ):
        response = post(staff, "/staff/people", {"email": address})
        assert response.status_code == 422 and said in response.get_data(as_text=True), address
    assert staff_flags(app) == {STAFF: True}


def test_the_last_staff_member_cannot_demote_themselves(app):
    staff = staff_client(app)
    me = ids(app, STAFF)
    page = staff.get("/staff/people").get_data(as_text=True)
    assert "The last staff member cannot be removed." in page and f"/staff/people/{me}/demote" not in page
    response = post(staff, f"/staff/people/{me}/demote")
    assert response.status_code == 303
    assert staff_flags(app)[STAFF] is True
    assert "You are the last staff member" in staff.get("/staff/people").get_data(as_text=True)


def test_demoting_someone_who_is_not_staff_is_a_404(app):
    staff = staff_client(app)
    register_and_verify(app.test_client(), app, MEMBER)
    assert post(staff, f"/staff/people/{ids(app, MEMBER)}/demote").status_code == 404
    assert post(staff, "/staff/people/999999/demote").status_code == 404


def test_only_staff_manage_staff(app, client):
    staff_client(app)
    register_and_verify(client, app, MEMBER)
    assert client.get("/staff/people").status_code == 404
    assert post(client, "/staff/people", {"email": MEMBER}).status_code == 404
    assert post(client, f"/staff/people/{ids(app, STAFF)}/demote").status_code == 404
    assert staff_flags(app) == {STAFF: True, MEMBER: False}


def test_the_people_page_is_in_french(app):
    from .helpers.french import assert_french, visible

    staff = staff_client(app)
    body = staff.get("/fr/staff/people").get_data(as_text=True)
    assert_french(visible(body), "/staff/people")
