"""Passkeys (WebAuthn, issue #19) with py_webauthn: several per account, each named; one signs
in as the second factor after the password, or on its own (a discoverable passkey the browser
offers, unlocked with the person's fingerprint, face or PIN: user verification is required
then, so it is two factors in one). The browser side is @simplewebauthn/browser
(app/static/js/passkeys.js). The challenge of each ceremony travels in the session and is
recorded here (``keep_challenge``); an answer spends it (``spend_challenge``), once, within
CHALLENGE_SECONDS. The relying party (``rp_id``, ``origin``) is the site's own name. Failed
answers count as wrong entries under the caps of codes (``second_factor.counted_check``)."""

from __future__ import annotations

import hashlib
import json
from datetime import datetime, timedelta
from typing import Any, cast

import webauthn
from sqlalchemy import CursorResult, delete, select
from webauthn.helpers import bytes_to_base64url
from webauthn.helpers.exceptions import WebAuthnException
from webauthn.helpers.structs import (
    AuthenticatorSelectionCriteria,
    PublicKeyCredentialDescriptor,
    ResidentKeyRequirement,
    UserVerificationRequirement,
)

from ..extensions import db
from ..models import Passkey, PasskeyChallenge, User, utcnow
from .codes import Source
from .second_factor import Check, Outcome, counted_check, factors_changed, passkeys

CHALLENGE_SECONDS = 5 * 60  # the browser's own timeout is a minute; some room for a slow unlock


def keep_challenge(challenge: bytes, purpose: str, *, now: datetime | None = None) -> None:
    """Record a challenge just handed to the browser (expired ones go at the same time)."""
    now = now or utcnow()
    db.session.execute(delete(PasskeyChallenge).where(PasskeyChallenge.expires_at <= now))
    db.session.add(
        PasskeyChallenge(
            challenge_hash=hashlib.sha256(challenge).hexdigest(),
            purpose=purpose,
            expires_at=now + timedelta(seconds=CHALLENGE_SECONDS),
        )
    )
    db.session.commit()


def spend_challenge(challenge: bytes | None, purpose: str, *, now: datetime | None = None) -> bool:
    """Whether ``challenge`` was handed out for ``purpose``, has not expired and was not answered
    before; it is answered now, right or wrong."""
    if not challenge:
        return False
    spent = cast(
        CursorResult[Any],
        db.session.execute(
            delete(PasskeyChallenge).where(
                PasskeyChallenge.challenge_hash == hashlib.sha256(challenge).hexdigest(),
                PasskeyChallenge.purpose == purpose,
                PasskeyChallenge.expires_at > (now or utcnow()),
            )
        ),
    ).rowcount
    db.session.commit()
    return spent == 1


def registration_options(user: User, *, rp_id: str, rp_name: str) -> tuple[str, bytes]:
    """The options the browser creates a passkey with (JSON), and their challenge."""
    options = webauthn.generate_registration_options(
        rp_id=rp_id,
        rp_name=rp_name,
        user_name=user.email,
        user_id=f"portal-user-{user.id}".encode(),
        user_display_name=f"{user.first_name} {user.last_name}",
        # discoverable, so that it can sign in on its own (passkeys made before may not be: they
        # still work as the second factor, and the browser just does not offer them alone)
        authenticator_selection=AuthenticatorSelectionCriteria(
            resident_key=ResidentKeyRequirement.REQUIRED, user_verification=UserVerificationRequirement.REQUIRED
        ),
        exclude_credentials=[
            PublicKeyCredentialDescriptor(id=webauthn.base64url_to_bytes(key.credential_id)) for key in passkeys(user)
        ],
    )
    return webauthn.options_to_json(options), options.challenge


def register(
    user: User, name: str, credential: str, *, challenge: bytes, rp_id: str, origin: str, now: datetime | None = None
) -> tuple[Passkey, list[str] | None] | None:
    """Keep the passkey the browser made, if it answers ``challenge``; other logins end and the
    owner is told (as for any factor). Returns it and the new recovery codes (the first factor
    brings them), or None."""
    now = now or utcnow()
    try:
        verified = webauthn.verify_registration_response(
            credential=credential,
            expected_challenge=challenge,
            expected_rp_id=rp_id,
            expected_origin=origin,
            require_user_verification=True,
        )
    # every malformed or wrong answer (WebAuthnException covers the library's own), never a 500
    except (WebAuthnException, ValueError, KeyError, TypeError, RecursionError):
        return None
    credential_id = bytes_to_base64url(verified.credential_id)
    if db.session.execute(select(Passkey.id).where(Passkey.credential_id == credential_id)).first():
        return None
    key = Passkey(
        user_id=user.id,
        name=name,
        credential_id=credential_id,
        public_key=verified.credential_public_key,
        sign_count=verified.sign_count,
        created_at=now,
    )
    db.session.add(key)
    db.session.flush()
    recovery = factors_changed(user, "passkey", added=True, now=now)
    db.session.commit()
    return key, recovery


