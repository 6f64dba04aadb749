"""Integration tests of the mirror's rounds and the workflow-webhook triggers (issue 10), on
SQLite and PostgreSQL: which connections are due, the sync.completed event, the interval option,
and the trigger store (hashed tokens, debounce, each due request taken by exactly one caller)."""

from __future__ import annotations

import threading

import pytest

from mirror._support import Sandbox, connect
from support import Clock
from zoho_invoice.mirror import Mirror
from zoho_invoice.mirror._sync_rounds import SyncRounds, parse_interval
from zoho_invoice.tokens import ConnectionEvent
from zoho_invoice.vault import Vault
from zoho_invoice_sandbox.invoice import seed_organization


def test_parse_interval() -> None:
    assert parse_interval("15m") == 900
    assert parse_interval("2h") == 7200 and parse_interval("1d") == 86400
    assert parse_interval("90s") == 90 and parse_interval("600") == 600
    for bad in ("often", "", "5s", "-1h", "m"):
        with pytest.raises(ValueError):
            parse_interval(bad)


def test_a_round_syncs_what_is_due_and_announces_each_sync(
    vault: Vault, sandbox: Sandbox, clock: Clock
) -> None:
    seed_organization(sandbox.world, sandbox.org, contacts=2, items=1, invoices=2)
    first, second = connect(vault, sandbox, owner="a"), connect(vault, sandbox, owner="b")
    events: list[ConnectionEvent] = []
    mirror = Mirror(vault, client_factory=sandbox.client, clock=clock)
    rounds = SyncRounds(mirror, vault, every=900, events=events.append, clock=clock)

    assert set(rounds.due()) == {first, second}  # never synced: both due
    reports = rounds.round()
    assert {r.connection_id for r in reports} == {first, second}
    assert [e.type for e in events] == ["sync.completed", "sync.completed"]
    assert events[0].counts is not None and events[0].counts["added"] > 0

    clock.advance(600)
    assert rounds.due() == []  # synced 10 minutes ago: not yet
    clock.advance(301)
    assert set(rounds.due()) == {first, second}


def test_only_triggered_connections_without_an_interval(
    vault: Vault, sandbox: Sandbox, clock: Clock
) -> None:
    connection_id = connect(vault, sandbox)
    mirror = Mirror(vault, client_factory=sandbox.client, clock=clock)
    triggers = vault.sync_triggers
    rounds = SyncRounds(mirror, vault, every=None, triggers=triggers, clock=clock)
    assert rounds.due() == []
    triggers.issue(connection_id)
    triggers.request(connection_id)
    assert rounds.due() == [connection_id]
    assert rounds.due() == []  # taken


def test_trigger_tokens_are_kept_hashed_and_replaced(vault: Vault, sandbox: Sandbox) -> None:
    connection_id = connect(vault, sandbox)
    triggers = vault.sync_triggers
    token = triggers.issue(connection_id)
    assert triggers.connection_for(token) == connection_id
    with vault.engine.connect() as conn:
        stored = conn.exec_driver_sql("SELECT token_hash FROM sync_triggers").scalar_one()
    assert token not in stored and len(stored) == 64
    newer = triggers.issue(connection_id)
    assert triggers.connection_for(token) is None
    assert triggers.connection_for(newer) == connection_id
    for guess in ("", "x" * 129, "é" * 10, newer[:-1]):
        assert triggers.connection_for(guess) is None
    assert triggers.revoke(connection_id) and triggers.connection_for(newer) is None


def test_requests_are_debounced_to_one_a_minute(
    vault: Vault, sandbox: Sandbox, clock: Clock
) -> None:
    connection_id = connect(vault, sandbox)
    triggers = vault.sync_triggers
    triggers.issue(connection_id)
    assert triggers.request(connection_id) == triggers.now()  # never started: due now
    assert triggers.take_due() == [connection_id]
    clock.advance(10)
    due = triggers.request(connection_id)
    assert (due - triggers.now()).total_seconds() == 50  # a minute after the start
    assert triggers.request(connection_id) == due  # a burst keeps the one request
    assert triggers.take_due() == []
    clock.advance(50)
    assert triggers.take_due() == [connection_id]


def test_a_due_request_is_taken_by_exactly_one_of_several_callers(
    vault: Vault, sandbox: Sandbox
) -> None:
    connection_id = connect(vault, sandbox)
    vault.sync_triggers.issue(connection_id)
    vault.sync_triggers.request(connection_id)
    start = threading.Barrier(4)
    taken: list[list[str]] = []
    lock = threading.Lock()

    def take() -> None:
        start.wait()
        got = vault.sync_triggers.take_due()
        with lock:
            taken.append(got)

    threads = [threading.Thread(target=take) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(len(got) for got in taken) == [0, 0, 0, 1]
