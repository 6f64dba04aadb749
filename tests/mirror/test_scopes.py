"""Integration tests: a connection whose grant lacks a resource's scope (the sandbox enforces
scopes, ``ZohoInvoice.<area>.<OP>``) syncs every other resource; the refused one's state, the
report, ``GET .../sync``'s status and the ``sync.completed`` event name the scope it needs. Real
``TokenManager`` on the vault (SQLite and PostgreSQL): a 57 on an operation its working token
never did is a missing scope, answered without a refresh."""

from __future__ import annotations

from mirror._support import (
    Sandbox,
    assert_mirror_equals_sandbox,
    connect_with_scopes,
    manager_client_factory,
)
from support import Clock
from zoho_invoice.mirror import Mirror, MirrorSettings
from zoho_invoice.mirror._engine import READ_SCOPES
from zoho_invoice.mirror._sync_rounds import SyncRounds
from zoho_invoice.settings import DEFAULT_SCOPES
from zoho_invoice.tokens import ConnectionEvent
from zoho_invoice.tokens._events import webhook_payload
from zoho_invoice.vault import Vault
from zoho_invoice_sandbox.invoice import seed_organization

#: The defaults before issue 10's follow-up: no credit notes.
WITHOUT_CREDIT_NOTES = [
    "ZohoInvoice.settings.ALL",
    "ZohoInvoice.contacts.ALL",
    "ZohoInvoice.invoices.ALL",
    "ZohoInvoice.estimates.ALL",
    "ZohoInvoice.customerpayments.ALL",
]


def test_a_resource_without_its_scope_is_recorded_and_the_others_sync(
    vault: Vault, sandbox: Sandbox, clock: Clock
) -> None:
    seed_organization(sandbox.world, sandbox.org, contacts=3, items=2, invoices=5, estimates=1)
    sandbox.ok("POST", "/creditnotes", json=_credit_note(sandbox))
    clock.advance(5)
    connection_id, manager, refreshes = connect_with_scopes(vault, sandbox, WITHOUT_CREDIT_NOTES)
    events: list[ConnectionEvent] = []
    mirror = Mirror(
        vault,
        client_factory=manager_client_factory(sandbox, manager),
        settings=MirrorSettings(overlap=1),
        clock=clock,
    )
    rounds = SyncRounds(mirror, vault, every=None, events=events.append, clock=clock)

    report = rounds.run(connection_id)

    assert report.outcome == "completed"
    by_resource = {r.resource: r for r in report.resources}
    refused = by_resource["credit_notes"]
    assert refused.missing_scope == "ZohoInvoice.creditnotes.READ"
    assert refused.error is not None and refused.error.startswith(
        "missing scope ZohoInvoice.creditnotes.READ:"
    )
    assert not refused.complete and refused.list_calls == 1
    assert report.errors == {"credit_notes": refused.error}
    others = tuple(r for r in READ_SCOPES if r != "credit_notes")
    assert all(by_resource[r].complete and by_resource[r].error is None for r in others)
    assert_mirror_equals_sandbox(vault.engine, connection_id, sandbox, others)
    # The status (GET /api/connections/{id}/sync) and the event say the same.
    status = {r.resource: r for r in mirror.status(connection_id).resources}
    assert status["credit_notes"].missing_scope == "ZohoInvoice.creditnotes.READ"
    assert status["credit_notes"].to_json()["missing_scope"] == "ZohoInvoice.creditnotes.READ"
    assert status["invoices"].error is None and status["invoices"].rows == 5
    # "synced N minutes ago" leaves out what the grant cannot read.
    assert mirror.status(connection_id).last_success_at is not None
    (event,) = events
    assert event.type == "sync.completed" and event.reason == "completed"
    assert event.errors == {"credit_notes": refused.error}
    assert '"errors":{"credit_notes":"missing scope ZohoInvoice.creditnotes.READ' in (
        webhook_payload(event)
    )

    # The next sync tries again (a reconnect may have granted it) and still syncs the rest.
    clock.advance(60)
    again = mirror.sync(connection_id)
    assert again.errors.keys() == {"credit_notes"}
    assert refreshes == []


def test_a_missing_scope_spends_no_refresh(vault: Vault, sandbox: Sandbox, clock: Clock) -> None:
    """Four resources refused: each is told apart from a dead token without asking Zoho
    Accounts for a new one (Zoho's 10 a 10 minutes)."""
    seed_organization(sandbox.world, sandbox.org, contacts=1, invoices=1)
    clock.advance(5)
    connection_id, manager, refreshes = connect_with_scopes(
        vault, sandbox, ["ZohoInvoice.invoices.READ", "ZohoInvoice.contacts.READ"]
    )
    mirror = Mirror(vault, client_factory=manager_client_factory(sandbox, manager), clock=clock)

    report = mirror.sync(connection_id)

    assert set(report.errors) == {"items", "estimates", "customer_payments", "credit_notes"}
    assert {r.resource: r.missing_scope for r in report.resources if r.error} == {
        "items": "ZohoInvoice.settings.READ",
        "estimates": "ZohoInvoice.estimates.READ",
        "customer_payments": "ZohoInvoice.customerpayments.READ",
        "credit_notes": "ZohoInvoice.creditnotes.READ",
    }
    assert refreshes == []
    assert report.resources[0].resource == "invoices" and report.resources[0].complete


def test_the_default_scopes_read_every_mirrored_resource() -> None:
    """A connection made with the default scopes can sync all seven resources."""
    granted = {scope.lower() for scope in DEFAULT_SCOPES}
    for resource, scope in READ_SCOPES.items():
        area = scope.split(".")[1].lower()
        assert {f"zohoinvoice.{area}.read", f"zohoinvoice.{area}.all"} & granted, resource


def _credit_note(sandbox: Sandbox) -> dict[str, object]:
    customer = sandbox.all_rows("contacts")[0]["contact_id"]
    return {"customer_id": customer, "line_items": [{"name": "Refund", "rate": 10, "quantity": 1}]}
