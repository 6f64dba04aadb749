"""Unit tests of the vault's fenced status writes on SQLite and PostgreSQL (SECURITY 28): a
verdict about old tokens cannot land on a reconnect's new ones."""

from __future__ import annotations

import pytest

from vault._support import TokenFactory
from zoho_invoice import ConnectionNotFoundError, StaleWriteError
from zoho_invoice._exceptions import InvalidVaultInputError
from zoho_invoice.vault import Vault


def _save(vault: Vault, tokens: TokenFactory, **kw: str) -> str:
    conn, _ = vault.save_connection(
        owner="tenant-1",
        location="eu",
        api_domain="https://www.zohoapis.eu",
        scopes=["ZohoInvoice.invoices.READ"],
        tokens=tokens(**kw),
    )
    return conn.id


def test_s28_status_write_at_the_read_version_lands(vault: Vault, tokens: TokenFactory) -> None:
    cid = _save(vault, tokens)
    version = vault.load_tokens(cid).version
    vault.set_status(cid, "needs_reauth", reason="invalid_code", expected_version=version)
    assert vault.get_connection(cid).status == "needs_reauth"
    assert vault.get_connection(cid).status_reason == "invalid_code"


def test_s28_status_write_after_a_reconnect_is_refused(vault: Vault, tokens: TokenFactory) -> None:
    cid = _save(vault, tokens)
    read_before = vault.load_tokens(cid).version
    # The user reconnects while a refresh with the old refresh token is in flight.
    assert _save(vault, tokens, access="1000.new", refresh="1000.refresh.new") == cid
    with pytest.raises(StaleWriteError):
        vault.set_status(cid, "needs_reauth", reason="invalid_code", expected_version=read_before)
    connection = vault.get_connection(cid)
    assert connection.status == "active"
    assert connection.status_reason is None
    assert vault.load_tokens(cid).refresh_token == "1000.refresh.new"


def test_s28_unfenced_status_write_and_unknown_id(vault: Vault, tokens: TokenFactory) -> None:
    cid = _save(vault, tokens)
    vault.set_status(cid, "revoked")
    assert vault.get_connection(cid).status == "revoked"
    with pytest.raises(ConnectionNotFoundError):
        vault.set_status("0" * 32, "needs_reauth", expected_version=1)


@pytest.mark.parametrize("owner", ["a\x00b", "\x00", "line\nbreak", "", "x" * 256])
def test_s39_owner_must_be_printable(vault: Vault, tokens: TokenFactory, owner: str) -> None:
    with pytest.raises(ValueError, match="owner"):
        vault.create_connect_session(owner=owner)
    with pytest.raises(InvalidVaultInputError):
        vault.save_connection(
            owner=owner,
            location="eu",
            api_domain="https://www.zohoapis.eu",
            scopes=[],
            tokens=tokens(),
        )
    assert vault.list_connections(owner=owner) == []
