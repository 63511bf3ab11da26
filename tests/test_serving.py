"""The way operators run it: `flask --app wsgi db upgrade`, then `gunicorn wsgi:app`."""
import os
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from .mailbox import free_port

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent


def test_gunicorn_serves_the_migrated_portal(tmp_path):
    env = {**os.environ, "FLASK_SECRET_KEY": "serving-test", "FLASK_SERVER_NAME": "127.0.0.1", "FLASK_SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path}/p.db"}
    env.pop("FLASK_DEBUG", None)
    subprocess.run([str(BIN / "flask"), "--app", "wsgi", "db", "upgrade"], cwd=ROOT, env=env, check=True,
                   capture_output=True, timeout=60)
    port = free_port()
    server = subprocess.Popen([str(BIN / "gunicorn"), "-w", "1", "-b", f"127.0.0.1:{port}", "wsgi:app"], cwd=ROOT,
                              env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2) as response:
                    assert response.status == 200
                    break
            except OSError:
                assert time.monotonic() < deadline, "gunicorn did not answer within 30 s"
                time.sleep(0.2)
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/account/register", timeout=5) as response:
            page = response.read().decode()
        assert "Create an account" in page and "/static/vendor/htmx.min.js" in page
    finally:
        server.terminate()
        server.wait(10)
