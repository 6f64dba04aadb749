"""Integration tests of the Invoice API simulator's per-organization limits (codes 44, 45,
1070), their headers and their control endpoints, with a clock the tests move."""

from __future__ import annotations

from collections.abc import Iterator

import anyio
import pytest
from starlette.testclient import TestClient

from sandbox_support import alice_headers
from zoho_invoice._http import httpx
from zoho_invoice.sandbox import Fault, SandboxWorld
from zoho_invoice.sandbox.invoice import (
    AsyncInvoiceSandboxControl,
    InvoiceLimits,
    create_invoice_app,
)

API = "/us/invoice/v3"
MIDNIGHT = 1_789_948_800.0  # 2026-09-21T00:00:00Z


class Clock:
    def __init__(self) -> None:
        self.now = MIDNIGHT + 12 * 3600

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


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
    first = client.get(f"{API}/invoices", headers=headers)
    assert first.headers["X-Rate-Limit-Limit"] == "3"
    assert first.headers["X-Rate-Limit-Remaining"] == "2"
    clock.now += 30
    client.get(f"{API}/invoices", headers=headers)
    last = client.get(f"{API}/invoices", headers=headers)
    assert last.headers["X-Rate-Limit-Remaining"] == "0"
    clock.now += 15
    refused = client.get(f"{API}/invoices", headers=headers)
    assert refused.status_code == 429
    assert refused.json()["code"] == 44
    assert refused.headers["X-Rate-Limit-Remaining"] == "0"
    assert refused.headers["X-Rate-Limit-Reset"] == "15"  # the first request leaves the window
    clock.now += 16
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
