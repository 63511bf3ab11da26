"""Passkeys (WebAuthn, issue #19) with py_webauthn: several per account, each named; one signs
in as the second factor after the password. The browser side is @simplewebauthn/browser
(app/static/js/passkeys.js). The challenge of each ceremony is kept by the caller (the session)
and handed back here once; the relying party (``rp_id``, ``origin``) is the site's own name."""
from __future__ import annotations

import json
from datetime import datetime
from typing import Any, cast

import webauthn
from sqlalchemy import CursorResult, delete, select
from webauthn.helpers import bytes_to_base64url
from webauthn.helpers.exceptions import WebAuthnException
from webauthn.helpers.structs import (AuthenticatorSelectionCriteria, PublicKeyCredentialDescriptor,
                                      ResidentKeyRequirement)

from ..extensions import db
from ..models import Passkey, User, utcnow
from .second_factor import factors_changed, passkeys


def registration_options(user: User, *, rp_id: str, rp_name: str) -> tuple[str, bytes]:
    """The options the browser creates a passkey with (JSON), and their challenge."""
    options = webauthn.generate_registration_options(
        rp_id=rp_id, rp_name=rp_name, user_name=user.email, user_id=f"portal-user-{user.id}".encode(),
        user_display_name=f"{user.first_name} {user.last_name}",
        authenticator_selection=AuthenticatorSelectionCriteria(resident_key=ResidentKeyRequirement.PREFERRED),
        exclude_credentials=[PublicKeyCredentialDescriptor(id=webauthn.base64url_to_bytes(key.credential_id))
                             for key in passkeys(user)],
    )
    return webauthn.options_to_json(options), options.challenge


def register(user: User, name: str, credential: str, *, challenge: bytes, rp_id: str, origin: str,
             now: datetime | None = None) -> tuple[Passkey, list[str] | None] | None:
    """Keep the passkey the browser made, if it answers ``challenge``; other logins end and the
    owner is told (as for any factor). Returns it and the new recovery codes (the first factor
    brings them), or None."""
    now = now or utcnow()
    try:
        verified = webauthn.verify_registration_response(
            credential=credential, expected_challenge=challenge, expected_rp_id=rp_id, expected_origin=origin)
    # every malformed or wrong answer (WebAuthnException covers the library's own), never a 500
    except (WebAuthnException, ValueError, KeyError, TypeError):
        return None
    credential_id = bytes_to_base64url(verified.credential_id)
    if db.session.execute(select(Passkey.id).where(Passkey.credential_id == credential_id)).first():
        return None
    key = Passkey(user_id=user.id, name=name, credential_id=credential_id, public_key=verified.credential_public_key,
                  sign_count=verified.sign_count, created_at=now)
    db.session.add(key)
    db.session.flush()
    recovery = factors_changed(user, "passkey", added=True, now=now)
    db.session.commit()
    return key, recovery


def authentication_options(user: User, *, rp_id: str) -> tuple[str, bytes]:
    options = webauthn.generate_authentication_options(
        rp_id=rp_id, allow_credentials=[PublicKeyCredentialDescriptor(id=webauthn.base64url_to_bytes(key.credential_id))
                                        for key in passkeys(user)])
    return webauthn.options_to_json(options), options.challenge


def authenticate(user: User, credential: str, *, challenge: bytes, rp_id: str, origin: str,
                 now: datetime | None = None) -> bool:
    """Whether ``credential`` is an answer to ``challenge`` by one of ``user``'s passkeys."""
    try:
        credential_id = json.loads(credential)["id"]
    except (ValueError, KeyError, TypeError):
        return False
    key = db.session.execute(
        select(Passkey).where(Passkey.user_id == user.id, Passkey.credential_id == str(credential_id))
    ).scalar_one_or_none()
    if key is None:
        return False
    try:
        verified = webauthn.verify_authentication_response(
            credential=credential, expected_challenge=challenge, expected_rp_id=rp_id, expected_origin=origin,
            credential_public_key=key.public_key, credential_current_sign_count=key.sign_count)
    except (WebAuthnException, ValueError, KeyError, TypeError):
        return False
    key.sign_count, key.last_used_at = verified.new_sign_count, now or utcnow()
    db.session.commit()
    return True


def rename(user: User, passkey_id: int, name: str) -> bool:
    key = db.session.execute(select(Passkey).where(Passkey.id == passkey_id, Passkey.user_id == user.id)).scalar_one_or_none()
    if key is None:
        return False
    key.name = name
    db.session.commit()
    return True


def remove(user: User, passkey_id: int, *, now: datetime | None = None) -> bool:
    removed = cast(CursorResult[Any], db.session.execute(
        delete(Passkey).where(Passkey.id == passkey_id, Passkey.user_id == user.id))).rowcount
    if removed:
        factors_changed(user, "passkey", added=False, now=now or utcnow())
    db.session.commit()
    return bool(removed)
