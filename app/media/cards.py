"""The catalogue's rendered result blocks (and whole pages for visitors), cached per catalogue version.

Rendering a page of cards (and the queries behind it) is most of what the catalogue costs, and
it is the same for every visitor: the cards carry no account, session or CSRF token (the page
around them does). A block is kept under the catalogue's
version (``CatalogueVersion``: any change to stories, videos, renditions, translations or
categories moves it on), the language, the block, full page or partial, and the query. A visitor
without a session (not logged in, no message waiting, no account step open) sees the same whole
page as any other such visitor, token-less (issue #16), so that page is cached too. Each process
keeps its own bounded LRU, so workers need no shared cache, and an entry of an old version is
one that nothing asks for any more.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from datetime import datetime
from typing import NamedTuple

from flask import current_app, g, has_app_context, make_response, request
from jinja2_fragments.flask import render_block
from markupsafe import Markup
from sqlalchemy import select

from ..account_session import may_be_logged_in
from ..extensions import db
from ..flows import catalogue, publishing
from ..i18n import current_language
from ..models import CatalogueVersion, catalogue_changed
from ..rendering import varies_with_htmx, wants_partial
from . import bp

TEMPLATE = "media/index.html"
VERSION = select(CatalogueVersion.version).where(CatalogueVersion.id == 1)


class CategoryChoice(NamedTuple):
    slug: str
    name: str


class LRU:
    def __init__(self, size: int):
        self.size, self.lock = size, threading.Lock()
        self.entries: OrderedDict[object, object] = OrderedDict()

    def get(self, key, make: Callable):
        with self.lock:
            if key in self.entries:
                self.entries.move_to_end(key)
                return self.entries[key]
        value = make()  # outside the lock: two threads may render the same block once each
        with self.lock:
            self.entries[key] = value
            while len(self.entries) > self.size:
                self.entries.popitem(last=False)
        return value


class CatalogueCache(LRU):
    """The LRU and the catalogue version its keys use. The version is read from the database at
    most every CATALOGUE_VERSION_RECHECK_SECONDS, and at once after this process changed the
    catalogue, so a change made elsewhere (an import run by another process) shows within that time.
    With it comes the next scheduled publication time: a story appears then with nothing written,
    so the keys also say whether that time has passed (``version_key``)."""

    def __init__(self, size: int, recheck_seconds: float):
        super().__init__(size)
        self.recheck_seconds, self.read_at = recheck_seconds, 0.0
        self.version: tuple[int | None, datetime | None] | None = None

    def current_version(self) -> tuple[int | None, datetime | None]:
        if self.version is None or time.monotonic() - self.read_at >= self.recheck_seconds:
            self.version = db.session.execute(VERSION).scalar(), publishing.next_publication()
            self.read_at = time.monotonic()
        return self.version

    def version_key(self) -> tuple:
        """(version, next publication time, whether it has passed): a new key once it has."""
        version, next_due = self.current_version()
        return version, next_due, next_due is not None and publishing.now() >= next_due

    def forget_version(self) -> None:
        self.version = None


@bp.record_once
def _create_cache(state) -> None:
    config = state.app.config
    state.app.extensions["catalogue_cache"] = CatalogueCache(
        config["CATALOGUE_CACHE_ENTRIES"], config["CATALOGUE_VERSION_RECHECK_SECONDS"]
    )
    catalogue_changed.connect(_forget_version)


def _forget_version(sender, **extra) -> None:
    cache = current_app.extensions.get("catalogue_cache") if has_app_context() else None
    if cache is not None:
        cache.forget_version()


def catalogue_version() -> tuple:
    """The catalogue's version key (``CatalogueCache.version_key``), one for the whole request
    however many blocks and headers ask for it."""
    if "catalogue_version" not in g:
        g.catalogue_version = current_app.extensions["catalogue_cache"].version_key()
    return g.catalogue_version


def _cached(key, make: Callable):
    cache = current_app.extensions["catalogue_cache"]
    if cache.size <= 0:
        return make()
    return cache.get((catalogue_version(), current_language(), *key), make)


def results_block(query: catalogue.CatalogueQuery, block: str, partial: bool) -> Markup:
    """``block`` ("results" or "more") of the catalogue template for ``query``, rendered."""
    per_page = current_app.config["CATALOGUE_PAGE_SIZE"]

    def render() -> Markup:
        page = catalogue.find_stories(query, per_page, count=block == "results")
        return Markup(render_block(TEMPLATE, block, page=page, query=query, partial=partial))

    key = ("block", block, partial, per_page, tuple(query.args().items()), tuple(query.errors.items()), query.text)
    return _cached(key, render)


def category_choices() -> list[CategoryChoice]:
    return _cached(("categories",), lambda: [CategoryChoice(c.slug, c.name) for c in catalogue.all_categories()])


def page_for_visitor(render: Callable):
    """``render()``'s page from the cache for a visitor who has no session (nothing in the middle
    of, no message waiting; such a page carries no CSRF token, see base.html) and asks for a whole
    page; anyone else gets ``render()`` itself."""
    if may_be_logged_in() or wants_partial():  # may_be_logged_in: without looking anyone up
        return render()

    def render_for_visitors() -> tuple[str, int]:
        response = render()
        return response.get_data(as_text=True), response.status_code

    body, status = _cached(("page", request.script_root + request.full_path), render_for_visitors)
    return varies_with_htmx(make_response(body, status))
