"""The way operators run it: `flask --app wsgi db upgrade`, then `gunicorn -c gunicorn.conf.py wsgi:app`
(harness/servers.py's Gunicorn starts it so)."""

from __future__ import annotations

import time

import pytest

from harness import download
from harness.client import Browser, fetch, raw_request
from harness.servers import Gunicorn, app_env

from .helpers.services import migrated_database

MIB = download.MIB


@pytest.fixture(scope="module")
def database(tmp_path_factory):
    return migrated_database(tmp_path_factory.mktemp("serving"))


def test_gunicorn_serves_the_migrated_portal(database, tmp_path):
    with Gunicorn(app_env(database), tmp_path / "gunicorn.log", workers=1) as server:
        page = Browser(server.url, timeout=10).get("/account/register")
    assert page.status == 200
    assert "Create an account" in page.text and "/static/vendor/htmx.min.js" in page.text


# Every header gunicorn itself reads as "this came over HTTPS" from a proxy it trusts (by default
# any connection from 127.0.0.1), and the one werkzeug's ProxyFix reads when TRUSTED_PROXIES says so.
FORGED_HTTPS = [{"X-Forwarded-Proto": "https"}, {"X-Forwarded-Protocol": "ssl"}, {"X-Forwarded-Ssl": "on"}]


@pytest.mark.parametrize("trusted_proxies", [0, 1])
def test_only_trusted_proxies_decide_whether_a_request_came_over_https(database, tmp_path, trusted_proxies):
    """A client on the same machine (or anyone, through a proxy that passes these headers on)
    sends them to gunicorn from 127.0.0.1: with TRUSTED_PROXIES=0 the app must not take the
    request for HTTPS (it would send HSTS, and mark cookies and redirects for https)."""
    env = app_env(database, TRUSTED_PROXIES=trusted_proxies)
    with Gunicorn(env, tmp_path / "gunicorn.log", workers=1) as server:
        browser = Browser(server.url, timeout=10)
        seen = {}
        for headers in [{}, *FORGED_HTTPS]:
            response = browser.get("/conditions", headers=headers)
            assert response.status == 200, headers
            seen[", ".join(headers) or "none"] = response.header("Strict-Transport-Security") is not None
    # ProxyFix alone decides, and only by X-Forwarded-Proto from the proxies it was told about
    expected = {
        "none": False,
        "X-Forwarded-Proto": trusted_proxies == 1,
        "X-Forwarded-Protocol": False,
        "X-Forwarded-Ssl": False,
    }
    assert seen == expected


@pytest.fixture(scope="module")
def large_file(database, tmp_path_factory):
    """A verified account and a story whose one rendition is a 32 MiB file; (env, rendition path)."""
    media = tmp_path_factory.mktemp("media")
    size = 32 * MIB
    download.write_file(media / "large.mp4", 32)
    rendition_id = download.register(database, media, "large.mp4", size)
    env = app_env(database, MEDIA_ROOT=str(media))
    download.create_staff(env)
    return env, f"/download/{rendition_id}", size


def test_a_large_download_is_sent_without_growing_the_worker(large_file, tmp_path):
    env, path, size = large_file
    with Gunicorn(env, tmp_path / "gunicorn.log", workers=1) as server:
        cookie = download.log_in(server.url)
        [worker] = server.worker_pids()
        download.warm_up(server.port, path, cookie)
        result = download.download(server.port, path, cookie, size, worker_pid=worker)
    assert result["rss_growth_mb"] < 20, result  # sendfile: the file never passes through Python


def test_a_download_read_slowly_outlasts_the_worker_timeout(large_file, tmp_path):
    """A worker busy for longer than gunicorn's ``timeout`` is killed as silent, unless its main
    loop keeps answering the master while a thread sends the file (gthread). Here the timeout
    is 2 s and the client takes about 6 s to read the file."""
    env, path, size = large_file
    env = {**env, "GUNICORN_CMD_ARGS": "--timeout 2"}
    with Gunicorn(env, tmp_path / "gunicorn.log", workers=1) as server:
        cookie = download.log_in(server.url)
        started = time.monotonic()
        response = fetch(
            "127.0.0.1",
            server.port,
            raw_request("127.0.0.1", server.port, path, {"Cookie": cookie}),
            bytearray(256 * 1024),
            timeout=10,
            on_chunk=lambda n: time.sleep(n / (size / 6)),
        )
        seconds = time.monotonic() - started
        log = server.log_tail()
    assert response.status == 200 and seconds > 4, (response.status, seconds)
    assert response.body_bytes == size, f"{response.body_bytes:,} of {size:,} bytes in {seconds:.1f} s\n{log}"
