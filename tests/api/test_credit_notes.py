"""Integration tests: credit notes and the credits on invoices, the sync client against the
sandbox on a real port (``running_sandbox``), tokens minted by its Zoho Accounts; the async
client against the sandbox in process (ASGITransport).

Balances are checked to the cent as ``Decimal``: applying credit lowers the invoice's balance and
the credit note's; taking it back, voiding the invoice or deleting a refund gives it back.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from decimal import Decimal
from typing import Any

import pytest

from api._sandbox import ALICE, SCOPES, amint, mint
from zoho_invoice import AuthenticationError, BadRequestError, NotFoundError
from zoho_invoice._http import httpx
from zoho_invoice.api import AsyncZohoInvoice, UnlimitedBudget, ZohoInvoice
from zoho_invoice.api.types import (
    CreditNote,
    CreditNoteParams,
    InvoiceCreditParams,
    InvoiceParams,
    LineItemParams,
)
from zoho_invoice_sandbox import RunningSandbox, create_sandbox_app, running_sandbox

CREDIT_SCOPES = SCOPES + ",ZohoInvoice.creditnotes.ALL"


@pytest.fixture(scope="module")
def sandbox() -> Iterator[RunningSandbox]:
    with running_sandbox() as running:
        yield running


@pytest.fixture(scope="module")
def tokens(sandbox: RunningSandbox) -> dict[str, Any]:
    user = sandbox.world.directory.user_by_email(ALICE)
    assert user is not None
    with httpx.Client(base_url=sandbox.base_url) as http:
        return {**mint(http, user.user_id, scopes=CREDIT_SCOPES), "org": user.organization_ids[0]}


@pytest.fixture
def client(tokens: dict[str, Any]) -> Iterator[ZohoInvoice]:
    with ZohoInvoice(
        access_token=tokens["access_token"],
        api_domain=tokens["api_domain"],
        organization_id=tokens["org"],
        budget=UnlimitedBudget(),
        timeout=5.0,
    ) as client:
        yield client


def _customer(client: ZohoInvoice, name: str) -> str:
    return client.contacts.create(contact_name=name).contact_id


def _invoice(client: ZohoInvoice, customer_id: str, rate: str, *, send: bool = True) -> str:
    invoice = client.invoices.create(
        InvoiceParams(
            customer_id=customer_id, line_items=[LineItemParams(name="Work", rate=Decimal(rate))]
        )
    )
    if send:
        client.invoices.mark_sent(invoice.invoice_id)
    return invoice.invoice_id


def _note(client: ZohoInvoice, customer_id: str, rate: str, **fields: Any) -> CreditNote:
    return client.credit_notes.create(
        CreditNoteParams(
            customer_id=customer_id,
            line_items=[LineItemParams(name="Returned goods", rate=Decimal(rate))],
            **fields,
        )
    )


def test_a_credit_applied_lowers_both_balances_and_taking_it_back_restores_them(
    client: ZohoInvoice,
) -> None:
    customer = _customer(client, "Credit Customer One")
    invoice_id = _invoice(client, customer, "100.00")
    note = _note(client, customer, "30.10")
    assert note.status == "open" and note.balance == Decimal("30.10")
    assert note.creditnote_number and note.creditnote_number.startswith("CN-")

    applied = client.credit_notes.apply_to_invoices(
        note.creditnote_id, [InvoiceCreditParams(invoice_id=invoice_id, amount_applied="20.05")]
    )
    assert [(a.invoice_id, a.amount_applied) for a in applied.invoices] == [
        (invoice_id, Decimal("20.05"))
    ]
    note = client.credit_notes.get(note.creditnote_id)
    assert (note.balance, note.total_credits_used, note.status) == (
        Decimal("10.05"),
        Decimal("20.05"),
        "open",
    )
    invoice = client.invoices.get(invoice_id)
    assert invoice.balance == Decimal("79.95") and invoice.status == "partially_paid"
    assert invoice.model_extra is not None
    assert Decimal(str(invoice.model_extra["credits_applied"])) == Decimal("20.05")

    applied_credits = client.invoices.list_credits_applied(invoice_id)
    assert [(c.creditnote_id, c.amount_applied) for c in applied_credits] == [
        (note.creditnote_id, Decimal("20.05"))
    ]
    credited = client.credit_notes.invoices_credited(note.creditnote_id)
    assert credited[0].credited_amount == Decimal("20.05")
    assert credited[0].creditnote_invoice_id == applied_credits[0].creditnotes_invoice_id
    assert note.invoices_credited[0].invoice_id == invoice_id

    # The rest of the credit closes the credit note; the invoice keeps what it still owes.
    client.credit_notes.apply_to_invoices(
        note.creditnote_id, [{"invoice_id": invoice_id, "amount_applied": Decimal("10.05")}]
    )
    note = client.credit_notes.get(note.creditnote_id)
    assert (note.balance, note.status) == (Decimal("0.00"), "closed")
    assert client.invoices.get(invoice_id).balance == Decimal("69.90")

    # Zoho keeps an invoice with applied credits (code 12008).
    with pytest.raises(BadRequestError) as refused:
        client.invoices.delete(invoice_id)
    assert refused.value.code == 12008

    for credit in client.invoices.list_credits_applied(invoice_id):
        client.invoices.delete_applied_credit(invoice_id, credit.creditnotes_invoice_id)
    note = client.credit_notes.get(note.creditnote_id)
    assert (note.balance, note.status, note.invoices_credited) == (Decimal("30.10"), "open", [])
    invoice = client.invoices.get(invoice_id)
    assert invoice.balance == Decimal("100.00") and invoice.status == "sent"
    client.invoices.delete(invoice_id)


def test_credits_that_zoho_refuses_carry_its_documented_codes(client: ZohoInvoice) -> None:
    customer = _customer(client, "Credit Customer Two")
    draft_invoice = _invoice(client, customer, "50.00", send=False)
    open_invoice = _invoice(client, customer, "50.00")

    def code_of(note_id: str, invoice_id: str, amount: str = "1.00") -> int | None:
        with pytest.raises(BadRequestError) as refused:
            client.credit_notes.apply_to_invoices(
                note_id, [{"invoice_id": invoice_id, "amount_applied": amount}]
            )
        return refused.value.code

    note = _note(client, customer, "60.00")
    assert code_of(note.creditnote_id, draft_invoice) == 12005
    assert code_of(note.creditnote_id, open_invoice, "50.01") == 2  # above the invoice's balance

    client.credit_notes.apply_to_invoices(
        note.creditnote_id, [{"invoice_id": open_invoice, "amount_applied": "50.00"}]
    )
    assert client.invoices.get(open_invoice).status == "paid"
    assert code_of(note.creditnote_id, open_invoice) == 12006

    void_invoice = _invoice(client, customer, "10.00")
    client.invoices.void(void_invoice)
    assert code_of(note.creditnote_id, void_invoice) == 12007

    small = _note(client, customer, "5.00")
    another = _invoice(client, customer, "20.00")
    assert code_of(small.creditnote_id, another, "5.01") == 2  # above the credit's balance
    client.credit_notes.apply_to_invoices(
        small.creditnote_id, [{"invoice_id": another, "amount_applied": "5.00"}]
    )
    assert code_of(small.creditnote_id, another) == 12003

    voided = _note(client, customer, "5.00")
    client.credit_notes.void(voided.creditnote_id)
    assert code_of(voided.creditnote_id, another) == 12004

    with pytest.raises(NotFoundError) as unknown:
        client.credit_notes.get("4600000000999999999")
    assert unknown.value.code == 1002


def test_refunds_lower_the_balance_and_deleting_one_restores_it(client: ZohoInvoice) -> None:
    customer = _customer(client, "Refund Customer")
    note = _note(client, customer, "40.00")
    refund = client.credit_notes.refund(
        note.creditnote_id, amount=Decimal("15.35"), refund_mode="cash", reference_number="R-1"
    )
    assert refund.amount == Decimal("15.35") and refund.creditnote_id == note.creditnote_id
    assert client.credit_notes.get(note.creditnote_id).balance == Decimal("24.65")

    changed = client.credit_notes.update_refund(
        note.creditnote_id, refund.creditnote_refund_id, amount=Decimal("40.00")
    )
    assert changed.amount == Decimal("40.00")
    note = client.credit_notes.get(note.creditnote_id)
    assert (note.balance, note.status, note.total_refunded_amount) == (
        Decimal("0.00"),
        "closed",
        Decimal("40.00"),
    )
    with pytest.raises(BadRequestError):
        client.credit_notes.refund(note.creditnote_id, amount=Decimal("0.01"))

    own = client.credit_notes.list_refunds(note.creditnote_id)
    assert [r.creditnote_refund_id for r in own] == [refund.creditnote_refund_id]
    everyone = client.credit_notes.list_all_refunds(customer_id=customer)
    assert [r.amount for r in everyone] == [Decimal("40.00")]
    fetched = client.credit_notes.get_refund(note.creditnote_id, refund.creditnote_refund_id)
    assert fetched.reference_number == "R-1"

    client.credit_notes.delete_refund(note.creditnote_id, refund.creditnote_refund_id)
    note = client.credit_notes.get(note.creditnote_id)
    assert (note.balance, note.status, note.creditnote_refunds) == (Decimal("40.00"), "open", [])


def test_statuses_draft_open_void_and_a_used_note_stays(client: ZohoInvoice) -> None:
    customer = _customer(client, "Status Customer")
    note = _note(client, customer, "12.00", is_draft=True)
    assert note.status == "draft"
    client.credit_notes.mark_open(note.creditnote_id)
    assert client.credit_notes.get(note.creditnote_id).status == "open"
    client.credit_notes.void(note.creditnote_id)
    voided = client.credit_notes.get(note.creditnote_id)
    assert (voided.status, voided.balance) == ("void", Decimal("0.00"))
    client.credit_notes.mark_open(note.creditnote_id)  # Zoho: "Open a voided credit note"
    assert client.credit_notes.get(note.creditnote_id).balance == Decimal("12.00")
    client.credit_notes.mark_draft(note.creditnote_id)
    assert client.credit_notes.get(note.creditnote_id).status == "draft"
    client.credit_notes.mark_open(note.creditnote_id)

    invoice_id = _invoice(client, customer, "30.00")
    client.credit_notes.apply_to_invoices(
        note.creditnote_id, [{"invoice_id": invoice_id, "amount_applied": "2.00"}]
    )
    for refused in (client.credit_notes.void, client.credit_notes.delete):
        with pytest.raises(BadRequestError):
            refused(note.creditnote_id)
    updated = client.credit_notes.update(
        note.creditnote_id, line_items=[{"name": "Returned goods", "rate": "20.00"}]
    )
    assert (updated.total, updated.balance) == (Decimal("20.00"), Decimal("18.00"))
    with pytest.raises(BadRequestError):
        client.credit_notes.update(
            note.creditnote_id, line_items=[{"name": "Returned goods", "rate": "1.99"}]
        )


def test_voiding_an_invoice_gives_its_credits_back(client: ZohoInvoice) -> None:
    customer = _customer(client, "Void Customer")
    invoice_id = _invoice(client, customer, "80.00")
    note = _note(client, customer, "25.00")
    client.invoices.apply_credits(
        invoice_id, creditnotes=[{"creditnote_id": note.creditnote_id, "amount_applied": "25.00"}]
    )
    assert client.credit_notes.get(note.creditnote_id).status == "closed"
    client.invoices.void(invoice_id)
    note = client.credit_notes.get(note.creditnote_id)
    assert (note.balance, note.status) == (Decimal("25.00"), "open")
    assert client.invoices.list_credits_applied(invoice_id) == []
    client.invoices.delete(invoice_id)  # nothing holds it any more


def test_apply_credits_uses_credit_notes_and_a_payments_unused_amount(
    client: ZohoInvoice,
) -> None:
    customer = _customer(client, "Overpaying Customer")
    invoice_id = _invoice(client, customer, "100.00")
    payment = client.customer_payments.create(
        customer_id=customer, amount=Decimal("60.00"), payment_mode="cash"
    )
    note = _note(client, customer, "15.50")
    used = client.invoices.apply_credits(
        invoice_id,
        creditnotes=[{"creditnote_id": note.creditnote_id, "amount_applied": "15.50"}],
        payments=[{"payment_id": payment.payment_id, "amount_applied": "40.00"}],
    )
    assert [(p.payment_id, p.amount_used) for p in used.invoice_payments] == [
        (payment.payment_id, Decimal("40.00"))
    ]
    assert [(c.creditnote_id, c.amount_applied) for c in used.apply_creditnotes] == [
        (note.creditnote_id, Decimal("15.50"))
    ]
    # The invoice's payments name the same application.
    listed = client.request("GET", f"/invoices/{invoice_id}/payments")["payments"]
    assert [p["invoice_payment_id"] for p in listed] == [
        used.invoice_payments[0].invoice_payment_id
    ]
    invoice = client.invoices.get(invoice_id)
    assert (invoice.balance, invoice.payment_made) == (Decimal("44.50"), Decimal("40.00"))
    assert client.customer_payments.get(payment.payment_id).unused_amount == Decimal("20.00")
    with pytest.raises(BadRequestError):
        client.invoices.apply_credits(
            invoice_id, payments=[{"payment_id": payment.payment_id, "amount_applied": "20.01"}]
        )
    with pytest.raises(ValueError, match="at least one"):
        client.invoices.apply_credits(invoice_id)


def test_credit_notes_list_and_need_their_own_scope(
    client: ZohoInvoice, sandbox: RunningSandbox, tokens: dict[str, Any]
) -> None:
    customer = _customer(client, "Listed Customer")
    note = _note(client, customer, "9.99", reference_number="LIST-1")
    page = client.credit_notes.list(customer_id=customer)
    assert [(n.creditnote_id, n.balance) for n in page] == [(note.creditnote_id, Decimal("9.99"))]
    assert page.items[0].line_items == []  # a list carries summaries
    user = sandbox.world.directory.user_by_email(ALICE)
    assert user is not None
    with httpx.Client(base_url=sandbox.base_url) as http:
        narrow = mint(http, user.user_id)  # invoices and contacts, no credit notes
    with (
        ZohoInvoice(
            access_token=narrow["access_token"],
            api_domain=narrow["api_domain"],
            organization_id=tokens["org"],
            budget=UnlimitedBudget(),
        ) as other,
        pytest.raises(AuthenticationError) as refused,
    ):
        other.credit_notes.list()
    assert refused.value.code == 57


# -- async --------------------------------------------------------------------------------------

BASE = "http://sandbox.test"


@pytest.fixture
async def aclient() -> AsyncIterator[AsyncZohoInvoice]:
    app = create_sandbox_app(base_url=BASE)
    user = app.state.world.directory.user_by_email(ALICE)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url=BASE) as http:
        tokens = await amint(http, user.user_id, scopes=CREDIT_SCOPES)
    async with (
        httpx.AsyncClient(transport=transport, base_url=BASE) as api_http,
        AsyncZohoInvoice(
            access_token=tokens["access_token"],
            api_domain=tokens["api_domain"],
            organization_id=user.organization_ids[0],
            http_client=api_http,
            budget=UnlimitedBudget(),
        ) as client,
    ):
        yield client


@pytest.mark.anyio
async def test_async_credit_note_refund_and_credits_applied(aclient: AsyncZohoInvoice) -> None:
    customer = (await aclient.contacts.create(contact_name="Async Credit")).contact_id
    invoice = await aclient.invoices.create(
        customer_id=customer, line_items=[{"name": "Work", "rate": "70.00"}]
    )
    await aclient.invoices.mark_sent(invoice.invoice_id)
    note = await aclient.credit_notes.create(
        customer_id=customer, line_items=[{"name": "Back", "rate": "33.33"}]
    )
    await aclient.credit_notes.apply_to_invoices(
        note.creditnote_id, [{"invoice_id": invoice.invoice_id, "amount_applied": "13.33"}]
    )
    refund = await aclient.credit_notes.refund(note.creditnote_id, amount="20.00")
    note = await aclient.credit_notes.get(note.creditnote_id)
    assert (note.balance, note.status) == (Decimal("0.00"), "closed")
    applied_credits = await aclient.invoices.list_credits_applied(invoice.invoice_id)
    assert [c.amount_applied for c in applied_credits] == [Decimal("13.33")]
    assert (await aclient.invoices.get(invoice.invoice_id)).balance == Decimal("56.67")
    await aclient.invoices.delete_applied_credit(
        invoice.invoice_id, applied_credits[0].creditnotes_invoice_id
    )
    await aclient.credit_notes.delete_refund(note.creditnote_id, refund.creditnote_refund_id)
    assert (await aclient.credit_notes.get(note.creditnote_id)).balance == Decimal("33.33")
    refunds = await aclient.credit_notes.list_all_refunds()
    assert len(refunds) == 0
    await aclient.credit_notes.delete(note.creditnote_id)
    with pytest.raises(NotFoundError):
        await aclient.credit_notes.get(note.creditnote_id)
