"""Configuration: defaults in code, then ``instance/config.py``, then ``FLASK_*`` variables.

Every number of the security model (docs/security.md) is a setting here, so an operator can change it
without touching code.
"""

from __future__ import annotations

import logging
import os
import secrets
from datetime import timedelta
from pathlib import Path

import click

log = logging.getLogger(__name__)


class ConfigurationError(RuntimeError):
    """A setting production needs is missing or wrong: said in one line (wsgi.py), no traceback."""


class DefaultConfig:
    # Branding: the original is NATO's; any organisation can run the portal. Each may be one
    # string for every language, or {"en": ..., "fr": ...}.
    ORGANISATION_NAME = {"en": "NATO", "fr": "l’OTAN"}
    PORTAL_NAME = {"en": "NATO Multimedia", "fr": "OTAN Multimédia"}
    ACCOUNT_DIALOG_TITLE = {"en": "NATO MULTIMEDIA ACCOUNT", "fr": "COMPTE MULTIMÉDIA OTAN"}

    SECRET_KEY: str | None = None
    SQLALCHEMY_DATABASE_URI: str | None = None  # None: SQLite in the instance folder
    SQLALCHEMY_ENGINE_OPTIONS = {"pool_pre_ping": True}
    SQLITE_BUSY_TIMEOUT_MS = 5000

    # Sessions and cookies (docs/security.md). The Secure flags left at None follow PREFERRED_URL_SCHEME:
    # an HTTPS deployment gets Secure cookies without saying so twice.
    SESSION_COOKIE_HTTPONLY = True
    SESSION_COOKIE_SAMESITE = "Lax"
    SESSION_COOKIE_SECURE: bool | None = None
    REMEMBER_COOKIE_HTTPONLY = True
    REMEMBER_COOKIE_SAMESITE = "Lax"
    REMEMBER_COOKIE_SECURE: bool | None = None
    REMEMBER_COOKIE_DURATION = timedelta(days=30)
    # A page left open for hours must still post: the token lives as long as the session.
    WTF_CSRF_TIME_LIMIT = None
    WTF_CSRF_HEADERS = ["X-CSRFToken"]
    MAX_CONTENT_LENGTH = 1024 * 1024  # account forms are small; bigger bodies get a 413 page

    # Passwords (docs/accounts.md, Password policy)
    BCRYPT_ROUNDS = 12
    PASSWORD_MIN_LENGTH = 12
    PASSWORD_MAX_LENGTH = 128
    PASSWORD_REQUIRE_CHARACTER_CLASSES = True  # switch off to follow NIST 800-63B
    PASSWORD_REJECT_COMMON = True

    # Second factors: staff enter /staff/ only with one set up (app/staff_access.py)
    STAFF_REQUIRE_SECOND_FACTOR = True

    # Emailed codes (docs/security.md, Codes)
    CODE_LIFETIME_SECONDS = 30 * 60
    CODE_MAX_WRONG_ENTRIES = 5
    CODE_WRONG_ENTRIES_PER_HOUR = 20
    CODE_RESEND_INTERVAL_SECONDS = 60
    CODE_SENDS_PER_HOUR = 5
    # what one browser flow or one network (an IPv4 address, an IPv6 /64) may use of the two
    # hourly caps above for another address, so that nobody can use them all up for its owner
    CODE_SENDS_PER_SOURCE_PER_HOUR = 3
    CODE_WRONG_ENTRIES_PER_SOURCE_PER_HOUR = 10

    # Rate limits (Flask-Limiter): per client IP and per email address, on POSTs only.
    RATELIMIT_STORAGE_URI = "memory://"
    RATELIMIT_ENABLED = True
    RATELIMIT_HEADERS_ENABLED = True
    RATELIMIT_PER_IP = "30 per minute; 300 per hour"
    RATELIMIT_PER_ADDRESS = "10 per minute; 60 per hour"
    RATELIMIT_STAFF = "60 per minute; 1000 per hour"  # POSTs in the staff area, per staff account
    # Reverse proxies in front (nginx: 1) whose X-Forwarded-For / X-Forwarded-Proto are trusted:
    # the client's address (per-IP limits) and the scheme (HSTS) come from them. 0 ignores them,
    # so behind nginx every client would share nginx's address and one per-IP limit.
    TRUSTED_PROXIES = 0

    # Mail (docs/mail.md). No MAIL_SERVER: in development (debug, tests) mails are written to the log;
    # in production nothing is sent (a warning at start-up) and mails wait in the outbox.
    MAIL_SERVER: str | None = None
    MAIL_PORT = 25
    MAIL_USE_TLS = False
    MAIL_USE_SSL = False
    MAIL_USERNAME: str | None = None
    MAIL_PASSWORD: str | None = None
    MAIL_DEFAULT_SENDER = "Multimedia Portal <no-reply@localhost>"
    MAIL_TIMEOUT_SECONDS = 30
    # Does the SMTP server offer SMTPUTF8 (addresses like josé@example.org)? None: not known, such
    # an address may register and its mail fails at once with the reason logged; False: registration
    # refuses it with a clear message; True: it is accepted (the outbox still checks per session).
    MAIL_SMTPUTF8: bool | None = None
    # "thread": each process delivers its new mails in a background thread right after commit;
    # "worker": only `flask outbox send` delivers (run it as a worker).
    MAIL_DISPATCH = "thread"
    MAIL_DISPATCH_THREADS = 4
    OUTBOX_MAX_ATTEMPTS = 12
    OUTBOX_RETRY_BASE_SECONDS = 30
    # A mail being sent is claimed for this long; if its process dies, another sends it after that.
    # Keep it well above what one SMTP session may take (a few MAIL_TIMEOUT_SECONDS).
    OUTBOX_CLAIM_SECONDS = 300
    # Sent and given-up mails are deleted this long after (the worker and `flask outbox purge`).
    OUTBOX_RETENTION_DAYS = 7
    # Audit rows (staff actions, security events) are deleted this long after (the outbox worker's
    # sweep, `flask audit sweep`).
    AUDIT_RETENTION_DAYS = 365

    # Media files (docs/portal.md, Downloads). MEDIA_ROOT defaults to instance/media.
    MEDIA_ROOT: str | None = None
    CATALOGUE_PAGE_SIZE = 12
    ACCOUNT_DOWNLOADS_PAGE_SIZE = 20  # the account page's list of the person's own downloads
    # Rendered result blocks kept per process (app/media/cards.py); 0 turns the cache off.
    CATALOGUE_CACHE_ENTRIES = 256
    # How often a process reads the catalogue's version (changes it makes itself count at once).
    CATALOGUE_VERSION_RECHECK_SECONDS = 1.0
    # Visitors' pages (no session: app/media/http_cache.py) may be kept this long by
    # browsers and shared caches (nginx proxy_cache, a CDN), and shown this much longer while a
    # fresh copy is fetched. An edit shows to someone holding a copy within their sum at most.
    PUBLIC_MAX_AGE_SECONDS = 30
    PUBLIC_STALE_WHILE_REVALIDATE_SECONDS = 120
    # "" sends the bytes from the app (sendfile under gunicorn); "nginx" answers with
    # X-Accel-Redirect to DOWNLOAD_ACCEL_PREFIX + file name; "sendfile" with X-Sendfile.
    DOWNLOAD_ACCEL = ""
    DOWNLOAD_ACCEL_PREFIX = "/protected-media/"
    # Requests by one account for one rendition within this many hours of the first are one
    # download (parallel Range requests, a resumed download): app/flows/downloads.py.
    DOWNLOAD_COUNT_WINDOW_HOURS = 6

    # Masters uploaded by the press office with tus (app/flows/tus.py), kept under MEDIA_ROOT.
    UPLOAD_MAX_BYTES = 20 * 1024**3
    UPLOAD_EXPIRY_HOURS = 24  # an unfinished upload untouched this long is swept with its bytes
    UPLOAD_DISK_RESERVE_BYTES = 2 * 1024**3  # free space kept beyond what accepted uploads will fill
    UPLOAD_CREATE_LIMIT = "20 per hour"  # new uploads per client IP
    UPLOAD_CHUNK_LIMIT = "600 per minute"  # PATCH requests per client IP: generous, against floods only
    # The browser sends a master in PATCH requests of at most this size: each one must end well
    # within gunicorn's --timeout on a slow line (16 MiB at 5 Mbit/s: 27 s), and nginx's
    # client_max_body_size for /staff/uploads/ must allow it.
    UPLOAD_CHUNK_BYTES = 16 * 1024 * 1024
    # A story's captions file (WebVTT or SRT, app/flows/captions.py): an hour of speech is ~100 KB.
    CAPTION_MAX_BYTES = 1024 * 1024

    # Transcoding jobs (app/jobs.py, app/flows/transcoding.py). JOBS_URL "": a SQLite queue in
    # instance/jobs.db; "sqlite:////path/jobs.db" or "redis://host:6379/1" otherwise.
    JOBS_URL = ""
    JOBS_QUEUE_NAME = "portal-jobs"  # portals sharing one Redis each need their own
    JOBS_WORKERS = 1
    # A running job whose worker has not been heard of this long is given to another worker.
    JOBS_STALE_SECONDS = 120
    JOBS_MAX_ATTEMPTS = 3  # a job whose worker died this many times fails (it can be retried by hand)
    FFMPEG_BINARY = ""  # "": the ffmpeg of the imageio-ffmpeg wheel
    FFMPEG_PRESET = "medium"
    # Renditions made from a master, largest first; rungs taller than the master are left out
    # (never upscaled), except the one preview, which is then made at the master's height.
    TRANSCODE_LADDER = [
        {
            "key": "hd",
            "label": "HD 1080p25",
            "height": 1080,
            "fps": 25,
            "crf": 18,
            "maxrate": "12M",
            "audio_bitrate": "192k",
            "preview": False,
        },
        {
            "key": "sd",
            "label": "SD 576p25",
            "height": 576,
            "fps": 25,
            "crf": 20,
            "maxrate": "4M",
            "audio_bitrate": "160k",
            "preview": False,
        },
        {
            "key": "preview",
            "label": "Preview 360p",
            "height": 360,
            "fps": 25,
            "crf": 26,
            "maxrate": "1M",
            "audio_bitrate": "96k",
            "preview": True,
        },
    ]
    POSTER_PERCENT = 10  # where in the video the poster is taken unless the staff member says

    SEND_FILE_MAX_AGE_DEFAULT = timedelta(hours=1)
    SERVER_NAME: str | None = None  # required in production: the host in links that mails carry
    # Development only (no SERVER_NAME): where `make run` serves, for links in mails made outside
    # a request (a command); a request's own links carry its host and port.
    DEVELOPMENT_SERVER = "127.0.0.1:5000"
    PREFERRED_URL_SCHEME = "http"
    LOG_LEVEL = "INFO"


