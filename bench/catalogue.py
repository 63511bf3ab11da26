"""4. Requests per second of the catalogue's first page (10,000 stories) vs a bare Flask page.

Both run under the same gunicorn settings (``-w 2`` and gunicorn.conf.py) at the same time; the load
alternates between them in slices, so load from other programs falls on both alike. The client
is a few threads sending prebuilt requests on raw sockets (cheaper than http.client, so the
load generator takes as little CPU from the servers as it can).
"""

from __future__ import annotations

import re
import statistics
import threading
import time
from datetime import timedelta
from pathlib import Path

from harness import cpu
from harness.client import Browser, fetch, raw_request
from harness.servers import app_config, fresh_database

from .corpus import check_index_matches_app, index_all, load_stories

SEARCH_PATH = "/?q=baltic"
HTMX_SEARCH = {"HX-Request": "true", "HX-Target": "results", "HX-Current-URL": "http://127.0.0.1/"}


def build(template: Path, path: Path, count: int) -> dict:
    """A copy of the migrated template with ``count`` stories (categories, video, rendition each) indexed."""
    from app import create_app
    from app.extensions import db
    from app.models import utcnow

    fresh_database(template, path)
    started = time.perf_counter()
    app = create_app(app_config(f"sqlite:///{path}"))
    with app.app_context():
        with db.engine.begin() as connection:
            load_stories(connection, count, newest=utcnow() - timedelta(hours=1))
            index_all(connection)
        check_index_matches_app(db.session, 1)
        db.session.remove()
        db.engine.dispose()
    return {"stories": count, "build_seconds": round(time.perf_counter() - started, 1)}


def check_pages(url: str, page_size: int) -> dict:
    """The first page shows ``page_size`` cards and a "load more" link; the search partial is a fragment."""
    browser = Browser(url)
    full = browser.get("/")
    cards = full.text.count('<li class="card">')
    if full.status != 200 or cards != page_size or 'id="load-more"' not in full.text:
        raise RuntimeError(f"GET /: status {full.status}, {cards} cards (expected {page_size} and a load-more link)")
    partial = Browser(url).get(SEARCH_PATH, headers=HTMX_SEARCH)
    found = partial.text.count('<li class="card">')
    if partial.status != 200 or "<html" in partial.text or 'id="results"' not in partial.text or not found:
        raise RuntimeError(
            f"GET {SEARCH_PATH} (HTMX): status {partial.status}, {found} cards, "
            f"{'a whole page' if '<html' in partial.text else 'a fragment'}"
        )
    return {
        "page_bytes": len(full.body),
        "cards": cards,
        "search_partial_bytes": len(partial.body),
        "search_cards": found,
    }


