"""Integration tests: the sync client against the sandbox's Invoice API, served on a real port
in a thread (``running_sandbox``), with tokens minted by its Zoho Accounts."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest

from api._sandbox import ALICE, RefreshingProvider, mint
from support import Clock
from zoho_invoice import (
    APITimeoutError,
    AuthenticationError,
    BadRequestError,
    InternalServerError,
    MissingScopeError,
    NotFoundError,
    RateLimitError,
)
from zoho_invoice._http import httpx
from zoho_invoice.api import TokenBucketBudget, UnlimitedBudget, ZohoInvoice
from zoho_invoice.api.types import ContactParams, InvoiceParams, LineItemParams
from zoho_invoice_sandbox import Fault, RunningSandbox, running_sandbox
from zoho_invoice_sandbox.invoice import InvoiceSandboxControl


@pytest.fixture(scope="module")
def clock() -> Clock:
    return Clock(ticking=True)


@pytest.fixture(scope="module")
def sandbox(clock: Clock) -> Iterator[RunningSandbox]:
    with running_sandbox(clock=clock) as running:
        yield running


@pytest.fixture(scope="module")
def http(sandbox: RunningSandbox) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=sandbox.base_url) as client:
        yield client


@pytest.fixture(scope="module")
def alice(sandbox: RunningSandbox) -> tuple[str, str]:
    user = sandbox.world.directory.user_by_email(ALICE)
    assert user is not None
    return user.user_id, user.organization_ids[0]


@pytest.fixture(scope="module")
def seeded(http: httpx.Client, alice: tuple[str, str]) -> str:
    control = InvoiceSandboxControl(http)
    control.set_limits(per_minute=100_000, daily=1_000_000, concurrent=50)
    control.seed(alice[1], contacts=5, items=3, invoices=450, estimates=3, seed=7)
    return alice[1]


@pytest.fixture
def tokens(http: httpx.Client, alice: tuple[str, str]) -> dict[str, Any]:
    return mint(http, alice[0])


@pytest.fixture
def client(tokens: dict[str, Any], seeded: str, sandbox: RunningSandbox) -> Iterator[ZohoInvoice]:
    with ZohoInvoice(
        access_token=tokens["access_token"],
        api_domain=tokens["api_domain"],
        organization_id=seeded,
        budget=UnlimitedBudget(),
        timeout=5.0,
        sleep=lambda _s: None,
    ) as client:
        yield client
    sandbox.world.faults.clear()


def test_api_domain_is_the_sandbox(tokens: dict[str, Any], sandbox: RunningSandbox) -> None:
    assert tokens["api_domain"] == sandbox.base_url + "/api/us"


def test_organizations(client: ZohoInvoice, seeded: str) -> None:
    orgs = client.organizations.list()
    assert seeded in [org.organization_id for org in orgs]
    assert client.organizations.get(seeded).organization_id == seeded


def test_iter_all_pulls_every_invoice(client: ZohoInvoice) -> None:
    ids = [invoice.invoice_id for invoice in client.invoices.iter_all()]
    assert len(ids) >= 450 and len(set(ids)) == len(ids)
    page = client.invoices.list(per_page=10)
    assert len(page) == 10 and page.has_more
    assert all(isinstance(invoice.total, Decimal) for invoice in page)


def test_contacts_lifecycle(client: ZohoInvoice) -> None:
    contact = client.contacts.create(ContactParams(contact_name="Dave Bowman Ltd"))
    assert contact.contact_name == "Dave Bowman Ltd"
    client.contacts.mark_inactive(contact.contact_id)
    assert client.contacts.get(contact.contact_id).status == "inactive"
    client.contacts.mark_active(contact.contact_id)
    updated = client.contacts.update(contact.contact_id, company_name="Discovery One")
    assert updated.company_name == "Discovery One"
    names = [c.contact_name for c in client.contacts.iter_all(contact_name_contains="Bowman")]
    assert "Dave Bowman Ltd" in names
    client.contacts.delete(contact.contact_id)
    with pytest.raises(NotFoundError) as info:
        client.contacts.get(contact.contact_id)
    assert info.value.code == 1002


def test_items_invoices_payments_estimates(client: ZohoInvoice) -> None:
    customer = client.contacts.list(per_page=1).items[0]
    item = client.items.create(name="Widget-sync", rate=Decimal("19.99"))
    assert item.rate == Decimal("19.99")
    assert client.items.get(item.item_id).name == "Widget-sync"
    invoice = client.invoices.create(
        InvoiceParams(
            customer_id=customer.contact_id,
            line_items=[LineItemParams(item_id=item.item_id, quantity=Decimal(2))],
        )
    )
    assert invoice.total == Decimal("39.98")
    client.invoices.mark_sent(invoice.invoice_id)
    assert client.invoices.get(invoice.invoice_id).status in {"sent", "unpaid"}
    assert client.invoices.pdf(invoice.invoice_id).startswith(b"%PDF")
    client.invoices.email(invoice.invoice_id, to_mail_ids=["ap@example.com"])
    payment = client.customer_payments.create(
        customer_id=customer.contact_id,
        payment_mode="cash",
        amount=Decimal("39.98"),
        date="2024-05-01",
        invoices=[{"invoice_id": invoice.invoice_id, "amount_applied": Decimal("39.98")}],
    )
    assert payment.amount == Decimal("39.98")
    assert client.invoices.get(invoice.invoice_id).status == "paid"
    assert client.customer_payments.get(payment.payment_id).payment_id == payment.payment_id
    assert len(client.customer_payments.list(per_page=5).items) >= 1

    draft = client.invoices.create(
        customer_id=customer.contact_id, line_items=[{"item_id": item.item_id, "quantity": 1}]
    )
    client.invoices.mark_sent(draft.invoice_id)
    client.invoices.void(draft.invoice_id)
    assert client.invoices.get(draft.invoice_id).status == "void"
    client.invoices.mark_draft(draft.invoice_id)
    assert client.invoices.get(draft.invoice_id).status == "draft"
    client.invoices.delete(draft.invoice_id)

    estimate = client.estimates.create(
        customer_id=customer.contact_id, line_items=[{"item_id": item.item_id, "quantity": 1}]
    )
    client.estimates.mark_sent(estimate.estimate_id)
    client.estimates.mark_accepted(estimate.estimate_id)
    assert client.estimates.get(estimate.estimate_id).status == "accepted"
    assert any(e.estimate_id == estimate.estimate_id for e in client.estimates.iter_all())


def test_line_discount_as_percentage_and_as_amount(client: ZohoInvoice) -> None:
    # Zoho: a line item's discount is "either in % or in amount. e.g. 12.5% or 190"
    # (docs/zoho/README.md). Both go out, the sandbox applies and echoes both, both read back.
    customer = client.contacts.list(per_page=1).items[0]
    invoice = client.invoices.create(
        InvoiceParams(
            customer_id=customer.contact_id,
            line_items=[
                LineItemParams(name="Percent", rate=Decimal("80"), discount="12.5%"),
                LineItemParams(name="Amount", rate=Decimal("20.10"), discount=Decimal("0.15")),
            ],
        )
    )
    for read in (invoice, client.invoices.get(invoice.invoice_id)):
        percent, amount = read.line_items
        assert percent.discount == "12.5%" and percent.item_total == Decimal("70")
        assert amount.discount == Decimal("0.15") and amount.item_total == Decimal("19.95")
        assert read.sub_total == Decimal("89.95")
    client.invoices.delete(invoice.invoice_id)


def test_bad_request_is_mapped(client: ZohoInvoice) -> None:
    with pytest.raises(BadRequestError) as info:
        client.invoices.create(customer_id="not-a-customer")
    assert info.value.status_code == 400 and info.value.code not in (None, 0)


def test_injected_5xx_retried(client: ZohoInvoice, sandbox: RunningSandbox) -> None:
    sandbox.world.faults.add(
        "invoice.GET /invoices", Fault(status=503, body={"code": 1, "message": "busy"}), times=2
    )
    assert len(client.invoices.list(per_page=3)) == 3
    client.max_retries = 0
    sandbox.world.faults.add(
        "invoice.GET /invoices", Fault(status=500, body={"code": 1, "message": "x"})
    )
    with pytest.raises(InternalServerError):
        client.invoices.list(per_page=3)


def test_injected_5xx_on_create_not_retried(client: ZohoInvoice, sandbox: RunningSandbox) -> None:
    sandbox.world.faults.add(
        "invoice.POST /contacts", Fault(status=500, body={"code": 1, "message": "x"})
    )
    before = len(sandbox.world.journal.entries("invoice.POST /contacts"))
    with pytest.raises(InternalServerError):
        client.contacts.create(contact_name="Once Only")
    assert len(sandbox.world.journal.entries("invoice.POST /contacts")) - before == 1


def test_timeout_is_retried_then_raised(
    tokens: dict[str, Any], seeded: str, sandbox: RunningSandbox
) -> None:
    with ZohoInvoice(
        access_token=tokens["access_token"],
        api_domain=tokens["api_domain"],
        organization_id=seeded,
        budget=UnlimitedBudget(),
        timeout=0.2,
        max_retries=1,
        sleep=lambda _s: None,
    ) as client:
        sandbox.world.faults.add("invoice.GET /items", Fault(delay=1.0), times=1)
        assert client.items.list(per_page=1).items  # the second try answers
        sandbox.world.faults.add("invoice.GET /items", Fault(delay=1.0), times=2)
        with pytest.raises(APITimeoutError):
            client.items.list(per_page=1)
    sandbox.world.faults.clear()


def test_sandbox_429_is_waited_out(
    tokens: dict[str, Any], http: httpx.Client, alice: tuple[str, str], sandbox: RunningSandbox
) -> None:
    control = InvoiceSandboxControl(http)
    other_org = alice[1]
    control.reset_usage()
    control.set_limits(per_minute=2, window_seconds=60)
    slept: list[float] = []
    try:
        with ZohoInvoice(
            access_token=tokens["access_token"],
            api_domain=tokens["api_domain"],
            organization_id=other_org,
            budget=UnlimitedBudget(),
            max_retries=1,
            sleep=slept.append,
        ) as client:
            client.invoices.list(per_page=1)
            client.invoices.list(per_page=1)
            with pytest.raises(RateLimitError) as info:
                client.invoices.list(per_page=1)
        assert info.value.code == 44 and info.value.status_code == 429
        # It honoured the sandbox's X-Rate-Limit-Reset instead of guessing.
        assert slept and 0 < slept[0] <= 60
    finally:
        control.set_limits(per_minute=100_000, window_seconds=60)
        control.reset_usage()


def test_budget_keeps_under_the_sandbox_limit(
    tokens: dict[str, Any], http: httpx.Client, seeded: str, clock: Clock
) -> None:
    # One clock for both sides: the client's budget and the sandbox's window move together,
    # and the client's sleeps move that clock instead of waiting in real time.
    control = InvoiceSandboxControl(http)
    control.reset_usage()
    control.set_limits(per_minute=5, window_seconds=60)
    budget = TokenBucketBudget(rate=4, window=60.0, burst=1, clock=clock)
    slept: list[float] = []

    def sleep(seconds: float) -> None:
        slept.append(seconds)
        clock.advance(seconds)

    try:
        with ZohoInvoice(
            access_token=tokens["access_token"],
            api_domain=tokens["api_domain"],
            organization_id=seeded,
            budget=budget,
            max_retries=0,
            sleep=sleep,
        ) as client:
            for _ in range(12):  # would be a 429 without the budget
                client.items.list(per_page=1)
        assert sum(slept) >= 60.0  # 12 calls at 4 a minute: the budget made it wait
    finally:
        clock.advance(-sum(slept))
        control.set_limits(per_minute=100_000, window_seconds=60)
        control.reset_usage()


def test_s35_expired_token_refreshed_once(
    tokens: dict[str, Any], http: httpx.Client, seeded: str, clock: Clock
) -> None:
    provider = RefreshingProvider(http, tokens, seeded)
    with ZohoInvoice(token_provider=provider, budget=UnlimitedBudget()) as client:
        client.items.list(per_page=1)
        clock.advance(3601)  # the access token expires
        try:
            assert client.items.list(per_page=1).items
        finally:
            clock.advance(-3601)
    assert provider.refreshes == 1


def test_s35_missing_scope_after_one_refresh(
    http: httpx.Client, alice: tuple[str, str], seeded: str
) -> None:
    narrow = mint(http, alice[0], scopes="ZohoInvoice.settings.READ")
    provider = RefreshingProvider(http, narrow, seeded)
    with (
        ZohoInvoice(token_provider=provider, budget=UnlimitedBudget()) as client,
        pytest.raises(MissingScopeError),
    ):
        client.invoices.list()
    assert provider.refreshes == 1


def test_static_bad_token_is_authentication_error(tokens: dict[str, Any], seeded: str) -> None:
    with (
        ZohoInvoice(
            access_token="1000.not.valid",
            api_domain=tokens["api_domain"],
            organization_id=seeded,
            budget=UnlimitedBudget(),
        ) as client,
        pytest.raises(AuthenticationError) as info,
    ):
        client.invoices.list()
    assert info.value.status_code == 401 and info.value.code == 57
    assert "1000.not.valid" not in str(info.value)
