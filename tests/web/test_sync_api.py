"""Integration tests of the mirror's HTTP surfaces (issue 10): ``POST|GET
/api/connections/{id}/sync``, the workflow-webhook URL and ``POST /zoho/webhooks/{token}``,
``DELETE /api/connections/{id}?purge=true``; a real Vault on SQLite and the sandbox playing Zoho
in process. FastAPI's background tasks finish before TestClient hands back the answer, so a
started sync is done when a test reads its status."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from starlette.testclient import TestClient

from support import Clock
from web._harness import API_KEY, Harness, build_harness
from zoho_invoice.api import UnlimitedBudget, ZohoInvoice
from zoho_invoice.mirror import Mirror
from zoho_invoice.web._errors import install_error_handlers
from zoho_invoice.web._sync_api import SyncRunner, sync_routers
from zoho_invoice_sandbox.invoice import seed_organization


@pytest.fixture
def full_access_harness(tmp_path: Path, clock: Clock) -> Iterator[Harness]:
    """Every resource readable (a grant of everything), on the test's clock."""
    yield from build_harness(tmp_path, clock=clock, scopes=["ZohoInvoice.fullaccess.all"])


@contextmanager
def own_app(harness: Harness) -> Iterator[TestClient]:
    """The mirror's routers mounted in an app of the test's own (as an app that includes them
    would), on the harness's context, with a mirror whose client spends no sync share: the
    sync's pacing (the organization's shared budget beyond a burst) is the mirror's concern,
    not these routes'."""
    ctx = harness.app.state.context

    def client(connection_id: str, organization_id: str) -> ZohoInvoice:
        return ZohoInvoice.for_connection(
            ctx.manager,
            connection_id,
            organization_id,
            http_client=ctx.api_http_client,
            budget=UnlimitedBudget(),
        )

    app = FastAPI()
    install_error_handlers(app)
    runner = SyncRunner(ctx, mirror=Mirror(ctx.vault, client_factory=client))
    for router in sync_routers(ctx, runner):
        app.include_router(router)
    with TestClient(app, base_url=str(harness.web.base_url)) as web:
        yield web


def _bound(harness: Harness, owner: str = "tenant-1", invoices: int = 4) -> str:
    """alice connected and bound to her first organization, which holds ``invoices``."""
    assert harness.connect(owner=owner, email="alice@acme.example").status_code == 200
    connection = harness.vault.list_connections(owner=owner)[0]
    org = harness.user("alice@acme.example").organization_ids[0]
    harness.vault.set_organization(connection.id, org)
    seed_organization(harness.world, org, contacts=2, items=1, invoices=invoices)
    return str(connection.id)


def _sync(harness: Harness, connection_id: str, **body: Any) -> Any:
    return harness.api("POST", f"/api/connections/{connection_id}/sync", json=body or None)


def _synced(harness: Harness) -> list[Any]:
    return [e for e in harness.events if e.type == "sync.completed"]


def test_post_runs_a_sync_in_the_background_and_get_shows_it(harness: Harness) -> None:
    connection_id = _bound(harness, invoices=4)
    started = _sync(harness, connection_id, resources=["invoices", "contacts"])
    assert started.status_code == 202, started.text
    assert started.json() == {"connection_id": connection_id, "status": "started"}
    assert started.headers["cache-control"] == "no-store"

    status = harness.api("GET", f"/api/connections/{connection_id}/sync")
    assert status.status_code == 200
    body = status.json()
    assert body["running"] is False and body["webhook_url_set"] is False
    rows = {r["resource"]: r for r in body["resources"]}
    assert rows["invoices"]["rows"] == 4 and rows["invoices"]["added"] == 4
    assert rows["invoices"]["last_run_at"] and rows["invoices"]["error"] is None
    assert rows["items"]["last_run_at"] is None  # not asked for
    [event] = _synced(harness)
    assert event.connection_id == connection_id and event.reason == "completed"
    assert event.counts == {"added": 6, "updated": 0, "deleted": 0}  # 4 invoices, 2 contacts


