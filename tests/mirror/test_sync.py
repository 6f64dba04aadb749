"""Integration tests: the mirror against the sandbox's Invoice API in process, on SQLite and
PostgreSQL - a first sync, an incremental one, details only for what changed, deletes found by
reconciliation, the change feed, the lease, purge."""

from __future__ import annotations

from typing import Any

from mirror._support import Sandbox, assert_mirror_equals_sandbox, mirrored
from support import Clock
from zoho_invoice.mirror import Mirror, MirrorSettings
from zoho_invoice.vault import Vault
from zoho_invoice_sandbox.invoice import seed_organization

LINES = [{"name": "Work", "rate": 100, "quantity": 1}]


def make_mirror(vault: Vault, sandbox: Sandbox, clock: Clock, **settings: Any) -> Mirror:
    return Mirror(
        vault, client_factory=sandbox.client, settings=MirrorSettings(**settings), clock=clock
    )


def test_a_first_sync_mirrors_every_record_at_detail_level(
    vault: Vault, sandbox: Sandbox, clock: Clock, connection_id: str
) -> None:
    seed_organization(sandbox.world, sandbox.org, contacts=4, items=3, invoices=9, estimates=2)
    clock.advance(5)
    # Aligned pages: the minimum of calls (anchored pages cost a little more: test_rules).
    mirror = make_mirror(vault, sandbox, clock, per_page=4, anchor_pages=False)

    report = mirror.sync(connection_id)

    assert report.outcome == "completed"
    assert_mirror_equals_sandbox(vault.engine, connection_id, sandbox)
    invoices = {r.resource: r for r in report.resources}["invoices"]
    assert invoices.added == 9
    assert invoices.list_calls == 3  # ceil(9 / 4)
    assert invoices.detail_calls == 9
    assert invoices.reconcile_calls == 0  # the full listing was the reconciliation


def test_a_steady_sync_costs_one_list_call_and_one_detail_per_edit(
    vault: Vault, sandbox: Sandbox, clock: Clock, connection_id: str
) -> None:
    seed_organization(sandbox.world, sandbox.org, contacts=3, items=2, invoices=12)
    clock.advance(5)
    mirror = make_mirror(vault, sandbox, clock, per_page=5)
    mirror.sync(connection_id, resources=["invoices"])
    clock.advance(1800)
    ids = [r["invoice_id"] for r in sandbox.all_rows("invoices")][:2]
    for invoice_id in ids:
        sandbox.ok("PUT", f"/invoices/{invoice_id}", json={"reference_number": "edited"})
    clock.advance(2)

    report = mirror.sync(connection_id, resources=["invoices"])

    (invoices,) = report.resources
    assert (invoices.list_calls, invoices.detail_calls, invoices.reconcile_calls) == (1, 2, 0)
    assert invoices.updated == 2
    assert_mirror_equals_sandbox(vault.engine, connection_id, sandbox, ("invoices",))


def test_a_reconciliation_marks_deletes_and_the_feed_tells(
    vault: Vault, sandbox: Sandbox, clock: Clock, connection_id: str
) -> None:
    customer = sandbox.ok("POST", "/contacts", json={"contact_name": "C"})["contact"]
    made = [
        sandbox.ok(
            "POST", "/invoices", json={"customer_id": customer["contact_id"], "line_items": LINES}
        )["invoice"]["invoice_id"]
        for _ in range(3)
    ]
    clock.advance(5)
    mirror = make_mirror(vault, sandbox, clock)
    mirror.sync(connection_id, resources=["invoices"])
    seen = mirror.changes(connection_id)
    assert sorted(c.id for c in seen if c.kind == "added") == sorted(made)
    sandbox.ok("DELETE", f"/invoices/{made[0]}")
    clock.advance(5)

    mirror.sync(connection_id, resources=["invoices"], reconcile=True)

    _live, _levels, deleted = mirrored(vault.engine, connection_id, sandbox.org, "invoices")
    assert deleted == {made[0]}
    after = mirror.changes(connection_id, since=seen[-1].seq)
    assert [(c.id, c.kind) for c in after] == [(made[0], "deleted")]
    assert_mirror_equals_sandbox(vault.engine, connection_id, sandbox, ("invoices",))


def test_a_sync_with_nothing_changed_reads_no_detail(
    vault: Vault, sandbox: Sandbox, clock: Clock, connection_id: str
) -> None:
    seed_organization(sandbox.world, sandbox.org, contacts=3, items=2, invoices=6, estimates=2)
    clock.advance(5)
    mirror = make_mirror(vault, sandbox, clock)
    mirror.sync(connection_id)
    clock.advance(60)  # within the overlap: every record is listed again

    report = mirror.sync(connection_id)

    assert report.outcome == "completed"
    assert sum(r.detail_calls for r in report.resources) == 0
    assert (report.added, report.updated, report.deleted) == (0, 0, 0)
    assert sum(r.list_calls for r in report.resources) == 7


def test_a_second_change_in_the_same_second_after_the_read_is_caught(
    vault: Vault, sandbox: Sandbox, clock: Clock, connection_id: str
) -> None:
    customer = sandbox.ok("POST", "/contacts", json={"contact_name": "C"})["contact"]
    invoice = sandbox.ok(
        "POST", "/invoices", json={"customer_id": customer["contact_id"], "line_items": LINES}
    )["invoice"]
    mirror = make_mirror(vault, sandbox, clock)
    mirror.sync(connection_id, resources=["invoices"])
    # Same second as the stamp the mirror holds: only the line items change, no list field.
    lines = [{"name": "Work", "description": "changed", "rate": 100, "quantity": 1}]
    sandbox.ok("PUT", f"/invoices/{invoice['invoice_id']}", json={"line_items": lines})
    clock.advance(1)

    mirror.sync(connection_id, resources=["invoices"])

    assert_mirror_equals_sandbox(vault.engine, connection_id, sandbox, ("invoices",))
