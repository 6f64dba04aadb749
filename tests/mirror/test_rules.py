"""Tests of the mirror's rules one by one (issue 10), against the sandbox in process on SQLite
and PostgreSQL unless the rule is a pure function: the inclusive filter in the organization's
time zone, a record edited or deleted while a run pages, checkpoints and resumes, the quota
share (stop, backlog, resume), the lease (a second sync answered "already running", fencing),
one organization's mirror beside another's, purge, the change feed, the schema's SQL."""

from __future__ import annotations

import asyncio
import re
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text

from mirror._support import API_DOMAIN, Crash, Sandbox, assert_mirror_equals_sandbox, mirrored
from support import Clock
from zoho_invoice import StaleWriteError
from zoho_invoice._http import httpx
from zoho_invoice.api import UnlimitedBudget, ZohoInvoice
from zoho_invoice.mirror import AsyncMirror, Mirror, MirrorError, MirrorSettings, SyncShareBudget
from zoho_invoice.mirror._engine import filter_value
from zoho_invoice.vault import Vault
from zoho_invoice_sandbox.invoice import InvoiceLimits, seed_organization

LINES = [{"name": "Work", "rate": 100, "quantity": 1}]


def make_mirror(vault: Vault, sandbox: Sandbox, clock: Clock, **settings: Any) -> Mirror:
    return Mirror(
        vault, client_factory=sandbox.client, settings=MirrorSettings(**settings), clock=clock
    )


def new_invoices(sandbox: Sandbox, count: int) -> list[str]:
    customer = sandbox.ok("POST", "/contacts", json={"contact_name": "Customer"})["contact"]
    return [
        sandbox.ok(
            "POST", "/invoices", json={"customer_id": customer["contact_id"], "line_items": LINES}
        )["invoice"]["invoice_id"]
        for _ in range(count)
    ]


# -- rule 1: the window ------------------------------------------------------------------


def test_the_filter_keeps_the_cursors_second_written_in_the_organizations_time_zone() -> None:
    cursor = datetime(2026, 9, 21, 13, 33, 20, 700_000, tzinfo=UTC)
    assert filter_value(cursor, "-0700") == "2026-09-21T06:33:19-0700"
    assert filter_value(cursor, "+0530") == "2026-09-21T19:03:19+0530"
    assert filter_value(cursor, None) == "2026-09-21T13:33:19+0000"


def test_the_cursor_starts_the_next_window_before_the_last_run_began(
    vault: Vault, sandbox: Sandbox, clock: Clock, connection_id: str
) -> None:
    new_invoices(sandbox, 2)
    clock.advance(10)
    mirror = make_mirror(vault, sandbox, clock, overlap=30)
    started = datetime.fromtimestamp(clock.now, UTC)

    report = mirror.sync(connection_id, resources=["invoices"])

    assert report.resources[0].cursor == started - timedelta(seconds=30)
    sent = sandbox.world.journal.entries("invoice.GET /invoices")
    assert all(dict(q.query).get("last_modified_time") is None for q in sent)  # the first: all
    clock.advance(100)
    mirror.sync(connection_id, resources=["invoices"])
    last = sandbox.world.journal.entries("invoice.GET /invoices")[-1]
    expected = filter_value(started - timedelta(seconds=30), "+0000")
    assert dict(last.query)["last_modified_time"] == expected
    assert dict(last.query)["sort_column"] == "created_time"


class EditWhilePaging:
    """Does something in Zoho right after the mirror's ``n``-th list request is answered:
    between two pages of one run."""

    def __init__(self, sandbox: Sandbox, n: int, action: Callable[[], None]) -> None:
        self.sandbox, self.n, self.action, self.lists = sandbox, n, action, 0

    def client(self, connection_id: str, organization_id: str) -> ZohoInvoice:
        inner = self.sandbox.handle  # the sandbox's in-process answer, wrapped

        def handle(request: httpx.Request) -> httpx.Response:
            response = inner(request)
            if request.url.path.endswith("/invoices") and request.method == "GET":
                self.lists += 1
                if self.lists == self.n:
                    self.action()
            return response

        return ZohoInvoice(
            access_token=self.sandbox.token,
            organization_id=organization_id,
            api_domain=API_DOMAIN,
            http_client=httpx.Client(transport=httpx.MockTransport(handle)),
            budget=UnlimitedBudget(),
            max_retries=0,
            clock=self.sandbox.clock,
        )


