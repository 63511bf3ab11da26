"""A sign-in waiting for its second factor, kept in the signed session cookie: the password was
right, but nobody is logged in until the factor is given (app/flows/second_factor.py)."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from flask import current_app, session

from ..account_session import RETURN_KEY
from ..extensions import db
from ..flows.redirects import safe_next
from ..limits import key_for_account
from ..models import User, utcnow

PENDING_KEY = "second_factor"


@dataclass(frozen=True)
class PendingSignIn:
    user: User
    attempt: str  # names this attempt: its wrong entries are counted under it
    remember: bool


def begin(user: User, *, remember: bool, next_url: str | None = None) -> None:
    if next_url:
        session[RETURN_KEY] = safe_next(next_url)
    session[PENDING_KEY] = {
        "user_id": user.id,
        "token": user.session_token,
        "attempt": secrets.token_urlsafe(18),
        "remember": bool(remember),
        "at": utcnow().isoformat(),
    }


def current(now: datetime | None = None) -> PendingSignIn | None:
    """The attempt this browser is in, while it lasts (as long as an emailed code) and while the
    account's logins have not been ended since (a password change, log out everywhere)."""
    data = session.get(PENDING_KEY)
    if not isinstance(data, dict):
        return None
    try:
        started = datetime.fromisoformat(data["at"])
        user = db.session.get(User, int(data["user_id"]))
    except (KeyError, TypeError, ValueError):
        return None
    lifetime = timedelta(seconds=current_app.config["CODE_LIFETIME_SECONDS"])
    if user is None or user.session_token != data.get("token") or (now or utcnow()) > started + lifetime:
        return None
    return PendingSignIn(user, str(data.get("attempt")), bool(data.get("remember")))


def attempt_account_key() -> str:
    """Rate-limit key of the second step's posts: the account waiting for its factor."""
    attempt = current()
    return key_for_account(attempt.user.id if attempt else "-")


def end() -> None:
    session.pop(PENDING_KEY, None)
