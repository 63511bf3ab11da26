"""The scale-out cluster and its four proofs (issue #7): two app servers behind nginx, sharing one
database and Redis. Part 9 of the benchmarks (bench/scaleout.py, ``python -m bench.scaleout``)
and tests/test_scaleout.py both run them.

``started`` brings it all up on this machine: a fresh schema ``scaleout_<hex>`` in a PostgreSQL
database (dropped at the end; a SQLite file when the URL is not PostgreSQL), migrated with
``flask db upgrade`` and loaded with ``flask media demo`` plus one story whose download is a large
file; an aiosmtpd server for the codes and the mail worker (``flask outbox send --loop``) that
delivers them; two gunicorns ("A" and "B", different ports) with the same SECRET_KEY and
SERVER_NAME, rate-limit counters in Redis and ``DOWNLOAD_ACCEL=nginx``; and nginx balancing over
both, serving the files from an ``internal`` location. The proofs:

1. ``flow_across``: register on A, verify on B, log in on A, reset started on B and finished on A.
2. ``limits_across``: POSTs alternate between A and B; the limit counts them together (Redis),
   while the same alternation on two servers with ``memory://`` counters is never refused.
3. ``download_handoff``: the app answers a download with ``X-Accel-Redirect`` and no body;
   nginx sends the bytes.
4. ``slow_downloads_and_catalogue``: 100 slow downloads (64 KB/s each) hold nginx connections
   while the catalogue is requested through nginx; its p50/p99 latency.

Only the given Redis database (default ``redis://127.0.0.1:6379/5``) is flushed, before and after.
Every process started here is stopped in ``finally`` blocks.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import math
import os
import re
import secrets
import socket
import statistics
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from harness import download
from harness.client import HTMX, PASSWORD, Browser, Response, fetch, raw_request, registration
from harness.mailbox import code_in
from harness.servers import Gunicorn, Nginx, OutboxWorker, SmtpServer, app_env, flask, free_port

REDIS_URL = "redis://127.0.0.1:6379/5"
ADDRESS_LIMIT = 5  # POSTs per address and minute on the cluster, small enough to reach in a proof
P99_GOAL_MS = 500.0
STORY_SLUG = "scale-out-large-file"
NEW_PASSWORD = "Green-Valley-77?"


def progress(message: str) -> None:
    print(f"[scaleout] {message}", file=sys.stderr, flush=True)


# --- the cluster --------------------------------------------------------------------------------


class PostgresSchema:
    """``CREATE SCHEMA scaleout_<hex>`` in the given PostgreSQL database, dropped (CASCADE) on exit.

    ``url`` makes every connection use it (``search_path``), so the app's migrations and tables
    land there and nothing else in the database is touched. A database of its own would cost two
    forced checkpoints (CREATE and DROP DATABASE): tens of seconds on a busy server."""

    def __init__(self, base_url: str):
        from sqlalchemy.engine import make_url

        base = make_url(base_url)
        self.name = f"scaleout_{secrets.token_hex(4)}"
        self.admin_url = base.set(drivername="postgresql").render_as_string(hide_password=False)
        app = base.set(drivername="postgresql+psycopg").update_query_dict({"options": f"-csearch_path={self.name}"})
        self.url = app.render_as_string(hide_password=False)

    def _execute(self, sql: str) -> None:
        import psycopg

        with psycopg.connect(self.admin_url, autocommit=True, connect_timeout=10) as connection:
            connection.execute(sql)

    def __enter__(self) -> PostgresSchema:
        self._execute(f'CREATE SCHEMA "{self.name}"')
        return self

    def __exit__(self, *exc) -> None:
        self._execute(f'DROP SCHEMA IF EXISTS "{self.name}" CASCADE')


@contextlib.contextmanager
def new_database(base_url: str, workdir: Path):
    """An empty place for the cluster's tables: a new schema when ``base_url`` is PostgreSQL, else a SQLite file.

    Yields (URL for the app, name to show)."""
    if base_url.startswith(("postgresql", "postgres:")):
        with PostgresSchema(base_url) as schema:
            yield schema.url, f"schema {schema.name} of {urlsplit(base_url).path.lstrip('/')}"
    else:
        yield f"sqlite:///{workdir / 'scaleout.db'}", "scaleout.db"


def redis_client(url: str):
    """A Redis client for ``url``; raises (ConnectionError) when nothing answers."""
    import redis

    client = redis.Redis.from_url(url, socket_connect_timeout=3, socket_timeout=5)
    client.ping()
    return client


def import_large_story(env: dict[str, str], folder: Path, mib: int) -> tuple[str, int]:
    """``flask media import`` of one story whose HD rendition is a ``mib`` MiB file (written sparse).

    Returns the stored file name and its size."""
    story = folder / STORY_SLUG
    story.mkdir(parents=True)
    big = story / "hd-1080p25.mp4"
    with open(big, "wb") as f:
        f.write(download.MP4_HEAD)  # the import reads a file's type from its first bytes
        f.truncate(mib * download.MIB)
    (story / "preview-360p.mp4").write_bytes(download.MP4_HEAD + os.urandom(64 * 1024))
    manifest = {
        "stories": [
            {
                "slug": STORY_SLUG,
                "title": "Scale-out: a large broadcast file",
                "published": "2025-06-01",
                "summary": "The file the slow downloads of the scale-out benchmark read.",
                "video": {
                    "duration": 600,
                    "renditions": [
                        {"label": "HD 1080p25", "file": f"{STORY_SLUG}/{big.name}", "width": 1920, "height": 1080},
                        {
                            "label": "Preview 360p",
                            "file": f"{STORY_SLUG}/preview-360p.mp4",
                            "width": 640,
                            "height": 360,
                            "preview": True,
                        },
                    ],
                },
            }
        ]
    }
    (folder / "manifest.json").write_text(json.dumps(manifest))
    flask(env, "media", "import", str(folder))
    return f"{STORY_SLUG}/1-{big.name}", mib * download.MIB  # stored under the rendition's number


def rendition_id(base_url: str) -> int:
    """The download id of the large file, read from the story page's download links."""
    page = Browser(base_url).get(f"/stories/{STORY_SLUG}").text  # anonymous: links to log in, then download=<id>
    ids = sorted({int(i) for i in re.findall(r"download(?:=|%3D)(\d+)", page)})
    if not ids:
        raise RuntimeError(f"no download link on /stories/{STORY_SLUG}")
    return ids[0]  # the HD rendition comes first in the manifest, so it has the lower id


