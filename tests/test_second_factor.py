"""Two-step sign-in (issue #19): the authenticator app (TOTP), recovery codes, the sign-in step,
the staff area's demand for a second factor, and what adding or removing a factor ends."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from sqlalchemy import select

from app.extensions import db
from app.flows import second_factor
from app.flows.codes import CodePolicy, Source
from app.models import AuditEvent, RecoveryCode, TotpFactor, User

from .helpers.enumeration import normalised
from .helpers.portal import GOOD_PASSWORD, HTMX, age_codes, csrf_token, last_code, outbox, post, register_and_verify
from .helpers.second_factor_helpers import RECOVERY_RE, log_in_with_code, set_up_authenticator, totp_code, totp_secret
from .helpers.staff_data import promote, staff_client

ANN = "ann@example.org"
NOW = datetime(2026, 12, 2, 17, 0, 0)


def ann_with_authenticator(app):
    client = app.test_client()
    register_and_verify(client, app, ANN)
    recovery = set_up_authenticator(client, app, ANN)
    return client, recovery


def forget_used_steps():
    """The set-up used a code of the real clock, later than ``NOW``: the rule's tests start afresh."""
    db.session.execute(db.update(TotpFactor).values(last_step=None))
    db.session.commit()


def user(app, email=ANN) -> User:
    return db.session.execute(select(User).where(User.email == email)).scalar_one()


# --- the rule, with its clock given --------------------------------------------------------------


def test_a_code_is_accepted_in_its_window_once_and_never_again(app):
    ann_with_authenticator(app)
    with app.app_context():
        secret, person = totp_secret(app, ANN), user(app)
        forget_used_steps()
        source = Source("attempt-1", "net")
        code = second_factor.code_at(secret, second_factor.step_of(NOW))
        assert second_factor.check_second_factor(person, code, source=source, now=NOW).ok
        replay = second_factor.check_second_factor(person, code, source=source, now=NOW + timedelta(seconds=20))
        assert replay.outcome is second_factor.Outcome.REPLAYED
        # the code of the step before is older than the one used: refused too
        older = second_factor.code_at(secret, second_factor.step_of(NOW) - 1)
        assert not second_factor.check_second_factor(person, older, source=source, now=NOW).ok
        # a step later a new code works; a code two minutes old does not
        later = NOW + timedelta(seconds=30)
        assert second_factor.check_second_factor(
            person, second_factor.code_at(secret, second_factor.step_of(later)), source=source, now=later
        ).ok
        stale = second_factor.code_at(secret, second_factor.step_of(later + timedelta(minutes=3)))
        assert not second_factor.check_second_factor(person, stale, source=source, now=later).ok


def test_wrong_codes_are_capped_as_emailed_codes_are(app):
    ann_with_authenticator(app)
    policy = CodePolicy()  # 5 per code (here: per sign-in attempt), 20 an hour, 10 an hour from one source
    with app.app_context():
        person = user(app)
        forget_used_steps()
        good = second_factor.code_at(totp_secret(app, ANN), second_factor.step_of(NOW))
        outcomes = [
            second_factor.check_second_factor(
                person, "000000" if good != "000000" else "111111", source=Source("a1", "net"), now=NOW, policy=policy
            ).outcome
            for _ in range(6)
        ]
        assert outcomes == [second_factor.Outcome.WRONG] * 4 + [second_factor.Outcome.EXHAUSTED] * 2
        # the right code no longer helps this attempt
        assert (
            second_factor.check_second_factor(person, good, source=Source("a1", "net"), now=NOW, policy=policy).outcome
            is second_factor.Outcome.EXHAUSTED
        )
        for attempt in range(2, 5):  # new attempts (the password again) from the same network
            for _ in range(5):
                check = second_factor.check_second_factor(
                    person, "12345", source=Source(f"a{attempt}", "net"), now=NOW, policy=policy
                )
        assert check.outcome is second_factor.Outcome.LOCKED and check.retry_at == NOW + timedelta(hours=1)
        # another network has its own share until the account's 20 an hour are used
        assert second_factor.check_second_factor(person, good, source=Source("b1", "other"), now=NOW, policy=policy).ok


