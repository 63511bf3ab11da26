"""Second factors (issue #19): an authenticator app's codes (TOTP), passkeys (app/flows/passkeys.py)
and single-use recovery codes.

A log in of an account with a second factor happens only once the factor is given, and adding
or removing one ends every other login of the account: so every live login of an account with a
factor was made with it (the staff area relies on this, app/staff_access.py).

Codes of the authenticator are accepted once each: the 30-second step of the last one accepted
is kept, and a code of that step or an earlier one is refused. Wrong entries count under the same
caps as emailed codes (app/flows/codes.py: ``max_wrong_entries`` per sign-in attempt,
``wrong_entries_per_hour`` per account, and the share one source may use), in the same table.
The clock is always the caller's ``now``.
"""

from __future__ import annotations

import enum
import hashlib
import hmac
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, cast

import pyotp
from sqlalchemy import CursorResult, delete, func, select, update

from .. import mails
from ..extensions import db
from ..models import Passkey, RecoveryCode, TotpFactor, TrustedBrowser, User, WrongCodeEntry, utcnow
from . import audit, codes, login_sessions
from .accounts import code_policy
from .keyed_hash import keyed_hash

STEP_SECONDS = 30
VALID_WINDOW = 1  # the step before and after now too: a phone's clock a little off still works
RECOVERY_CODE_COUNT = 10
RECOVERY_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"  # no 0/o, 1/l/i to misread


class Outcome(enum.Enum):
    ACCEPTED = "accepted"
    WRONG = "wrong"
    REPLAYED = "replayed"  # the right code, but of a step already used
    EXHAUSTED = "exhausted"  # too many wrong entries for this sign-in attempt
    LOCKED = "locked"  # too many wrong entries for this account in the last hour


@dataclass(frozen=True)
class Check:
    outcome: Outcome
    attempts_left: int = 0
    retry_at: datetime | None = None
    recovery_codes_left: int | None = None  # after a recovery code was used

    @property
    def ok(self) -> bool:
        return self.outcome is Outcome.ACCEPTED


# --- what an account has ---------------------------------------------------------------------


def totp_factor(user: User) -> TotpFactor | None:
    """The account's confirmed authenticator, or None."""
    return db.session.execute(
        select(TotpFactor).where(TotpFactor.user_id == user.id, TotpFactor.confirmed_at.is_not(None))
    ).scalar_one_or_none()


def passkeys(user: User) -> list[Passkey]:
    return list(db.session.execute(select(Passkey).where(Passkey.user_id == user.id).order_by(Passkey.id)).scalars())


def has_second_factor(user: User) -> bool:
    return totp_factor(user) is not None or bool(passkeys(user))


def recovery_codes_left(user: User) -> int:
    return db.session.execute(
        select(func.count())
        .select_from(RecoveryCode)
        .where(RecoveryCode.user_id == user.id, RecoveryCode.used_at.is_(None))
    ).scalar_one()


# --- authenticator codes ----------------------------------------------------------------------


def step_of(now: datetime) -> int:
    return int(now.timestamp() if now.tzinfo else (now - datetime(1970, 1, 1)).total_seconds()) // STEP_SECONDS


def code_at(secret: str, step: int) -> str:
    return pyotp.TOTP(secret).generate_otp(step)


def matching_step(secret: str, submitted: str, now: datetime) -> int | None:
    """The step (within the window around ``now``) whose code ``submitted`` is, or None."""
    here = step_of(now)
    for step in range(here - VALID_WINDOW, here + VALID_WINDOW + 1):
        if hmac.compare_digest(code_at(secret, step), submitted):
            return step
    return None


def pending_totp(user: User, *, now: datetime | None = None) -> TotpFactor:
    """The set-up in progress (a new secret the first time, kept across reloads of the page)."""
    factor = db.session.execute(select(TotpFactor).where(TotpFactor.user_id == user.id)).scalar_one_or_none()
    if factor is None:
        factor = TotpFactor(user_id=user.id, secret=pyotp.random_base32(), created_at=now or utcnow())
        db.session.add(factor)
        db.session.commit()
    return factor


def provisioning_uri(factor: TotpFactor, user: User, issuer: str) -> str:
    return pyotp.TOTP(factor.secret).provisioning_uri(name=user.email, issuer_name=issuer)


