"""Parts ``nginx`` and ``summit``: the portal behind nginx with the README's ``proxy_cache`` settings.

- ``measure_cache``: a story page answered from nginx's cache vs the same bytes as a static file
  from the same nginx, in alternating slices, by the same keep-alive client (bench/aio.py).
- ``summit``: 2,000 visitors (story and catalogue pages, think time between requests), 50
  logged-in people downloading demo renditions (through the app, handed to nginx with
  X-Accel-Redirect) and 20 people registering (dialog, code read from the outbox), all at once.

The set-up is the README's deployment on one machine: ``flask db upgrade`` and ``flask media demo``
on SQLite, or on a new PostgreSQL database beside TEST_DATABASE_URL's; gunicorn with
gunicorn.conf.py; nginx with the README's server block (``limit_conn perip`` left out: every
client here is 127.0.0.1) plus an ``X-Cache-Status`` header to count cache hits.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import http.client
import os
import random
import re
import secrets
import statistics
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from harness import cpu
from harness.client import HTMX, Browser, fetch, raw_request, registration
from harness.load import Download, demo_downloads, engine_url, scan_log
from harness.servers import CODE_RE, Gunicorn, Nginx, app_env, child_pids, flask

from . import aio

CACHE_ZONE = (
    "proxy_cache_path {directory}/cache levels=1:2 keys_zone=portal:10m max_size=1g inactive=10m use_temp_path=off;"
)
# The README's server block (section "Deployment"), paths and ports filled in.
SERVER = """
        client_max_body_size 1m;
        client_header_timeout 10s;
        client_body_timeout 10s;
        send_timeout 30s;

        location /protected-media/ {{
            internal;
            alias {media}/;
            add_header Cache-Control "private, no-store";
        }}

        location / {{
            proxy_pass http://127.0.0.1:{port};
            proxy_read_timeout 60s;
            proxy_set_header Host $host;
            proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
            proxy_set_header X-Forwarded-Proto $scheme;
            proxy_cache portal;
            proxy_cache_key $scheme$host$request_uri;
            proxy_cache_bypass $cookie_session $cookie_remember_token;
            proxy_no_cache $cookie_session $cookie_remember_token;
            proxy_cache_revalidate on;
            proxy_cache_lock on;
            proxy_cache_use_stale error timeout updating http_500 http_502 http_503 http_504;
            proxy_cache_background_update on;
            add_header X-Cache-Status $upstream_cache_status always;
        }}
{extra}"""
STATIC_COPY = "/static-copy/story.html"
VISITOR = {"Accept-Language": "en"}  # what bench/aio.py sends (the page varies on it)


@dataclass
class Front:
    app: Gunicorn
    nginx: Nginx
    database_url: str
    media: Path


@contextlib.contextmanager
def database(workdir: Path):
    """(URL, label): a new PostgreSQL database beside TEST_DATABASE_URL's (dropped on exit), else SQLite."""
    base = os.environ.get("TEST_DATABASE_URL")
    if not base:
        yield f"sqlite:///{workdir / 'summit.db'}", "sqlite"
        return
    from .search import PostgresDatabase

    pg = PostgresDatabase(base)
    pg.name = f"bench_summit_{secrets.token_hex(4)}"
    pg.url = pg.base.set(database=pg.name).render_as_string(hide_password=False)
    with pg:
        yield pg.url, "postgresql"


@contextlib.contextmanager
def front(workdir: Path, database_url: str, *, workers: int = 2, worker_connections: int = 1024, extra: str = ""):
    """Migrated demo catalogue, gunicorn and nginx in front, stopped on exit."""
    workdir.mkdir(parents=True, exist_ok=True)
    media = workdir / "media"
    env = app_env(
        workdir / "unused.db",
        SQLALCHEMY_DATABASE_URI=database_url,
        MEDIA_ROOT=media,
        MAIL_DISPATCH="worker",
        DOWNLOAD_ACCEL="nginx",
        TRUSTED_PROXIES=1,
    )
    flask(env, "db", "upgrade")
    flask(env, "media", "demo")
    with Gunicorn(env, workdir / "gunicorn.log", workers) as app_server:
        server = SERVER.format(media=media, port=app_server.port, extra=extra)
        with Nginx(
            workdir / "nginx",
            server,
            http=CACHE_ZONE.format(directory=workdir / "nginx"),
            worker_connections=worker_connections,
        ) as nginx:
            yield Front(app_server, nginx, database_url, media)


