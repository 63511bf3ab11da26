"""The job queue (huey): transcoding jobs, and the worker that runs them.

The queue is huey's SQLite storage in ``instance/jobs.db`` by default, or Redis with
``JOBS_URL=redis://…``: the same code for both. It carries only job ids; the ``transcode_jobs``
rows are the truth (app/flows/transcoding.py), so a job whose message was lost (a worker killed
with -9 after taking it, a Redis flushed) is found again and queued when a worker starts and by
the worker's housekeeping every minute.

The worker: ``flask --app wsgi jobs worker`` (``make run`` starts one beside the web server).
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

import click
from flask import Flask, current_app
from flask.cli import AppGroup
from huey import RedisHuey, SqliteHuey, crontab

from .extensions import db
from .flows import transcoding, tus
from .models import utcnow

log = logging.getLogger(__name__)
cli = AppGroup("jobs", help="The transcoding job queue and its worker.")


def init_jobs(app: Flask) -> None:
    app.extensions["jobs"] = build_queue(app)
    app.cli.add_command(cli)


def build_queue(app: Flask):
    """A huey for ``app``'s JOBS_URL with the portal's tasks registered on it."""
    url, name = app.config["JOBS_URL"] or "", app.config["JOBS_QUEUE_NAME"]
    if url.startswith(("redis://", "rediss://", "unix://")):
        queue = RedisHuey(name, url=url, results=False)
    elif url.startswith("sqlite:///") or not url:
        path = url[len("sqlite:///") :] if url else os.path.join(app.instance_path, "jobs.db")
        queue = SqliteHuey(name, filename=path, results=False)
    else:
        raise RuntimeError(f"JOBS_URL must be empty, sqlite:///PATH or redis://HOST:PORT/DB, not {url!r}")

    @queue.task(name="transcode")
    def transcode(job_id: int) -> str:
        with app.app_context():
            try:
                return transcoding.run(job_id, config=app.config)
            finally:
                db.session.remove()

    @queue.periodic_task(crontab(minute="*"), name="housekeeping")
    def housekeeping() -> None:
        with app.app_context():
            try:
                tidy(app)
            finally:
                db.session.remove()

    queue.transcode = transcode
    return queue


def enqueue(job_ids) -> None:
    """Queue jobs already committed; if the queue cannot be reached they wait in the database
    until a worker starts or its housekeeping runs."""
    queue = current_app.extensions["jobs"]
    for job_id in job_ids:
        try:
            queue.transcode(job_id)
        except Exception:  # the queue's storage is down: the row is still there to find
            log.exception("Could not queue job %s; a worker will find it", job_id)


def tidy(app: Flask) -> tuple[int, int]:
    """Sweep expired uploads, give orphaned jobs to a worker again: (uploads removed, jobs queued)."""
    swept = tus.sweep_expired(app.config["MEDIA_ROOT"], utcnow())
    if swept:
        log.info("Swept %d expired uploads", swept)
    job_ids = transcoding.orphaned_jobs(
        stale_seconds=app.config["JOBS_STALE_SECONDS"], max_attempts=app.config["JOBS_MAX_ATTEMPTS"]
    )
    enqueue(job_ids)
    return swept, len(job_ids)


@cli.command("worker")
@click.option("--workers", type=int, default=None, help="Jobs run at once (default: JOBS_WORKERS).")
def worker_command(workers):
    """Run transcoding jobs until stopped (Ctrl-C finishes the running job first)."""
    # current_app is typed as the Flask it proxies, without the proxy's own method
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    Path(app.config["MEDIA_ROOT"]).mkdir(parents=True, exist_ok=True)
    _, queued = tidy(app)
    db.session.remove()
    click.echo(f"jobs worker {transcoding.worker_name()}: {queued} job(s) waiting")
    consumer = app.extensions["jobs"].create_consumer(
        workers=workers or app.config["JOBS_WORKERS"], worker_type="thread", max_delay=1.0
    )
    consumer.run()


@cli.command("sweep")
def sweep_command():
    """Remove expired unfinished uploads and queue orphaned jobs again (the worker does it every minute)."""
    swept, queued = tidy(current_app._get_current_object())  # type: ignore[attr-defined]  # (as above)
    click.echo(f"jobs: {swept} expired upload(s) removed, {queued} job(s) queued")
