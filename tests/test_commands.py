"""The commands as the README prints them, run as a newcomer runs them: in a fresh checkout, in a
subprocess, with no FLASK_* variable set."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent


@pytest.fixture
def checkout(tmp_path):
    """A copy of the code with an empty instance folder, as after `git clone` and `make setup`."""
    ignore = shutil.ignore_patterns("__pycache__")
    shutil.copytree(ROOT / "app", tmp_path / "app", ignore=ignore)
    shutil.copytree(ROOT / "migrations", tmp_path / "migrations", ignore=ignore)
    shutil.copy(ROOT / "wsgi.py", tmp_path / "wsgi.py")
    (tmp_path / "instance").mkdir()
    return tmp_path


def run(checkout, *command, env=None, timeout=60):
    clean = {key: value for key, value in os.environ.items() if not key.startswith(("FLASK_", "GUNICORN"))}
    clean["PYTHONPATH"] = str(checkout)  # this copy's app, not the installed one
    return subprocess.run(
        command, cwd=checkout, env={**clean, **(env or {})}, capture_output=True, text=True, timeout=timeout
    )


def test_help_lists_every_command_with_its_help_text(checkout):
    result = run(checkout, BIN / "flask", "--app", "wsgi", "--help")
    assert result.returncode == 0, result.stderr
    commands = result.stdout.split("Commands:")[1].strip().splitlines()
    names = {line.split()[0] for line in commands}
    assert {"db", "downloads", "jobs", "media", "newsletter", "outbox", "users"} <= names
    for line in commands:
        assert len(line.split()) > 1, f"no help text: {line!r}"
    assert "Traceback" not in result.stderr


def test_worker_and_readme_commands_run_in_development_without_exports(checkout):
    assert run(checkout, BIN / "flask", "--app", "wsgi", "db", "upgrade").returncode == 0
    for command in (
        ("outbox", "send"),
        ("outbox", "purge"),
        ("downloads", "export"),
        ("users", "demote", "a@b.example"),
    ):
        result = run(checkout, BIN / "flask", "--app", "wsgi", *command)
        assert "Traceback" not in result.stderr, (command, result.stderr)
        assert "not started" not in result.stderr, (command, result.stderr)
    assert run(checkout, BIN / "flask", "--app", "wsgi", "outbox", "send").stdout == "outbox: 0 sent, 0 failed\n"
    assert (checkout / "instance" / "secret_key").exists()


@pytest.mark.parametrize(
    "env, missing",
    [
        ({}, "FLASK_SECRET_KEY"),
        ({"FLASK_SECRET_KEY": "k" * 64}, "FLASK_SERVER_NAME"),
    ],
)
def test_production_server_says_in_one_line_what_to_set(checkout, env, missing):
    result = run(checkout, BIN / "python", "-c", "import wsgi", env=env)
    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    lines = [line for line in result.stderr.splitlines() if "not started" in line]
    assert len(lines) == 1 and missing in lines[0]


def test_a_half_configured_command_says_what_to_set(checkout):
    result = run(checkout, BIN / "flask", "--app", "wsgi", "outbox", "send", env={"FLASK_SECRET_KEY": "k" * 64})
    assert result.returncode != 0
    assert "Traceback" not in result.stderr and "FLASK_SERVER_NAME" in result.stderr


def test_mail_links_made_by_a_command_in_development_carry_the_port(tmp_path, monkeypatch):
    from app import create_app
    from app.urls import external_url

    monkeypatch.setenv("FLASK_DEBUG", "1")
    app = create_app({"INSTANCE_PATH": str(tmp_path)})
    with app.app_context():
        assert external_url("account.login") == "http://127.0.0.1:5000/account/login"
