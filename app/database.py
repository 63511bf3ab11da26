"""The database: Flask-SQLAlchemy and Flask-Migrate set up for SQLite or PostgreSQL, and what the
app makes of a database error (unavailable for now, or a fault)."""

from __future__ import annotations

from sqlalchemy import event
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError

from .extensions import db, migrate
from .models import track_catalogue_changes


def init_app(app) -> None:
    db.init_app(app)
    migrate.init_app(app, db)
    track_catalogue_changes(db.session)
    with app.app_context():
        if db.engine.dialect.name == "sqlite":
            _tune_sqlite(db.engine, app.config["SQLITE_BUSY_TIMEOUT_MS"])
        elif db.engine.dialect.name == "postgresql":
            _tune_postgresql(db.engine)


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


def database_unavailable(exc: BaseException | None) -> bool:
    """Whether ``exc`` says the database cannot be used just now (restarting, a dropped connection,
    SQLite locked past its busy timeout, every pooled connection busy), rather than a wrong query:
    what a later try may well get past."""
    if isinstance(exc, (OperationalError, InterfaceError, PoolTimeoutError)):
        return True
    return isinstance(exc, DBAPIError) and exc.connection_invalidated


def database_error_text(exc: BaseException) -> str:
    """What the database driver said, without the statement and its parameters (a password hash)."""
    return str(getattr(exc, "orig", None) or exc)
