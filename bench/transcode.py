"""Transcoding through the queue vs the same ffmpeg command run directly; and how long a
complete upload waits before its job starts.

A test master made by the bundled ffmpeg (test pattern and tone) is uploaded with tus to the
portal under gunicorn; a real jobs worker (``flask jobs worker``, JOBS_WORKERS 1, the SQLite
queue) runs its jobs. The ladder is the production preview rung alone (plus the poster, which
every master gets). Per round:

- queue: the job's wall time is from its claim (``heartbeat_at`` as first seen running) to its
  ``finished_at`` (ffmpeg, the check of its output, the rename, the database); the wait is from
  the upload's ``completed_at`` (the last byte in) to that claim (probing the master, planning,
  queueing, the worker's poll);
- direct: ``app.flows.transcoding.command_for`` of the same job, run by ``subprocess.run``.

The two alternate, ``rounds`` times. Times come from the database's clock, the one host's.
"""

from __future__ import annotations

import json
import sqlite3
import statistics
import subprocess
import time
from datetime import datetime
from pathlib import Path

from harness.servers import BIN, ROOT, app_config

from .uploads import Uploader, send

POLL_SECONDS = 0.02


def make_master(path: Path, seconds: float, size: str) -> Path:
    from app.flows.transcoding import ffmpeg_binary

    subprocess.run(
        [
            ffmpeg_binary({}),
            "-hide_banner",
            "-loglevel",
            "error",
            "-y",
            "-f",
            "lavfi",
            "-i",
            f"testsrc=size={size}:rate=25:duration={seconds}",
            "-f",
            "lavfi",
            "-i",
            f"sine=frequency=440:duration={seconds}",
            "-c:v",
            "libx264",
            "-preset",
            "ultrafast",
            "-pix_fmt",
            "yuv420p",
            "-c:a",
            "aac",
            "-t",
            str(seconds),
            str(path),
        ],
        check=True,
        timeout=600,
    )
    return path


def preview_ladder() -> list[dict]:
    from app.config import DefaultConfig

    return [rung for rung in DefaultConfig.TRANSCODE_LADDER if rung.get("preview")]


def worker_process(env: dict[str, str], log: Path) -> subprocess.Popen:
    with log.open("ab") as out:
        return subprocess.Popen(
            [str(BIN / "flask"), "--app", "wsgi", "jobs", "worker"],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


def _when(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


def follow(database: Path, upload_key: str, timeout: float) -> dict:
    """Poll the rendition job of the upload ``upload_key`` until it is ready."""
    deadline, claimed = time.monotonic() + timeout, None
    with sqlite3.connect(database, timeout=10) as connection:
        while time.monotonic() < deadline:
            row = connection.execute(
                "SELECT u.completed_at, j.id, j.state, j.heartbeat_at, j.finished_at FROM uploads u"
                " JOIN transcode_jobs j ON j.upload_id = u.id WHERE u.key = ? AND j.kind != 'poster'",
                (upload_key,),
            ).fetchone()
            if row:
                completed, job_id, state, heartbeat, finished = row
                if state == "running" and claimed is None:
                    claimed = _when(heartbeat)
                if state in ("failed", "cancelled"):
                    raise RuntimeError(f"transcode job {job_id} {state}")
                if state == "ready":
                    claimed = claimed or _when(heartbeat)
                    return {
                        "job_id": job_id,
                        "wait_s": round((claimed - _when(completed)).total_seconds(), 3),
                        "seconds": round((_when(finished) - claimed).total_seconds(), 3),
                    }
            time.sleep(POLL_SECONDS)
    raise RuntimeError(f"upload {upload_key}: no ready rendition within {timeout:g} s")


def direct(database: Path, media_root: Path, job_id: int, ladder: list[dict], output: Path) -> float:
    """The job's own ffmpeg command, run by hand; its seconds."""
    from app import create_app
    from app.extensions import db
    from app.flows.transcoding import command_for, ffmpeg_binary
    from app.models import TranscodeJob

    app = create_app(app_config(f"sqlite:///{database}", MEDIA_ROOT=str(media_root), TRANSCODE_LADDER=ladder))
    with app.app_context():
        job = db.session.get(TranscodeJob, job_id)
        command = command_for(
            job, ffmpeg_binary(app.config), media_root / job.upload.master_filename, output, app.config
        )
        db.session.remove()
        db.engine.dispose()
    started = time.perf_counter()
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL, timeout=1800)
    seconds = time.perf_counter() - started
    output.unlink(missing_ok=True)
    return seconds


def measure(
    portal, database: Path, media_root: Path, story_id: int, master: Path, *, rounds: int, ladder: list[dict], progress
) -> dict:
    uploader, data = Uploader(portal.url), master.read_bytes()
    runs: dict[str, list] = {"queue": [], "direct": []}
    for r in range(rounds):
        progress(f"transcode round {r + 1}/{rounds}: through the queue, then directly")
        location = uploader.create(story_id, len(data))
        send(portal.port, location, data, len(data), len(data), uploader.headers())
        queued = follow(database, location.rsplit("/", 1)[1], timeout=1800)
        runs["queue"].append(queued)
        seconds = direct(database, media_root, queued["job_id"], ladder, media_root / "bench-direct.mp4")
        runs["direct"].append({"seconds": round(seconds, 3)})
    queue = statistics.median(r["seconds"] for r in runs["queue"])
    straight = statistics.median(r["seconds"] for r in runs["direct"])
    return {
        "runs": runs,
        "queue_s": queue,
        "direct_s": straight,
        "ratio": queue / straight,
        "wait_s_max": max(r["wait_s"] for r in runs["queue"]),
        "wait_s_median": statistics.median(r["wait_s"] for r in runs["queue"]),
        "master_bytes": len(data),
        "ladder": json.dumps(ladder),
    }
