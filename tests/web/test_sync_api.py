"""Integration tests of the mirror's HTTP surfaces (issue 10): ``POST|GET
/api/connections/{id}/sync``, the workflow-webhook URL and ``POST /zoho/webhooks/{token}``,
``DELETE /api/connections/{id}?purge=true``; a real Vault on SQLite and the sandbox playing Zoho
in process. FastAPI's background tasks finish before TestClient hands back the answer, so a
started sync is done when a test reads its status."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from sqlalchemy import event
from starlette.testclient import TestClient

from support import Clock
from web._harness import API_KEY, Harness, build_harness
from zoho_invoice.api import UnlimitedBudget, ZohoInvoice
from zoho_invoice.mirror import Mirror
from zoho_invoice.web._errors import install_error_handlers
from zoho_invoice.web._sync_api import SyncRunner, WakeUpTimer, loop_timer, sync_routers
from zoho_invoice_sandbox.invoice import seed_organization


@pytest.fixture
def full_access_harness(tmp_path: Path, clock: Clock) -> Iterator[Harness]:
    """Every resource readable (a grant of everything), on the test's clock."""
    yield from build_harness(tmp_path, clock=clock, scopes=["ZohoInvoice.fullaccess.all"])


@dataclass
class ManualTimer:
    delay: float
    callback: Callable[[], None]
    cancelled: bool = False

    def cancel(self) -> None:
        self.cancelled = True


class ManualTimers:
    """The runner's wake-up seam: timers the test fires itself (on the app's event loop,
    through the TestClient's portal), so the runner's real path runs without waiting."""

    def __init__(self) -> None:
        self.made: list[ManualTimer] = []

    def __call__(self, delay: float, callback: Callable[[], None]) -> ManualTimer:
        timer = ManualTimer(delay, callback)
        self.made.append(timer)
        return timer

    def live(self) -> list[ManualTimer]:
        return [t for t in self.made if not t.cancelled]

    def fire(self) -> None:
        """Fire every live timer (call it on the loop: ``web.portal.call(timers.fire)``)."""
        due, self.made = self.live(), []
        for timer in due:
            timer.callback()


@contextmanager
def own_app(
    harness: Harness,
    *,
    timer: WakeUpTimer = loop_timer,
    failing: frozenset[str] = frozenset(),
) -> Iterator[TestClient]:
    """The mirror's routers mounted in an app of the test's own (as an app that includes them
    would), on the harness's context, with a mirror whose client spends no sync share: the
    sync's pacing (the organization's shared budget beyond a burst) is the mirror's concern,
    not these routes'. ``failing``: connections whose client cannot be made (a bug, not a Zoho
    error). The runner is ``web.app.state.runner``."""
    ctx = harness.app.state.context

    def client(connection_id: str, organization_id: str) -> ZohoInvoice:
        if connection_id in failing:
            raise RuntimeError(f"no client for {connection_id}")
        return ZohoInvoice.for_connection(
            ctx.manager,
            connection_id,
            organization_id,
            http_client=ctx.api_http_client,
            budget=UnlimitedBudget(),
        )

    app = FastAPI()
    install_error_handlers(app)
    runner = SyncRunner(ctx, mirror=Mirror(ctx.vault, client_factory=client), timer=timer)
    app.state.runner = runner
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


def _settle(web: TestClient, timers: ManualTimers) -> None:
    """Fire the runner's pending wake-up and wait for what it started (syncs included)."""
    runner: SyncRunner = web.app.state.runner  # type: ignore[attr-defined]
    assert web.portal is not None
    web.portal.call(timers.fire)
    web.portal.call(runner.idle)


