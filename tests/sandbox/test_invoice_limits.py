"""Integration tests of the Invoice API simulator's per-organization limits (codes 44, 45,
1070), their headers and their control endpoints, with a clock the tests move."""

from __future__ import annotations

from collections.abc import Iterator

import anyio
import pytest
from starlette.testclient import TestClient

from sandbox_support import alice_headers
from support import Clock
from zoho_invoice._http import httpx
from zoho_invoice_sandbox import Fault, SandboxWorld
from zoho_invoice_sandbox.invoice import (
    AsyncInvoiceSandboxControl,
    InvoiceLimits,
    create_invoice_app,
)

API = "/us/invoice/v3"
MIDNIGHT = 1_789_948_800.0  # 2026-09-21T00:00:00Z


@pytest.fixture
def clock() -> Clock:
    return Clock(MIDNIGHT + 12 * 3600)


@pytest.fixture
def world(clock: Clock) -> Iterator[SandboxWorld]:
    world = SandboxWorld(base_url="http://sandbox.test", clock=clock)
    yield world
    world.close()


def auth(world: SandboxWorld, org_index: int = 0) -> dict[str, str]:
    # Live for a long time: these tests move the clock by days.
    world.settings.access_token_lifetime = 10 * 86400
    return alice_headers(world, org_index=org_index)


def client_for(world: SandboxWorld, **limits: object) -> TestClient:
    return TestClient(create_invoice_app(world, InvoiceLimits(**limits)))  # type: ignore[arg-type]


def test_per_minute_sliding_window_code_44(world: SandboxWorld, clock: Clock) -> None:
    headers = auth(world)
    client = client_for(world, per_minute=3)
    assert client.get(f"{API}/invoices", headers=headers).status_code == 200
    clock.now += 30
    client.get(f"{API}/invoices", headers=headers)
    client.get(f"{API}/invoices", headers=headers)
    clock.now += 15
    refused = client.get(f"{API}/invoices", headers=headers)
    assert refused.status_code == 429
    assert refused.json()["code"] == 44
    # The headers count the day, not the minute: 3 of the 1,000 spent, the day ends at midnight.
    assert refused.headers["X-Rate-Limit-Remaining"] == "997"
    assert refused.headers["X-Rate-Limit-Reset"] == str(12 * 3600 - 45)
    clock.now += 16  # the first request leaves the window
    assert client.get(f"{API}/invoices", headers=headers).status_code == 200
    # Sliding, not fixed: the two requests made 31 seconds ago still count.
    assert client.get(f"{API}/invoices", headers=headers).json()["code"] == 44
    clock.now += 30
    assert client.get(f"{API}/invoices", headers=headers).status_code == 200


def test_budget_is_per_organization(world: SandboxWorld) -> None:
    client = client_for(world, per_minute=2)
    one, two = auth(world, 0), auth(world, 1)
    for _ in range(2):
        assert client.get(f"{API}/contacts", headers=one).status_code == 200
    assert client.get(f"{API}/contacts", headers=one).status_code == 429
    assert client.get(f"{API}/contacts", headers=two).status_code == 200


@pytest.mark.parametrize(("http_200", "status"), [(False, 429), (True, 200)])
def test_daily_quota_code_45(
    world: SandboxWorld, clock: Clock, http_200: bool, status: int
) -> None:
    headers = auth(world)
    client = client_for(world, per_minute=100, daily=4, daily_error_http_200=http_200)
    for _ in range(4):
        clock.now += 60
        assert client.get(f"{API}/items", headers=headers).status_code == 200
    over = client.get(f"{API}/items", headers=headers)
    assert (over.status_code, over.json()["code"]) == (status, 45)
    clock.now = MIDNIGHT + 86400 + 1  # a new UTC day
    assert client.get(f"{API}/items", headers=headers).status_code == 200


