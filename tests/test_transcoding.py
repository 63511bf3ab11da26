"""Transcoding (issue #15): a real worker process turns an uploaded master into the ladder and
the poster; the outputs are probed; a worker killed with -9 mid-job and started again finishes
it; no partial file is ever a rendition; replacing the master keeps the old renditions until the
new ones are ready; cancel and retry from the panel."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import uuid
from contextlib import contextmanager
from pathlib import Path

import pytest
from bench.servers import BIN, ROOT

from app.extensions import db
from app.flows import transcoding
from app.models import AuditEvent, CatalogueVersion, Story, TranscodeJob, Upload

from .faults import wait_until
from .uploads_helpers import TEST_LADDER, TUS, UPLOAD_CONFIG, ffmpeg_binary, make_video, metadata, probe_file, worker_env
from .uploads_helpers import app_config, staff, story  # fixtures, used by name

HTMX = {"HX-Request": "true"}


def upload_master(client, token, story: int, path: Path, filename="master.mp4"):
    body = path.read_bytes()
    created = client.post("/staff/uploads/", headers={**TUS, "X-CSRFToken": token, "Upload-Length": str(len(body)),
                                                      "Upload-Metadata": metadata(story=story, filename=filename)})
    assert created.status_code == 201, created.get_data(as_text=True)
    response = client.patch(created.headers["Location"], data=body, headers={
        **TUS, "X-CSRFToken": token, "Upload-Offset": "0", "Content-Type": "application/offset+octet-stream"})
    assert response.status_code == 204, response.get_data(as_text=True)


def jobs(app) -> list[TranscodeJob]:
    with app.app_context():
        found = db.session.query(TranscodeJob).order_by(TranscodeJob.id).all()
        db.session.expunge_all()
        db.session.remove()
        return found


def states(app) -> list[str]:
    return [job.state for job in jobs(app)]


def story_files(app, story: int) -> dict[str, str]:
    """The story's renditions as visitors see them: label -> stored file."""
    with app.app_context():
        video = db.session.get(Story, story).video
        files = {r.label: r.filename for r in video.renditions} if video else {}
        db.session.remove()
        return files


def catalogue_version(app) -> int:
    with app.app_context():
        version = db.session.get(CatalogueVersion, 1).version
        db.session.remove()
        return version


