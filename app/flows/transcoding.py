"""From an uploaded master to the story's renditions and poster.

A complete upload is checked by its content (ffmpeg reads it; a file with no moving picture is
refused and removed), then planned into one job per rung of TRANSCODE_LADDER plus the poster.
A worker (app/jobs.py) claims a job in the database, runs ffmpeg into a temporary name, renames
the file when it is whole, and, once every job of the master is ready, the story's
``Video``/``Rendition`` rows are replaced in one transaction, as ``flask media import`` makes them.
Until then the old renditions stay where they were, so a visitor never gets a half-made file.

Probing parses what ``ffmpeg -i`` prints: the imageio-ffmpeg wheel ships no ffprobe, and one
binary for both keeps FFMPEG_BINARY the only thing an operator sets.
"""

from __future__ import annotations

import ctypes
import logging
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, cast

from flask_babel import gettext as _
from sqlalchemy import CursorResult, select, update

from ..extensions import db
from ..models import Rendition, TranscodeJob, Upload, Video, utcnow
from . import audit
from .tus import UPLOADS_FOLDER, TusError, checking_path, part_path

log = logging.getLogger(__name__)

WAITING, RUNNING, READY, FAILED, CANCELLED = "waiting", "running", "ready", "failed", "cancelled"
UNFINISHED = (WAITING, RUNNING)
POSTER = "poster"
POSTER_HEIGHT = 720
ERROR_LINES = 12  # of ffmpeg's output kept with a failed job
HEARTBEAT_SECONDS = 1.0
# Demuxers of still pictures: ffmpeg shows them as one video stream, but they are no video.
STILL_FORMATS = re.compile(r"^(image2|.*_pipe|gif|apng|webp)$")


class NotAVideo(TusError):
    def __init__(self) -> None:
        super().__init__(
            415,
            _("This file is not a video: it has no video stream. Please upload a broadcast master (MP4, MOV or MXF)."),
        )


# --- probing --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Probe:
    format: str
    duration: float
    width: int = 0
    height: int = 0
    display_width: int = 0  # the width shown, with the pixel aspect ratio applied
    fps: float = 0
    video_codec: str = ""
    audio_codec: str = ""

    @property
    def is_video(self) -> bool:
        return bool(self.video_codec and self.height and self.duration > 0 and not STILL_FORMATS.match(self.format))


def ffmpeg_binary(config: Mapping[str, Any]) -> str:
    binary: str
    if config.get("FFMPEG_BINARY"):
        binary = config["FFMPEG_BINARY"]
        return binary
    import imageio_ffmpeg

    binary = imageio_ffmpeg.get_ffmpeg_exe()
    return binary


def probe(ffmpeg: str, path: Path) -> Probe:
    """What ``ffmpeg -i`` says of ``path``; a file it cannot read has no format and no streams."""
    result = subprocess.run(
        [ffmpeg, "-hide_banner", "-nostdin", "-i", str(path)],
        capture_output=True,
        text=True,
        errors="replace",
        timeout=300,
    )
    return parse_probe(result.stderr)


def parse_probe(text: str) -> Probe:
    input_match = re.search(r"^Input #0, (.+?), from ", text, re.M)
    if input_match is None:
        return Probe(format="", duration=0)
    duration = re.search(r"Duration: (\d+):(\d\d):(\d\d(?:\.\d+)?)", text)
    seconds = int(duration[1]) * 3600 + int(duration[2]) * 60 + float(duration[3]) if duration else 0.0
    values: dict[str, Any] = {}
    for line in re.findall(r"^\s*Stream #0:\d+.*$", text, re.M):
        if ": Video: " in line and "attached pic" not in line and "video_codec" not in values:
            codec = line.split(": Video: ", 1)[1].split()[0].rstrip(",")
            size = re.search(r"[ ,](\d{1,5})x(\d{1,5})[ ,\]]", line + " ")
            fps = re.search(r"([\d.]+) fps", line)
            dar = re.search(r"DAR (\d+):(\d+)", line)
            if size:
                width, height = int(size[1]), int(size[2])
                display = round(height * int(dar[1]) / int(dar[2])) if dar and int(dar[2]) else width
                values.update(width=width, height=height, display_width=display)
            values.update(video_codec=codec, fps=float(fps[1]) if fps else 0.0)
        elif ": Audio: " in line and "audio_codec" not in values:
            values["audio_codec"] = line.split(": Audio: ", 1)[1].split()[0].rstrip(",")
    return Probe(format=input_match[1], duration=seconds, **values)


