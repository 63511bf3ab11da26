"""Transcoding (issue #15): a real worker process turns an uploaded master into the ladder and
the poster; the outputs are probed; a worker killed with -9 mid-job and started again finishes
it; no partial file is ever a rendition; replacing the master keeps the old renditions until the
new ones are ready; cancel and retry from the panel."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import uuid
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import delete as sa_delete

from app.extensions import db
from app.flows import transcoding
from app.models import AuditEvent, CatalogueVersion, Story, TranscodeJob, Upload

from .helpers.faults import wait_until
from .helpers.uploads_helpers import (
    TEST_LADDER,
    TUS,
    UPLOAD_CONFIG,
    ffmpeg_binary,
    make_video,
    metadata,
    probe_file,
    worker,
)

HTMX = {"HX-Request": "true"}


@pytest.fixture
def app_config():
    """The upload tests' settings (storage, ladder, limits) instead of the defaults."""
    return dict(UPLOAD_CONFIG)


def upload_master(client, token, story: int, path: Path, filename="master.mp4"):
    body = path.read_bytes()
    created = client.post(
        "/staff/uploads/",
        headers={
            **TUS,
            "X-CSRFToken": token,
            "Upload-Length": str(len(body)),
            "Upload-Metadata": metadata(story=story, filename=filename),
        },
    )
    assert created.status_code == 201, created.get_data(as_text=True)
    response = client.patch(
        created.headers["Location"],
        data=body,
        headers={**TUS, "X-CSRFToken": token, "Upload-Offset": "0", "Content-Type": "application/offset+octet-stream"},
    )
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


def ffmpeg_says(path: Path) -> str:
    return subprocess.run([ffmpeg_binary({}), "-hide_banner", "-i", str(path)], capture_output=True, text=True).stderr


REDIS_QUEUE = {
    **UPLOAD_CONFIG,
    "JOBS_URL": "redis://127.0.0.1:6379/0",
    "JOBS_QUEUE_NAME": f"test-jobs-{uuid.uuid4().hex}",
}


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
        wait_until(
            lambda: set(states(app)) == {"ready"},
            120,
            f"every job ready ({(tmp_path / 'worker.log').read_text() if (tmp_path / 'worker.log').exists() else ''})",
            interval=0.3,
        )
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
        assert all(
            r.bytes == (media / r.filename).stat().st_size
            and r.container == "MP4"
            and r.codec == "H.264"
            and r.mimetype == "video/mp4"
            for r in video.renditions
        )
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
        assert any(str(part) in command for command in commands())  # ffmpeg is writing it
        os.kill(first.pid, signal.SIGKILL)
        first.wait(10)
    # killed: the job still says running; its half file is no rendition, the story keeps its old files
    [killed] = [job for job in jobs(app) if job.kind == "preview"]
    assert killed.state == "running" and killed.attempts == 1
    assert story_files(app, story) == old_files
    # its ffmpeg died with it (killed by the kernel with its parent): no process writes the file any more
    wait_until(lambda: not any(str(part) in command for command in commands()), 10, "no ffmpeg left writing the file")

    with worker(app, database_url, tmp_path / "worker.log", **settings):
        wait_until(lambda: set(states(app)) == {"ready"}, 120, "every job ready after the restart", interval=0.3)
    [again] = [job for job in jobs(app) if job.kind == "preview"]
    assert again.attempts == 2
    files = story_files(app, story)
    assert list(files) == ["Preview 54p"]
    made = probe_file(media / files["Preview 54p"])
    assert made.height == 360 and abs(made.duration - 30) <= 0.1
    assert list(media.rglob("*.part")) == []


def commands() -> list[str]:
    """The command lines of this machine's processes."""
    found = []
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            found.append(cmdline.read_bytes().replace(b"\0", b" ").decode(errors="replace"))
        except OSError:  # gone meanwhile
            pass
    return found


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
        actions = [
            e.action
            for e in db.session.query(AuditEvent).order_by(AuditEvent.id)
            if not e.action.startswith(("user.", "account."))
        ]
        db.session.remove()
    assert actions == ["upload", "transcode", "transcode.cancel", "transcode.retry", "transcode.retry"]
    # a retry of a job that is not failed or cancelled changes nothing
    client.post(f"/staff/uploads/jobs/{hd.id}/retry", data={"csrf_token": token})
    assert jobs(app)[0].state == "running"


def story_without_video(app, slug: str) -> int:
    """A story as the editor makes it, before any upload."""
    with app.app_context():
        story = Story(slug=slug, title=slug.capitalize(), published_at=datetime.now(UTC).replace(tzinfo=None))
        db.session.add(story)
        db.session.commit()
        found = story.id
        db.session.remove()
    return found


