"""A connection's state change and the webhook event it causes are one transaction, on SQLite and
PostgreSQL (integration; SECURITY 48).

The outbox's enqueue joins the state change's unit of work (``vault.unit_of_work()``), so
there is no moment between the two for a crash to lose the event: a change that rolls back
leaves no event, a change that commits always has its event, and an enqueue that fails takes
the change back with it even when the caller swallows the error (as a sink's caller does).
What may only follow a commit (the log line, waking the sender) waits for it.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from pydantic import SecretStr
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from support import Clock
from vault._support import TokenFactory
from zoho_invoice._exceptions import ReauthorizationRequired, VaultUnavailableError
from zoho_invoice._http import httpx
from zoho_invoice.datacenters import DataCenterTable
from zoho_invoice.oauth import OAuthClient
from zoho_invoice.tokens import ConnectionEvent, OutboxEventSink, TokenManager
from zoho_invoice.vault import Vault, after_commit


def _connect(vault: Vault, tokens: TokenFactory) -> str:
    connection, _ = vault.save_connection(
        owner="tenant-1",
        location="eu",
        api_domain="https://www.zohoapis.eu",
        scopes=["ZohoInvoice.invoices.READ"],
        tokens=tokens(),
    )
    return connection.id


def _needs_reauth(connection_id: str) -> ConnectionEvent:
    return ConnectionEvent(
        type="connection.needs_reauth",
        connection_id=connection_id,
        owner="tenant-1",
        at=datetime.now(UTC),
        reason="invalid_code",
    )


def test_a_change_that_rolls_back_writes_no_event(vault: Vault, tokens: TokenFactory) -> None:
    connection_id = _connect(vault, tokens)
    sink = OutboxEventSink(vault.webhook_outbox)
    with pytest.raises(DBAPIError), vault.unit_of_work() as unit:
        vault.set_status(connection_id, "needs_reauth", reason="invalid_code")
        sink(_needs_reauth(connection_id))
        # A statement after the enqueue fails inside the same transaction (NOT NULL).
        unit.session.execute(text("INSERT INTO webhook_outbox (id) VALUES ('x')"))
    assert vault.get_connection(connection_id).status == "active"
    assert vault.webhook_outbox.entries() == []


def test_a_change_that_commits_has_its_event(vault: Vault, tokens: TokenFactory) -> None:
    connection_id = _connect(vault, tokens)
    with vault.unit_of_work():
        vault.set_status(connection_id, "needs_reauth", reason="invalid_code")
        OutboxEventSink(vault.webhook_outbox)(_needs_reauth(connection_id))
    assert vault.get_connection(connection_id).status == "needs_reauth"
    [queued] = vault.webhook_outbox.entries()
    assert queued.event_type == "connection.needs_reauth"
    assert f'"connection_id":"{connection_id}"' in queued.payload


def test_a_failed_enqueue_takes_the_change_back_even_when_swallowed(
    vault: Vault, tokens: TokenFactory
) -> None:
    connection_id = _connect(vault, tokens)
    outbox = vault.webhook_outbox
    taken = outbox.enqueue("connection.created", "{}")  # its message id is now used
    with pytest.raises(DBAPIError), vault.unit_of_work():
        vault.set_status(connection_id, "revoked", reason="disconnected")
        try:
            outbox.enqueue("connection.revoked", "{}", message_id=taken.id)  # a duplicate key
        except DBAPIError:
            pass  # as a flow that never lets a sink break it does
    assert vault.get_connection(connection_id).status == "active"
    assert [entry.id for entry in outbox.entries()] == [taken.id]


def test_the_sender_is_woken_and_the_log_written_only_once_committed(
    vault: Vault, tokens: TokenFactory, db_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    connection_id = _connect(vault, tokens)
    # Another process's view: what it sees when woken is what is committed.
    other = Vault.open(db_url, vault.keyring, upgrade=False)
    seen_when_woken: list[int] = []
    sink = OutboxEventSink(
        vault.webhook_outbox, wake=lambda: seen_when_woken.append(other.webhook_outbox.count())
    )
    try:
        with pytest.raises(RuntimeError), vault.unit_of_work():
            sink(_needs_reauth(connection_id))
            raise RuntimeError("the change fails after the enqueue")
        assert seen_when_woken == [] and "connection.needs_reauth" not in caplog.text
        with caplog.at_level("INFO", logger="zoho_invoice.events"), vault.unit_of_work():
            sink(_needs_reauth(connection_id))
            assert seen_when_woken == [] and "connection.needs_reauth" not in caplog.text
        assert seen_when_woken == [1]
        assert "connection.needs_reauth" in caplog.text
    finally:
        other.close()


def test_after_commit_runs_at_once_outside_a_unit_of_work_and_never_after_a_rollback(
    vault: Vault,
) -> None:
    ran: list[str] = []
    after_commit(lambda: ran.append("now"))
    with pytest.raises(RuntimeError), vault.unit_of_work():
        after_commit(lambda: ran.append("rolled back"))
        raise RuntimeError
    with vault.unit_of_work(), vault.unit_of_work():  # a nested unit is the outer one
        after_commit(lambda: ran.append("committed"))
        assert ran == ["now"]
    assert ran == ["now", "committed"]


def _dead_refresh_token(clock: Clock) -> OAuthClient:
    def zoho(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json={"error": "invalid_code"})

    return OAuthClient(
        client_id="1000.CLIENTID",
        client_secret=SecretStr("secret"),
        redirect_uri="https://app.example.com/zoho/callback",
        scopes=["ZohoInvoice.invoices.READ"],
        datacenters=DataCenterTable.builtin(),
        http=httpx.Client(transport=httpx.MockTransport(zoho)),
        clock=clock,
    )


def test_the_manager_marks_needs_reauth_only_with_its_event(
    vault: Vault, tokens: TokenFactory, clock: Clock
) -> None:
    """The manager's verdict and its event are one unit: when the outbox cannot take the event
    the connection stays as it was (the verdict is reached again next time), and when it can,
    both are there."""
    clock.advance(-7200)
    connection_id = _connect(vault, tokens)  # its access token expired an hour ago
    clock.advance(7200)
    manager = TokenManager(
        vault,
        _dead_refresh_token(clock),
        clock=clock,
        events=OutboxEventSink(vault.webhook_outbox),
    )
    with vault.engine.begin() as conn:  # the outbox cannot take anything now
        conn.execute(text("ALTER TABLE webhook_outbox RENAME TO webhook_outbox_away"))
    # SQLite says "no such table" (an OperationalError, answered as the vault unavailable),
    # PostgreSQL an UndefinedTable: either way the error reaches the caller.
    with pytest.raises((DBAPIError, VaultUnavailableError)):
        manager.get_access_token(connection_id)
    assert vault.get_connection(connection_id).status == "active"
    with vault.engine.begin() as conn:
        conn.execute(text("ALTER TABLE webhook_outbox_away RENAME TO webhook_outbox"))
    with pytest.raises(ReauthorizationRequired):
        manager.get_access_token(connection_id)
    assert vault.get_connection(connection_id).status == "needs_reauth"
    [queued] = vault.webhook_outbox.entries()
    assert queued.event_type == "connection.needs_reauth"