# --- from a complete upload to jobs ---------------------------------------------------------


@dataclass(frozen=True)
class Rung:
    key: str
    label: str
    height: int
    fps: float
    crf: int
    maxrate: str
    audio_bitrate: str
    preview: bool


def ladder(config: Mapping[str, Any]) -> list[Rung]:
    rungs = [
        Rung(
            key=r["key"],
            label=r["label"],
            height=int(r["height"]),
            fps=float(r.get("fps", 25)),
            crf=int(r.get("crf", 20)),
            maxrate=str(r.get("maxrate", "")),
            audio_bitrate=str(r.get("audio_bitrate", "128k")),
            preview=bool(r.get("preview")),
        )
        for r in config["TRANSCODE_LADDER"]
    ]
    if sum(rung.preview for rung in rungs) != 1:
        raise RuntimeError('TRANSCODE_LADDER needs exactly one rung with "preview": true (the public one)')
    return rungs


def plan(master: Probe, rungs: list[Rung]) -> list[Rung]:
    """The rungs a master gives: none taller than the master (never upscaled), except the
    preview, which every story needs: it is then made at the master's own height."""
    height = master.height - master.height % 2
    planned = [rung for rung in rungs if rung.height <= master.height]
    if not any(rung.preview for rung in planned):
        preview = next(rung for rung in rungs if rung.preview)
        planned.append(Rung(**{**preview.__dict__, "height": height}))
    return planned


def accept(
    upload: Upload,
    *,
    config: Mapping[str, Any],
    actor: object = None,
    ip: str | None = None,
    now: datetime | None = None,
) -> list[TranscodeJob]:
    """The last byte of ``upload`` has arrived: check it is a video, keep it as the story's new
    master and plan its jobs (committed; the caller queues them; none if another request is
    already doing this). A file that is no video is removed with its upload, and ``NotAVideo``
    raised."""
    now = now or utcnow()
    media_root = Path(config["MEDIA_ROOT"])
    checking = checking_path(media_root, upload)
    try:  # one rename wins: a second request that also saw the last byte leaves the file alone
        part_path(media_root, upload).rename(checking)
    except FileNotFoundError:
        return []
    master = probe(ffmpeg_binary(config), checking)
    if not master.is_video:
        checking.unlink(missing_ok=True)
        db.session.delete(upload)
        db.session.commit()
        raise NotAVideo()
    suffix = Path(upload.filename).suffix.lower()
    suffix = suffix if re.fullmatch(r"\.[a-z0-9]{1,5}", suffix) else ""
    upload.master_filename = f"{UPLOADS_FOLDER}/{upload.key}{suffix}"
    checking.rename(media_root / upload.master_filename)
    upload.completed_at = now
    upload.received = upload.length
    upload.duration_seconds, upload.width, upload.height = master.duration, master.display_width, master.height
    for older in db.session.execute(
        select(Upload).where(
            Upload.story_id == upload.story_id,
            Upload.id != upload.id,
            Upload.completed_at.is_not(None),
            Upload.superseded_at.is_(None),
        )
    ).scalars():
        older.superseded_at = now
        for job in older.jobs:
            if job.state in UNFINISHED:
                job.state, job.finished_at = CANCELLED, now
    jobs = [
        TranscodeJob(kind=rung.key, label=rung.label, height=rung.height, is_preview=rung.preview)
        for rung in plan(master, ladder(config))
    ]
    jobs.append(TranscodeJob(kind=POSTER, label="Poster"))
    upload.jobs.extend(jobs)
    audit.record(
        "upload",
        actor=actor,
        story=upload.story,
        ip=ip,
        now=now,
        detail=f"{upload.filename} ({upload.length} bytes, {master.format}, {master.width}x{master.height}, "
        f"{master.duration:.2f} s)",
    )
    audit.record(
        "transcode", actor=actor, story=upload.story, ip=ip, now=now, detail=", ".join(job.label for job in jobs)
    )
    db.session.commit()
    return jobs


