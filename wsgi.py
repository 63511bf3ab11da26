"""Entry point: ``gunicorn wsgi:app`` and ``flask --app wsgi ...``."""

import sys

from app import create_app
from app.config import ConfigurationError

try:
    app = create_app()
except ConfigurationError as exc:
    # what to set, in one line, rather than a traceback (gunicorn and flask print this and stop)
    sys.exit(f"Multimedia portal not started: {exc}")
