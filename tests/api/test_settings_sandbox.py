"""Integration tests: ``client.taxes``, ``client.currencies``, ``client.contact_persons`` and
``client.users`` (sync and async) against the sandbox served on a real port, in a UK (VAT)
organization: an invoice with a tax, a contact billed in euros, who receives the invoice."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal

import pytest

from sandbox_support import FULL_ACCESS, mint
from zoho_invoice import BadRequestError, NotFoundError
from zoho_invoice._http import httpx
from zoho_invoice.api import AsyncZohoInvoice, UnlimitedBudget, ZohoInvoice
from zoho_invoice.api.types import ContactPersonParams, InvoiceParams, LineItemParams
from zoho_invoice_sandbox import RunningSandbox, running_sandbox
from zoho_invoice_sandbox.invoice import InvoiceSandboxControl

OLIVER = "oliver@owen.example"


@pytest.fixture(scope="module")
def sandbox() -> Iterator[RunningSandbox]:
    with running_sandbox() as running:
        yield running


def _target(sandbox: RunningSandbox) -> tuple[str, str, str]:
    user = sandbox.world.directory.user_by_email(OLIVER)
    assert user is not None
    token = mint(sandbox.world, OLIVER, FULL_ACCESS)
    return token, user.organization_ids[0], sandbox.world.api_domain("uk")


@pytest.fixture
def client(sandbox: RunningSandbox) -> Iterator[ZohoInvoice]:
    token, org, domain = _target(sandbox)
    with ZohoInvoice(
        access_token=token, organization_id=org, api_domain=domain, budget=UnlimitedBudget()
    ) as client:
        yield client


def test_an_invoice_with_vat_in_a_uk_organization(client: ZohoInvoice) -> None:
    vat = next(t for t in client.taxes.iter_all() if t.tax_name == "Standard Rate")
    assert vat.tax_percentage == Decimal("20")
    contact = client.contacts.create(contact_name="Bowman & Co")
    person = client.contact_persons.create(
        contact.contact_id, ContactPersonParams(first_name="Will", email="will@bowman.test")
    )
    assert person.is_primary_contact and person.contact_id == contact.contact_id

    untaxed = InvoiceParams(
        customer_id=contact.contact_id,
        line_items=[LineItemParams(name="Desk", rate=Decimal("199.99"))],
    )
    with pytest.raises(BadRequestError) as refused:
        client.invoices.create(untaxed)
    assert refused.value.code == 2 and "tax_id" in str(refused.value)

    taxed = InvoiceParams(
        customer_id=contact.contact_id,
        line_items=[
            LineItemParams(
                name="Desk", rate=Decimal("199.99"), quantity=Decimal("3"), tax_id=vat.tax_id
            )
        ],
    )
    invoice = client.invoices.create(taxed)
    assert (invoice.sub_total, invoice.tax_total, invoice.total) == (
        Decimal("599.97"),
        Decimal("119.99"),
        Decimal("719.96"),
    )
    assert invoice.line_items[0].tax_id == vat.tax_id
    assert invoice.model_extra is not None
    assert invoice.model_extra["contact_persons"] == [person.contact_person_id]


def test_tax_groups_currencies_persons_and_users_round_trip(
    client: ZohoInvoice, sandbox: RunningSandbox
) -> None:
    standard, reduced = (
        t.tax_id
        for t in client.taxes.list().items
        if t.tax_name in ("Standard Rate", "Reduced Rate")
    )
    group = client.taxes.create_group("Both", [standard, reduced])
    assert group.tax_group_percentage == Decimal("25")
    renamed = client.taxes.update_group(group.tax_group_id, name="Both rates", tax_ids=None)
    assert renamed.tax_group_name == "Both rates" and len(renamed.taxes) == 2
    client.taxes.delete_group(group.tax_group_id)
    with pytest.raises(NotFoundError):
        client.taxes.get_group(group.tax_group_id)

    euro = next(c for c in client.currencies.iter_all() if c.currency_code == "EUR")
    assert euro.exchange_rate is not None and Decimal(0) < euro.exchange_rate < 1
    assert client.currencies.get(euro.currency_id) == euro
    contact = client.contacts.create(contact_name="Euro Buyer", currency_id=euro.currency_id)
    assert contact.currency_code == "EUR"

    first = client.contact_persons.create(contact.contact_id, first_name="Ann")
    second = client.contact_persons.create(contact.contact_id, first_name="Ben")
    assert second.contact_person_id is not None and first.contact_person_id is not None
    client.contact_persons.mark_primary(second.contact_person_id)
    persons = list(client.contact_persons.iter_all(contact.contact_id))
    assert [(p.first_name, p.is_primary_contact) for p in persons] == [
        ("Ann", False),
        ("Ben", True),
    ]
    assert (
        client.contact_persons.update(first.contact_person_id, last_name="Lee").last_name == "Lee"
    )
    client.contact_persons.delete(first.contact_person_id)
    with pytest.raises(NotFoundError):
        client.contact_persons.get(contact.contact_id, first.contact_person_id)

    me = client.users.me()
    assert [u.user_id for u in client.users.list()] == [me.user_id]
    assert client.users.get(me.user_id).email == OLIVER

    # The sandbox plays the other readings too: no tax required anywhere; tax groups listed in
    # an array of their own. The client reads the groups either way.
    group = client.taxes.create_group("Both again", [standard, reduced])
    inline = client.taxes.list_groups()
    with httpx.Client(base_url=sandbox.base_url) as http:
        control = InvoiceSandboxControl(http)
        rules = control.set_tax_rules(line_tax="never", group_listing="separate")
        assert rules == {"line_tax": "never", "group_listing": "separate"}
        try:
            untaxed = client.invoices.create(
                customer_id=contact.contact_id, line_items=[{"name": "Fee", "rate": 5}]
            )
            assert untaxed.tax_total == Decimal("0") and untaxed.currency_code == "EUR"
            assert all(t.tax_type != "tax_group" for t in client.taxes.iter_all())
            separate = client.taxes.list_groups()
        finally:
            control.set_tax_rules(line_tax="registered", group_listing="inline")
    assert [g.tax_group_id for g in inline] == [g.tax_group_id for g in separate]
    assert group.tax_group_id in {g.tax_group_id for g in separate}
    assert [t.tax_id for t in separate[0].taxes] == [standard, reduced]


@pytest.mark.anyio
async def test_async_client_in_a_vat_organization(sandbox: RunningSandbox) -> None:
    token, org, domain = _target(sandbox)
    async with AsyncZohoInvoice(
        access_token=token, organization_id=org, api_domain=domain, budget=UnlimitedBudget()
    ) as client:
        taxes = [t async for t in client.taxes.iter_all()]
        zero = next(t for t in taxes if t.tax_name == "Zero Rate")
        contact = await client.contacts.create(contact_name="Async Buyer")
        invoice = await client.invoices.create(
            customer_id=contact.contact_id,
            line_items=[{"name": "Export", "rate": 12.5, "tax_id": zero.tax_id}],
        )
        assert (invoice.tax_total, invoice.total) == (Decimal("0"), Decimal("12.5"))
        base = [c async for c in client.currencies.iter_all() if c.is_base_currency]
        assert [c.currency_code for c in base] == ["GBP"]
        person = await client.contact_persons.create(contact.contact_id, first_name="Zoe")
        assert person.contact_person_id is not None
        await client.contact_persons.mark_primary(person.contact_person_id)
        assert len(await client.contact_persons.list(contact.contact_id)) == 1
