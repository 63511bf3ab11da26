"""An asyncio HTTP/1.1 client on raw sockets for many connections at once (parts nginx and summit).

Each connection is kept alive (HTTP/1.1 persistent, as a browser does) and opened again when the
server closes it. A request is prebuilt bytes; the answer's body is read by its Content-Length
(or chunked, or to the end) and dropped. Runs in spawned processes (``in_processes``), so the
load generator uses more than one core and its GIL is not the app's.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import random
import resource
import time
from concurrent.futures import ProcessPoolExecutor

TIMEOUT = 30.0  # seconds for any one answer


def raise_fd_limit() -> int:
    """The soft open-files limit raised to the hard one (2,000 connections need 2,000 fds)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def request_bytes(port: int, path: str, headers: dict | None = None) -> bytes:
    lines = [
        f"GET {path} HTTP/1.1",
        f"Host: 127.0.0.1:{port}",
        "Accept: text/html",
        "Accept-Language: en",
        *(f"{k}: {v}" for k, v in (headers or {}).items()),
    ]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


class Connection:
    """One kept-alive connection; ``get`` reconnects when the server has closed it."""

    def __init__(self, port: int):
        self.port, self.reader, self.writer = port, None, None
        self.connects = 0

    async def get(self, request: bytes) -> tuple[int, int, dict]:
        """(status, body bytes, lower-cased headers)."""
        fresh = self.writer is None
        if fresh:
            await self._open()
        try:
            self.writer.write(request)
            head = await self.reader.readuntil(b"\r\n\r\n")
        except (ConnectionError, asyncio.IncompleteReadError):
            if fresh:
                raise
            self.close()  # the server closed the kept-alive connection (its keepalive_requests): again
            await self._open()
            self.writer.write(request)
            head = await self.reader.readuntil(b"\r\n\r\n")
        status_line, *lines = head.decode("latin-1").split("\r\n")
        headers = {}
        for line in lines:
            if line:
                name, _, value = line.partition(":")
                headers[name.strip().lower()] = value.strip()
        if "content-length" in headers:
            size = int(headers["content-length"])
            await self.reader.readexactly(size)
        elif headers.get("transfer-encoding", "").lower() == "chunked":
            size = 0
            while True:
                chunk = int((await self.reader.readuntil(b"\r\n")).split(b";")[0], 16)
                await self.reader.readexactly(chunk + 2)
                size += chunk
                if not chunk:
                    break
        else:
            size = len(await self.reader.read())
            headers["connection"] = "close"
        if headers.get("connection", "").lower() == "close":
            self.close()
        return int(status_line.split()[1]), size, headers

    async def _open(self) -> None:
        self.reader, self.writer = await asyncio.open_connection("127.0.0.1", self.port, limit=1 << 20)
        self.connects += 1

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
        self.reader = self.writer = None


async def _client(
    port: int,
    requests: list[tuple[str, bytes]],
    until: float,
    think: tuple[float, float],
    start_within: float,
    seed: int,
    out: dict,
) -> None:
    rng = random.Random(seed)
    await asyncio.sleep(rng.uniform(0, start_within))  # arrivals spread out, not 2,000 SYNs at once
    connection = Connection(port)
    while time.time() < until:
        name, request = rng.choice(requests)
        sent = time.perf_counter()
        try:
            status, size, headers = await asyncio.wait_for(connection.get(request), TIMEOUT)
        except (TimeoutError, OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, ValueError) as exc:
            connection.close()
            out["errors"].append(f"{name}: {type(exc).__name__}: {exc}")
            await asyncio.sleep(0.1)  # not a tight loop of failures when there is no think time
        else:
            out["latencies"].setdefault(name, []).append(time.perf_counter() - sent)
            out["statuses"][f"{name} {status}"] = out["statuses"].get(f"{name} {status}", 0) + 1
            cache = headers.get("x-cache-status", "-")
            out["cache"][cache] = out["cache"].get(cache, 0) + 1
            out["bytes"] += size
            out["in_time"] += time.time() <= until  # throughput counts answers finished within the time
        if think[1]:
            await asyncio.sleep(rng.uniform(*think))
    out["connects"] += connection.connects
    connection.close()


