"""Engines and migrations: SQLite (one host) and PostgreSQL (several hosts).

Migrations ship inside the package (``zoho_invoice/vault/migrations``) and run from an Alembic
``Config`` built here, so ``upgrade_database`` works from any working directory.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine, create_engine, event, text
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError

from .._exceptions import ConfigurationError
from .._files import ensure_private_sqlite

__all__ = [
    "VERSION_TABLE",
    "create_engine_for",
    "current_revision",
    "head_revision",
    "upgrade_database",
]

MIGRATIONS = Path(__file__).parent / "migrations"
#: Our own name, so the vault can share a database with an app that uses Alembic too.
VERSION_TABLE = "zoho_invoice_alembic_version"
#: Held while migrating PostgreSQL, so two instances starting at once do not race.
_PG_MIGRATION_LOCK = 0x5A0E_1A7C
SQLITE_BUSY_TIMEOUT_MS = 10_000
#: Execution option: begin SQLite transactions DEFERRED (reads) instead of IMMEDIATE.
READ_ONLY = "zoho_invoice_read_only"


def _normalise(url: str | URL) -> URL:
    try:
        parsed = make_url(url)
    except ArgumentError:
        raise ConfigurationError("ZOHO_DATABASE_URL is not a database URL") from None
    if parsed.drivername in ("postgresql", "postgres"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed


def create_engine_for(url: str | URL, **kwargs: Any) -> Engine:
    """An engine set up for the vault.

    SQLite: WAL journal, a busy timeout, foreign keys on, usable from any thread; write
    transactions take the write lock up front (``BEGIN IMMEDIATE``) so two processes never
    deadlock upgrading a read lock. The parent folder (``0700``) and the database file
    (``0600``) are created before SQLite opens it, so its ``-wal`` and ``-shm`` are owner-only
    too (SECURITY 49).
    PostgreSQL: psycopg 3 (``postgresql://`` is rewritten to ``postgresql+psycopg://``), with
    pre-ping so a restarted server costs one failed request, not a broken pool.
    """
    parsed = _normalise(url)
    backend = parsed.get_backend_name()
    if backend == "sqlite":
        database = parsed.database
        if database and database != ":memory:" and not database.startswith("file:"):
            ensure_private_sqlite(Path(database))
        connect_args = dict(kwargs.pop("connect_args", {}))
        connect_args.setdefault("check_same_thread", False)
        connect_args.setdefault("timeout", SQLITE_BUSY_TIMEOUT_MS / 1000)
        engine = create_engine(parsed, connect_args=connect_args, **kwargs)
        _configure_sqlite(engine)
        return engine
    if backend == "postgresql":
        connect_args = dict(kwargs.pop("connect_args", {}))
        if "connect_timeout" not in parsed.query:
            connect_args.setdefault("connect_timeout", 5)
        kwargs.setdefault("pool_pre_ping", True)
        return create_engine(parsed, connect_args=connect_args, **kwargs)
    raise ConfigurationError(
        f"ZOHO_DATABASE_URL: the vault supports sqlite and postgresql, not {backend!r}"
    )


def _configure_sqlite(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy's "begin" event (below) issue BEGIN, not the driver.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute(f"PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_MS}")
            cursor.execute("PRAGMA foreign_keys = ON")
            cursor.execute("PRAGMA journal_mode = WAL")
        finally:
            cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        read_only = conn.get_execution_options().get(READ_ONLY, False)
        conn.exec_driver_sql("BEGIN" if read_only else "BEGIN IMMEDIATE")


def alembic_config(connection: Connection | None = None) -> Config:
    """An Alembic configuration for the packaged migrations (no alembic.ini needed)."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("version_table", VERSION_TABLE)
    if connection is not None:
        config.attributes["connection"] = connection
    return config


def head_revision() -> str:
    """The newest migration shipped with this version of the package."""
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert head is not None
    return head


def current_revision(engine: Engine) -> str | None:
    """The migration the database is at, ``None`` for an empty database."""
    with engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"version_table": VERSION_TABLE})
        return context.get_current_revision()


@contextmanager
def _engine_for(url_or_engine: str | URL | Engine) -> Iterator[Engine]:
    if isinstance(url_or_engine, Engine):
        yield url_or_engine
        return
    engine = create_engine_for(url_or_engine)
    try:
        yield engine
    finally:
        engine.dispose()


def upgrade_database(url_or_engine: str | URL | Engine, revision: str = "head") -> None:
    """Bring the database's tables up to ``revision`` (default: the newest). Idempotent."""
    with _engine_for(url_or_engine) as engine, engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _PG_MIGRATION_LOCK})
        command.upgrade(alembic_config(conn), revision)
