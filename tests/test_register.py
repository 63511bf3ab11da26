"""Registration (docs/accounts.md, Register); the enumeration rule (docs/security.md) is tests/test_enumeration.py."""

import re

from app.extensions import db
from app.models import User, VerificationCode

from .helpers.portal import HTMX, age_codes, csrf_token, last_code, outbox, post, registration


def users(app):
    with app.app_context():
        return db.session.query(User).order_by(User.id).all()


def test_register_page_full_and_partial(client):
    full = client.get("/account/register?next=/conditions")
    partial = client.get("/account/register?next=/conditions", headers=HTMX)
    assert full.status_code == partial.status_code == 200
    assert "<html" in full.get_data(as_text=True) and "<html" not in partial.get_data(as_text=True)
    for response in (full, partial):
        body = response.get_data(as_text=True)
        assert "Create an account" in body
        assert 'name="next" type="hidden" value="/conditions"' in body
        assert "Organisation / media outlet" in body
        assert (
            "The password must be at least 12 characters long, no spaces, include upper/lowercase letters, numbers and symbols."  # noqa: E501 (the message whole, as people read it)
            in body
        )
        assert "HX-Request" in response.headers["Vary"]
        assert response.headers["Cache-Control"] == "no-store"


def test_boosted_and_history_restore_requests_get_the_whole_page(client):
    for header in ("HX-Boosted", "HX-History-Restore-Request"):
        body = client.get("/account/register", headers={"HX-Request": "true", header: "true"}).get_data(as_text=True)
        assert "<html" in body


def test_registration_creates_an_unverified_account_and_mails_a_code(client, app):
    response = post(client, "/account/register", registration(email="  Ann.Lee@Example.ORG "))
    assert response.status_code == 303
    assert response.headers["Location"].endswith("/account/verify")
    [user] = users(app)
    assert user.email == "ann.lee@example.org"
    assert user.verified_at is None and user.conditions_accepted_at is not None
    assert user.password_hash.startswith("$2b$04$") and "Blue-Harbour" not in user.password_hash
    [mail] = outbox(app, "ann.lee@example.org")
    code = last_code(app, "ann.lee@example.org")
    assert code in mail.body_text and code in mail.body_html and "30 minutes" in mail.body_text
    page = client.get("/account/verify").get_data(as_text=True)
    assert "Check your inbox and enter verification code" in page
    assert "We have sent a verification code to your email address" in page
    assert ". ." not in page  # the seed's doubled full stop is fixed
    assert "This code will expire in 30 minutes." in page
    assert "Didn't receive a code?" in page and "Send new code" in page


def test_htmx_registration_swaps_in_the_code_step(client):
    response = post(client, "/account/register", registration(), htmx=True, follow=True)
    body = response.get_data(as_text=True)
    assert response.status_code == 200 and "<html" not in body
    assert body.lstrip().startswith('<section id="account-step"')
    assert 'name="code"' in body


def test_conditions_must_be_accepted(client, app):
    data = registration()
    del data["accept_conditions"]
    response = post(client, "/account/register", data)
    assert response.status_code == 422
    assert "Please accept the conditions of use" in response.get_data(as_text=True)
    assert users(app) == [] and outbox(app) == []


def test_every_field_says_what_is_missing_and_keeps_what_was_typed(client, app):
    response = post(client, "/account/register", {"email": "ann@example.org", "first_name": "Ann"})
    body = response.get_data(as_text=True)
    assert response.status_code == 422
    for message in (
        "Choose a password.",
        "Type the password again.",
        "Enter your last name.",
        "Enter your organisation or media outlet.",
        "Please accept the conditions of use",
    ):
        assert message in body
    assert 'value="ann@example.org"' in body and 'value="Ann"' in body
    assert users(app) == []


def test_password_confirmation_must_match(client):
    body = post(client, "/account/register", registration(confirm="Blue-Harbour-43!")).get_data(as_text=True)
    assert "The two passwords do not match." in body