def confirm_totp(user: User, submitted: str, *, now: datetime | None = None) -> list[str] | None:
    """Finish the set-up with a first code: the factor counts from now on, every other login of
    the account ends (the caller keeps this browser's), the owner is told; returns the new
    recovery codes (shown once; none when the account has some already), or None when the code
    is not right."""
    now = now or utcnow()
    factor = db.session.execute(
        select(TotpFactor).where(TotpFactor.user_id == user.id, TotpFactor.confirmed_at.is_(None))
    ).scalar_one_or_none()
    step = matching_step(factor.secret, submitted, now) if factor else None
    if factor is None or step is None:
        return None
    factor.confirmed_at, factor.last_step = now, step
    recovery = factors_changed(user, "authenticator", added=True, now=now)
    db.session.commit()
    return recovery or []


def remove_totp(user: User, *, now: datetime | None = None) -> bool:
    now = now or utcnow()
    removed = cast(
        CursorResult[Any], db.session.execute(delete(TotpFactor).where(TotpFactor.user_id == user.id))
    ).rowcount
    if removed:
        factors_changed(user, "authenticator", added=False, now=now)
    db.session.commit()
    return bool(removed)


def factors_changed(user: User, kind: str, *, added: bool, now: datetime) -> list[str] | None:
    """After a factor was added or removed (in the caller's transaction): other logins end,
    remembered browsers are forgotten, the owner is mailed. The first factor brings recovery
    codes (returned), the last one gone takes them away."""
    login_sessions.end_every_login(user)
    db.session.execute(delete(TrustedBrowser).where(TrustedBrowser.user_id == user.id))
    db.session.flush()
    mails.queue_factor_notice(user, kind=kind, added=added, when=now)
    audit.record("account.factor_added" if added else "account.factor_removed", actor=user, subject=user, detail=kind)
    if added and recovery_codes_left(user) == 0:
        return new_recovery_codes(user, now=now)
    if not has_second_factor(user):
        db.session.execute(delete(RecoveryCode).where(RecoveryCode.user_id == user.id))
    return None


# --- recovery codes -----------------------------------------------------------------------------


def _hash_recovery(code: str) -> str:
    return keyed_hash("recovery", code)


def tidy_recovery_code(typed: str) -> str:
    return "".join(ch for ch in (typed or "").lower() if ch.isalnum())[:40]


def new_recovery_codes(user: User, *, now: datetime | None = None) -> list[str]:
    """Ten new codes, shown once (as "xxxxx-xxxxx"); the previous ones stop working. The caller commits."""
    now = now or utcnow()
    db.session.execute(delete(RecoveryCode).where(RecoveryCode.user_id == user.id))
    plain = ["".join(secrets.choice(RECOVERY_ALPHABET) for _ in range(10)) for _ in range(RECOVERY_CODE_COUNT)]
    db.session.add_all(RecoveryCode(user_id=user.id, code_hash=_hash_recovery(code), created_at=now) for code in plain)
    return [f"{code[:5]}-{code[5:]}" for code in plain]


def regenerate_recovery_codes(user: User, *, now: datetime | None = None) -> list[str] | None:
    if not has_second_factor(user):
        return None
    plain = new_recovery_codes(user, now=now)
    audit.record("account.recovery_codes", actor=user, subject=user)
    db.session.commit()
    return plain


# --- the sign-in step --------------------------------------------------------------------------


def _caps_key(user: User) -> str:
    # wrong entries are counted in the emailed codes' table, under a name no address can have
    return f"second-factor:{user.id}"


def check_second_factor(
    user: User,
    submitted: str,
    *,
    source: codes.Source,
    now: datetime | None = None,
    policy: codes.CodePolicy | None = None,
) -> Check:
    """Check an authenticator code (6 digits) or a recovery code for ``user``'s sign-in attempt
    (``source.flow_id`` names the attempt). The account is locked first, so guesses sent at once
    are counted one after the other; the caller commits nothing: this does."""
    now = now or utcnow()

    def answer() -> tuple[Outcome, int | None]:
        digits = "".join(submitted.split())
        if digits.isdigit() and len(digits) == 6:
            return _check_totp(user, digits, now), None
        return _use_recovery_code(user, tidy_recovery_code(submitted), now)

    return counted_check(user, answer, source=source, now=now, policy=policy)


