"""Integration tests: the async client against the sandbox app in process (ASGITransport),
with tokens minted by its Zoho Accounts; every resource, errors and injected faults."""

from __future__ import annotations

from collections.abc import AsyncIterator
from decimal import Decimal
from typing import Any

import pytest
from starlette.applications import Starlette

from api._sandbox import ALICE, amint
from zoho_invoice import InternalServerError, MissingScopeError, NotFoundError, RateLimitError
from zoho_invoice._http import httpx
from zoho_invoice.api import AsyncZohoInvoice, TokenInfo, UnlimitedBudget
from zoho_invoice_sandbox import Fault, SandboxWorld, create_sandbox_app
from zoho_invoice_sandbox.invoice import AsyncInvoiceSandboxControl

pytestmark = pytest.mark.anyio
BASE = "http://sandbox.test"


@pytest.fixture
def app() -> Starlette:
    return create_sandbox_app(base_url=BASE)


@pytest.fixture
def world(app: Starlette) -> SandboxWorld:
    world: SandboxWorld = app.state.world
    return world


@pytest.fixture
async def http(app: Starlette) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=BASE) as http:
        yield http


@pytest.fixture
async def setup(http: httpx.AsyncClient, world: SandboxWorld) -> tuple[dict[str, Any], str]:
    user = world.directory.user_by_email(ALICE)
    assert user is not None
    org = user.organization_ids[0]
    control = AsyncInvoiceSandboxControl(http)
    await control.set_limits(per_minute=100_000, daily=1_000_000)
    await control.seed(org, contacts=3, items=2, invoices=250, estimates=2, seed=3)
    return await amint(http, user.user_id), org


@pytest.fixture
async def client(
    app: Starlette, setup: tuple[dict[str, Any], str]
) -> AsyncIterator[AsyncZohoInvoice]:
    tokens, org = setup

    async def no_sleep(_seconds: float) -> None:
        return None

    async with AsyncZohoInvoice(
        access_token=tokens["access_token"],
        api_domain=tokens["api_domain"],
        organization_id=org,
        http_client=httpx.AsyncClient(transport=httpx.ASGITransport(app=app)),
        budget=UnlimitedBudget(),
        sleep=no_sleep,
    ) as client:
        yield client


async def test_organizations_and_iter_all(client: AsyncZohoInvoice) -> None:
    orgs = await client.organizations.list()
    assert orgs and orgs[0].organization_id
    ids = [invoice.invoice_id async for invoice in client.invoices.iter_all()]
    assert len(ids) == 250 and len(set(ids)) == 250


async def test_every_resource(client: AsyncZohoInvoice, world: SandboxWorld) -> None:
    contact = await client.contacts.create(contact_name="Frank Poole")
    await client.contacts.mark_inactive(contact.contact_id)
    await client.contacts.mark_active(contact.contact_id)
    assert (await client.contacts.update(contact.contact_id, company_name="HAL")).company_name
    item = await client.items.create(name="Pod", rate=Decimal("100.10"))
    assert (await client.items.get(item.item_id)).rate == Decimal("100.10")
    assert (await client.items.list(per_page=1)).items
    invoice = await client.invoices.create(
        customer_id=contact.contact_id, line_items=[{"item_id": item.item_id, "quantity": 3}]
    )
    assert invoice.total == Decimal("300.30")
    await client.invoices.mark_sent(invoice.invoice_id)
    assert (await client.invoices.pdf(invoice.invoice_id)).startswith(b"%PDF")
    await client.invoices.email(invoice.invoice_id, to_mail_ids=["x@example.com"])
    payment = await client.customer_payments.create(
        customer_id=contact.contact_id,
        payment_mode="cash",
        amount=Decimal("300.30"),
        date="2024-05-01",
        invoices=[{"invoice_id": invoice.invoice_id, "amount_applied": Decimal("300.30")}],
    )
    assert (await client.customer_payments.get(payment.payment_id)).amount == Decimal("300.30")
    assert (await client.invoices.get(invoice.invoice_id)).status == "paid"
    other = await client.invoices.create(
        customer_id=contact.contact_id, line_items=[{"item_id": item.item_id, "quantity": 1}]
    )
    await client.invoices.mark_sent(other.invoice_id)
    await client.invoices.void(other.invoice_id)
    await client.invoices.mark_draft(other.invoice_id)
    await client.invoices.delete(other.invoice_id)
    with pytest.raises(NotFoundError):
        await client.invoices.get(other.invoice_id)
    estimate = await client.estimates.create(
        customer_id=contact.contact_id, line_items=[{"item_id": item.item_id, "quantity": 1}]
    )
    await client.estimates.mark_sent(estimate.estimate_id)
    await client.estimates.mark_declined(estimate.estimate_id)
    assert (await client.estimates.get(estimate.estimate_id)).status == "declined"


