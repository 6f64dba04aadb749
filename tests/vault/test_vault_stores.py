"""Integration tests of the vault's stores, each used alone on an engine, with no ``Vault``.

Each store is one job (keys, connect sessions, connections, revocations, mints) and must work on
any migrated engine by itself: a data mirror or a worker can take the one store it needs. Every
test runs on SQLite and PostgreSQL (``db_url``); time moves by an injected clock.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import pytest
from sqlalchemy import Engine, func, select

from support import free_port
from zoho_invoice import (
    ConnectFlowError,
    ConnectionNotFoundError,
    KeyRingError,
    StaleWriteError,
    VaultUnavailableError,
)
from zoho_invoice.vault import KeyRing, StoredTokens, Vault, upgrade_database
from zoho_invoice.vault._connect_sessions import ConnectSessions
from zoho_invoice.vault._connections import Connections
from zoho_invoice.vault._db import create_engine_for
from zoho_invoice.vault._keys import Keys
from zoho_invoice.vault._mints import Mints
from zoho_invoice.vault._models import ConnectSessionRow, PendingRevocationRow
from zoho_invoice.vault._revocations import Revocations

if TYPE_CHECKING:
    from support import Clock
    from vault._support import TokenFactory

EU = "https://www.zohoapis.eu"


@pytest.fixture
def engine(db_url: str) -> Iterator[Engine]:
    made = create_engine_for(db_url)
    upgrade_database(made)
    yield made
    made.dispose()


def _count(engine: Engine, model: Any) -> int:
    with engine.connect() as conn:
        return int(conn.scalar(select(func.count()).select_from(model)) or 0)


def test_keys_alone_refuse_other_keys_until_rotation_reseals_the_canary(
    engine: Engine, clock: Clock
) -> None:
    old = KeyRing.generate_entry("old")
    new = KeyRing.generate_entry("new")
    Keys(engine, KeyRing.from_string(old), clock=clock).check()  # first start stores the canary
    with pytest.raises(KeyRingError, match="'old'"):
        Keys(engine, KeyRing.from_string(new), clock=clock).check()
    assert Keys(engine, KeyRing.from_string(f"{new},{old}"), clock=clock).rotate() == 1
    Keys(engine, KeyRing.from_string(new), clock=clock).check()  # the old key can go now


def test_connect_sessions_alone_start_once_consume_once_and_purge(
    engine: Engine, keyring: KeyRing, clock: Clock
) -> None:
    sessions = ConnectSessions(engine, keyring, clock=clock)
    token, expires_at = sessions.create(owner="tenant-1", return_url="https://app.example/back")
    assert expires_at == datetime.fromtimestamp(clock.now, UTC) + timedelta(minutes=10)
    started = sessions.start(token, state="st", binding="browser", code_verifier="verifier-1")
    assert (started.owner, started.return_url) == ("tenant-1", "https://app.example/back")
    with pytest.raises(ConnectFlowError, match="already used"):
        sessions.start(token, state="st2", binding="browser", code_verifier="verifier-2")
    with pytest.raises(ConnectFlowError, match="another browser"):
        sessions.consume_state("st", "other-browser")
    assert sessions.consume_state("st", "browser").code_verifier == "verifier-1"
    with pytest.raises(ConnectFlowError, match="already completed"):
        sessions.consume_state("st", "browser")
    clock.advance(601)
    assert sessions.purge_expired() == 1
    assert _count(engine, ConnectSessionRow) == 0


def test_connections_alone_fence_token_writes_and_queue_what_they_stop_using(
    engine: Engine, keyring: KeyRing, clock: Clock, tokens: TokenFactory
) -> None:
    connections = Connections(engine, keyring, clock=clock)
    first, created = connections.save(
        owner="tenant-1", location="eu", api_domain=EU, scopes="A.READ, B.READ", tokens=tokens()
    )
    assert created and first.scopes == ["A.READ", "B.READ"]
    stored = connections.load_tokens(first.id)
    assert (stored.access_token, stored.refresh_token, stored.version) == (
        "1000.access.aaa",
        "1000.refresh.rrr",
        1,
    )
    clock.advance(3000)  # 10 minutes of life left
    assert connections.expiring(clock.now + 900) == [first.id]
    assert (
        connections.store_refreshed(
            first.id,
            expected_version=1,
            access_token="1000.access.bbb",
            expires_at=clock.now + 3600,
        )
        == 2
    )
    with pytest.raises(StaleWriteError):
        connections.store_refreshed(
            first.id, expected_version=1, access_token="1000.access.old", expires_at=clock.now
        )
    assert connections.load_tokens(first.id).access_token == "1000.access.bbb"
    again, created = connections.save(
        owner="tenant-1",
        location="eu",
        api_domain=EU,
        scopes=["A.READ"],
        tokens=tokens(access="1000.access.ccc", refresh="1000.refresh.new"),
    )
    assert (again.id, created) == (first.id, False)
    assert _count(engine, PendingRevocationRow) == 1  # the old refresh token, queued (S34)
    gone = connections.disconnect(first.id)
    assert gone.status == "revoked"
    assert connections.load_tokens(first.id).refresh_token is None
    assert _count(engine, PendingRevocationRow) == 2
    assert [c.id for c in connections.list_all("tenant-1")] == [first.id]
    with pytest.raises(ConnectionNotFoundError):
        connections.get("0" * 32)


def test_revocations_alone_are_due_until_done_and_failures_wait(
    engine: Engine, keyring: KeyRing, clock: Clock
) -> None:
    revocations = Revocations(engine, keyring, clock=clock)
    revocations.queue("eu", "1000.refresh.orphan")
    [due] = revocations.due()
    assert (due.connection_id, due.location, due.token, due.attempts) == (
        None,
        "eu",
        "1000.refresh.orphan",
        0,
    )
    revocations.failed(due.id, "timeout\nforged line", retry_at=clock.now + 60)
    assert revocations.due() == []
    [retried] = revocations.due(now=clock.now + 60)
    assert (retried.attempts, retried.last_error) == (1, "timeout\\nforged line")
    revocations.done(due.id)
    assert revocations.due(now=clock.now + 3600) == []


def test_mints_alone_count_a_window_forget_refused_ones_and_need_a_connection(
    engine: Engine, keyring: KeyRing, clock: Clock, tokens: TokenFactory
) -> None:
    connection, _ = Connections(engine, keyring, clock=clock).save(
        owner="tenant-1", location="eu", api_domain=EU, scopes=["A.READ"], tokens=tokens()
    )
    mints = Mints(engine, clock=clock)
    first = mints.record(connection.id)
    clock.advance(300)
    refused = mints.record(connection.id)
    assert mints.since(connection.id, clock.now - 600) == 2
    mints.forget(refused)
    assert mints.since(connection.id, clock.now - 600) == 1
    assert mints.since(connection.id, clock.now - 299) == 0
    clock.advance(3600)
    mints.record(connection.id)  # prunes what is older than an hour
    assert mints.since(connection.id, 0.0) == 1
    assert first != refused
    with pytest.raises(ConnectionNotFoundError):
        mints.record("f" * 32)


_STORE_CALLS: dict[str, Callable[[Engine, KeyRing], object]] = {
    "keys": lambda e, k: Keys(e, k).check(),
    "connect_sessions": lambda e, k: ConnectSessions(e, k).create(owner="tenant-1"),
    "connections": lambda e, k: Connections(e, k).list_all(),
    "revocations": lambda e, k: Revocations(e, k).due(),
    "mints": lambda e, k: Mints(e).since("0" * 32, 0.0),
}


@pytest.mark.parametrize("store", sorted(_STORE_CALLS))
def test_s42_every_store_alone_says_unavailable_without_the_url(
    store: str, keyring: KeyRing
) -> None:
    url = f"postgresql://zoho:hunter2-secret@127.0.0.1:{free_port()}/nowhere"
    engine = create_engine_for(url)
    try:
        with pytest.raises(VaultUnavailableError) as caught:
            _STORE_CALLS[store](engine, keyring)
    finally:
        engine.dispose()
    assert "hunter2" not in str(caught.value)
    assert "127.0.0.1" not in str(caught.value)


def test_vault_methods_are_its_stores_and_a_subclass_still_overrides_them(
    db_url: str, keyring: KeyRing, clock: Clock, tokens: TokenFactory
) -> None:
    seen: list[str] = []

    class AuditedVault(Vault):
        def load_tokens(self, connection_id: str) -> StoredTokens:
            seen.append(connection_id)
            return super().load_tokens(connection_id)

    vault = AuditedVault.open(db_url, keyring, upgrade=True, clock=clock)
    try:
        connection, _ = vault.save_connection(
            owner="tenant-1", location="eu", api_domain=EU, scopes=["A.READ"], tokens=tokens()
        )
        assert vault.connections.get(connection.id) == connection
        assert vault.load_tokens(connection.id).access_token == "1000.access.aaa"
        assert seen == [connection.id]
        assert Vault.load_tokens.__doc__ == Connections.load_tokens.__doc__
    finally:
        vault.close()