def load(port: int, path: str, clients: int, seconds: float, headers: dict | None = None, server_cpu=None) -> dict:
    """``clients`` threads send GET ``path`` back to back for ``seconds``; responses finished in time count."""
    request = raw_request("127.0.0.1", port, path, headers)
    lock = threading.Lock()
    done: list[tuple[int, int, float]] = []  # (status, body bytes, latency)
    errors: list[str] = []
    client_before, machine_before = time.process_time(), cpu.snapshot()
    server_before = server_cpu() if server_cpu else 0.0
    started = time.perf_counter()
    deadline = started + seconds

    def client() -> None:
        buffer = bytearray(64 * 1024)
        mine, failed = [], []
        while True:
            sent = time.perf_counter()
            if sent >= deadline:
                break
            try:
                response = fetch("127.0.0.1", port, request, buffer, timeout=30)
            except OSError as exc:
                failed.append(f"{type(exc).__name__}: {exc}")
                continue
            finished = time.perf_counter()
            if finished <= deadline:
                mine.append((response.status, response.body_bytes, finished - sent))
        with lock:
            done.extend(mine)
            errors.extend(failed)

    threads = [threading.Thread(target=client, name=f"catalogue-client-{i}") for i in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(seconds + 60)
    elapsed = time.perf_counter() - started
    client_cpu = time.process_time() - client_before
    server_used = (server_cpu() - server_before) if server_cpu else None
    machine = cpu.busy_cpus(machine_before, cpu.snapshot())
    if machine and server_used is not None:
        machine["other_cpus"] = round(max(machine["busy_cpus"] - (server_used + client_cpu) / machine["seconds"], 0), 2)
    ok = [d for d in done if d[0] == 200]
    latencies = sorted(d[2] for d in ok)
    return {
        "seconds": seconds,
        "requests": len(ok),
        "per_second": len(ok) / seconds,
        "non_200": len(done) - len(ok),
        "errors": len(errors),
        "first_error": errors[0] if errors else None,
        "body_bytes": int(statistics.median(d[1] for d in ok)) if ok else 0,
        "latency_median_ms": round(statistics.median(latencies) * 1000, 1) if latencies else None,
        "latency_p95_ms": round(latencies[int(0.95 * (len(latencies) - 1))] * 1000, 1) if latencies else None,
        "client_cpu": round(client_cpu / max(elapsed, 1e-9), 2),
        "server_cpu_seconds": server_used,
        "machine": machine,
    }


def combine(slices: list[dict]) -> dict:
    seconds = sum(s["seconds"] for s in slices)
    requests = sum(s["requests"] for s in slices)
    server = [s["server_cpu_seconds"] for s in slices if s["server_cpu_seconds"] is not None]
    others = [s["machine"]["other_cpus"] for s in slices if s["machine"] and "other_cpus" in s["machine"]]
    return {
        "seconds": seconds,
        "requests": requests,
        "per_second": requests / seconds if seconds else 0.0,
        "slices_per_second": [round(s["per_second"], 1) for s in slices],
        "non_200": sum(s["non_200"] for s in slices),
        "errors": sum(s["errors"] for s in slices),
        "first_error": next((s["first_error"] for s in slices if s["first_error"]), None),
        "body_bytes": slices[-1]["body_bytes"],
        "latency_median_ms": statistics.median(
            s["latency_median_ms"] for s in slices if s["latency_median_ms"] is not None
        )
        if any(s["latency_median_ms"] is not None for s in slices)
        else None,
        "latency_p95_ms": max((s["latency_p95_ms"] for s in slices if s["latency_p95_ms"] is not None), default=None),
        "server_cpu_ms_per_request": round(sum(server) * 1000 / requests, 2) if server and requests else None,
        "client_cpu": round(statistics.mean(s["client_cpu"] for s in slices), 2),
        "other_cpus": round(max(others), 2) if others else None,
    }


def story_path(url: str) -> str:
    """The first story the catalogue's first page links to."""
    found = re.search(r'href="(/stories/[^"?]+)"', Browser(url).get("/").text)
    if found is None:
        raise RuntimeError("GET /: no story link")
    return found.group(1)


def measure(
    app_server,
    bare_server,
    *,
    clients: int,
    seconds: float,
    slices: int,
    search_seconds: float,
    visitor_pages: dict[str, str] | None = None,
    progress=print,
) -> dict:
    """Alternating slices of load on the bare app, the catalogue and ``visitor_pages`` (name: path,
    each request a new visitor: no cookie), then the search partial."""
    visitor_pages = visitor_pages or {}
    warm = [(bare_server, "/", None), (app_server, "/", None), (app_server, SEARCH_PATH, HTMX_SEARCH)]
    for server, path, headers in warm + [(app_server, path, None) for path in visitor_pages.values()]:
        load(server.port, path, clients, 1.0, headers)  # warm-up: every worker renders the page a few times
    bare, app, pages = [], [], {name: [] for name in visitor_pages}
    for i in range(slices):
        progress(
            f"4/7 slice {i + 1}/{slices}: bare Flask {seconds / slices:.1f} s, catalogue {seconds / slices:.1f} s"
            f" ({clients} clients)"
        )
        bare.append(load(bare_server.port, "/", clients, seconds / slices, server_cpu=bare_server.workers_cpu_seconds))
        app.append(load(app_server.port, "/", clients, seconds / slices, server_cpu=app_server.workers_cpu_seconds))
        for name, path in visitor_pages.items():
            pages[name].append(
                load(app_server.port, path, clients, seconds / slices, server_cpu=app_server.workers_cpu_seconds)
            )
    progress(f"4/7 HTMX search partial {SEARCH_PATH} for {search_seconds:g} s")
    search = load(
        app_server.port, SEARCH_PATH, clients, search_seconds, HTMX_SEARCH, server_cpu=app_server.workers_cpu_seconds
    )
    return {
        "bare": combine(bare),
        "app": combine(app),
        "search": combine([search]),
        "visitor_pages": {name: {**combine(runs), "path": visitor_pages[name]} for name, runs in pages.items()},
    }