def process_cpu(pids: list[int]) -> float:
    total = 0
    for pid in pids:
        with contextlib.suppress(OSError):
            fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
            total += int(fields[11]) + int(fields[12])
    return total / os.sysconf("SC_CLK_TCK")


def nginx_cpu(nginx: Nginx) -> float:
    return process_cpu([nginx.process.pid, *child_pids(nginx.process.pid)])


class LoadAverage:
    """os.getloadavg() every few seconds while in the ``with`` block (the machine is shared)."""

    def __init__(self, every: float = 5.0):
        self.every, self.samples, self._stop = every, [os.getloadavg()[0]], threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.wait(self.every):
            self.samples.append(os.getloadavg()[0])

    def __enter__(self) -> LoadAverage:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()
        self.samples.append(os.getloadavg()[0])

    def summary(self) -> dict:
        return {
            "load_1min_min": round(min(self.samples), 2),
            "load_1min_max": round(max(self.samples), 2),
            "load_1min_mean": round(statistics.mean(self.samples), 2),
        }


# --- part nginx: the cached story page vs the same bytes as a static file ----------------------


def measure_cache(
    workdir: Path,
    database_url: str,
    *,
    connections: int,
    seconds: float,
    slices: int,
    processes: int,
    workers: int = 2,
    progress=print,
) -> dict:
    static = workdir / "static-copy" / "story.html"
    extra = f'        location = {STATIC_COPY} {{ alias {static}; default_type "text/html; charset=utf-8"; }}\n'
    with front(workdir, database_url, workers=workers, extra=extra) as f:
        path = story_paths(f.nginx.url)[0]
        for _ in range(20):  # until nginx answers from its cache
            page = Browser(f.nginx.url).get(path, headers=VISITOR)
            if page.status == 200 and page.header("X-Cache-Status") == "HIT":
                break
            time.sleep(0.2)
        else:
            raise RuntimeError(f"GET {path} through nginx: never a cache HIT ({page.header('X-Cache-Status')})")
        if page.header("Set-Cookie"):
            raise RuntimeError(f"GET {path}: a visitor's cached page sets a cookie")
        static.parent.mkdir(parents=True, exist_ok=True)
        static.write_bytes(page.body)
        setups = {
            "static": aio.request_bytes(f.nginx.port, STATIC_COPY, VISITOR),
            "cached": aio.request_bytes(f.nginx.port, path, VISITOR),
        }
        runs = {label: [] for label in setups}
        pool = aio.pool(processes)
        try:
            with LoadAverage() as load_average:
                for label, request in setups.items():  # warm-up: the processes, the cache, the file
                    aio.in_processes(processes, f.nginx.port, [(label, request)], connections, 1.0, pool=pool)
                for i in range(slices):
                    progress(
                        f"nginx slice {i + 1}/{slices}: static file, then cached story page,"
                        f" {seconds / slices:.1f} s each ({connections} keep-alive connections)"
                    )
                    for label, request in setups.items():
                        runs[label].append(one_slice(f, pool, processes, label, request, connections, seconds / slices))
        finally:
            pool.shutdown()
    out = {label: combine(r) for label, r in runs.items()}
    out.update(
        path=path,
        body_bytes=len(page.body),
        connections=connections,
        processes=processes,
        workers=workers,
        slices=slices,
        **load_average.summary(),
    )
    out["ratio"] = out["cached"]["per_second"] / out["static"]["per_second"] if out["static"]["per_second"] else 0.0
    cpu_static, cpu_cached = out["static"]["nginx_cpu_us_per_request"], out["cached"]["nginx_cpu_us_per_request"]
    out["cpu_ratio"] = cpu_static / cpu_cached if cpu_static and cpu_cached else None  # steadier under other load
    return out


