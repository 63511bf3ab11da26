"""9. Scale-out: two app servers behind nginx, sharing one database and Redis.

    .venv/bin/python -m bench.scaleout          # or: python -m bench.run --only scaleout

Everything runs on this machine: a fresh schema ``scaleout_<hex>`` in the PostgreSQL database
of ``--scaleout-database-url`` (default TEST_DATABASE_URL; dropped at the end; a SQLite file
when the URL is not PostgreSQL), migrated with ``flask db upgrade`` and loaded with
``flask media demo`` plus one story whose download is a large file; an aiosmtpd server for the codes and the mail worker
(``flask outbox send --loop``) that delivers them; two gunicorns ("A" and "B", different ports)
with the same SECRET_KEY and SERVER_NAME, rate-limit counters in Redis and
``DOWNLOAD_ACCEL=nginx``; and nginx balancing over both, serving the files from an ``internal``
location. Then four proofs (harness/scaleout.py, whose functions ``tests/test_scaleout.py`` calls too):

1. ``flow_across``: register on A, verify on B, log in on A, reset started on B and finished on A.
2. ``limits_across``: POSTs alternate between A and B; the limit counts them together (Redis),
   while the same alternation on two servers with ``memory://`` counters is never refused.
3. ``download_handoff``: the app answers a download with ``X-Accel-Redirect`` and no body;
   nginx sends the bytes.
4. ``slow_downloads_and_catalogue``: 100 slow downloads (64 KB/s each) hold nginx connections
   while the catalogue is requested through nginx; its p50/p99 latency.

Only the Redis database of ``--scaleout-redis-url`` (default ``redis://127.0.0.1:6379/5``) is flushed,
before and after. Every process started here is stopped in ``finally`` blocks.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
from pathlib import Path

from harness.scaleout import (
    REDIS_URL,
    download_handoff,
    flow_across,
    limits_across,
    progress,
    slow_downloads_and_catalogue,
    started,
)

RESULTS = Path(__file__).resolve().parent / "results" / "scaleout.json"


# --- the whole part -----------------------------------------------------------------------------


def run(
    workdir: Path,
    database_url: str,
    redis_url: str = REDIS_URL,
    *,
    workers: int = 2,
    file_mib: int = 64,
    downloads: int = 100,
    rate_kib: int = 64,
    seconds: float = 20.0,
    clients: int = 2,
    report=progress,
) -> dict:
    with started(workdir, database_url, redis_url, workers=workers, file_mib=file_mib, report=report) as cluster:
        out = {
            "database": "SQLite" if cluster.database_url.startswith("sqlite") else "PostgreSQL",
            "workers_per_server": workers,
        }
        report("1 a flow across A and B")
        out["flow"] = flow_across(cluster)
        report("2 rate limits: Redis vs memory:// counters")
        out["limits"] = limits_across(cluster)
        report("3 a download handed to nginx")
        out["handoff"] = download_handoff(cluster)
        report("4 slow downloads and the catalogue")
        out["load"] = slow_downloads_and_catalogue(
            cluster, downloads=downloads, rate=rate_kib * 1024, seconds=seconds, clients=clients, report=report
        )
    out["pass"] = all(out[k]["pass"] for k in ("flow", "limits", "handoff", "load"))
    return out


def verdict(ok: bool) -> str:
    return "PASS" if ok else "FAIL"


def render(s: dict | None) -> list[str]:
    if not s:
        return []
    flow, limits, handoff, load = s["flow"], s["limits"], s["handoff"], s["load"]
    cat, app, front = load["catalogue"], handoff["app"], handoff["nginx"]
    on = lambda label: sum(step["server"] == label for step in flow["steps"])  # noqa: E731
    statuses = lambda runs: " ".join(f"{r['server']}:{r['status']}" for r in runs)  # noqa: E731
    return [
        "",
        f"9. Scale-out: app servers A and B (gunicorn -w {s['workers_per_server']} each) behind nginx;"
        f" {s['database']}, Redis counters, one mail worker",
        f"   {'a flow across both servers':<44}{sum(x['ok'] for x in flow['steps'])}/{len(flow['steps'])} steps as"
        f" expected ({on('A')} on A, {on('B')} on B), {len(flow['mail_subjects'])} mails by SMTP"
        f"   {verdict(flow['pass'])}",
        f"   rate limit {limits['limit']}, POSTs to A and B:",
        f"     {'Redis counters':<42}{statuses(limits['redis'])}",
        f"     {'memory:// counters (for comparison)':<42}{statuses(limits['memory'])}   {verdict(limits['pass'])}",
        f"   {'download handed to nginx (X-Accel)':<44}app: {app['status']}, {app['body_bytes']} body bytes;"
        f" nginx: {front['body_bytes']:,} B at {front['mb_per_s']:.0f} MB/s   {verdict(handoff['pass'])}",
        f"   {load['downloads']} slow downloads ({load['rate_kib_s']} KB/s each) through nginx:"
        f" {load['answered']} answered"
        f" in {load['answered_in_s']} s, {load['still_running_at_end']} still reading at the end"
        f" ({load['mean_kib_s_per_download']} KB/s each), {load['errors']} errors",
        f"     nginx active connections {load['nginx_active_connections']}; app workers {load['app_workers']}",
        f"   catalogue GET / through nginx meanwhile ({cat['clients']} clients, {cat['seconds']:g} s):"
        f" {cat['requests']:,}"
        f" requests ({cat['per_second']} /s), {cat['failures']} failures; all app requests (downloads too) by "
        + ", ".join(f"{k} {v}" for k, v in load["requests_by_server"].items()),
        f"     latency p50 {cat['p50_ms']} ms, p99 {cat['p99_ms']} ms, max {cat['max_ms']} ms"
        f"      goal: p99 ≤ {load['p99_goal_ms']:g} ms, every download running   {verdict(load['pass'])}",
    ]


def parse_args(argv):
    p = argparse.ArgumentParser(
        prog="python -m bench.scaleout", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    add_arguments(p)
    p.add_argument("--keep", action="store_true", help="keep the temporary directory (logs, nginx.conf)")
    return p.parse_args(argv)


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--scaleout-database-url",
        default=os.environ.get("TEST_DATABASE_URL"),
        help="scale-out: the PostgreSQL server to make a fresh database on (default: TEST_DATABASE_URL)",
    )
    p.add_argument(
        "--scaleout-redis-url",
        default=REDIS_URL,
        help=f"scale-out: the Redis database for the rate-limit counters; flushed ({REDIS_URL})",
    )
    p.add_argument("--scaleout-workers", type=int, default=2, help="gunicorn workers per app server (2)")
    p.add_argument("--scaleout-downloads", type=int, default=100, help="slow downloads (100)")
    p.add_argument("--scaleout-rate-kib", type=int, default=64, help="KiB/s each slow download reads (64)")
    p.add_argument("--scaleout-seconds", type=float, default=20.0, help="seconds of catalogue requests (20)")
    p.add_argument("--scaleout-clients", type=int, default=2, help="catalogue client threads (2)")
    p.add_argument("--scaleout-file-mib", type=int, default=64, help="size of the download file (64)")


def run_from_args(args, workdir: Path, report=progress) -> dict:
    if not args.scaleout_database_url:
        raise RuntimeError("set TEST_DATABASE_URL or --scaleout-database-url (a PostgreSQL server)")
    return run(
        workdir,
        args.scaleout_database_url,
        args.scaleout_redis_url,
        workers=args.scaleout_workers,
        file_mib=args.scaleout_file_mib,
        downloads=args.scaleout_downloads,
        rate_kib=args.scaleout_rate_kib,
        seconds=args.scaleout_seconds,
        clients=args.scaleout_clients,
        report=report,
    )


def main(argv=None) -> int:
    args = parse_args(argv)
    workdir = Path(tempfile.mkdtemp(prefix="bench-scaleout-"))
    try:
        results = run_from_args(args, workdir)
    finally:
        if args.keep:
            print(f"kept {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(results, indent=2) + "\n")
    print("\n".join(render(results)) + f"\n\nJSON: {RESULTS}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
