"""The baseline for benchmark 4: a bare Flask app with one route that returns a fixed HTML page.

    gunicorn -w 2 bench.bare_app:app      # BENCH_PAGE_BYTES=<n> sets the page size (20000)

No database, no templates, no sessions, no extensions: what Flask and gunicorn cost by
themselves for a page as big as the catalogue's first page.
"""

from __future__ import annotations

import os

from flask import Flask

CARD = (
    '<li class="card"><a class="card-link" href="/stories/story-{n}"><span class="card-body">'
    '<span class="card-meta"><time datetime="2025-05-15">15 May 2025</time> &middot; Brussels, Belgium</span>'
    '<span class="card-title">Allied ministers meet in Brussels {n}</span>'
    '<span class="card-summary">Ministers discussed deterrence, defence spending and support.</span>'
    "</span></a></li>\n"
)


def page(size: int) -> bytes:
    head = '<!doctype html>\n<html lang="en"><head><meta charset="utf-8"><title>Stories</title></head><body><ul>\n'
    tail = "</ul></body></html>\n"
    body, n = [head], 0
    while sum(map(len, body)) + len(tail) < size:
        n += 1
        body.append(CARD.format(n=n))
    text = "".join(body)[: max(size - len(tail), 0)] + tail
    return text.encode("utf-8")


app = Flask(__name__)
PAGE = page(int(os.environ.get("BENCH_PAGE_BYTES", "20000")))


@app.route("/")
def index():
    return PAGE, 200, {"Content-Type": "text/html; charset=utf-8"}


@app.route("/healthz")
def healthz():
    return {"status": "ok"}