def one_slice(f: Front, pool, processes: int, label: str, request: bytes, connections: int, seconds: float) -> dict:
    nginx_before, app_before, machine_before = nginx_cpu(f.nginx), f.app.workers_cpu_seconds(), cpu.snapshot()
    run = aio.in_processes(processes, f.nginx.port, [(label, request)], connections, seconds, pool=pool, delay=0.3)
    machine = cpu.busy_cpus(machine_before, cpu.snapshot()) or {}
    return {
        **run,
        "nginx_cpu": nginx_cpu(f.nginx) - nginx_before,
        "app_cpu": f.app.workers_cpu_seconds() - app_before,
        "busy_cpus": machine.get("busy_cpus"),
    }


def combine(slices: list[dict]) -> dict:
    seconds = sum(s["seconds"] for s in slices)
    answered = sum(s["in_time"] for s in slices)
    latencies = [v for s in slices for values in s["latencies"].values() for v in values]
    statuses, cache = {}, {}
    for s in slices:
        for key, target in (("statuses", statuses), ("cache", cache)):
            for name, n in s[key].items():
                target[name] = target.get(name, 0) + n
    return {
        "seconds": round(seconds, 1),
        "requests": answered,
        "per_second": answered / seconds,
        "slices_per_second": [round(s["in_time"] / s["seconds"]) for s in slices],
        "statuses": statuses,
        "cache": cache,
        "errors": sum(len(s["errors"]) for s in slices),
        "first_error": next((s["errors"][0] for s in slices if s["errors"]), None),
        "body_bytes": sum(s["bytes"] for s in slices) // max(len(latencies), 1),
        "latency_p50_ms": aio.percentile_ms(latencies, 0.5),
        "latency_p99_ms": aio.percentile_ms(latencies, 0.99),
        "client_cpus": round(sum(s["cpu_seconds"] for s in slices) / seconds, 2),
        "nginx_cpu_us_per_request": round(sum(s["nginx_cpu"] for s in slices) * 1e6 / answered, 1)
        if answered
        else None,
        "app_cpu_seconds": round(sum(s["app_cpu"] for s in slices), 2),
        "busy_cpus": max((s["busy_cpus"] or 0) for s in slices),
    }


def story_paths(base_url: str) -> list[str]:
    """Every story the catalogue's first page links to, in its order."""
    page = Browser(base_url).get("/", headers=VISITOR).text
    found = list(dict.fromkeys(re.findall(r'href="(/stories/[^"?#]+)"', page)))
    if not found:
        raise RuntimeError("GET /: no story link")
    return found


# --- part summit ---------------------------------------------------------------------------------


class Outbox:
    """The code mails in the outbox (MAIL_DISPATCH=worker and no worker: they stay there, readable)."""

    def __init__(self, database_url: str):
        import sqlalchemy

        self.engine = sqlalchemy.create_engine(engine_url(database_url), pool_size=5)
        self.query = sqlalchemy.text("SELECT body_text FROM outbox WHERE recipient = :a ORDER BY id DESC")

    def code(self, address: str, timeout: float = 30.0) -> str:
        deadline = time.monotonic() + timeout
        while True:
            with self.engine.connect() as connection:
                for (body,) in connection.execute(self.query, {"a": address}):
                    match = CODE_RE.search(body or "")
                    if match:
                        return match.group(1)
            if time.monotonic() > deadline:
                raise RuntimeError(f"no code mail for {address} within {timeout:g} s")
            time.sleep(0.2)


