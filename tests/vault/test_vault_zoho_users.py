"""Integration tests of the Vault against real databases (SQLite, and PostgreSQL when
available): connections are keyed by their Zoho user (SECURITY 34, 44), and the browser's
connect steps check by a read before they write (SECURITY 51)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

import pytest
from sqlalchemy import event, text

from zoho_invoice import ConnectFlowError
from zoho_invoice.vault import Vault

if TYPE_CHECKING:
    from support import Clock
    from vault._support import TokenFactory

EU = "https://www.zohoapis.eu"


def save(
    vault: Vault, tokens: TokenFactory, *, user: str | None, refresh: str, **kw: Any
) -> tuple[Any, bool]:
    return vault.save_connection(
        owner="swap",
        location="eu",
        api_domain=EU,
        scopes=["ZohoInvoice.settings.READ"],
        tokens=tokens(refresh=refresh),
        zoho_user_id=user,
        **kw,
    )


def test_s44_another_zoho_user_gets_a_connection_of_its_own(
    vault: Vault, tokens: TokenFactory
) -> None:
    alices, created = save(vault, tokens, user="zuid-alice", refresh="1000.r.alice")
    assert created
    vault.set_organization(alices.id, "111")
    bobs, created = save(vault, tokens, user="zuid-bob", refresh="1000.r.bob")
    assert created and bobs.id != alices.id
    assert bobs.zoho_user_id == "zuid-bob" and bobs.organization_id is None
    kept = vault.get_connection(alices.id)
    assert (kept.zoho_user_id, kept.organization_id) == ("zuid-alice", "111")
    assert vault.load_tokens(alices.id).refresh_token == "1000.r.alice"
    assert vault.due_revocations() == []  # Alice's token is still hers, nothing to revoke


def test_s34_s44_the_same_user_renews_its_connection_and_the_old_token_is_queued(
    vault: Vault, tokens: TokenFactory
) -> None:
    first, _ = save(vault, tokens, user="zuid-alice", refresh="1000.r.one")
    again, created = save(vault, tokens, user="zuid-alice", refresh="1000.r.two")
    assert not created and again.id == first.id
    assert vault.load_tokens(first.id).refresh_token == "1000.r.two"
    [due] = vault.due_revocations()
    assert (due.connection_id, due.token) == (first.id, "1000.r.one")


def _forget_user(vault: Vault, connection_id: str) -> None:
    with vault.engine.begin() as conn:
        conn.execute(
            text("UPDATE connections SET zoho_user_id = NULL WHERE id = :id"), {"id": connection_id}
        )


def test_s44_a_connection_without_a_user_is_renewed_only_when_claimed(
    vault: Vault, tokens: TokenFactory
) -> None:
    legacy, _ = save(vault, tokens, user="zuid-alice", refresh="1000.r.old")
    _forget_user(vault, legacy.id)
    # A login that does not claim it never lands on it.
    bobs, created = save(vault, tokens, user="zuid-bob", refresh="1000.r.bob")
    assert created and bobs.id != legacy.id
    assert vault.get_connection(legacy.id).zoho_user_id is None
    # A claim for a connection that records another user is ignored: a new one is made.
    other, created = save(vault, tokens, user="zuid-carol", refresh="1000.r.c", claim=bobs.id)
    assert created and other.id not in (bobs.id, legacy.id)
    assert vault.get_connection(bobs.id).zoho_user_id == "zuid-bob"
    # The proven user's claim renews it and records the user.
    claimed, created = save(vault, tokens, user="zuid-alice", refresh="1000.r.new", claim=legacy.id)
    assert not created and claimed.id == legacy.id
    assert claimed.zoho_user_id == "zuid-alice"
    assert [d.token for d in vault.due_revocations()] == ["1000.r.old"]


def test_s44_without_a_user_only_a_connection_without_one_is_renewed(
    vault: Vault, tokens: TokenFactory
) -> None:
    alices, _ = save(vault, tokens, user="zuid-alice", refresh="1000.r.alice")
    anonymous, created = save(vault, tokens, user=None, refresh="1000.r.x")
    assert created and anonymous.id != alices.id
    again, created = save(vault, tokens, user=None, refresh="1000.r.y")
    assert not created and again.id == anonymous.id
    assert vault.load_tokens(alices.id).refresh_token == "1000.r.alice"


def test_queue_revocation_of_a_token_without_a_connection(vault: Vault) -> None:
    vault.queue_revocation("eu", "1000.r.orphan")
    [due] = vault.due_revocations()
    assert (due.connection_id, due.location, due.token) == (None, "eu", "1000.r.orphan")


@contextmanager
def _writes(vault: Vault) -> Iterator[list[str]]:
    """The write statements (and SQLite write locks) the vault sends meanwhile."""
    seen: list[str] = []

    def record(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        words = statement.strip().upper()
        if words.startswith(("BEGIN IMMEDIATE", "INSERT", "UPDATE", "DELETE")) or (
            " FOR UPDATE" in words  # a row lock on PostgreSQL
        ):
            seen.append(words)

    event.listen(vault.engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(vault.engine, "before_cursor_execute", record)


def test_s51_connect_steps_that_fail_their_checks_write_nothing(vault: Vault, clock: Clock) -> None:
    used, _ = vault.create_connect_session(owner="t")
    vault.start_connect(used, state="state-1", binding="browser-a", code_verifier="v" * 43)
    expired, _ = vault.create_connect_session(owner="t", ttl=5)
    clock.advance(6)
    with _writes(vault) as writes:
        for token in ("made-up", used, expired):
            with pytest.raises(ConnectFlowError):
                vault.start_connect(token, state="s", binding="b", code_verifier="v" * 43)
        for state, binding in (("never-issued", "browser-a"), ("state-1", "browser-b")):
            with pytest.raises(ConnectFlowError):
                vault.consume_state(state, binding)
    assert writes == []
    # The browser that started it still finishes (and that writes).
    with _writes(vault) as writes:
        assert vault.consume_state("state-1", "browser-a").code_verifier == "v" * 43
    assert any(w.startswith("UPDATE") for w in writes)
    with _writes(vault) as writes, pytest.raises(ConnectFlowError):
        vault.consume_state("state-1", "browser-a")  # replayed
    assert writes == []