def test_a_record_edited_while_a_run_pages_is_caught_by_this_run_or_the_next(
    vault: Vault, sandbox: Sandbox, clock: Clock, connection_id: str
) -> None:
    ids = new_invoices(sandbox, 7)
    clock.advance(5)

    def edit_the_first() -> None:
        clock.advance(1)
        sandbox.ok("PUT", f"/invoices/{ids[0]}", json={"reference_number": "edited mid-run"})

    hook = EditWhilePaging(sandbox, 1, edit_the_first)
    mirror = Mirror(
        vault,
        client_factory=hook.client,
        settings=MirrorSettings(per_page=3, overlap=1, reconcile_every=None),
        clock=clock,
    )
    mirror.sync(connection_id, resources=["invoices"])
    clock.advance(5)
    mirror.sync(connection_id, resources=["invoices"])

    assert_mirror_equals_sandbox(vault.engine, connection_id, sandbox, ("invoices",))


@pytest.mark.parametrize(
    ("after_list", "delete"),
    [
        (1, [0]),  # the first of page 2 would slide onto page 1, already read
        (1, [0, 1, 2, 3]),  # page 1 gone whole, and the first of page 2
        (2, [1, 4]),  # one before each boundary read so far
        (3, [0, 1, 2, 3, 4, 5, 6]),  # everything read so far
    ],
)
def test_deletes_between_the_pages_of_one_run_skip_nothing_without_a_reconciliation(
    vault: Vault,
    sandbox: Sandbox,
    clock: Clock,
    connection_id: str,
    after_list: int,
    delete: list[int],
) -> None:
    """Rule 1: a page boundary cannot skip a record. Records deleted between two list reads of
    one multi-page run shift the rest toward the front; the anchored reads still list every
    survivor, so after the next incremental sync (no reconciliation) each is mirrored at detail
    level, and the only rows Zoho no longer has are the deleted ones."""
    ids = new_invoices(sandbox, 11)
    clock.advance(5)

    def delete_some() -> None:
        for index in delete:
            sandbox.ok("DELETE", f"/invoices/{ids[index]}")

    hook = EditWhilePaging(sandbox, after_list, delete_some)
    mirror = Mirror(
        vault,
        client_factory=hook.client,
        settings=MirrorSettings(per_page=3, overlap=1, reconcile_every=None),
        clock=clock,
    )
    mirror.sync(connection_id, resources=["invoices"])
    clock.advance(5)
    report = mirror.sync(connection_id, resources=["invoices"])

    (invoices,) = report.resources
    assert not invoices.reconciled and invoices.reconcile_calls == 0
    expected = sandbox.records("invoices")
    live, levels, _ = mirrored(vault.engine, connection_id, sandbox.org, "invoices")
    assert set(expected) <= set(live)  # nothing skipped
    assert set(live) - set(expected) == {ids[i] for i in delete if ids[i] in live}
    for record_id, record in expected.items():
        assert levels[record_id] == "detail" and live[record_id] == record


def test_aligned_pages_do_skip_a_record_a_delete_pushed_across_a_boundary(
    vault: Vault, sandbox: Sandbox, clock: Clock, connection_id: str
) -> None:
    """What ``anchor_pages`` buys (and what the test above would catch without it): with
    aligned pages the first record of page 2 slides onto page 1 and waits for a
    reconciliation, even after the next incremental sync."""
    ids = new_invoices(sandbox, 7)
    clock.advance(5)

    def delete_the_first() -> None:
        sandbox.ok("DELETE", f"/invoices/{ids[0]}")

    hook = EditWhilePaging(sandbox, 1, delete_the_first)
    mirror = Mirror(
        vault,
        client_factory=hook.client,
        settings=MirrorSettings(per_page=3, overlap=1, reconcile_every=None, anchor_pages=False),
        clock=clock,
    )
    mirror.sync(connection_id, resources=["invoices"])
    clock.advance(5)
    mirror.sync(connection_id, resources=["invoices"])

    live, _, _ = mirrored(vault.engine, connection_id, sandbox.org, "invoices")
    assert ids[3] not in live
    mirror.sync(connection_id, resources=["invoices"], reconcile=True)
    assert_mirror_equals_sandbox(vault.engine, connection_id, sandbox, ("invoices",))


