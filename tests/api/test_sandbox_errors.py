"""Integration tests: both clients (sync and async twins) against the sandbox on a real port —
Zoho's error answers per resource (400 code 2, 404 code 1002, 400 code 6041 for an organization
the user is not in, 1001 duplicate invoice number, 4001 deleting an invoice with payments)
mapped to our error classes, and the writes the other suites skip (items active/inactive and
delete, estimate and payment update/delete)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import anyio
import pytest

from api._sandbox import ALICE, mint
from zoho_invoice import APIError, BadRequestError, NotFoundError
from zoho_invoice._http import httpx
from zoho_invoice.api import AsyncZohoInvoice, UnlimitedBudget, ZohoInvoice
from zoho_invoice.api.types import CustomFieldParams, InvoiceParams
from zoho_invoice_sandbox import RunningSandbox, running_sandbox
from zoho_invoice_sandbox.invoice import InvoiceSandboxControl

RESOURCES = ["contacts", "items", "invoices", "estimates", "customer_payments"]
MISSING = "460000000099999"


@dataclass
class Setup:
    sandbox: RunningSandbox
    tokens: dict[str, Any]
    org: str
    foreign_org: str


@pytest.fixture(scope="module")
def setup() -> Iterator[Setup]:
    with running_sandbox() as sandbox, httpx.Client(base_url=sandbox.base_url) as http:
        alice = sandbox.world.directory.user_by_email(ALICE)
        assert alice is not None
        org = alice.organization_ids[0]
        control = InvoiceSandboxControl(http)
        control.set_limits(per_minute=100_000, daily=1_000_000, concurrent=50)
        control.seed(org, contacts=3, items=3, invoices=4, estimates=2, seed=11)
        foreign = next(
            o.organization_id
            for o in sandbox.world.directory.organizations
            if o.organization_id not in alice.organization_ids
        )
        yield Setup(sandbox, mint(http, alice.user_id), org, foreign)


Call = Callable[[Any], Any]


class Twin:
    """Runs one scenario on the sync client or on the async one (``await`` where needed)."""

    def __init__(self, setup: Setup, kind: str) -> None:
        self.setup = setup
        self.kind = kind

    def _options(self, org: str | None) -> dict[str, Any]:
        return {
            "access_token": self.setup.tokens["access_token"],
            "api_domain": self.setup.tokens["api_domain"],
            "organization_id": org or self.setup.org,
            "budget": UnlimitedBudget(),
            "max_retries": 0,
        }

    def run(self, scenario: Callable[[Any], Awaitable[Any]], org: str | None = None) -> Any:
        """``scenario(call)`` where ``await call(lambda client: client.x.y(...))``."""
        if self.kind == "sync":
            with ZohoInvoice(**self._options(org)) as client:

                async def call_sync(fn: Call) -> Any:
                    return fn(client)

                return anyio.run(scenario, call_sync)

        async def main() -> Any:
            async with AsyncZohoInvoice(**self._options(org)) as client:

                async def call_async(fn: Call) -> Any:
                    return await fn(client)

                return await scenario(call_async)

        return anyio.run(main)

    def one(self, fn: Call, org: str | None = None) -> Any:
        async def scenario(call: Callable[[Call], Awaitable[Any]]) -> Any:
            return await call(fn)

        return self.run(scenario, org)


@pytest.fixture(params=["sync", "async"])
def twin(request: pytest.FixtureRequest, setup: Setup) -> Twin:
    return Twin(setup, request.param)


def _raises(twin: Twin, fn: Call, cls: type[APIError], org: str | None = None) -> APIError:
    with pytest.raises(cls) as info:
        twin.one(fn, org)
    return info.value


@pytest.mark.parametrize("resource", RESOURCES)
@pytest.mark.parametrize("action", ["get", "update", "delete"])
def test_missing_record_is_not_found_with_its_resource_code(
    twin: Twin, resource: str, action: str
) -> None:
    def fn(client: Any) -> Any:
        method = getattr(getattr(client, resource), action)
        return method(MISSING, reference_number="x") if action == "update" else method(MISSING)

    error = _raises(twin, fn, NotFoundError)
    # Zoho's code for an unknown item is 2006; the other resources answer 1002.
    assert (error.status_code, error.code) == (404, 2006 if resource == "items" else 1002)
    assert "does not exist" in error.message


@pytest.mark.parametrize("resource", RESOURCES)
def test_invalid_value_is_bad_request_code_2(twin: Twin, resource: str) -> None:
    error = _raises(twin, lambda c: getattr(c, resource).create(date="not-a-date"), BadRequestError)
    assert (error.status_code, error.code) == (400, 2)
    assert error.message.startswith("Invalid value passed for")


@pytest.mark.parametrize("resource", RESOURCES)
def test_an_organization_of_someone_else_is_6041(twin: Twin, resource: str) -> None:
    foreign = twin.setup.foreign_org
    error = _raises(twin, lambda c: getattr(c, resource).list(), BadRequestError, org=foreign)
    assert (error.status_code, error.code) == (400, 6041)


def test_duplicate_invoice_number_is_1001(twin: Twin) -> None:
    existing = twin.one(lambda c: c.invoices.list(per_page=1)).items[0]
    error = _raises(
        twin,
        lambda c: c.invoices.create(
            customer_id=existing.customer_id,
            invoice_number=existing.invoice_number,
            line_items=[{"name": "Again", "rate": 1, "quantity": 1}],
        ),
        BadRequestError,
    )
    assert (error.status_code, error.code) == (400, 1001)
    assert str(existing.invoice_number) in error.message


def test_deleting_an_invoice_with_payments_is_4001_a_sent_one_goes(twin: Twin) -> None:
    async def scenario(call: Callable[[Call], Awaitable[Any]]) -> Any:
        customer = (await call(lambda c: c.contacts.list(per_page=1))).items[0]

        async def sent_invoice() -> Any:
            invoice = await call(
                lambda c: c.invoices.create(
                    customer_id=customer.contact_id,
                    line_items=[{"name": "Sent", "rate": 5, "quantity": 1}],
                )
            )
            await call(lambda c: c.invoices.mark_sent(invoice.invoice_id))
            return invoice

        paid = await sent_invoice()
        await call(
            lambda c: c.customer_payments.create(
                customer_id=customer.contact_id,
                amount=Decimal("5"),
                invoices=[{"invoice_id": paid.invoice_id, "amount_applied": Decimal("5")}],
            )
        )
        with pytest.raises(BadRequestError) as info:
            await call(lambda c: c.invoices.delete(paid.invoice_id))
        assert (info.value.status_code, info.value.code) == (400, 4001)
        # Still there: nothing was deleted.
        assert (await call(lambda c: c.invoices.get(paid.invoice_id))).status == "paid"
        # A sent invoice without money is deleted, as Zoho does.
        unpaid = await sent_invoice()
        await call(lambda c: c.invoices.delete(unpaid.invoice_id))
        with pytest.raises(NotFoundError):
            await call(lambda c: c.invoices.get(unpaid.invoice_id))

    twin.run(scenario)


def test_void_turns_payments_into_credit_and_only_a_void_invoice_goes_to_draft(
    twin: Twin,
) -> None:
    async def scenario(call: Callable[[Call], Awaitable[Any]]) -> Any:
        customer = await call(lambda c: c.contacts.create(contact_name=f"Void Co {twin.kind}"))
        invoice = await call(
            lambda c: c.invoices.create(
                customer_id=customer.contact_id,
                line_items=[{"name": "Job", "rate": 40, "quantity": 1}],
            )
        )
        await call(lambda c: c.invoices.mark_sent(invoice.invoice_id))
        with pytest.raises(BadRequestError) as info:
            await call(lambda c: c.invoices.mark_draft(invoice.invoice_id))
        assert info.value.code == 2
        payment = await call(
            lambda c: c.customer_payments.create(
                customer_id=customer.contact_id,
                amount=Decimal("15.5"),
                invoices=[{"invoice_id": invoice.invoice_id, "amount_applied": Decimal("15.5")}],
            )
        )
        await call(lambda c: c.invoices.void(invoice.invoice_id))
        voided = await call(lambda c: c.invoices.get(invoice.invoice_id))
        assert (voided.status, voided.balance, voided.payment_made) == ("void", 0, 0)
        kept = await call(lambda c: c.customer_payments.get(payment.payment_id))
        assert (kept.unused_amount, kept.invoices) == (Decimal("15.5"), [])
        contact = await call(lambda c: c.contacts.get(customer.contact_id))
        assert contact.unused_credits_receivable_amount == Decimal("15.5")
        await call(lambda c: c.invoices.mark_draft(invoice.invoice_id))
        drafted = await call(lambda c: c.invoices.get(invoice.invoice_id))
        assert (drafted.status, drafted.balance) == ("draft", Decimal("40"))

    twin.run(scenario)


def test_resource_codes_taken_names_records_in_use_and_overpayment(twin: Twin) -> None:
    async def scenario(call: Callable[[Call], Awaitable[Any]]) -> Any:
        name = f"Codes Co {twin.kind}"
        customer = await call(lambda c: c.contacts.create(contact_name=name))
        with pytest.raises(BadRequestError) as info:
            await call(lambda c: c.contacts.create(contact_name=name.upper()))
        assert (info.value.code, info.value.status_code) == (3062, 400)
        item = await call(lambda c: c.items.create(name=f"Widget {twin.kind}", rate=7))
        with pytest.raises(BadRequestError) as info:
            await call(lambda c: c.items.create(name=f"Widget {twin.kind}", rate=8))
        assert info.value.code == 1000
        invoice = await call(
            lambda c: c.invoices.create(
                customer_id=customer.contact_id,
                line_items=[{"item_id": item.item_id, "quantity": 2}],
            )
        )
        await call(lambda c: c.invoices.mark_sent(invoice.invoice_id))
        with pytest.raises(BadRequestError) as info:
            await call(lambda c: c.items.delete(item.item_id))
        assert info.value.code == 2049
        with pytest.raises(BadRequestError) as info:
            await call(lambda c: c.contacts.delete(customer.contact_id))
        assert info.value.code == 3000
        with pytest.raises(BadRequestError) as info:
            await call(
                lambda c: c.customer_payments.create(
                    customer_id=customer.contact_id,
                    amount=Decimal("20"),
                    invoices=[{"invoice_id": invoice.invoice_id, "amount_applied": "14.01"}],
                )
            )
        assert info.value.code == 24016
        assert (await call(lambda c: c.invoices.get(invoice.invoice_id))).balance == 14

    twin.run(scenario)


def test_custom_fields_round_trip_typed(twin: Twin) -> None:
    async def scenario(call: Callable[[Call], Awaitable[Any]]) -> Any:
        customer = await call(
            lambda c: c.contacts.create(
                contact_name=f"Fields Co {twin.kind}",
                custom_fields=[CustomFieldParams(label="VAT ID", index=1, value="GB1")],
            )
        )
        assert (await call(lambda c: c.contacts.get(customer.contact_id))).custom_field(
            "VAT ID"
        ).value == "GB1"
        invoice = await call(
            lambda c: c.invoices.create(
                InvoiceParams(
                    customer_id=customer.contact_id,
                    line_items=[{"name": "Job", "rate": 1}],
                    custom_fields=[CustomFieldParams(label="Hours", value=Decimal("7.25"))],
                )
            )
        )
        got = await call(lambda c: c.invoices.get(invoice.invoice_id))
        hours = got.custom_field("cf_hours")
        assert hours is not None and hours.value == Decimal("7.25")
        await call(
            lambda c: c.invoices.update(
                invoice.invoice_id, custom_fields=[{"api_name": "cf_hours", "value": 8}]
            )
        )
        changed = await call(lambda c: c.invoices.get(invoice.invoice_id))
        assert changed.custom_field("Hours").value == 8
        assert changed.custom_field_hash["cf_hours_unformatted"] == 8

    twin.run(scenario)


def test_items_active_inactive_and_delete(twin: Twin) -> None:
    async def scenario(call: Callable[[Call], Awaitable[Any]]) -> Any:
        item = await call(lambda c: c.items.create(name=f"Gadget-{twin.kind}", rate=3))
        await call(lambda c: c.items.mark_inactive(item.item_id))
        assert (await call(lambda c: c.items.get(item.item_id))).status == "inactive"
        await call(lambda c: c.items.mark_active(item.item_id))
        assert (await call(lambda c: c.items.get(item.item_id))).status == "active"
        await call(lambda c: c.items.delete(item.item_id))
        with pytest.raises(NotFoundError):
            await call(lambda c: c.items.get(item.item_id))
        with pytest.raises(NotFoundError):
            await call(lambda c: c.items.mark_active(MISSING))

    twin.run(scenario)


def test_estimates_update_and_delete(twin: Twin) -> None:
    async def scenario(call: Callable[[Call], Awaitable[Any]]) -> Any:
        customer = (await call(lambda c: c.contacts.list(per_page=1))).items[0]
        estimate = await call(
            lambda c: c.estimates.create(
                customer_id=customer.contact_id,
                line_items=[{"name": "Plan", "rate": 10, "quantity": 2}],
            )
        )
        updated = await call(
            lambda c: c.estimates.update(
                estimate.estimate_id,
                customer_id=customer.contact_id,
                line_items=[{"name": "Plan", "rate": 10, "quantity": 3}],
            )
        )
        assert updated.total == Decimal("30")
        await call(lambda c: c.estimates.delete(estimate.estimate_id))
        with pytest.raises(NotFoundError):
            await call(lambda c: c.estimates.get(estimate.estimate_id))

    twin.run(scenario)


def test_payments_update_and_delete(twin: Twin) -> None:
    async def scenario(call: Callable[[Call], Awaitable[Any]]) -> Any:
        customer = (await call(lambda c: c.contacts.list(per_page=1))).items[0]
        invoice = await call(
            lambda c: c.invoices.create(
                customer_id=customer.contact_id,
                line_items=[{"name": "Work", "rate": 50, "quantity": 1}],
            )
        )
        await call(lambda c: c.invoices.mark_sent(invoice.invoice_id))
        body = {
            "customer_id": customer.contact_id,
            "payment_mode": "cash",
            "date": "2024-05-01",
        }
        payment = await call(
            lambda c: c.customer_payments.create(
                **body,
                amount=Decimal("20"),
                invoices=[{"invoice_id": invoice.invoice_id, "amount_applied": Decimal("20")}],
            )
        )
        assert (await call(lambda c: c.invoices.get(invoice.invoice_id))).balance == 30
        updated = await call(
            lambda c: c.customer_payments.update(
                payment.payment_id,
                **body,
                amount=Decimal("50"),
                invoices=[{"invoice_id": invoice.invoice_id, "amount_applied": Decimal("50")}],
            )
        )
        assert updated.amount == Decimal("50")
        assert (await call(lambda c: c.invoices.get(invoice.invoice_id))).status == "paid"
        await call(lambda c: c.customer_payments.delete(payment.payment_id))
        with pytest.raises(NotFoundError):
            await call(lambda c: c.customer_payments.get(payment.payment_id))
        after = await call(lambda c: c.invoices.get(invoice.invoice_id))
        assert after.balance == 50 and after.status != "paid"

    twin.run(scenario)