def configure(app, overrides: dict | None = None) -> None:
    """Load settings in the documented order; ``overrides`` (tests) come last."""
    app.config.from_object(DefaultConfig)
    app.config.from_pyfile("config.py", silent=True)
    app.config.from_prefixed_env()
    if overrides:
        app.config.update(overrides)
    Path(app.instance_path).mkdir(parents=True, exist_ok=True)
    if _unconfigured_command(app):
        # `flask --app wsgi ...` (make worker, the README's commands) in a fresh checkout: the
        # same development defaults as `make run`, not a refusal to start.
        app.debug = True
        log.warning(
            "Development mode: nothing is configured for production (FLASK_SECRET_KEY, "
            "FLASK_SERVER_NAME), so a key is kept in instance/secret_key and links point to http://%s",
            app.config["DEVELOPMENT_SERVER"],
        )
    _configure_database_uri(app)
    if not app.config.get("MEDIA_ROOT"):
        app.config["MEDIA_ROOT"] = os.path.join(app.instance_path, "media")
    _ensure_secret_key(app)
    _configure_https(app)
    if not app.config.get("SERVER_NAME") and not (app.debug or app.testing):
        raise ConfigurationError(
            "No SERVER_NAME is configured. Set FLASK_SERVER_NAME (e.g. media.example.org) and "
            "FLASK_PREFERRED_URL_SCHEME=https: links in mails are built from it, never from a request's Host header."
        )
    _check_mail(app)


