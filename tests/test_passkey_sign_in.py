"""A passkey on its own signs in from the log-in step (issue #19); failed passkey answers count as
wrong entries, at this step and at the second step; removing a passkey asks for the password.
The passkey here is a software one (an EC key signing as an authenticator does); the browser's
own ceremony runs in Chromium (tests/browser/test_passkey_sign_in.py)."""

from __future__ import annotations

import base64
import hashlib
import json
import re
import struct

import cbor2
import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from sqlalchemy import func, select

from app.extensions import db
from app.models import Passkey, PasskeyChallenge, User, WrongCodeEntry

from .helpers.enumeration import normalised
from .helpers.headers import assert_security_headers
from .helpers.portal import GOOD_PASSWORD, post, register_and_verify
from .helpers.second_factor_helpers import set_up_authenticator, totp_code
from .helpers.staff_data import promote

ANN = "ann@example.org"
STORY = "/stories/summit-in-brussels"
REFUSED = "The passkey was not accepted."


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


class SoftPasskey:
    """What an authenticator does: an ES256 key that signs the site's challenge."""

    def __init__(self, name: bytes = b"soft-passkey-1"):
        self.key = ec.generate_private_key(ec.SECP256R1())
        self.id = b64url(name)
        self.count = 0

    def public_cose(self) -> bytes:
        numbers = self.key.public_key().public_numbers()
        return cbor2.dumps({1: 2, 3: -7, -1: 1, -2: numbers.x.to_bytes(32, "big"), -3: numbers.y.to_bytes(32, "big")})

    def answer(
        self,
        challenge: str,
        *,
        verified: bool = True,
        origin: str = "http://localhost",
        rp_id: str = "localhost",
        key=None,
    ) -> str:
        self.count += 1
        client_data = json.dumps(
            {"type": "webauthn.get", "challenge": challenge, "origin": origin, "crossOrigin": False}
        ).encode()
        flags = 0x01 | (0x04 if verified else 0)  # user present, user verified
        auth_data = hashlib.sha256(rp_id.encode()).digest() + bytes([flags]) + struct.pack(">I", self.count)
        signature = (key or self.key).sign(auth_data + hashlib.sha256(client_data).digest(), ec.ECDSA(hashes.SHA256()))
        return json.dumps(
            {
                "id": self.id,
                "rawId": self.id,
                "type": "public-key",
                "clientExtensionResults": {},
                "response": {
                    "clientDataJSON": b64url(client_data),
                    "authenticatorData": b64url(auth_data),
                    "signature": b64url(signature),
                },
            }
        )


def ann_with_passkey(app, email: str = ANN) -> SoftPasskey:
    register_and_verify(app.test_client(), app, email)
    passkey = SoftPasskey(email.encode())
    with app.app_context():
        user_id = db.session.execute(select(User.id).where(User.email == email)).scalar_one()
        db.session.add(
            Passkey(
                user_id=user_id, name="Laptop", credential_id=passkey.id, public_key=passkey.public_cose(), sign_count=0
            )
        )
        db.session.commit()
    return passkey


def visitor(app):
    client = app.test_client()
    assert client.get(f"/account/login?next={STORY}").status_code == 200
    return client


def options(client, url="/account/login/passkey/options") -> dict:
    response = post(client, url)
    assert response.status_code == 200 and response.is_json
    return response.json


def sign_in(client, credential: str, **extra):
    return post(client, "/account/login/passkey", {"credential": credential, "next": STORY}, **extra)


def logged_in(client) -> bool:
    return client.get("/account").status_code == 200


def test_the_log_in_step_offers_a_passkey_only_to_javascript(app):
    page = app.test_client().get("/account/login").get_data(as_text=True)
    form = page[page.index('action="/account/login/passkey"') - 20 :]
    form = form[: form.index("</form>")]
    assert re.search(r"data-passkey-only\s+hidden", form) and "Sign in with a passkey" in form
    assert 'data-options-url="/account/login/passkey/options"' in form