# --- set-up on the account page ------------------------------------------------------------------


def test_set_up_shows_a_qr_code_drawn_here_and_the_key_and_needs_a_right_code(app):
    client = app.test_client()
    register_and_verify(client, app, ANN)
    assert "/account/two-step" in client.get("/account").get_data(as_text=True)
    page = client.get("/account/two-step/authenticator").get_data(as_text=True)
    secret = totp_secret(app, ANN)
    typed = " ".join(secret[i : i + 4] for i in range(0, len(secret), 4))  # in fours, as people copy it
    assert "<svg " in page and 'role="img"' in page and typed in page and "<img" not in page.split("qr-code")[1][:200]
    assert (
        client.get("/account/two-step/authenticator").get_data(as_text=True).count(typed) == 1
    )  # same secret on reload
    wrong = post(
        client, "/account/two-step/authenticator", {"code": "000000" if totp_code(app, ANN) != "000000" else "111111"}
    )
    assert wrong.status_code == 422
    with app.app_context():
        assert not second_factor.has_second_factor(user(app))
    recovery = set_up_authenticator(client, app, ANN)
    assert len(recovery) == 10 and len(set(recovery)) == 10
    with app.app_context():
        assert second_factor.has_second_factor(user(app))
        hashes = db.session.execute(select(RecoveryCode.code_hash)).scalars().all()
        assert len(hashes) == 10 and not any(code.replace("-", "") in h for h in hashes for code in recovery)
    assert client.get("/account").status_code == 200  # this browser stays logged in


def test_adding_a_factor_ends_other_sessions_and_mails_a_notice(app):
    client = app.test_client()
    register_and_verify(client, app, ANN)
    other = app.test_client()
    assert post(other, "/account/login", {"email": ANN, "password": GOOD_PASSWORD}).status_code == 303
    assert other.get("/account").status_code == 200
    set_up_authenticator(client, app, ANN)
    assert other.get("/account").status_code == 303  # logged out
    assert client.get("/account").status_code == 200
    notices = [mail for mail in outbox(app, ANN) if "second factor was added" in mail.subject]
    assert len(notices) == 1 and notices[0].kind == "account" and "authenticator app was set up" in notices[0].body_text


@pytest.mark.parametrize("htmx", [False, True], ids=["no-js", "js"])
def test_log_in_asks_for_the_code_after_a_right_password(app, htmx):
    ann_with_authenticator(app)
    client = app.test_client()
    first = post(client, "/account/login", {"email": ANN, "password": GOOD_PASSWORD, "next": "/conditions"}, htmx=htmx)
    assert first.status_code == 303 and first.headers["Location"].endswith("/account/two-step/sign-in")
    assert client.get("/account").status_code == 303  # nobody is logged in yet
    step = client.get("/account/two-step/sign-in", headers=HTMX if htmx else {})
    assert step.status_code == 200 and 'name="code"' in step.get_data(as_text=True)
    assert ("<html" in step.get_data(as_text=True)) is not htmx  # the dialog's step, or the whole page
    wrong = post(client, "/account/two-step/sign-in", {"code": "12345"}, htmx=htmx)
    assert wrong.status_code == 422 and "4 more attempts" in wrong.get_data(as_text=True)
    done = post(client, "/account/two-step/sign-in", {"code": totp_code(app, ANN)}, htmx=htmx)
    where = done.headers["HX-Redirect"] if htmx else done.headers["Location"]
    assert where == "/conditions" and client.get("/account").status_code == 200


def test_the_password_step_answers_the_same_with_or_without_a_second_factor(app):
    ann_with_authenticator(app)
    register_and_verify(app.test_client(), app, "bob@example.org")
    answers = []
    for email in (ANN, "bob@example.org", "nobody@example.org"):
        response = post(app.test_client(), "/account/login", {"email": email, "password": "Wrong-password-1"})
        status, headers, body = normalised(response, email)
        answers.append((status, {k: v for k, v in headers.items() if k != "Content-Length"}, body))
    assert answers[0] == answers[1] == answers[2]