class BalancingNginx(Nginx):
    """The helper's nginx with an ``upstream`` of every app server, X-Accel's ``internal``
    location, enough connections for the slow downloads, a log of which upstream answered, and
    ``stub_status`` (active connections)."""

    def __init__(self, directory: Path, app_ports: list[int], media_root: Path, port: int, connections: int = 1024):
        self.app_ports, self.connections = app_ports, connections
        locations = f"""
        location /protected-media/ {{ internal; alias {media_root}/; }}
        location = /nginx-status {{ stub_status; }}
        location / {{
            proxy_pass http://portal;
            # No spooling of app responses to temp files: a file the app sent itself would hold
            # its worker for as long as the client reads. X-Accel hands the file to nginx instead.
            proxy_max_temp_file_size 0;
            proxy_set_header Host $http_host;
            proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
            proxy_set_header X-Forwarded-Proto $scheme;
        }}"""
        # the helper's own setting, so its open-files limit (worker_rlimit_nofile) grows to match
        super().__init__(directory, locations, port, worker_connections=connections)

    def config(self) -> str:
        text = super().config()
        upstream = "".join(f"        server 127.0.0.1:{port};\n" for port in self.app_ports)
        changes = {
            "access_log off;": f"log_format upstream '$upstream_addr $status';\n"
            f"    access_log {self.directory}/access.log upstream;\n"
            f"    upstream portal {{\n{upstream}    }}",
        }
        for old, new in changes.items():
            if old not in text:
                raise RuntimeError(f"harness.servers.Nginx config has no {old!r} any more")
            text = text.replace(old, new)
        return text

    def upstream_counts(self) -> dict[int, int]:
        """Requests each app server answered so far (by port), from the access log."""
        counts = {port: 0 for port in self.app_ports}
        with contextlib.suppress(OSError):
            for line in (self.directory / "access.log").read_text().splitlines():
                for address in line.split()[0].split(","):
                    port = address.strip().rpartition(":")[2]
                    if port.isdigit() and int(port) in counts:
                        counts[int(port)] += 1
        return counts

    def active_connections(self) -> int:
        text = Browser(self.url, timeout=10).get("/nginx-status").text
        return int(text.split("Active connections:")[1].split()[0])


