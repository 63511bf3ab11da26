"""Load: 200 browsers register → verify → download for 60 s under ``gunicorn -w 4``.

Used by ``python -m bench.run --only load`` (numbers, part 8) and by ``tests/test_load.py`` (assertions).
Everything is real: a database migrated with ``flask db upgrade`` and filled with ``flask media
demo``, gunicorn sending code mails (MAIL_DISPATCH=thread) to an aiosmtpd server in this process,
and client threads speaking HTTP to gunicorn. Rate limits are off (FLASK_RATELIMIT_ENABLED=false,
as in every part): all clients come from 127.0.0.1, and the per-IP limit would turn most of the
load into 429s. Each client, until the time is up, runs journeys:

1. a fresh cookie jar, ``GET /account/register`` (the page; its CSRF token),
2. the HTMX ``POST /account/register``, then the ``GET /account/verify`` htmx makes for the 303,
3. its code from the SMTP server, the HTMX ``POST /account/verify``, then ``GET /account/welcome``,
4. ``GET /download/<id>`` of a random demo rendition, the body read and dropped, its bytes counted.

A journey started before the deadline runs to its end. Every request's step, status and time is
recorded; a failed check ends that journey (noted with its reason) and the client starts the next.
"""

from __future__ import annotations

import http.client
import json
import random
import re
import secrets
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from harness import cpu
from harness.client import HTMX, Browser, fetch, raw_request, registration
from harness.mailbox import Mailbox, SmtpServer, code_in
from harness.servers import WORKER_KIND, Gunicorn, _TimedList, app_env, flask

CLIENTS = 200
WORKERS = 4
SECONDS = 60.0
ROUNDS = 4  # bcrypt cost; see bench/README.md, part 8
TIMEOUT = 30.0  # seconds a client waits for a socket operation or a code mail
DRAIN_SECONDS = 60.0  # how long to wait at the end for the outbox to be empty
STEPS = ("page", "register", "verify page", "mail", "verify", "welcome", "download")
LOG_PROBLEMS = {  # what must never be in gunicorn's log (its own lines and the app's)
    "database is locked": "database is locked",
    "traceback": "Traceback (most recent call last)",
    "worker timeout": "WORKER TIMEOUT",
    "app errors": " ERROR ",
    "gunicorn errors": "[ERROR]",
}


# --- the mailbox: the tests' aiosmtpd server, looked up by recipient --------------------------


class IndexedMailbox(Mailbox):
    """The tests' mailbox, but ``to(address)`` is a dict look-up: with thousands of mails and
    hundreds of waiting clients, scanning every message's To header would eat the CPUs. It also
    notes when each mail arrived (harness.servers' timed list)."""

    def __init__(self):
        super().__init__()
        self.messages = _TimedList()  # the handler appends each mail once its DATA is accepted
        self._by_recipient: dict[str, list] = {}
        self._arrived: dict[int, float] = {}
        self._indexed = 0

    def _index(self) -> None:
        with self._changed:  # re-entrant: wait_for holds it already
            for message, at in zip(self.messages[self._indexed :], self.messages.times[self._indexed :], strict=False):
                self._by_recipient.setdefault(str(message["To"]).strip().lower(), []).append(message)
                self._arrived[id(message)] = at
            self._indexed = len(self.messages)

    def to(self, address: str) -> list:
        self._index()
        return list(self._by_recipient.get(address.lower(), ()))

    def arrived_at(self, message) -> float:
        """When (time.monotonic) the SMTP server accepted ``message``."""
        self._index()
        return self._arrived[id(message)]

    def recipients(self) -> Counter:
        self._index()
        with self._changed:
            return Counter({address: len(mails) for address, mails in self._by_recipient.items()})


class IndexedSmtpServer(SmtpServer):
    def __init__(self):
        from aiosmtpd.controller import Controller

        super().__init__()
        self.mailbox = IndexedMailbox()
        self.controller = Controller(self.mailbox, hostname="127.0.0.1", port=self.port)


# --- the database ------------------------------------------------------------------------------


