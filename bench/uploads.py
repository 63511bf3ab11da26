"""Uploading a master through gunicorn with tus vs a bare streaming WSGI app under the same gunicorn.

Both get the same bytes in the same PATCH requests (UPLOAD_CHUNK_BYTES each, as the browser's
tus client sends them), taking turns, ``rounds`` uploads each, one gunicorn worker each
(gunicorn.conf.py). The portal's upload is declared one byte longer than what is sent, so it
never completes: what is timed is receiving and writing, not probing a file of random bytes
(bench/transcode.py times what follows an upload). While the portal receives, a thread samples
its worker's VmRSS every 50 ms.
"""

from __future__ import annotations

import base64
import http.client
import os
import statistics
import time
from pathlib import Path

from harness.download import MIB, RssSampler, logged_in
from harness.servers import app_config

TUS = {"Tus-Resumable": "1.0.0"}
BODY = "application/offset+octet-stream"


def make_story(database: Path, media_root: Path, slug: str) -> int:
    """A draft-free story to upload masters for; returns its id."""
    from app import create_app
    from app.extensions import db
    from app.models import Story, utcnow

    app = create_app(app_config(f"sqlite:///{database}", MEDIA_ROOT=str(media_root)))
    with app.app_context():
        story = Story(slug=slug, title="Bench: an uploaded master", published_at=utcnow(), summary="Uploads.")
        db.session.add(story)
        db.session.commit()
        story_id = story.id
        db.session.remove()
        db.engine.dispose()
    return story_id


class Uploader:
    """A logged-in staff browser that speaks tus to the portal (harness/download.py create_staff)."""

    def __init__(self, base_url: str):
        self.browser = logged_in(base_url)
        self.token = self.browser.csrf_token()

    def headers(self, **extra) -> dict[str, str]:
        return {**TUS, "X-CSRFToken": self.token, "Cookie": self.browser.cookie_header(), **extra}

    def create(self, story_id: int, length: int, filename: str = "bench-master.mp4") -> str:
        metadata = ",".join(
            f"{k} {base64.b64encode(str(v).encode()).decode()}"
            for k, v in {"story": story_id, "filename": filename}.items()
        )
        response = self.browser.request(
            "POST",
            "/staff/uploads/",
            headers=self.headers(**{"Upload-Length": str(length), "Upload-Metadata": metadata}),
        )
        if response.status != 201:
            raise RuntimeError(f"tus POST: status {response.status}: {response.text[:300]}")
        return response.header("Location")

    def delete(self, location: str) -> None:
        self.browser.request("DELETE", location, headers=self.headers())


def send(port: int, path: str, block: bytes, total: int, chunk: int, headers: dict[str, str]) -> float:
    """PATCH ``total`` bytes (``block`` repeated) to ``path`` in requests of ``chunk`` bytes on
    one kept-alive connection; the seconds it took."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=300)
    started, offset = time.perf_counter(), 0
    try:
        while offset < total:
            size = min(chunk, total - offset)
            connection.putrequest("PATCH", path, skip_accept_encoding=True)
            for name, value in {
                **headers,
                "Upload-Offset": str(offset),
                "Content-Type": BODY,
                "Content-Length": str(size),
            }.items():
                connection.putheader(name, value)
            connection.endheaders()
            left = size
            while left:
                piece = block[: min(len(block), left)]
                connection.send(piece)
                left -= len(piece)
            response = connection.getresponse()
            response.read()
            if response.status != 204:
                raise RuntimeError(f"PATCH {path} at {offset}: status {response.status}")
            offset += size
    finally:
        connection.close()
    return time.perf_counter() - started


def measure(portal, bare, story_id: int, *, mib: int, chunk: int, rounds: int, bare_file: Path, progress) -> dict:
    """Alternating uploads of ``mib`` MiB to the portal and to the bare app."""
    total, block = mib * MIB, os.urandom(MIB)
    uploader = Uploader(portal.url)
    worker = portal.worker_pids()[0]
    runs: dict[str, list[dict]] = {"bare": [], "portal": []}
    for r in range(rounds):
        progress(f"uploads round {r + 1}/{rounds}: {mib:,} MiB to the bare app, then to the portal")
        bare_file.unlink(missing_ok=True)
        seconds = send(bare.port, "/", block, total, chunk, {})
        runs["bare"].append({"seconds": round(seconds, 3), "mb_per_s": round(total / seconds / 1e6, 1)})
        bare_file.unlink(missing_ok=True)

        location = uploader.create(story_id, total + 1)  # never complete: see the module's docstring
        with RssSampler(worker) as sampler:
            seconds = send(portal.port, location, block, total, chunk, uploader.headers())
        uploader.delete(location)
        peak = max(sampler.samples + [sampler.after or 0])
        runs["portal"].append(
            {
                "seconds": round(seconds, 3),
                "mb_per_s": round(total / seconds / 1e6, 1),
                "rss_before_mb": round(sampler.before / 1024, 1),
                "rss_growth_mb": round((peak - sampler.before) / 1024, 1),
            }
        )
    out = {
        label: {"runs": found, "mb_per_s": statistics.median(r["mb_per_s"] for r in found)}
        for label, found in runs.items()
    }
    out["portal"]["rss_growth_mb"] = max(r["rss_growth_mb"] for r in runs["portal"])
    out.update(mib=mib, chunk_mib=round(chunk / MIB, 2), rounds=rounds)
    return out
