"""7. Queuing the newsletter digest for 10,000 subscribers: speed and memory.

``send_digest()`` (app/flows/newsletter.py) runs in-process inside an app context with
MAIL_DISPATCH=worker, so mails are only written to the outbox, never sent. Each measurement
runs in a fresh spawned process, so its memory figures are its own:

- tracemalloc peak: the most Python memory allocated at once during the run (above what was
  allocated when it started);
- RSS: VmRSS before and after, and the peak (VmHWM, reset through /proc/self/clear_refs just
  before the run);
- time, without tracemalloc (which slows Python down), in a separate process.

The digest runs for the full list and for a quarter of it: flat memory means the same peak.
The baseline is ``queue_mail`` of the same number of one-off account mails (the verification
code mail) in one loop over the same users in batches, one commit per batch: the outbox write
path without the digest's template, links, unsubscribe tokens and delivery rows.
"""

from __future__ import annotations

import multiprocessing
import os
import queue
import secrets
import time
import tracemalloc
from datetime import timedelta
from pathlib import Path

from harness.servers import app_config, fresh_database, rss_kib

from .corpus import load_stories

STORIES = 5


def build(template: Path, path: Path, subscribers: int) -> dict:
    """``subscribers`` verified, subscribed accounts (bulk insert) and 5 stories from the last days."""
    from app import create_app
    from app.extensions import db
    from app.models import User, utcnow

    fresh_database(template, path)
    started = time.perf_counter()
    app = create_app(app_config(f"sqlite:///{path}"))
    now = utcnow()
    rows = [
        {
            "id": i,
            "email": f"subscriber-{i:06d}@example.org",
            "password_hash": "$2b$12$" + "x" * 53,
            "first_name": "Sam",
            "last_name": f"Reader {i}",
            "organisation": "Example Broadcasting",
            "conditions_accepted_at": now - timedelta(days=30),
            "created_at": now - timedelta(days=30),
            "verified_at": now - timedelta(days=30),
            "session_token": secrets.token_urlsafe(24),
            "newsletter_opt_in_at": now - timedelta(days=30),
            "newsletter_opt_in_source": "register",
            "is_staff": False,
        }
        for i in range(1, subscribers + 1)
    ]
    with app.app_context():
        with db.engine.begin() as connection:
            connection.execute(User.__table__.insert(), rows)
            load_stories(connection, STORIES, newest=now - timedelta(hours=2), spacing=timedelta(hours=20))
        db.session.remove()
        db.engine.dispose()
    return {"subscribers": subscribers, "build_seconds": round(time.perf_counter() - started, 1)}


# --- in the child process --------------------------------------------------------------------


def _child(kind: str, database: str, batch: int, trace: bool, results) -> None:
    try:
        results.put(_measure(kind, database, batch, trace))
    except BaseException as exc:  # report it to the parent instead of dying silently
        results.put({"error": f"{type(exc).__name__}: {exc}"})


def _measure(kind: str, database: str, batch: int, trace: bool) -> dict:
    from sqlalchemy import event, func, select
    from sqlalchemy.orm import Session

    from app import create_app
    from app.extensions import db
    from app.flows.newsletter import send_digest
    from app.mails import queue_code_mail
    from app.models import CODE_VERIFY, NewsletterDelivery, OutboxMessage, User

    app = create_app(
        app_config(
            f"sqlite:///{database}",
            MAIL_DISPATCH="worker",
            SERVER_NAME="media.example.org",
            PREFERRED_URL_SCHEME="https",
        )
    )
    with app.app_context():
        db.session.execute(select(func.count(User.id))).scalar()  # connect, compile the simple things
        db.session.remove()
        rss_before = rss_kib()
        try:
            with open("/proc/self/clear_refs", "w") as f:
                f.write("5")  # reset VmHWM (peak RSS) to the current RSS
            hwm_reset = True
        except OSError:
            hwm_reset = False
        curve = []  # after every commit: (traced MB now, traced peak MB so far, RSS MB)

        def after_commit(_session) -> None:
            now, peak = tracemalloc.get_traced_memory()
            curve.append(
                (
                    round((now - traced_start) / 1e6, 2),
                    round((peak - traced_start) / 1e6, 2),
                    round(rss_kib() / 1024, 1),
                )
            )

        if trace:
            tracemalloc.start()
            traced_start = tracemalloc.get_traced_memory()[0]
            event.listen(Session, "after_commit", after_commit)
        started, cpu_started = time.perf_counter(), time.process_time()
        if kind == "digest":
            report = send_digest(batch_size=batch)
            queued, stories = report.queued, len(report.stories)
        else:  # the baseline: one-off account mails over the same users, one commit per batch
            queued, last_id, stories = 0, 0, 0
            while True:
                users = (
                    db.session.execute(select(User).where(User.id > last_id).order_by(User.id).limit(batch))
                    .scalars()
                    .all()
                )
                if not users:
                    break
                for user in users:
                    queue_code_mail(user, "123456", CODE_VERIFY)
                last_id = users[-1].id
                db.session.commit()
                queued += len(users)
                db.session.expunge_all()
        elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu_started
        traced_peak = None
        if trace:
            event.remove(Session, "after_commit", after_commit)
            traced_peak = tracemalloc.get_traced_memory()[1] - traced_start
            tracemalloc.stop()
        rss_after, hwm = rss_kib(), rss_kib(field="VmHWM")
        outbox = db.session.execute(select(func.count(OutboxMessage.id))).scalar()
        deliveries = db.session.execute(select(func.count(NewsletterDelivery.id))).scalar()
        db.session.remove()
        db.engine.dispose()
    return {
        "kind": kind,
        "queued": queued,
        "stories": stories,
        "seconds": round(elapsed, 2),
        "per_second": round(queued / elapsed, 1) if elapsed else None,
        "ms_per_message": round(elapsed * 1000 / queued, 3) if queued else None,
        "cpu_ms_per_message": round(cpu * 1000 / queued, 3) if queued else None,
        "tracemalloc_peak_mb": round(traced_peak / 1e6, 2) if traced_peak is not None else None,
        "rss_before_mb": round(rss_before / 1024, 1),
        "rss_after_mb": round(rss_after / 1024, 1),
        "rss_peak_growth_mb": round((hwm - rss_before) / 1024, 1) if hwm_reset else None,
        "outbox_rows": outbox,
        "delivery_rows": deliveries,
        "pid": os.getpid(),
        "commits": curve,
    }


