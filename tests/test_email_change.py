"""Changing the account's email address (issue #18): the password first, a code to the new
address (the code rules: bound to this browser's flow, the caps and their per-source shares),
then every other login ends and the old address is told. Enumeration-safe: an address that has
an account answers as any other, and its owner gets a notice instead of a code."""

import re

import pytest

from app.extensions import db
from app.flows import codes
from app.models import User, VerificationCode

from .helpers.french import assert_french, visible
from .helpers.logins import copy_of, logged_in, login
from .helpers.portal import GOOD_PASSWORD, age_codes, last_code, outbox, post, register_and_verify
from .helpers.reset import reset_code, start_reset

NEW = "ann.new@example.org"
ELSEWHERE = "annie@exemple.fr"  # no English word in it, for the French walk


@pytest.fixture
def ann(app, client):
    register_and_verify(client, app)
    return client


def ask(client, new=NEW, password=GOOD_PASSWORD, htmx=True, prefix=""):
    data = {"new_email": new, "email_password": password}
    return post(client, prefix + "/account/email", data, htmx=htmx)


def enter(client, code, htmx=True, prefix=""):
    return post(client, prefix + "/account/email/code", {"code": code}, htmx=htmx)


def account(app, email):
    with app.app_context():
        user = db.session.query(User).filter_by(email=email).one_or_none()
        db.session.expunge_all()
        return user


def change_codes(app):
    with app.app_context():
        rows = db.session.query(VerificationCode).filter_by(purpose=codes.EMAIL_CHANGE).all()
        db.session.expunge_all()
        return rows


def test_the_new_address_gets_a_code_and_the_change_ends_every_other_login(app, ann):
    phone = app.test_client()
    login(phone, remember=True)
    stolen = copy_of(phone, "remember_token")
    response = ask(ann)
    body = response.get_data(as_text=True)
    assert response.status_code == 200 and body.lstrip().startswith('<section id="account-email"')
    assert f"We have sent a code to <strong>{NEW}</strong>" in body
    [mail] = outbox(app, NEW)
    assert mail.subject.startswith("Your code to confirm your new email address:") and mail.kind == "code"
    assert "Hello Ann," in mail.body_text
    assert account(app, "ann@example.org") is not None  # nothing changes before the code

    response = enter(ann, last_code(app, NEW))
    assert response.headers["HX-Redirect"] == "/account"
    page = ann.get("/account").get_data(as_text=True)
    assert f"Your email address is now {NEW}." in page and "Log out" in page
    assert account(app, "ann@example.org") is None and account(app, NEW).verified_at is not None
    for browser in (phone, stolen):
        assert not logged_in(browser)
    phone.delete_cookie("session")
    assert not logged_in(phone)  # its remember-me cookie is refused too
    [notice] = outbox(app, "ann@example.org")[-1:]
    assert "email address of your NATO Multimedia account was changed" in notice.subject
    assert f"from ann@example.org to {NEW}" in notice.body_text and "logged out" in notice.body_text
    # the new address logs in, the old one no more
    assert post(app.test_client(), "/account/login", {"email": NEW, "password": GOOD_PASSWORD}).status_code == 303
    assert (
        post(app.test_client(), "/account/login", {"email": "ann@example.org", "password": GOOD_PASSWORD}).status_code
        == 422
    )


def test_without_javascript_each_step_is_the_whole_account_page(app, ann):
    response = ask(ann, htmx=False)
    assert response.status_code == 200 and "<html" in response.get_data(as_text=True)
    assert 'action="/account/email/code"' in response.get_data(as_text=True)
    assert 'action="/account/email/code"' in ann.get("/account").get_data(as_text=True)  # still waiting on a reload
    response = enter(ann, last_code(app, NEW), htmx=False)
    assert response.status_code == 303 and response.headers["Location"] == "/account"
    assert account(app, NEW) is not None


def test_the_password_comes_first(app, ann):
    response = ask(ann, password="Wrong-Password-1!")
    assert response.status_code == 422 and "That is not your password." in response.get_data(as_text=True)
    response = ask(ann, new=" ANN@example.org ")
    assert response.status_code == 422 and "already the address of your account" in response.get_data(as_text=True)
    response = ask(ann, new="not an address")
    assert response.status_code == 422 and "@-sign" in response.get_data(as_text=True)
    assert outbox(app, NEW) == [] and change_codes(app) == []


def test_the_new_address_is_normalised_as_at_registration(app, ann):
    ask(ann, new="  Ann.New@ＥＸＡＭＰＬＥ.org ")
    assert [row.address for row in change_codes(app)] == [NEW]
    enter(ann, last_code(app, NEW))
    assert account(app, NEW) is not None


@pytest.mark.parametrize("app_config", [{"MAIL_SMTPUTF8": False}])
def test_an_address_our_mail_cannot_reach_is_refused_as_at_registration(app, app_config, ann):
    response = ask(ann, new="josé@example.org")
    assert response.status_code == 422 and "cannot receive our mail" in response.get_data(as_text=True)
    assert change_codes(app) == []