@dataclass
class Cluster:
    a: Gunicorn
    b: Gunicorn
    nginx: BalancingNginx
    smtp: SmtpServer
    env: dict[str, str]
    redis_url: str
    database_url: str
    workdir: Path
    stored_name: str
    size: int
    rendition_id: int
    workers: int

    def servers(self) -> dict[str, Gunicorn]:
        return {"A": self.a, "B": self.b}


def app_server(env: dict[str, str], log_path: Path, workers: int) -> Gunicorn:
    """A gunicorn that keeps the cluster's SERVER_NAME (the helper would put its own port there)."""
    server = Gunicorn(env, log_path, workers)
    server.env["FLASK_SERVER_NAME"] = env["FLASK_SERVER_NAME"]
    return server


def cluster_env(
    database_url: str, redis_url: str, media_root: Path, smtp_port: int, server_name: str, bcrypt_rounds: int
) -> dict[str, str]:
    """The one environment of every app server and the mail worker."""
    return app_env(
        media_root / "unused.db",  # its SQLite URI is replaced by SQLALCHEMY_DATABASE_URI
        SQLALCHEMY_DATABASE_URI=database_url,
        SERVER_NAME=server_name,
        MEDIA_ROOT=media_root,
        RATELIMIT_ENABLED="true",
        RATELIMIT_STORAGE_URI=redis_url,
        TRUSTED_PROXIES=1,
        RATELIMIT_PER_ADDRESS=f"{ADDRESS_LIMIT} per minute",
        RATELIMIT_PER_IP="1000 per minute",
        DOWNLOAD_ACCEL="nginx",
        MAIL_SERVER="127.0.0.1",
        MAIL_PORT=smtp_port,
        MAIL_DISPATCH="worker",
        BCRYPT_ROUNDS=bcrypt_rounds,
        CODE_RESEND_INTERVAL_SECONDS=0,
    )  # the flow mails two codes to one address at once


@contextlib.contextmanager
def started(
    workdir: Path,
    database_url: str,
    redis_url: str = REDIS_URL,
    *,
    workers: int = 2,
    file_mib: int = 64,
    bcrypt_rounds: int = 12,
    report=progress,
):
    """Start everything; yields a Cluster; stops it all (and flushes the Redis database) on exit."""
    redis = redis_client(redis_url)
    redis.flushdb()
    with contextlib.ExitStack() as stack:
        stack.callback(redis.flushdb)
        url, name = stack.enter_context(new_database(database_url, workdir))
        smtp = stack.enter_context(SmtpServer())
        nginx_port = free_port()
        media_root = workdir / "media"
        env = cluster_env(url, redis_url, media_root, smtp.port, f"127.0.0.1:{nginx_port}", bcrypt_rounds)
        report(f"migrating {name}, loading the demo catalogue and a {file_mib} MiB file")
        flask(env, "db", "upgrade")
        flask(env, "media", "demo")
        stored_name, size = import_large_story(env, workdir / "import", file_mib)
        download.create_staff(env)
        stack.enter_context(OutboxWorker(env, workdir / "mail-worker.log", interval=0.3))
        report(f"starting app servers A and B (gunicorn -w {workers} each) and nginx in front")
        a = stack.enter_context(app_server(env, workdir / "gunicorn-a.log", workers))
        b = stack.enter_context(app_server(env, workdir / "gunicorn-b.log", workers))
        nginx = stack.enter_context(BalancingNginx(workdir / "nginx", [a.port, b.port], media_root, nginx_port))
        yield Cluster(
            a=a,
            b=b,
            nginx=nginx,
            smtp=smtp,
            env=env,
            redis_url=redis_url,
            database_url=url,
            workdir=workdir,
            stored_name=stored_name,
            size=size,
            rendition_id=rendition_id(a.url),
            workers=workers,
        )