def test_a_second_sync_while_one_holds_the_lease_is_answered_already_running(
    harness: Harness,
) -> None:
    connection_id = _bound(harness)
    lease = harness.vault.mirror.acquire_lease(connection_id, seconds=600)  # another process
    assert lease is not None
    refused = _sync(harness, connection_id)
    assert refused.status_code == 409
    assert refused.json()["error"] == "sync_already_running"
    assert harness.api("GET", f"/api/connections/{connection_id}/sync").json()["running"]
    harness.vault.mirror.release_lease(lease)
    assert not harness.api("GET", f"/api/connections/{connection_id}/sync").json()["running"]


def test_one_sync_per_connection_in_this_process(harness: Harness) -> None:
    connection_id = _bound(harness)
    runner = SyncRunner(harness.app.state.context)
    assert runner.claim(connection_id)
    assert not runner.claim(connection_id)
    runner.release(connection_id)
    assert runner.claim(connection_id)


def test_refusals(harness: Harness) -> None:
    assert harness.connect(owner="t2", email="alice@acme.example").status_code == 200
    unbound = str(harness.vault.list_connections(owner="t2")[0].id)
    answer = _sync(harness, unbound)
    assert answer.status_code == 409 and answer.json()["error"] == "no_organization"
    assert _sync(harness, "nope").status_code == 404
    assert harness.api("GET", "/api/connections/nope/sync").status_code == 404
    for method, path in (
        ("POST", f"/api/connections/{unbound}/sync"),
        ("GET", f"/api/connections/{unbound}/sync"),
        ("POST", f"/api/connections/{unbound}/sync/webhook-url"),
    ):
        answer = harness.web.request(method, path)
        assert answer.status_code == 401, path
        assert answer.headers["cache-control"] == "no-store"
    bad = _sync(harness, unbound, resources=["bills"])
    assert bad.status_code == 422


@pytest.fixture
def narrow_harness(tmp_path: Path) -> Iterator[Harness]:
    """Connections granted settings, contacts and invoices only (an app's own choice, or one
    made before ``DEFAULT_SCOPES`` grew)."""
    yield from build_harness(tmp_path, scopes=NARROW)


NARROW = ["ZohoInvoice.settings.ALL", "ZohoInvoice.contacts.ALL", "ZohoInvoice.invoices.ALL"]


def test_a_sync_on_a_narrower_grant_syncs_what_it_can_and_names_the_missing_scopes(
    narrow_harness: Harness,
) -> None:
    """A sync of every resource still mirrors what the grant reads; ``GET .../sync`` and
    ``sync.completed`` name each other resource's scope."""
    harness = narrow_harness
    connection_id = _bound(harness, invoices=3)
    auth = {"Authorization": f"Bearer {API_KEY}"}
    with own_app(harness) as web:
        started = web.post(f"/api/connections/{connection_id}/sync", headers=auth)
        assert started.status_code == 202, started.text

    body = harness.api("GET", f"/api/connections/{connection_id}/sync").json()
    rows = {r["resource"]: r for r in body["resources"]}
    assert rows["invoices"]["rows"] == 3 and rows["invoices"]["error"] is None
    assert rows["contacts"]["rows"] == 2 and rows["contacts"]["missing_scope"] is None
    assert rows["items"]["rows"] == 1 and rows["recurring_invoices"]["error"] is None
    assert {r: rows[r]["missing_scope"] for r in rows if rows[r]["missing_scope"]} == {
        "estimates": "ZohoInvoice.estimates.READ",
        "customer_payments": "ZohoInvoice.customerpayments.READ",
        "credit_notes": "ZohoInvoice.creditnotes.READ",
    }
    assert rows["estimates"]["error"].startswith("missing scope ZohoInvoice.estimates.READ: ")
    assert body["last_success_at"] is not None  # what the grant can read is current
    [event] = _synced(harness)
    assert event.reason == "completed" and event.errors is not None
    assert set(event.errors) == {r for r in rows if rows[r]["missing_scope"]}