def test_password_policy_names_the_failed_rule(client):
    body = post(
        client, "/account/register", registration(password="alllowercase-42!", confirm="alllowercase-42!")
    ).get_data(as_text=True)
    assert "The password must include an uppercase letter." in body


def test_registering_a_taken_address_mails_the_owner_a_notice_and_no_code(app):
    """(That the answer is the same as for a new address: tests/test_enumeration.py.)"""
    existing = app.test_client()
    post(existing, "/account/register", registration("taken@example.org"))
    age_codes(app, minutes=2)  # past the 60 s send throttle, so the owner's notice goes out
    db_user_count = len(users(app))
    attacker = app.test_client()  # a different browser registers the taken address (in another case)
    assert post(attacker, "/account/register", registration(" TAKEN@example.org")).status_code == 303
    assert len(users(app)) == db_user_count
    mails = outbox(app, "taken@example.org")
    assert len(mails) == 2
    notice = mails[-1]
    assert "Someone just tried to create" in notice.body_text
    assert "/account/login" in notice.body_text and "/account/reset" in notice.body_text
    assert not re.search(r"^\s*\d{6}\s*$", notice.body_text, re.M)  # no code for the stranger
    # whatever the stranger types, the account is not verified
    for code in ("000000", "123456", last_code(app, "taken@example.org")):
        post(attacker, "/account/verify", {"code": code})
    assert users(app)[0].verified_at is None


def test_one_account_per_address_is_enforced_by_the_database(app):
    import pytest
    from sqlalchemy.exc import IntegrityError

    from app.models import utcnow

    with app.app_context():
        for _ in range(2):
            db.session.add(
                User(
                    email="dup@example.org",
                    password_hash="x",
                    first_name="A",
                    last_name="B",
                    organisation="O",
                    conditions_accepted_at=utcnow(),
                )
            )
        with pytest.raises(IntegrityError):
            db.session.commit()
        db.session.rollback()


def test_registration_writes_account_code_and_mail_in_one_transaction(client, app, monkeypatch):
    """If the commit fails, neither the account nor its code nor its mail remain."""
    from sqlalchemy.exc import OperationalError

    from app.flows import accounts

    real_commit = db.session.commit

    def failing_commit():
        raise OperationalError("COMMIT", {}, Exception("database went away"))

    monkeypatch.setattr(accounts.db.session, "commit", failing_commit)
    response = post(client, "/account/register", registration())
    monkeypatch.setattr(accounts.db.session, "commit", real_commit)
    assert response.status_code == 503
    assert "try again" in response.get_data(as_text=True)
    with app.app_context():
        assert db.session.query(User).count() == 0
        assert db.session.query(VerificationCode).count() == 0
    assert outbox(app) == []


def register_from(app, email, remote_addr):
    client = app.test_client()
    token = csrf_token(client)
    return client.post(
        "/account/register",
        data={**registration(email), "csrf_token": token},
        headers={"Referer": "http://localhost/"},
        environ_base={"REMOTE_ADDR": remote_addr},
    )


def mails_to_mailbox(app, mailbox="pat@example.org"):
    local, domain = mailbox.split("@")
    return [m for m in outbox(app) if re.fullmatch(rf"{local}(\+[^@]*)?@{domain}", m.recipient)]


def test_plus_addresses_do_not_multiply_the_codes_one_mailbox_gets(app):
    """Issue #13, 19: pat+1@, pat+2@ ... reach one mailbox; it gets one code a minute and five an
    hour in all (each account keeps its address as typed)."""
    statuses = [register_from(app, f"pat+{n}@example.org", f"192.0.2.{n}").status_code for n in range(6)]
    assert statuses == [303] * 6
    assert len(mails_to_mailbox(app)) == 1
    assert len(users(app)) == 6 and {u.email for u in users(app)} == {f"pat+{n}@example.org" for n in range(6)}
    for n in range(6, 12):
        age_codes(app, minutes=2)
        register_from(app, f"pat+{n}@example.org", f"192.0.2.{n}")
    assert len(mails_to_mailbox(app)) == 5