# --- 1. a flow across both servers -----------------------------------------------------------------


class Jar:
    """One browser whose cookie jar goes with it to every server (no sticky sessions)."""

    def __init__(self, servers: dict[str, Gunicorn]):
        self.cookies: dict[str, str] = {}
        self.browsers = {label: Browser(server.url) for label, server in servers.items()}
        for browser in self.browsers.values():
            browser.cookies = self.cookies
        self.steps: list[dict] = []

    def token(self, label: str) -> str:
        return self.browsers[label].csrf_token()

    def step(
        self,
        name: str,
        label: str,
        method: str,
        path: str,
        form: dict | None = None,
        *,
        status: int,
        goes_to: str | None = None,
    ) -> Response:
        browser = self.browsers[label]
        response = browser.post(path, form, headers=HTMX) if method == "POST" else browser.get(path)
        where = response.header("HX-Redirect") or response.header("Location") or ""
        ok = response.status == status and (goes_to is None or where.endswith(goes_to))
        self.steps.append(
            {
                "step": name,
                "server": label,
                "request": f"{method} {path}",
                "status": response.status,
                "goes_to": where,
                "ok": ok,
            }
        )
        return response


def flow_across(cluster: Cluster, address: str | None = None) -> dict:
    """Register on A, verify on B, log out on B, log in on A, reset started on B and finished on A,
    then log in on B with the new password; the session cookie and the CSRF token travel."""
    address = address or f"scaleout-{secrets.token_hex(4)}@example.org"
    mailbox = cluster.smtp.mailbox
    jar = Jar(cluster.servers())
    token = jar.token("A")  # one token, from A's page, for the POSTs to both servers
    jar.step(
        "POST with a wrong CSRF token is refused",
        "B",
        "POST",
        "/account/register",
        {**registration(address), "csrf_token": token[::-1]},
        status=400,
    )
    jar.step(
        "register",
        "A",
        "POST",
        "/account/register",
        {**registration(address), "csrf_token": token},
        status=303,
        goes_to="/account/verify",
    )
    jar.step("the code step, from the session", "B", "GET", "/account/verify", status=200)
    code = code_in(mailbox.wait_for(address, 1)[0])
    jar.step(
        "verify the mailed code",
        "B",
        "POST",
        "/account/verify",
        {"code": code, "csrf_token": token},
        status=303,
        goes_to="/account/welcome",
    )
    jar.step("account page: logged in", "A", "GET", "/account", status=200)
    token = jar.token("A")  # logging in starts a new session, with a new token
    jar.step("log out", "B", "POST", "/account/logout", {"csrf_token": token}, status=200, goes_to="/")
    jar.step("account page: logged out", "A", "GET", "/account", status=303, goes_to="/account/login?next=/account")
    token = jar.token("B")
    jar.step(
        "log in",
        "A",
        "POST",
        "/account/login",
        {"email": address, "password": PASSWORD, "next": "/account", "csrf_token": token},
        status=200,
        goes_to="/account",
    )
    jar.step("account page: logged in again", "B", "GET", "/account", status=200)
    token = jar.token("A")
    jar.step(
        "ask for a reset code",
        "B",
        "POST",
        "/account/reset",
        {"email": address, "next": "/", "csrf_token": token},
        status=303,
        goes_to="/account/reset/code",
    )
    code = code_in(mailbox.wait_for(address, 2)[1])
    jar.step(
        "enter the reset code",
        "A",
        "POST",
        "/account/reset/code",
        {"code": code, "csrf_token": token},
        status=303,
        goes_to="/account/reset/password",
    )
    jar.step(
        "set the new password",
        "A",
        "POST",
        "/account/reset/password",
        {"password": NEW_PASSWORD, "confirm": NEW_PASSWORD, "csrf_token": token},
        status=303,
        goes_to="/account/reset/done",
    )
    fresh = Jar(cluster.servers())
    token = fresh.token("A")
    fresh.step(
        "old password refused",
        "A",
        "POST",
        "/account/login",
        {"email": address, "password": PASSWORD, "next": "/", "csrf_token": token},
        status=422,
    )
    fresh.step(
        "new password works",
        "B",
        "POST",
        "/account/login",
        {"email": address, "password": NEW_PASSWORD, "next": "/account", "csrf_token": token},
        status=200,
        goes_to="/account",
    )
    steps = jar.steps + fresh.steps
    subjects = [str(m["Subject"]) for m in mailbox.wait_for(address, 3)]  # the last: "your password was changed"
    return {
        "address": address,
        "steps": steps,
        "mail_subjects": subjects,
        "pass": all(s["ok"] for s in steps) and len(subjects) == 3,
    }


