"""3. Registration POST time with a fast and with a slow (5 s per DATA) SMTP server.

Both set-ups (an SMTP server and a gunicorn each) run at the same time and the registrations
alternate between them, so load from other programs falls on both alike. Registrations are
sequential: one request in flight at a time.
"""

from __future__ import annotations

import statistics
import time

from harness import cpu
from harness.client import HTMX, Browser, registration


def register_one(base_url: str, address: str) -> tuple[bool, float, str]:
    """GET /account/login for a CSRF token in a fresh browser, then the HTMX register POST; times only the POST."""
    browser = Browser(base_url)
    token = browser.csrf_token()
    response = browser.post("/account/register", {**registration(address), "csrf_token": token}, headers=HTMX)
    ok = response.status == 303 and response.header("Location", "").endswith("/account/verify")
    return ok, response.elapsed, f"{response.status} {response.header('Location', '')}"


def register_alternating(servers: dict[str, object], count: int, tag: str) -> dict[str, dict]:
    """``count`` registrations on every server (label -> Gunicorn), taking turns, order flipped each round."""
    labels = list(servers)
    for server in servers.values():  # warm both workers of each server on the cheap pages (no mail)
        for _ in range(4):
            Browser(server.url).csrf_token("/account/register")

    runs = {label: {"times": [], "failures": [], "posted_at": {}} for label in labels}
    machine_before, client_before = cpu.snapshot(), time.process_time()
    servers_before = sum(s.workers_cpu_seconds() for s in servers.values())
    for i in range(count):
        for label in labels if i % 2 == 0 else labels[::-1]:
            address = f"bench-{label}-{i}-{tag}@example.org"
            ok, elapsed, outcome = register_one(servers[label].url, address)
            if ok:
                runs[label]["times"].append(elapsed)
                runs[label]["posted_at"][address] = time.monotonic()
            else:
                runs[label]["failures"].append(f"{address}: {outcome}")
    machine = cpu.busy_cpus(machine_before, cpu.snapshot())
    if machine:  # CPUs busy with work that was not ours
        ours = (
            sum(s.workers_cpu_seconds() for s in servers.values())
            - servers_before
            + time.process_time()
            - client_before
        ) / machine["seconds"]
        machine["other_cpus"] = round(max(machine["busy_cpus"] - ours, 0.0), 2)

    out = {}
    for label, run in runs.items():
        times = run["times"]
        if not times:
            raise RuntimeError(f"every registration on the {label} server failed: {run['failures'][:3]}")
        out[label] = {
            "registrations": count,
            "failed": len(run["failures"]),
            "failures": run["failures"],
            "post_ms": [round(t * 1000, 1) for t in times],
            "median_ms": round(statistics.median(times) * 1000, 1),
            "max_ms": round(max(times) * 1000, 1),
            "machine": machine,
            "posted_at": run["posted_at"],  # address -> monotonic time the POST returned (not written to JSON)
        }
    return out


def wait_for_mail(smtp, posted_at: dict[str, float], timeout: float) -> dict:
    """Wait until a mail for every registered address arrived or ``timeout`` passed; how late they came."""
    started = time.monotonic()
    deadline = started + timeout
    arrived = smtp.arrivals()
    while not posted_at.keys() <= arrived.keys() and time.monotonic() < deadline:
        time.sleep(0.1)
        arrived = smtp.arrivals()
    delays = sorted(arrived[a] - posted_at[a] for a in posted_at if a in arrived)
    last = max((arrived[a] for a in posted_at if a in arrived), default=None)
    return {
        "expected": len(posted_at),
        "received": len(delays),
        "last_after_s": round(last - max(posted_at.values()), 1) if last and posted_at else None,
        "timeout_s": timeout,
        "delay_median_s": round(statistics.median(delays), 2) if delays else None,
        "delay_max_s": round(delays[-1], 2) if delays else None,
    }
