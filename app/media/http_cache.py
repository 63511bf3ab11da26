"""HTTP caching of visitors' pages (issue #16).

A visitor who has no session (not logged in, no account step open, no message waiting: such a
page carries no CSRF token, see base.html) sees the same page as every other such visitor in
the same language. Those pages say ``Cache-Control: public`` so that browsers and a shared cache
(nginx ``proxy_cache``, a CDN) may keep them, with an ETag made from what the page depends on:
the catalogue's version (which moves on every change, and when a scheduled story's time comes,
app/media/cards.py), the language, the page asked for (path, query, HTMX partial or
whole), and the release (the templates, translations and operator pages this process started
with). A matching ``If-None-Match`` is answered 304 before the view runs: nothing is rendered.

Anyone with a session gets ``private`` pages and no ETag; account and staff pages and pages made
for a logged-in person keep the headers app/security.py gives them (``no-store``).
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from flask import current_app, g, make_response, request

from ..account_session import may_be_logged_in
from ..i18n import current_language, preference_decides
from ..rendering import wants_partial
from . import bp
from .cards import catalogue_version

# The pages whose content is the catalogue's, the language's and the release's only.
PUBLIC_PAGES = {
    "media.index",
    "media.story",
    "media.conditions",
    "media.privacy",
    "media.accessibility",
    "media.feed",
    "media.category_feed",
    "media.sitemap",
    "media.robots",
}


@bp.record_once
def _note_release(state) -> None:
    state.app.extensions["content_release"] = release_of(state.app)


def release_of(app) -> str:
    """The newest change among the files a page is made of, at start: a deploy (or an operator
    page edited, then a restart) gives every page a new ETag."""
    folders = [Path(app.root_path) / name for name in ("templates", "translations", "static")]
    folders.append(Path(app.instance_path) / "pages")
    newest = max(
        (
            path.stat().st_mtime_ns
            for folder in folders
            if folder.is_dir()
            for path in folder.rglob("*")
            if path.is_file()
        ),
        default=0,
    )
    return str(newest)


def for_visitors() -> bool:
    """Whether this request is one of a visitor's: a public page, read, with no session. A
    ``?lang=`` switch is not: its answer sets the visitor's language cookie (app/i18n.py)."""
    return (
        request.endpoint in PUBLIC_PAGES
        and request.method in ("GET", "HEAD")
        and "lang" not in request.args
        and not may_be_logged_in()
    )  # no user lookup for a visitor's request


def page_etag() -> str:
    partial = (wants_partial(), request.headers.get("HX-Target", ""))
    key = repr(
        (
            catalogue_version(),
            current_language(),
            request.script_root + request.full_path,
            partial,
            current_app.extensions["content_release"],
        )
    )
    return hashlib.blake2b(key.encode(), digest_size=12).hexdigest()


@bp.before_request
def answer_unchanged():
    if not for_visitors():
        return None
    g.public_etag = page_etag()
    if request.if_none_match.contains_weak(g.public_etag):
        return make_response("", 304)
    return None


@bp.after_request
def cache_headers(response):
    etag = g.get("public_etag")
    if etag is not None and response.status_code in (200, 304):
        config = current_app.config
        response.set_etag(etag)
        response.headers["Cache-Control"] = (
            f"public, max-age={config['PUBLIC_MAX_AGE_SECONDS']}, "
            f"stale-while-revalidate={config['PUBLIC_STALE_WHILE_REVALIDATE_SECONDS']}"
        )
        # The URL says the language (/fr/...), but "/" alone sends someone who prefers French to
        # /fr/ (app/i18n.py, language_redirects): the English "/" varies with their preference.
        # A session cookie makes any page private; a partial is another body.
        response.vary.update(("Cookie", "HX-Request", "HX-Target"))
        if preference_decides():
            response.vary.add("Accept-Language")
    elif request.endpoint in PUBLIC_PAGES and "Cache-Control" not in response.headers:
        response.headers["Cache-Control"] = "private, no-cache"  # carries this browser's CSRF token
    return response
