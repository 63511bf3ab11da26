"""What this browser is in the middle of: the account flow kept in the signed session cookie."""

from __future__ import annotations

import secrets
from dataclasses import dataclass

from flask import current_app, request, session
from flask_login import current_user, login_user, logout_user

from .flows import login_sessions
from .flows.redirects import safe_next

FLOW_KEY = "account_flow"
RETURN_KEY = "return_to"
BROWSER_KEY = "browser"


@dataclass(frozen=True)
class Flow:
    id: str
    address: str
    purpose: str
    # False when the send throttle held the code back (a code went out a moment ago)
    sent: bool = True


def mark_browser() -> None:
    """Give this browser a stable id when it is first shown an account step.

    A flow's id is this browser's id, so two submits of one form (a double click without
    JavaScript sends both with the same old cookie) belong to the same flow, while another
    browser never does."""
    if BROWSER_KEY not in session:
        session[BROWSER_KEY] = secrets.token_urlsafe(18)


def begin_flow(address: str, purpose: str, next_url: str | None = None) -> Flow:
    flow = Flow(id=session.get(BROWSER_KEY) or secrets.token_urlsafe(18), address=address, purpose=purpose)
    session[FLOW_KEY] = {"id": flow.id, "address": address, "purpose": purpose}
    if next_url:
        session[RETURN_KEY] = safe_next(next_url)
    return flow


def current_flow(purpose: str) -> Flow | None:
    data = session.get(FLOW_KEY)
    if not isinstance(data, dict) or data.get("purpose") != purpose:
        return None
    return Flow(id=data["id"], address=data["address"], purpose=purpose, sent=data.get("sent", True))


def note_send(blocked_until) -> None:
    """Remember whether the step that started the flow really sent a code."""
    if isinstance(session.get(FLOW_KEY), dict):
        session[FLOW_KEY] = {**session[FLOW_KEY], "sent": blocked_until is None}


def end_flow() -> None:
    session.pop(FLOW_KEY, None)


def return_to(default: str = "/") -> str:
    return safe_next(session.get(RETURN_KEY), default)


def log_in(user, *, remember: bool = False) -> None:
    """A new session on log in: nothing from before survives but the page to return to (and a
    login this browser had before ends on the server too)."""
    _end_login()
    keep = {key: session[key] for key in (RETURN_KEY, BROWSER_KEY) if key in session}
    session.clear()
    session.update(keep)
    login_sessions.start(user)
    login_user(user, remember=remember)


def _end_login() -> None:
    # current_user comes from the session or, without one, from the remember-me cookie
    if current_user.is_authenticated:
        login_sessions.end(current_user._get_current_object())


def end_browser_session() -> None:
    """This browser is logged in no more: its login ends on the server, so no copy of its
    cookies works any longer; its session is emptied and its remember-me cookie deleted."""
    _end_login()
    session.clear()
    # after the clear: logout_user marks the remember-me cookie for deletion in the session, and a
    # clear after it would drop that mark, leaving the cookie to log the person straight back in
    logout_user()


def may_be_logged_in() -> bool:
    """Whether this request could be someone's who is logged in: it has a session or a remember-me
    cookie. Without either Flask-Login can only find nobody, and asking it costs a user lookup
    on every visitor's request."""
    return bool(session) or current_app.config.get("REMEMBER_COOKIE_NAME", "remember_token") in request.cookies


def keep_this_browser_logged_in() -> None:
    """After a change that ended every login of the account: this browser's goes on, remembered
    if it was."""
    remembered = current_app.config.get("REMEMBER_COOKIE_NAME", "remember_token") in request.cookies
    log_in(current_user._get_current_object(), remember=remembered)