# --- 2. rate limits counted across both --------------------------------------------------------------


def alternate_posts(servers: dict[str, Gunicorn], address: str, order: str) -> list[dict]:
    """One browser POSTs the reset form for ``address`` to the servers in ``order`` ("ABAB...")."""
    jar = Jar(servers)
    token = jar.token(order[0])
    form = {"email": address, "next": "/", "csrf_token": token}
    return [
        {"server": label, "status": jar.step(f"POST {i + 1}", label, "POST", "/account/reset", form, status=303).status}
        for i, label in enumerate(order)
    ]


def limits_across(cluster: Cluster) -> dict:
    """With ADDRESS_LIMIT POSTs per address and minute: 5 alternating POSTs, then one on each
    server (both refused, counted in Redis); the same on two servers whose counters live in
    each process (``memory://``, one worker each): never refused, until one server alone gets
    more than the limit."""
    tag = secrets.token_hex(4)
    shared = alternate_posts(cluster.servers(), f"limit-redis-{tag}@example.org", "ABABA" + "AB")
    env = {**cluster.env, "FLASK_RATELIMIT_STORAGE_URI": "memory://"}
    with contextlib.ExitStack() as stack:
        separate = {
            label: stack.enter_context(app_server(env, cluster.workdir / f"gunicorn-memory-{label}.log", 1))
            for label in "AB"
        }
        per_process = alternate_posts(separate, f"limit-memory-{tag}@example.org", "ABABA" + "AB" + "AA")
    refused = lambda runs: [i + 1 for i, r in enumerate(runs) if r["status"] == 429]  # noqa: E731
    out = {
        "limit": f"{ADDRESS_LIMIT} per minute per address",
        "redis": shared,
        "memory": per_process,
        "redis_refused": refused(shared),
        "memory_refused": refused(per_process),
    }
    out["pass"] = (
        out["redis_refused"] == [ADDRESS_LIMIT + 1, ADDRESS_LIMIT + 2]
        and all(r["status"] == 303 for r in shared[:ADDRESS_LIMIT])
        and out["memory_refused"] == [len(per_process)]
    )
    return out


# --- 3. downloads handed to nginx ---------------------------------------------------------------


