"""2. Successful logins per second through gunicorn vs raw bcrypt.checkpw per second.

The two are measured in alternating slices (bcrypt, app, bcrypt, app, ...) while gunicorn stays
up but idle during the bcrypt slices, so load from other programs that comes and goes over tens
of seconds falls on both sides alike.
"""

from __future__ import annotations

import multiprocessing
import statistics
import threading
import time
from pathlib import Path

import bcrypt

from harness import cpu
from harness.client import HTMX, PASSWORD, Browser, registration
from harness.servers import latest_code

# --- baseline: plain bcrypt ------------------------------------------------------------------


def _checkpw_process(rounds: int, barrier, commands, results) -> None:
    """One baseline process: hash once, then for every command ``seconds`` (None ends it), start
    together with the others and call checkpw for that long."""
    password = b"A" * 44  # the app hands bcrypt 44 bytes (base64 of SHA-256); bcrypt's cost ignores length
    hashed = bcrypt.hashpw(password, bcrypt.gensalt(rounds))
    while (seconds := commands.get()) is not None:
        barrier.wait()
        count, started, cpu_started = 0, time.perf_counter(), time.process_time()
        while time.perf_counter() - started < seconds:
            if not bcrypt.checkpw(password, hashed):
                raise AssertionError("checkpw failed")
            count += 1
        results.put((count, time.perf_counter() - started, time.process_time() - cpu_started))


class BcryptProcesses:
    """``processes`` spawned processes that run checkpw side by side, one slice at a time."""

    def __init__(self, rounds: int, processes: int):
        context = multiprocessing.get_context("spawn")
        self.rounds, self.processes = rounds, processes
        self.barrier = context.Barrier(processes + 1)
        self.commands, self.results = context.Queue(), context.Queue()
        self.workers = [
            context.Process(
                target=_checkpw_process, daemon=True, args=(rounds, self.barrier, self.commands, self.results)
            )
            for _ in range(processes)
        ]

    def __enter__(self) -> BcryptProcesses:
        for worker in self.workers:
            worker.start()
        return self

    def __exit__(self, *exc) -> None:
        for _ in self.workers:
            self.commands.put(None)
        for worker in self.workers:
            worker.join(10)
            if worker.is_alive():
                worker.kill()
                worker.join()

    def run(self, seconds: float) -> dict:
        """One slice: checkpw calls per second summed over the processes, and other load meanwhile."""
        for _ in self.workers:
            self.commands.put(seconds)
        self.barrier.wait(timeout=120)
        machine_before = cpu.snapshot()
        results = [self.results.get(timeout=seconds + 60) for _ in self.workers]
        machine = cpu.busy_cpus(machine_before, cpu.snapshot())
        if machine:  # CPUs busy with work that was not ours
            machine["other_cpus"] = round(
                max(machine["busy_cpus"] - sum(r[2] for r in results) / machine["seconds"], 0), 2
            )
        return {
            "per_second": sum(count / elapsed for count, elapsed, _ in results),
            "seconds": max(r[1] for r in results),
            "calls": sum(r[0] for r in results),
            "cpu_seconds": sum(r[2] for r in results),
            "machine": machine,
        }


# --- the app --------------------------------------------------------------------------------


def create_verified_user(base_url: str, db_path: Path, address: str) -> None:
    """Register over HTTP, read the code from the outbox table, post it: the app's real path and hashing."""
    browser = Browser(base_url)
    response = browser.post(
        "/account/register", {**registration(address), "csrf_token": browser.csrf_token()}, headers=HTMX
    )
    if response.status != 303:
        raise RuntimeError(f"register {address}: status {response.status}")
    response = browser.post(
        "/account/verify", {"code": latest_code(db_path, address), "csrf_token": browser.csrf_token()}, headers=HTMX
    )
    if response.status != 303 or not response.header("Location", "").endswith("/account/welcome"):
        raise RuntimeError(f"verify {address}: status {response.status} {response.header('Location')}")


def one_login(base_url: str, address: str) -> tuple[bool, float, float, int]:
    """GET /account/login for a CSRF token in a fresh cookie jar, then the HTMX login POST.

    Returns (success, GET seconds, POST seconds, POST status). Success is 200 + HX-Redirect.
    """
    browser = Browser(base_url)
    started = time.perf_counter()
    token = browser.csrf_token()
    got = time.perf_counter() - started
    response = browser.post(
        "/account/login",
        {"email": address, "password": PASSWORD, "next": "/conditions", "csrf_token": token},
        headers=HTMX,
    )
    ok = response.status == 200 and response.header("HX-Redirect") == "/conditions"
    return ok, got, response.elapsed, response.status


def warm_up(base_url: str, address: str, clients: int) -> None:
    """Every worker imports, compiles templates and opens its database connection before we measure."""
    for _ in range(clients):
        if not one_login(base_url, address)[0]:
            raise RuntimeError("warm-up login failed")