def test_a_passkey_alone_signs_in_and_returns_to_the_page(app):
    passkey = ann_with_passkey(app)
    client = visitor(app)
    asked = options(client)
    assert asked["allowCredentials"] == [] and asked["userVerification"] == "required"
    response = sign_in(client, passkey.answer(asked["challenge"]))
    assert response.status_code == 303 and response.headers["Location"].endswith(STORY)
    assert logged_in(client)
    with app.app_context():
        assert db.session.execute(select(Passkey.sign_count)).scalar_one() == 1


def test_in_the_dialog_a_passkey_sign_in_leaves_it_for_the_page(app):
    passkey = ann_with_passkey(app)
    client = visitor(app)
    response = sign_in(client, passkey.answer(options(client)["challenge"]), htmx=True)
    assert response.headers["HX-Redirect"].endswith(STORY)
    assert logged_in(client)


def test_a_passkey_alone_meets_the_staff_areas_second_factor(app):
    passkey = ann_with_passkey(app, "desk@example.org")
    promote(app, "desk@example.org")
    client = visitor(app)
    assert sign_in(client, passkey.answer(options(client)["challenge"])).status_code == 303
    assert client.get("/staff/").status_code == 200


@pytest.mark.parametrize("app_config", [{"RATELIMIT_PER_ADDRESS": "100 per minute"}])
def test_unknown_forged_or_unverified_answers_get_one_clear_message_and_no_login(app, app_config):
    passkey = ann_with_passkey(app)
    stranger = SoftPasskey(b"nobody-has-this")
    client = visitor(app)
    unknown = sign_in(client, stranger.answer(options(client)["challenge"]), htmx=True)
    forged = sign_in(client, passkey.answer(options(client)["challenge"], key=stranger.key), htmx=True)
    not_unlocked = sign_in(client, passkey.answer(options(client)["challenge"], verified=False), htmx=True)
    for response in (unknown, forged, not_unlocked):
        assert response.status_code == 422 and REFUSED in response.get_data(as_text=True)
        assert 'id="account-step"' in response.get_data(as_text=True)  # the dialog's own step, its alert
    # the same words whether the passkey is anybody's or not (no account is told apart)
    assert normalised(unknown, ANN) == normalised(forged, ANN)
    nested = "[" * 9000 + "]" * 9000  # deeper than Python's JSON parser goes
    for junk in (
        "",
        "{}",
        "[]",
        '{"id": 5}',
        "x" * 30000,
        '{"id": "' + passkey.id + '", "response": null}',
        nested,
        '{"id": "' + passkey.id + '", "response": ' + nested + "}",
    ):
        assert sign_in(client, junk).status_code == 422
    assert not logged_in(client)


def test_an_unverified_accounts_passkey_signs_no_one_in(app):
    passkey = ann_with_passkey(app)
    with app.app_context():
        db.session.execute(db.update(User).values(verified_at=None))
        db.session.commit()
    client = visitor(app)
    response = sign_in(client, passkey.answer(options(client)["challenge"]))
    assert response.status_code == 422 and REFUSED in response.get_data(as_text=True)
    assert not logged_in(client)


def test_a_challenge_is_good_once_even_with_a_copy_of_the_old_cookie(app):
    passkey = ann_with_passkey(app)
    client = visitor(app)
    challenge = options(client)["challenge"]
    cookie = client.get_cookie(app.config["SESSION_COOKIE_NAME"]).value
    answer = passkey.answer(challenge)
    assert sign_in(client, answer).status_code == 303
    client.get("/account")  # logged in
    replay = app.test_client()
    replay.set_cookie(app.config["SESSION_COOKIE_NAME"], cookie)
    assert sign_in(replay, answer).status_code == 422
    assert not logged_in(replay)
    # a challenge of another ceremony (the second step) does not sign in here either
    with app.app_context():
        assert db.session.execute(select(func.count()).select_from(PasskeyChallenge)).scalar_one() == 0


