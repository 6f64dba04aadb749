"""Alembic environment for the vault: runs on the connection ``upgrade_database`` hands in."""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection

from zoho_invoice.vault._db import VERSION_TABLE
from zoho_invoice.vault._models import Base


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=Base.metadata,
        version_table=VERSION_TABLE,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def _main() -> None:
    connection = context.config.attributes.get("connection")
    if isinstance(connection, Connection):
        _run(connection)
        return
    # Called by the alembic command line with a URL: make our own engine.
    from zoho_invoice.vault._db import create_engine_for

    url = context.config.get_main_option("sqlalchemy.url")
    if not url:
        raise RuntimeError("use zoho_invoice.vault.upgrade_database(url) or set sqlalchemy.url")
    engine = create_engine_for(url)
    try:
        with engine.begin() as conn:
            _run(conn)
    finally:
        engine.dispose()


_main()
