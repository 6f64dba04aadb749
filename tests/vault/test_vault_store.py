"""Integration tests of the Vault against real databases: SQLite, and PostgreSQL when available.

Every test runs on both backends (``db_url`` is parametrized); time moves by an injected clock.
"""

from __future__ import annotations

import threading
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect, select, update

from support import free_port
from zoho_invoice import (
    ConnectFlowError,
    ConnectionNotFoundError,
    DecryptionError,
    KeyRingError,
    StaleWriteError,
    VaultError,
    VaultUnavailableError,
)
from zoho_invoice.settings import Settings
from zoho_invoice.vault import KeyRing, Vault, upgrade_database
from zoho_invoice.vault._db import create_engine_for
from zoho_invoice.vault._models import Base, ConnectionRow

if TYPE_CHECKING:
    from support import Clock
    from vault._support import TokenFactory

US = "https://www.zohoapis.com"
EU = "https://www.zohoapis.eu"


def save(
    vault: Vault,
    tokens: TokenFactory,
    owner: str = "tenant-1",
    *,
    access: str = "1000.access.aaa",
    refresh: str | None = "1000.refresh.rrr",
) -> str:
    connection, _ = vault.save_connection(
        owner=owner,
        location="eu",
        api_domain=EU,
        scopes=["ZohoInvoice.invoices.READ", "ZohoInvoice.settings.READ"],
        tokens=tokens(access=access, refresh=refresh),
    )
    return connection.id


# -- schema ---------------------------------------------------------------------------------


def test_migration_creates_exactly_the_models_tables(db_url: str) -> None:
    upgrade_database(db_url)
    upgrade_database(db_url)  # idempotent
    engine = create_engine_for(db_url)
    try:
        with engine.connect() as conn:
            context = MigrationContext.configure(
                conn, opts={"version_table": "zoho_invoice_alembic_version"}
            )
            assert compare_metadata(context, Base.metadata) == []
    finally:
        engine.dispose()