def test_an_expired_challenge_is_refused(app):
    passkey = ann_with_passkey(app)
    client = visitor(app)
    challenge = options(client)["challenge"]
    with app.app_context():
        db.session.execute(
            db.update(PasskeyChallenge).values(
                expires_at=PasskeyChallenge.expires_at - __import__("datetime").timedelta(minutes=6)
            )
        )
        db.session.commit()
    assert sign_in(client, passkey.answer(challenge)).status_code == 422
    assert not logged_in(client)


def test_failed_passkey_answers_are_wrong_entries_until_the_cap(app):
    passkey, stranger = ann_with_passkey(app), SoftPasskey(b"stranger")
    client = visitor(app)
    for _ in range(app.config["CODE_MAX_WRONG_ENTRIES"]):
        response = sign_in(client, passkey.answer(options(client)["challenge"], key=stranger.key))
        assert response.status_code == 422
    with app.app_context():
        assert db.session.execute(select(func.count()).select_from(WrongCodeEntry)).scalar_one() == 5
    # the right answer no longer helps this attempt
    response = sign_in(client, passkey.answer(options(client)["challenge"]))
    assert "Too many failed passkey attempts" in response.get_data(as_text=True)
    assert not logged_in(client)
    # another browser of the same network still has its share of the hour
    other = visitor(app)
    assert sign_in(other, passkey.answer(options(other)["challenge"])).status_code == 303


@pytest.mark.parametrize("app_config", [{"RATELIMIT_PER_ADDRESS": "100 per minute"}])
def test_answers_by_no_ones_passkey_are_capped_for_the_network(app, app_config):
    stranger = SoftPasskey(b"stranger")
    shares = app.config["CODE_WRONG_ENTRIES_PER_SOURCE_PER_HOUR"]
    messages = []
    for _ in range(shares + 1):
        client = visitor(app)  # a new browser each time: only the network stays
        messages.append(sign_in(client, stranger.answer(options(client)["challenge"])).get_data(as_text=True))
    assert all(REFUSED in message for message in messages[:shares])
    assert "Please try again in" in messages[-1]


def test_failed_passkey_answers_at_the_second_step_count_with_the_codes(app):
    passkey, stranger = ann_with_passkey(app), SoftPasskey(b"stranger")
    client = visitor(app)
    assert sign_in(client, passkey.answer(options(client)["challenge"])).status_code == 303
    set_up_authenticator(client, app, ANN)
    client = app.test_client()
    assert post(client, "/account/login", {"email": ANN, "password": GOOD_PASSWORD}).status_code == 303
    for left in range(4, 0, -1):
        challenge = options(client, "/account/two-step/sign-in/passkey/options")["challenge"]
        response = post(
            client, "/account/two-step/sign-in/passkey", {"credential": passkey.answer(challenge, key=stranger.key)}
        )
        assert response.status_code == 422 and f"You have {left} more attempt" in response.get_data(as_text=True)
    challenge = options(client, "/account/two-step/sign-in/passkey/options")["challenge"]
    post(client, "/account/two-step/sign-in/passkey", {"credential": passkey.answer(challenge, key=stranger.key)})
    # five wrong answers: even the right code is refused for this attempt
    response = post(client, "/account/two-step/sign-in", {"code": totp_code(app, ANN)})
    assert response.status_code == 422 and "Too many wrong codes" in response.get_data(as_text=True)
    assert not logged_in(client)


def test_a_passkey_answer_at_the_second_step_still_signs_in(app):
    passkey = ann_with_passkey(app)
    client = app.test_client()
    assert post(client, "/account/login", {"email": ANN, "password": GOOD_PASSWORD, "next": STORY}).status_code == 303
    challenge = options(client, "/account/two-step/sign-in/passkey/options")["challenge"]
    # a passkey at the second step comes after the password: it need not be unlocked
    response = post(
        client, "/account/two-step/sign-in/passkey", {"credential": passkey.answer(challenge, verified=False)}
    )
    assert response.status_code == 303 and response.headers["Location"].endswith(STORY)
    assert logged_in(client)


