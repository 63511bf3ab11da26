"""Helpers of the upload and transcoding tests: test videos made by the bundled ffmpeg, a staff
browser, the portal served over HTTP (and restarted), the jobs worker as a real process."""

from __future__ import annotations

import base64
import signal
import subprocess
import threading
from contextlib import contextmanager
from pathlib import Path

from werkzeug.serving import make_server

from app import create_app
from app.extensions import db
from app.flows.staff import create_staff_user
from app.flows.transcoding import ffmpeg_binary, probe
from app.models import Story
from harness.servers import BIN, ROOT

from .catalogue_data import STORIES, load
from .faults import process_env
from .portal import BASE_CONFIG, GOOD_PASSWORD, csrf_token, post
from .second_factor_helpers import set_up_authenticator

STAFF = "press@example.org"
# Tiny rungs keep the tests fast; the 216p rung is taller than the 108p test master: never made.
TEST_LADDER = [
    {"key": "uhd", "label": "Big 216p", "height": 216, "fps": 25, "crf": 30, "maxrate": "", "preview": False},
    {"key": "hd", "label": "HD 108p", "height": 108, "fps": 25, "crf": 30, "maxrate": "400k", "preview": False},
    {"key": "sd", "label": "SD 72p", "height": 72, "fps": 25, "crf": 30, "maxrate": "", "preview": False},
    {
        "key": "preview",
        "label": "Preview 54p",
        "height": 54,
        "fps": 25,
        "crf": 32,
        "maxrate": "",
        "audio_bitrate": "64k",
        "preview": True,
    },
]
UPLOAD_CONFIG = {
    "TRANSCODE_LADDER": TEST_LADDER,
    "FFMPEG_PRESET": "superfast",
    "UPLOAD_DISK_RESERVE_BYTES": 0,
    "RATELIMIT_PER_IP": "10000 per minute",
    "RATELIMIT_PER_ADDRESS": "10000 per minute",
    "UPLOAD_CREATE_LIMIT": "10000 per minute",
    "UPLOAD_CHUNK_LIMIT": "10000 per minute",
    "JOBS_STALE_SECONDS": 30,
}
TUS = {"Tus-Resumable": "1.0.0"}


def make_video(path: Path, seconds: float = 2, size: str = "192x108", audio: bool = True) -> Path:
    """A test master: ffmpeg's test pattern (and a tone), made here, never downloaded."""
    inputs = ["-f", "lavfi", "-i", f"testsrc=size={size}:rate=25:duration={seconds}"]
    if audio:
        inputs += ["-f", "lavfi", "-i", f"sine=frequency=440:duration={seconds}"]
    subprocess.run(
        [
            ffmpeg_binary({}),
            "-hide_banner",
            "-loglevel",
            "error",
            "-y",
            *inputs,
            "-c:v",
            "libx264",
            "-preset",
            "ultrafast",
            "-pix_fmt",
            "yuv420p",
            *(["-c:a", "aac"] if audio else []),
            "-t",
            str(seconds),
            str(path),
        ],
        check=True,
        timeout=120,
    )
    return path


def probe_file(path: Path):
    return probe(ffmpeg_binary({}), path)


def metadata(**values) -> str:
    return ",".join(f"{key} {base64.b64encode(str(value).encode()).decode()}" for key, value in values.items())


def story_id(app, tmp_path) -> int:
    load(app, tmp_path, STORIES[:1])
    with app.app_context():
        found = db.session.query(Story).one().id
        db.session.remove()
    return found


def staff_browser(app):
    """A logged-in staff browser and its CSRF token."""
    with app.app_context():
        create_staff_user(STAFF, GOOD_PASSWORD, "Pat", "Press", "Press office")
        db.session.remove()
    client = app.test_client()
    assert post(client, "/account/login", {"email": STAFF, "password": GOOD_PASSWORD}).status_code == 303
    set_up_authenticator(client, app, STAFF)  # the staff area asks for a second factor
    return client, csrf_token(client)


def staff_headers(client, token: str) -> dict[str, str]:
    """What a browser of ``client`` sends to a live server: its cookie and the CSRF header."""
    return {
        "Cookie": f"session={client.get_cookie('session').value}",
        "X-CSRFToken": token,
        "Referer": "http://localhost/",
    }


class LiveServer:
    """The app served on a fixed port, which can be stopped and started again (a restart)."""

    def __init__(self, app, port: int = 0):
        self.app, self.server = app, make_server("127.0.0.1", port, app, threaded=True)
        self.port = self.server.server_port
        self.url = f"http://127.0.0.1:{self.port}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(5)

    def restarted(self, database_url: str, instance_path: Path, **config) -> LiveServer:
        """Stop, then serve a new app (a new process would have nothing of the old one's memory)."""
        self.stop()
        app = create_app(
            {**BASE_CONFIG, "SQLALCHEMY_DATABASE_URI": database_url, "INSTANCE_PATH": str(instance_path), **config}
        )
        return LiveServer(app, self.port)


def worker_env(app, database_url: str) -> dict[str, str]:
    """The environment of a jobs worker on the test app's database, files and queue."""
    import json

    config = app.config
    jobs_url = config["JOBS_URL"] or "sqlite:///" + str(Path(app.instance_path) / "jobs.db")
    return process_env(
        database_url,
        MEDIA_ROOT=config["MEDIA_ROOT"],
        JOBS_URL=jobs_url,
        JOBS_QUEUE_NAME=config["JOBS_QUEUE_NAME"],
        TRANSCODE_LADDER=json.dumps(config["TRANSCODE_LADDER"]),
        FFMPEG_PRESET=config["FFMPEG_PRESET"],
        JOBS_STALE_SECONDS=config["JOBS_STALE_SECONDS"],
        LOG_LEVEL="INFO",
    )


@contextmanager
def worker(app, database_url, log: Path, **settings):
    env = worker_env(app, database_url)
    env.update({f"FLASK_{k}": str(v) for k, v in settings.items()})
    with log.open("a") as out:
        process = subprocess.Popen(
            [str(BIN / "flask"), "--app", "wsgi", "jobs", "worker"],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
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