def _unconfigured_command(app) -> bool:
    """A `flask` command (not gunicorn) with neither of the two settings production must have."""
    if app.debug or app.testing or app.config.get("SECRET_KEY") or app.config.get("SERVER_NAME"):
        return False
    return click.get_current_context(silent=True) is not None


def _configure_https(app) -> None:
    https = app.config["PREFERRED_URL_SCHEME"] == "https"
    for name in ("SESSION_COOKIE_SECURE", "REMEMBER_COOKIE_SECURE"):
        if app.config.get(name) is None:
            app.config[name] = https
    proxies = app.config["TRUSTED_PROXIES"]
    if isinstance(proxies, bool) or not isinstance(proxies, int) or proxies < 0:
        raise ConfigurationError(f"TRUSTED_PROXIES must be a whole number of proxies (0, 1, ...), not {proxies!r}.")


def _check_mail(app) -> None:
    """Mail written to the log is for a newcomer's machine only: it carries the codes."""
    if not app.config.get("MAIL_SERVER") and not (app.debug or app.testing):
        log.warning(
            "No MAIL_SERVER is configured: no mail is sent (mails wait in the outbox and are retried; a "
            "code mail is given up once its code expires). Set FLASK_MAIL_SERVER (and FLASK_MAIL_PORT, "
            "...). Mails are written to the log only in development (flask run --debug)."
        )