def test_an_address_with_an_account_answers_the_same_and_its_owner_is_told(app, ann):
    carol = app.test_client()
    register_and_verify(carol, app, "carol@example.org")
    register_and_verify(app.test_client(), app, "bob@example.org")
    age_codes(app, minutes=2)  # past the resend interval of bob@'s own registration code
    taken, free = ask(ann, new="bob@example.org"), ask(carol, new="dave@example.org")
    assert taken.status_code == free.status_code == 200
    same = [
        re.sub(r'name="csrf_token" value="[^"]+"', "TOKEN", r.get_data(as_text=True).replace(address, "ADDRESS"))
        for r, address in ((taken, "bob@example.org"), (free, "dave@example.org"))
    ]
    assert same[0] == same[1]
    assert [m.subject for m in outbox(app, "bob@example.org")][-1].startswith("Someone asked to move")
    assert not re.search(r"^\s*\d{6}\s*$", outbox(app, "bob@example.org")[-1].body_text, re.M)
    assert len(outbox(app, "dave@example.org")) == 1
    stand_in, real = sorted(change_codes(app), key=lambda row: row.address)
    assert (stand_in.address, stand_in.user_id) == ("bob@example.org", None) and real.user_id is not None
    # no code the owner of bob@ received (none) nor any guess moves the account
    assert enter(ann, "123456").status_code == 422
    assert account(app, "ann@example.org") is not None and account(app, "bob@example.org").first_name == "Ann"


def test_a_wrong_code_counts_and_a_code_dies_after_five(app, ann):
    ask(ann)
    code = last_code(app, NEW)
    wrong = "000000" if code != "000000" else "111111"
    answers = [enter(ann, wrong) for _ in range(5)]
    assert [a.status_code for a in answers] == [422] * 5
    assert "That code is not correct." in answers[0].get_data(as_text=True)
    assert "no longer works" in answers[-1].get_data(as_text=True)
    assert enter(ann, code).status_code == 422 and account(app, NEW) is None


@pytest.mark.parametrize("app_config", [{"CODE_RESEND_INTERVAL_SECONDS": 0}])
def test_send_new_code_follows_the_caps_and_the_source_share(app, app_config, ann):
    ask(ann)
    answers = [post(ann, "/account/email/resend", htmx=True) for _ in range(3)]
    # the first ask and two resends: this browser's share (3 an hour) of the address's 5
    assert [a.status_code for a in answers] == [200, 200, 429]
    assert "You can ask for a new code in" in answers[-1].get_data(as_text=True)
    assert len(outbox(app, NEW)) == 3
    first_codes = [c for c in change_codes(app) if c.voided_at is not None]
    assert len(first_codes) == 2  # a new code voids the previous one
    assert enter(ann, last_code(app, NEW)).headers["HX-Redirect"] == "/account"


def test_the_code_works_only_in_the_browser_that_asked(app, ann):
    ask(ann)
    other = app.test_client()
    login(other)
    assert enter(other, last_code(app, NEW)).status_code == 409
    assert account(app, NEW) is None


def test_keep_my_current_address_ends_the_wait(app, ann):
    ask(ann)
    code = last_code(app, NEW)
    response = post(ann, "/account/email/cancel", htmx=True)
    assert 'action="/account/email"' in response.get_data(as_text=True)
    assert enter(ann, code).status_code == 409 and account(app, NEW) is None


def test_a_reset_code_mailed_to_the_old_address_no_longer_reaches_the_account(app, ann):
    age_codes(app, minutes=2)
    thief = app.test_client()
    start_reset(thief)
    old_code = reset_code(app)
    ask(ann)
    enter(ann, last_code(app, NEW))
    response = post(thief, "/account/reset/code", {"code": old_code})
    assert response.status_code == 422
    assert account(app, NEW) is not None


@pytest.mark.parametrize("app_config", [{"RATELIMIT_PER_ADDRESS": "3 per minute"}])
def test_password_guesses_are_limited_per_account(app, app_config, ann):
    browsers = [ann, app.test_client()]
    login(browsers[1])
    statuses = [ask(browsers[n % 2], password="Wrong-Password-1!").status_code for n in range(4)]
    assert statuses == [422, 422, 422, 429]


def test_email_change_needs_a_login_and_a_token(app, client):
    for url in ("/account/email", "/account/email/code", "/account/email/resend", "/account/email/cancel"):
        assert post(client, url).headers["Location"].startswith("/account/login"), url


def test_the_whole_change_in_french(app, ann):
    ann.get("/?lang=fr", headers={"Sec-Fetch-Site": "same-origin"})  # the account's language too
    carol = app.test_client()
    register_and_verify(carol, app, "carol@example.org")
    page = ann.get("/fr/account").get_data(as_text=True)
    assert_french(visible(page), "account page")
    response = ask(ann, new=ELSEWHERE, prefix="/fr")
    assert_french(visible(response.get_data(as_text=True)), "code section")
    [mail] = outbox(app, ELSEWHERE)
    assert_french(mail.subject + " " + mail.body_text, "code mail")
    assert_french(visible(enter(ann, "000000", prefix="/fr").get_data(as_text=True)), "wrong code")
    enter(ann, last_code(app, ELSEWHERE), prefix="/fr")
    assert_french(visible(ann.get("/fr/account").get_data(as_text=True)), "changed")
    notice = outbox(app, "ann@example.org")[-1]
    assert_french(notice.subject + " " + notice.body_text, "notice to the old address")
    assert_french(visible(notice.body_html), "notice to the old address (html)")
    # the owner of a taken address is told in their own language
    with app.app_context():
        db.session.query(User).filter_by(email="carol@example.org").update({"language": "fr"})
        db.session.commit()
    age_codes(app, minutes=2)
    ask(ann, new="carol@example.org")
    taken = outbox(app, "carol@example.org")[-1]
    assert_french(taken.subject + " " + taken.body_text, "notice to the owner of a taken address")
