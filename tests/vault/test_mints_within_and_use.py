"""Integration tests (SQLite and PostgreSQL, a schema of their own): the refresh's mint record
in one transaction (``Mints.record_within``: counted and recorded together, never past the
limit, old mints pruned; SECURITY 32, 33), and the manager's batched use marks
(``RefreshSchedule.record_use``: one write for many connections, never moving a mark back, and
never touching what a cached token is checked against)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest
from sqlalchemy import Engine

from zoho_invoice import ConnectionNotFoundError
from zoho_invoice.vault import KeyRing, upgrade_database
from zoho_invoice.vault._connections import Connections
from zoho_invoice.vault._db import create_engine_for
from zoho_invoice.vault._mints import Mints
from zoho_invoice.vault._refresh_schedule import RefreshSchedule

if TYPE_CHECKING:
    from support import Clock
    from vault._support import TokenFactory

EU = "https://www.zohoapis.eu"
HOUR = 3600.0


@pytest.fixture
def engine(db_url: str) -> Iterator[Engine]:
    engine = create_engine_for(db_url)
    upgrade_database(engine)
    yield engine
    engine.dispose()


def _connection(
    engine: Engine, keyring: KeyRing, clock: Clock, tokens: TokenFactory, owner: str = "tenant-1"
) -> str:
    connection, _ = Connections(engine, keyring, clock=clock).save(
        owner=owner,
        location="eu",
        api_domain=EU,
        scopes=["A.READ"],
        tokens=tokens(),
    )
    return connection.id


def test_s33_record_within_counts_and_records_in_one_step_up_to_the_limit(
    engine: Engine, keyring: KeyRing, clock: Clock, tokens: TokenFactory
) -> None:
    cid = _connection(engine, keyring, clock, tokens)
    mints = Mints(engine, clock=clock)
    recorded = [
        mints.record_within(cid, clock.now, since=clock.now - 600, limit=3) for _ in range(4)
    ]
    assert all(isinstance(m, int) for m in recorded[:3]) and recorded[3] is None
    assert mints.since(cid, clock.now - 600) == 3  # the refused fourth recorded nothing
    first = recorded[0]
    assert first is not None
    mints.forget(first)  # Zoho said it minted nothing: the place is free again
    assert mints.record_within(cid, clock.now, since=clock.now - 600, limit=3) is not None
    clock.advance(2 * HOUR)
    assert mints.record_within(cid, clock.now, since=clock.now - 600, limit=3) is not None
    assert mints.since(cid, 0.0) == 1  # what is older than an hour was pruned
    with pytest.raises(ConnectionNotFoundError):
        mints.record_within("f" * 32, clock.now, since=clock.now - 600, limit=3)


def test_record_use_marks_many_in_one_write_and_never_moves_a_mark_back(
    engine: Engine, keyring: KeyRing, clock: Clock, tokens: TokenFactory
) -> None:
    connections = Connections(engine, keyring, clock=clock)
    ids = [_connection(engine, keyring, clock, tokens, owner=f"tenant-{n}") for n in range(3)]
    stamps = {cid: connections.access_stamp(cid) for cid in ids}
    schedule = RefreshSchedule(engine, clock=clock)
    clock.advance(HOUR)
    assert schedule.record_use([*ids, "0" * 32], clock.now) == 3  # an unknown id moves nothing
    due = set(schedule.in_use_expiring(used_since=clock.now, before=clock.now + 10 * HOUR))
    assert due == set(ids)
    # An older mark (another process's, late) does not move a newer one back.
    assert schedule.record_use(ids, clock.now - 60) == 0
    assert set(schedule.in_use_expiring(used_since=clock.now, before=clock.now + 10 * HOUR)) == due
    assert schedule.record_use([], clock.now) == 0
    # A cached token's check sees no change: marks are not token writes.
    assert {cid: connections.access_stamp(cid) for cid in ids} == stamps


def test_s33_a_mint_is_never_recorded_inside_a_unit_of_work(
    engine: Engine, keyring: KeyRing, clock: Clock, tokens: TokenFactory
) -> None:
    """Inside a unit of work the mint would be committed with the unit (or lost with its
    rollback), after Zoho was asked: refused, and nothing recorded."""
    from zoho_invoice.vault._unit_of_work import unit_of_work

    cid = _connection(engine, keyring, clock, tokens)
    mints = Mints(engine, clock=clock)
    with unit_of_work(engine), pytest.raises(RuntimeError, match="transaction of its own"):
        mints.record_within(cid, clock.now, since=clock.now - 600, limit=3)
    assert mints.since(cid, clock.now - 600) == 0