def download_handoff(cluster: Cluster) -> dict:
    """The app's own answer (straight from A's port) and nginx's (the bytes), for a verified account."""
    cookie = download.log_in(cluster.nginx.url)
    path = f"/download/{cluster.rendition_id}"
    app = Browser(cluster.a.url).get(path, headers={"Cookie": cookie})  # http.client: reads a chunked body too
    started = time.perf_counter()
    front = _through_nginx(cluster, path, {"Cookie": cookie})
    seconds = time.perf_counter() - started
    internal = Browser(cluster.nginx.url).get(f"/protected-media/{cluster.stored_name}")
    anonymous = _through_nginx(cluster, path)
    out = {
        "path": path,
        "size": cluster.size,
        "app": {
            "status": app.status,
            "x_accel_redirect": app.header("X-Accel-Redirect"),
            "body_bytes": len(app.body),
            "content_disposition": app.header("Content-Disposition"),
        },
        "nginx": {
            "status": front.status,
            "body_bytes": front.body_bytes,
            "content_length": int(front.headers.get("content-length", -1)),
            "content_disposition": front.headers.get("content-disposition"),
            "x_accel_redirect": front.headers.get("x-accel-redirect"),
            "mb_per_s": round(front.body_bytes / seconds / 1e6, 1),
        },
        "internal_location_from_outside": internal.status,
        "anonymous": {"status": anonymous.status, "body_bytes": anonymous.body_bytes},
    }
    app_out, nginx_out = out["app"], out["nginx"]
    out["pass"] = (
        app.status == 200
        and app_out["x_accel_redirect"] == f"/protected-media/{cluster.stored_name}"
        and not app.body
        and (app_out["content_disposition"] or "").startswith("attachment")
        and front.status == 200
        and front.body_bytes == nginx_out["content_length"] == cluster.size
        and nginx_out["x_accel_redirect"] is None
        and nginx_out["content_disposition"] == app_out["content_disposition"]
        and internal.status == 404
        and anonymous.body_bytes < cluster.size
    )
    return out


def _through_nginx(cluster: Cluster, path: str, headers: dict | None = None):
    """GET through nginx; the body is counted, not kept."""
    port = cluster.nginx.port
    return fetch("127.0.0.1", port, raw_request("127.0.0.1", port, path, headers), bytearray(download.MIB))


# --- 4. slow downloads while the catalogue answers ---------------------------------------------------


