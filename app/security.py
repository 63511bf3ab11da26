"""Response headers (SPEC §3) and the session loader that honours per-user session tokens."""
from __future__ import annotations

import hmac

from flask import current_app, request

from .account_session import mark_browser
from .extensions import db, login_manager
from .models import User

CSP = (
    "default-src 'self'; img-src 'self' data:; media-src 'self'; object-src 'none'; "
    "base-uri 'none'; frame-ancestors 'none'; form-action 'self'"
)
ACCOUNT_BLUEPRINTS = {"auth", "verification", "reset", "newsletter", "account"}


def init_app(app) -> None:
    login_manager.login_view = "auth.login"
    login_manager.login_message = None  # the login step says what is needed itself
    login_manager.session_protection = "basic"
    app.after_request(set_security_headers)
    app.before_request(_mark_browser_on_account_pages)


@login_manager.user_loader
def load_user(user_id: str):
    """``get_id`` is "<id>:<session token>"; a rotated token ends old sessions and cookies."""
    raw_id, _, token = (user_id or "").partition(":")
    if not raw_id.isdigit() or not token:
        return None
    user = db.session.get(User, int(raw_id))
    if user is None or not hmac.compare_digest(user.session_token.encode(), token.encode()):
        return None
    return user


def _mark_browser_on_account_pages():
    if request.method == "GET" and request.blueprint in ACCOUNT_BLUEPRINTS:
        mark_browser()


def set_security_headers(response):
    headers = response.headers
    headers.setdefault("Content-Security-Policy", CSP)
    headers.setdefault("X-Content-Type-Options", "nosniff")
    headers.setdefault("X-Frame-Options", "DENY")
    # same-origin keeps the Referer that Flask-WTF checks on HTTPS, and leaks nothing outside.
    headers.setdefault("Referrer-Policy", "same-origin")
    if request.is_secure:
        headers.setdefault("Strict-Transport-Security", "max-age=63072000; includeSubDomains")
    if is_account_request() or request.blueprint == "staff":  # staff pages show drafts: never stored
        headers["Cache-Control"] = "no-store"
    return response


def is_account_request() -> bool:
    """An account page, or an error at an account URL that matched no route (404, 405)."""
    if request.url_rule is not None:
        return request.blueprint in ACCOUNT_BLUEPRINTS
    prefixes = (current_app.blueprints[name].url_prefix for name in ACCOUNT_BLUEPRINTS if name in current_app.blueprints)
    return any(request.path == prefix or request.path.startswith(prefix.rstrip("/") + "/") for prefix in prefixes if prefix)