def test_anchored_pages_cost_list_calls_only_beyond_one_page(
    vault: Vault, sandbox: Sandbox, clock: Clock, connection_id: str
) -> None:
    new_invoices(sandbox, 9)
    clock.advance(5)
    mirror = make_mirror(vault, sandbox, clock, per_page=3, overlap=1)
    (first,) = mirror.sync(connection_id, resources=["invoices"]).resources
    # 9 rows in reads of 3 or less overlapping by one or more: [0,3) [2,4) [3,6), then 4 rows
    # from row 4 (6 is a multiple of 1, 2 and 3): [4,8) [6,9); aligned pages take 3.
    assert first.list_calls == 5
    clock.advance(600)
    (steady,) = mirror.sync(connection_id, resources=["invoices"]).resources
    assert steady.list_calls == 1  # one page: nothing to anchor, nothing extra


def test_a_listing_resumed_after_a_crash_and_a_delete_is_reconciled_in_the_same_run(
    vault: Vault, sandbox: Sandbox, clock: Clock, connection_id: str
) -> None:
    ids = new_invoices(sandbox, 9)
    clock.advance(5)
    mirror = make_mirror(vault, sandbox, clock, per_page=3, overlap=1, reconcile_every=None)
    # Page 1 (3 rows) and its checkpoint land; the crash hits the request for page 2.
    sandbox.crash_at(2)
    with pytest.raises(Crash):
        mirror.sync(connection_id, resources=["invoices"])
    assert mirror.status(connection_id).resources[0].resume_page == 2
    # Deleting a record of page 1 shifts the rest left: the first of page 2 moves onto page 1.
    sandbox.ok("DELETE", f"/invoices/{ids[0]}")
    clock.advance(5)

    report = mirror.sync(connection_id, resources=["invoices"])

    assert report.resources[0].reconciled
    assert_mirror_equals_sandbox(vault.engine, connection_id, sandbox, ("invoices",))
    _live, _levels, deleted = mirrored(vault.engine, connection_id, sandbox.org, "invoices")
    assert deleted == {ids[0]}


def test_a_crash_at_any_call_then_a_sync_converges(
    vault: Vault, sandbox: Sandbox, clock: Clock, connection_id: str
) -> None:
    seed_organization(sandbox.world, sandbox.org, contacts=3, items=2, invoices=7, estimates=1)
    clock.advance(5)
    mirror = make_mirror(vault, sandbox, clock, per_page=4, overlap=1)
    for n in range(1, 60, 7):
        sandbox.crash_at(n, after=n % 2 == 0)
        try:
            mirror.sync(connection_id)
        except Crash:
            pass
        sandbox.disarm()
    mirror.sync(connection_id)
    assert_mirror_equals_sandbox(vault.engine, connection_id, sandbox)


# -- rule 2 and 4: details within the quota share ----------------------------------------------


def test_the_backlog_stops_at_the_quota_share_and_drains_after_the_reset(
    vault: Vault, clock: Clock
) -> None:
    from mirror._support import connect, sandbox_on

    with sandbox_on(clock, InvoiceLimits(daily=40, per_minute=10_000, concurrent=100)) as sandbox:
        connection_id = connect(vault, sandbox)
        new_invoices(sandbox, 30)
        sandbox.http.delete("/_sandbox/usage")
        clock.advance(5)
        mirror = make_mirror(vault, sandbox, clock)

        first = mirror.sync(connection_id, resources=["invoices"])

        (invoices,) = first.resources
        assert first.outcome == "quota_exhausted"
        assert first.resumes_at is not None
        # Half of 40 for the sync: it stopped with 20 left for the organization's other calls.
        assert invoices.list_calls + invoices.detail_calls == 20
        assert invoices.backlog == 30 - invoices.detail_calls
        _live, levels, _deleted = mirrored(vault.engine, connection_id, sandbox.org, "invoices")
        assert sorted(levels.values()).count("list") == invoices.backlog
        status = mirror.status(connection_id).resources[0]
        assert status.backlog == invoices.backlog and status.resume_page == 0

        sandbox.http.delete("/_sandbox/usage")  # Zoho's day is renewed
        second = mirror.sync(connection_id, resources=["invoices"])

        assert second.outcome == "completed"
        assert second.resources[0].detail_calls == invoices.backlog
        sandbox.http.delete("/_sandbox/usage")  # the test's own reads below
        assert_mirror_equals_sandbox(vault.engine, connection_id, sandbox, ("invoices",))