@pytest.mark.anyio
async def test_concurrent_requests_code_1070(world: SandboxWorld) -> None:
    headers = auth(world)
    app = create_invoice_app(world, InvoiceLimits(concurrent=2))
    world.faults.add("invoice.GET /contacts", Fault(delay=0.3), times=3)
    results: list[httpx.Response] = []
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as c:

        async def call() -> None:
            results.append(await c.get(f"{API}/contacts", headers=headers))

        async with anyio.create_task_group() as group:
            for _ in range(3):
                group.start_soon(call)
        codes = sorted((r.status_code, r.json()["code"]) for r in results)
        assert codes == [(200, 0), (200, 0), (429, 1070)]
        # The slots are free again once the slow answers are done.
        assert (await c.get(f"{API}/contacts", headers=headers)).status_code == 200


@pytest.mark.anyio
async def test_control_endpoints_change_limits(world: SandboxWorld) -> None:
    headers = auth(world)
    app = create_invoice_app(world)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as c:
        control = AsyncInvoiceSandboxControl(c, prefix="/")
        assert await control.limits() == InvoiceLimits()
        changed = await control.set_limits(per_minute=1, daily_error_http_200=True)
        assert changed == InvoiceLimits(per_minute=1, daily_error_http_200=True)
        assert (await c.get(f"{API}/items", headers=headers)).status_code == 200
        assert (await c.get(f"{API}/items", headers=headers)).json()["code"] == 44
        await control.reset_usage()
        assert (await c.get(f"{API}/items", headers=headers)).status_code == 200
        bad = await c.put("/_sandbox/limits", json={"per_minute": -1})
        assert bad.status_code == 400
        bad = await c.put("/_sandbox/limits", json={"nonsense": 1})
        assert bad.status_code == 400
        assert (await control.limits()).per_minute == 1


def test_refused_requests_do_not_reach_handlers(world: SandboxWorld) -> None:
    headers = auth(world)
    client = client_for(world, per_minute=1)
    assert (
        client.post(f"{API}/contacts", headers=headers, json={"contact_name": "A"}).status_code
        == 201
    )
    refused = client.post(f"{API}/contacts", headers=headers, json={"contact_name": "B"})
    assert refused.status_code == 429
    names = [c["contact_name"] for c in world_contacts(world, headers)]
    assert names == ["A"]


def world_contacts(world: SandboxWorld, headers: dict[str, str]) -> list[dict[str, str]]:
    fresh = client_for(world)
    return list(fresh.get(f"{API}/contacts", headers=headers).json()["contacts"])


def test_rate_limit_headers_count_the_daily_quota(world: SandboxWorld, clock: Clock) -> None:
    """As real Zoho answers do (7500 / 6775 / 34881 seen on Books): the day's quota, what is
    left of it, the seconds until it is renewed; not the minute's."""
    headers = auth(world)
    client = client_for(world, per_minute=100, daily=7500)
    first = client.get(f"{API}/items", headers=headers)
    assert first.headers["X-Rate-Limit-Limit"] == "7500"
    assert first.headers["X-Rate-Limit-Remaining"] == "7499"
    assert first.headers["X-Rate-Limit-Reset"] == str(12 * 3600)  # noon UTC: 12 h to midnight
    clock.now += 3600 + 0.5
    second = client.get(f"{API}/contacts", headers=headers)
    assert second.headers["X-Rate-Limit-Remaining"] == "7498"
    assert second.headers["X-Rate-Limit-Reset"] == str(11 * 3600)  # 10:59:59.5 → 11 h, rounded up
    # Every organization has its own day.
    other = client.get(f"{API}/items", headers=auth(world, 1))
    assert other.headers["X-Rate-Limit-Remaining"] == "7499"


@pytest.mark.parametrize(
    ("plan", "daily", "concurrent"),
    [("free", 1000, 5), ("standard", 2000, 10), ("professional", 5000, 10), ("premium", 10000, 10)],
)
def test_plan_presets_set_the_daily_quota(
    world: SandboxWorld, plan: str, daily: int, concurrent: int
) -> None:
    limits = InvoiceLimits.for_plan(plan)
    assert (limits.plan, limits.daily, limits.concurrent) == (plan, daily, concurrent)
    client = TestClient(create_invoice_app(world, limits))
    answer = client.get(f"{API}/items", headers=auth(world))
    assert answer.headers["X-Rate-Limit-Limit"] == str(daily)
    # A plan and an explicit number in one change: the number wins.
    assert InvoiceLimits().updated({"plan": "standard", "daily": 7500}).daily == 7500
    with pytest.raises(ValueError, match="plan"):
        InvoiceLimits().updated({"plan": "gold"})