class Run:
    """One measurement in a fresh spawned process; ``result()`` waits for it (killed if it
    overruns ``timeout``). Several can run at once."""

    def __init__(self, kind: str, database: Path, batch: int, trace: bool, timeout: float = 120.0):
        context = multiprocessing.get_context("spawn")
        self.kind, self.timeout = kind, timeout
        self.results = context.Queue()
        self.process = context.Process(
            target=_child, args=(kind, str(database), batch, trace, self.results), daemon=True
        )
        self.process.start()
        self.started = time.monotonic()

    def result(self) -> dict:
        try:
            while True:
                try:
                    result = self.results.get(timeout=0.5)
                    break
                except queue.Empty:
                    if not self.process.is_alive() and self.results.empty():
                        raise RuntimeError(
                            f"{self.kind} process exited with {self.process.exitcode} before reporting"
                        ) from None
                    if time.monotonic() - self.started > self.timeout:
                        raise RuntimeError(f"{self.kind} run took longer than {self.timeout:g} s") from None
        finally:
            self.stop()
        if "error" in result:
            raise RuntimeError(f"{self.kind} run failed: {result['error']}")
        return result

    def stop(self, wait: float = 10.0) -> None:
        """Let the process end (it does, once it has reported), killing it after ``wait`` seconds."""
        self.process.join(wait)
        if self.process.is_alive():
            self.process.kill()
            self.process.join(5)


def measure(template: Path, workdir: Path, subscribers: int, small: int, batch: int, progress=print) -> dict:
    """The tracemalloc run for the full list (3-7x slower) in the background; meanwhile, one at a
    time, the timed runs (digest, baseline) and the two runs for the short list. Two processes on
    two cores: the CPU time per mail does not depend on the other one, and memory does not either."""
    built = {
        size: build(template, workdir / f"newsletter-{size}.db", size) for size in dict.fromkeys((subscribers, small))
    }
    copies = iter(range(100))

    def copy(size: int) -> Path:
        return fresh_database(workdir / f"newsletter-{size}.db", workdir / f"newsletter-{size}-run{next(copies)}.db")

    progress(f"7/7 memory: digest to {subscribers:,} subscribers under tracemalloc, in the background")
    big = Run("digest", copy(subscribers), batch, trace=True, timeout=300)
    try:
        progress(f"7/7 digest to {subscribers:,} subscribers (timed, no tracemalloc)")
        digest = Run("digest", copy(subscribers), batch, trace=False).result()
        progress(f"7/7 baseline: {subscribers:,} account mails with queue_mail (timed)")
        baseline = Run("baseline", copy(subscribers), batch, trace=False).result()
        progress(f"7/7 digest to {small:,} subscribers, with and without tracemalloc")
        small_traced = Run("digest", copy(small), batch, trace=True).result()
        small_plain = Run("digest", copy(small), batch, trace=False).result()
        progress(f"7/7 waiting for the tracemalloc run of {subscribers:,}")
        big_traced = big.result()
    finally:
        big.stop(wait=0)  # only still running when something above failed
    # The big traced run's own curve: the peak after the first ``small`` mails vs at the end.
    commits = big_traced["commits"]  # [issue, batch 1, ..., batch n, finished]
    at_small = commits[min(-(-small // batch), len(commits) - 1)][1] if commits else None
    return {
        "subscribers": subscribers,
        "small_subscribers": small,
        "batch": batch,
        "build_seconds": round(sum(b["build_seconds"] for b in built.values()), 1),
        "digest": digest,
        "baseline": baseline,
        "digest_traced": big_traced,
        "small_traced": small_traced,
        "small_digest": small_plain,
        "curve_peak_at_small_mb": at_small,
        "curve_peak_at_end_mb": commits[-1][1] if commits else None,
    }
