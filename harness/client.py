"""A tiny HTTP client for the load generator: http.client, one connection per request, a cookie jar.

Every request says "Connection: close", as the benchmarks have always measured (each request
a new connection to gunicorn).
"""

from __future__ import annotations

import http.client
import re
import socket
import time
from dataclasses import dataclass
from urllib.parse import urlencode, urlsplit

CSRF_RE = re.compile(r'"X-CSRFToken": "([^"]+)"')
HTMX = {"HX-Request": "true", "HX-Target": "account-step"}
PASSWORD = "Blue-Harbour-42!"  # of every account the benchmarks and the harness make


def registration(email: str, next_url: str = "/conditions") -> dict:
    return {
        "email": email,
        "password": PASSWORD,
        "confirm": PASSWORD,
        "first_name": "Ann",
        "last_name": "Lee",
        "organisation": "Example Broadcasting",
        "accept_conditions": "y",
        "next": next_url,
    }


@dataclass
class Response:
    status: int
    headers: http.client.HTTPMessage
    body: bytes
    elapsed: float  # seconds from sending the request to the last body byte

    def header(self, name: str, default: str | None = None) -> str | None:
        return self.headers.get(name, default)

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", "replace")


class Browser:
    """One browser: its own cookie jar, plain requests to one origin (no redirects followed)."""

    def __init__(self, base_url: str, timeout: float = 60.0):
        parts = urlsplit(base_url)
        self.host, self.port = parts.hostname, parts.port or 80
        self.timeout = timeout
        self.cookies: dict[str, str] = {}

    def request(self, method: str, path: str, form: dict | None = None, headers: dict | None = None) -> Response:
        body = urlencode(form).encode() if form is not None else None
        sent = {"Host": f"{self.host}:{self.port}", "Connection": "close", "Accept": "text/html"}
        if self.cookies:
            sent["Cookie"] = self.cookie_header()
        if body is not None:
            sent["Content-Type"] = "application/x-www-form-urlencoded"
        sent.update(headers or {})
        connection = http.client.HTTPConnection(self.host, self.port, timeout=self.timeout)
        try:
            started = time.perf_counter()
            connection.request(method, path, body=body, headers=sent)
            response = connection.getresponse()
            data = response.read()
            elapsed = time.perf_counter() - started
        finally:
            connection.close()
        for raw in response.headers.get_all("Set-Cookie") or ():
            self._store_cookie(raw)
        return Response(response.status, response.headers, data, elapsed)

    def get(self, path: str, headers: dict | None = None) -> Response:
        return self.request("GET", path, headers=headers)

    def post(self, path: str, form: dict, headers: dict | None = None) -> Response:
        return self.request("POST", path, form=form, headers=headers)

    def cookie_header(self) -> str:
        return "; ".join(f"{k}={v}" for k, v in self.cookies.items())

    def csrf_token(self, path: str = "/account/login") -> str:
        """GET a full page and read the token from the body tag's hx-headers. A visitor's pages
        carry none until a session exists (issue #16): the default is the page the dialog opens."""
        response = self.get(path)
        match = CSRF_RE.search(response.text)
        if response.status != 200 or not match:
            raise RuntimeError(f"GET {path}: status {response.status}, no CSRF token in the page")
        return match.group(1)

    def _store_cookie(self, raw: str) -> None:
        first, *attributes = raw.split(";")
        name, _, value = first.strip().partition("=")
        attrs = {a.strip().split("=", 1)[0].lower(): a.strip().partition("=")[2] for a in attributes}
        if not value or attrs.get("max-age") == "0":
            self.cookies.pop(name, None)
        else:
            self.cookies[name] = value


# --- a lean client for throughput: prebuilt request bytes, raw socket, body counted not kept ---


def raw_request(host: str, port: int, path: str, headers: dict | None = None) -> bytes:
    """A GET request as bytes, to send many times."""
    lines = [f"GET {path} HTTP/1.1", f"Host: {host}:{port}", "Connection: close", "Accept: text/html"]
    lines += [f"{k}: {v}" for k, v in (headers or {}).items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


@dataclass
class RawResponse:
    status: int
    headers: dict[str, str]  # lower-cased names
    body_bytes: int
    head: bytes  # the first body bytes (up to one buffer), for checks


def fetch(host: str, port: int, request: bytes, buffer: bytearray, timeout: float = 60.0, on_chunk=None) -> RawResponse:
    """Send ``request`` on a new connection and read the answer until the server closes it,
    ``len(buffer)`` bytes at a time into the same buffer (nothing is kept). ``on_chunk(n)`` is
    called after every read."""
    view = memoryview(buffer)
    with socket.create_connection((host, port), timeout=timeout) as sock:
        sock.sendall(request)
        received = bytearray()
        while b"\r\n\r\n" not in received:
            n = sock.recv_into(view)
            if not n:
                raise ConnectionError("connection closed before the response headers")
            received += view[:n]
        head, _, first = bytes(received).partition(b"\r\n\r\n")
        status_line, *header_lines = head.decode("latin-1").split("\r\n")
        headers = {}
        for line in header_lines:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        body = len(first)
        while True:
            n = sock.recv_into(view)
            if not n:
                break
            body += n
            if on_chunk is not None:
                on_chunk(n)
    return RawResponse(int(status_line.split()[1]), headers, body, first[: len(buffer)])