async def _lag_probe(until: float, out: dict) -> None:
    """How late the event loop wakes a 10 ms sleeper: the client's own share of measured latency."""
    while time.time() < until:
        before = time.perf_counter()
        await asyncio.sleep(0.01)
        out["loop_lag_max_ms"] = max(out["loop_lag_max_ms"], (time.perf_counter() - before - 0.01) * 1000)


async def _clients(port, requests, clients, start, until, think, start_within, seed) -> dict:
    out = {
        "latencies": {},
        "statuses": {},
        "cache": {},
        "errors": [],
        "bytes": 0,
        "in_time": 0,
        "connects": 0,
        "loop_lag_max_ms": 0.0,
    }
    await asyncio.sleep(max(start - time.time(), 0))
    cpu_before = time.process_time()
    tasks = [_client(port, requests, until, think, start_within, seed * 100_003 + n, out) for n in range(clients)]
    await asyncio.gather(_lag_probe(until, out), *tasks)
    out["cpu_seconds"] = time.process_time() - cpu_before
    return out


def run_clients(
    port: int,
    requests: list[tuple[str, bytes]],
    clients: int,
    start: float,
    until: float,
    think: tuple[float, float] = (0.0, 0.0),
    start_within: float = 0.0,
    seed: int = 1,
) -> dict:
    """``clients`` connections from ``start`` to ``until`` (time.time()), each request → answer →
    think (uniform seconds) → next; one process. Returns latencies by request name, statuses,
    X-Cache-Status counts, errors, body bytes, the client's CPU time and its event-loop lag."""
    raise_fd_limit()
    return asyncio.run(_clients(port, requests, clients, start, until, think, start_within, seed))


def in_processes(
    processes: int,
    port: int,
    requests,
    clients: int,
    seconds: float,
    *,
    pool=None,
    think=(0.0, 0.0),
    start_within: float = 0.0,
    delay: float = 1.0,
    start: float | None = None,
) -> dict:
    """``run_clients`` in ``processes`` spawned processes (clients split among them), merged.
    The load starts at ``start`` (time.time()), by default ``delay`` s from now, in all of them
    at once and lasts ``seconds``."""
    start = start or time.time() + delay
    own = pool is None
    pool = pool or ProcessPoolExecutor(processes, mp_context=multiprocessing.get_context("spawn"))
    try:
        shares = [clients // processes + (1 if i < clients % processes else 0) for i in range(processes)]
        futures = [
            pool.submit(run_clients, port, requests, share, start, start + seconds, think, start_within, i + 1)
            for i, share in enumerate(shares)
        ]
        parts = [f.result() for f in futures]
    finally:
        if own:
            pool.shutdown()
    merged = {
        "latencies": {},
        "statuses": {},
        "cache": {},
        "errors": [],
        "bytes": 0,
        "in_time": 0,
        "connects": 0,
        "cpu_seconds": 0.0,
        "loop_lag_max_ms": 0.0,
        "seconds": seconds,
    }
    for part in parts:
        for key in ("latencies", "statuses", "cache"):
            for name, value in part[key].items():
                merged[key][name] = merged[key].get(name, 0 if key != "latencies" else []) + value
        merged["errors"] += part["errors"]
        for key in ("bytes", "in_time", "connects", "cpu_seconds"):
            merged[key] += part[key]
        merged["loop_lag_max_ms"] = max(merged["loop_lag_max_ms"], part["loop_lag_max_ms"])
    return merged


def pool(processes: int) -> ProcessPoolExecutor:
    """Processes kept for several slices (spawning costs a fraction of a second each time)."""
    return ProcessPoolExecutor(processes, mp_context=multiprocessing.get_context("spawn"))


def percentile_ms(values: list[float], share: float) -> float | None:
    """Nearest rank, in ms."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, -(-len(ordered) * share // 1))
    return round(ordered[int(rank) - 1] * 1000, 1)
