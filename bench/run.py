"""Run every benchmark, print a table, write bench/results/latest.json.

    .venv/bin/python -m bench.run            # from the project root, about 4 minutes

Goals are printed as PASS/FAIL; they never change the exit status (only a benchmark that could
not run does).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import secrets
import shutil
import statistics
import sys
import tempfile
import time
import traceback
from datetime import UTC, datetime
from pathlib import Path

from harness import download, load
from harness.servers import WORKER_KIND, Gunicorn, Nginx, SmtpServer, app_env, fresh_database, migrate, outbox_counts

from . import (
    aio,
    catalogue,
    login,
    newsletter,
    registration,
    scaleout,
    search,
    sizes,
    stats,
    summit,
    transcode,
    uploads,
)

RESULTS = Path(__file__).resolve().parent / "results" / "latest.json"
LOGIN_RATIO_GOAL = 0.9
NOISE_CPUS = 0.25  # other processes using more than this many CPUs make the login ratio unreliable
# Registrations run one at a time (about one CPU busy), so only other load beyond the spare CPU skews them.
REGISTRATION_NOISE_CPUS = max((os.cpu_count() or 2) - 1.25, NOISE_CPUS)
SMTP_RATIO_GOAL = 1.25  # "≈ 1": slow-SMTP median at most 25 % above fast-SMTP median
CATALOGUE_RATIO_GOAL = 0.30  # catalogue page requests/s at least 30 % of a bare Flask page's
VISITOR_PAGE_RATIO_GOAL = 0.6  # issue #16: story, catalogue and search pages for new visitors vs the bare page
CATALOGUE_PAGE_SIZE = 24
SEARCH_P95_GOAL_MS = 20.0
DOWNLOAD_RATIO_GOAL = 0.8  # gunicorn at least 80 % of nginx's throughput
DOWNLOAD_RSS_GOAL_MB = 20.0
DOWNLOAD_FILE_NAME = "bench-large-download-1080p.mp4"
NEWSLETTER_MEMORY_GOAL = 1.25  # peak memory for 4x the subscribers at most 25 % higher ("flat")
UPLOAD_RATIO_GOAL = 0.8  # the portal's tus endpoint at least 80 % of a bare streaming WSGI app's throughput
UPLOAD_RSS_GOAL_MB = 30.0  # worker memory growth while receiving a 2 GiB master
TRANSCODE_RATIO_GOAL = 1.05  # a job through the queue at most 5 % slower than its ffmpeg command run directly
TRANSCODE_WAIT_GOAL_S = 2.0  # from the last byte of an upload to its job running
NGINX_CACHE_RATIO_GOAL = 0.8  # issue #16: a story page from nginx's proxy_cache vs the same bytes as a static file
SUMMIT_ERRORS_GOAL = 0  # issue #16, summit day: no failed request of any kind
SUMMIT_P99_GOAL_MS = 100.0  # issue #16, summit day: visitors' p99 below this
PARTS = [
    "sizes",
    "login",
    "registration",
    "catalogue",
    "search",
    "download",
    "newsletter",
    "load",
    "scaleout",
    "uploads",
    "transcode",
    "stats",
    "nginx",
    "summit",
]


def parse_args(argv):
    p = argparse.ArgumentParser(
        prog="python -m bench.run", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--only", choices=PARTS, action="append", help="run only this part (repeatable)")
    p.add_argument("--workers", type=int, default=2, help="gunicorn workers = bcrypt baseline processes (2)")
    p.add_argument("--clients", type=int, default=4, help="concurrent login client threads (4)")
    p.add_argument("--rounds", type=int, default=12, help="bcrypt cost for the app and the baseline (12)")
    p.add_argument("--login-seconds", type=float, default=15.0)
    p.add_argument("--bcrypt-seconds", type=float, default=10.0)
    p.add_argument(
        "--slices", type=int, default=3, help="bcrypt and login time are split into this many alternating slices (3)"
    )
    p.add_argument("--registrations", type=int, default=10, help="registrations per SMTP server (10)")
    p.add_argument("--smtp-delay", type=float, default=5.0, help="seconds the slow SMTP server sleeps in DATA")
    p.add_argument("--mail-wait", type=float, default=60.0, help="how long to wait for the slow server's mails")
    p.add_argument("--catalogue-stories", type=int, default=10_000)
    p.add_argument("--catalogue-clients", type=int, default=4, help="concurrent client threads for part 4 (4)")
    p.add_argument(
        "--catalogue-seconds",
        type=float,
        default=10.0,
        help="seconds of load on each of the catalogue and the bare app, split into --slices alternating slices (10)",
    )
    p.add_argument("--search-seconds", type=float, default=4.0, help="seconds of load on the HTMX search partial (4)")
    p.add_argument("--search-stories", type=int, default=100_000)
    p.add_argument("--search-rounds", type=int, default=3, help="timed runs of every search query (3)")
    p.add_argument(
        "--pg-build-seconds",
        type=float,
        default=100.0,
        help="PostgreSQL search build budget; fewer stories when it runs out (100)",
    )
    p.add_argument("--download-mib", type=int, default=1024, help="size of the download file in MiB (1024)")
    p.add_argument("--download-rounds", type=int, default=3, help="downloads per set-up (3)")
    p.add_argument("--subscribers", type=int, default=10_000)
    p.add_argument("--subscribers-small", type=int, default=2_500, help="the shorter list that shows memory is flat")
    p.add_argument("--newsletter-batch", type=int, default=500)
    p.add_argument("--load-clients", type=int, default=load.CLIENTS, help="concurrent browsers in part 8 (200)")
    p.add_argument(
        "--load-seconds",
        type=float,
        default=float(os.environ.get("LOAD_SECONDS", load.SECONDS)),
        help="seconds of load on each database in part 8 ($LOAD_SECONDS, else 60)",
    )
    p.add_argument("--load-workers", type=int, default=load.WORKERS, help="gunicorn workers in part 8 (4)")
    p.add_argument("--load-rounds", type=int, default=load.ROUNDS, help="bcrypt cost in part 8 (4)")
    p.add_argument(
        "--upload-mib",
        type=int,
        default=2048,
        help="size of the uploaded master in MiB (2048); smaller for a quick run",
    )
    p.add_argument("--upload-rounds", type=int, default=2, help="uploads to each of the portal and the bare app (2)")
    p.add_argument("--transcode-rounds", type=int, default=3, help="jobs through the queue and direct runs (3)")
    p.add_argument("--transcode-seconds", type=float, default=20.0, help="length of the test master (20 s)")
    p.add_argument("--transcode-size", default="1280x720", help="picture size of the test master (1280x720)")
    scaleout.add_arguments(p)
    p.add_argument("--stats-downloads", type=int, default=1_000_000, help="download rows for part stats (1,000,000)")
    p.add_argument("--nginx-connections", type=int, default=32, help="keep-alive connections in part nginx (32)")
    p.add_argument(
        "--nginx-seconds",
        type=float,
        default=12.0,
        help="seconds on each of the static file and the"
        " cached page in part nginx, split into --slices alternating slices (12)",
    )
    p.add_argument("--summit-visitors", type=int, default=2000, help="concurrent anonymous visitors (2,000)")
    p.add_argument("--summit-downloaders", type=int, default=50, help="logged-in people downloading (50)")
    p.add_argument("--summit-registrants", type=int, default=20, help="people registering (20)")
    p.add_argument("--summit-seconds", type=float, default=60.0, help="length of the summit (60; 10 for a check)")
    p.add_argument(
        "--summit-think",
        type=float,
        nargs=2,
        default=(1.0, 3.0),
        metavar=("MIN", "MAX"),
        help="each visitor's and registrant's think time between requests, uniform (1 3 s)",
    )
    p.add_argument(
        "--summit-download-think",
        type=float,
        nargs=2,
        default=(0.0, 0.0),
        metavar=("MIN", "MAX"),
        help="think time between one person's downloads (0 0: back to back)",
    )
    p.add_argument(
        "--client-processes", type=int, default=2, help="load generator processes in parts nginx and summit (2)"
    )
    p.add_argument("--keep", action="store_true", help="keep the temporary directory (databases, gunicorn logs)")
    return p.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    wanted = set(args.only or PARTS)
    workdir = Path(tempfile.mkdtemp(prefix="bench-"))
    results: dict = {"meta": meta(args, workdir), "errors": {}}
    started = time.monotonic()
    try:
        template = workdir / "template.db"
        progress("migrating a template database (flask db upgrade)")
        migrate(template)
        if "sizes" in wanted:
            run_part(results, "sizes", lambda: run_sizes(template, workdir))
        if "login" in wanted:
            run_part(results, "login", lambda: run_login(args, template, workdir))
        if "registration" in wanted:
            run_part(results, "registration", lambda: run_registration(args, template, workdir))
        if "catalogue" in wanted:
            run_part(results, "catalogue", lambda: run_catalogue(args, template, workdir))
        if "search" in wanted:
            run_part(results, "search", lambda: run_search(args, template, workdir))
        if "download" in wanted:
            run_part(results, "download", lambda: run_download(args, template, workdir))
        if "newsletter" in wanted:
            run_part(results, "newsletter", lambda: run_newsletter(args, template, workdir))
        if "load" in wanted:
            run_part(results, "load", lambda: run_load(args, workdir))
        if "scaleout" in wanted:
            run_part(results, "scaleout", lambda: run_scaleout(args, workdir))
        if "uploads" in wanted:
            run_part(results, "uploads", lambda: run_uploads(args, template, workdir))
        if "transcode" in wanted:
            run_part(results, "transcode", lambda: run_transcode(args, template, workdir))
        if "stats" in wanted:
            run_part(results, "stats", lambda: run_stats(args, template, workdir))
        if "nginx" in wanted:
            run_part(results, "nginx", lambda: run_nginx(args, workdir))
        if "summit" in wanted:
            run_part(results, "summit", lambda: run_summit(args, workdir))
    finally:
        results["meta"]["total_seconds"] = round(time.monotonic() - started, 1)
        RESULTS.parent.mkdir(parents=True, exist_ok=True)
        RESULTS.write_text(json.dumps(results, indent=2) + "\n")
        print(render(results))
        print(f"\nJSON: {RESULTS.relative_to(Path.cwd()) if RESULTS.is_relative_to(Path.cwd()) else RESULTS}")
        if args.keep:
            print(f"kept {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    return 1 if results["errors"] else 0


def progress(message: str) -> None:
    print(f"[bench] {message}", file=sys.stderr, flush=True)


def run_part(results: dict, name: str, function) -> None:
    started = time.monotonic()
    try:
        results[name] = function()
    except Exception as exc:  # record it, go on with the other parts
        traceback.print_exc()
        results["errors"][name] = f"{type(exc).__name__}: {exc}"
    finally:
        results["meta"].setdefault("part_seconds", {})[name] = round(time.monotonic() - started, 1)


def meta(args, workdir: Path) -> dict:
    import bcrypt

    return {
        "time": datetime.now(UTC).isoformat(timespec="seconds"),
        "python": platform.python_version(),
        "cpus": os.cpu_count(),
        "bcrypt": bcrypt.__version__,
        "settings": {k: v for k, v in vars(args).items() if k not in ("keep",)},
        "workdir": str(workdir),
    }


# --- the parts -------------------------------------------------------------------------


def run_sizes(template: Path, workdir: Path) -> dict:
    progress("1/7 partial vs full page sizes (Flask test client)")
    rows = sizes.measure(fresh_database(template, workdir / "sizes.db"))
    return {"limit_bytes": sizes.PARTIAL_LIMIT, "steps": rows, "pass": all(r["pass"] for r in rows if r["goal_step"])}


def run_login(args, template: Path, workdir: Path) -> dict:
    database = fresh_database(template, workdir / "login.db")
    env = app_env(database, BCRYPT_ROUNDS=args.rounds, MAIL_DISPATCH="worker")
    progress(
        f"2/7 gunicorn -w {args.workers}; {args.slices} slices of raw bcrypt (cost {args.rounds},"
        f" {args.workers} processes) and of logins ({args.clients} clients)"
    )
    with Gunicorn(env, workdir / "gunicorn-login.log", args.workers) as server:
        address = "login-bench@example.org"
        login.create_verified_user(server.url, database, address)
        measured = login.interleaved(
            server.url,
            address,
            rounds=args.rounds,
            processes=args.workers,
            clients=args.clients,
            bcrypt_seconds=args.bcrypt_seconds,
            login_seconds=args.login_seconds,
            slices=args.slices,
            server_cpu=server.workers_cpu_seconds,
            progress=progress,
        )
    baseline, app = measured["bcrypt"], measured["app"]
    ratio = app["per_second"] / baseline["per_second"]
    cpu_ratio = (
        baseline["cpu_ms_per_call"] / app["server_cpu_ms_per_login"]
        if baseline["cpu_ms_per_call"] and app["server_cpu_ms_per_login"]
        else None
    )
    noisy = max(baseline["other_cpus"] or 0.0, app["other_cpus"] or 0.0) > NOISE_CPUS
    return {
        "bcrypt": baseline,
        "app": app,
        "ratio": ratio,
        "cpu_ratio": cpu_ratio,
        "noisy": noisy,
        "goal": LOGIN_RATIO_GOAL,
        "pass": ratio >= LOGIN_RATIO_GOAL,
    }


def run_registration(args, template: Path, workdir: Path) -> dict:
    tag = secrets.token_hex(3)
    delays = {"fast": 0.0, "slow": args.smtp_delay}
    out = {"smtp_delay_s": args.smtp_delay}
    progress(
        f"3/7 {args.registrations} registrations each on a fast and a slow ({args.smtp_delay:g} s per DATA)"
        " SMTP set-up, alternating"
    )
    with contextlib.ExitStack() as stack:  # leaving it stops every gunicorn, then every SMTP server
        smtps, servers, databases = {}, {}, {}
        for label, delay in delays.items():
            smtps[label] = stack.enter_context(SmtpServer(delay))
        for label in delays:
            databases[label] = fresh_database(template, workdir / f"register-{label}.db")
            env = app_env(
                databases[label], MAIL_SERVER="127.0.0.1", MAIL_PORT=smtps[label].port, MAIL_DISPATCH="thread"
            )
            servers[label] = stack.enter_context(
                Gunicorn(env, workdir / f"gunicorn-register-{label}.log", args.workers)
            )
        runs = registration.register_alternating(servers, args.registrations, tag)
        progress(f"3/7 waiting up to {args.mail_wait:g} s for the SMTP servers to receive the mails")
        for label in delays:  # fast first: its mails are there already
            mail = registration.wait_for_mail(smtps[label], runs[label].pop("posted_at"), args.mail_wait)
            out[label] = {**runs[label], "mail": mail}
        for label in delays:  # the worker marks a row sent a moment after the SMTP server took it
            deadline = time.monotonic() + 5
            while True:
                counts = outbox_counts(databases[label], f"bench-{label}-%")
                if counts["sent"] >= out[label]["mail"]["received"] or time.monotonic() > deadline:
                    break
                time.sleep(0.1)
            out[label]["mail"]["outbox"] = counts
    out["ratio"] = out["slow"]["median_ms"] / out["fast"]["median_ms"]
    out["goal"] = SMTP_RATIO_GOAL
    out["pass"] = out["ratio"] <= SMTP_RATIO_GOAL
    out["mail_pass"] = all(out[k]["mail"]["received"] == out[k]["mail"]["expected"] > 0 for k in delays)
    return out


def run_catalogue(args, template: Path, workdir: Path) -> dict:
    database = workdir / "catalogue.db"
    progress(f"4/7 building a database with {args.catalogue_stories:,} stories")
    built = catalogue.build(template, database, args.catalogue_stories)
    env = app_env(database, CATALOGUE_PAGE_SIZE=CATALOGUE_PAGE_SIZE, MAIL_DISPATCH="worker")
    with contextlib.ExitStack() as stack:  # leaving it stops both gunicorns
        app_server = stack.enter_context(Gunicorn(env, workdir / "gunicorn-catalogue.log", args.workers))
        pages = catalogue.check_pages(app_server.url, CATALOGUE_PAGE_SIZE)
        bare_env = {**app_env(database), "BENCH_PAGE_BYTES": str(pages["page_bytes"])}
        bare_server = stack.enter_context(
            Gunicorn(bare_env, workdir / "gunicorn-bare.log", args.workers, target="bench.bare_app:app")
        )
        visitor_pages = {"story page": catalogue.story_path(app_server.url), "search results page": "/?q=nato"}
        measured = catalogue.measure(
            app_server,
            bare_server,
            clients=args.catalogue_clients,
            seconds=args.catalogue_seconds,
            slices=args.slices,
            search_seconds=args.search_seconds,
            visitor_pages=visitor_pages,
            progress=progress,
        )
    app, bare = measured["app"], measured["bare"]
    ratio = app["per_second"] / bare["per_second"] if bare["per_second"] else 0.0
    cpu_ratio = (
        bare["server_cpu_ms_per_request"] / app["server_cpu_ms_per_request"]
        if bare["server_cpu_ms_per_request"] and app["server_cpu_ms_per_request"]
        else None
    )
    for page in measured["visitor_pages"].values():  # issue #16: each ≥ VISITOR_PAGE_RATIO_GOAL
        page["ratio"] = page["per_second"] / bare["per_second"] if bare["per_second"] else 0.0
        page["pass"] = page["ratio"] >= VISITOR_PAGE_RATIO_GOAL and not page["errors"] and not page["non_200"]
    return {
        **built,
        **pages,
        **measured,
        "workers": args.workers,
        "clients": args.catalogue_clients,
        "page_size": CATALOGUE_PAGE_SIZE,
        "ratio": ratio,
        "cpu_ratio": cpu_ratio,
        "goal": CATALOGUE_RATIO_GOAL,
        "pass": ratio >= CATALOGUE_RATIO_GOAL and not app["errors"],
    }


def run_search(args, template: Path, workdir: Path) -> dict:
    database = workdir / "search.db"
    progress(f"5/7 building a SQLite database with {args.search_stories:,} stories and its FTS5 index")
    out = {"sqlite": {"build": search.build_sqlite(template, database, args.search_stories, progress)}}
    out["sqlite"].update(
        search.measure(f"sqlite:///{database}", args.search_rounds, progress=progress, label="SQLite ")
    )
    database.unlink(missing_ok=True)
    out["goal_ms"] = SEARCH_P95_GOAL_MS
    out["pass"] = out["sqlite"]["fts_p95_ms"] <= SEARCH_P95_GOAL_MS

    def on_postgres(pg) -> dict:
        progress(
            f"5/7 PostgreSQL: database {pg.name}, up to {args.search_stories:,} stories in {args.pg_build_seconds:g} s"
        )
        found = {
            "build": search.build_postgres(pg.url, args.search_stories, args.pg_build_seconds, progress),
            "database": pg.name,
        }
        found.update(search.measure(pg.url, args.search_rounds, progress=progress, label="PostgreSQL "))
        found["pass"] = found["fts_p95_ms"] <= SEARCH_P95_GOAL_MS
        return found

    out["postgresql"] = optional_postgres(on_postgres)
    return out


def optional_postgres(run) -> dict:
    """``run(database)`` on a fresh PostgreSQL database next to TEST_DATABASE_URL's, when it is set;
    a failure is noted, and the SQLite numbers are kept."""
    pg_url = os.environ.get("TEST_DATABASE_URL")
    if not pg_url:
        return {"skipped": "TEST_DATABASE_URL is not set"}
    try:
        with search.PostgresDatabase(pg_url) as pg:
            return run(pg)
    except Exception as exc:
        traceback.print_exc()
        return {"error": f"{type(exc).__name__}: {exc}"}


def run_stats(args, template: Path, workdir: Path) -> dict:
    """The statistics page over a big download log, on SQLite and (with TEST_DATABASE_URL) PostgreSQL."""
    database = fresh_database(template, workdir / "stats.db")
    progress(f"stats: SQLite, {args.stats_downloads:,} downloads")
    out = {"goal_ms": stats.GOAL_MS, "sqlite": stats.build(f"sqlite:///{database}", args.stats_downloads, progress)}
    out["sqlite"].update(stats.measure(f"sqlite:///{database}"))
    database.unlink(missing_ok=True)

    def on_postgres(pg) -> dict:
        progress(f"stats: PostgreSQL database {pg.name}, {args.stats_downloads:,} downloads")
        return {**stats.build(pg.url, args.stats_downloads, progress, create=True), **stats.measure(pg.url)}

    out["postgresql"] = optional_postgres(on_postgres)
    return out


def run_nginx(args, workdir: Path) -> dict:
    with summit.database(workdir) as (url, label):
        progress(
            f"nginx: the demo catalogue on {label}, gunicorn -w {args.workers}, nginx with the README's proxy_cache"
        )
        out = summit.measure_cache(
            workdir / "nginx-part",
            url,
            connections=args.nginx_connections,
            seconds=args.nginx_seconds,
            slices=args.slices,
            processes=args.client_processes,
            workers=args.workers,
            progress=progress,
        )
    errors = out["cached"]["errors"] + out["static"]["errors"]
    return {
        **out,
        "database": label,
        "goal": NGINX_CACHE_RATIO_GOAL,
        "pass": out["ratio"] >= NGINX_CACHE_RATIO_GOAL and not errors,
    }


def render_nginx(r: dict | None) -> list[str]:
    if not r:
        return []

    def row(label, x):
        return (
            f"   {label:<34}{x['per_second']:8.0f} req/s   ({x['requests']:,} in {x['seconds']:g} s; slices "
            + ", ".join(str(v) for v in x["slices_per_second"])
            + f"; p50 {x['latency_p50_ms']} ms,"
            f" p99 {x['latency_p99_ms']} ms; {x['body_bytes']:,} B; nginx CPU {x['nginx_cpu_us_per_request']} µs a"
            f" request; {x['errors']} errors; X-Cache-Status "
            + ", ".join(f"{k} {v:,}" for k, v in x["cache"].items())
            + ")"
        )

    s, c = r["static"], r["cached"]
    return [
        "",
        f"nginx. Story page {r['path']} through nginx's proxy_cache (README) vs the same bytes as a static file,"
        f" same nginx (1 worker), {r['connections']} keep-alive connections from {r['processes']} client processes,"
        f" new visitors (no cookie), {r['slices']} alternating slices",
        row("static file (baseline)", s),
        row("story page from the cache", c),
        f"   {'ratio cached / static':<34}{r['ratio']:8.2f}         goal ≥ {r['goal']}   {verdict(r['pass'])}",
        f"   nginx CPU a request: static {s['nginx_cpu_us_per_request']} µs, cached {c['nginx_cpu_us_per_request']} µs"
        " -> CPU ratio " + (f"{r['cpu_ratio']:.2f}" if r["cpu_ratio"] else "n/a") + " (steadier under other load)",
        f"   load generator {s['client_cpus']} / {c['client_cpus']} CPUs,"
        f" machine busy {s['busy_cpus']} / {c['busy_cpus']} CPUs (static / cached slices);"
        f" gunicorn CPU in the cached slices {c['app_cpu_seconds']} s"
        f" (revalidations); load average {r['load_1min_min']}–{r['load_1min_max']}",
    ]


def run_summit(args, workdir: Path) -> dict:
    aio.raise_fd_limit()
    with summit.database(workdir) as (url, label):
        progress(
            f"summit: the demo catalogue on {label}, gunicorn -w {args.workers}, nginx with the README's proxy_cache"
        )
        out = summit.summit(
            workdir / "summit-part",
            url,
            visitors=args.summit_visitors,
            downloaders=args.summit_downloaders,
            registrants=args.summit_registrants,
            seconds=args.summit_seconds,
            think=tuple(args.summit_think),
            download_think=tuple(args.summit_download_think),
            processes=args.client_processes,
            workers=args.workers,
            progress=progress,
        )
    v = out["visits"]
    return {
        **out,
        "p99_goal_ms": SUMMIT_P99_GOAL_MS,
        "errors_goal": SUMMIT_ERRORS_GOAL,
        "errors_pass": out["errors"] <= SUMMIT_ERRORS_GOAL,
        "p99_pass": v["p99_ms"] is not None and v["p99_ms"] < SUMMIT_P99_GOAL_MS,
    }


def render_summit(r: dict | None) -> list[str]:
    if not r:
        return []
    v, d, g = r["visits"], r["downloads"], r["registrations"]
    lines = [
        "",
        f"summit. {r['visitors']:,} visitors + {r['downloaders']} downloading + {r['registrants']} registering"
        f" for {r['seconds']:g} s through nginx (README proxy_cache), gunicorn -w {r['workers']}, {r['database']},"
        f" think time {r['think_s'][0]:g}–{r['think_s'][1]:g} s (downloads: {r['download_think_s'][0]:g}–"
        f"{r['download_think_s'][1]:g} s), visitors keep-alive",
        f"   visitors: {v['requests']:,} requests ({v['per_second']} /s), p50 {v['p50_ms']} ms, p95 {v['p95_ms']} ms,"
        f" p99 {v['p99_ms']} ms, max {v['max_ms']} ms   goal p99 < {r['p99_goal_ms']:g} ms   {verdict(r['p99_pass'])}",
        "     "
        + "; ".join(
            f"{k}: {x['requests']:,}, p50 {x['p50_ms']} ms, p99 {x['p99_ms']} ms" for k, x in v["by_page"].items()
        )
        + "; cache "
        + ", ".join(f"{k} {n:,}" for k, n in v["cache"].items())
        + f"; {v['connects']:,} connections; client event-loop lag up to {v['loop_lag_max_ms']} ms",
        f"   downloads: {d['completed']:,} ({d['ranges']:,} of them Range), {d['mb']:,} MB, {d['mb_per_s']} MB/s,"
        f" {d['per_second']} /s; p50 {d['p50_ms']} ms, p99 {d['p99_ms']} ms",
        f"   registrations completed: {g['completed']:,}; steps "
        + "; ".join(f"{k} p50 {x['p50_ms']} / p99 {x['p99_ms']} ms" for k, x in g["steps"].items()),
        f"   errors: visitors {v['errors']}, downloads {d['errors']}, registrations {g['errors']}, gunicorn log "
        + ", ".join(f"{k} {n}" for k, n in r["log"].items())
        + f"   goal {r['errors_goal']}   {verdict(r['errors_pass'])}",
        f"   CPUs busy {r['busy_cpus']} of 2: "
        + ", ".join(f"{k} {n}" for k, n in r["cpus_used"].items())
        + f"; load average {r['load_1min_min']}–{r['load_1min_max']} (mean {r['load_1min_mean']})",
    ]
    lines += [f"     {e}" for e in v["error_examples"] + d["error_examples"] + g["error_examples"] + r["log_examples"]][
        :8
    ]
    return lines


def render_stats(s: dict | None) -> list[str]:
    if not s:
        return []
    lines = [
        "",
        f"stats. Statistics page over a big download log (goal: median ≤ {s['goal_ms']:g} ms on each database)",
    ]
    for name in ("sqlite", "postgresql"):
        r = s.get(name) or {}
        if "downloads" not in r:
            lines.append(f"   {name}: {r.get('skipped') or r.get('error')}")
            continue
        lines.append(
            f"   {name}: {r['downloads']:,} downloads, {r['roll_up_rows']:,} roll-up rows"
            f" (built in {r['build_seconds']:g} s)"
        )
        for page, value in r.items():
            if isinstance(value, dict):
                p95 = f", p95 {value['p95_ms']} ms" if value["p95_ms"] is not None else ""
                lines.append(f"     {page:<52} median {value['median_ms']:8.1f} ms{p95}")
            elif page.startswith("check"):
                lines.append(f"     {page:<52} {'yes' if value else 'NO'}")
        lines.append(f"     {'statistics pages':<52} {verdict(r['pass'])}")
    return lines


def run_download(args, template: Path, workdir: Path) -> dict:
    """6. A 1 GiB download through gunicorn (the app sends the file) vs the same file from nginx.

    Three set-ups serve the same file, taking turns, ``rounds`` downloads each:

    - nginx: a static ``alias`` location (sendfile), the baseline;
    - gunicorn: ``-w 1`` (gunicorn.conf.py), ``GET /download/<id>`` with a logged-in verified account; the
      app answers with ``send_file``;
    - nginx + X-Accel: nginx proxies ``/download/<id>`` to a second gunicorn running with
      ``DOWNLOAD_ACCEL=nginx``, and serves the file itself from an ``internal`` location (information).

    The client reads and discards the body in 1 MiB chunks on a raw socket. While gunicorn sends,
    a thread samples the worker's VmRSS every 50 ms.
    """
    media_root = workdir / "media"
    stored = f"{download.STORY_SLUG}/{DOWNLOAD_FILE_NAME}"
    big_file = media_root / stored
    database = fresh_database(template, workdir / "download.db")
    try:
        progress(f"6/7 writing a {args.download_mib:,} MiB file")
        written = download.write_file(big_file, args.download_mib)
        size = written["bytes"]
        rendition_id = download.register(database, media_root, stored, size)
        env = app_env(database, MEDIA_ROOT=media_root, MAIL_DISPATCH="worker")
        download.create_staff(env)
        with contextlib.ExitStack() as stack:  # leaving it stops nginx, then the gunicorns
            direct = stack.enter_context(Gunicorn(env, workdir / "gunicorn-download.log", 1))
            accel_env = {**env, "FLASK_DOWNLOAD_ACCEL": "nginx"}
            accel = stack.enter_context(Gunicorn(accel_env, workdir / "gunicorn-download-accel.log", 1))
            locations = f"""
        location /static-media/ {{ alias {media_root}/; }}
        location /protected-media/ {{ internal; alias {media_root}/; }}
        location / {{ proxy_pass http://127.0.0.1:{accel.port}; }}"""
            nginx = stack.enter_context(Nginx(workdir / "nginx", locations))
            path = f"/download/{rendition_id}"
            cookies = {"direct": download.log_in(direct.url), "accel": download.log_in(nginx.url)}
            setups = {  # label -> (port, path, cookie, worker whose RSS we sample)
                "nginx": (nginx.port, f"/static-media/{stored}", None, None),
                "gunicorn": (direct.port, path, cookies["direct"], direct.worker_pids()[0]),
                "nginx_accel": (nginx.port, path, cookies["accel"], accel.worker_pids()[0]),
            }
            download.warm_up(*setups["nginx"][:3])
            download.warm_up(*setups["gunicorn"][:3])
            download.warm_up(*setups["nginx_accel"][:3])  # a failing hand-off fails the part
            runs = {label: [] for label in setups}
            for r in range(args.download_rounds):
                progress(
                    f"6/7 round {r + 1}/{args.download_rounds}: {size / 2**30:g} GiB from nginx, from gunicorn,"
                    " and through nginx with X-Accel-Redirect"
                )
                for label, (port, url, cookie, pid) in setups.items():
                    runs[label].append(download.download(port, url, cookie, size, pid))
        logged = count_rows(database, "SELECT COUNT(*) FROM downloads")
    finally:
        big_file.unlink(missing_ok=True)
    out = {label: summarize_downloads(r) for label, r in runs.items()}
    out.update(
        written,
        rounds=args.download_rounds,
        downloads_logged=logged,
        download_requests=2 * (args.download_rounds + 1),
        file_deleted=not big_file.exists(),
    )
    out["ratio"] = out["gunicorn"]["mb_per_s"] / out["nginx"]["mb_per_s"]
    out["goal"], out["rss_goal_mb"] = DOWNLOAD_RATIO_GOAL, DOWNLOAD_RSS_GOAL_MB
    out["pass"] = out["ratio"] >= DOWNLOAD_RATIO_GOAL
    out["rss_pass"] = out["gunicorn"]["rss_growth_mb"] <= DOWNLOAD_RSS_GOAL_MB
    return out


def summarize_downloads(runs: list[dict]) -> dict:
    out = {
        "runs": runs,
        "mb_per_s": statistics.median(r["mb_per_s"] for r in runs),
        "seconds_median": statistics.median(r["seconds"] for r in runs),
    }
    if "rss_growth_mb" in runs[0]:
        out["rss_growth_mb"] = max(r["rss_growth_mb"] for r in runs)
        out["rss_before_mb"] = runs[0]["rss_before_mb"]
    return out


def count_rows(database: Path, sql: str) -> int:
    import sqlite3

    with sqlite3.connect(database, timeout=10) as connection:
        return connection.execute(sql).fetchone()[0]


def run_newsletter(args, template: Path, workdir: Path) -> dict:
    progress(f"7/7 newsletter databases: {args.subscribers:,} and {args.subscribers_small:,} subscribers")
    out = newsletter.measure(
        template, workdir, args.subscribers, args.subscribers_small, args.newsletter_batch, progress
    )
    big, small = out["digest_traced"]["tracemalloc_peak_mb"], out["small_traced"]["tracemalloc_peak_mb"]
    out["memory_ratio"] = big / small if small else None
    out["goal"] = NEWSLETTER_MEMORY_GOAL
    out["pass"] = out["memory_ratio"] is not None and out["memory_ratio"] <= NEWSLETTER_MEMORY_GOAL
    out["queued_ok"] = (
        out["digest"]["queued"] == out["digest"]["outbox_rows"] == out["digest"]["delivery_rows"] == args.subscribers
    )
    return out


def run_load(args, workdir: Path) -> dict:
    out = {}
    settings = dict(
        clients=args.load_clients,
        seconds=args.load_seconds,
        workers=args.load_workers,
        rounds=args.load_rounds,
        progress=lambda m: progress(f"8. {m}"),
    )
    out["sqlite"] = load.run(f"sqlite:///{workdir / 'load.db'}", workdir / "load-sqlite", **settings)
    pg_url = os.environ.get("TEST_DATABASE_URL")
    if pg_url:
        with scratch_postgres(pg_url) as pg:
            out["postgresql"] = load.run(pg.url, workdir / "load-postgresql", label="postgresql", **settings)
    else:
        out["postgresql"] = {"skipped": "TEST_DATABASE_URL is not set"}
    out["pass"] = all(load.faults(r) == [] for r in out.values() if "skipped" not in r)
    return out


def scratch_postgres(base_url: str):
    """The search part's ``CREATE DATABASE`` helper, named ``bench_load_<hex>``: the bench's own
    database next to TEST_DATABASE_URL's, dropped again on exit."""
    from .search import PostgresDatabase

    database = PostgresDatabase(base_url)
    database.name = f"bench_load_{secrets.token_hex(4)}"
    database.url = database.base.set(database=database.name).render_as_string(hide_password=False)
    return database


def run_scaleout(args, workdir: Path) -> dict:
    (workdir / "scaleout").mkdir()
    return scaleout.run_from_args(args, workdir / "scaleout", report=lambda message: progress(f"scale-out: {message}"))


def upload_env(database: Path, media_root: Path, **settings) -> dict[str, str]:
    """The portal as staff upload to it: a staff account, no disk reserve (a bench machine's disk)."""
    # the bench logs in with the password alone: the second factor the staff area asks for is not what it measures
    env = app_env(
        database,
        MEDIA_ROOT=media_root,
        MAIL_DISPATCH="worker",
        UPLOAD_DISK_RESERVE_BYTES=0,
        STAFF_REQUIRE_SECOND_FACTOR="false",
        **settings,
    )
    download.create_staff(env)
    return env


def run_uploads(args, template: Path, workdir: Path) -> dict:
    database, media_root = fresh_database(template, workdir / "uploads.db"), workdir / "upload-media"
    story_id = uploads.make_story(database, media_root, "bench-upload")
    env = upload_env(database, media_root)
    bare_file = workdir / "bare-upload.part"
    progress(
        f"uploads: {args.upload_mib:,} MiB masters, {args.upload_rounds} rounds, to gunicorn -w 1 with the"
        " portal and with a bare streaming WSGI app"
    )
    with contextlib.ExitStack() as stack:
        portal = stack.enter_context(Gunicorn(env, workdir / "gunicorn-uploads.log", 1))
        bare = stack.enter_context(
            Gunicorn(
                {**env, "BENCH_UPLOAD_FILE": str(bare_file)},
                workdir / "gunicorn-bare-upload.log",
                1,
                target="bench.bare_upload:app",
            )
        )
        from app.config import DefaultConfig

        out = uploads.measure(
            portal,
            bare,
            story_id,
            mib=args.upload_mib,
            chunk=DefaultConfig.UPLOAD_CHUNK_BYTES,
            rounds=args.upload_rounds,
            bare_file=bare_file,
            progress=progress,
        )
    out["ratio"] = out["portal"]["mb_per_s"] / out["bare"]["mb_per_s"]
    out.update(goal=UPLOAD_RATIO_GOAL, rss_goal_mb=UPLOAD_RSS_GOAL_MB)
    out["pass"] = out["ratio"] >= UPLOAD_RATIO_GOAL
    out["rss_pass"] = out["portal"]["rss_growth_mb"] <= UPLOAD_RSS_GOAL_MB
    return out


def run_transcode(args, template: Path, workdir: Path) -> dict:
    database, media_root = fresh_database(template, workdir / "transcode.db"), workdir / "transcode-media"
    media_root.mkdir(parents=True, exist_ok=True)
    story_id = uploads.make_story(database, media_root, "bench-transcode")
    ladder = transcode.preview_ladder()
    env = upload_env(
        database,
        media_root,
        TRANSCODE_LADDER=json.dumps(ladder),
        JOBS_WORKERS=1,
        JOBS_URL=f"sqlite:///{workdir / 'jobs.db'}",
    )
    progress(f"transcode: making a {args.transcode_seconds:g} s {args.transcode_size} test master")
    master = transcode.make_master(workdir / "bench-master.mp4", args.transcode_seconds, args.transcode_size)
    worker = transcode.worker_process(env, workdir / "jobs-worker.log")
    try:
        with Gunicorn(env, workdir / "gunicorn-transcode.log", 1) as portal:
            out = transcode.measure(
                portal,
                database,
                media_root,
                story_id,
                master,
                rounds=args.transcode_rounds,
                ladder=ladder,
                progress=progress,
            )
    finally:
        worker.terminate()
        worker.wait(30)
    out.update(
        goal=TRANSCODE_RATIO_GOAL,
        wait_goal_s=TRANSCODE_WAIT_GOAL_S,
        master=args.transcode_size,
        master_seconds=args.transcode_seconds,
    )
    out["pass"] = out["ratio"] <= TRANSCODE_RATIO_GOAL
    out["wait_pass"] = out["wait_s_max"] <= TRANSCODE_WAIT_GOAL_S
    return out


# --- the table -------------------------------------------------------------------------------


def verdict(ok: bool) -> str:
    return "PASS" if ok else "FAIL"


def render(results: dict) -> str:
    lines = [
        "",
        "=" * 86,
        f"Portal benchmarks — {results['meta']['time']}, "
        f"{results['meta']['cpus']} CPUs, Python {results['meta']['python']}, bcrypt {results['meta']['bcrypt']}",
        "=" * 86,
    ]
    s = results.get("sizes")
    if s:
        lines += [
            "",
            f"1. HTMX partial vs full page, response body bytes (goal: partial ≤ {s['limit_bytes']} B)",
            f"   {'step':<22}{'full B':>9}{'partial B':>11}{'gzip B':>9}{'partial/full':>14}   result",
        ]
        for r in s["steps"]:
            lines.append(
                f"   {r['step']:<22}{r['full_bytes']:>9,}{r['partial_bytes']:>11,}{r['partial_gzip_bytes']:>9,}"
                f"{r['partial_share']:>13.0%}    {verdict(r['pass'])}{'' if r['goal_step'] else ' (extra)'}"
            )
        lines.append(f"   the four dialog steps                                               {verdict(s['pass'])}")
    lg = results.get("login")
    if lg:
        b, a = lg["bcrypt"], lg["app"]
        slices = lambda values: ", ".join(f"{v:.2f}" for v in values)  # noqa: E731
        lines += [
            "",
            f"2. Login throughput, bcrypt cost {b['rounds']}, {b['processes']} gunicorn workers / processes,"
            f" {len(b['slices_per_second'])} alternating slices",
            f"   {'raw bcrypt.checkpw ({} processes)'.format(b['processes']):<36}{b['per_second']:7.2f} /s"
            f"   ({b['calls']} calls in {b['seconds']} s; slices {slices(b['slices_per_second'])})",
            f"   {'app logins ({} client threads)'.format(a['clients']):<36}{a['per_second']:7.2f} /s"
            f"   ({a['successful_logins']} ok in {a['seconds']} s; slices {slices(a['slices_per_second'])};"
            f" {a['failed_logins']} failed, {a['connection_errors']} conn errors)",
            f"     login POST latency median / p95 {a['post_median_ms']} / {a['post_p95_ms']} ms;"
            f" CSRF GET median {a['get_median_ms']} ms; load generator used {a['client_cpu_share']:.2f} CPU",
            f"   {'ratio app / raw':<36}{lg['ratio']:7.2f}      goal ≥ {lg['goal']}   {verdict(lg['pass'])}",
            f"   CPU per op: checkpw {b['cpu_ms_per_call']} ms, login (GET+POST, server)"
            f" {a['server_cpu_ms_per_login']} ms -> CPU ratio "
            + (f"{lg['cpu_ratio']:.2f}" if lg["cpu_ratio"] else "n/a")
            + " (less sensitive to other load)",
            f"   other work on the machine: {b['other_cpus']} CPUs in bcrypt slices, {a['other_cpus']} in login"
            f" slices (gunicorn used {a['server_cpu_share']} CPUs)",
            "   (each login = GET /account/login for a CSRF token in a fresh cookie jar + HTMX POST."
            " Only successful POSTs",
            "    count: (n - 1) / time from the first to the last in each slice; the GETs' server time is",
            "    inside that time)",
        ]
        if lg.get("noisy"):
            lines += [
                f"   WARNING: other processes used more than {NOISE_CPUS} CPUs while we measured: the",
                "   wall-clock ratio is unreliable. Run again on a quiet machine; the CPU ratio is steadier.",
            ]
    rg = results.get("registration")
    if rg:
        f, sl = rg["fast"], rg["slow"]
        lines += [
            "",
            "3. Registration POST time, MAIL_DISPATCH=thread; fast and slow set-ups side by side, taking turns",
            f"   {'fast SMTP (no delay)':<28}median {f['median_ms']:8.1f} ms   max {f['max_ms']:8.1f} ms"
            f"   ({f['registrations'] - f['failed']}/{f['registrations']} ok)",
            f"   {'slow SMTP ({:g} s per DATA)'.format(rg['smtp_delay_s']):<28}median {sl['median_ms']:8.1f} ms"
            f"   max {sl['max_ms']:8.1f} ms   ({sl['registrations'] - sl['failed']}/{sl['registrations']} ok)",
            f"   {'ratio slow / fast':<28}       {rg['ratio']:8.2f}      goal ≈ 1 (≤ {rg['goal']})"
            f"   {verdict(rg['pass'])}",
        ]
        for label, r in (("fast", f), ("slow", sl)):
            m = r["mail"]
            lines.append(
                f"   {label} server received {m['received']}/{m['expected']} mails"
                f" (waited up to {m['timeout_s']:g} s); outbox rows sent {m['outbox']['sent']}/{m['outbox']['queued']}"
            )
            lines.append(
                f"     registration -> mail delay: median {m['delay_median_s']} s, max {m['delay_max_s']} s;"
                f" last mail {m['last_after_s']} s after the last registration"
            )
        lines.append(f"   every mail delivered                                     {verdict(rg['mail_pass'])}")
        other = (f.get("machine") or {}).get("other_cpus", 0.0)
        if other > REGISTRATION_NOISE_CPUS:
            lines += [
                f"   WARNING: other processes used {other:.2f} CPUs while we registered; the timing ratio"
                " may be off. Run again on a quiet machine."
            ]
    lines += render_catalogue(results.get("catalogue")) + render_search(results.get("search"))
    lines += render_download(results.get("download")) + render_newsletter(results.get("newsletter"))
    lines += render_load(results.get("load"))
    lines += scaleout.render(results.get("scaleout"))
    lines += render_uploads(results.get("uploads")) + render_transcode(results.get("transcode"))
    lines += render_stats(results.get("stats"))
    lines += render_nginx(results.get("nginx")) + render_summit(results.get("summit"))
    if results["errors"]:
        lines += ["", "ERRORS (these parts did not run to the end):"]
        lines += [f"   {name}: {error}" for name, error in results["errors"].items()]
    parts = results["meta"].get("part_seconds", {})
    lines.append(
        f"\ntotal {results['meta'].get('total_seconds', '?')} s"
        + (" (" + ", ".join(f"{k} {v:g} s" for k, v in parts.items()) + ")" if parts else "")
    )
    return "\n".join(lines)


def render_catalogue(c: dict | None) -> list[str]:
    if not c:
        return []
    b, a, q = c["bare"], c["app"], c["search"]

    def row(label, r):
        return (
            f"   {label:<34}{r['per_second']:8.1f} req/s   ({r['requests']:,} in {r['seconds']:g} s; slices "
            + ", ".join(f"{v:.0f}" for v in r["slices_per_second"])
            + f"; median {r['latency_median_ms']} ms,"
            f" p95 {r['latency_p95_ms']} ms; {r['body_bytes']:,} B; {r['non_200']} non-200, {r['errors']} errors)"
        )

    lines = [
        "",
        f"4. Catalogue first page ({c['stories']:,} stories, {c['page_size']} a page) vs bare Flask,"
        f" gunicorn -w {c['workers']}, {c['clients']} client threads",
        row("bare Flask, fixed page", b),
        row("catalogue GET /", a),
        f"   {'ratio catalogue / bare':<34}{c['ratio']:8.2f}         goal ≥ {c['goal']}   {verdict(c['pass'])}",
        f"   server CPU per request: bare {b['server_cpu_ms_per_request']} ms,"
        f" catalogue {a['server_cpu_ms_per_request']} ms -> CPU ratio "
        + (f"{c['cpu_ratio']:.2f}" if c["cpu_ratio"] else "n/a")
        + f"; load generator {a['client_cpu']} CPU",
        f"   CPUs busy outside the servers and the client (kernel network work for our connections, other"
        f" programs): {b['other_cpus']} in bare slices, {a['other_cpus']} in catalogue slices",
        row("HTMX search /?q=baltic (info)", q),
    ]
    catalogue_visitor = c["ratio"] >= VISITOR_PAGE_RATIO_GOAL and not a["errors"]
    lines.append(
        f"   {'catalogue / bare (issue #16)':<34}{c['ratio']:8.2f}         goal ≥ {VISITOR_PAGE_RATIO_GOAL}"
        f"   {verdict(catalogue_visitor)}"
    )
    for name, page in c.get("visitor_pages", {}).items():
        lines += [
            row(f"{name} GET {page['path']}"[:34], page),
            f"   {name + ' / bare (issue #16)':<34}{page['ratio']:8.2f}         goal ≥ {VISITOR_PAGE_RATIO_GOAL}"
            f"   {verdict(page['pass'])}",
        ]
    if (a["other_cpus"] or 0) > NOISE_CPUS:
        lines += [
            f"   WARNING: other processes used {a['other_cpus']} CPUs during the catalogue slices: the req/s"
            " ratio is unreliable. Run again on a quiet machine; the CPU ratio is steadier."
        ]
    return lines


def render_search(s: dict | None) -> list[str]:
    if not s:
        return []
    lines = [
        "",
        "5. Search latency, in-process: find_stories(parse_query({'q': ...}), 24) vs LIKE '%word%'"
        " (title/summary/body, newest first)",
    ]
    for name in ("sqlite", "postgresql"):
        r = s.get(name)
        if not r:
            continue
        if "skipped" in r or "error" in r:
            lines.append(f"   {name}: {r.get('skipped') or 'ERROR ' + r['error']}")
            continue
        b = r["build"]
        size = f", {b['database_mb']} MB" if "database_mb" in b else ""
        short = (
            f" (of {b['requested']:,} asked: build budget)" if b.get("requested", b["stories"]) > b["stories"] else ""
        )
        lines += [
            f"   {name}: {b['stories']:,} stories{short}, built in {b['build_seconds']} s{size};"
            f" {r['queries']} queries x {r['rounds']} rounds (a query's time = median of its rounds)",
            f"     {'':<22}{'median ms':>10}{'p95 ms':>9}{'max ms':>9}",
            f"     {'app search (' + ('FTS5' if name == 'sqlite' else 'tsvector') + ')':<22}"
            f"{r['fts_median_ms']:>10}{r['fts_p95_ms']:>9}{r['fts_max_ms']:>9}",
            f"     {'LIKE baseline':<22}{r['like_median_ms']:>10}{r['like_p95_ms']:>9}"
            f"{max(q['like_ms'] for q in r['per_query']):>9}",
            f"     speed-up (LIKE time / app time; below 1 = the app is slower): median {r['speedup_median']}x,"
            f" p95 {r['speedup_p95']}x",
            f"     goal: app search p95 ≤ {s['goal_ms']:g} ms   " + verdict(r["fts_p95_ms"] <= s["goal_ms"]),
            "     slowest app searches: "
            + ", ".join(
                f"{q['query']!r} {q['fts_ms']:.0f} ms" for q in sorted(r["per_query"], key=lambda q: -q["fts_ms"])[:6]
            ),
            f"     {'by kind of query':<22}{'app median / max ms':>22}{'LIKE median / max ms':>24}",
        ]
        lines += [
            f"     {k + ' (' + str(v['queries']) + ')':<22}{v['fts_median_ms']:>12} / {v['fts_max_ms']:<7}"
            f"{v['like_median_ms']:>14} / {v['like_max_ms']}"
            for k, v in r["by_kind"].items()
        ]
    return lines


def render_download(d: dict | None) -> list[str]:
    if not d:
        return []
    n, g, x = d["nginx"], d["gunicorn"], d["nginx_accel"]
    runs = lambda r: ", ".join(f"{v['mb_per_s']:.0f}" for v in r["runs"])  # noqa: E731
    return [
        "",
        f"6. {d['bytes'] / 2**30:g} GiB download, median of {d['rounds']} (MB/s = 10^6 bytes/s; runs in brackets)",
        f"   {'nginx static (baseline)':<36}{n['mb_per_s']:8.0f} MB/s   ({runs(n)})",
        f"   {'gunicorn -w 1, /download/<id>':<36}{g['mb_per_s']:8.0f} MB/s   ({runs(g)});"
        f" worker RSS {g['rss_before_mb']} MB before, growth ≤ {g['rss_growth_mb']} MB",
        f"   {'ratio gunicorn / nginx':<36}{d['ratio']:8.2f}        goal ≥ {d['goal']}   {verdict(d['pass'])}",
        f"   {'worker RSS growth during download':<36}{g['rss_growth_mb']:8.1f} MB     goal ≤ {d['rss_goal_mb']:g} MB"
        f"   {verdict(d['rss_pass'])}",
        f"   {'nginx + X-Accel-Redirect (info)':<36}{x['mb_per_s']:8.0f} MB/s   ({runs(x)}); gunicorn worker RSS"
        f" growth ≤ {x['rss_growth_mb']} MB",
        f"   download log rows {d['downloads_logged']} for {d['download_requests']} /download requests"
        f" (warm-ups included); test file deleted: {d['file_deleted']}",
    ]


def render_newsletter(n: dict | None) -> list[str]:
    if not n:
        return []
    d, b, dt, st, sp = n["digest"], n["baseline"], n["digest_traced"], n["small_traced"], n["small_digest"]
    label = f"send_digest, {d['queued']:,} subscribers"
    return [
        "",
        f"7. Newsletter digest queued in-process (MAIL_DISPATCH=worker), batches of {n['batch']},"
        f" {d['stories']} stories",
        f"   {label:<40}"
        f"{d['per_second']:8.0f} queued/s  ({d['ms_per_message']} ms each, {d['cpu_ms_per_message']} ms CPU;"
        f" {d['seconds']} s);"
        f" RSS {d['rss_before_mb']} -> {d['rss_after_mb']} MB, peak +{d['rss_peak_growth_mb']} MB",
        f"   {'baseline: queue_mail, account mails':<40}{b['per_second']:8.0f} queued/s"
        f"  ({b['ms_per_message']} ms each, {b['cpu_ms_per_message']} ms CPU); RSS peak +{b['rss_peak_growth_mb']} MB",
        f"   a digest mail costs {d['cpu_ms_per_message'] / b['cpu_ms_per_message']:.1f}x the CPU time of a plain"
        " account mail (the baseline)",
        f"   tracemalloc peak: {dt['queued']:,} subscribers {dt['tracemalloc_peak_mb']} MB,"
        f" {st['queued']:,} subscribers {st['tracemalloc_peak_mb']} MB -> ratio {n['memory_ratio']:.2f}"
        f"   goal ≤ {n['goal']} (flat)   {verdict(n['pass'])}",
        f"     in the {dt['queued']:,} run itself: peak {n['curve_peak_at_small_mb']} MB after the first"
        f" {n['small_subscribers']:,}, {n['curve_peak_at_end_mb']} MB at the end",
        f"   RSS peak growth (no tracemalloc): {d['rss_peak_growth_mb']} MB for {d['queued']:,},"
        f" {sp['rss_peak_growth_mb']} MB for {sp['queued']:,}",
        f"   outbox rows {d['outbox_rows']:,}, delivery rows {d['delivery_rows']:,}   {verdict(n['queued_ok'])}",
    ]


def render_uploads(u: dict | None) -> list[str]:
    if not u:
        return []
    p, b = u["portal"], u["bare"]

    def runs(r):
        return ", ".join(f"{v['mb_per_s']:.0f}" for v in r["runs"])

    return [
        "",
        f"10. Upload: {u['mib']:,} MiB master in PATCHes of {u['chunk_mib']:g} MiB, median of {u['rounds']}"
        " (MB/s = 10^6 bytes/s; runs in brackets)",
        f"   {'bare streaming WSGI app (baseline)':<36}{b['mb_per_s']:8.0f} MB/s   ({runs(b)})",
        f"   {'gunicorn -w 1, portal tus PATCH':<36}{p['mb_per_s']:8.0f} MB/s   ({runs(p)})",
        f"   {'ratio portal / bare':<36}{u['ratio']:8.2f}        goal ≥ {u['goal']}   {verdict(u['pass'])}",
        f"   {'worker RSS growth during upload':<36}{p['rss_growth_mb']:8.1f} MB     goal ≤ {u['rss_goal_mb']:g} MB"
        f" (for 2 GiB)   {verdict(u['rss_pass'])}",
    ]


def render_transcode(t: dict | None) -> list[str]:
    if not t:
        return []

    def runs(key, name):
        return ", ".join(f"{r[key]:.2f}" for r in t["runs"][name])

    return [
        "",
        f"11. Transcoding: a {t['master_seconds']:g} s {t['master']} test master, the preview rung, median of"
        f" {len(t['runs']['queue'])} (seconds; runs in brackets)",
        f"   {'ffmpeg command run directly':<36}{t['direct_s']:8.2f} s    ({runs('seconds', 'direct')})",
        f"   {'the same job through the queue':<36}{t['queue_s']:8.2f} s    ({runs('seconds', 'queue')})",
        f"   {'ratio queue / direct':<36}{t['ratio']:8.2f}        goal ≤ {t['goal']}   {verdict(t['pass'])}",
        f"   {'upload complete -> job running':<36}{t['wait_s_max']:8.2f} s max, median {t['wait_s_median']:.2f} s"
        f"   goal ≤ {t['wait_goal_s']:g} s   {verdict(t['wait_pass'])}   ({runs('wait_s', 'queue')})",
    ]


def render_load(r: dict | None) -> list[str]:
    if not r:
        return []
    lines = [
        "",
        "8. Load: browsers register -> code mail -> verify -> download, gunicorn"
        f" ({WORKER_KIND}), MAIL_DISPATCH=thread, rate limits off",
    ]
    for name in ("sqlite", "postgresql"):
        part = r.get(name)
        if part and "skipped" in part:
            lines.append(f"   {name}: {part['skipped']}")
        elif part:
            lines += load.render(part)
            faults = load.faults(part)
            lines.append(
                "     no 5xx, no timeouts, no 'database is locked', every mail once      "
                + (verdict(True) if not faults else verdict(False) + ": " + "; ".join(faults))
            )
    return lines


if __name__ == "__main__":
    sys.exit(main())
