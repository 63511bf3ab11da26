"""CSRF (docs/security.md, CSRF): every POST (or other state-changing) route in ``app.url_map`` refuses a request
without a valid token — as a form field or HTMX's X-CSRFToken header — and changes nothing.
The one exception is the RFC 8058 one-click unsubscribe, which mail clients POST with no session.

The routes are discovered, not listed: a new POST route is checked as soon as it exists, and a
new one that takes requests without a token fails here until it is added to the exceptions."""

from __future__ import annotations

import pytest

from app.extensions import db
from app.models import Story, User

from .helpers.portal import GOOD_PASSWORD, HTMX, csrf_token, post, register_and_verify
from .helpers.routes import STAFF_STORY_PAGES, routes, unsubscribe_token, upload_samples
from .helpers.staff_data import make_draft, promote, staff_client

STATE_CHANGING = {"POST", "PUT", "PATCH", "DELETE"}
ACCEPTS_WITHOUT_TOKEN = {"newsletter.unsubscribe"}  # RFC 8058 one-click: the signed URL is the proof
MEMBER = "csrf.member@example.org"
NEW_PASSWORD = "Evil-Password-99!"
EXPIRED = "This form has expired"
EXPIRED_FR = "Ce formulaire a expiré"  # the same refusal at a French URL
# Everything any of the forms reads, filled so that each would act if it were let through: log
# in, register, change the profile, switch the newsletter off, change the password, move the account
# to another address, delete; write
# a story, save over the draft, publish it.
FORM = {
    "email": MEMBER,
    "password": NEW_PASSWORD,
    "confirm": NEW_PASSWORD,
    "current": GOOD_PASSWORD,
    "delete_password": GOOD_PASSWORD,
    "new_email": "mallory@example.org",
    "email_password": GOOD_PASSWORD,
    "factor_password": GOOD_PASSWORD,
    "first_name": "Mallory",
    "last_name": "Attacker",
    "organisation": "Elsewhere",
    "accept_conditions": "y",
    "code": "123456",
    "subscribe": "off",
    "next": "/conditions",
    "List-Unsubscribe": "One-Click",
    "title": "Forged story",
    "published": "2026-05-14",
    "version": "1",
    "action": "publish",
}
# The staff area answers 404 to everyone but staff, before any token is looked at (app/staff_access.py).
STAFF_ONLY = "staff."


@pytest.fixture
def app_config():
    # many posts from one address in a few seconds: only CSRF may refuse them here
    return {
        "RATELIMIT_PER_IP": "10000 per minute",
        "RATELIMIT_PER_ADDRESS": "10000 per minute",
        "RATELIMIT_STAFF": "10000 per minute",
    }


def state_changing_routes(app, story_id: int = 1):
    samples = {
        "newsletter.unsubscribe": {"token": unsubscribe_token(app, MEMBER)},
        **{f"staff.{name}": {"story_id": story_id} for name in STAFF_STORY_PAGES},
        **upload_samples(story_id),
        "staff.demote": {"user_id": 1},
        "account.two_step_rename_passkey": {"passkey_id": 1},
        "account.two_step_remove_passkey": {"passkey_id": 1},
    }
    found = [
        (rule.endpoint, method, url)
        for rule, url in routes(app, samples, STATE_CHANGING)
        for method in sorted(rule.methods & STATE_CHANGING)
    ]
    # the discovery works: the account dialog's and account page's posts are all among them
    assert {
        "account.login",
        "account.register",
        "account.logout",
        "account.verify",
        "account.verify_resend",
        "account.reset",
        "account.reset_code",
        "account.reset_resend",
        "account.reset_password",
        "account.profile",
        "account.newsletter",
        "account.password",
        "account.delete",
        "account.email",
        "account.email_code",
        "account.email_resend",
        "account.email_cancel",
        "newsletter.subscribe",
        "newsletter.unsubscribe",
        "staff.new",
        "staff.edit",
        "staff.change_state",
        "account.two_step_authenticator",
        "account.two_step_remove_authenticator",
        "account.two_step_recovery_codes",
        "account.two_step_sign_in",
        "account.two_step_forget_browsers",
        "account.two_step_add_passkey",
        "account.two_step_passkey_options",
        "account.two_step_remove_passkey",
        "account.two_step_sign_in_passkey",
        "account.two_step_sign_in_options",
        "account.login_passkey_options",
        "account.login_passkey",
    } <= {endpoint for endpoint, _, _ in found}
    return found