class CountingBudget:
    """The organization's shared budget, counting permits (never waits)."""

    window = 60.0

    def __init__(self) -> None:
        self.taken = 0

    def reserve(self, key: str) -> float:
        self.taken += 1
        return 0.0

    def pause(self, key: str, seconds: float) -> bool:
        return False


def test_the_sync_takes_at_most_its_share_of_a_minute() -> None:
    clock = Clock(1_000.0)
    shared = CountingBudget()
    budget = SyncShareBudget(shared, share=0.5, rate=90, window=60.0, clock=lambda: clock.now)
    sent: list[float] = []
    for _ in range(100):
        wait = budget.reserve("org")
        clock.advance(wait)
        sent.append(clock.now)
    # No 60 s span holds more than 45 of the sync's calls (its share of 90 a minute) ...
    for i, at in enumerate(sent):
        assert sum(1 for other in sent[i:] if other < at + 60.0) <= 45
    # ... and the share does not slow the sync below it: 45 a minute, each minute.
    assert sent[44] == sent[0] and sent[45] == sent[0] + 60.0
    assert sent[-1] - sent[0] == pytest.approx(120.0)
    assert shared.taken == 100  # every permit is also the organization's


def test_a_small_sync_is_not_paced_by_its_share() -> None:
    """A few dozen calls (a small organization's whole sync) go at once; only the shared
    budget may pace them. Calls spread out keep their place in the window."""
    clock = Clock(1_000.0)
    budget = SyncShareBudget(CountingBudget(), share=0.5, rate=90, clock=lambda: clock.now)
    assert [budget.reserve("org") for _ in range(40)] == [0.0] * 40
    assert budget.reserve("other-org") == 0.0  # each organization has its own share
    clock.advance(30.0)
    assert [budget.reserve("org") for _ in range(5)] == [0.0] * 5  # 45 in the minute
    assert budget.reserve("org") == pytest.approx(30.0)  # the 46th: when the first 40 leave
    clock.advance(31.0)
    assert budget.reserve("org") == 0.0


def test_the_share_waits_as_long_as_the_shared_budget_when_that_is_longer() -> None:
    class Slow(CountingBudget):
        def reserve(self, key: str) -> float:
            super().reserve(key)
            return 2.5

    clock = Clock(1_000.0)
    budget = SyncShareBudget(Slow(), share=0.5, rate=90, clock=lambda: clock.now)
    assert budget.reserve("org") == 2.5


# -- rule 3: deletes --------------------------------------------------------------------------


def test_a_row_marked_deleted_is_cleared_when_zoho_lists_it_again(
    vault: Vault, sandbox: Sandbox, clock: Clock, connection_id: str
) -> None:
    ids = new_invoices(sandbox, 2)
    clock.advance(5)
    mirror = make_mirror(vault, sandbox, clock)
    mirror.sync(connection_id, resources=["invoices"])
    lease = mirror.store.acquire_lease(connection_id, seconds=60)
    assert lease is not None
    mirror.store.mark_deleted(lease, sandbox.org, "invoices", [ids[1]])
    mirror.store.release_lease(lease)

    report = mirror.sync(connection_id, resources=["invoices"], reconcile=True)

    assert report.resources[0].added == 1
    _live, _levels, deleted = mirrored(vault.engine, connection_id, sandbox.org, "invoices")
    assert deleted == set()
    kinds = [(c.id, c.kind) for c in mirror.changes(connection_id)][-2:]
    assert kinds == [(ids[1], "deleted"), (ids[1], "added")]


def test_reconciliation_runs_by_schedule(
    vault: Vault, sandbox: Sandbox, clock: Clock, connection_id: str
) -> None:
    ids = new_invoices(sandbox, 2)
    clock.advance(5)
    mirror = make_mirror(vault, sandbox, clock, reconcile_every=600)
    mirror.sync(connection_id, resources=["invoices"])
    sandbox.ok("DELETE", f"/invoices/{ids[0]}")
    clock.advance(300)
    assert not mirror.sync(connection_id, resources=["invoices"]).resources[0].reconciled
    clock.advance(300)

    report = mirror.sync(connection_id, resources=["invoices"])

    assert report.resources[0].reconciled and report.deleted == 1


# -- rule 5: once across the fleet ------------------------------------------------------------


