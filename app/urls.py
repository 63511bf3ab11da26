"""Links the portal makes: absolute ones for mails, built from SERVER_NAME and
PREFERRED_URL_SCHEME, never from the Host header of the request that happens to cause the mail;
and a page's links to itself, built from its route, never copied from the request's path.

French pages live under ``/fr/`` (app/i18n.py, LanguagePrefix); ``in_language`` turns a path of
this site into the other language's."""

from __future__ import annotations

from collections.abc import Iterable
from urllib.parse import quote, urlencode, urlsplit

from flask import current_app, has_request_context, request, url_for
from werkzeug.exceptions import HTTPException
from werkzeug.routing import RequestRedirect

from .flows.redirects import safe_next

PREFIX = "/fr"  # the French pages' part of the site: /fr/stories/x is /stories/x in French
# One URL each, in no language's part of the site (404 under /fr/): files, downloads, feeds
# (their language is in their path), the sitemap, robots.txt and the health check.
NEUTRAL_ENDPOINTS = frozenset(
    {
        "static",
        "health.healthz",
        "media.preview",
        "media.poster",
        "media.captions_file",
        "media.download",
        "media.feed",
        "media.category_feed",
        "media.sitemap",
        "media.robots",
    }
)


FRENCH_KEY = "portal.french"  # the WSGI environ's mark on a request that came in under /fr/


def is_french_request() -> bool:
    return bool(request.environ.get(FRENCH_KEY))  # set by i18n.LanguagePrefix


def plain_root() -> str:
    """The application's own root, without /fr ("" when the portal is at the host's root)."""
    if has_request_context():
        root = request.script_root
        return root[: -len(PREFIX)] if is_french_request() else root
    return (current_app.config.get("APPLICATION_ROOT") or "/").rstrip("/")


def is_neutral_path(path: str) -> bool:
    """Whether an application path (no root, no /fr) is a neutral endpoint's."""
    try:
        endpoint, _ = current_app.url_map.bind("localhost").match(urlsplit(path).path, method="GET")
    except (HTTPException, RequestRedirect):
        return False
    return endpoint in NEUTRAL_ENDPOINTS


def in_language(path: str, code: str, root: str | None = None) -> str:
    """``path`` (a local path of this site, with its query) at ``code``'s URL: under /fr/ for
    French, unless it is a neutral endpoint's. The result starts with ``root`` (the request's
    own root by default)."""
    own = plain_root()
    rest = path[len(own) :] if own and (path == own or path.startswith(own + "/")) else path
    rest = rest or "/"
    if rest == PREFIX or rest.startswith((PREFIX + "/", PREFIX + "?")):
        rest = rest[len(PREFIX) :]
        rest = rest if rest.startswith("/") else "/" + rest
    if code == "fr" and not is_neutral_path(rest):
        rest = PREFIX + rest
    return (own if root is None else root) + rest


def external_url(endpoint: str | None, _language: str | None = None, _path: str | None = None, **values) -> str:
    """An absolute URL of ``endpoint`` at ``_language``'s URL (English by default): mails carry
    their recipient's. Or of ``_path``, a path below the application's root, taken as it is."""
    config = current_app.config
    if config.get("SERVER_NAME"):
        server, scheme, root = (
            config["SERVER_NAME"],
            config["PREFERRED_URL_SCHEME"],
            (config.get("APPLICATION_ROOT") or "/").rstrip("/"),
        )
    elif has_request_context():  # development and tests only: production requires SERVER_NAME (config.py)
        server, scheme, root = request.host, request.scheme, plain_root()
    else:
        server, scheme, root = config["DEVELOPMENT_SERVER"], "http", ""
    if _path is not None:
        return f"{scheme}://{server}{root}{_path}"
    assert endpoint is not None
    path = current_app.url_map.bind(server, script_name="/").build(endpoint, values)
    return f"{scheme}://{server}" + in_language(path, _language or "en", root=root)


def this_page(drop: Iterable[str] = (), **replace: str) -> str:
    """This page's path and query string, with the query arguments in ``replace`` set anew and
    those in ``drop`` left out: what the EN | FR switch and "the page to come back to" link to.

    The path is built from the route that answered. A request no route matched (a 404) has only
    the path it sent, which may be ``/\\evil.example`` (a browser reads it as //evil.example):
    it is kept only if it is a plain local path, else the link goes to the home page.
    """
    if request.url_rule is not None and request.endpoint:
        path = url_for(request.endpoint, **(request.view_args or {}))
    else:
        path = safe_next(request.script_root + quote(request.path), default=url_for("media.index"))
    args = [(key, value) for key, value in request.args.items(multi=True) if key not in replace and key not in drop]
    args += list(replace.items())
    return path + "?" + urlencode(args) if args else path