def member(app, email=MEMBER):
    client = app.test_client()
    register_and_verify(client, app, email)
    assert post(client, "/newsletter/subscribe").status_code == 303
    return client


def is_csrf_refusal(response) -> bool:
    body = response.get_data(as_text=True)
    return response.status_code == 400 and (EXPIRED in body or EXPIRED_FR in body)


def attempts(other_session_token: str):
    """Requests a forged page could make: no token, an empty one, another session's, a made-up
    one; as a form post and as HTMX (token in the header)."""
    yield "no token", FORM, {}
    yield "no token, htmx", FORM, HTMX
    yield "empty token", {**FORM, "csrf_token": ""}, {}
    yield "another session's token", {**FORM, "csrf_token": other_session_token}, {}
    yield "another session's token, htmx header", FORM, {**HTMX, "X-CSRFToken": other_session_token}
    yield "made-up token", {**FORM, "csrf_token": "IjAwMDAi.aaaa.bbbb"}, {}


def test_every_state_changing_route_refuses_a_request_without_a_valid_token(app):
    ann = member(app)
    anonymous = app.test_client()
    staff = staff_client(app)
    story_id = make_draft(app)
    stranger_token = csrf_token(app.test_client())
    for endpoint, method, url in state_changing_routes(app, story_id):
        if endpoint in ACCEPTS_WITHOUT_TOKEN:
            continue
        for who, client in (("member", ann), ("anonymous", anonymous), ("staff", staff)):
            for name, data, headers in attempts(stranger_token):
                response = client.open(
                    url, method=method, data=data, headers={"Referer": "http://localhost/", **headers}
                )
                if endpoint.startswith(STAFF_ONLY) and who != "staff":
                    assert response.status_code == 404, f"{method} {url} ({who}, {name}): {response.status_code}"
                    continue
                assert is_csrf_refusal(response), f"{method} {url} ({who}, {name}): {response.status_code}"
                if headers.get("HX-Target") == "account-step":  # said in the step's alert area, form kept
                    assert response.headers.get("HX-Retarget") == "#step-alert"

    # nothing happened: still logged in, same name, subscribed, same password, account there
    assert ann.get("/account").status_code == 200
    with app.app_context():
        user = db.session.query(User).filter_by(email=MEMBER).one()
        assert (user.first_name, user.organisation) == ("Ann", "Example Broadcasting")
        assert user.newsletter_opt_in_at is not None
        db.session.remove()
    assert post(app.test_client(), "/account/login", {"email": MEMBER, "password": GOOD_PASSWORD}).status_code == 303
    with app.app_context():
        assert db.session.query(User).count() == 2  # the member and the staff account: none registered by the forgeries
        story = db.session.query(Story).one()  # no story written, the draft neither changed nor published
        assert (story.title, story.state, story.version) == ("Summit in Brussels", "draft", 1)
        db.session.remove()


def test_the_same_requests_with_the_token_are_let_through(app):
    """The control: what made the requests above fail was the token and nothing else."""
    member(app)
    story_id = make_draft(app)
    for number, (endpoint, method, url) in enumerate(state_changing_routes(app, story_id)):
        client = member(app, f"csrf.control{number}@example.org")
        if endpoint.startswith(STAFF_ONLY):
            promote(app, f"csrf.control{number}@example.org")
        for kind in ("form", "htmx header"):
            token = csrf_token(client)  # afresh: a log out or a deletion starts a new session
            data, headers = (
                ({**FORM, "csrf_token": token}, {}) if kind == "form" else (FORM, {**HTMX, "X-CSRFToken": token})
            )
            response = client.open(url, method=method, data=data, headers={"Referer": "http://localhost/", **headers})
            assert response.status_code < 500 and not is_csrf_refusal(response), (
                f"{method} {url} with a valid token ({kind}): {response.status_code}"
            )


def test_one_click_unsubscribe_is_the_only_post_taken_without_a_token(app):
    member(app)
    accepted = set()
    for endpoint, method, url in state_changing_routes(app):
        if endpoint in ACCEPTS_WITHOUT_TOKEN:
            # a mail client: no cookie, no token, just the RFC 8058 body
            response = app.test_client().open(url, method=method, data={"List-Unsubscribe": "One-Click"})
            assert response.status_code == 200, response.status_code
            accepted.add(endpoint)
    assert accepted == ACCEPTS_WITHOUT_TOKEN
    with app.app_context():
        assert db.session.query(User).filter_by(email=MEMBER).one().newsletter_opt_in_at is None
        db.session.remove()