class SlowDownload(threading.Thread):
    """GET the large file through nginx and read it at ``rate`` bytes/s until ``stop`` is set."""

    def __init__(self, port: int, path: str, cookie: str, rate: int, stop: threading.Event):
        super().__init__(daemon=True, name="slow-download")
        self.port, self.path, self.cookie, self.rate, self.stop = port, path, cookie, rate, stop
        self.headers_received = threading.Event()
        self.status: int | None = None
        self.received = 0
        self.last_read = 0.0
        self.ended = False  # the server closed the body early or it was all read
        self.error: str | None = None

    def run(self) -> None:
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        try:
            connection.connect()
            # A small receive buffer: the kernel holds little, nginx keeps the rest of the file
            connection.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 32 * 1024)
            connection.request("GET", self.path, headers={"Cookie": self.cookie})
            response = connection.getresponse()
            self.status = response.status
            self.headers_received.set()
            chunk = memoryview(bytearray(max(self.rate // 4, 1024)))
            started = time.monotonic()
            while not self.stop.is_set():
                n = response.readinto(chunk)
                if not n:
                    self.ended = True
                    break
                self.received += n
                self.last_read = time.monotonic()
                self.stop.wait(max(started + self.received / self.rate - self.last_read, 0))
        except Exception as exc:  # noted; the proof counts it
            self.error = f"{type(exc).__name__}: {exc}"
        finally:
            self.headers_received.set()
            connection.close()

    def running(self, now: float, within: float = 2.0) -> bool:
        """Still receiving: status 200, no error, not at the end, a read in the last ``within`` s."""
        return (
            self.is_alive()
            and self.status == 200
            and self.error is None
            and not self.ended
            and now - self.last_read < within
        )


def catalogue_load(base_url: str, clients: int, seconds: float) -> dict:
    """``clients`` threads GET / (the catalogue) back to back for ``seconds``; every latency kept."""
    lock = threading.Lock()
    latencies: list[float] = []
    failures: list[str] = []
    deadline = time.monotonic() + seconds

    def client() -> None:
        browser = Browser(base_url, timeout=30)
        while time.monotonic() < deadline:
            try:
                response = browser.get("/")
            except OSError as exc:
                with lock:
                    failures.append(f"{type(exc).__name__}: {exc}")
                continue
            with lock:
                if response.status == 200 and 'class="card"' in response.text:
                    latencies.append(response.elapsed)
                else:
                    failures.append(f"status {response.status}, {len(response.body)} bytes")

    threads = [threading.Thread(target=client, name=f"catalogue-{i}") for i in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(seconds + 60)
    latencies.sort()
    rank = lambda q: latencies[max(math.ceil(q * len(latencies)) - 1, 0)] * 1000 if latencies else None  # noqa: E731
    return {
        "requests": len(latencies),
        "failures": len(failures),
        "first_failure": failures[0] if failures else None,
        "per_second": round(len(latencies) / seconds, 1),
        "p50_ms": _ms(rank(0.50)),
        "p99_ms": _ms(rank(0.99)),
        "max_ms": _ms(latencies[-1] * 1000 if latencies else None),
        "seconds": seconds,
        "clients": clients,
    }


def _ms(value: float | None) -> float | None:
    return round(value, 1) if value is not None else None


def slow_downloads_and_catalogue(
    cluster: Cluster,
    *,
    downloads: int = 100,
    rate: int = 64 * 1024,
    seconds: float = 20.0,
    clients: int = 2,
    answer_timeout: float = 60.0,
    report=progress,
) -> dict:
    """Start ``downloads`` slow readers through nginx (all answered within ``answer_timeout``
    seconds, or the proof fails), then load the catalogue through nginx."""
    cookie = download.log_in(cluster.nginx.url)
    path = f"/download/{cluster.rendition_id}"
    Browser(cluster.nginx.url).get("/")  # warm-up
    before = cluster.nginx.upstream_counts()
    stop = threading.Event()
    readers = [SlowDownload(cluster.nginx.port, path, cookie, rate, stop) for _ in range(downloads)]
    try:
        report(f"{downloads} downloads at {rate // 1024} KB/s each through nginx")
        started = time.monotonic()
        for reader in readers:
            reader.start()
        for reader in readers:
            reader.headers_received.wait(max(started + answer_timeout - time.monotonic(), 0))
        ramp = time.monotonic() - started
        answered = sum(r.status is not None for r in readers)
        report(
            f"{answered} of {downloads} answered in {ramp:.1f} s; catalogue through nginx for {seconds:g} s"
            f" ({clients} clients)"
        )
        catalogue = catalogue_load(cluster.nginx.url, clients, seconds)
        now = time.monotonic()
        running = sum(r.running(now) for r in readers)
        connections = cluster.nginx.active_connections()
    finally:
        stop.set()
        for reader in readers:
            reader.join(10)
    after = cluster.nginx.upstream_counts()
    received = [r.received for r in readers]
    elapsed = now - started
    out = {
        "downloads": downloads,
        "rate_kib_s": rate // 1024,
        "file_bytes": cluster.size,
        "answered": answered,
        "answered_in_s": round(ramp, 2),
        "still_running_at_end": running,
        "statuses": {str(s): sum(r.status == s for r in readers) for s in {r.status for r in readers}},
        "errors": sum(r.error is not None for r in readers),
        "first_error": next((r.error for r in readers if r.error), None),
        "finished_early": sum(r.ended for r in readers),
        "received_mb": round(sum(received) / 1e6, 1),
        "mean_kib_s_per_download": round(statistics.mean(received) / 1024 / elapsed, 1) if received else 0,
        "nginx_active_connections": connections,
        "app_workers": 2 * cluster.workers,
        "requests_by_server": {
            label: after[server.port] - before[server.port] for label, server in cluster.servers().items()
        },
        "catalogue": catalogue,
        "p99_goal_ms": P99_GOAL_MS,
    }
    out["pass"] = (
        running == downloads
        and catalogue["failures"] == 0
        and catalogue["requests"] > 0
        and catalogue["p99_ms"] <= P99_GOAL_MS
    )
    return out