async def test_faults_retried_and_mapped(client: AsyncZohoInvoice, world: SandboxWorld) -> None:
    world.faults.add("invoice.GET /contacts", Fault(status=502, body={"code": 1}), times=2)
    assert (await client.contacts.list(per_page=2)).items
    world.faults.add("invoice.GET /contacts", Fault(status=500, body={"code": 1}), times=3)
    with pytest.raises(InternalServerError):
        await client.contacts.list(per_page=2)
    world.faults.add(
        "invoice.GET /contacts",
        Fault(status=429, body={"code": 45, "message": "daily"}),
    )
    with pytest.raises(RateLimitError) as info:
        await client.contacts.list(per_page=2)
    assert info.value.code == 45


class AsyncProvider:
    refreshable = True

    def __init__(self, http: httpx.AsyncClient, tokens: dict[str, Any], org: str) -> None:
        self.http, self.tokens, self.org = http, tokens, org
        self.current: str | None = "1000.expired.token"
        self.refreshes = 0

    async def get(self) -> TokenInfo:
        if self.current is None:
            body = (
                await self.http.post(
                    "/accounts/us/oauth/v2/token",
                    data={
                        "grant_type": "refresh_token",
                        "client_id": "1000.APITESTS",
                        "client_secret": "api-tests-secret",
                        "refresh_token": self.tokens["refresh_token"],
                    },
                )
            ).json()
            self.current = body["access_token"]
            self.refreshes += 1
        assert self.current is not None
        return TokenInfo(self.current, self.tokens["api_domain"], self.org)

    async def invalidate(self, token: str, *, code: int | None, operation: str) -> bool:
        if token == self.current:
            self.current = None
        return True

    async def confirm(self, token: str, operation: str | None) -> None:
        return None


async def test_s35_stale_token_refreshed_once(
    app: Starlette, http: httpx.AsyncClient, setup: tuple[dict[str, Any], str]
) -> None:
    tokens, org = setup
    provider = AsyncProvider(http, tokens, org)
    async with AsyncZohoInvoice(
        token_provider=provider,
        http_client=httpx.AsyncClient(transport=httpx.ASGITransport(app=app)),
        budget=UnlimitedBudget(),
    ) as client:
        assert (await client.invoices.list(per_page=1)).items
        assert (await client.invoices.list(per_page=1)).items
    assert provider.refreshes == 1


async def test_s35_missing_scope(
    app: Starlette, http: httpx.AsyncClient, setup: tuple[dict[str, Any], str], world: SandboxWorld
) -> None:
    _tokens, org = setup
    user = world.directory.user_by_email(ALICE)
    assert user is not None
    narrow = await amint(http, user.user_id, scopes="ZohoInvoice.invoices.READ")
    provider = AsyncProvider(http, narrow, org)
    provider.current = narrow["access_token"]
    async with AsyncZohoInvoice(
        token_provider=provider,
        http_client=httpx.AsyncClient(transport=httpx.ASGITransport(app=app)),
        budget=UnlimitedBudget(),
    ) as client:
        assert (await client.invoices.list(per_page=1)).items
        with pytest.raises(MissingScopeError):
            await client.contacts.create(contact_name="nope")
    assert provider.refreshes == 1