def test_a_second_sync_while_one_runs_is_answered_already_running(
    vault: Vault, sandbox: Sandbox, clock: Clock, connection_id: str
) -> None:
    new_invoices(sandbox, 2)
    inside, release = threading.Event(), threading.Event()

    def hold() -> None:
        inside.set()
        assert release.wait(10)

    hook = EditWhilePaging(sandbox, 1, hold)
    first = Mirror(vault, client_factory=hook.client, clock=clock)
    second = make_mirror(vault, sandbox, clock)
    results: list[str] = []
    runner = threading.Thread(
        target=lambda: results.append(first.sync(connection_id, resources=["invoices"]).outcome)
    )
    runner.start()
    assert inside.wait(10)

    assert second.sync(connection_id).outcome == "already_running"
    assert second.status(connection_id).running

    release.set()
    runner.join(10)
    assert results == ["completed"]
    assert not second.status(connection_id).running
    assert second.sync(connection_id, resources=["invoices"]).outcome == "completed"


def test_a_holder_whose_lease_was_taken_over_writes_nothing(
    vault: Vault, clock: Clock, connection_id: str
) -> None:
    store = vault.mirror
    old = store.acquire_lease(connection_id, seconds=30)
    assert old is not None
    assert store.acquire_lease(connection_id, seconds=30) is None
    clock.advance(31)  # the holder hung: its lease ran out
    new = store.acquire_lease(connection_id, seconds=30)
    assert new is not None and new.fence == old.fence + 1

    with pytest.raises(StaleWriteError):
        store.write_list_page(old, "org", "invoices", [{"invoice_id": "1"}], next_page=2)
    store.write_list_page(new, "org", "invoices", [{"invoice_id": "1"}], next_page=2)
    assert store.count(connection_id, "org", "invoices") == 1


# -- rule 6: one Zoho user, one organization at a time; purge ------------------------------------


def test_binding_another_organization_starts_its_own_mirror_and_purge_removes_all(
    vault: Vault, sandbox: Sandbox, clock: Clock, connection_id: str
) -> None:
    new_invoices(sandbox, 2)
    clock.advance(5)
    mirror = make_mirror(vault, sandbox, clock)
    mirror.sync(connection_id, resources=["invoices"])
    alice = sandbox.world.directory.user(sandbox.user_id)
    assert alice is not None
    other = alice.organization_ids[1]
    vault.connections.set_organization(connection_id, other)
    sandbox.headers["X-com-zoho-invoice-organizationid"] = other
    sandbox.org = other
    new_invoices(sandbox, 3)
    clock.advance(5)

    mirror.sync(connection_id, resources=["invoices"])

    assert mirror.count(connection_id, "invoices") == 3
    first = next(o for o in alice.organization_ids if o != other)
    assert mirror.count(connection_id, "invoices", organization_id=first) == 2
    assert sorted(mirror.organizations(connection_id)) == sorted([first, other])
    assert mirror.purge(connection_id) == 5
    assert mirror.count(connection_id, "invoices") == 0
    assert mirror.changes(connection_id) == []
    assert mirror.organizations(connection_id) == []


def test_a_connection_without_an_organization_cannot_sync(
    vault: Vault, sandbox: Sandbox, clock: Clock, connection_id: str
) -> None:
    vault.connections.set_organization(connection_id, None)
    with pytest.raises(MirrorError, match="no organization"):
        make_mirror(vault, sandbox, clock).sync(connection_id)
    with pytest.raises(MirrorError, match="unknown resource"):
        make_mirror(vault, sandbox, clock).sync(connection_id, resources=["bills"])  # type: ignore[list-item]


# -- the feed, the async face, the schema ----------------------------------------------------


def test_the_change_feed_resumes_from_a_sequence(
    vault: Vault, sandbox: Sandbox, clock: Clock, connection_id: str
) -> None:
    ids = new_invoices(sandbox, 3)
    clock.advance(5)
    mirror = make_mirror(vault, sandbox, clock)
    mirror.sync(connection_id, resources=["invoices"])
    feed = mirror.changes(connection_id)
    assert [c.seq for c in feed] == sorted(c.seq for c in feed)
    assert len({c.seq for c in feed}) == len(feed)
    middle = feed[1].seq
    sandbox.ok("PUT", f"/invoices/{ids[2]}", json={"reference_number": "x"})
    clock.advance(5)
    mirror.sync(connection_id, resources=["invoices"])

    later = mirror.changes(connection_id, since=middle)

    assert [c.id for c in later[:-1]] == [c.id for c in feed[2:]]
    assert (later[-1].id, later[-1].kind, later[-1].resource) == (ids[2], "updated", "invoices")
    assert later[-1].seq > feed[-1].seq


