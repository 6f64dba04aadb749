"""Integration tests: ``zoho-invoice sync``, ``sync webhook-url`` and ``connections disconnect
[--purge]`` (issue 10), on a real vault (SQLite) and the sandbox's Invoice API in process; the
mirror reaches the commands through the invocation's ``obj`` (``SyncServices``)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from mirror._support import (
    Sandbox,
    connect,
    connect_with_scopes,
    manager_client_factory,
    sandbox_on,
)
from support import Clock
from zoho_invoice.cli import app
from zoho_invoice.cli._sync import SyncServices
from zoho_invoice.mirror import Mirror
from zoho_invoice.tokens import ConnectionEvent
from zoho_invoice.vault import KeyRing, Vault
from zoho_invoice_sandbox.invoice import seed_organization

PUBLIC_URL = "https://app.example"


@pytest.fixture
def clock() -> Clock:
    return Clock(1_790_000_000.0)


@pytest.fixture
def vault(tmp_path: Path, clock: Clock) -> Iterator[Vault]:
    opened = Vault.open(
        f"sqlite:///{tmp_path / 'zoho.db'}",
        KeyRing.from_string(KeyRing.generate_entry("k1")),
        upgrade=True,
        clock=clock,
    )
    yield opened
    opened.close()


@pytest.fixture
def sandbox(clock: Clock) -> Iterator[Sandbox]:
    with sandbox_on(clock) as running:
        yield running


@pytest.fixture
def events() -> list[ConnectionEvent]:
    return []


@pytest.fixture
def services(
    vault: Vault, sandbox: Sandbox, clock: Clock, events: list[ConnectionEvent]
) -> SyncServices:
    return SyncServices(
        vault=vault,
        mirror=Mirror(vault, client_factory=sandbox.client, clock=clock),
        triggers=vault.sync_triggers,
        public_url=PUBLIC_URL,
        events=events.append,
    )


def run(services: SyncServices, *args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, list(args), obj=services)
    return result.exit_code, result.stdout, result.stderr


def test_sync_mirrors_the_connection_and_announces_the_counts(
    services: SyncServices,
    vault: Vault,
    sandbox: Sandbox,
    clock: Clock,
    events: list[ConnectionEvent],
) -> None:
    connection_id = connect(vault, sandbox)
    seed_organization(sandbox.world, sandbox.org, contacts=3, items=2, invoices=5)
    clock.advance(5)

    code, out, err = run(services, "sync", "--connection", connection_id, "-r", "invoices")

    assert code == 0, err
    assert "completed: 5 added, 0 updated, 0 deleted" in out
    assert services.mirror.count(connection_id, "invoices") == 5
    assert services.mirror.count(connection_id, "contacts") == 0  # not asked for
    [event] = events
    assert event.type == "sync.completed" and event.connection_id == connection_id
    assert event.counts == {"added": 5, "updated": 0, "deleted": 0}

    # An edit in Zoho, then the next sync: the one record, as JSON for a script.
    [row] = sandbox.all_rows("invoices")[:1]
    clock.advance(5)
    sandbox.ok("PUT", f"/invoices/{row['invoice_id']}", json={"reference_number": "PO-7"})
    clock.advance(5)
    code, out, err = run(services, "sync", "-c", connection_id, "-r", "invoices", "--json")
    assert code == 0, err
    report = json.loads(out)
    assert (report["outcome"], report["added"], report["updated"]) == ("completed", 0, 1)


def test_sync_names_the_scope_a_resource_needs_and_syncs_the_rest(
    vault: Vault, sandbox: Sandbox, clock: Clock, events: list[ConnectionEvent]
) -> None:
    seed_organization(sandbox.world, sandbox.org, contacts=2, invoices=3)
    clock.advance(5)
    connection_id, manager, _ = connect_with_scopes(
        vault, sandbox, ["ZohoInvoice.invoices.READ", "ZohoInvoice.contacts.READ"]
    )
    services = SyncServices(
        vault=vault,
        mirror=Mirror(vault, client_factory=manager_client_factory(sandbox, manager), clock=clock),
        triggers=vault.sync_triggers,
        public_url=PUBLIC_URL,
        events=events.append,
    )

    code, out, err = run(services, "sync", "-c", connection_id, "-r", "invoices", "-r", "items")

    assert code == 0, err
    assert "completed: 3 added" in out
    assert (
        "items not synced: the connection's grant lacks ZohoInvoice.settings.READ: connect "
        "again to grant it" in " ".join(err.split())
    )
    [event] = events
    assert event.errors is not None and set(event.errors) == {"items"}


def test_sync_refuses_what_it_cannot_do_with_a_clear_message(
    services: SyncServices, vault: Vault, sandbox: Sandbox
) -> None:
    connection_id = connect(vault, sandbox)
    code, _, err = run(services, "sync")
    assert code == 2 and "--connection is required" in err
    code, _, err = run(services, "sync", "-c", connection_id, "-r", "bills")
    assert code == 2 and "unknown resource 'bills'" in err
    code, _, err = run(services, "sync", "-c", "nope")
    assert code == 2 and "no connection 'nope'" in err


def test_webhook_url_is_shown_once_and_replaces_the_previous_one(
    services: SyncServices, vault: Vault, sandbox: Sandbox
) -> None:
    connection_id = connect(vault, sandbox)
    code, first, err = run(services, "sync", "webhook-url", "-c", connection_id)
    assert code == 0, err
    assert first.startswith(f"{PUBLIC_URL}/zoho/webhooks/")
    assert "Workflow Rules" in err
    token = first.strip().rsplit("/", 1)[1]
    assert services.triggers.connection_for(token) == connection_id

    code, second, _ = run(services, "sync", "webhook-url", "-c", connection_id)
    assert code == 0 and second != first
    assert services.triggers.connection_for(token) is None  # the old URL stopped working

    code, out, _ = run(services, "sync", "webhook-url", "-c", connection_id, "--revoke")
    assert code == 0 and "forgotten" in out
    assert not services.triggers.has_url(connection_id)


def test_disconnect_keeps_the_mirror_unless_purged(
    services: SyncServices, vault: Vault, sandbox: Sandbox, clock: Clock
) -> None:
    kept, purged = connect(vault, sandbox, owner="a"), connect(vault, sandbox, owner="b")
    seed_organization(sandbox.world, sandbox.org, contacts=2, items=1, invoices=3)
    clock.advance(5)
    for connection_id in (kept, purged):
        assert run(services, "sync", "-c", connection_id, "-r", "invoices")[0] == 0
        assert services.mirror.count(connection_id, "invoices") == 3
    run(services, "sync", "webhook-url", "-c", kept)

    code, out, _ = run(services, "connections", "disconnect", kept)
    assert code == 0 and "mirror is kept" in out
    assert services.mirror.count(kept, "invoices") == 3
    assert vault.get_connection(kept).status == "revoked"
    assert not services.triggers.has_url(kept)

    code, out, _ = run(services, "connections", "disconnect", purged, "--purge")
    assert code == 0 and "purged" in out
    assert services.mirror.count(purged, "invoices") == 0
    assert services.mirror.count(kept, "invoices") == 3  # another connection's mirror stays