def test_the_step_without_a_right_password_before_it_goes_back_to_log_in(app):
    client = app.test_client()
    assert client.get("/account/two-step/sign-in").status_code == 303
    assert post(client, "/account/two-step/sign-in", {"code": "123456"}).status_code == 303


# --- recovery codes ------------------------------------------------------------------------------


def test_a_recovery_code_signs_in_once_and_mails_a_notice(app):
    _, recovery = ann_with_authenticator(app)
    client = app.test_client()
    done = log_in_with_code(client, app, ANN, code=recovery[0].upper().replace("-", " "))
    assert done.status_code == 303 and client.get("/account").status_code == 200
    notice = [mail for mail in outbox(app, ANN) if "recovery code was used" in mail.subject]
    assert len(notice) == 1 and "9 recovery codes left" in notice[0].body_text
    again = log_in_with_code(app.test_client(), app, ANN, code=recovery[0])
    assert again.status_code == 422


def test_new_recovery_codes_replace_the_old_ones_and_need_the_password(app):
    client, old = ann_with_authenticator(app)
    assert post(client, "/account/two-step/recovery-codes", {"factor_password": "Wrong-password-1"}).status_code == 422
    page = post(client, "/account/two-step/recovery-codes", {"factor_password": GOOD_PASSWORD})
    new = RECOVERY_RE.findall(page.get_data(as_text=True))
    assert len(new) == 10 and not set(new) & set(old)
    assert log_in_with_code(app.test_client(), app, ANN, code=old[1]).status_code == 422
    assert log_in_with_code(app.test_client(), app, ANN, code=new[1]).status_code == 303


# --- removing, resetting -------------------------------------------------------------------------


def test_removing_the_authenticator_needs_the_password_ends_other_sessions_and_mails(app):
    client, _ = ann_with_authenticator(app)
    other = app.test_client()
    log_in_with_code(other, app, ANN)
    assert other.get("/account").status_code == 200
    assert post(client, "/account/two-step/authenticator/remove", {"factor_password": "nope"}).status_code == 422
    assert post(client, "/account/two-step/authenticator/remove", {"factor_password": GOOD_PASSWORD}).status_code == 303
    assert other.get("/account").status_code == 303 and client.get("/account").status_code == 200
    assert any("second factor was removed" in mail.subject for mail in outbox(app, ANN))
    with app.app_context():
        assert not second_factor.has_second_factor(user(app))
        assert db.session.query(RecoveryCode).count() == 0
    assert (
        post(app.test_client(), "/account/login", {"email": ANN, "password": GOOD_PASSWORD}).headers["Location"] == "/"
    )


def test_a_password_reset_keeps_the_second_factor(app):
    ann_with_authenticator(app)
    age_codes(app, minutes=61)  # the registration's code a moment ago holds no reset code back
    client = app.test_client()
    post(client, "/account/reset", {"email": ANN})
    assert post(client, "/account/reset/code", {"code": last_code(app, ANN)}).status_code == 303
    new_password = "Green-Valley-77!"
    assert (
        post(client, "/account/reset/password", {"password": new_password, "confirm": new_password}).status_code == 303
    )
    assert client.get("/account").status_code == 303
    assert log_in_with_code(app.test_client(), app, ANN, password=new_password).status_code == 303


def test_reset_second_factor_command_is_audited_and_mails_the_owner(app):
    client, _ = ann_with_authenticator(app)
    result = app.test_cli_runner().invoke(args=["users", "reset-second-factor", "ANN@example.org"])
    assert result.exit_code == 0, result.output
    assert client.get("/account").status_code == 303  # every login ended
    with app.app_context():
        assert not second_factor.has_second_factor(user(app))
        assert db.session.query(AuditEvent).filter_by(action="account.factors_reset").count() == 1
    assert any("press office" in mail.body_text for mail in outbox(app, ANN) if "removed" in mail.subject)
    missing = app.test_cli_runner().invoke(args=["users", "reset-second-factor", "nobody@example.org"])
    assert missing.exit_code != 0


