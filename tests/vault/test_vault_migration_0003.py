"""Migration 0003: connections record their Zoho user, on SQLite and PostgreSQL (SECURITY 44).

Upgrading a database that already holds connections keeps every row and its tokens; the old
rows have no recorded Zoho user until their next reconnect. Afterwards one owner may hold
connections of two Zoho users at one location, but never two of the same user.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from alembic import command
from sqlalchemy import Engine, text
from sqlalchemy.exc import IntegrityError

from zoho_invoice.vault import upgrade_database
from zoho_invoice.vault._db import alembic_config, create_engine_for, current_revision

NOW = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)


def _insert(engine: Engine, conn_id: str, owner: str, user: str | None = None) -> None:
    """A connection row as an older release wrote it (no ``zoho_user_id`` when ``user`` is None)."""
    user_col, user_val = ("", "") if user is None else (", zoho_user_id", ", :user")
    statement = text(
        "INSERT INTO connections (id, owner, location, api_domain, organization_id, scopes,"
        " status, access_token_sealed, refresh_token_sealed, key_id, version, created_at,"
        f" updated_at{user_col}) VALUES (:id, :owner, 'us', 'https://www.zohoapis.com', '1001',"
        f" 'scope', 'active', 'sealed-a', 'sealed-r', 'k1', 1, :now, :now{user_val})"
    )
    now = NOW.replace(tzinfo=None) if engine.dialect.name == "sqlite" else NOW
    with engine.begin() as conn:
        conn.execute(statement, {"id": conn_id, "owner": owner, "now": now, "user": user})


def test_s44_upgrade_from_0002_keeps_rows_and_allows_a_second_zoho_user(db_url: str) -> None:
    upgrade_database(db_url, "0002")
    engine = create_engine_for(db_url)
    try:
        _insert(engine, "c" * 32, "swap")
        _insert(engine, "d" * 32, "other")
        upgrade_database(db_url, "0003")
        assert current_revision(engine) == "0003"
        with engine.connect() as conn:
            rows = conn.execute(
                text(
                    "SELECT id, owner, organization_id, refresh_token_sealed, zoho_user_id"
                    " FROM connections ORDER BY id"
                )
            ).all()
        assert [tuple(row) for row in rows] == [
            ("c" * 32, "swap", "1001", "sealed-r", None),
            ("d" * 32, "other", "1001", "sealed-r", None),
        ]
        # The same owner and location may now hold a second Zoho user's connection ...
        _insert(engine, "e" * 32, "swap", user="zuid-bob")
        # ... but not a second connection of one Zoho user.
        with pytest.raises(IntegrityError):
            _insert(engine, "f" * 32, "swap", user="zuid-bob")
    finally:
        engine.dispose()


def test_s44_downgrade_to_0002_restores_the_old_key_when_rows_allow(db_url: str) -> None:
    upgrade_database(db_url, "0003")
    engine = create_engine_for(db_url)
    try:
        _insert(engine, "c" * 32, "swap", user="zuid-alice")
        with engine.begin() as conn:
            command.downgrade(alembic_config(conn), "0002")
        assert current_revision(engine) == "0002"
        with pytest.raises(IntegrityError):
            _insert(engine, "d" * 32, "swap")  # (owner, location) is unique again
    finally:
        engine.dispose()
