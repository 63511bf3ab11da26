"""English and French (Flask-Babel), each at its own URLs (issue #16).

The URL decides a page's language: under ``/fr/`` French, elsewhere English, for visitors and
logged-in people alike, so that a shared cache keyed on the URL never gives one language's page
to the other (docs/portal.md, Languages). ``LanguagePrefix`` moves ``/fr`` into SCRIPT_NAME, so
the routes stay the same and ``url_for`` inside a French request builds French URLs by itself;
``NEUTRAL_ENDPOINTS`` (files, feeds, health) keep one URL, outside ``/fr/``.

A preference still exists, for ``/`` alone: the ``lang`` cookie (set by the EN | FR switch, whose
links carry ``?lang=``, answered by a redirect, see ``language_redirects``), else the account's
language, else the browser's Accept-Language.
"""

from __future__ import annotations

from urllib.parse import urlencode, urlsplit, urlunsplit

from babel.numbers import parse_pattern
from flask import Flask, abort, current_app, has_request_context, redirect, request
from flask_babel import format_date, format_decimal, get_locale, gettext
from flask_login import current_user

from .account_session import may_be_logged_in
from .extensions import babel, db
from .flows.redirects import safe_next
from .security import from_this_site
from .urls import FRENCH_KEY, NEUTRAL_ENDPOINTS, PREFIX, external_url, in_language, is_french_request, this_page

LANGUAGES = {"en": "English", "fr": "Français"}
# Formatting locales: British English writes "14 May 2025".
FORMAT_LOCALES = {"en": "en_GB", "fr": "fr"}
COOKIE = "lang"
DEFAULT = "en"


def _valid(code) -> str | None:
    return code if isinstance(code, str) and code in LANGUAGES else None


class LanguagePrefix:
    """WSGI middleware: ``/fr/...`` is the page ``/...`` in French. ``/fr`` joins SCRIPT_NAME (so
    ``url_for`` keeps it in every link the page makes) and the request is marked French."""

    def __init__(self, app):
        self.app = app

    def __call__(self, environ, start_response):
        path = environ.get("PATH_INFO") or ""
        if path == PREFIX or path.startswith(PREFIX + "/"):
            environ["SCRIPT_NAME"] = environ.get("SCRIPT_NAME", "") + PREFIX
            environ["PATH_INFO"] = path[len(PREFIX) :] or "/"
            environ[FRENCH_KEY] = True
        return self.app(environ, start_response)


class Portal(Flask):
    """Flask, with the language-neutral endpoints (files, feeds, health) built outside ``/fr/``
    even from a French page: they have one URL, in no language's part of the site."""

    def url_for(self, endpoint: str, *args, **values) -> str:
        url = super().url_for(endpoint, *args, **values)
        if not (has_request_context() and is_french_request()):
            return url
        if endpoint[:1] == ".":
            endpoint = f"{request.blueprint}{endpoint}" if request.blueprint else endpoint[1:]
        if endpoint not in NEUTRAL_ENDPOINTS:
            return url
        parts = urlsplit(url)  # relative or absolute: only the path loses its /fr
        return urlunsplit(parts._replace(path=in_language(parts.path, "en")))


def url_language() -> str:
    """The language the URL says: French under /fr/, English elsewhere."""
    return "fr" if is_french_request() else DEFAULT


def preferred_language() -> str:
    """Where ``/`` sends someone: the ``lang`` cookie, the account's language, Accept-Language."""
    remembered = _valid(request.cookies.get(COOKIE))
    if remembered:
        return remembered
    if may_be_logged_in() and current_user.is_authenticated and _valid(getattr(current_user, "language", None)):
        return current_user.language
    return request.accept_languages.best_match(list(LANGUAGES)) or DEFAULT


def select_language() -> str:
    return url_language() if has_request_context() else DEFAULT


def select_locale() -> str:
    return FORMAT_LOCALES[select_language()]


def current_language() -> str:
    """ "en" or "fr": the request's language, or the one a mail is being written in."""
    locale = get_locale()
    language = locale.language if locale is not None else DEFAULT
    return language if language in LANGUAGES else DEFAULT


def mail_locale(language: str | None) -> str:
    return FORMAT_LOCALES.get(language or "", FORMAT_LOCALES[current_language()])


def localized(value, language: str | None = None):
    """A setting that may differ by language: a plain value, or {"en": ..., "fr": ...}."""
    if isinstance(value, dict):
        return value.get(language or current_language()) or value.get(DEFAULT) or next(iter(value.values()))
    return value


