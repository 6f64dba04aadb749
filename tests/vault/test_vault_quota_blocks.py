"""Integration tests (SQLite and PostgreSQL): daily-quota blocks in the vault's database, as every
process sharing it sees them (``vault.quota_blocks()``), and migration 0005 that adds them."""

from __future__ import annotations

import threading

import pytest
from alembic import command
from sqlalchemy import event, inspect

from support import Clock
from zoho_invoice.api import AsyncQuotaBlocks, InProcessQuotaBlocks, QuotaBlocks
from zoho_invoice.api._quota import LayeredQuotaBlocks
from zoho_invoice.vault import KeyRing, Vault, upgrade_database
from zoho_invoice.vault._db import alembic_config, create_engine_for, current_revision

KEY = "https://www.zohoapis.eu|20078990123"


def test_blocks_are_shared_lengthened_never_shortened_and_end(
    vault: Vault, clock: Clock, db_url: str, keyring: KeyRing
) -> None:
    blocks = vault.quota_blocks()
    assert isinstance(blocks, QuotaBlocks) and isinstance(blocks, AsyncQuotaBlocks)
    start = clock()
    assert blocks.blocked_until(KEY) is None
    blocks.block(KEY, start + 3600)
    assert blocks.blocked_until(KEY) == start + 3600  # its own block: seen at once
    # Another process: its own engine on the same database.
    other = Vault.open(db_url, keyring, clock=clock)
    try:
        assert other.quota_blocks().blocked_until(KEY) == start + 3600
        other.quota_blocks().block(KEY, start + 60)  # an earlier end never shortens it
        clock.advance(1)  # what a process read is kept for a second at most
        assert blocks.blocked_until(KEY) == start + 3600
        other.quota_blocks().block(KEY, start + 7200)
        clock.advance(1)
        assert blocks.blocked_until(KEY) == start + 7200
    finally:
        other.close()
    assert blocks.blocked_until("https://www.zohoapis.eu|1") is None
    clock.advance(7200)
    assert blocks.blocked_until(KEY) is None
    assert blocks.purge_expired() == 1


def test_reads_are_kept_for_a_second_then_asked_again(vault: Vault, clock: Clock) -> None:
    """The client asks before every request: one SELECT per organization a second at most,
    and a block another process records is seen when that second ends."""
    blocks = vault.quota_blocks()
    selects: list[str] = []
    engine = vault.engine

    def count(_conn: object, _cursor: object, statement: str, *_args: object) -> None:
        if "quota_blocks" in statement and statement.lstrip().upper().startswith("SELECT"):
            selects.append(statement)

    event.listen(engine, "before_cursor_execute", count)
    try:
        for _ in range(50):
            assert blocks.blocked_until(KEY) is None
        assert len(selects) == 1
        vault.quota_blocks().block(KEY, clock() + 600)  # another reader-writer of the table
        assert blocks.blocked_until(KEY) is None  # still the answer of this second
        clock.advance(1)
        assert blocks.blocked_until(KEY) == clock() + 599
        assert len(selects) >= 2
    finally:
        event.remove(engine, "before_cursor_execute", count)


@pytest.mark.anyio
async def test_the_async_reads_use_the_same_cache_and_see_blocks(
    vault: Vault, clock: Clock
) -> None:
    blocks = vault.quota_blocks()
    assert await blocks.ablocked_until(KEY) is None
    await blocks.ablock(KEY, clock() + 600)
    assert await blocks.ablocked_until(KEY) == clock() + 600
    clock.advance(1)
    assert await blocks.ablocked_until(KEY) == clock() + 599  # read again from the database
    assert vault.quota_blocks().blocked_until(KEY) == clock() + 599


def test_racing_writers_leave_one_row_with_the_latest_end(vault: Vault, clock: Clock) -> None:
    blocks = vault.quota_blocks()
    ends = [clock() + 100 + n for n in range(8)]
    threads = [threading.Thread(target=blocks.block, args=(KEY, end)) for end in ends]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert blocks.blocked_until(KEY) == max(ends)


def test_layered_blocks_remember_what_the_database_said(vault: Vault, clock: Clock) -> None:
    shared = vault.quota_blocks()
    layered = LayeredQuotaBlocks(shared, InProcessQuotaBlocks(clock=clock))
    shared.block(KEY, clock() + 100)
    until = layered.blocked_until(KEY)
    assert until == clock() + 100
    assert layered.local.blocked_until(KEY) == until  # no database read next time


def test_migration_0005_adds_quota_blocks_and_downgrades(db_url: str) -> None:
    upgrade_database(db_url, "0004")
    engine = create_engine_for(db_url)
    try:
        assert "quota_blocks" not in inspect(engine).get_table_names()
        upgrade_database(db_url, "0005")
        assert current_revision(engine) == "0005"
        assert "quota_blocks" in inspect(engine).get_table_names()
        with engine.begin() as conn:
            command.downgrade(alembic_config(conn), "0004")
        assert current_revision(engine) == "0004"
        assert "quota_blocks" not in inspect(engine).get_table_names()
    finally:
        engine.dispose()
