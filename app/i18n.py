"""English and French (Flask-Babel).

The language is chosen, in this order, by: a ``lang`` argument on the URL (what the EN | FR
switch links to; it is then remembered, see ``remember_switch``), the ``lang`` cookie, the account's language, and the
browser's Accept-Language. URLs are the same in both languages.
"""

from __future__ import annotations

from babel.numbers import parse_pattern
from flask import current_app, request
from flask_babel import format_date, format_decimal, get_locale, gettext
from flask_login import current_user

from .extensions import babel, db
from .security import from_this_site
from .urls import this_page

LANGUAGES = {"en": "English", "fr": "Français"}
# Formatting locales: British English writes "14 May 2025".
FORMAT_LOCALES = {"en": "en_GB", "fr": "fr"}
COOKIE = "lang"
DEFAULT = "en"


def _valid(code) -> str | None:
    return code if isinstance(code, str) and code in LANGUAGES else None


def select_language() -> str:
    if not request:
        return DEFAULT
    chosen = _valid(request.args.get("lang"))
    if chosen:
        return chosen
    remembered = _valid(request.cookies.get(COOKIE))
    if remembered:
        return remembered
    if current_user and current_user.is_authenticated and _valid(getattr(current_user, "language", None)):
        return current_user.language
    return request.accept_languages.best_match(list(LANGUAGES)) or DEFAULT


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


def remember_switch(response):
    """After a switch: remember it in a cookie and, for a logged-in person, on the account.

    A ``?lang=`` link from another site chooses the language of this browser only: what is
    stored on the account (and the language of its mails) changes only when the switch on one
    of this site's pages was used."""
    chosen = _valid(request.args.get("lang"))
    if chosen:
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


def switch_url(code: str) -> str:
    """This page (with its query) in another language."""
    return this_page(lang=code)


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
    app.after_request(remember_switch)

    @app.context_processor
    def language_context():
        return {
            "current_language": current_language(),
            "languages": LANGUAGES,
            "switch_url": switch_url,
            "locale": get_locale,
        }

    app.add_template_filter(long_date)
    app.add_template_filter(filesize)
    app.add_template_filter(category)