def test_the_day_may_end_at_midnight_of_another_time_zone(
    world: SandboxWorld, clock: Clock
) -> None:
    """Zoho does not publish the zone of its daily reset: the sandbox plays any of them."""
    headers = auth(world)
    client = client_for(world, daily=2, daily_reset_timezone="America/Los_Angeles")
    clock.now = MIDNIGHT + 23 * 3600  # 16:00 in Los Angeles (PDT, UTC-7)
    first = client.get(f"{API}/items", headers=headers)
    assert first.headers["X-Rate-Limit-Reset"] == str(8 * 3600)
    client.get(f"{API}/items", headers=headers)
    over = client.get(f"{API}/items", headers=headers)
    assert (over.status_code, over.json()["code"]) == (429, 45)
    assert over.headers["X-Rate-Limit-Remaining"] == "0"
    clock.now = MIDNIGHT + 86400 + 3600  # past midnight UTC, still the same day in Los Angeles
    assert client.get(f"{API}/items", headers=headers).json()["code"] == 45
    clock.now = MIDNIGHT + 86400 + 7 * 3600 + 1  # midnight in Los Angeles has passed
    assert client.get(f"{API}/items", headers=headers).status_code == 200
    with pytest.raises(ValueError, match="daily_reset_timezone"):
        InvoiceLimits().updated({"daily_reset_timezone": "Mars/Olympus"})


def test_ip_limit_blocks_the_address_for_every_organization(
    world: SandboxWorld, clock: Clock
) -> None:
    one, two = auth(world, 0), auth(world, 1)
    client = client_for(world, ip_per_minute=3, ip_block_seconds=120)
    for headers in (one, two, one):
        assert client.get(f"{API}/items", headers=headers).status_code == 200
    blocked = client.get(f"{API}/items", headers=two)
    assert blocked.status_code == 429
    assert "your IP has been blocked" in blocked.json()["message"]
    assert "x-rate-limit-limit" not in blocked.headers  # refused before any organization
    clock.now += 90  # the minute has passed, the block has not
    assert client.get(f"{API}/contacts", headers=one).status_code == 429
    assert client.get(f"{API}/organizations", headers=one).status_code == 429
    clock.now += 31
    assert client.get(f"{API}/items", headers=one).status_code == 200
    # Journalled all the same: a test can count what the client sent.
    assert len(world.journal.entries("invoice.GET /items")) == 5


def test_ip_block_html_reading(world: SandboxWorld) -> None:
    headers = auth(world)
    client = client_for(world, ip_per_minute=1, ip_block_answer="html", ip_block_status=400)
    assert client.get(f"{API}/items", headers=headers).status_code == 200
    blocked = client.get(f"{API}/items", headers=headers)
    assert blocked.status_code == 400
    assert blocked.headers["content-type"].startswith("text/html")
    assert "your IP has been blocked" in blocked.text


@pytest.mark.anyio
async def test_control_sets_plan_zone_and_ip_limit(world: SandboxWorld) -> None:
    app = create_invoice_app(world)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as c:
        control = AsyncInvoiceSandboxControl(c, prefix="/")
        changed = await control.set_limits(
            plan="professional", daily_reset_timezone="Asia/Kolkata", ip_per_minute=50
        )
        assert (changed.daily, changed.plan, changed.ip_per_minute) == (5000, "professional", 50)
        assert (await control.set_limits(ip_per_minute=None)).ip_per_minute is None
        for bad in ({"ip_block_answer": "xml"}, {"ip_per_minute": 0}, {"ip_block_status": 200}):
            assert (await c.put("/_sandbox/limits", json=bad)).status_code == 400