def engine_url(database_url: str) -> str:
    """The URL SQLAlchemy needs (psycopg 3 for PostgreSQL, as the app does)."""
    for prefix in ("postgresql://", "postgres://"):
        if database_url.startswith(prefix):
            return "postgresql+psycopg://" + database_url[len(prefix) :]
    return database_url


def wipe_postgres(database_url: str) -> None:
    """Drop everything in the database's public schema, so ``flask db upgrade`` starts from nothing."""
    import sqlalchemy

    engine = sqlalchemy.create_engine(engine_url(database_url), isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as connection:
            connection.exec_driver_sql("DROP SCHEMA IF EXISTS public CASCADE")
            connection.exec_driver_sql("CREATE SCHEMA public")
    finally:
        engine.dispose()


@dataclass(frozen=True)
class Download:
    rendition_id: int
    story: str
    bytes: int


def demo_downloads(database_url: str, media_root: Path) -> list[Download]:
    """Every non-preview rendition of the demo stories, with the size of its file on disk."""
    import sqlalchemy

    engine = sqlalchemy.create_engine(engine_url(database_url))
    try:
        with engine.connect() as connection:
            rows = connection.exec_driver_sql(
                "SELECT r.id, s.slug, r.filename, r.bytes FROM renditions r JOIN videos v ON v.id = r.video_id"
                " JOIN stories s ON s.id = v.story_id WHERE NOT r.is_preview ORDER BY r.id"
            ).all()
    finally:
        engine.dispose()
    downloads = []
    for rendition_id, slug, filename, recorded in rows:
        size = (media_root / filename).stat().st_size
        if size != recorded:
            raise RuntimeError(f"rendition {rendition_id}: {filename} has {size} bytes, the database says {recorded}")
        downloads.append(Download(rendition_id, slug, size))
    if not downloads:
        raise RuntimeError("flask media demo made no downloadable renditions")
    return downloads


def database_counts(database_url: str, tag: str) -> dict[str, int]:
    """Rows the load left behind: outbox (pending, sent, failed), verified users, downloads."""
    import sqlalchemy

    engine = sqlalchemy.create_engine(engine_url(database_url))
    like = f"load-{tag}-%"
    try:
        with engine.connect() as connection:
            pending, sent, failed = connection.execute(
                sqlalchemy.text(
                    "SELECT COUNT(CASE WHEN sent_at IS NULL AND failed_at IS NULL THEN 1 END),"
                    " COUNT(sent_at), COUNT(failed_at) FROM outbox WHERE recipient LIKE :like"
                ),
                {"like": like},
            ).one()
            users, verified = connection.execute(
                sqlalchemy.text("SELECT COUNT(*), COUNT(verified_at) FROM users WHERE email LIKE :like"), {"like": like}
            ).one()
            downloads = connection.execute(
                sqlalchemy.text(
                    "SELECT COUNT(*) FROM downloads d JOIN users u ON u.id = d.user_id WHERE u.email LIKE :like"
                ),
                {"like": like},
            ).scalar_one()
    finally:
        engine.dispose()
    return {
        "outbox_pending": pending,
        "outbox_sent": sent,
        "outbox_failed": failed,
        "users": users,
        "users_verified": verified,
        "downloads": downloads,
    }


# --- one browser -------------------------------------------------------------------------------


@dataclass
class Record:
    step: str
    status: int | None  # None: no answer (timeout, connection refused or reset)
    seconds: float
    error: str | None = None


@dataclass
class ClientResult:
    records: list[Record] = field(default_factory=list)
    registered: list[str] = field(default_factory=list)  # addresses whose register POST was answered 303
    journeys: int = 0
    completed: int = 0
    failures: list[str] = field(default_factory=list)
    downloaded_bytes: int = 0


class JourneyFailed(Exception):
    pass


class Client:
    """One simulated person, doing journeys one after the other."""

    def __init__(
        self,
        base_url: str,
        mailbox: IndexedMailbox,
        downloads: list[Download],
        tag: str,
        number: int,
        timeout: float = TIMEOUT,
    ):
        self.base_url, self.mailbox, self.downloads, self.timeout = base_url, mailbox, downloads, timeout
        self.tag, self.number = tag, number
        self.random = random.Random(f"{tag}-{number}")
        self.result = ClientResult()
        self.buffer = bytearray(64 * 1024)

    def run(self, deadline: float) -> ClientResult:
        while time.monotonic() < deadline:
            self.result.journeys += 1
            address = f"load-{self.tag}-{self.number}-{self.result.journeys}@example.org"
            try:
                self.journey(address, self.random.choice(self.downloads))
                self.result.completed += 1
            except JourneyFailed as exc:
                self.result.failures.append(f"{address}: {exc}")
        return self.result

    def request(self, step: str, call, expect: int, location: str | None = None):
        started = time.perf_counter()
        try:
            response = call()
        except (OSError, http.client.HTTPException) as exc:  # timeouts are OSErrors too
            self.result.records.append(
                Record(step, None, time.perf_counter() - started, f"{type(exc).__name__}: {exc}")
            )
            raise JourneyFailed(f"{step}: {type(exc).__name__}: {exc}") from None
        self.result.records.append(Record(step, response.status, time.perf_counter() - started))
        if response.status != expect:
            raise JourneyFailed(f"{step}: status {response.status}, expected {expect}")
        if location is not None and urlsplit(response.header("Location", "")).path != location:
            raise JourneyFailed(f"{step}: Location {response.header('Location')!r}, expected {location}")
        return response

    def journey(self, address: str, download: Download) -> None:
        browser = Browser(self.base_url, timeout=self.timeout)
        page = self.request("page", lambda: browser.get("/account/register"), 200)
        match = re.search(r'"X-CSRFToken": "([^"]+)"', page.text)
        if not match:
            raise JourneyFailed("page: no CSRF token")
        # what htmx sends from the dialog: its headers, hx-headers' token, the current page
        htmx = {**HTMX, "X-CSRFToken": match.group(1), "HX-Current-URL": f"{self.base_url}/account/register"}
        form = {
            **registration(address, next_url=f"/stories/{download.story}?download={download.rendition_id}"),
            "csrf_token": match.group(1),
        }
        self.request("register", lambda: browser.post("/account/register", form, headers=htmx), 303, "/account/verify")
        self.result.registered.append(address)
        registered_at = time.monotonic()
        self.request("verify page", lambda: browser.get("/account/verify", headers=htmx), 200)

        try:  # "mail": from the register answer to the SMTP server accepting the code mail
            mail = self.mailbox.wait_for(address, timeout=self.timeout)[0]
        except AssertionError:
            self.result.records.append(Record("mail", None, time.monotonic() - registered_at, "no mail"))
            raise JourneyFailed(f"mail: no code mail within {self.timeout:g} s") from None
        self.result.records.append(Record("mail", 250, self.mailbox.arrived_at(mail) - registered_at))

        code = {"code": code_in(mail), "csrf_token": match.group(1)}
        self.request("verify", lambda: browser.post("/account/verify", code, headers=htmx), 303, "/account/welcome")
        self.request("welcome", lambda: browser.get("/account/welcome", headers=htmx), 200)

        cookie = "; ".join(f"{k}={v}" for k, v in browser.cookies.items())
        request = raw_request(browser.host, browser.port, f"/download/{download.rendition_id}", {"Cookie": cookie})
        response = self.request(
            "download", lambda: fetch(browser.host, browser.port, request, self.buffer, timeout=self.timeout), 200
        )
        length = response.headers.get("content-length")
        if response.body_bytes != download.bytes or length != str(download.bytes):
            raise JourneyFailed(
                f"download: {response.body_bytes} bytes (Content-Length {length}), expected {download.bytes}"
            )
        self.result.downloaded_bytes += response.body_bytes


def run_clients(
    base_url: str, mailbox: IndexedMailbox, downloads: list[Download], *, clients: int, seconds: float, tag: str
) -> dict:
    """``clients`` threads doing journeys for ``seconds``; their records, merged."""
    workers = [Client(base_url, mailbox, downloads, tag, n) for n in range(clients)]
    results: list[ClientResult | None] = [None] * clients
    crashed: list[str] = []

    def work(n: int) -> None:
        try:
            results[n] = workers[n].run(deadline)
        except Exception as exc:  # a bug in the client, not the server: report it, never hide it
            crashed.append(f"client {n}: {type(exc).__name__}: {exc}")
            results[n] = workers[n].result

    threads = [threading.Thread(target=work, args=(n,), name=f"load-client-{n}", daemon=True) for n in range(clients)]
    cpu_before, started = time.process_time(), time.monotonic()
    deadline = started + seconds
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    wall = time.monotonic() - started
    return {
        "results": results,
        "wall_seconds": wall,
        "client_cpu_seconds": time.process_time() - cpu_before,
        "crashed": crashed,
    }


# --- the numbers ---------------------------------------------------------------------------------


def percentile(sorted_values: list[float], share: float) -> float | None:
    """Nearest-rank percentile of an already sorted list."""
    if not sorted_values:
        return None
    rank = max(1, -(-len(sorted_values) * share // 1))
    return sorted_values[int(rank) - 1]


def summarize(run: dict, seconds: float, clients: int) -> dict:
    results = run["results"]
    records = [r for result in results for r in result.records]
    steps = {}
    for step in STEPS:
        answered = sorted(r.seconds for r in records if r.step == step and r.status is not None)
        steps[step] = {
            "count": len(answered),
            "p50_ms": round(percentile(answered, 0.50) * 1000, 1) if answered else None,
            "p99_ms": round(percentile(answered, 0.99) * 1000, 1) if answered else None,
            "max_ms": round(answered[-1] * 1000, 1) if answered else None,
        }
    http_records = [r for r in records if r.step != "mail"]
    statuses = Counter(f"{r.step} {r.status if r.status is not None else 'no answer'}" for r in records)
    wall = run["wall_seconds"]
    completed = sum(r.completed for r in results)
    return {
        "clients": clients,
        "seconds": seconds,
        "wall_seconds": round(wall, 1),
        "journeys_started": sum(r.journeys for r in results),
        "journeys_completed": completed,
        "clients_without_a_journey": sum(1 for r in results if r.completed == 0),
        "journeys_per_second": round(completed / wall, 2),
        "requests": len(http_records),
        "requests_per_second": round(len(http_records) / wall, 1),
        "status_5xx": sum(1 for r in http_records if r.status is not None and r.status >= 500),
        "no_answer": sum(1 for r in records if r.status is None),
        "statuses": dict(sorted(statuses.items())),
        "steps": steps,
        "downloaded_mb": round(sum(r.downloaded_bytes for r in results) / 1e6, 1),
        "failures": sum(len(r.failures) for r in results),
        "failure_examples": [f for r in results for f in r.failures][:10],
        "client_crashes": run["crashed"],
        "client_cpu": round(run["client_cpu_seconds"] / wall, 2),
    }


def check_mail(
    mailbox: IndexedMailbox, registered: list[str], database_url: str, tag: str, wait: float = DRAIN_SECONDS
) -> dict:
    """Wait (at most ``wait`` s) until no outbox row is pending, then count each address's mails."""
    started = time.monotonic()
    counts = database_counts(database_url, tag)
    while counts["outbox_pending"] and time.monotonic() - started < wait:
        time.sleep(0.5)
        counts = database_counts(database_url, tag)
    received = mailbox.recipients()
    ours = {a: n for a, n in received.items() if a.startswith(f"load-{tag}-")}
    expected = Counter(address.lower() for address in registered)
    return {
        **counts,
        "drain_seconds": round(time.monotonic() - started, 1),
        "registered": len(expected),
        "mails_received": sum(ours.values()),
        "registered_without_mail": sum(1 for a in expected if a not in ours),
        "registered_with_several": sum(1 for a in expected if ours.get(a, 0) > 1),
        "mails_to_others": sum(n for a, n in ours.items() if a not in expected),
        "examples_missing": [a for a in expected if a not in ours][:5],
    }


def scan_log(log_path: Path) -> dict:
    text = log_path.read_text(errors="replace")
    found = {name: text.count(needle) for name, needle in LOG_PROBLEMS.items()}
    lines = [line for line in text.splitlines() if any(n in line for n in LOG_PROBLEMS.values())]
    return {**found, "examples": lines[:10]}


# --- the whole run -----------------------------------------------------------------------------


def run(
    database_url: str,
    workdir: Path,
    *,
    clients: int = CLIENTS,
    seconds: float = SECONDS,
    workers: int = WORKERS,
    rounds: int = ROUNDS,
    label: str | None = None,
    progress=print,
    **settings,
) -> dict:
    """Migrate the database (PostgreSQL: wiped first), load the demo, start SMTP and gunicorn, run
    the clients, wait for the outbox, and read gunicorn's log. Returns the report.
    ``settings`` are more app settings (FLASK_* without the prefix), for experiments."""
    label = label or ("sqlite" if database_url.startswith("sqlite") else "postgresql")
    workdir.mkdir(parents=True, exist_ok=True)
    media_root = workdir / "media"
    tag = secrets.token_hex(3)
    if not database_url.startswith("sqlite"):
        wipe_postgres(database_url)
    env = app_env(
        workdir / "unused.db",
        SQLALCHEMY_DATABASE_URI=database_url,
        MEDIA_ROOT=media_root,
        BCRYPT_ROUNDS=rounds,
        MAIL_DISPATCH="thread",
        **settings,
    )
    progress(f"load ({label}): flask db upgrade, flask media demo")
    flask(env, "db", "upgrade")
    flask(env, "media", "demo")
    downloads = demo_downloads(database_url, media_root)
    log_path = workdir / f"gunicorn-load-{label}.log"
    with IndexedSmtpServer() as smtp:
        env.update(FLASK_MAIL_SERVER="127.0.0.1", FLASK_MAIL_PORT=str(smtp.port))
        with Gunicorn(env, log_path, workers) as server:
            progress(
                f"load ({label}): {clients} clients, {seconds:g} s, gunicorn -w {workers} ({WORKER_KIND}),"
                f" bcrypt cost {rounds}"
            )
            machine_before, server_before = cpu.snapshot(), server.workers_cpu_seconds()
            measured = run_clients(server.url, smtp.mailbox, downloads, clients=clients, seconds=seconds, tag=tag)
            machine = cpu.busy_cpus(machine_before, cpu.snapshot())
            if machine:  # how many CPUs gunicorn used, and what else (the database server, other programs)
                machine["gunicorn_cpus"] = round((server.workers_cpu_seconds() - server_before) / machine["seconds"], 2)
                machine["other_cpus"] = round(
                    max(
                        machine["busy_cpus"]
                        - machine["gunicorn_cpus"]
                        - measured["client_cpu_seconds"] / machine["seconds"],
                        0.0,
                    ),
                    2,
                )
            progress(f"load ({label}): waiting for the outbox to drain")
            registered = [a for r in measured["results"] for a in r.registered]
            mail = check_mail(smtp.mailbox, registered, database_url, tag)
    summary = summarize(measured, seconds, clients)
    if machine and summary["journeys_completed"]:  # steadier than journeys/s when other programs want the CPUs
        machine["gunicorn_cpu_ms_per_journey"] = round(
            machine["gunicorn_cpus"] * machine["seconds"] * 1000 / summary["journeys_completed"], 1
        )
    report = {
        "database": label,
        "workers": workers,
        "worker_class": WORKER_KIND,
        "bcrypt_rounds": rounds,
        "timeout_s": TIMEOUT,
        "renditions": len(downloads),
        **summary,
        "machine": machine,
        "mail": mail,
        "log": scan_log(log_path),
    }
    return report


def faults(report: dict) -> list[str]:
    """What went wrong, one line each; empty when the portal held up (the test asserts this)."""
    r, m, g = report, report["mail"], report["log"]
    checks = [
        (r["status_5xx"], "responses with a 5xx status"),
        (r["no_answer"], "requests or code mails without an answer (timeouts, connection errors)"),
        (r["failures"], "failed journeys"),
        (len(r["client_crashes"]), "client threads that crashed"),
        (r["clients_without_a_journey"], "clients that completed no journey"),
        (g["database is locked"], "'database is locked' in gunicorn's log"),
        (g["traceback"], "tracebacks in gunicorn's log"),
        (g["worker timeout"], "worker timeouts in gunicorn's log"),
        (g["app errors"] + g["gunicorn errors"], "ERROR lines in gunicorn's log"),
        (m["registered_without_mail"], "registered addresses without a code mail"),
        (m["registered_with_several"], "registered addresses with more than one mail"),
        (m["mails_to_others"], "mails to addresses whose register request was not answered with a 303"),
        (m["outbox_pending"], "outbox rows still pending"),
        (m["outbox_failed"], "outbox rows that failed"),
        (m["users"] - m["registered"], "users beyond the registrations answered"),
        (r["statuses"].get("verify 303", 0) - m["users_verified"], "verified journeys whose user is not verified"),
        (r["statuses"].get("download 200", 0) - m["downloads"], "downloads that are not in the download log"),
    ]
    found = [f"{n} {what}" for n, what in checks if n]
    if r["journeys_completed"] < r["clients"]:
        found.append(f"only {r['journeys_completed']} journeys completed by {r['clients']} clients")
    return found


def render(report: dict) -> list[str]:
    """The report as table lines (bench table and test output)."""
    r, m, g, x = report, report["mail"], report["log"], report["machine"] or {}
    lines = [
        f"   {r['database']}: {r['clients']} clients for {r['seconds']:g} s (all done after {r['wall_seconds']} s),"
        f" gunicorn -w {r['workers']} {r['worker_class']}, bcrypt cost {r['bcrypt_rounds']}",
        f"     journeys completed {r['journeys_completed']:,} of {r['journeys_started']:,} started:"
        f" {r['journeys_per_second']} /s; requests {r['requests']:,}: {r['requests_per_second']} /s;"
        f" {r['downloaded_mb']:,} MB downloaded",
        f"     {'step':<13}{'count':>8}{'p50 ms':>10}{'p99 ms':>10}{'max ms':>10}",
    ]
    for step, s in r["steps"].items():
        lines.append(
            f"     {step:<13}{s['count']:>8,}{s['p50_ms'] or '-':>10}{s['p99_ms'] or '-':>10}{s['max_ms'] or '-':>10}"
        )
    lines += [
        "     statuses: " + ", ".join(f"{k}: {v:,}" for k, v in r["statuses"].items()),
        f"     5xx {r['status_5xx']}, no answer (timeouts, connection errors) {r['no_answer']},"
        f" failed journeys {r['failures']}, client crashes {len(r['client_crashes'])}",
        f"     CPUs busy {x.get('busy_cpus')} of {x.get('cpus')}: gunicorn {x.get('gunicorn_cpus')}, load generator"
        f" {r['client_cpu']}, everything else {x.get('other_cpus')}"
        + (" (the PostgreSQL server among it)" if r["database"] == "postgresql" else "")
        + f"; gunicorn CPU per journey {x.get('gunicorn_cpu_ms_per_journey')} ms",
        f"     mail: {m['registered']:,} registered, {m['mails_received']:,} mails received,"
        f" {m['registered_without_mail']} without a mail, {m['registered_with_several']} with more than one,"
        f" {m['mails_to_others']} to others; outbox sent {m['outbox_sent']:,}, pending {m['outbox_pending']},"
        f" failed {m['outbox_failed']} (drained in {m['drain_seconds']} s)",
        f"     database: {m['users']:,} users, {m['users_verified']:,} verified, {m['downloads']:,} download rows",
        "     gunicorn log: " + ", ".join(f"{k} {g[k]}" for k in LOG_PROBLEMS),
    ]
    lines += [f"       {line}" for line in r["failure_examples"][:5] + g["examples"][:5]]
    return lines


def write_json(report: dict, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(report, indent=2) + "\n")