def remember_switch(response, chosen: str):
    """After a switch: remember it in a cookie and, for a logged-in person, on the account.

    A ``?lang=`` link from another site chooses the language of this browser only: what is
    stored on the account (and the language of its mails) changes only when the switch on one
    of this site's pages was used."""
    response.set_cookie(
        COOKIE,
        chosen,
        max_age=365 * 24 * 3600,
        samesite="Lax",
        httponly=True,
        secure=current_app.config["SESSION_COOKIE_SECURE"],
    )
    if current_user.is_authenticated and current_user.language != chosen and from_this_site():
        current_user.language = chosen
        db.session.commit()
    return response


def language_redirects():
    """``?lang=xx`` (the EN | FR switch): 301 to this page at that language's URL, remembered.
    ``/`` alone: 302 to ``/fr/`` for someone who prefers French; an English preference gets the
    page itself. Neutral endpoints (files, feeds) have no French URL: 404 under /fr/."""
    if is_french_request() and request.endpoint in NEUTRAL_ENDPOINTS:
        abort(404)
    if request.method not in ("GET", "HEAD"):
        return None
    chosen = _valid(request.args.get("lang"))
    if chosen:
        response = redirect(in_language(this_page(drop=("lang",)), chosen), 301)
        response.headers["Cache-Control"] = "no-store"
        return remember_switch(response, chosen)
    if preference_decides():
        preferred = preferred_language()
        if preferred != DEFAULT:
            response = redirect(in_language(this_page(), preferred), 302)
            response.headers["Cache-Control"] = "private"
            response.vary.update(("Cookie", "Accept-Language"))
            return response
    return None


def preference_decides() -> bool:
    """``/`` alone, the one URL whose answer depends on the preference (English page or 302)."""
    return request.endpoint == "media.index" and not is_french_request() and not request.query_string


def page_in(code: str, root: str | None = None, **replace: str) -> str:
    """This page (with its query, ``replace`` set anew, ``lang`` left out) at ``code``'s URL; the
    page to come back to (``next``, on an account step) goes to ``code``'s URL too."""
    args = []
    for key, value in request.args.items(multi=True):
        if key == "lang" or key in replace:
            continue
        if key == "next" and safe_next(value, default="") == value:
            value = in_language(value, code)
        args.append((key, value))
    args += list(replace.items())
    path = in_language(this_page(drop=request.args.keys()), code, root=root)  # from the route, never the raw path
    return path + "?" + urlencode(args) if args else path


def switch_url(code: str) -> str:
    """The EN | FR switch: ``lang=`` makes the click remembered (the redirect that answers it,
    ``language_redirects``)."""
    return page_in(code, lang=code)


def alternate_url(code: str) -> str:
    """This page at ``code``'s URL, absolute: ``<link rel="alternate" hreflang>``."""
    return external_url(None, _path=page_in(code, root=""))


def step_url(code: str) -> str:
    """An account step at ``code``'s URL (app/static/js/portal.js, the dialog's own EN | FR)."""
    return page_in(code)


def long_date(moment) -> str:
    return format_date(moment, "long") if moment else ""


SIZE_PATTERN = parse_pattern("#,##0.#")  # parsed once: a statistics page formats hundreds of sizes


def filesize(size: int) -> str:
    """1.2 GB / 1,2 Go: decimal units, the number and unit never broken apart."""
    units = ("bytes", "KB", "MB", "GB", "TB") if current_language() == "en" else ("octets", "ko", "Mo", "Go", "To")
    value = float(size or 0)
    for index, unit in enumerate(units):
        if value < 1000 or index == len(units) - 1:
            number = str(int(value)) if index == 0 else format_decimal(round(value, 1), format=SIZE_PATTERN)
            return f"{number}\u00a0{unit}"
        value /= 1000
    raise AssertionError("unreachable")


def category(name: str) -> str:
    return gettext(name) if name else ""


def init_app(app) -> None:
    babel.init_app(
        app, locale_selector=select_locale, default_translation_directories="translations", default_domain="messages"
    )
    app.before_request(language_redirects)

    @app.context_processor
    def language_context():
        return {
            "current_language": current_language(),
            "languages": LANGUAGES,
            "switch_url": switch_url,
            "alternate_url": alternate_url,
            "step_url": step_url,
            "locale": get_locale,
        }

    app.add_template_filter(long_date)
    app.add_template_filter(filesize)
    app.add_template_filter(category)
