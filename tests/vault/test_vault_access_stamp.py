"""Integration tests of what the token cache checks (vault/_stored_access.py, _local_writes.py):
every write that must reach a cached token changes the row's stamp, which another process reads,
and this process's write generation, which this process compares with no I/O; the hot path's
read opens the access token alone (SECURITY 26, 28, 36)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest

from support import Clock
from zoho_invoice._exceptions import ConnectionNotFoundError
from zoho_invoice.oauth import TokenSet
from zoho_invoice.vault import KeyRing, Vault

OLD_KEY = KeyRing.generate_entry("old")


def _tokens(clock: Clock, access: str, refresh: str = "1000.refresh.rrr") -> TokenSet:
    return TokenSet(
        access_token=access,
        refresh_token=refresh,
        expires_at=datetime.fromtimestamp(clock(), UTC) + timedelta(hours=1),
        api_domain="https://www.zohoapis.eu",
        token_type="Bearer",
        scope=None,
    )


def _save(vault: Vault, clock: Clock, access: str = "1000.access.aaa", **kw: str) -> str:
    connection, _ = vault.save_connection(
        owner="tenant-1",
        location="eu",
        api_domain="https://www.zohoapis.eu",
        scopes=["ZohoInvoice.invoices.READ"],
        tokens=_tokens(clock, access, **kw),
    )
    return connection.id


WRITES: dict[str, Callable[[Vault, str, Clock], object]] = {
    "needs_reauth": lambda v, cid, c: v.set_status(cid, "needs_reauth", reason="x"),
    "revoked": lambda v, cid, c: v.set_status(cid, "revoked"),
    "disconnect": lambda v, cid, c: v.disconnect(cid),
    "refresh": lambda v, cid, c: v.store_refreshed(
        cid,
        expected_version=v.load_access(cid).version,
        access_token="1000.access.new",
        expires_at=c() + 3600,
    ),
    "reconnect": lambda v, cid, c: _save(v, c, "1000.access.again", refresh="1000.refresh.new"),
    "organization": lambda v, cid, c: v.set_organization(cid, "60001234567890123456"),
}


@pytest.mark.parametrize("write", sorted(WRITES))
def test_every_write_that_must_win_changes_the_stamp_and_the_generation(
    vault: Vault, clock: Clock, write: str
) -> None:
    cid = _save(vault, clock)
    stamp, generation = vault.access_stamp(cid), vault.connection_generation(cid)
    assert stamp == vault.load_access(cid).stamp
    WRITES[write](vault, cid, clock)
    assert vault.access_stamp(cid) != stamp
    assert vault.connection_generation(cid) != generation


def test_a_key_rotation_changes_the_stamp_and_the_generation(db_url: str, clock: Clock) -> None:
    before = Vault.open(db_url, KeyRing.from_string(OLD_KEY), upgrade=True, clock=clock)
    cid = _save(before, clock)  # sealed under "old"
    before.close()
    vault = Vault.open(db_url, KeyRing.from_string(f"{KeyRing.generate_entry('new')},{OLD_KEY}"))
    try:
        stamp, generation = vault.access_stamp(cid), vault.connection_generation(cid)
        assert vault.rotate_keys() > 0
        after = vault.access_stamp(cid)
        assert after is not None and stamp is not None
        assert after.version == stamp.version  # a rotation fences no refresher out
        assert after != stamp and vault.connection_generation(cid) != generation
        assert vault.load_access(cid).access_token == "1000.access.aaa"
    finally:
        vault.close()


def test_a_stamp_of_no_connection_is_none(vault: Vault) -> None:
    assert vault.access_stamp("0" * 32) is None
    with pytest.raises(ConnectionNotFoundError):  # a malformed id, as everywhere
        vault.access_stamp("not an id")


def test_load_access_opens_the_access_token_alone(vault: Vault, clock: Clock) -> None:
    cid = _save(vault, clock)
    access = vault.load_access(cid)
    assert access.access_token == "1000.access.aaa"
    assert not hasattr(access, "refresh_token")
    assert "1000.access.aaa" not in repr(access)
    sealed = access.stamp.access_token_sealed
    assert sealed is not None and sealed not in repr(access)
    full = vault.load_tokens(cid)
    assert (access.version, access.status, access.api_domain, access.location) == (
        full.version,
        full.status,
        full.api_domain,
        full.location,
    )