def counted_check(
    user: User | None,
    answer: Callable[[], tuple[Outcome, int | None]],
    *,
    source: codes.Source,
    now: datetime,
    policy: codes.CodePolicy | None = None,
    caps_key: str | None = None,
) -> Check:
    """Every answer to a second factor (a code, a passkey): ``answer()`` says ACCEPTED, WRONG or
    REPLAYED (and the recovery codes left), under the caps of wrong entries. ``caps_key`` names
    what the entries count for when there is no account (a passkey nobody has, on its own)."""
    if caps_key is None:
        assert user is not None, "without an account, the caller names what the entries count for"
        caps_key = _caps_key(user)
    policy, key = policy or code_policy(), caps_key
    codes.lock(key)
    locked_until = codes.wrong_entries_blocked_until(key, now, policy, source)
    if locked_until is not None:
        db.session.commit()
        return Check(Outcome.LOCKED, retry_at=locked_until)
    wrong_here = db.session.execute(
        select(func.count())
        .select_from(WrongCodeEntry)
        .where(WrongCodeEntry.address == key, WrongCodeEntry.flow_id == source.flow_id)
    ).scalar_one()
    if wrong_here >= policy.max_wrong_entries:
        db.session.commit()
        return Check(Outcome.EXHAUSTED)
    outcome, left = answer()
    if outcome is Outcome.ACCEPTED:
        db.session.commit()
        return Check(outcome, recovery_codes_left=left)
    db.session.add(WrongCodeEntry(address=key, at=now, flow_id=source.flow_id, network=source.network))
    db.session.commit()
    remaining = policy.max_wrong_entries - wrong_here - 1
    return Check(
        Outcome.EXHAUSTED if remaining <= 0 and outcome is Outcome.WRONG else outcome, attempts_left=max(remaining, 0)
    )


def _check_totp(user: User, digits: str, now: datetime) -> Outcome:
    factor = totp_factor(user)
    step = matching_step(factor.secret, digits, now) if factor else None
    if factor is None or step is None:
        return Outcome.WRONG
    taken = cast(
        CursorResult[Any],
        db.session.execute(
            update(TotpFactor)
            .where(TotpFactor.id == factor.id, (TotpFactor.last_step.is_(None)) | (TotpFactor.last_step < step))
            .values(last_step=step)
        ),
    ).rowcount
    return Outcome.ACCEPTED if taken == 1 else Outcome.REPLAYED


def _use_recovery_code(user: User, code: str, now: datetime) -> tuple[Outcome, int | None]:
    if len(code) != 10:
        return Outcome.WRONG, None
    used = cast(
        CursorResult[Any],
        db.session.execute(
            update(RecoveryCode)
            .where(
                RecoveryCode.user_id == user.id,
                RecoveryCode.code_hash == _hash_recovery(code),
                RecoveryCode.used_at.is_(None),
            )
            .values(used_at=now)
        ),
    ).rowcount
    if used != 1:
        return Outcome.WRONG, None
    left = recovery_codes_left(user)
    mails.queue_recovery_code_used_notice(user, left=left, when=now)
    audit.record("account.recovery_code_used", actor=user, subject=user)
    return Outcome.ACCEPTED, left


def reset_second_factor(user: User, *, now: datetime | None = None) -> None:
    """Every factor of the account goes (staff do it for a person who lost them all,
    ``flask users reset-second-factor``): recovery codes, remembered browsers and logins too."""
    now = now or utcnow()
    for model in (TotpFactor, Passkey, RecoveryCode, TrustedBrowser):
        db.session.execute(delete(model).where(model.user_id == user.id))
    login_sessions.end_every_login(user)
    mails.queue_factor_notice(user, kind="all", added=False, when=now)
    audit.record("account.factors_reset", subject=user, now=now)
    db.session.commit()


# --- remembered browsers ------------------------------------------------------------------------

TRUST_DAYS = 30


def _hash_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def trust_browser(user: User, *, now: datetime | None = None) -> str:
    """ "Do not ask again on this browser": the key its cookie carries for TRUST_DAYS. Never for
    staff, whose second factor is what keeps the staff area safe."""
    now = now or utcnow()
    key = secrets.token_urlsafe(24)
    db.session.execute(
        delete(TrustedBrowser).where(TrustedBrowser.user_id == user.id, TrustedBrowser.expires_at <= now)
    )
    db.session.add(
        TrustedBrowser(
            user_id=user.id, key_hash=_hash_key(key), created_at=now, expires_at=now + timedelta(days=TRUST_DAYS)
        )
    )
    db.session.commit()
    return key


def browser_trusted(user: User, key: str | None, *, now: datetime | None = None) -> bool:
    if not key or user.is_staff:
        return False
    return (
        db.session.execute(
            select(TrustedBrowser.id).where(
                TrustedBrowser.user_id == user.id,
                TrustedBrowser.key_hash == _hash_key(key),
                TrustedBrowser.expires_at > (now or utcnow()),
            )
        ).first()
        is not None
    )


def forget_browsers(user: User) -> int:
    """Every remembered browser of the account is asked for the second factor again."""
    forgotten = cast(
        CursorResult[Any], db.session.execute(delete(TrustedBrowser).where(TrustedBrowser.user_id == user.id))
    ).rowcount
    db.session.commit()
    return forgotten