def _configure_database_uri(app) -> None:
    uri = app.config.get("SQLALCHEMY_DATABASE_URI")
    if not uri:
        uri = "sqlite:///" + os.path.join(app.instance_path, "portal.db")
    # psycopg 3 is the driver we ship; plain postgresql:// URLs would ask for psycopg2.
    for prefix in ("postgresql://", "postgres://"):
        if uri.startswith(prefix):
            uri = "postgresql+psycopg://" + uri[len(prefix) :]
    app.config["SQLALCHEMY_DATABASE_URI"] = uri
    if uri.startswith("sqlite"):
        # SQLite does not take pool_pre_ping-style options that PostgreSQL needs; keep ours small.
        app.config["SQLALCHEMY_ENGINE_OPTIONS"] = {}
    # A database error names its statement but not its parameters: these carry mails with their
    # codes, and password hashes, and the error goes to the log.
    app.config["SQLALCHEMY_ENGINE_OPTIONS"] = {**app.config["SQLALCHEMY_ENGINE_OPTIONS"], "hide_parameters": True}


def _ensure_secret_key(app) -> None:
    if app.config.get("SECRET_KEY"):
        return
    key_file = Path(app.instance_path) / "secret_key"
    if not key_file.exists() and not (app.debug or app.testing):
        raise ConfigurationError(
            "No secret key is configured. Set FLASK_SECRET_KEY in the environment "
            "(e.g. `export FLASK_SECRET_KEY=$(python3 -c 'import secrets; print(secrets.token_hex(32))')`) "
            "or SECRET_KEY in instance/config.py. Development mode (flask run --debug) makes one itself."
        )
    if not key_file.exists():
        key_file.write_text(secrets.token_hex(32))
        key_file.chmod(0o600)
        log.warning("Generated a development secret key in %s", key_file)
    app.config["SECRET_KEY"] = key_file.read_text().strip()