def authentication_options(user: User | None, *, rp_id: str) -> tuple[str, bytes]:
    """For the second factor, ``user``'s passkeys; with no user (a passkey on its own) none are
    named, the browser offers the discoverable ones it has, and the person must unlock it."""
    if user is None:
        options = webauthn.generate_authentication_options(
            rp_id=rp_id, allow_credentials=[], user_verification=UserVerificationRequirement.REQUIRED
        )
    else:
        options = webauthn.generate_authentication_options(
            rp_id=rp_id,
            allow_credentials=[
                PublicKeyCredentialDescriptor(id=webauthn.base64url_to_bytes(key.credential_id))
                for key in passkeys(user)
            ],
        )
    return webauthn.options_to_json(options), options.challenge


def _passkey_of(credential: str, user: User | None = None) -> Passkey | None:
    """The passkey an answer names by its id (of ``user``, when one is given)."""
    try:
        credential_id = json.loads(credential)["id"]
    except (ValueError, KeyError, TypeError, RecursionError):  # RecursionError: a deeply nested JSON
        return None
    query = select(Passkey).where(Passkey.credential_id == str(credential_id))
    if user is not None:
        query = query.where(Passkey.user_id == user.id)
    return db.session.execute(query).scalar_one_or_none()


def _verify(
    key: Passkey | None,
    credential: str,
    *,
    challenge: bytes | None,
    rp_id: str,
    origin: str,
    user_verification: bool,
    now: datetime,
) -> Outcome:
    """ACCEPTED when ``credential`` is ``key``'s signature of ``challenge``: the sign count moves
    on (a count that went back is a copied passkey, py_webauthn refuses it)."""
    if key is None or not challenge:
        return Outcome.WRONG
    try:
        verified = webauthn.verify_authentication_response(
            credential=credential,
            expected_challenge=challenge,
            expected_rp_id=rp_id,
            expected_origin=origin,
            credential_public_key=key.public_key,
            credential_current_sign_count=key.sign_count,
            require_user_verification=user_verification,
        )
    # every malformed or wrong answer (WebAuthnException covers the library's own), never a 500
    except (WebAuthnException, ValueError, KeyError, TypeError, RecursionError):
        return Outcome.WRONG
    key.sign_count, key.last_used_at = verified.new_sign_count, now
    return Outcome.ACCEPTED


def authenticate(
    user: User,
    credential: str,
    *,
    challenge: bytes | None,
    rp_id: str,
    origin: str,
    source: Source,
    now: datetime | None = None,
) -> Check:
    """The second factor: whether ``credential`` answers ``challenge`` by one of ``user``'s
    passkeys. ``challenge`` is None when it was spent or expired: a wrong answer too."""
    now = now or utcnow()
    return counted_check(
        user,
        lambda: (
            _verify(
                _passkey_of(credential, user),
                credential,
                challenge=challenge,
                rp_id=rp_id,
                origin=origin,
                user_verification=False,
                now=now,
            ),
            None,
        ),
        source=source,
        now=now,
    )


def sign_in_alone(
    credential: str, *, challenge: bytes | None, rp_id: str, origin: str, source: Source, now: datetime | None = None
) -> tuple[Check, User | None]:
    """A passkey on its own: the account whose passkey signed ``challenge``, unlocked by its
    owner. Wrong answers count for that account as wrong second factors do; an answer by no
    passkey of a verified account counts for ``source.network`` alone (there is no account to
    count it for, and a shared name would let anyone lock everybody out)."""
    now = now or utcnow()
    key = _passkey_of(credential)
    user = db.session.get(User, key.user_id) if key is not None else None
    if user is None or not user.is_verified:
        check = counted_check(
            None, lambda: (Outcome.WRONG, None), source=source, now=now, caps_key=f"passkey-sign-in:{source.network}"
        )
        return check, None
    check = counted_check(
        user,
        lambda: (
            _verify(key, credential, challenge=challenge, rp_id=rp_id, origin=origin, user_verification=True, now=now),
            None,
        ),
        source=source,
        now=now,
    )
    return check, user if check.ok else None


def rename(user: User, passkey_id: int, name: str) -> bool:
    key = db.session.execute(
        select(Passkey).where(Passkey.id == passkey_id, Passkey.user_id == user.id)
    ).scalar_one_or_none()
    if key is None:
        return False
    key.name = name
    db.session.commit()
    return True


def remove(user: User, passkey_id: int, *, now: datetime | None = None) -> bool:
    removed = cast(
        CursorResult[Any],
        db.session.execute(delete(Passkey).where(Passkey.id == passkey_id, Passkey.user_id == user.id)),
    ).rowcount
    if removed:
        factors_changed(user, "passkey", added=False, now=now or utcnow())
    db.session.commit()
    return bool(removed)
