"""Error pages that know about HTMX.

A failed POST from a dialog step or an account-page form keeps the form as typed: the message is
swapped into the form's alert area (``#step-alert``, ``#account-profile-alert``, ...) instead of
replacing the form. Everything else gets a readable page
(or, for HTMX, the same page's block). Nothing here shows a stack trace.
"""

from __future__ import annotations

import logging

from flask import g, request, url_for
from flask_babel import lazy_gettext as _l
from flask_limiter.errors import RateLimitExceeded
from flask_wtf.csrf import CSRFError
from sqlalchemy.exc import SQLAlchemyError
from werkzeug.exceptions import HTTPException, InternalServerError

from .database import database_error_text, database_unavailable
from .extensions import db, login_manager
from .rendering import redirect_page, render_step, wants_partial

log = logging.getLogger(__name__)

MESSAGES = {
    400: (_l("Something in that request could not be read"), _l("Please go back, check what you typed and try again.")),
    404: (
        _l("Page not found"),
        _l("There is no page at this address. It may have moved, or the link may be mistyped."),
    ),
    405: (
        _l("That did not work"),
        _l("This page cannot be used that way. Please start again from the page you were on."),
    ),
    413: (
        _l("That was too much"),
        _l("What you sent was larger than this form accepts. Please shorten it and try again."),
    ),
    429: (_l("Please wait a moment"), _l("Too many attempts in a short time. Please wait a minute, then try again.")),
    500: (_l("Something went wrong on our side"), _l("The problem has been logged. Please try again in a moment.")),
    503: (
        _l("The portal is busy"),
        _l("The portal could not reach its database just now. Please try again in a few seconds."),
    ),
}
CSRF_MESSAGE = (_l("This form has expired"), _l("For your security, please reload the page and try again."))


def init_app(app) -> None:
    app.register_error_handler(CSRFError, _csrf_failed)
    app.register_error_handler(RateLimitExceeded, lambda e: error_response(429))
    app.register_error_handler(SQLAlchemyError, _database_error)
    app.register_error_handler(HTTPException, _http_error)
    app.register_error_handler(Exception, _unexpected)
    login_manager.unauthorized_handler(_login_required)


# Where an HTMX form's error goes, by what the form swaps (its HX-Target): into the form's own
# alert area, so the form keeps what was typed. Other targets get the error page's block.
ALERT_AREAS = {
    "account-step": "#step-alert",
    **{
        f"account-{part}": f"#account-{part}-alert" for part in ("profile", "newsletter", "email", "password", "delete")
    },
}


def error_response(status: int, title=None, message=None):
    """``title`` and ``message``: (lazy) translated strings; the status's own by default."""
    default_title, default_message = MESSAGES.get(status, MESSAGES[400] if status < 500 else MESSAGES[500])
    title, message = title or default_title, message or default_message
    alert_area = ALERT_AREAS.get(request.headers.get("HX-Target", ""))
    if wants_partial() and alert_area:
        response = render_step("errors/error.html", block="alert", status=status, title=title, message=message)
        response.headers["HX-Retarget"] = alert_area
        response.headers["HX-Reswap"] = "innerHTML"
        return response
    return render_step("errors/error.html", status=status, title=title, message=message)


def _csrf_failed(exc):
    # A non-empty body that yielded no fields at all was unreadable (e.g. raw non-UTF-8 bytes),
    # not an expired form: say so.
    if request.content_length and not request.form and not request.files:
        return error_response(400)
    return error_response(400, *CSRF_MESSAGE)


def _http_error(exc: HTTPException):
    # Flask wraps what failed outside a view (in an after_request function, in an error handler) in a 500.
    if isinstance(exc, InternalServerError) and database_unavailable(exc.original_exception):
        return _database_unavailable(exc.original_exception)
    response = error_response(exc.code or 500)
    # keep what the error itself says in headers: Content-Range on 416, Allow on 405, ...
    for key, value in exc.get_headers():
        if key.lower() != "content-type":
            response.headers[key] = value
    return response


def _database_error(exc: SQLAlchemyError):
    return _database_unavailable(exc) if database_unavailable(exc) else _unexpected(exc)


def _database_unavailable(exc):
    db.session.rollback()
    # The page must not need the database: who is logged in cannot be looked up now, so it is
    # shown as to a visitor (Flask-Login keeps the request's user in g._login_user).
    g._login_user = login_manager.anonymous_user()
    log.warning("Database unavailable: %s", database_error_text(exc))
    response = error_response(503)
    response.headers["Retry-After"] = "5"
    return response


def _unexpected(exc):
    if isinstance(exc, HTTPException):
        return _http_error(exc)
    db.session.rollback()
    log.exception("Unhandled error on %s %s", request.method, request.path)
    return error_response(500)


def _login_required():
    return redirect_page(url_for("account.login", next=(request.script_root + request.full_path).rstrip("?")))