# --- staff actions on a job ----------------------------------------------------------------


def cancel(job: TranscodeJob, *, actor: object = None, ip: str | None = None) -> bool:
    """Stop a waiting or running job (the worker notices at its next heartbeat)."""
    if job.state not in UNFINISHED:
        return False
    job.state, job.finished_at = CANCELLED, utcnow()
    audit.record("transcode.cancel", actor=actor, story=job.upload.story, ip=ip, detail=f"{job.label} (job {job.id})")
    db.session.commit()
    return True


def retry(job: TranscodeJob, *, actor: object = None, ip: str | None = None) -> bool:
    """Run a failed or cancelled job again (not one of a master that has since been replaced)."""
    if job.state not in (FAILED, CANCELLED) or job.upload.superseded_at is not None:
        return False
    _run_again(job)
    audit.record("transcode.retry", actor=actor, story=job.upload.story, ip=ip, detail=f"{job.label} (job {job.id})")
    db.session.commit()
    return True


def retake_poster(
    upload: Upload, percent: float, *, actor: object = None, ip: str | None = None
) -> TranscodeJob | None:
    """Take the poster again at ``percent`` of the duration; the new picture replaces the old
    file in one rename, so the story's card changes with it."""
    job = next((job for job in upload.jobs if job.kind == POSTER), None)
    if job is None or job.state in UNFINISHED or upload.superseded_at is not None:
        return None
    upload.poster_percent = percent
    _run_again(job)
    audit.record("transcode.poster", actor=actor, story=upload.story, ip=ip, detail=f"at {percent:g} %")
    db.session.commit()
    return job


def _run_again(job: TranscodeJob) -> None:
    job.state, job.progress, job.error, job.finished_at, job.worker = WAITING, 0, None, None, None


def current_upload(story_id: int) -> Upload | None:
    """The story's newest complete master, the one its jobs are about."""
    return db.session.execute(
        select(Upload)
        .where(Upload.story_id == story_id, Upload.completed_at.is_not(None))
        .order_by(Upload.completed_at.desc(), Upload.id.desc())
        .limit(1)
    ).scalar_one_or_none()


def phase(upload: Upload) -> str:
    """Where a master stands for the people watching it: "busy" until its files are the story's
    video (all jobs ready is not yet that: publish_if_done follows the last one), "ready" once
    they are, "failed" when a job failed or was cancelled, "replaced" by a newer master."""
    if upload.published_at is not None:
        return "ready"
    if upload.superseded_at is not None:
        return "replaced"
    states = {job.state for job in upload.jobs}
    if states & {FAILED, CANCELLED} and not states & set(UNFINISHED):
        return "failed"
    return "busy"


# --- the worker's side ----------------------------------------------------------------------


def worker_name() -> str:
    return f"{socket.gethostname()[:100]}:{os.getpid()}"


def claim(job_id: int, worker: str, *, stale_seconds: float, now: datetime | None = None) -> bool:
    """Take a waiting job (or one whose worker fell silent) for ``worker``: one worker wins."""
    now = now or utcnow()
    claimed = cast(
        CursorResult[Any],
        db.session.execute(
            update(TranscodeJob)
            .where(
                TranscodeJob.id == job_id,
                (TranscodeJob.state == WAITING)
                | (
                    (TranscodeJob.state == RUNNING)
                    & (TranscodeJob.heartbeat_at < now - timedelta(seconds=stale_seconds))
                ),
            )
            .values(state=RUNNING, worker=worker, heartbeat_at=now, progress=0, attempts=TranscodeJob.attempts + 1)
        ),
    ).rowcount
    db.session.commit()
    return claimed == 1