def register(base_url: str, outbox: Outbox, address: str, pause=lambda: None, steps: list | None = None) -> Browser:
    """The dialog's registration: the page, the HTMX POST, the code page, the code from the outbox,
    the HTMX POST of the code, the welcome step. ``pause()`` between steps (a person reading and
    typing); each step's (name, seconds) appended to ``steps``. Returns the logged-in browser."""
    browser = Browser(base_url, timeout=aio.TIMEOUT)

    def step(name: str, call, expect: int):
        started = time.perf_counter()
        response = call()
        if steps is not None:
            steps.append((name, time.perf_counter() - started))
        if response.status != expect:
            raise RuntimeError(f"{name}: status {response.status}, expected {expect}")
        return response

    page = step("register page", lambda: browser.get("/account/register"), 200)
    token = re.search(r'"X-CSRFToken": "([^"]+)"', page.text)
    if not token:
        raise RuntimeError("register page: no CSRF token")
    htmx = {**HTMX, "X-CSRFToken": token.group(1), "HX-Current-URL": f"{base_url}/account/register"}
    pause()
    form = {**registration(address, next_url="/"), "csrf_token": token.group(1)}
    step("register", lambda: browser.post("/account/register", form, headers=htmx), 303)
    step("code page", lambda: browser.get("/account/verify", headers=htmx), 200)
    code = outbox.code(address)
    pause()
    step(
        "verify",
        lambda: browser.post("/account/verify", {"code": code, "csrf_token": token.group(1)}, headers=htmx),
        303,
    )
    step("welcome", lambda: browser.get("/account/welcome", headers=htmx), 200)
    return browser