def test_a_workflow_call_starts_a_sync_debounced_by_one_timer(
    full_access_harness: Harness, clock: Clock
) -> None:
    """The runner's real path: the call sets one wake-up, the wake-up takes the request and
    runs the sync; a burst leaves one timer (not one a call) and writes nothing."""
    harness = full_access_harness
    connection_id = _bound(harness, invoices=2)
    path = _webhook_path(harness, connection_id)
    assert harness.api("GET", f"/api/connections/{connection_id}/sync").json()["webhook_url_set"]

    def lists() -> int:
        return len(harness.world.journal.entries("invoice.GET /invoices"))

    auth = {"Authorization": f"Bearer {API_KEY}"}
    timers = ManualTimers()
    with own_app(harness, timer=timers) as web:
        # Zoho's body is never data: an invoice in it is not stored, whatever it says.
        fake = {"invoice": {"invoice_id": "1", "invoice_number": "FAKE"}}
        answer = web.post(path, json=fake)
        assert answer.status_code == 202 and answer.json() == {"status": "accepted"}
        assert answer.headers["cache-control"] == "no-store"
        assert [t.delay for t in timers.live()] == [0.0]  # due now: after the answer
        assert _synced(harness) == []
        _settle(web, timers)
        assert len(_synced(harness)) == 1
        first = lists()

        # A burst within the debounce: accepted, no sync now, one wake-up a minute after the
        # start, and no write transaction but the first call's (SQLite: BEGIN IMMEDIATE, the
        # database's one write lock; PostgreSQL: a row lock), a read each.
        writes: list[str] = []

        def seen(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
            text = statement.strip().upper()
            if (
                text == "BEGIN IMMEDIATE"
                or "FOR UPDATE" in text
                or not text.startswith(
                    ("SELECT", "BEGIN", "COMMIT", "ROLLBACK", "SAVEPOINT", "RELEASE")
                )
            ):
                writes.append(text.split()[0] + (" FOR UPDATE" if "FOR UPDATE" in text else ""))

        engine = harness.vault.engine
        event.listen(engine, "before_cursor_execute", seen)
        try:
            for n in range(200):
                body = b"x" * 200_000 if n < 3 else b""
                assert web.post(path, content=body).status_code == 202
        finally:
            event.remove(engine, "before_cursor_execute", seen)
        assert writes == ["BEGIN", "UPDATE"]  # the burst's first call sets the request
        assert len(timers.made) == 1 and timers.live()[0].delay == 60
        assert len(_synced(harness)) == 1 and lists() == first
        runner: SyncRunner = web.app.state.runner  # type: ignore[attr-defined]
        assert runner.next_wake_up == harness.vault.sync_triggers.next_due()

        clock.advance(60)
        _settle(web, timers)
        assert len(_synced(harness)) == 2 and lists() > first
        assert timers.made == [] and harness.vault.sync_triggers.next_due() is None
        status = web.get(f"/api/connections/{connection_id}/sync", headers=auth).json()
        assert {r["resource"]: r["rows"] for r in status["resources"]}["invoices"] == 2


def test_an_earlier_request_replaces_a_later_wake_up(full_access_harness: Harness) -> None:
    """Two connections: the wake-up is at the earliest due request, one timer in all."""
    harness = full_access_harness
    late, soon = _bound(harness, "a", invoices=1), _bound(harness, "b", invoices=1)
    late_path, soon_path = _webhook_path(harness, late), _webhook_path(harness, soon)
    timers = ManualTimers()
    with own_app(harness, timer=timers) as web:
        assert web.post(late_path).status_code == 202
        _settle(web, timers)  # late's sync ran: its next is a debounce away
        assert web.post(late_path).status_code == 202
        assert [t.delay for t in timers.live()] == [60.0]
        assert web.post(soon_path).status_code == 202  # due now
        assert [t.delay for t in timers.live()] == [0.0]
        assert len(timers.made) == 2 and timers.made[0].cancelled
        _settle(web, timers)
        assert [e.connection_id for e in _synced(harness)] == [late, soon]
        assert [t.delay for t in timers.live()] == [60.0]  # late's request still stands


@pytest.mark.parametrize("running", ["here", "elsewhere"])
def test_a_call_that_meets_a_running_sync_is_kept_for_the_next(
    full_access_harness: Harness, clock: Clock, running: str
) -> None:
    """Rule 1: an edit in Zoho while a sync runs is read by the next sync, which the call
    asked for: its request goes back, due a debounce after the failed start."""
    harness = full_access_harness
    connection_id = _bound(harness, invoices=2)
    path = _webhook_path(harness, connection_id)
    triggers = harness.vault.sync_triggers
    timers = ManualTimers()
    with own_app(harness, timer=timers) as web:
        runner: SyncRunner = web.app.state.runner  # type: ignore[attr-defined]
        lease = None
        if running == "here":
            assert runner.claim(connection_id)
        else:
            lease = harness.vault.mirror.acquire_lease(connection_id, seconds=600)
            assert lease is not None
        assert web.post(path).status_code == 202
        _settle(web, timers)
        assert _synced(harness) == []
        assert triggers.next_due() == triggers.now() + triggers.debounce
        assert [t.delay for t in timers.live()] == [60.0]

        if lease is not None:
            harness.vault.mirror.release_lease(lease)
        else:
            runner.release(connection_id)
        clock.advance(60)
        _settle(web, timers)
        assert [e.connection_id for e in _synced(harness)] == [connection_id]
        assert triggers.next_due() is None and timers.live() == []


def test_one_connection_failing_does_not_stop_the_others(
    full_access_harness: Harness, caplog: pytest.LogCaptureFixture
) -> None:
    harness = full_access_harness
    broken, fine = _bound(harness, "a", invoices=1), _bound(harness, "b", invoices=1)
    paths = [_webhook_path(harness, broken), _webhook_path(harness, fine)]
    timers = ManualTimers()
    caplog.set_level(logging.WARNING, logger="zoho_invoice.web")
    with own_app(harness, timer=timers, failing=frozenset({broken})) as web:
        for path in paths:
            assert web.post(path).status_code == 202
        _settle(web, timers)
        runner: SyncRunner = web.app.state.runner  # type: ignore[attr-defined]
        assert not runner.is_running(broken)
    assert [e.connection_id for e in _synced(harness)] == [fine]
    [failed] = [r.getMessage() for r in caplog.records if broken in r.getMessage()]
    assert "RuntimeError" in failed


def test_the_debounce_is_a_setting(tmp_path: Path, clock: Clock) -> None:
    for harness in build_harness(
        tmp_path, clock=clock, scopes=["ZohoInvoice.fullaccess.all"], sync_webhook_debounce=300
    ):
        connection_id = _bound(harness, invoices=1)
        path = _webhook_path(harness, connection_id)
        timers = ManualTimers()
        with own_app(harness, timer=timers) as web:
            assert web.post(path).status_code == 202
            _settle(web, timers)
            assert web.post(path).status_code == 202
            assert [t.delay for t in timers.live()] == [300.0]


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