@contextmanager
def worker(app, database_url, log: Path, **settings):
    env = worker_env(app, database_url)
    env.update({f"FLASK_{k}": str(v) for k, v in settings.items()})
    with log.open("a") as out:
        process = subprocess.Popen([str(BIN / "flask"), "--app", "wsgi", "jobs", "worker"], cwd=ROOT, env=env,
                                   stdout=out, stderr=subprocess.STDOUT)
    try:
        yield process
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGINT)
            try:
                process.wait(20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def ffmpeg_says(path: Path) -> str:
    return subprocess.run([ffmpeg_binary({}), "-hide_banner", "-i", str(path)], capture_output=True, text=True).stderr


REDIS_QUEUE = {**UPLOAD_CONFIG, "JOBS_URL": "redis://127.0.0.1:6379/0", "JOBS_QUEUE_NAME": f"test-jobs-{uuid.uuid4().hex}"}


@pytest.mark.parametrize("app_config", [UPLOAD_CONFIG, REDIS_QUEUE], ids=["sqlite-queue", "redis-queue"])
def test_a_worker_process_transcodes_the_master_into_the_ladder(app, staff, story, tmp_path, database_url, app_config):
    client, token = staff
    if app_config.get("JOBS_URL"):
        app.extensions["jobs"].flush()  # what an earlier run may have left in Redis
    master = make_video(tmp_path / "master.mp4", seconds=2, size="192x108")
    old_files = story_files(app, story)
    version = catalogue_version(app)
    upload_master(client, token, story, master)
    media = Path(app.config["MEDIA_ROOT"])
    with worker(app, database_url, tmp_path / "worker.log"):
        wait_until(lambda: set(states(app)) == {"ready"}, 120,
                   f"every job ready ({(tmp_path / 'worker.log').read_text() if (tmp_path / 'worker.log').exists() else ''})",
                   interval=0.3)
    app.extensions["jobs"].flush()  # nothing of this test left in a shared Redis

    files = story_files(app, story)
    # never upscaled: the 216p rung is not made from a 108p master; the aspect ratio is kept
    assert sorted(files) == ["HD 108p", "Preview 54p", "SD 72p"]
    expected = {"HD 108p": (192, 108), "SD 72p": (128, 72), "Preview 54p": (96, 54)}
    for label, stored in files.items():
        path = media / stored
        made = probe_file(path)
        assert (made.width, made.height) == expected[label], label
        assert made.video_codec == "h264" and made.audio_codec == "aac" and made.fps == 25
        assert abs(made.duration - 2.0) <= 0.1, (label, made.duration)
        said = ffmpeg_says(path)
        assert "h264 (High)" in said
        head = path.read_bytes()
        assert head.index(b"moov") < head.index(b"mdat")  # +faststart: playable while it downloads
    with app.app_context():
        video = db.session.get(Story, story).video
        renditions = {r.label: r for r in video.renditions}
        assert [r.is_preview for r in video.renditions] == [False, False, True]  # largest first
        assert all(r.bytes == (media / r.filename).stat().st_size and r.container == "MP4" and r.codec == "H.264"
                   and r.mimetype == "video/mp4" for r in video.renditions)
        assert abs(video.duration_seconds - 2.0) < 0.1
        poster = media / video.poster_filename
        preview_id, poster_video = renditions["Preview 54p"].id, video.id
        db.session.remove()
    assert poster.read_bytes()[:3] == b"\xff\xd8\xff"  # a JPEG
    assert probe_file(poster).width == 192
    # old renditions' files are gone, nothing half-made is left
    assert not any((media / name).exists() for name in old_files.values())
    assert list(media.rglob("*.part")) == []
    assert catalogue_version(app) > version
    # the public page and its files work as for an imported story
    page = client.get("/stories/foreign-ministers-meet-in-antalya").get_data(as_text=True)
    assert "HD 108p" in page and "Preview 54p" in page
    assert client.get(f"/media/preview/{preview_id}", headers={"Range": "bytes=0-11"}).status_code == 206
    assert client.get(f"/media/poster/{poster_video}").status_code == 200


def test_a_worker_killed_mid_job_is_replaced_and_the_job_finishes(app, staff, story, tmp_path, database_url):
    client, token = staff
    app.config["TRANSCODE_LADDER"] = [{**TEST_LADDER[-1], "height": 360}]  # one slow rung
    master = make_video(tmp_path / "long.mp4", seconds=30, size="640x360")
    old_files = story_files(app, story)
    upload_master(client, token, story, master)
    media = Path(app.config["MEDIA_ROOT"])
    settings = {"TRANSCODE_LADDER": json.dumps(app.config["TRANSCODE_LADDER"]), "FFMPEG_PRESET": "veryslow"}
    with worker(app, database_url, tmp_path / "worker.log", **settings) as first:
        def running():
            return [job for job in jobs(app) if job.state == "running" and job.kind == "preview" and job.progress >= 5]

        wait_until(running, 120, "the rendition's job under way", interval=0.2)
        [part] = wait_until(lambda: list(media.rglob("*.part")), 10, "its temporary file")
        os.kill(first.pid, signal.SIGKILL)
        first.wait(10)
    # killed: the job still says running; its half file is no rendition, the story keeps its old files
    [killed] = [job for job in jobs(app) if job.kind == "preview"]
    assert killed.state == "running" and killed.attempts == 1
    assert story_files(app, story) == old_files
    size = part.stat().st_size
    import time
    time.sleep(1.5)
    assert not part.exists() or part.stat().st_size == size  # its ffmpeg died with it

    with worker(app, database_url, tmp_path / "worker.log", **settings):
        wait_until(lambda: set(states(app)) == {"ready"}, 120, "every job ready after the restart", interval=0.3)
    [again] = [job for job in jobs(app) if job.kind == "preview"]
    assert again.attempts == 2
    files = story_files(app, story)
    assert list(files) == ["Preview 54p"]
    made = probe_file(media / files["Preview 54p"])
    assert made.height == 360 and abs(made.duration - 30) <= 0.1
    assert list(media.rglob("*.part")) == []


def run_all(app):
    """What a worker does, in this process: each waiting job in turn."""
    with app.app_context():
        for job_id in [job.id for job in jobs(app) if job.state == "waiting"]:
            transcoding.run(job_id, config=app.config)
        db.session.remove()


def test_a_new_master_replaces_the_renditions_only_once_all_are_ready(app, staff, story, tmp_path):
    client, token = staff
    upload_master(client, token, story, make_video(tmp_path / "first.mp4", seconds=1, size="192x108"))
    run_all(app)
    first = story_files(app, story)
    assert sorted(first) == ["HD 108p", "Preview 54p", "SD 72p"]
    media = Path(app.config["MEDIA_ROOT"])

    upload_master(client, token, story, make_video(tmp_path / "second.mp4", seconds=1, size="128x72"))
    with app.app_context():
        first_master = media / db.session.query(Upload).order_by(Upload.id).first().master_filename
        db.session.remove()
    new_jobs = [job for job in jobs(app) if job.state == "waiting"]
    assert [job.kind for job in new_jobs] == ["sd", "preview", "poster"]  # 108p: more than this master has
    with app.app_context():
        for job in new_jobs[:-1]:
            assert transcoding.run(job.id, config=app.config) == "ready"
            assert story_files(app, story) == first  # still the old ones, still there
            assert all((media / name).is_file() for name in first.values())
        transcoding.run(new_jobs[-1].id, config=app.config)
        db.session.remove()
    second = story_files(app, story)
    assert sorted(second) == ["Preview 54p", "SD 72p"] and not set(second.values()) & set(first.values())
    assert not any((media / name).exists() for name in first.values())
    assert not first_master.exists()  # the replaced master goes too


def test_panel_states_cancel_and_retry(app, staff, story, tmp_path):
    client, token = staff
    upload_master(client, token, story, make_video(tmp_path / "m.mp4", seconds=1, size="192x108"))
    url = f"/staff/uploads/story/{story}"
    state = client.get(url, headers=HTMX).get_data(as_text=True)
    assert state.count("Waiting") == 4 and 'hx-trigger="every 2s"' in state
    hd, sd, preview, poster = jobs(app)
    with app.app_context():
        db.session.get(TranscodeJob, hd.id).state = "running"
        db.session.get(TranscodeJob, hd.id).progress = 42
        db.session.commit()
    assert "Transcoding 42 %" in client.get(url, headers=HTMX).get_data(as_text=True)

    response = client.post(f"/staff/uploads/jobs/{sd.id}/cancel", headers={**HTMX, "X-CSRFToken": token})
    assert response.status_code == 200 and "Cancelled" in response.get_data(as_text=True)
    # the master is damaged: the next job fails with ffmpeg's own words
    with app.app_context():
        master = Path(app.config["MEDIA_ROOT"]) / db.session.get(Upload, preview.upload_id).master_filename
        kept = master.read_bytes()
        master.write_bytes(kept[:200])
        assert transcoding.run(preview.id, config=app.config) == "failed"
        db.session.remove()
    failed = client.get(url, headers=HTMX).get_data(as_text=True)
    assert "Failed" in failed and "transcode-error" in failed
    assert jobs(app)[2].error

    master.write_bytes(kept)
    for job in (sd, preview):
        response = client.post(f"/staff/uploads/jobs/{job.id}/retry", data={"csrf_token": token})
        assert response.status_code == 303 and response.headers["Location"].endswith(url)
    assert [job.state for job in jobs(app)] == ["running", "waiting", "waiting", "waiting"]
    with app.app_context():
        actions = [e.action for e in db.session.query(AuditEvent).order_by(AuditEvent.id)]
        db.session.remove()
    assert actions == ["upload", "transcode", "transcode.cancel", "transcode.retry", "transcode.retry"]
    # a retry of a job that is not failed or cancelled changes nothing
    client.post(f"/staff/uploads/jobs/{hd.id}/retry", data={"csrf_token": token})
    assert jobs(app)[0].state == "running"


def test_the_panel_page_for_staff(app, staff, story):
    client, _ = staff
    page = client.get(f"/staff/uploads/story/{story}")
    text = page.get_data(as_text=True)
    assert page.status_code == 200 and "vendor/tus.min.js" in text and "js/uploads.js" in text
    assert "No master has been uploaded for this story yet." in text
    assert client.get("/staff/uploads/story/999999").status_code == 404
