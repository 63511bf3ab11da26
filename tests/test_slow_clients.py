"""Slow clients (issue #13): sockets that send a request's headers a line every second.

Straight at gunicorn they hold its threads (gunicorn reads a request in the thread that serves
it), so a few dozen of them stop the site. Behind nginx, which reads every request whole before
it hands it on and gives up on a header that takes longer than ``client_header_timeout``, the
same sockets cost gunicorn nothing: a normal request still answers at once.

Real gunicorn (gunicorn.conf.py, 2 workers) and real nginx on 127.0.0.1, for about 20 s in all.
"""

from __future__ import annotations

import runpy
import select
import socket
import threading
import time

import pytest

from harness.client import Browser
from harness.servers import GUNICORN_CONF, Gunicorn, Nginx, app_env

from .helpers.services import migrated_database, nginx_installed, required

pytestmark = pytest.mark.slow

WORKERS = 2
THREADS = runpy.run_path(str(GUNICORN_CONF))["threads"]
SLOW_CLIENTS = 4 * WORKERS * THREADS  # far more than gunicorn has threads
HEADER_TIMEOUT = 3  # seconds; the README says 10 s, shortened here to keep the test short
# The README's nginx settings for the portal (section "Security"), with the shorter timeouts.
LIMITS_ZONE = "limit_conn_zone $binary_remote_addr zone=perip:1m;"
SERVER = """
        client_max_body_size 1m;
        client_header_timeout {timeout}s;
        client_body_timeout {timeout}s;
        send_timeout 30s;
        limit_conn perip 20;
        location / {{
            proxy_pass http://127.0.0.1:{port};
            proxy_read_timeout 60s;
            proxy_set_header Host $host;
            proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
            proxy_set_header X-Forwarded-Proto $scheme;
        }}
"""


class Trickle:
    """``count`` connections to ``port`` that each send a request line, then a header line every
    ``interval`` seconds and never the blank line that ends the headers; for ``seconds`` at most.
    ``closed_after`` holds, per connection the server gave up on, how long it lasted."""

    def __init__(self, port: int, count: int = SLOW_CLIENTS, interval: float = 1.0, seconds: float = 12.0):
        self.port, self.count, self.interval, self.seconds = port, count, interval, seconds
        self.sockets: list[socket.socket] = []
        self.closed_after: dict[int, float] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="trickle", daemon=True)

    def __enter__(self) -> Trickle:
        self.started = time.monotonic()
        for _ in range(self.count):
            sock = socket.create_connection(("127.0.0.1", self.port), timeout=5)
            sock.sendall(b"GET /conditions HTTP/1.1\r\nHost: localhost\r\n")
            self.sockets.append(sock)
        self._thread.start()
        time.sleep(0.5)  # every connection has reached a gunicorn thread or nginx
        return self

    def _run(self) -> None:
        line = 0
        while not self._stop.wait(self.interval) and time.monotonic() - self.started < self.seconds:
            line += 1
            for number, sock in enumerate(self.sockets):
                if number not in self.closed_after and not self._alive(sock):
                    self.closed_after[number] = time.monotonic() - self.started
                elif number not in self.closed_after:
                    sock.sendall(b"X-Slow-%d: x\r\n" % line)

    @staticmethod
    def _alive(sock: socket.socket) -> bool:
        """False once the server has answered (e.g. 408) or closed the connection."""
        try:
            readable, _, _ = select.select([sock], [], [], 0)
            return not readable
        except OSError:
            return False

    def wait(self) -> None:
        self._thread.join(self.seconds + 5)

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join(5)
        for sock in self.sockets:
            sock.close()


def answer_seconds(url: str, timeout: float) -> float | None:
    """Seconds a normal visitor waits for /conditions (200), or None if no answer in ``timeout``."""
    started = time.monotonic()
    try:
        response = Browser(url, timeout=timeout).get("/conditions")
    except OSError:
        return None
    assert response.status == 200, response.status
    return time.monotonic() - started


@pytest.fixture(scope="module")
def database(tmp_path_factory):
    return migrated_database(tmp_path_factory.mktemp("slow-clients"))


def test_slow_clients_straight_at_gunicorn_stop_the_site(database, tmp_path):
    """What the nginx test below guards against, and proof that its slow clients are slow enough.
    One worker, so that every connection lands on the same threads (with several, the one that
    accepted fewer slow clients keeps answering until more of them come)."""
    with Gunicorn(app_env(database), tmp_path / "gunicorn.log", workers=1) as app_server:
        assert answer_seconds(app_server.url, timeout=5) is not None
        with Trickle(app_server.port, count=4 * THREADS, seconds=8):
            assert answer_seconds(app_server.url, timeout=4) is None, "gunicorn answered while its threads were held"
        # once they hang up, gunicorn answers again
        assert answer_seconds(app_server.url, timeout=10) is not None


@pytest.fixture
def servers(database, tmp_path):
    required("nginx", nginx_installed)
    with Gunicorn(app_env(database), tmp_path / "gunicorn.log", workers=WORKERS) as app_server:
        server_block = SERVER.format(timeout=HEADER_TIMEOUT, port=app_server.port)
        with Nginx(tmp_path / "nginx", server_block, http=LIMITS_ZONE) as front:
            yield app_server, front


def test_behind_nginx_slow_clients_do_not_stop_the_site(servers):
    app_server, front = servers
    for _ in range(2 * WORKERS):  # each worker has rendered the page once before the clock runs
        assert answer_seconds(front.url, timeout=10) is not None
    waits = []
    with Trickle(front.port, seconds=HEADER_TIMEOUT + 5) as trickle:
        deadline = time.monotonic() + HEADER_TIMEOUT
        while time.monotonic() < deadline:  # while every slow client is still sending its headers
            waits.append(answer_seconds(front.url, timeout=5))
            time.sleep(0.2)
        trickle.wait()
    assert len(waits) >= 5 and None not in waits, waits
    assert max(waits) < 2.0, f"a normal request waited {max(waits):.2f} s: {waits}"
    # nginx gave up on each slow client after client_header_timeout; none reached gunicorn
    assert len(trickle.closed_after) == SLOW_CLIENTS, trickle.closed_after
    assert (
        HEADER_TIMEOUT - 0.5
        < min(trickle.closed_after.values())
        <= max(trickle.closed_after.values())
        < HEADER_TIMEOUT + 3
    )
    assert answer_seconds(app_server.url, timeout=5) is not None
