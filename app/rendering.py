"""One place decides between a full page and a partial (an HTMX swap)."""

from __future__ import annotations

from flask import make_response, redirect, render_template, request
from jinja2_fragments.flask import render_block
from werkzeug.urls import iri_to_uri


def wants_partial() -> bool:
    """An HTMX request that is neither boosted nor a history restore gets just the block."""
    htmx = getattr(request, "htmx", None)
    return htmx is not None and bool(htmx) and not htmx.boosted and not htmx.history_restore_request


def varies_with_htmx(response):
    """An answer that differs for an HTMX request (a partial) and a page: caches must keep both."""
    response.vary.add("HX-Request")
    return response


def form_status(form) -> int:
    """The status of a page that shows a form: 422 when it was sent and refused (HTMX swaps it
    into place all the same, tests and tools see the refusal), 200 otherwise."""
    return 422 if form is not None and form.errors else 200


def render_step(template: str, *, block: str = "step", status: int = 200, **context):
    """Render ``block`` of ``template`` for HTMX, the whole page otherwise."""
    if wants_partial():
        body = render_block(template, block, partial=True, **context)
    else:
        body = render_template(template, partial=False, **context)
    return varies_with_htmx(make_response(body, status))


def render_in_place(template: str, *, page_url: str, **context):
    """A fragment that answers its own button: HTMX swaps it in place; without JavaScript the page
    it sits on comes back (a 303 to ``page_url``, so a reload sends nothing twice)."""
    if wants_partial():
        return varies_with_htmx(make_response(render_template(template, **context)))
    return varies_with_htmx(redirect(page_url, 303))


def redirect_step(url: str):
    """Go on to the next step: HTMX follows a 303 itself and swaps the next step's block."""
    return redirect(url, 303)


def redirect_page(url: str):
    """Leave the dialog for a whole page (after log in, after an expired step)."""
    if wants_partial():
        response = make_response("", 200)
        # as redirect() does for Location: a header is ASCII, so "/é" goes as "/%C3%A9"
        response.headers["HX-Redirect"] = iri_to_uri(url)
        return varies_with_htmx(response)
    return redirect(url, 303)
