"""Response headers (docs/security.md, Headers) and the session loader: a login counts while its server-side row
(app/flows/login_sessions.py) and the account's session token say so."""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import current_app, g, request
from flask_login import current_user, user_accessed, user_logged_in

from .account_session import mark_browser
from .extensions import csrf, login_manager
from .flows import login_sessions

CSP = (
    "default-src 'self'; img-src 'self' data:; media-src 'self'; object-src 'none'; "
    "base-uri 'none'; frame-ancestors 'none'; form-action 'self'"
)
ACCOUNT_BLUEPRINTS = {"account", "newsletter"}  # app/account/, app/newsletter/
STAFF_BLUEPRINTS = {"staff", "uploads"}  # the staff area (app/staff/, app/uploads/)


def init_app(app) -> None:
    login_manager.init_app(app)
    csrf.init_app(app)
    login_manager.login_view = "account.login"
    login_manager.login_message = None  # the login step says what is needed itself
    login_manager.session_protection = "basic"
    app.after_request(set_security_headers)
    app.before_request(_mark_browser_on_account_pages)
    # Flask-Login says when it looks up who is logged in, or logs someone in: only then can an
    # answer be made for that person (made_for_a_logged_in_person).
    user_accessed.connect(_note_login_looked_up, app)
    user_logged_in.connect(_note_login_looked_up, app)


def _note_login_looked_up(sender, **extra) -> None:
    g.login_looked_up = True


@login_manager.user_loader
def load_user(user_id: str):
    """``get_id`` is "<id>:<session token>:<login key>": a rotated token ends every session and
    remember-me cookie of the account, an ended login (log out) every copy of one browser's."""
    return login_sessions.user_for(user_id)


def _mark_browser_on_account_pages():
    if request.method == "GET" and request.blueprint in ACCOUNT_BLUEPRINTS:
        mark_browser()


DEFAULT_HEADERS = (
    ("Content-Security-Policy", CSP),
    ("X-Content-Type-Options", "nosniff"),
    ("X-Frame-Options", "DENY"),
    # same-origin keeps the Referer that Flask-WTF checks on HTTPS, and leaks nothing outside.
    ("Referrer-Policy", "same-origin"),
)


def set_security_headers(response):
    headers = response.headers
    # Each added unless the view set it already. Looked up in one set: werkzeug's Headers answer
    # a missing key by raising (and catching) an HTTP exception, a cost paid on every request.
    present = {name.lower() for name in headers.keys()}
    for name, value in DEFAULT_HEADERS:
        if name.lower() not in present:
            headers.add(name, value)
    if request.is_secure:
        headers.setdefault("Strict-Transport-Security", "max-age=63072000; includeSubDomains")
    if is_account_request() or request.blueprint in STAFF_BLUEPRINTS:  # staff pages show drafts: never stored
        headers["Cache-Control"] = "no-store"
    elif made_for_a_logged_in_person():
        # no-store, not no-cache: Back shows a page from the browser's history without asking
        # again unless it was never stored, so after log out it would still show the name.
        headers["Cache-Control"] = "private, no-store"
    return response


def made_for_a_logged_in_person() -> bool:
    """Whether this answer looked at who is logged in (the header, a download button) and found
    someone; files and pages that never asked are the same for everyone."""
    return bool(g.get("login_looked_up")) and current_user.is_authenticated


def is_account_request() -> bool:
    """An account page, or an error at an account URL that matched no route (404, 405)."""
    if request.url_rule is not None:
        return request.blueprint in ACCOUNT_BLUEPRINTS
    prefixes = (
        current_app.blueprints[name].url_prefix for name in ACCOUNT_BLUEPRINTS if name in current_app.blueprints
    )
    return any(
        request.path == prefix or request.path.startswith(prefix.rstrip("/") + "/") for prefix in prefixes if prefix
    )


def from_this_site() -> bool:
    """Whether the request was sent by one of this site's own pages (a click on its link, its
    own fetch), not by a link or form elsewhere. Sec-Fetch-Site, which a page cannot set, decides
    where the browser sends it; older browsers are judged by the Referer, which the
    Referrer-Policy above keeps for same-origin requests only."""
    fetch_site = request.headers.get("Sec-Fetch-Site")
    if fetch_site is not None:
        return fetch_site == "same-origin"
    try:
        referrer = urlsplit(request.referrer or "")
        return (referrer.scheme, referrer.netloc) == (request.scheme, request.host)
    except ValueError:  # an unreadable Referer ("http://[::1") says nothing
        return False