# --- staff ------------------------------------------------------------------------------------


def staff_urls(app) -> list[tuple[str, str]]:
    """(URL, method) of every staff route, ids filled with 1."""
    import re

    from app.security import STAFF_BLUEPRINTS

    return [
        (re.sub(r"<[^>]+>", "1", rule.rule), method)
        for rule in app.url_map.iter_rules()
        if rule.endpoint.split(".")[0] in STAFF_BLUEPRINTS
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"})
    ]


def test_staff_without_a_second_factor_reach_no_staff_url_and_are_walked_to_set_up(app):
    client = app.test_client()
    register_and_verify(client, app, "desk@example.org")
    promote(app, "desk@example.org")
    urls = staff_urls(app)
    assert ("/staff/", "GET") in urls and any(url.startswith("/staff/uploads") for url, _ in urls)
    for url, method in urls:
        # tus requests carry the CSRF token in a header, as tus-js-client sends it
        headers = {"X-CSRFToken": csrf_token(client), "Tus-Resumable": "1.0.0"} if method != "GET" else {}
        response = post(client, url, {}) if method == "POST" else client.open(url, method=method, headers=headers)
        assert response.status_code == 303, (url, method)
        assert response.headers["Location"].startswith("/account/two-step?next="), url
    page = client.get("/account/two-step?next=/staff/").get_data(as_text=True)
    assert "Staff accounts need two-step sign-in" in page
    set_up_authenticator(client, app, "desk@example.org")
    assert client.get("/staff/").status_code == 200


def test_staff_with_a_factor_sign_in_with_it_and_no_remember_offer(app):
    staff_client(app, "desk@example.org")
    client = app.test_client()
    post(client, "/account/login", {"email": "desk@example.org", "password": GOOD_PASSWORD})
    assert "remember_browser" not in client.get("/account/two-step/sign-in").get_data(as_text=True)
    post(client, "/account/two-step/sign-in", {"code": totp_code(app, "desk@example.org")})
    assert client.get("/staff/").status_code == 200


@pytest.mark.parametrize("app_config", [{"STAFF_REQUIRE_SECOND_FACTOR": False}])
def test_the_setting_off_lets_staff_in_with_a_password(app):
    client = app.test_client()
    register_and_verify(client, app, "desk@example.org")
    promote(app, "desk@example.org")
    assert client.get("/staff/").status_code == 200


def test_the_whole_flow_in_french(app):
    client = app.test_client()
    register_and_verify(client, app, ANN)
    assert "Connexion en deux étapes" in client.get("/fr/account/two-step").get_data(as_text=True)
    page = client.get("/fr/account/two-step/authenticator").get_data(as_text=True)
    assert "application d’authentification" in page
    set_up_authenticator(client, app, ANN)
    other = app.test_client()
    post(other, "/fr/account/login", {"email": ANN, "password": GOOD_PASSWORD})
    wrong = post(other, "/fr/account/two-step/sign-in", {"code": "12345"})
    assert "Ce code n’est pas correct" in wrong.get_data(as_text=True)


# --- remembered browsers -------------------------------------------------------------------------


