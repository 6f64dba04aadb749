"""Integration tests of the token hot path (issue 9): a fresh token is served from memory with no
database read and without opening the refresh token; what must win does win, at once in this
process and within the staleness bound from another process (a real subprocess on the same
SQLite file, and on PostgreSQL); the async manager answers a hit without a thread (SECURITY 26,
35, 36)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import anyio
import anyio.to_thread
import pytest
from sqlalchemy import update

from support import Clock, missing, postgres_schema
from tokens._hot_support import CountingVault, StatementCounter, in_another_process
from tokens._support import FakeZoho, oauth_for, save
from zoho_invoice import ReauthorizationRequired
from zoho_invoice._exceptions import DecryptionError
from zoho_invoice.oauth import TokenSet
from zoho_invoice.tokens import AsyncTokenManager, TokenManager
from zoho_invoice.vault import KeyRing, Vault
from zoho_invoice.vault._models import ConnectionRow

BOUND = 1.0


def manager_for(
    vault: Vault | CountingVault, zoho: FakeZoho, clock: Clock, **options: object
) -> TokenManager:
    return TokenManager(vault, oauth_for(zoho, clock), clock=clock, **options)  # type: ignore[arg-type]


@pytest.fixture
def counting(vault: Vault) -> CountingVault:
    return CountingVault(vault)


# -- no database on a hit ---------------------------------------------------------------------


def test_a_hit_reads_nothing_from_the_database(vault: Vault, zoho: FakeZoho, clock: Clock) -> None:
    cid = save(vault, clock, expires_in=3600)
    manager = manager_for(vault, zoho, clock)
    first = manager.get_access_token(cid)
    with StatementCounter(vault.engine).counting() as statements:
        for _ in range(50):
            assert manager.get_access_token(cid) == first
    assert statements == []
    assert zoho.refreshes == 0


def test_the_hot_path_never_opens_the_refresh_token(
    counting: CountingVault, zoho: FakeZoho, clock: Clock
) -> None:
    cid = save(counting.vault, clock, expires_in=3600)
    manager = manager_for(counting, zoho, clock)
    for _ in range(5):
        manager.get_access_token(cid)
    assert counting.calls["load_access"] == 1  # the first call fills the cache
    assert counting.calls["load_tokens"] == 0  # both tokens only under the refresh lock


def test_after_the_bound_one_stamp_check_then_hits_again(
    counting: CountingVault, zoho: FakeZoho, clock: Clock
) -> None:
    cid = save(counting.vault, clock, expires_in=3600)
    manager = manager_for(counting, zoho, clock, staleness_bound=BOUND)
    manager.get_access_token(cid)
    clock.advance(BOUND / 2)
    manager.get_access_token(cid)
    assert counting.reads() == 1
    clock.advance(BOUND)
    with StatementCounter(counting.vault.engine).counting() as statements:
        manager.get_access_token(cid)
        manager.get_access_token(cid)
    assert counting.calls["access_stamp"] == 1 and counting.calls["load_access"] == 1
    selects = [s for s in statements if s.lstrip().upper().startswith("SELECT")]
    assert len(selects) == 1 and "refresh_token_sealed" not in selects[0]


def test_a_clock_that_went_back_checks_the_row(
    counting: CountingVault, zoho: FakeZoho, clock: Clock
) -> None:
    cid = save(counting.vault, clock, expires_in=3600)
    manager = manager_for(counting, zoho, clock)
    manager.get_access_token(cid)
    clock.advance(-5.0)
    manager.get_access_token(cid)
    assert counting.calls["access_stamp"] == 1


def test_without_a_cache_every_call_reads_the_access_token_alone(
    counting: CountingVault, zoho: FakeZoho, clock: Clock
) -> None:
    cid = save(counting.vault, clock, expires_in=3600)
    manager = manager_for(counting, zoho, clock, staleness_bound=None)
    for _ in range(3):
        manager.get_access_token(cid)
    assert counting.calls["load_access"] == 3 and counting.calls["load_tokens"] == 0


def test_a_token_inside_the_leeway_is_not_served_from_memory(
    vault: Vault, zoho: FakeZoho, clock: Clock
) -> None:
    cid = save(vault, clock, expires_in=3600)
    manager = manager_for(vault, zoho, clock, leeway=300.0)
    old = manager.get_access_token(cid)
    clock.advance(3600 - 300)  # now inside the leeway (the check is long due, too)
    new = manager.get_access_token(cid)
    assert new.token != old.token and zoho.refreshes == 1
    assert manager.get_access_token(cid) == new


# -- this process's own knowledge wins at once ------------------------------------------------


def test_s35_invalidate_wins_at_once(vault: Vault, zoho: FakeZoho, clock: Clock) -> None:
    cid = save(vault, clock, expires_in=3600)
    manager = manager_for(vault, zoho, clock)
    refused = manager.get_access_token(cid)
    assert manager.invalidate(cid, refused.token) is True
    fresh = manager.get_access_token(cid)  # the clock has not moved
    assert fresh.token == zoho.minted[0] != refused.token
    assert zoho.refreshes == 1


def test_s35_a_refused_token_another_process_replaced_leaves_memory_at_once(
    vault: Vault, zoho: FakeZoho, clock: Clock
) -> None:
    cid = save(vault, clock, expires_in=3600)
    manager = manager_for(vault, zoho, clock)
    old = manager.get_access_token(cid)
    # Another process refreshed (a write this process did not make: the generation stays).
    sealed = vault.keyring.seal("1000.from-another-process", row_id=cid, field="access_token")
    with vault.engine.begin() as conn:
        conn.execute(
            update(ConnectionRow)
            .where(ConnectionRow.id == cid)
            .values(access_token_sealed=sealed, version=ConnectionRow.version + 1)
        )
    assert manager.get_access_token(cid) == old  # within the bound: memory is allowed
    manager.invalidate(cid, old.token)
    assert manager.get_access_token(cid).token == "1000.from-another-process"
    assert zoho.refreshes == 0


@pytest.mark.parametrize("status", ["needs_reauth", "revoked"])
def test_s31_a_status_set_in_this_process_wins_at_once(
    vault: Vault, zoho: FakeZoho, clock: Clock, status: str
) -> None:
    cid = save(vault, clock, expires_in=3600)
    manager = manager_for(vault, zoho, clock)
    manager.get_access_token(cid)
    vault.set_status(cid, status, reason="test")  # type: ignore[arg-type]
    with pytest.raises(ReauthorizationRequired):
        manager.get_access_token(cid)


def test_s36_a_disconnect_through_another_vault_of_this_process_wins_at_once(
    vault: Vault, zoho: FakeZoho, clock: Clock
) -> None:
    cid = save(vault, clock, expires_in=3600)
    manager = manager_for(vault, zoho, clock)
    manager.get_access_token(cid)
    other = Vault(vault.engine, vault.keyring, clock=clock)  # as the web app or CLI opens one
    other.disconnect(cid)
    with pytest.raises(ReauthorizationRequired):
        manager.get_access_token(cid)


def test_s36_a_disconnect_in_a_unit_of_work_wins_once_it_commits(
    vault: Vault, zoho: FakeZoho, clock: Clock
) -> None:
    cid = save(vault, clock, expires_in=3600)
    manager = manager_for(vault, zoho, clock)
    manager.get_access_token(cid)
    with vault.unit_of_work():  # as the web app disconnects: the change and its event, one unit
        vault.disconnect(cid)
    with pytest.raises(ReauthorizationRequired):
        manager.get_access_token(cid)


def test_a_reconnect_in_this_process_is_served_at_once(
    vault: Vault, zoho: FakeZoho, clock: Clock
) -> None:
    cid = save(vault, clock, expires_in=3600)
    manager = manager_for(vault, zoho, clock)
    manager.get_access_token(cid)
    tokens = TokenSet(
        access_token="1000.after-reconnect",
        refresh_token="1000.new-refresh",
        expires_at=datetime.fromtimestamp(clock() + 3600, UTC),
        api_domain="https://www.zohoapis.eu",
        token_type="Bearer",
        scope=None,
    )
    connection, created = vault.save_connection(
        owner="tenant-1",
        location="eu",
        api_domain="https://www.zohoapis.eu",
        scopes=["ZohoInvoice.invoices.READ"],
        tokens=tokens,
    )
    assert connection.id == cid and not created
    assert manager.get_access_token(cid).token == "1000.after-reconnect"


def test_a_new_organization_in_this_process_is_served_at_once(
    vault: Vault, zoho: FakeZoho, clock: Clock
) -> None:
    cid = save(vault, clock, expires_in=3600)
    manager = manager_for(vault, zoho, clock)
    assert manager.get_access_token(cid).organization_id is None
    vault.set_organization(cid, "60001234567890123456")
    assert manager.get_access_token(cid).organization_id == "60001234567890123456"


def test_a_key_rotation_in_this_process_rereads_the_row_at_once(
    tmp_path: Path, zoho: FakeZoho, clock: Clock
) -> None:
    old_key = KeyRing.generate_entry("old")
    url = f"sqlite:///{tmp_path / 'rotate.db'}"
    before = Vault.open(url, KeyRing.from_string(old_key), upgrade=True, clock=clock)
    cid = save(before, clock, expires_in=3600)
    before.close()
    both = KeyRing.from_string(f"{KeyRing.generate_entry('new')},{old_key}")
    vault = Vault.open(url, both, clock=clock)
    counting = CountingVault(vault)
    manager = manager_for(counting, zoho, clock)
    token = manager.get_access_token(cid)
    assert vault.rotate_keys() > 0
    assert manager.get_access_token(cid) == token
    assert counting.calls["load_access"] == 2  # re-read (and re-opened) at once
    vault.close()


# -- another process: honoured once the bound has passed -------------------------------------


@dataclass
class SharedDatabase:
    url: str
    keys: str
    vault: Vault


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def shared_db(
    request: pytest.FixtureRequest, tmp_path: Path, clock: Clock
) -> Iterator[SharedDatabase]:
    """A vault this process uses, whose database a second process can open: a SQLite file, or
    a PostgreSQL schema of its own (dropped afterwards)."""
    keys = KeyRing.generate_entry("first")
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'shared.db'}"
        vault = Vault.open(url, KeyRing.from_string(keys), upgrade=True, clock=clock)
        yield SharedDatabase(url, keys, vault)
        vault.close()
        return
    base = os.environ.get("ZOHO_TEST_POSTGRES_URL", "")
    if not base:
        missing("ZOHO_TEST_POSTGRES_URL is not set (no PostgreSQL for this run)")
    with postgres_schema(base, "hot") as url:
        vault = Vault.open(url, KeyRing.from_string(keys), upgrade=True, clock=clock)
        yield SharedDatabase(url, keys, vault)
        vault.close()


@pytest.mark.parametrize("action", ["disconnect", "needs_reauth"])
def test_s36_another_process_disconnect_is_honoured_within_the_bound(
    shared_db: SharedDatabase, zoho: FakeZoho, clock: Clock, action: str
) -> None:
    cid = save(shared_db.vault, clock, expires_in=3600)
    manager = manager_for(shared_db.vault, zoho, clock, staleness_bound=BOUND)
    manager.get_access_token(cid)
    in_another_process(shared_db.url, shared_db.keys, action, cid)
    clock.advance(BOUND + 0.001)  # the bound has passed since the last check
    with pytest.raises(ReauthorizationRequired):
        manager.get_access_token(cid)
    assert zoho.refreshes == 0


def test_another_process_key_rotation_is_honoured_within_the_bound(
    shared_db: SharedDatabase, zoho: FakeZoho, clock: Clock
) -> None:
    cid = save(shared_db.vault, clock, expires_in=3600)
    manager = manager_for(shared_db.vault, zoho, clock, staleness_bound=BOUND)
    manager.get_access_token(cid)
    # The other process seals under a key this one does not hold: from the moment this process
    # reads the row again it cannot open it, so it must stop serving the token from memory.
    rotated = f"{KeyRing.generate_entry('second')},{shared_db.keys}"
    in_another_process(shared_db.url, rotated, "rotate", cid)
    clock.advance(BOUND + 0.001)
    with pytest.raises(DecryptionError):
        manager.get_access_token(cid)


# -- the async manager ------------------------------------------------------------------------


@pytest.mark.anyio
async def test_the_async_hit_does_not_go_to_a_thread(
    vault: Vault, zoho: FakeZoho, clock: Clock
) -> None:
    cid = save(vault, clock, expires_in=3600)
    manager = AsyncTokenManager(manager_for(vault, zoho, clock, staleness_bound=BOUND))
    first = await manager.get_access_token(cid)  # a miss: the thread reads the row
    limiter = anyio.to_thread.current_default_thread_limiter()
    total = limiter.total_tokens
    limiter.total_tokens = 1
    await limiter.acquire()  # no thread can start while we hold the only token
    held = True
    try:
        with anyio.fail_after(10):  # a safety net only: a hop would never finish
            assert await manager.get_access_token(cid) == first
        clock.advance(BOUND + 0.001)  # now a check is due: that call needs the thread
        done: list[object] = []
        async with anyio.create_task_group() as tasks:

            async def ask() -> None:
                done.append(await manager.get_access_token(cid))

            tasks.start_soon(ask)
            await anyio.wait_all_tasks_blocked()
            assert done == [] and limiter.statistics().tasks_waiting == 1
            limiter.release()
            held = False
        assert done == [first]
    finally:
        if held:
            limiter.release()
        limiter.total_tokens = total