def orphaned_jobs(*, stale_seconds: float, max_attempts: int, now: datetime | None = None) -> list[int]:
    """Running jobs whose worker is gone (a dead process on this host, or silent for
    ``stale_seconds``), put back to waiting, or failed after ``max_attempts`` (a master that
    kills its worker every time must not do so forever); with the waiting ones, the ids to queue."""
    now = now or utcnow()
    host = socket.gethostname()[:100]
    for job in db.session.execute(select(TranscodeJob).where(TranscodeJob.state == RUNNING)).scalars():
        worker_host, _, pid = (job.worker or "").rpartition(":")
        dead_here = worker_host == host and pid.isdigit() and not _alive(int(pid))
        if dead_here or job.heartbeat_at is None or job.heartbeat_at < now - timedelta(seconds=stale_seconds):
            log.warning(
                "Job %s (%s) of worker %s is orphaned after %s attempt(s)", job.id, job.label, job.worker, job.attempts
            )
            job.state, job.worker = WAITING, None
            if job.attempts >= max_attempts:
                job.state, job.finished_at = FAILED, now
                job.error = f"The worker stopped during each of {job.attempts} attempts at this job."
    db.session.commit()
    return list(
        db.session.execute(
            select(TranscodeJob.id).where(TranscodeJob.state == WAITING).order_by(TranscodeJob.id)
        ).scalars()
    )


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class JobStopped(Exception):
    """The job was cancelled, or taken over by another worker, while it ran."""


def run(job_id: int, *, config: Mapping[str, Any], worker: str | None = None) -> str:
    """Claim and run one job; its final state (or "skipped" when another worker has it)."""
    worker = worker or worker_name()
    if not claim(job_id, worker, stale_seconds=config["JOBS_STALE_SECONDS"]):
        return "skipped"
    job = db.session.get(TranscodeJob, job_id)
    if job is None:  # its story was deleted since the claim (the cascade took the job)
        return "gone"
    media_root = Path(config["MEDIA_ROOT"])
    final = output_name(job)
    temporary = media_root / f"{final}.{job.attempts}.part"
    temporary.parent.mkdir(parents=True, exist_ok=True)
    for leftover in temporary.parent.glob(f"{Path(final).name}.*.part"):  # of a killed attempt
        leftover.unlink(missing_ok=True)
    ffmpeg = ffmpeg_binary(config)
    try:
        if not job.upload.master_filename:
            raise FfmpegFailed("The master file is gone.")
        command = command_for(job, ffmpeg, media_root / job.upload.master_filename, temporary, config)
        _run_ffmpeg(command, job, worker, job.upload.duration_seconds)
        made = probe(ffmpeg, temporary)
        if job.kind != POSTER and not made.is_video:
            raise FfmpegFailed(f"ffmpeg wrote no video ({made.format or 'unreadable'})")
        temporary.rename(media_root / final)
    except JobStopped:
        temporary.unlink(missing_ok=True)
        db.session.rollback()
        return _state(job_id)
    except (FfmpegFailed, OSError) as exc:
        temporary.unlink(missing_ok=True)
        db.session.rollback()
        return _finish(job_id, worker, state=FAILED, error=str(exc))
    state = _finish(
        job_id,
        worker,
        state=READY,
        output=final,
        width=made.display_width,
        height=made.height,
        size=(media_root / final).stat().st_size,
    )
    if state == READY:
        publish_if_done(job.upload_id, media_root)
    return state