def test_a_remembered_browser_skips_the_step_until_it_is_forgotten(app):
    settings, _ = ann_with_authenticator(app)
    client = app.test_client()
    post(client, "/account/login", {"email": ANN, "password": GOOD_PASSWORD})
    done = post(client, "/account/two-step/sign-in", {"code": totp_code(app, ANN), "remember_browser": "y"})
    cookie = client.get_cookie("trusted_browser", path="/account")
    assert done.status_code == 303 and cookie is not None and cookie.http_only and cookie.max_age == 30 * 86400
    assert client.get_cookie("trusted_browser", path="/fr/account").value == cookie.value
    post(client, "/account/logout")
    assert post(client, "/account/login", {"email": ANN, "password": GOOD_PASSWORD}).headers["Location"] == "/"
    post(client, "/account/logout")  # the French log-in step knows the browser too
    assert post(client, "/fr/account/login", {"email": ANN, "password": GOOD_PASSWORD}).headers["Location"] == "/fr/"
    # a copy of the cookie for another account, or a forged one, is nothing
    stranger = app.test_client()
    register_and_verify(stranger, app, "bob@example.org")
    set_up_authenticator(stranger, app, "bob@example.org")
    post(stranger, "/account/logout")
    stranger.set_cookie("trusted_browser", cookie.value, path="/account")
    assert (
        post(stranger, "/account/login", {"email": "bob@example.org", "password": GOOD_PASSWORD})
        .headers["Location"]
        .endswith("/two-step/sign-in")
    )
    stranger.set_cookie("trusted_browser", cookie.value[:-2] + "xx", path="/account")
    assert (
        post(stranger, "/account/login", {"email": ANN, "password": GOOD_PASSWORD})
        .headers["Location"]
        .endswith("/two-step/sign-in")
    )
    assert client.get("/account").status_code == 200
    # revoked: the owner forgets every remembered browser
    assert post(client, "/account/two-step/forget-browsers").status_code == 303
    post(client, "/account/logout")
    assert (
        post(client, "/account/login", {"email": ANN, "password": GOOD_PASSWORD})
        .headers["Location"]
        .endswith("/two-step/sign-in")
    )


def test_staff_browsers_are_never_remembered(app):
    staff_client(app, "desk@example.org")
    client = app.test_client()
    post(client, "/account/login", {"email": "desk@example.org", "password": GOOD_PASSWORD})
    post(client, "/account/two-step/sign-in", {"code": totp_code(app, "desk@example.org"), "remember_browser": "y"})
    assert client.get_cookie("trusted_browser", path="/account") is None
    assert client.get_cookie("trusted_browser", path="/fr/account") is None
    assert client.get("/staff/").status_code == 200


# --- passkeys (the ceremonies themselves run in Chromium: tests/browser/test_two_step.py) --------


def test_passkey_posts_without_a_ceremony_or_with_a_forged_answer_add_nothing(app):
    client = app.test_client()
    register_and_verify(client, app, ANN)
    assert post(client, "/account/two-step/passkeys", {"name": "Laptop", "credential": "{}"}).status_code == 422
    options = post(client, "/account/two-step/passkeys/options")
    assert options.status_code == 200 and options.is_json and options.json["rp"]["id"] == "localhost"
    forged = '{"id": "AAAA", "rawId": "AAAA", "type": "public-key", "response": {}}'
    assert post(client, "/account/two-step/passkeys", {"name": "Laptop", "credential": forged}).status_code == 422
    with app.app_context():
        assert not second_factor.has_second_factor(user(app))


def test_another_accounts_passkey_cannot_be_renamed_or_removed(app):
    from app.models import Passkey

    ann, _ = ann_with_authenticator(app)
    with app.app_context():
        bob_id = user(app).id
        db.session.add(Passkey(user_id=bob_id, name="Ann's key", credential_id="abc", public_key=b"k", sign_count=0))
        db.session.commit()
        key_id = db.session.query(Passkey.id).scalar()
    mallory = app.test_client()
    register_and_verify(mallory, app, "mallory@example.org")
    assert post(mallory, f"/account/two-step/passkeys/{key_id}/rename", {"name": "Mine"}).status_code == 404
    assert (
        post(mallory, f"/account/two-step/passkeys/{key_id}/remove", {"factor_password": GOOD_PASSWORD}).status_code
        == 404
    )
    assert post(ann, f"/account/two-step/passkeys/{key_id}/rename", {"name": "Desk"}).status_code == 303
    with app.app_context():
        assert db.session.query(Passkey.name).scalar() == "Desk"


def test_a_passkey_answer_without_its_challenge_signs_no_one_in(app):
    ann_with_authenticator(app)
    client = app.test_client()
    post(client, "/account/login", {"email": ANN, "password": GOOD_PASSWORD})
    assert post(client, "/account/two-step/sign-in/passkey", {"credential": '{"id": "abc"}'}).status_code == 422
    assert client.get("/account").status_code == 303
