"""A large download, as part 6 of the benchmarks (bench/README.md) and tests/test_serving.py make
it: a file of random-looking bytes, a story whose one rendition it is, a verified account to
download it with (logged in through the dialog), and one download read and dropped 1 MiB at a
time on a raw socket while a thread samples the worker's VmRSS every 50 ms."""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path

from harness.client import HTMX, PASSWORD, Browser, fetch, raw_request
from harness.servers import BIN, ROOT, app_config, rss_kib

MIB = 1024 * 1024
STORY_SLUG = "bench-large-download"
# The first bytes of an MP4 file: the portal serves a file only as the type its content is.
MP4_HEAD = b"\x00\x00\x00\x18ftypmp42\x00\x00\x00\x00mp42isom"
STAFF = "download-bench@example.org"


def write_file(path: Path, mib: int) -> dict:
    """``mib`` MiB of random-looking bytes: one random MiB, each copy stamped with its number."""
    path.parent.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    block = bytearray(os.urandom(MIB))
    with open(path, "wb") as f:
        for i in range(mib):
            block[:8] = i.to_bytes(8, "big")
            block[MIB // 2 : MIB // 2 + 8] = (i * 2654435761 % 2**64).to_bytes(8, "big")
            f.write(block)
        f.seek(0)
        f.write(MP4_HEAD)
    return {"bytes": mib * MIB, "write_seconds": round(time.perf_counter() - started, 2)}


def register(database: Path, media_root: Path, stored_name: str, size: int) -> int:
    """A story with a video whose one rendition is the big file; returns the rendition id."""
    from app import create_app
    from app.extensions import db
    from app.models import Rendition, Story, Video, utcnow

    app = create_app(app_config(f"sqlite:///{database}", MEDIA_ROOT=str(media_root)))
    with app.app_context():
        story = Story(
            slug=STORY_SLUG,
            title="Bench: a large broadcast file",
            published_at=utcnow(),
            summary="One gigabyte.",
            body="For the download benchmark.",
        )
        video = Video(duration_seconds=600.0, shotlist="00:00:00 Wide shot")
        video.renditions.append(
            Rendition(
                label="HD 1080p",
                container="MP4",
                codec="H.264",
                width=1920,
                height=1080,
                bytes=size,
                filename=stored_name,
                mimetype="video/mp4",
                is_preview=False,
            )
        )
        story.videos.append(video)
        db.session.add(story)
        db.session.commit()
        rendition_id = video.renditions[0].id
        db.session.remove()
        db.engine.dispose()
    return rendition_id


def create_staff(env: dict[str, str]) -> None:
    """``flask --app wsgi users create-staff``: a verified account, the operator's way."""
    import subprocess

    result = subprocess.run(
        [str(BIN / "flask"), "--app", "wsgi", "users", "create-staff", STAFF, "--password", PASSWORD],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    if result.returncode != 0:
        raise RuntimeError(f"flask users create-staff failed:\n{result.stdout}\n{result.stderr}")


def log_in(base_url: str) -> str:
    """Log in through the dialog (HTMX POST); returns the Cookie header for later requests."""
    return logged_in(base_url).cookie_header()


def logged_in(base_url: str) -> Browser:
    """A browser logged in as the bench's staff account (create_staff)."""
    browser = Browser(base_url)
    token = browser.csrf_token()
    response = browser.post(
        "/account/login", {"email": STAFF, "password": PASSWORD, "next": "/", "csrf_token": token}, headers=HTMX
    )
    if response.status != 200 or not response.header("HX-Redirect"):
        raise RuntimeError(f"login at {base_url}: status {response.status}, no HX-Redirect")
    return browser


class RssSampler:
    """VmRSS of ``pid`` every ``interval`` seconds while in the ``with`` block."""

    def __init__(self, pid: int, interval: float = 0.05):
        self.pid, self.interval = pid, interval
        self.samples: list[int] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="rss-sampler", daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            value = rss_kib(self.pid)
            if value is not None:
                self.samples.append(value)
            self._stop.wait(self.interval)

    def __enter__(self) -> RssSampler:
        self.before = rss_kib(self.pid)
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join(5)
        self.after = rss_kib(self.pid)


def download(port: int, path: str, cookie: str | None, expected: int, worker_pid: int | None = None) -> dict:
    """One GET, body read and dropped 1 MiB at a time; throughput and (for gunicorn) RSS growth."""
    request = raw_request("127.0.0.1", port, path, {"Cookie": cookie} if cookie else None)
    buffer = bytearray(MIB)
    sampler = RssSampler(worker_pid) if worker_pid else None
    if sampler:
        sampler.__enter__()
    try:
        started = time.perf_counter()
        response = fetch("127.0.0.1", port, request, buffer, timeout=120)
        elapsed = time.perf_counter() - started
    finally:
        if sampler:
            sampler.__exit__(None, None, None)
    if (
        response.status != 200
        or response.body_bytes != expected
        or int(response.headers.get("content-length", -1)) != expected
    ):
        raise RuntimeError(
            f"GET {path} on {port}: status {response.status}, {response.body_bytes:,} bytes"
            f" (Content-Length {response.headers.get('content-length')}), expected {expected:,}"
        )
    out = {"seconds": round(elapsed, 3), "mb_per_s": round(expected / elapsed / 1e6, 1)}
    if sampler:
        peak = max(sampler.samples + [sampler.after or 0])
        out.update(
            rss_before_mb=round(sampler.before / 1024, 1),
            rss_peak_mb=round(peak / 1024, 1),
            rss_growth_mb=round((peak - sampler.before) / 1024, 1),
            rss_samples=len(sampler.samples),
        )
    return out


def warm_up(port: int, path: str, cookie: str | None) -> None:
    """The first MiB (a Range request), so the worker has run the code path before we measure."""
    request = raw_request(
        "127.0.0.1",
        port,
        path,
        {"Cookie": cookie, "Range": f"bytes=0-{MIB - 1}"} if cookie else {"Range": f"bytes=0-{MIB - 1}"},
    )
    response = fetch("127.0.0.1", port, request, bytearray(MIB), timeout=60)
    if response.status not in (200, 206):
        raise RuntimeError(f"warm-up GET {path} on {port}: status {response.status}")