def _finish(
    job_id: int,
    worker: str,
    *,
    state: str,
    error: str | None = None,
    output: str | None = None,
    width: int = 0,
    height: int = 0,
    size: int = 0,
) -> str:
    values: dict[str, object] = dict(state=state, error=error, finished_at=utcnow(), heartbeat_at=utcnow())
    if state == READY:
        values.update(progress=100, output_filename=output, width=width, height=height, bytes=size)
    done = cast(
        CursorResult[Any],
        db.session.execute(
            update(TranscodeJob)
            .where(
                TranscodeJob.id == job_id,
                TranscodeJob.state == RUNNING,
                TranscodeJob.worker == worker,
            )
            .values(**values)
        ),
    ).rowcount
    db.session.commit()
    return state if done else _state(job_id)


def _state(job_id: int) -> str:
    """A job's state as the database has it now ("gone" with its story)."""
    job = db.session.get(TranscodeJob, job_id)
    return job.state if job is not None else "gone"


def output_name(job: TranscodeJob) -> str:
    """Where a job's file goes, relative to MEDIA_ROOT: beside the story's other files, named
    after the master, so a new master never overwrites a file still being downloaded."""
    slug, key = job.upload.story.slug, job.upload.key[:12]
    if job.kind == POSTER:
        return f"{slug}/{key}-poster.jpg"
    return f"{slug}/{key}-{job.kind}-{job.height}p.mp4"


def command_for(job: TranscodeJob, ffmpeg: str, master: Path, output: Path, config: Mapping[str, Any]) -> list[str]:
    # Interlaced broadcast masters are deinterlaced; non-square pixels are made square first so
    # the aspect ratio is kept, then the height is set and the width follows (even, for H.264).
    square = "bwdif=deint=interlaced,scale=trunc(iw*sar/2)*2:ih,setsar=1"
    start = [ffmpeg, "-hide_banner", "-nostdin", "-y", "-loglevel", "error", "-progress", "pipe:1", "-nostats"]
    if job.kind == POSTER:
        at = job.upload.duration_seconds * job.upload.poster_percent / 100
        at = max(0.0, min(at, job.upload.duration_seconds - 0.1))
        return [
            *start,
            "-ss",
            f"{at:.3f}",
            "-i",
            str(master),
            "-frames:v",
            "1",
            "-vf",
            f"{square},scale=-2:'min({POSTER_HEIGHT},ih)'",
            "-q:v",
            "3",
            "-f",
            "mjpeg",
            str(output),
        ]
    rung = next(r for r in ladder(config) if r.key == job.kind)
    rate = ["-maxrate", rung.maxrate, "-bufsize", rung.maxrate] if rung.maxrate else []
    return [
        *start,
        "-i",
        str(master),
        "-map",
        "0:v:0",
        "-map",
        "0:a:0?",
        "-vf",
        f"{square},scale=-2:{job.height},fps={rung.fps:g}",
        "-c:v",
        "libx264",
        "-profile:v",
        "high",
        "-preset",
        config["FFMPEG_PRESET"],
        "-crf",
        str(rung.crf),
        *rate,
        "-pix_fmt",
        "yuv420p",
        "-c:a",
        "aac",
        "-b:a",
        rung.audio_bitrate,
        "-ac",
        "2",
        "-movflags",
        "+faststart",
        "-f",
        "mp4",
        str(output),
    ]


class FfmpegFailed(Exception):
    pass


_PRCTL = ctypes.CDLL(None, use_errno=True).prctl if sys.platform.startswith("linux") else None
PR_SET_PDEATHSIG = 1


def _die_with_parent() -> None:
    """In the child, between fork and exec: be killed when the thread that started us dies."""
    if _PRCTL is not None:
        _PRCTL(PR_SET_PDEATHSIG, signal.SIGKILL)