def test_the_async_mirror_is_the_same_mirror(
    vault: Vault, sandbox: Sandbox, clock: Clock, connection_id: str
) -> None:
    new_invoices(sandbox, 2)
    clock.advance(5)
    mirror = AsyncMirror(make_mirror(vault, sandbox, clock))

    async def run() -> tuple[str, int, int]:
        report = await mirror.sync(connection_id, resources=["invoices"])
        records = await mirror.records(connection_id, "invoices")
        return report.outcome, len(records), len(await mirror.changes(connection_id))

    assert asyncio.run(run()) == ("completed", 2, 2)


#: README.md, whose two example queries run here verbatim (the block after each marker).
README = Path(__file__).resolve().parents[2] / "README.md"


def readme_sql(name: str) -> str:
    """The ```sql block that follows ``<!-- sql: name -->`` in the README."""
    found = re.search(
        rf"<!-- sql: {re.escape(name)} -->\n```sql\n(.*?)```", README.read_text("utf-8"), re.S
    )
    assert found, f"README.md lost its {name} query"
    return found.group(1)


OVERDUE_PER_CUSTOMER = readme_sql("overdue-per-customer")
CHANGED_TODAY = readme_sql("changed-today")


def test_the_readme_queries_run_on_the_typed_columns(
    vault: Vault, sandbox: Sandbox, clock: Clock, connection_id: str
) -> None:
    clock.now = time.time()  # CURRENT_DATE is the database's real day
    sandbox.remint()
    today = datetime.fromtimestamp(clock.now, UTC).date()
    customer = sandbox.ok("POST", "/contacts", json={"contact_name": "Late payer"})["contact"]
    dues = [today - timedelta(days=30), today - timedelta(days=1), today + timedelta(days=30)]
    ids = [
        sandbox.ok(
            "POST",
            "/invoices",
            json={
                "customer_id": customer["contact_id"],
                "date": (today - timedelta(days=40)).isoformat(),
                "due_date": due.isoformat(),
                "line_items": LINES,
            },
        )["invoice"]["invoice_id"]
        for due in dues
    ]
    for invoice_id in ids:
        sandbox.ok("POST", f"/invoices/{invoice_id}/status/sent")
    clock.advance(5)
    make_mirror(vault, sandbox, clock).sync(connection_id, resources=["invoices"])

    with vault.engine.connect() as conn:
        overdue = conn.execute(text(OVERDUE_PER_CUSTOMER), {"connection": connection_id}).all()
        changed = conn.execute(text(CHANGED_TODAY), {"connection": connection_id}).all()

    assert [(r.customer_id, r.customer, Decimal(str(r.overdue)), r.invoices) for r in overdue] == [
        (customer["contact_id"], "Late payer", Decimal("200"), 2)
    ]
    if datetime.fromtimestamp(clock.now, UTC).date() == today:  # not across midnight
        assert sorted(r.id for r in changed) == sorted(ids)


def test_a_list_that_refuses_the_created_time_order_is_read_in_its_own(
    vault: Vault, sandbox: Sandbox, clock: Clock, connection_id: str
) -> None:
    for n in range(5):
        sandbox.ok("POST", "/items", json={"name": f"Item {n}", "rate": 10})
    clock.advance(5)
    sorts: list[str | None] = []

    def handle(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/items") and request.method == "GET":
            sorts.append(request.url.params.get("sort_column"))
            if request.url.params.get("sort_column") == "created_time":
                body = {"code": 2, "message": "Invalid value passed for sort_column"}
                return httpx.Response(400, json=body)
        return sandbox.handle(request)

    def client(connection_id: str, organization_id: str) -> ZohoInvoice:
        return ZohoInvoice(
            access_token=sandbox.token,
            organization_id=organization_id,
            api_domain=API_DOMAIN,
            http_client=httpx.Client(transport=httpx.MockTransport(handle)),
            budget=UnlimitedBudget(),
            max_retries=0,
            clock=clock,
        )

    mirror = Mirror(vault, client_factory=client, settings=MirrorSettings(per_page=2), clock=clock)
    mirror.sync(connection_id, resources=["items"])
    clock.advance(5)
    mirror.sync(connection_id, resources=["items"])

    assert sorts[0] == "created_time"
    assert set(sorts[1:]) == {None}  # remembered: never asked again
    assert_mirror_equals_sandbox(vault.engine, connection_id, sandbox, ("items",))
