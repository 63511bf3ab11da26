"""Run every benchmark, print a table, write bench/results/latest.json.

    .venv/bin/python -m bench.run            # from the project root, about 1.5 minutes

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
import sys
import tempfile
import time
import traceback
from datetime import datetime, timezone
from pathlib import Path

from . import login, registration, sizes
from .servers import Gunicorn, SmtpServer, app_env, fresh_database, migrate, outbox_counts

RESULTS = Path(__file__).resolve().parent / "results" / "latest.json"
LOGIN_RATIO_GOAL = 0.9
NOISE_CPUS = 0.25  # other processes using more than this many CPUs make the login ratio unreliable
# Registrations run one at a time (about one CPU busy), so only other load beyond the spare CPU skews them.
REGISTRATION_NOISE_CPUS = max((os.cpu_count() or 2) - 1.25, NOISE_CPUS)
SMTP_RATIO_GOAL = 1.25  # "≈ 1": slow-SMTP median at most 25 % above fast-SMTP median


def parse_args(argv):
    p = argparse.ArgumentParser(prog="python -m bench.run", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--only", choices=["sizes", "login", "registration"], action="append",
                   help="run only this part (repeatable)")
    p.add_argument("--workers", type=int, default=2, help="gunicorn workers = bcrypt baseline processes (2)")
    p.add_argument("--clients", type=int, default=4, help="concurrent login client threads (4)")
    p.add_argument("--rounds", type=int, default=12, help="bcrypt cost for the app and the baseline (12)")
    p.add_argument("--login-seconds", type=float, default=15.0)
    p.add_argument("--bcrypt-seconds", type=float, default=10.0)
    p.add_argument("--slices", type=int, default=3, help="bcrypt and login time are split into this many"
                   " alternating slices (3)")
    p.add_argument("--registrations", type=int, default=10, help="registrations per SMTP server (10)")
    p.add_argument("--smtp-delay", type=float, default=5.0, help="seconds the slow SMTP server sleeps in DATA")
    p.add_argument("--mail-wait", type=float, default=60.0, help="how long to wait for the slow server's mails")
    p.add_argument("--keep", action="store_true", help="keep the temporary directory (databases, gunicorn logs)")
    return p.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    wanted = set(args.only or ["sizes", "login", "registration"])
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
    try:
        results[name] = function()
    except Exception as exc:  # record it, go on with the other parts
        traceback.print_exc()
        results["errors"][name] = f"{type(exc).__name__}: {exc}"


def meta(args, workdir: Path) -> dict:
    import bcrypt

    return {
        "time": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "python": platform.python_version(),
        "cpus": os.cpu_count(),
        "bcrypt": bcrypt.__version__,
        "settings": {k: v for k, v in vars(args).items() if k not in ("keep",)},
        "workdir": str(workdir),
    }


# --- the three parts -------------------------------------------------------------------------

def run_sizes(template: Path, workdir: Path) -> dict:
    progress("1/3 partial vs full page sizes (Flask test client)")
    rows = sizes.measure(fresh_database(template, workdir / "sizes.db"))
    return {"limit_bytes": sizes.PARTIAL_LIMIT, "steps": rows, "pass": all(r["pass"] for r in rows if r["goal_step"])}


def run_login(args, template: Path, workdir: Path) -> dict:
    database = fresh_database(template, workdir / "login.db")
    env = app_env(database, BCRYPT_ROUNDS=args.rounds, MAIL_DISPATCH="worker")
    progress(f"2/3 gunicorn -w {args.workers}; {args.slices} slices of raw bcrypt (cost {args.rounds},"
             f" {args.workers} processes) and of logins ({args.clients} clients)")
    with Gunicorn(env, workdir / "gunicorn-login.log", args.workers) as server:
        address = "login-bench@example.org"
        login.create_verified_user(server.url, database, address)
        measured = login.interleaved(
            server.url, address, rounds=args.rounds, processes=args.workers, clients=args.clients,
            bcrypt_seconds=args.bcrypt_seconds, login_seconds=args.login_seconds, slices=args.slices,
            server_cpu=server.workers_cpu_seconds, progress=progress,
        )
    baseline, app = measured["bcrypt"], measured["app"]
    ratio = app["per_second"] / baseline["per_second"]
    cpu_ratio = (baseline["cpu_ms_per_call"] / app["server_cpu_ms_per_login"]
                 if baseline["cpu_ms_per_call"] and app["server_cpu_ms_per_login"] else None)
    noisy = max(baseline["other_cpus"] or 0.0, app["other_cpus"] or 0.0) > NOISE_CPUS
    return {"bcrypt": baseline, "app": app, "ratio": ratio, "cpu_ratio": cpu_ratio, "noisy": noisy,
            "goal": LOGIN_RATIO_GOAL, "pass": ratio >= LOGIN_RATIO_GOAL}


def run_registration(args, template: Path, workdir: Path) -> dict:
    tag = secrets.token_hex(3)
    delays = {"fast": 0.0, "slow": args.smtp_delay}
    out = {"smtp_delay_s": args.smtp_delay}
    progress(f"3/3 {args.registrations} registrations each on a fast and a slow ({args.smtp_delay:g} s per DATA)"
             " SMTP set-up, alternating")
    with contextlib.ExitStack() as stack:  # leaving it stops every gunicorn, then every SMTP server
        smtps, servers, databases = {}, {}, {}
        for label, delay in delays.items():
            smtps[label] = stack.enter_context(SmtpServer(delay))
        for label in delays:
            databases[label] = fresh_database(template, workdir / f"register-{label}.db")
            env = app_env(databases[label], MAIL_SERVER="127.0.0.1", MAIL_PORT=smtps[label].port,
                          MAIL_DISPATCH="thread")
            servers[label] = stack.enter_context(Gunicorn(env, workdir / f"gunicorn-register-{label}.log", args.workers))
        runs = registration.register_alternating(servers, args.registrations, tag)
        progress(f"3/3 waiting up to {args.mail_wait:g} s for the SMTP servers to receive the mails")
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


# --- the table -------------------------------------------------------------------------------

def verdict(ok: bool) -> str:
    return "PASS" if ok else "FAIL"


def render(results: dict) -> str:
    lines = ["", "=" * 86, f"Account dialog benchmarks — {results['meta']['time']}, "
             f"{results['meta']['cpus']} CPUs, Python {results['meta']['python']}, bcrypt {results['meta']['bcrypt']}",
             "=" * 86]
    s = results.get("sizes")
    if s:
        lines += ["", f"1. HTMX partial vs full page, response body bytes (goal: partial ≤ {s['limit_bytes']} B)",
                  f"   {'step':<22}{'full B':>9}{'partial B':>11}{'gzip B':>9}{'partial/full':>14}   result"]
        for r in s["steps"]:
            lines.append(f"   {r['step']:<22}{r['full_bytes']:>9,}{r['partial_bytes']:>11,}{r['partial_gzip_bytes']:>9,}"
                         f"{r['partial_share']:>13.0%}    {verdict(r['pass'])}{'' if r['goal_step'] else ' (extra)'}")
        lines.append(f"   the four dialog steps                                               {verdict(s['pass'])}")
    lg = results.get("login")
    if lg:
        b, a = lg["bcrypt"], lg["app"]
        slices = lambda values: ", ".join(f"{v:.2f}" for v in values)  # noqa: E731
        lines += ["", f"2. Login throughput, bcrypt cost {b['rounds']}, {b['processes']} gunicorn workers / processes,"
                  f" {len(b['slices_per_second'])} alternating slices",
                  f"   {'raw bcrypt.checkpw (%d processes)' % b['processes']:<36}{b['per_second']:7.2f} /s"
                  f"   ({b['calls']} calls in {b['seconds']} s; slices {slices(b['slices_per_second'])})",
                  f"   {'app logins (%d client threads)' % a['clients']:<36}{a['per_second']:7.2f} /s"
                  f"   ({a['successful_logins']} ok in {a['seconds']} s; slices {slices(a['slices_per_second'])};"
                  f" {a['failed_logins']} failed, {a['connection_errors']} conn errors)",
                  f"     login POST latency median / p95 {a['post_median_ms']} / {a['post_p95_ms']} ms;"
                  f" CSRF GET median {a['get_median_ms']} ms; load generator used {a['client_cpu_share']:.2f} CPU",
                  f"   {'ratio app / raw':<36}{lg['ratio']:7.2f}      goal ≥ {lg['goal']}   {verdict(lg['pass'])}",
                  f"   CPU per op: checkpw {b['cpu_ms_per_call']} ms, login (GET+POST, server)"
                  f" {a['server_cpu_ms_per_login']} ms -> CPU ratio "
                  + (f"{lg['cpu_ratio']:.2f}" if lg['cpu_ratio'] else "n/a") + " (less sensitive to other load)",
                  f"   other work on the machine: {b['other_cpus']} CPUs in bcrypt slices, {a['other_cpus']} in login"
                  f" slices (gunicorn used {a['server_cpu_share']} CPUs)",
                  "   (each login = GET / for a CSRF token in a fresh cookie jar + HTMX POST. Only successful POSTs",
                  "    count: (n - 1) / time from the first to the last in each slice; the GETs' server time is",
                  "    inside that time)"]
        if lg.get("noisy"):
            lines += [f"   WARNING: other processes used more than {NOISE_CPUS} CPUs while we measured: the",
                      "   wall-clock ratio is unreliable. Run again on a quiet machine; the CPU ratio is steadier."]
    rg = results.get("registration")
    if rg:
        f, sl = rg["fast"], rg["slow"]
        lines += ["", "3. Registration POST time, MAIL_DISPATCH=thread; fast and slow set-ups side by side, taking turns",
                  f"   {'fast SMTP (no delay)':<28}median {f['median_ms']:8.1f} ms   max {f['max_ms']:8.1f} ms"
                  f"   ({f['registrations'] - f['failed']}/{f['registrations']} ok)",
                  f"   {'slow SMTP (%g s per DATA)' % rg['smtp_delay_s']:<28}median {sl['median_ms']:8.1f} ms"
                  f"   max {sl['max_ms']:8.1f} ms   ({sl['registrations'] - sl['failed']}/{sl['registrations']} ok)",
                  f"   {'ratio slow / fast':<28}       {rg['ratio']:8.2f}      goal ≈ 1 (≤ {rg['goal']})"
                  f"   {verdict(rg['pass'])}"]
        for label, r in (("fast", f), ("slow", sl)):
            m = r["mail"]
            lines.append(f"   {label} server received {m['received']}/{m['expected']} mails"
                         f" (waited up to {m['timeout_s']:g} s); outbox rows sent {m['outbox']['sent']}/{m['outbox']['queued']}")
            lines.append(f"     registration -> mail delay: median {m['delay_median_s']} s, max {m['delay_max_s']} s;"
                         f" last mail {m['last_after_s']} s after the last registration")
        lines.append(f"   every mail delivered                                     {verdict(rg['mail_pass'])}")
        other = (f.get("machine") or {}).get("other_cpus", 0.0)
        if other > REGISTRATION_NOISE_CPUS:
            lines += [f"   WARNING: other processes used {other:.2f} CPUs while we registered; the timing ratio"
                      " may be off. Run again on a quiet machine."]
    if results["errors"]:
        lines += ["", "ERRORS (these parts did not run to the end):"]
        lines += [f"   {name}: {error}" for name, error in results["errors"].items()]
    lines.append(f"\ntotal {results['meta'].get('total_seconds', '?')} s")
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
