"""Extensions, created unbound; ``init_extensions`` binds them to an app."""
from __future__ import annotations

from flask_babel import Babel
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_login import LoginManager
from flask_migrate import Migrate
from flask_sqlalchemy import SQLAlchemy
from flask_wtf.csrf import CSRFProtect
from htmx_flask import Htmx
from htmx_flask.requests import HtmxAwareRequest
from sqlalchemy import MetaData, event
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError, TimeoutError as PoolTimeoutError
from sqlalchemy.orm import DeclarativeBase
from werkzeug.formparser import FormDataParser

# Named constraints keep Alembic migrations identical on SQLite and PostgreSQL.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


db = SQLAlchemy(model_class=Base)
migrate = Migrate()
login_manager = LoginManager()
csrf = CSRFProtect()
htmx = Htmx()
babel = Babel()
limiter = Limiter(key_func=get_remote_address)


def init_extensions(app) -> None:
    db.init_app(app)
    migrate.init_app(app, db)
    login_manager.init_app(app)
    csrf.init_app(app)
    htmx.init_app(app)
    app.request_class = PortalRequest
    from .i18n import select_locale

    babel.init_app(app, locale_selector=select_locale, default_translation_directories="translations",
                   default_domain="messages")
    limiter.init_app(app)
    with app.app_context():
        if db.engine.dialect.name == "sqlite":
            _tune_sqlite(db.engine, app.config["SQLITE_BUSY_TIMEOUT_MS"])
        elif db.engine.dialect.name == "postgresql":
            _tune_postgresql(db.engine)


class NamedPartsParser(FormDataParser):
    """Drops multipart parts without a name (``Content-Disposition: form-data`` alone): Werkzeug
    files them under the key None, on which Flask-WTF's CSRF check fails with a 500."""

    def parse(self, *args, **kwargs):
        stream, form, files = super().parse(*args, **kwargs)
        return stream, _named(form), _named(files)


def _named(data):
    if None not in data:
        return data
    return type(data)([(key, value) for key, value in data.items(multi=True) if key is not None])


class PortalRequest(HtmxAwareRequest):
    """htmx-flask's request (``request.htmx``), with the parser above."""

    form_data_parser_class = NamedPartsParser


def _tune_sqlite(engine, busy_timeout_ms: int) -> None:
    # WAL lets readers run beside one writer; the busy timeout waits instead of failing
    # with "database is locked" when two workers write at once (set first, so switching to
    # WAL waits too). synchronous=NORMAL, SQLite's advice for WAL, fsyncs at checkpoints
    # instead of in every commit, while the writer holds the lock: with 200 browsers
    # (tests/test_load.py) those fsyncs kept other writers waiting past 5 s. A power cut
    # may undo the last commits, each one whole; the database never corrupts.
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection, _record):
        cursor = dbapi_connection.cursor()
        cursor.execute(f"PRAGMA busy_timeout={int(busy_timeout_ms)}")
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()


def _tune_postgresql(engine) -> None:
    # No parallel workers: the portal's queries are small, a worker costs more to start than it
    # saves, and the search reads the parts of a UNION ALL in turn, stopping once it has a page
    # (app.flows.catalogue), which a Parallel Append would read side by side, in no set order.
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection, _record):
        with dbapi_connection.cursor() as cursor:
            cursor.execute("SET max_parallel_workers_per_gather = 0")
        dbapi_connection.commit()  # a plain SET in a transaction rolled back later would be undone


def database_unavailable(exc: BaseException) -> bool:
    """Whether ``exc`` says the database cannot be used just now (restarting, a dropped connection,
    SQLite locked past its busy timeout, every pooled connection busy), rather than a wrong query:
    what a later try may well get past."""
    if isinstance(exc, (OperationalError, InterfaceError, PoolTimeoutError)):
        return True
    return isinstance(exc, DBAPIError) and exc.connection_invalidated


def database_error_text(exc: BaseException) -> str:
    """What the database driver said, without the statement and its parameters (a password hash)."""
    return str(getattr(exc, "orig", None) or exc)

