"""What tests that start real servers share: a migrated SQLite database, and a check for the
outside programs they need (nginx, Redis): missing, such a test fails in CI (REQUIRE_POSTGRES)
and is skipped elsewhere, saying what is missing."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from harness.servers import NGINX, migrate


def required(what: str, check) -> None:
    """Run ``check``; if it raises, fail (in CI) or skip the test, naming ``what`` is needed."""
    try:
        check()
    except Exception as exc:
        message = f"{what} is needed for this test: {type(exc).__name__}: {exc}"
        if os.environ.get("REQUIRE_POSTGRES"):
            pytest.fail(message)
        pytest.skip(message)


def nginx_installed() -> None:
    if not (os.access(NGINX, os.X_OK) or shutil.which("nginx")):
        raise FileNotFoundError(NGINX)


def migrated_database(directory: Path) -> Path:
    """A SQLite database in ``directory`` made the operator's way: ``flask --app wsgi db upgrade``."""
    path = directory / "portal.db"
    migrate(path)
    return path