def ann_logged_in_with_passkey(app):
    passkey = ann_with_passkey(app)
    client = visitor(app)
    assert sign_in(client, passkey.answer(options(client)["challenge"])).status_code == 303
    with app.app_context():
        return client, db.session.execute(select(Passkey.id)).scalar_one()


def passkeys_left(app) -> int:
    with app.app_context():
        return db.session.execute(select(func.count()).select_from(Passkey)).scalar_one()


def test_removing_a_passkey_asks_for_the_password(app):
    client, key_id = ann_logged_in_with_passkey(app)
    url = f"/account/two-step/passkeys/{key_id}/remove"
    missing = post(client, url)
    assert missing.status_code == 422 and "Enter your password." in missing.get_data(as_text=True)
    wrong = post(client, url, {"factor_password": "not-my-password"})
    assert wrong.status_code == 422 and "That is not your password." in wrong.get_data(as_text=True)
    assert f'id="remove-password-{key_id}-error"' in wrong.get_data(as_text=True)
    assert passkeys_left(app) == 1
    assert post(client, url, {"factor_password": GOOD_PASSWORD}).status_code == 303
    assert passkeys_left(app) == 0


@pytest.mark.parametrize("app_config", [{"RATELIMIT_PER_ADDRESS": "3 per minute"}])
def test_wrong_passwords_to_remove_a_passkey_are_limited(app, app_config):
    client, key_id = ann_logged_in_with_passkey(app)
    statuses = [
        post(client, f"/account/two-step/passkeys/{key_id}/remove", {"factor_password": "guess"}).status_code
        for _ in range(4)
    ]
    assert statuses == [422, 422, 422, 429]
    assert passkeys_left(app) == 1


def test_new_passkeys_are_made_discoverable_and_unlocked(app):
    client = app.test_client()
    register_and_verify(client, app, ANN)
    made = options(client, "/account/two-step/passkeys/options")
    assert made["authenticatorSelection"]["residentKey"] == "required"
    assert made["authenticatorSelection"]["userVerification"] == "required"


def test_the_new_answers_have_the_security_headers(app):
    passkey = ann_with_passkey(app)
    client = visitor(app)
    answers = {
        "options": post(client, "/account/login/passkey/options"),
        "refused": sign_in(client, "{}", htmx=True),
        "no token": post(client, "/account/login/passkey", {"credential": "{}"}, token=False),
    }
    answers["signed in"] = sign_in(client, passkey.answer(options(client)["challenge"]))
    answers["removal refused"] = post(client, "/account/two-step/passkeys/1/remove", {"factor_password": "x"})
    assert [response.status_code for response in answers.values()] == [200, 422, 400, 303, 422]
    for name, response in answers.items():
        assert_security_headers(response, name, https=False)


def test_a_passkey_is_removed_only_by_its_owner_logged_in(app):
    ann_with_passkey(app)
    anonymous = visitor(app)
    response = post(anonymous, "/account/two-step/passkeys/1/remove", {"factor_password": GOOD_PASSWORD})
    assert response.status_code in (302, 303) and "/account/login" in response.headers["Location"]
    mallory = app.test_client()
    register_and_verify(mallory, app, "mallory@example.org")
    assert post(mallory, "/account/two-step/passkeys/1/remove", {"factor_password": GOOD_PASSWORD}).status_code == 404
    assert passkeys_left(app) == 1


def test_the_page_to_return_to_is_only_ever_a_local_one(app):
    passkey = ann_with_passkey(app)
    client = visitor(app)
    answer = passkey.answer(options(client)["challenge"])
    response = post(client, "/account/login/passkey", {"credential": answer, "next": "https://evil.example/"})
    assert response.status_code == 303 and response.headers["Location"] in ("/", "http://localhost/")