def test_disconnect_keeps_the_mirror_unless_purge(harness: Harness) -> None:
    kept, purged = _bound(harness, "a", invoices=3), _bound(harness, "b", invoices=0)
    auth = {"Authorization": f"Bearer {API_KEY}"}
    with own_app(harness) as web:
        for connection_id in (kept, purged):
            path = f"/api/connections/{connection_id}/sync"
            assert web.post(path, json={"resources": ["invoices"]}, headers=auth).status_code == 202

    def rows(connection_id: str) -> int:
        status = harness.api("GET", f"/api/connections/{connection_id}/sync").json()
        return int({r["resource"]: r["rows"] for r in status["resources"]}["invoices"])

    assert rows(kept) == rows(purged) == 3  # one organization, two connections
    assert harness.api("DELETE", f"/api/connections/{kept}").status_code == 204
    assert rows(kept) == 3
    assert harness.api("DELETE", f"/api/connections/{purged}?purge=true").status_code == 204
    assert rows(purged) == 0 and rows(kept) == 3


def _webhook_path(harness: Harness, connection_id: str) -> str:
    made = harness.api("POST", f"/api/connections/{connection_id}/sync/webhook-url")
    assert made.status_code == 201, made.text
    url = str(made.json()["url"])
    assert url.startswith(f"{harness.web.base_url}/zoho/webhooks/")
    return "/zoho/webhooks/" + url.rsplit("/", 1)[1]


def test_a_workflow_call_starts_a_sync_debounced_to_one_a_minute(
    full_access_harness: Harness, clock: Clock
) -> None:
    harness = full_access_harness
    connection_id = _bound(harness, invoices=2)
    path = _webhook_path(harness, connection_id)
    assert harness.api("GET", f"/api/connections/{connection_id}/sync").json()["webhook_url_set"]

    def lists() -> int:
        return len(harness.world.journal.entries("invoice.GET /invoices"))

    auth = {"Authorization": f"Bearer {API_KEY}"}

    with own_app(harness) as web:
        # Zoho's body is never data: an invoice in it is not stored, whatever it says.
        fake = {"invoice": {"invoice_id": "1", "invoice_number": "FAKE"}}
        answer = web.post(path, json=fake)
        assert answer.status_code == 202 and answer.json() == {"status": "accepted"}
        assert answer.headers["cache-control"] == "no-store"
        assert len(_synced(harness)) == 1
        first = lists()

        # A burst within the minute: accepted, no sync now, one due a minute after the start.
        for _ in range(3):
            assert web.post(path, content=b"x" * 200_000).status_code == 202
        assert len(_synced(harness)) == 1 and lists() == first
        triggers = harness.vault.sync_triggers
        due = triggers.next_due()
        assert due is not None and (due - triggers.now()).total_seconds() == 60

        clock.advance(61)
        assert web.post(path).status_code == 202
        assert len(_synced(harness)) == 2 and lists() > first
        status = web.get(f"/api/connections/{connection_id}/sync", headers=auth).json()
        assert {r["resource"]: r["rows"] for r in status["resources"]}["invoices"] == 2


def test_unknown_tokens_get_the_same_404_and_need_no_api_key(harness: Harness) -> None:
    connection_id = _bound(harness)
    path = _webhook_path(harness, connection_id)
    answers = [
        harness.web.post(p)
        for p in (
            "/zoho/webhooks/" + "A" * 43,
            "/zoho/webhooks/x",
            "/zoho/webhooks/" + "A" * 5000,
            path + "x",
        )
    ]
    assert {a.status_code for a in answers} == {404}
    assert len({a.text for a in answers}) == 1
    revoked = harness.api("DELETE", f"/api/connections/{connection_id}/sync/webhook-url")
    assert revoked.status_code == 204
    assert harness.web.post(path).status_code == 404
