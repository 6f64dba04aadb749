"""Migration 0006: the table ``connect_transactions`` becomes ``connect_sessions``, on SQLite and
PostgreSQL (integration).

A connect session started before the upgrade is still there after it, under the new table and
the new names of its key, unique constraints and index; the downgrade gives the old names back
and keeps the row, and the uniqueness the constraints stand for holds on both sides.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from alembic import command
from sqlalchemy import Engine, inspect, text
from sqlalchemy.exc import IntegrityError

from zoho_invoice.vault import upgrade_database
from zoho_invoice.vault._db import alembic_config, create_engine_for, current_revision

NOW = datetime(2026, 11, 29, 12, 0, tzinfo=UTC)


def _insert(engine: Engine, table: str, row_id: str, token_hash: str) -> None:
    statement = text(
        f"INSERT INTO {table} (id, session_token_hash, state_hash, owner, start_location,"
        " created_at, expires_at) VALUES (:id, :token, :state, 'tenant-1', 'eu', :now, :now)"
    )
    now = NOW.replace(tzinfo=None) if engine.dialect.name == "sqlite" else NOW
    with engine.begin() as conn:
        conn.execute(statement, {"id": row_id, "token": token_hash, "state": row_id, "now": now})


def _names(engine: Engine, table: str) -> tuple[str | None, set[str | None], set[str | None]]:
    """The table's primary key name, unique constraint names and index names, as reflected."""
    inspector = inspect(engine)
    return (
        inspector.get_pk_constraint(table)["name"],
        {uq["name"] for uq in inspector.get_unique_constraints(table)},
        # PostgreSQL also lists the index behind each unique constraint; those are above.
        {ix["name"] for ix in inspector.get_indexes(table) if "duplicates_constraint" not in ix},
    )


def _rows(engine: Engine, table: str) -> list[tuple[object, ...]]:
    with engine.connect() as conn:
        result = conn.execute(
            text(f"SELECT id, session_token_hash, owner FROM {table} ORDER BY id")
        )
        return [tuple(row) for row in result]


def test_upgrade_renames_the_table_and_its_names_and_keeps_the_rows(db_url: str) -> None:
    upgrade_database(db_url, "0005")
    engine = create_engine_for(db_url)
    try:
        _insert(engine, "connect_transactions", "a" * 32, "h" * 64)
        upgrade_database(db_url, "0006")
        assert current_revision(engine) == "0006"
        tables = set(inspect(engine).get_table_names())
        assert "connect_sessions" in tables
        assert "connect_transactions" not in tables
        assert _names(engine, "connect_sessions") == (
            "pk_connect_sessions",
            {"uq_connect_sessions_session_token_hash", "uq_connect_sessions_state_hash"},
            {"ix_connect_sessions_expires_at"},
        )
        assert _rows(engine, "connect_sessions") == [("a" * 32, "h" * 64, "tenant-1")]
        with pytest.raises(IntegrityError):  # the session token's hash is still unique
            _insert(engine, "connect_sessions", "b" * 32, "h" * 64)
    finally:
        engine.dispose()


def test_downgrade_gives_the_old_names_back_and_keeps_the_rows(db_url: str) -> None:
    upgrade_database(db_url, "0006")
    engine = create_engine_for(db_url)
    try:
        _insert(engine, "connect_sessions", "a" * 32, "h" * 64)
        with engine.begin() as conn:
            command.downgrade(alembic_config(conn), "0005")
        assert current_revision(engine) == "0005"
        tables = set(inspect(engine).get_table_names())
        assert "connect_transactions" in tables
        assert "connect_sessions" not in tables
        assert _names(engine, "connect_transactions") == (
            "pk_connect_transactions",
            {
                "uq_connect_transactions_session_token_hash",
                "uq_connect_transactions_state_hash",
            },
            {"ix_connect_transactions_expires_at"},
        )
        assert _rows(engine, "connect_transactions") == [("a" * 32, "h" * 64, "tenant-1")]
        with pytest.raises(IntegrityError):
            _insert(engine, "connect_transactions", "b" * 32, "h" * 64)
    finally:
        engine.dispose()