def downloader(
    port: int,
    cookie: str,
    downloads: list[Download],
    start: float,
    until: float,
    think,
    seed: int,
    out: dict,
    lock: threading.Lock,
) -> None:
    """A logged-in person: GET /download/<id> of a random demo rendition (every third one a Range
    request for its second half, as a resumed download), read to the end, think, again."""
    rng, buffer = random.Random(seed), bytearray(256 * 1024)
    mine = {"times": [], "bytes": 0, "errors": [], "ranges": 0, "in_time": 0, "count_in_time": 0}
    time.sleep(max(start - time.time(), 0) + rng.uniform(0, max(think[1], 1.0)))
    n = 0
    while time.time() < until:
        n += 1
        item = rng.choice(downloads)
        ranged = n % 3 == 0
        headers = {"Cookie": cookie, **({"Range": f"bytes={item.bytes // 2}-"} if ranged else {})}
        expect, size = (206, item.bytes - item.bytes // 2) if ranged else (200, item.bytes)
        started = time.perf_counter()
        try:
            answer = fetch(
                "127.0.0.1",
                port,
                raw_request("127.0.0.1", port, f"/download/{item.rendition_id}", headers),
                buffer,
                timeout=aio.TIMEOUT,
            )
        except (OSError, ValueError) as exc:
            mine["errors"].append(f"download {item.rendition_id}: {type(exc).__name__}: {exc}")
        else:
            if answer.status != expect or answer.body_bytes != size:
                mine["errors"].append(
                    f"download {item.rendition_id}: status {answer.status}, {answer.body_bytes} B,"
                    f" expected {expect} and {size} B"
                )
            else:
                mine["times"].append(time.perf_counter() - started)
                mine["bytes"] += size
                mine["ranges"] += ranged
                if time.time() <= until:  # throughput counts what finished within the summit
                    mine["in_time"] += size
                    mine["count_in_time"] += 1
        time.sleep(rng.uniform(*think))
    with lock:
        out["times"] += mine["times"]
        out["errors"] += mine["errors"]
        out["bytes"] += mine["bytes"]
        out["ranges"] += mine["ranges"]
        out["in_time"] += mine["in_time"]
        out["count_in_time"] += mine["count_in_time"]


def registrant(
    base_url: str,
    outbox: Outbox,
    tag: str,
    number: int,
    start: float,
    until: float,
    think,
    out: dict,
    lock: threading.Lock,
) -> None:
    """A person registering, again and again until the time is up (each time a new address)."""
    rng = random.Random(f"{tag}-{number}")
    steps, done, errors = [], 0, []
    time.sleep(max(start - time.time(), 0) + rng.uniform(0, think[1]))
    while time.time() < until:
        address = f"summit-{tag}-{number}-{done + len(errors)}@example.org"
        try:
            register(base_url, outbox, address, lambda: time.sleep(rng.uniform(*think)), steps)
            done += 1
        except (OSError, RuntimeError, http.client.HTTPException) as exc:
            errors.append(f"{address}: {type(exc).__name__}: {exc}")
        time.sleep(rng.uniform(*think))
    with lock:
        out["completed"] += done
        out["errors"] += errors
        out["steps"] += steps


def register_members(base_url: str, outbox: Outbox, count: int, tag: str) -> list[str]:
    """``count`` people register through the dialog, 8 at a time; their Cookie headers."""
    members, errors = [None] * count, []

    def member(n: int) -> None:
        try:
            members[n] = register(base_url, outbox, f"summit-member-{tag}-{n}@example.org").cookie_header()
        except Exception as exc:  # noqa: BLE001 - reported below, the part fails
            errors.append(f"{type(exc).__name__}: {exc}")

    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        list(pool.map(member, range(count)))
    if errors:
        raise RuntimeError(f"{len(errors)} download accounts could not register: {errors[:3]}")
    return members


def summit(
    workdir: Path,
    database_url: str,
    *,
    visitors: int,
    downloaders: int,
    registrants: int,
    seconds: float,
    think: tuple[float, float],
    download_think: tuple[float, float],
    processes: int,
    workers: int = 2,
    progress=print,
) -> dict:
    with front(workdir, database_url, workers=workers, worker_connections=max(4 * visitors, 1024)) as f:
        outbox = Outbox(database_url)
        stories = story_paths(f.nginx.url)
        downloads = demo_downloads(database_url, f.media)
        progress(f"summit: {downloaders} people register and log in (the download accounts)")
        tag = secrets.token_hex(3)
        members = register_members(f.nginx.url, outbox, downloaders, tag)
        for path in ["/", *stories]:  # the pages a visitor sees, in nginx's cache
            Browser(f.nginx.url).get(path, headers=VISITOR)
        pages = [("catalogue", aio.request_bytes(f.nginx.port, "/"))] * max(1, len(stories) // 2)
        pages += [("story", aio.request_bytes(f.nginx.port, p)) for p in stories]

        progress(
            f"summit: {visitors:,} visitors in {processes} processes, {downloaders} downloading,"
            f" {registrants} registering, {seconds:g} s, think {think[0]:g}-{think[1]:g} s"
        )
        lock = threading.Lock()
        dl = {"times": [], "bytes": 0, "errors": [], "ranges": 0, "in_time": 0, "count_in_time": 0}
        reg = {"completed": 0, "errors": [], "steps": []}
        start = time.time() + 5.0  # the visitor processes are spawned and importing meanwhile
        until = start + seconds
        people = [
            threading.Thread(
                target=downloader, args=(f.nginx.port, members[n], downloads, start, until, download_think, n, dl, lock)
            )
            for n in range(downloaders)
        ]
        people += [
            threading.Thread(target=registrant, args=(f.nginx.url, outbox, tag, n, start, until, think, reg, lock))
            for n in range(registrants)
        ]
        with aio.pool(processes) as pool, concurrent.futures.ThreadPoolExecutor(1) as waiter, LoadAverage() as load:
            for person in people:
                person.start()
            visiting = waiter.submit(
                aio.in_processes,
                processes,
                f.nginx.port,
                pages,
                visitors,
                seconds,
                pool=pool,
                think=think,
                start_within=think[1],
                start=start,
            )
            time.sleep(max(start - time.time(), 0))
            main_cpu, machine_before = time.process_time(), cpu.snapshot()
            app_before, nginx_before = f.app.workers_cpu_seconds(), nginx_cpu(f.nginx)
            visits = visiting.result()
            for person in people:
                person.join()
            ended = time.time()
            machine = cpu.busy_cpus(machine_before, cpu.snapshot()) or {}
            used = {
                "gunicorn": f.app.workers_cpu_seconds() - app_before,
                "nginx": nginx_cpu(f.nginx) - nginx_before,
                "visitor clients": visits["cpu_seconds"],
                "downloaders and registrants": time.process_time() - main_cpu,
            }
        log = scan_log(f.app.log_path)
        outbox.engine.dispose()
    report = {
        "database": "sqlite" if database_url.startswith("sqlite") else "postgresql",
        "workers": workers,
        "wall_seconds": round(ended - start, 1),  # the people's last requests end a little after the summit
        "visitors": visitors,
        "downloaders": downloaders,
        "registrants": registrants,
        "seconds": seconds,
        "think_s": list(think),
        "download_think_s": list(download_think),
        "processes": processes,
        "stories": len(stories),
        "renditions": len(downloads),
        "visits": summarize_visits(visits, seconds),
        "downloads": summarize_downloads(dl, seconds),
        "registrations": summarize_registrations(reg),
        "log": {k: v for k, v in log.items() if k != "examples"},
        "log_examples": log["examples"][:5],
        "busy_cpus": machine.get("busy_cpus"),
        "cpus_used": {k: round(v / machine["seconds"], 2) for k, v in used.items()} if machine else {},
        **load.summary(),
    }
    report["errors"] = (
        report["visits"]["errors"]
        + report["downloads"]["errors"]
        + report["registrations"]["errors"]
        + sum(report["log"].values())
    )
    return report


def summarize_visits(visits: dict, seconds: float) -> dict:
    latencies = [v for values in visits["latencies"].values() for v in values]
    bad_status = {k: v for k, v in visits["statuses"].items() if not k.endswith(" 200")}
    return {
        "requests": len(latencies),
        "per_second": round(len(latencies) / seconds, 1),
        "statuses": visits["statuses"],
        "cache": visits["cache"],
        "errors": len(visits["errors"]) + sum(bad_status.values()),
        "error_examples": visits["errors"][:5] + list(bad_status)[:5],
        "connects": visits["connects"],
        "p50_ms": aio.percentile_ms(latencies, 0.5),
        "p95_ms": aio.percentile_ms(latencies, 0.95),
        "p99_ms": aio.percentile_ms(latencies, 0.99),
        "max_ms": aio.percentile_ms(latencies, 1.0),
        "by_page": {
            name: {"requests": len(v), "p50_ms": aio.percentile_ms(v, 0.5), "p99_ms": aio.percentile_ms(v, 0.99)}
            for name, v in visits["latencies"].items()
        },
        "loop_lag_max_ms": round(visits["loop_lag_max_ms"], 1),
    }


def summarize_downloads(dl: dict, seconds: float) -> dict:
    return {
        "completed": len(dl["times"]),
        "ranges": dl["ranges"],
        "mb": round(dl["bytes"] / 1e6, 1),
        "mb_per_s": round(dl["in_time"] / 1e6 / seconds, 2),
        "per_second": round(dl["count_in_time"] / seconds, 1),
        "p50_ms": aio.percentile_ms(dl["times"], 0.5),
        "p99_ms": aio.percentile_ms(dl["times"], 0.99),
        "errors": len(dl["errors"]),
        "error_examples": dl["errors"][:5],
    }


def summarize_registrations(reg: dict) -> dict:
    by_step: dict[str, list[float]] = {}
    for name, took in reg["steps"]:
        by_step.setdefault(name, []).append(took)
    return {
        "completed": reg["completed"],
        "errors": len(reg["errors"]),
        "error_examples": reg["errors"][:5],
        "steps": {
            name: {"count": len(v), "p50_ms": aio.percentile_ms(v, 0.5), "p99_ms": aio.percentile_ms(v, 0.99)}
            for name, v in by_step.items()
        },
    }