def _run_ffmpeg(command: list[str], job: TranscodeJob, worker: str, duration: float) -> None:
    """Run ffmpeg, writing its progress (``-progress``) and a heartbeat to the job's row."""
    with tempfile.TemporaryFile("w+", errors="replace") as errors:
        # If this worker is killed (-9), its ffmpeg must not go on writing a file nobody will use:
        # on Linux the kernel kills it at once (PR_SET_PDEATHSIG); elsewhere its next progress
        # write to our closed pipe does (SIGPIPE), which on a busy machine may take a minute.
        process = subprocess.Popen(
            command, stdout=subprocess.PIPE, stderr=errors, text=True, errors="replace", preexec_fn=_die_with_parent
        )
        last_beat = 0.0
        assert process.stdout is not None  # stdout=PIPE
        try:
            for line in process.stdout:
                key, _, value = line.strip().partition("=")
                if key != "out_time_us" or not value.lstrip("-").isdigit():
                    continue
                now = time.monotonic()
                if now - last_beat >= HEARTBEAT_SECONDS:
                    last_beat = now
                    percent = min(99, max(0, int(int(value) / 1e6 / duration * 100))) if duration else 0
                    _beat(job.id, worker, percent)
            process.wait()
        except BaseException:
            process.kill()
            process.wait()
            raise
        if process.returncode != 0:
            errors.seek(0)
            tail = "\n".join(deque((line.rstrip() for line in errors if line.strip()), maxlen=ERROR_LINES))
            raise FfmpegFailed(tail or f"ffmpeg exited with status {process.returncode}")


def _beat(job_id: int, worker: str, percent: int) -> None:
    still_ours = cast(
        CursorResult[Any],
        db.session.execute(
            update(TranscodeJob)
            .where(
                TranscodeJob.id == job_id,
                TranscodeJob.state == RUNNING,
                TranscodeJob.worker == worker,
            )
            .values(progress=percent, heartbeat_at=utcnow())
        ),
    ).rowcount
    db.session.commit()
    if not still_ours:
        raise JobStopped()


# --- publishing -------------------------------------------------------------------------------


def publish_if_done(upload_id: int, media_root: Path) -> bool:
    """Once every job of a master is ready, its files become the story's video in one
    transaction (the old renditions are replaced, their files removed after the commit)."""
    upload = db.session.get(Upload, upload_id)
    if upload is None or upload.superseded_at is not None or any(job.state != READY for job in upload.jobs):
        return False
    won = cast(
        CursorResult[Any],
        db.session.execute(
            update(Upload).where(Upload.id == upload_id, Upload.published_at.is_(None)).values(published_at=utcnow())
        ),
    ).rowcount
    if not won:
        db.session.rollback()
        return False
    story = upload.story
    video = story.video
    if video is None:
        video = Video(story=story)
        db.session.add(video)
    old_files = {r.filename for r in video.renditions} | ({video.poster_filename} if video.poster_filename else set())
    video.renditions.clear()
    for job in upload.jobs:
        if job.kind == POSTER:
            video.poster_filename = job.output_filename
        else:
            video.renditions.append(
                Rendition(
                    label=job.label,
                    container="MP4",
                    codec="H.264",
                    width=job.width,
                    height=job.height,
                    bytes=job.bytes,
                    filename=job.output_filename,
                    mimetype="video/mp4",
                    is_preview=job.is_preview,
                )
            )
    video.duration_seconds = upload.duration_seconds
    older_masters = (
        db.session.execute(
            select(Upload).where(
                Upload.story_id == story.id, Upload.id != upload.id, Upload.master_filename.is_not(None)
            )
        )
        .scalars()
        .all()
    )
    stale_masters = [older.master_filename for older in older_masters if older.master_filename is not None]
    for older in older_masters:
        older.master_filename = None
    db.session.commit()
    kept = {job.output_filename for job in upload.jobs}
    for name in (old_files - kept) | set(stale_masters):
        (media_root / name).unlink(missing_ok=True)
    log.info("Story %s: %d renditions published from upload %s", story.slug, len(video.renditions), upload.key)
    return True