def test_the_panel_page_for_staff(app, staff, story):
    client, _ = staff
    bare = story_without_video(app, "no-video-yet")
    page = client.get(f"/staff/uploads/story/{bare}")
    text = page.get_data(as_text=True)
    assert page.status_code == 200 and "vendor/tus.min.js" in text and "js/uploads.js" in text
    assert "No master has been uploaded for this story yet." in text and "No video" in text
    # a story from `flask media import` has files but no master: the panel says so
    imported = client.get(f"/staff/uploads/story/{story}").get_data(as_text=True)
    assert "No master has been uploaded" not in imported
    assert "was imported with its 2 files, not made here from an uploaded master" in imported
    assert client.get("/staff/uploads/story/999999").status_code == 404


def test_the_panel_follows_the_master_until_its_files_are_the_story_video(app, staff, tmp_path):
    """The state polled by the panel says "busy" until the files are published (all jobs ready is
    not yet that), then "ready"; each swap brings the page head's video state along (out of band)."""
    client, token = staff
    story = story_without_video(app, "fresh")
    url = f"/staff/uploads/story/{story}"
    assert 'data-phase="none"' in client.get(url, headers=HTMX).get_data(as_text=True)
    editor = client.get(f"/staff/stories/{story}").get_data(as_text=True)
    assert re.search(f'<span id="video-state-{story}">\\s*<span class="video-state video-none">No video</span>', editor)
    assert "hx-swap-oob" not in editor  # only a swapped-in state brings the head along

    upload_master(client, token, story, make_video(tmp_path / "m.mp4", seconds=1, size="192x108"))
    busy = client.get(url, headers=HTMX).get_data(as_text=True)
    assert 'data-phase="busy"' in busy and 'hx-trigger="every 2s"' in busy
    assert re.search(
        f'<span id="video-state-{story}" hx-swap-oob="true">\\s*<span class="video-state video-waiting">'
        "Transcoding the video</span>",
        busy,
    )
    assert "Transcoding the video" in client.get(f"/staff/stories/{story}").get_data(as_text=True)
    with app.app_context():  # every job done, the publishing not yet: still polled
        for job in db.session.query(TranscodeJob):
            job.state = "ready"
        db.session.commit()
        db.session.remove()
    assert 'data-phase="busy"' in client.get(url, headers=HTMX).get_data(as_text=True)
    with app.app_context():
        for job in db.session.query(TranscodeJob):
            job.state = "waiting"
        db.session.commit()
        db.session.remove()
    run_all(app)
    ready = client.get(url, headers=HTMX).get_data(as_text=True)
    assert 'data-phase="ready"' in ready and 'hx-trigger="refresh"' in ready
    assert re.search(
        f'<span id="video-state-{story}" hx-swap-oob="true">\\s*<span class="video-state video-ready">Ready, 3 files',
        ready,
    )
    assert "Ready, 3 files" in client.get(f"/staff/stories/{story}").get_data(as_text=True)


def test_non_square_pixels_keep_the_picture_shape(app, staff, story, tmp_path):
    """A 16:9 PAL master stored as 720x576 with wide pixels becomes 16:9 renditions, not squeezed 5:4."""
    client, token = staff
    app.config["TRANSCODE_LADDER"] = [{**TEST_LADDER[-1], "height": 288}]
    master = tmp_path / "anamorphic.mp4"
    subprocess.run(
        [
            ffmpeg_binary({}),
            "-loglevel",
            "error",
            "-f",
            "lavfi",
            "-i",
            "testsrc=size=720x576:rate=25:duration=1",
            "-vf",
            "setsar=64/45",
            "-c:v",
            "libx264",
            "-preset",
            "superfast",
            "-pix_fmt",
            "yuv420p",
            str(master),
        ],
        check=True,
        timeout=60,
    )
    assert (probe_file(master).width, probe_file(master).display_width) == (720, 1024)
    upload_master(client, token, story, master)
    run_all(app)
    [stored] = story_files(app, story).values()
    made = probe_file(Path(app.config["MEDIA_ROOT"]) / stored)
    assert (made.width, made.height, made.display_width) == (512, 288, 512)