def test_upgrade_works_from_any_working_directory(
    db_url: str, keyring: KeyRing, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    vault = Vault.open(db_url, keyring, upgrade=True)
    try:
        assert vault.list_connections() == []
    finally:
        vault.close()


def test_opening_an_empty_database_without_upgrade_says_to_run_db_upgrade(
    db_url: str, keyring: KeyRing
) -> None:
    with pytest.raises(VaultError, match="zoho-invoice db upgrade"):
        Vault.open(db_url, keyring)


def test_sqlite_is_set_up_for_several_processes(tmp_path: Path) -> None:
    engine = create_engine_for(f"sqlite:///{tmp_path / 'new' / 'folder' / 'z.db'}")
    try:
        with engine.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
            assert int(conn.exec_driver_sql("PRAGMA busy_timeout").scalar() or 0) >= 5000
            assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
    finally:
        engine.dispose()
    assert (tmp_path / "new" / "folder" / "z.db").exists()


def test_postgresql_url_is_rewritten_to_psycopg3() -> None:
    engine = create_engine_for("postgresql://u@127.0.0.1:1/db")
    try:
        assert engine.url.drivername == "postgresql+psycopg"
    finally:
        engine.dispose()


# -- the key ring against the database (SECURITY 23, 24) ------------------------------------


def test_s24_wrong_key_at_start_up_refuses_with_a_clear_message(
    db_url: str, keyring: KeyRing, tokens: TokenFactory
) -> None:
    vault = Vault.open(db_url, keyring, upgrade=True)
    save(vault, tokens)
    vault.close()
    other = KeyRing.generate_entry("k9")
    with pytest.raises(KeyRingError, match="do not match this database") as caught:
        Vault.open(db_url, KeyRing.from_string(other))
    assert "ZOHO_ENCRYPTION_KEYS" in str(caught.value)
    assert other.split(":", 1)[1] not in str(caught.value)
    # A key with the right id but other bytes is refused too.
    with pytest.raises(KeyRingError, match="do not match"):
        Vault.open(db_url, KeyRing.from_string(KeyRing.generate_entry("k1")))


def test_s24_missing_keys_tell_how_to_make_one(db_url: str, tmp_path: Path) -> None:
    settings = Settings(database_url=db_url, data_dir=tmp_path)
    with pytest.raises(KeyRingError, match="zoho-invoice keys generate"):
        Vault.from_settings(settings, upgrade=True)


def test_from_settings_uses_the_data_dir_and_the_configured_keys(
    tmp_path: Path, keys_text: str, tokens: TokenFactory
) -> None:
    settings = Settings(data_dir=tmp_path / "data", encryption_keys=keys_text)
    vault = Vault.from_settings(settings, upgrade=True)
    try:
        save(vault, tokens)
    finally:
        vault.close()
    assert (tmp_path / "data" / "zoho-invoice.db").exists()
    reopened = Vault.from_settings(settings)
    try:
        assert len(reopened.list_connections()) == 1
    finally:
        reopened.close()


def test_s23_rotation_reseals_everything_then_the_old_key_can_go(
    db_url: str, clock: Clock, tokens: TokenFactory
) -> None:
    old_entry = KeyRing.generate_entry("old")
    new_entry = KeyRing.generate_entry("new")
    vault = Vault.open(db_url, KeyRing.from_string(old_entry), upgrade=True, clock=clock)
    first = save(vault, tokens, owner="a", access="1000.a.acc", refresh="1000.a.ref")
    save(vault, tokens, owner="b", access="1000.b.acc", refresh="1000.b.ref1")
    save(vault, tokens, owner="b", access="1000.b.acc2", refresh="1000.b.ref2")  # queues ref1
    session, _ = vault.create_connect_session(owner="c")
    vault.start_connect(session, state="s" * 43, binding="bind", code_verifier="v" * 43)
    vault.close()

    both = KeyRing.from_string(f"{new_entry},{old_entry}")
    vault = Vault.open(db_url, both, clock=clock)
    assert vault.load_tokens(first).refresh_token == "1000.a.ref"  # old rows still open
    # 2 connections x 2 tokens + 1 verifier + 1 revocation + the canary
    assert vault.rotate_keys(batch_size=1) == 7
    assert vault.rotate_keys() == 0
    vault.close()

    vault = Vault.open(db_url, KeyRing.from_string(new_entry), clock=clock)
    try:
        assert vault.load_tokens(first).access_token == "1000.a.acc"
        assert [r.token for r in vault.due_revocations()] == ["1000.b.ref1"]
        pending = vault.consume_state("s" * 43, "bind")
        assert pending.code_verifier == "v" * 43
    finally:
        vault.close()


# -- nothing secret at rest (SECURITY 21, 25) -----------------------------------------------


def dump_rows(vault: Vault) -> str:
    with vault.engine.connect() as conn:
        return "\n".join(
            repr(tuple(row))
            for table in Base.metadata.sorted_tables
            for row in conn.execute(select(table))
        )


def test_s21_database_dump_holds_no_plaintext_secret(
    db_url: str, keyring: KeyRing, clock: Clock, tokens: TokenFactory, tmp_path: Path
) -> None:
    secrets = {
        "access": "1000.ACCESSplaintextAAAA",
        "access2": "1000.ACCESSsecondBBBB",
        "refreshed": "1000.ACCESSrefreshedCCCC",
        "refresh": "1000.REFRESHplaintextDDDD",
        "refresh2": "1000.REFRESHsecondEEEE",
        "state": "STATEplaintextFFFFFFFFFFFFFFFFFFFFFFFFFFFF",
        "state2": "STATEpendingGGGGGGGGGGGGGGGGGGGGGGGGGGGGGG",
        "binding": "BINDINGplaintextHHHHHHHHHHHHHHHHHHH",
        "verifier": "VERIFIERplaintextIIIIIIIIIIIIIIIIIIIIIIIIIIIIIIIII",
        "verifier2": "VERIFIERpendingJJJJJJJJJJJJJJJJJJJJJJJJJJJJJJJJJ",
        "client_secret": "CLIENTSECRETplaintextKKKK",
    }
    settings = Settings(
        database_url=db_url,
        encryption_keys=KeyRing.generate_entry("k1"),
        client_secret=secrets["client_secret"],
        client_id="1000.CLIENTID",
    )
    vault = Vault.from_settings(settings, upgrade=True, clock=clock)
    sessions = []
    for state, verifier in (("state", "verifier"), ("state2", "verifier2")):
        token, _ = vault.create_connect_session(owner="tenant-1", return_url="https://app/x")
        sessions.append(token)
        vault.start_connect(
            token, state=secrets[state], binding=secrets["binding"], code_verifier=secrets[verifier]
        )
    vault.consume_state(secrets["state"], secrets["binding"])
    cid = save(vault, tokens, access=secrets["access"], refresh=secrets["refresh"])
    save(vault, tokens, access=secrets["access2"], refresh=secrets["refresh2"])
    version = vault.load_tokens(cid).version
    vault.store_refreshed(
        cid, expected_version=version, access_token=secrets["refreshed"], expires_at=clock.now + 60
    )
    vault.record_mint(cid)
    other = save(vault, tokens, owner="tenant-2", access="1000.x", refresh="1000.y")
    vault.disconnect(other)

    plaintexts = [*secrets.values(), *sessions]
    rows = dump_rows(vault)
    assert "tenant-1" in rows  # the dump does work
    for plaintext in plaintexts:
        assert plaintext not in rows
    if db_url.startswith("sqlite"):
        files = list(Path(db_url.removeprefix("sqlite:///")).parent.glob("zoho.db*"))
        assert files
        raw = b"".join(path.read_bytes() for path in files)
        assert b"tenant-1" in raw
        for plaintext in plaintexts:
            assert plaintext.encode() not in raw
    vault.close()


def test_s25_no_column_can_hold_the_client_secret() -> None:
    columns = [c.name for table in Base.metadata.sorted_tables for c in table.columns]
    assert not [name for name in columns if "secret" in name or "client" in name]
    # Every column that holds a token-like value is a sealed or hashed one. The mirror's
    # currency_code (issue 10) is Zoho's ISO currency of a record, not a code of the OAuth flow.
    not_secrets = {"currency_code"}
    risky = [
        name
        for name in columns
        if name not in not_secrets
        and any(word in name for word in ("token", "verifier", "state", "binding", "code"))
    ]
    assert risky and all(name.endswith(("_sealed", "_hash")) for name in risky)


# -- connect sessions and state (SECURITY 1-4) ----------------------------------------------


def test_connect_session_then_state_round_trip(vault: Vault, clock: Clock) -> None:
    token, expires_at = vault.create_connect_session(
        owner="tenant-1", return_url="https://app.example.com/done", location="cn"
    )
    assert len(token) >= 43
    assert expires_at == datetime.fromtimestamp(clock.now + 600, UTC)
    started = vault.start_connect(token, state="S" * 43, binding="B" * 43, code_verifier="V" * 43)
    assert (started.owner, started.return_url, started.start_location) == (
        "tenant-1",
        "https://app.example.com/done",
        "cn",
    )
    pending = vault.consume_state("S" * 43, "B" * 43)
    assert pending.owner == "tenant-1"
    assert pending.return_url == "https://app.example.com/done"
    assert pending.start_location == "cn"
    assert pending.code_verifier == "V" * 43


def test_connect_session_is_single_use(vault: Vault) -> None:
    token, _ = vault.create_connect_session(owner="tenant-1")
    vault.start_connect(token, state="s1", binding="b", code_verifier="v")
    with pytest.raises(ConnectFlowError, match="already used"):
        vault.start_connect(token, state="s2", binding="b", code_verifier="v")
    with pytest.raises(ConnectFlowError, match="unknown"):
        vault.start_connect("made-up", state="s3", binding="b", code_verifier="v")


def test_s03_state_is_single_use(vault: Vault) -> None:
    token, _ = vault.create_connect_session(owner="tenant-1")
    vault.start_connect(token, state="state-1", binding="b", code_verifier="v")
    vault.consume_state("state-1", "b")
    with pytest.raises(ConnectFlowError, match="already"):
        vault.consume_state("state-1", "b")


def test_s03_concurrent_callbacks_consume_a_state_once(vault: Vault) -> None:
    token, _ = vault.create_connect_session(owner="tenant-1")
    vault.start_connect(token, state="state-1", binding="b", code_verifier="v")
    wins: list[str] = []
    errors: list[Exception] = []
    barrier = threading.Barrier(8)

    def callback() -> None:
        barrier.wait()
        try:
            wins.append(vault.consume_state("state-1", "b").code_verifier)
        except ConnectFlowError as exc:
            errors.append(exc)

    threads = [threading.Thread(target=callback) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert wins == ["v"]
    assert len(errors) == 7


def test_s01_unknown_state_is_refused(vault: Vault) -> None:
    with pytest.raises(ConnectFlowError, match="unknown"):
        vault.consume_state("never-issued", "b")


def test_s02_binding_mismatch_is_refused_and_consumes_nothing(vault: Vault) -> None:
    token, _ = vault.create_connect_session(owner="tenant-1")
    vault.start_connect(token, state="state-1", binding="browser-a", code_verifier="v")
    with pytest.raises(ConnectFlowError, match="another browser"):
        vault.consume_state("state-1", "browser-b")
    # The real browser can still finish.
    assert vault.consume_state("state-1", "browser-a").code_verifier == "v"


def test_s04_state_expires_after_ten_minutes_and_is_purged(vault: Vault, clock: Clock) -> None:
    token, _ = vault.create_connect_session(owner="tenant-1")
    clock.advance(300)  # the session link was opened late, but in time
    vault.start_connect(token, state="late", binding="b", code_verifier="v")
    fresh, _ = vault.create_connect_session(owner="tenant-1")
    clock.advance(601)
    with pytest.raises(ConnectFlowError, match="expired"):
        vault.consume_state("late", "b")
    with pytest.raises(ConnectFlowError, match="expired"):
        vault.start_connect(fresh, state="x", binding="b", code_verifier="v")
    assert vault.purge_expired() == 2
    with pytest.raises(ConnectFlowError, match="unknown"):
        vault.consume_state("late", "b")
    assert vault.purge_expired() == 0


def test_s04_purge_keeps_live_transactions(vault: Vault, clock: Clock) -> None:
    old, _ = vault.create_connect_session(owner="tenant-1", ttl=60)
    live, _ = vault.create_connect_session(owner="tenant-1", ttl=600)
    clock.advance(120)
    assert vault.purge_expired() == 1
    vault.start_connect(live, state="s", binding="b", code_verifier="v")
    with pytest.raises(ConnectFlowError, match="unknown"):
        vault.start_connect(old, state="s2", binding="b", code_verifier="v")
    assert vault.purge_expired(clock.now + 601) == 1


def test_s04_creating_a_session_purges_expired_ones(vault: Vault, clock: Clock) -> None:
    token, _ = vault.create_connect_session(owner="tenant-1")
    vault.start_connect(token, state="s", binding="b", code_verifier="v")
    clock.advance(601)
    vault.create_connect_session(owner="tenant-2")
    with pytest.raises(ConnectFlowError, match="unknown"):
        vault.consume_state("s", "b")
    assert vault.purge_expired() == 0


# -- connections ----------------------------------------------------------------------------


def test_save_and_read_a_connection(vault: Vault, tokens: TokenFactory, clock: Clock) -> None:
    connection, created = vault.save_connection(
        owner="tenant-1",
        location="eu",
        api_domain=EU,
        scopes="ZohoInvoice.invoices.READ,ZohoInvoice.settings.READ",
        tokens=tokens(),
    )
    assert created
    assert connection.status == "active"
    assert connection.scopes == ["ZohoInvoice.invoices.READ", "ZohoInvoice.settings.READ"]
    assert vault.get_connection(connection.id) == connection
    assert "1000." not in repr(connection)
    stored = vault.load_tokens(connection.id)
    assert stored.access_token == "1000.access.aaa"
    assert stored.refresh_token == "1000.refresh.rrr"
    assert stored.access_expires_at == datetime.fromtimestamp(clock.now + 3600, UTC)
    assert (stored.location, stored.api_domain, stored.status) == ("eu", EU, "active")
    assert "1000." not in repr(stored)
    vault.set_organization(connection.id, "60001234567890123456")
    assert vault.get_connection(connection.id).organization_id == "60001234567890123456"
    assert vault.load_tokens(connection.id).organization_id == "60001234567890123456"


def test_list_connections_filters_by_owner(
    vault: Vault, tokens: TokenFactory, clock: Clock
) -> None:
    a = save(vault, tokens, owner="a")
    clock.advance(1)
    b = save(vault, tokens, owner="b")
    assert [c.id for c in vault.list_connections()] == [a, b]
    assert [c.id for c in vault.list_connections(owner="b")] == [b]
    assert vault.list_connections(owner="nobody") == []


@pytest.mark.parametrize(
    "bad_id",
    ["", "nope", "0" * 32, "../../etc/passwd", "x" * 10_000, "abc\x00def", "' OR 1=1 --", "é" * 32],
)
def test_unknown_or_malformed_id_is_not_found(vault: Vault, bad_id: str) -> None:
    with pytest.raises(ConnectionNotFoundError):
        vault.get_connection(bad_id)
    with pytest.raises(ConnectionNotFoundError):
        vault.load_tokens(bad_id)
    with pytest.raises(ConnectionNotFoundError):
        vault.disconnect(bad_id)
    with pytest.raises(ConnectionNotFoundError):
        vault.store_refreshed(bad_id, expected_version=1, access_token="t", expires_at=0.0)
    with pytest.raises(ConnectionNotFoundError):
        vault.set_status(bad_id, "needs_reauth")


def test_status_changes(vault: Vault, tokens: TokenFactory) -> None:
    cid = save(vault, tokens)
    vault.set_status(cid, "needs_reauth", reason="invalid_code\r\nfrom Zoho")
    connection = vault.get_connection(cid)
    assert connection.status == "needs_reauth"
    assert connection.status_reason == "invalid_code\\r\\nfrom Zoho"
    with pytest.raises(ValueError, match="status"):
        vault.set_status(cid, "paused")  # type: ignore[arg-type]
    save(vault, tokens, access="1000.new")  # a reconnect makes it active again
    assert vault.get_connection(cid).status == "active"
    assert vault.get_connection(cid).status_reason is None


# -- fencing (SECURITY 28) ------------------------------------------------------------------


def test_s28_stale_holder_cannot_overwrite_newer_tokens(
    vault: Vault, tokens: TokenFactory, clock: Clock
) -> None:
    cid = save(vault, tokens)
    read_by_stalled = vault.load_tokens(cid).version
    new_version = vault.store_refreshed(
        cid,
        expected_version=read_by_stalled,
        access_token="1000.fresh",
        expires_at=clock.now + 3600,
    )
    assert new_version == read_by_stalled + 1
    with pytest.raises(StaleWriteError):
        vault.store_refreshed(
            cid, expected_version=read_by_stalled, access_token="1000.stale", expires_at=clock.now
        )
    stored = vault.load_tokens(cid)
    assert stored.access_token == "1000.fresh"
    assert stored.version == new_version
    assert stored.refresh_token == "1000.refresh.rrr"


def test_s28_concurrent_writers_with_one_version_exactly_one_wins(
    vault: Vault, tokens: TokenFactory, clock: Clock
) -> None:
    cid = save(vault, tokens)
    version = vault.load_tokens(cid).version
    barrier = threading.Barrier(8)
    won: list[int] = []
    lost: list[int] = []

    def write(n: int) -> None:
        barrier.wait()
        try:
            vault.store_refreshed(
                cid, expected_version=version, access_token=f"1000.t{n}", expires_at=clock.now
            )
            won.append(n)
        except StaleWriteError:
            lost.append(n)

    threads = [threading.Thread(target=write, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(won) == 1 and len(lost) == 7
    assert vault.load_tokens(cid).access_token == f"1000.t{won[0]}"


def test_s28_reconnect_and_disconnect_fence_out_an_earlier_reader(
    vault: Vault, tokens: TokenFactory, clock: Clock
) -> None:
    cid = save(vault, tokens)
    version = vault.load_tokens(cid).version
    save(vault, tokens, access="1000.reconnected", refresh="1000.refresh.new")
    with pytest.raises(StaleWriteError):
        vault.store_refreshed(cid, expected_version=version, access_token="1000.x", expires_at=0.0)
    version = vault.load_tokens(cid).version
    vault.disconnect(cid)
    with pytest.raises(StaleWriteError):
        vault.store_refreshed(cid, expected_version=version, access_token="1000.x", expires_at=0.0)
    assert vault.load_tokens(cid).access_token is None


# -- reconnect and disconnect (SECURITY 34, 36) ---------------------------------------------


def test_s34_reconnect_replaces_tokens_and_queues_the_old_refresh_token(
    vault: Vault, tokens: TokenFactory, clock: Clock
) -> None:
    first, created = vault.save_connection(
        owner="tenant-1", location="eu", api_domain=EU, scopes=["a"], tokens=tokens()
    )
    assert created and vault.due_revocations() == []
    again, created = vault.save_connection(
        owner="tenant-1",
        location="eu",
        api_domain=EU,
        scopes=["a", "b"],
        tokens=tokens(access="1000.access.new", refresh="1000.refresh.new"),
    )
    assert not created and again.id == first.id
    assert again.scopes == ["a", "b"]
    stored = vault.load_tokens(first.id)
    assert (stored.access_token, stored.refresh_token) == ("1000.access.new", "1000.refresh.new")
    due = vault.due_revocations()
    assert [(r.token, r.location, r.connection_id) for r in due] == [
        ("1000.refresh.rrr", "eu", first.id)
    ]
    assert "1000." not in repr(due)
    # A second connection in another DC is its own connection.
    _, created = vault.save_connection(
        owner="tenant-1", location="us", api_domain=US, scopes=["a"], tokens=tokens()
    )
    assert created


def test_s34_same_refresh_token_again_is_not_revoked(vault: Vault, tokens: TokenFactory) -> None:
    save(vault, tokens)
    save(vault, tokens, access="1000.access.new")  # same refresh token
    save(vault, tokens, access="1000.access.newer", refresh=None)  # no refresh token: keep it
    assert vault.due_revocations() == []
    [connection] = vault.list_connections()
    assert vault.load_tokens(connection.id).refresh_token == "1000.refresh.rrr"


def test_s34_revocations_are_retried_until_done(
    vault: Vault, tokens: TokenFactory, clock: Clock
) -> None:
    save(vault, tokens)
    save(vault, tokens, refresh="1000.refresh.new")
    [due] = vault.due_revocations(clock.now)
    vault.revocation_failed(due.id, "Zoho answered 503\nretry", clock.now + 60)
    assert vault.due_revocations(clock.now) == []
    [again] = vault.due_revocations(clock.now + 60)
    assert again.attempts == 1 and again.last_error == "Zoho answered 503\\nretry"
    vault.revocation_done(again.id)
    assert vault.due_revocations(clock.now + 3600) == []


def test_s36_disconnect_wipes_tokens_and_queues_the_revoke(
    vault: Vault, tokens: TokenFactory, clock: Clock
) -> None:
    cid = save(vault, tokens)
    connection = vault.disconnect(cid)
    assert connection.status == "revoked"
    stored = vault.load_tokens(cid)
    assert (stored.access_token, stored.refresh_token, stored.status) == (None, None, "revoked")
    [due] = vault.due_revocations(clock.now)
    assert (due.token, due.location, due.connection_id) == ("1000.refresh.rrr", "eu", cid)
    with vault.engine.connect() as conn:
        row = conn.execute(select(ConnectionRow).where(ConnectionRow.id == cid)).one()
    assert row.access_token_sealed is None and row.refresh_token_sealed is None
    # Disconnecting again queues nothing more; connecting again starts afresh.
    vault.disconnect(cid)
    assert len(vault.due_revocations(clock.now)) == 1
    _, created = vault.save_connection(
        owner="tenant-1", location="eu", api_domain=EU, scopes=["a"], tokens=tokens()
    )
    assert not created and vault.get_connection(cid).status == "active"
    assert len(vault.due_revocations(clock.now)) == 1


# -- Zoho's mint budget (SECURITY 33) -------------------------------------------------------


def test_mints_are_counted_per_connection_in_a_window(
    vault: Vault, tokens: TokenFactory, clock: Clock
) -> None:
    a = save(vault, tokens, owner="a")
    b = save(vault, tokens, owner="b")
    for _ in range(3):
        vault.record_mint(a)
        clock.advance(100)
    vault.record_mint(b, clock.now)
    assert vault.mints_since(a, clock.now - 600) == 3
    assert vault.mints_since(a, clock.now - 150) == 1
    assert vault.mints_since(b, datetime.fromtimestamp(clock.now - 1, UTC)) == 1
    clock.advance(7200)
    vault.record_mint(a)
    assert vault.mints_since(a, 0.0) == 1  # old history is pruned


# -- availability (SECURITY 42) -------------------------------------------------------------


def test_s42_database_down_is_vault_unavailable_without_the_url(keyring: KeyRing) -> None:
    url = f"postgresql://zoho:hunter2-secret@127.0.0.1:{free_port()}/nowhere"
    with pytest.raises(VaultUnavailableError) as caught:
        Vault.open(url, keyring)
    assert "hunter2" not in str(caught.value)
    assert "127.0.0.1" not in str(caught.value)


def test_s42_lost_database_raises_unavailable_then_recovers(
    keyring: KeyRing, tokens: TokenFactory, tmp_path: Path
) -> None:
    path = tmp_path / "db" / "zoho.db"
    vault = Vault.open(f"sqlite:///{path}", keyring, upgrade=True)
    cid = save(vault, tokens)
    vault.engine.dispose()
    hidden = tmp_path / "hidden"
    path.parent.rename(hidden)
    try:
        with pytest.raises(VaultUnavailableError):
            vault.ping()
    finally:
        vault.engine.dispose()
        hidden.rename(path.parent)
    vault.ping()
    assert vault.get_connection(cid).id == cid
    vault.close()


def test_damaged_sealed_value_raises_decryption_error(vault: Vault, tokens: TokenFactory) -> None:
    a = save(vault, tokens, owner="a")
    b = save(vault, tokens, owner="b")
    # An attacker with database access copies b's sealed tokens into a's row (SECURITY 22).
    with vault.engine.begin() as conn:
        sealed = conn.execute(
            select(ConnectionRow.refresh_token_sealed).where(ConnectionRow.id == b)
        ).scalar_one()
        conn.execute(
            update(ConnectionRow).where(ConnectionRow.id == a).values(refresh_token_sealed=sealed)
        )
    with pytest.raises(DecryptionError):
        vault.load_tokens(a)
    assert vault.load_tokens(b).refresh_token == "1000.refresh.rrr"


def test_inspector_sees_our_version_table_not_alembics_default(vault: Vault) -> None:
    names = set(inspect(vault.engine).get_table_names())
    assert "zoho_invoice_alembic_version" in names
    assert "alembic_version" not in names
