"""Logins kept on the server: each log in of a browser is a row, named by a random key that the
browser's session and remember-me cookies carry (``User.get_id``).

Log out deletes this browser's row, so every copy of its cookies stops working while the
account's other browsers stay logged in; "log out everywhere" deletes them all and rotates the
account's session token. A row lasts REMEMBER_COOKIE_DURATION at most, as the remember-me
cookie does: a login ends then, whether or not the person asked to be remembered.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from datetime import datetime

from flask import current_app
from sqlalchemy import delete, select

from ..extensions import db
from ..models import LoginSession, User, new_session_token, utcnow

# User.get_id(): "<id>:<session token>:<login key>", the last two from secrets.token_urlsafe
IDENTITY = re.compile(r"(?P<user_id>[0-9]{1,18}):(?P<token>[A-Za-z0-9_-]+):(?P<key>[A-Za-z0-9_-]+)")


def _hash(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def start(user: User, *, now: datetime | None = None) -> None:
    """A new login for ``user``; ``user.get_id()`` then names it."""
    now = now or utcnow()
    db.session.execute(delete(LoginSession).where(LoginSession.user_id == user.id, LoginSession.expires_at <= now))
    user.login_key = secrets.token_urlsafe(24)
    db.session.add(
        LoginSession(
            user_id=user.id,
            key_hash=_hash(user.login_key),
            created_at=now,
            expires_at=now + current_app.config["REMEMBER_COOKIE_DURATION"],
        )
    )
    db.session.commit()


def user_for(identity: str, *, now: datetime | None = None) -> User | None:
    """The account a session or remember-me cookie names, if that login is still going: its row
    is there, unexpired, and the account's session token has not been rotated since."""
    match = IDENTITY.fullmatch(identity or "")
    if match is None:
        return None
    user_id, token, key = int(match["user_id"]), match["token"], match["key"]
    user = db.session.execute(
        select(User)
        .join(LoginSession, LoginSession.user_id == User.id)
        .where(User.id == user_id, LoginSession.key_hash == _hash(key), LoginSession.expires_at > (now or utcnow()))
    ).scalar_one_or_none()
    if user is None or not hmac.compare_digest(user.session_token.encode(), token.encode()):
        return None
    user.login_key = key
    return user


def end(user: User) -> None:
    """This browser's login ends (log out); the account's other logins go on."""
    if user.login_key:
        db.session.execute(delete(LoginSession).where(LoginSession.key_hash == _hash(user.login_key)))
        db.session.commit()


def end_all(user: User) -> None:
    """Every login of the account ends, on every browser (log out everywhere)."""
    end_every_login(user)
    db.session.commit()


def end_every_login(user: User) -> None:
    """``end_all`` within the caller's transaction, so that the logins end with the change that
    ends them (an address change); the caller commits and logs its own browser in again."""
    user.session_token = new_session_token()
    db.session.execute(delete(LoginSession).where(LoginSession.user_id == user.id))