def test_what_ffmpeg_says_of_a_file_is_read():
    from app.flows.transcoding import parse_probe

    mxf = parse_probe("""Input #0, mxf, from 'master.mxf':
  Duration: 00:01:02.48, start: 0.000000, bitrate: 52000 kb/s
  Stream #0:0: Video: mpeg2video (4:2:2), yuv422p(tv, top first), 1920x1080 [SAR 1:1 DAR 16:9], 50000 kb/s, 25 fps, 25 tbr, 25 tbn
  Stream #0:1: Audio: pcm_s24le, 48000 Hz, 1 channels, s32 (24 bit), 1152 kb/s
""")  # noqa: E501 (ffmpeg's own lines, whole)
    assert (mxf.format, mxf.video_codec, mxf.audio_codec, mxf.width, mxf.height, mxf.fps) == (
        "mxf",
        "mpeg2video",
        "pcm_s24le",
        1920,
        1080,
        25,
    )
    assert abs(mxf.duration - 62.48) < 1e-9 and mxf.is_video
    still = parse_probe("""Input #0, png_pipe, from 'x.png':
  Duration: N/A, bitrate: N/A
  Stream #0:0: Video: png, rgb24(pc, gbr/unknown/unknown), 64x64, 25 fps, 25 tbr, 25 tbn
""")
    assert still.video_codec == "png" and not still.is_video
    audio_only = parse_probe("""Input #0, wav, from 'a.wav':
  Duration: 00:00:03.00, bitrate: 705 kb/s
  Stream #0:0: Audio: pcm_s16le ([1][0][0][0] / 0x0001), 44100 Hz, 1 channels, s16, 705 kb/s
""")
    assert audio_only.audio_codec == "pcm_s16le" and not audio_only.is_video
    cover_art = parse_probe("""Input #0, mp3, from 'a.mp3':
  Duration: 00:00:03.00, start: 0.025057, bitrate: 128 kb/s
  Stream #0:0: Audio: mp3 (mp3float), 44100 Hz, stereo, fltp, 128 kb/s
  Stream #0:1: Video: mjpeg (Baseline), yuvj420p(pc, bt470bg/unknown/unknown), 300x300, 90k tbr, 90k tbn (attached pic)
""")
    assert not cover_art.is_video
    assert not parse_probe("x.bin: Invalid data found when processing input\n").is_video


def test_the_poster_is_taken_again_where_the_staff_member_says(app, staff, story, tmp_path):
    client, token = staff
    upload_master(client, token, story, make_video(tmp_path / "m.mp4", seconds=2, size="192x108"))
    run_all(app)
    with app.app_context():
        poster = Path(app.config["MEDIA_ROOT"]) / db.session.get(Story, story).video.poster_filename
        db.session.remove()
    first = poster.read_bytes()
    url = f"/staff/uploads/story/{story}/poster"

    refused = client.post(url, data={"percent": "150"}, headers={**HTMX, "X-CSRFToken": token})
    assert refused.status_code == 422 and "Enter a number from 0 to 100." in refused.get_data(as_text=True)
    page = client.post(url, data={"percent": "", "csrf_token": token})
    assert page.status_code == 422 and "Enter a number from 0 to 100." in page.get_data(as_text=True)
    assert states(app)[-1] == "ready"

    response = client.post(url, data={"percent": "90"}, headers={**HTMX, "X-CSRFToken": token})
    assert response.status_code == 200 and jobs(app)[-1].state == "waiting"
    run_all(app)
    assert jobs(app)[-1].state == "ready" and poster.read_bytes() != first  # the same file, a later picture
    with app.app_context():
        assert db.session.query(Upload).one().poster_percent == 90
        assert db.session.query(AuditEvent).order_by(AuditEvent.id.desc()).first().action == "transcode.poster"
        db.session.remove()
    assert client.post(url, data={"percent": "50", "csrf_token": token}).status_code == 303


def test_a_job_whose_worker_keeps_dying_fails_after_the_last_attempt(app, staff, story, tmp_path):
    import socket

    client, token = staff
    upload_master(client, token, story, make_video(tmp_path / "m.mp4", seconds=1))
    dead = f"{socket.gethostname()[:100]}:{2**22 + 12345}"  # beyond any pid this machine gives
    with app.app_context():
        first, second = db.session.query(TranscodeJob).order_by(TranscodeJob.id).limit(2)
        first.state, first.worker, first.attempts, first.heartbeat_at = "running", dead, 3, transcoding.utcnow()
        second.state, second.worker, second.attempts, second.heartbeat_at = "running", dead, 1, transcoding.utcnow()
        db.session.commit()
        queued = transcoding.orphaned_jobs(stale_seconds=60, max_attempts=3)
        db.session.remove()
    hd, sd, preview, poster = jobs(app)
    assert hd.state == "failed" and "3 attempts" in hd.error
    assert sd.state == "waiting" and queued == [sd.id, preview.id, poster.id]


def test_a_job_whose_story_is_deleted_just_after_its_claim_ends_gone(app, staff, story, tmp_path, monkeypatch):
    """Deleting a story takes its jobs with it (ON DELETE CASCADE), even one a worker has just
    claimed: the worker then finds no job, and says so instead of failing."""
    client, token = staff
    upload_master(client, token, story, make_video(tmp_path / "m.mp4", seconds=1))
    claim = transcoding.claim

    def claim_then_delete_the_story(*args, **kwargs):
        claimed = claim(*args, **kwargs)
        with db.engine.begin() as connection:  # the staff member's request, committed meanwhile
            connection.execute(sa_delete(Story).where(Story.id == story))
        return claimed

    monkeypatch.setattr(transcoding, "claim", claim_then_delete_the_story)
    with app.app_context():
        assert transcoding.run(jobs(app)[0].id, config=app.config) == "gone"
        db.session.remove()
    assert jobs(app) == []