def login_slice(base_url: str, address: str, clients: int, seconds: float, server_cpu) -> dict:
    """``clients`` threads log in back to back; counts successful POSTs that finished within ``seconds``.

    Logins still running at the end are finished (and not counted) before the slice returns, so
    nothing of ours runs into the next slice. ``server_cpu`` returns gunicorn's CPU seconds so far.
    """
    lock = threading.Lock()
    results: list[tuple[bool, float, float, int, float]] = []
    errors: list[str] = []
    client_before, server_before, machine_before = time.process_time(), server_cpu(), cpu.snapshot()
    started = time.perf_counter()
    deadline = started + seconds

    def client() -> None:
        while time.perf_counter() < deadline:
            try:
                ok, get_s, post_s, status = one_login(base_url, address)
            except OSError as exc:
                with lock:
                    errors.append(f"{type(exc).__name__}: {exc}")
                continue
            with lock:
                results.append((ok, get_s, post_s, status, time.perf_counter()))

    threads = [threading.Thread(target=client, name=f"login-client-{i}") for i in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(seconds + 120)
    client_cpu, server_used = time.process_time() - client_before, server_cpu() - server_before
    machine = cpu.busy_cpus(machine_before, cpu.snapshot())
    if machine:  # CPUs busy with work that was not ours
        machine["other_cpus"] = round(max(machine["busy_cpus"] - (server_used + client_cpu) / machine["seconds"], 0), 2)
    # Throughput from the first to the last successful POST inside the window: (n - 1) / span.
    # Unlike n / seconds, it does not charge the app for the login cut off at the window's end.
    done = sorted(r[4] for r in results if r[0] and r[4] <= deadline)
    intervals, span = max(len(done) - 1, 0), (done[-1] - done[0]) if len(done) > 1 else 0.0
    return {
        "seconds": seconds,
        "successful": len(done),
        "intervals": intervals,
        "span": span,
        "per_second": intervals / span if span else 0.0,
        "results": results,  # raw, for the summary (not written to JSON)
        "errors": errors,
        "client_cpu": client_cpu,
        "server_cpu": server_used,
        "machine": machine,
    }


# --- both, interleaved ------------------------------------------------------------------------


def interleaved(
    base_url: str,
    address: str,
    *,
    rounds: int,
    processes: int,
    clients: int,
    bcrypt_seconds: float,
    login_seconds: float,
    slices: int,
    server_cpu,
    progress=print,
) -> dict:
    """``slices`` rounds of (bcrypt slice, app slice); totals are summed over the slices."""
    bcrypt_slices, login_slices = [], []
    with BcryptProcesses(rounds, processes) as pool:
        warm_up(base_url, address, clients)
        for i in range(slices):
            progress(
                f"2/7 slice {i + 1}/{slices}: bcrypt {bcrypt_seconds / slices:.1f} s,"
                f" logins {login_seconds / slices:.1f} s"
            )
            bcrypt_slices.append(pool.run(bcrypt_seconds / slices))
            login_slices.append(login_slice(base_url, address, clients, login_seconds / slices, server_cpu))
    return {
        "bcrypt": summarize_bcrypt(bcrypt_slices, rounds, processes),
        "app": summarize_logins(login_slices, clients),
    }


def weighted_other(slices: list[dict]) -> float | None:
    measured = [s for s in slices if s["machine"] and "other_cpus" in s["machine"]]
    if not measured:
        return None
    total = sum(s["machine"]["seconds"] for s in measured)
    return round(sum(s["machine"]["other_cpus"] * s["machine"]["seconds"] for s in measured) / total, 2)


def summarize_bcrypt(slices: list[dict], rounds: int, processes: int) -> dict:
    calls, cpu_seconds = sum(s["calls"] for s in slices), sum(s["cpu_seconds"] for s in slices)
    seconds = sum(s["seconds"] for s in slices)
    return {
        "rounds": rounds,
        "processes": processes,
        "per_second": sum(s["per_second"] * s["seconds"] for s in slices) / seconds,
        "calls": calls,
        "seconds": round(seconds, 2),
        "slices_per_second": [round(s["per_second"], 2) for s in slices],
        "cpu_ms_per_call": round(cpu_seconds / calls * 1000, 1) if calls else None,
        "other_cpus": weighted_other(slices),
        "machine": [s["machine"] for s in slices],
    }


def summarize_logins(slices: list[dict], clients: int) -> dict:
    results = [r for s in slices for r in s["results"]]
    ok = [r for r in results if r[0]]
    post_times = sorted(r[2] for r in ok)
    successful, seconds = sum(s["successful"] for s in slices), sum(s["seconds"] for s in slices)
    span = sum(s["span"] for s in slices)
    server_cpu = sum(s["server_cpu"] for s in slices)
    failed_statuses: dict[str, int] = {}
    for r in results:
        if not r[0]:
            failed_statuses[str(r[3])] = failed_statuses.get(str(r[3]), 0) + 1
    return {
        "clients": clients,
        "seconds": round(seconds, 2),
        "successful_logins": successful,  # finished inside the slices' windows
        "per_second": sum(s["intervals"] for s in slices) / span if span else 0.0,
        "per_second_naive": successful / seconds,  # successful / slice time: a little lower (cut-off login)
        "slices_per_second": [round(s["per_second"], 2) for s in slices],
        "all_posts": len(results),  # including those finished after a slice's end
        "failed_logins": len(results) - len(ok),
        "failed_statuses": failed_statuses,
        "connection_errors": sum(len(s["errors"]) for s in slices),
        "client_cpu_share": round(sum(s["client_cpu"] for s in slices) / seconds, 3),
        # gunicorn's CPU per successful login (GET + POST), every request of the slices included
        "server_cpu_ms_per_login": round(server_cpu / len(ok) * 1000, 1) if ok else None,
        "server_cpu_share": round(server_cpu / seconds, 2),
        "other_cpus": weighted_other(slices),
        "machine": [s["machine"] for s in slices],
        "post_median_ms": round(statistics.median(post_times) * 1000, 1) if post_times else None,
        "post_p95_ms": round(post_times[int(0.95 * (len(post_times) - 1))] * 1000, 1) if post_times else None,
        "get_median_ms": round(statistics.median(r[1] for r in ok) * 1000, 1) if ok else None,
    }
