"""Integration tests of the webhook outbox on SQLite and PostgreSQL (SECURITY 48): queued
deliveries survive a restart (a new Vault on the same database, a new deliverer), a claimed
entry is sent by one sender however many race for it, and migration 0004 adds the table.

Deliveries go to a real receiver on a loopback port that verifies them with
``standardwebhooks`` (``tests/webhook_receiver.py``).
"""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime

from alembic import command
from sqlalchemy import inspect

from support import Clock
from webhook_receiver import new_secret, receiving
from zoho_invoice.tokens import (
    Backoff,
    ConnectionEvent,
    DeliveryRound,
    OutboxEventSink,
    WebhookDeliverer,
)
from zoho_invoice.vault import KeyRing, Vault, upgrade_database
from zoho_invoice.vault._db import alembic_config, create_engine_for, current_revision

SECRET = new_secret()
NO_JITTER = Backoff(initial=10.0, maximum=3600.0, jitter=lambda: 0.0)


def event(owner: str, kind: str = "connection.created") -> ConnectionEvent:
    return ConnectionEvent(kind, "c" * 32, owner, datetime(2026, 11, 30, tzinfo=UTC))  # type: ignore[arg-type]


def test_s48_queued_deliveries_survive_a_restart(db_url: str, keyring: KeyRing) -> None:
    clock = Clock(time.time())  # real time: the receiver checks webhook-timestamp
    with receiving(SECRET, answers=[503]) as receiver:
        first = Vault.open(db_url, keyring, upgrade=True, clock=clock)
        OutboxEventSink(first.webhook_outbox)(event("tenant-a"))
        OutboxEventSink(first.webhook_outbox)(event("tenant-b", "connection.revoked"))
        sender = WebhookDeliverer(
            first.webhook_outbox, receiver.url, SECRET, clock=clock, backoff=NO_JITTER
        )
        # One attempt (answered 503), then the process ends before trying the other.
        assert sender.deliver_due(limit=1) == DeliveryRound(retrying=1)
        sender.close()
        first.close()

        clock.advance(5)
        second = Vault.open(db_url, keyring, upgrade=False, clock=clock)
        try:
            assert second.webhook_outbox.count() == 2
            again = WebhookDeliverer(
                second.webhook_outbox, receiver.url, SECRET, clock=clock, backoff=NO_JITTER
            )
            assert again.deliver_due() == DeliveryRound(delivered=2)
            again.close()
            assert second.webhook_outbox.entries() == []
        finally:
            second.close()
        failed, *delivered = receiver.received
    assert failed.status == 503 and all(d.verified for d in delivered)
    assert sorted(d.payload["data"]["owner"] for d in delivered) == ["tenant-a", "tenant-b"]
    # Both were queued at the same instant, so either may have been the one tried first.
    retried = next(d for d in delivered if d.payload == failed.payload)
    assert retried.headers["webhook-id"] == failed.headers["webhook-id"]


def test_s48_two_deliverers_racing_send_each_entry_once(db_url: str, keyring: KeyRing) -> None:
    # Two vaults on one database stand for two processes (or hosts); each has a deliverer.
    clock = Clock(time.time())
    vaults = [Vault.open(db_url, keyring, upgrade=True, clock=clock) for _ in range(2)]
    try:
        for number in range(12):
            OutboxEventSink(vaults[0].webhook_outbox)(event(f"tenant-{number}"))
        with receiving(SECRET) as receiver:
            senders = [
                WebhookDeliverer(v.webhook_outbox, receiver.url, SECRET, clock=clock)
                for v in vaults
            ]
            start = threading.Barrier(2)
            rounds: list[DeliveryRound] = []

            def run(sender: WebhookDeliverer) -> None:
                start.wait(5)
                rounds.append(sender.deliver_due())

            threads = [threading.Thread(target=run, args=(s,)) for s in senders]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join(30)
            for sender in senders:
                sender.close()
            received = receiver.received
        assert sum(r.delivered for r in rounds) == 12
        ids = [d.headers["webhook-id"] for d in received]
        assert len(ids) == 12 and len(set(ids)) == 12  # each entry sent exactly once
        assert all(d.verified for d in received)
        assert vaults[1].webhook_outbox.entries() == []
    finally:
        for vault in vaults:
            vault.close()


def test_s48_a_claim_hides_the_entry_until_its_lease_ends(vault: Vault, clock: Clock) -> None:
    outbox = vault.webhook_outbox
    queued = outbox.enqueue("connection.created", '{"type":"connection.created"}')
    [mine] = outbox.claim_due(clock(), lease=60)
    assert mine.id == queued.id and mine.attempts == 1 and mine.claim
    assert outbox.claim_due(clock(), lease=60) == []  # another sender finds nothing
    clock.advance(59)
    assert outbox.claim_due(clock(), lease=60) == []
    clock.advance(1)  # the first sender stalled past its lease: the entry is due again
    [theirs] = outbox.claim_due(clock(), lease=60)
    assert theirs.id == queued.id and theirs.attempts == 2 and theirs.claim != mine.claim
    # The stalled sender's late verdicts change nothing; the new holder's do.
    assert not outbox.delivered(mine)
    assert not outbox.failed(mine, "HTTP 500", clock() + 10)
    assert not outbox.dead(mine, "HTTP 500")
    assert [e.status for e in outbox.entries()] == ["pending"]
    assert outbox.delivered(theirs)
    assert outbox.entries() == []


def test_s48_dead_entries_are_purged_after_retention(vault: Vault, clock: Clock) -> None:
    outbox = vault.webhook_outbox
    queued = outbox.enqueue("connection.revoked", "{}")
    kept = outbox.enqueue("connection.created", "{}")
    [entry] = [e for e in outbox.claim_due(clock(), lease=60, limit=2) if e.id == queued.id]
    assert outbox.dead(entry, "HTTP 410")
    assert outbox.purge_dead(clock()) == 0  # not older than the cut-off
    clock.advance(1)
    assert outbox.purge_dead(clock()) == 1
    assert [e.id for e in outbox.entries()] == [kept.id]


def test_s48_migration_0004_adds_the_outbox_and_downgrades(db_url: str) -> None:
    upgrade_database(db_url, "0003")
    engine = create_engine_for(db_url)
    try:
        assert "webhook_outbox" not in inspect(engine).get_table_names()
        upgrade_database(db_url, "0004")
        assert current_revision(engine) == "0004"
        assert "webhook_outbox" in inspect(engine).get_table_names()
        with engine.begin() as conn:
            command.downgrade(alembic_config(conn), "0003")
        assert current_revision(engine) == "0003"
        assert "webhook_outbox" not in inspect(engine).get_table_names()
    finally:
        engine.dispose()
