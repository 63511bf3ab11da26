"""One place decides between a full page and a partial (an HTMX swap)."""
from __future__ import annotations

from flask import make_response, redirect, render_template, request
from jinja2_fragments.flask import render_block
from werkzeug.urls import iri_to_uri


def wants_partial() -> bool:
    """An HTMX request that is neither boosted nor a history restore gets just the block."""
    htmx = getattr(request, "htmx", None)
    return htmx is not None and bool(htmx) and not htmx.boosted and not htmx.history_restore_request


def render_step(template: str, *, block: str = "step", status: int = 200, **context):
    """Render ``block`` of ``template`` for HTMX, the whole page otherwise."""
    if wants_partial():
        body = render_block(template, block, partial=True, **context)
    else:
        body = render_template(template, partial=False, **context)
    response = make_response(body, status)
    response.vary.add("HX-Request")
    return response


def redirect_step(url: str):
    """Go on to the next step: HTMX follows a 303 itself and swaps the next step's block."""
    return redirect(url, 303)


def redirect_page(url: str):
    """Leave the dialog for a whole page (after log in, after an expired step)."""
    if wants_partial():
        response = make_response("", 200)
        # as redirect() does for Location: a header is ASCII, so "/é" goes as "/%C3%A9"
        response.headers["HX-Redirect"] = iri_to_uri(url)
        response.vary.add("HX-Request")
        return response
    return redirect(url, 303)
