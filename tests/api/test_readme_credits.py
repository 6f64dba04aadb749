"""Integration test: the README's credit note and recurring invoice example runs as printed,
against the sandbox on a real port, and prints what the README says it prints.

``README_SNIPPET`` is the README's text (given ``zoho``, a client on a sandbox connection); the
test runs exactly that text, so the README cannot drift from the API.
"""

from __future__ import annotations

import contextlib
import io
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from api._sandbox import ALICE, SCOPES, mint
from zoho_invoice._http import httpx
from zoho_invoice.api import UnlimitedBudget, ZohoInvoice
from zoho_invoice.sandbox import running_sandbox
from zoho_invoice.sandbox.invoice._recurring import occurrence

README_SNIPPET = """\
customer = zoho.contacts.create(contact_name="Acme Ltd")
invoice = zoho.invoices.create(
    customer_id=customer.contact_id, line_items=[{"name": "Consulting", "rate": "500.00"}]
)
zoho.invoices.mark_sent(invoice.invoice_id)

# A credit note applied to the invoice: both balances drop by the same exact amount.
note = zoho.credit_notes.create(
    customer_id=customer.contact_id, line_items=[{"name": "Agreed discount", "rate": "50.00"}]
)
zoho.credit_notes.apply_to_invoices(
    note.creditnote_id, [{"invoice_id": invoice.invoice_id, "amount_applied": "50.00"}]
)
print(f"{zoho.invoices.get(invoice.invoice_id).balance:.2f}")  # 450.00 (a Decimal)
print(zoho.credit_notes.get(note.creditnote_id).status)  # closed

# A recurring invoice: the first child invoice today, then one a month.
profile = zoho.recurring_invoices.create(
    recurrence_name="Monthly support",
    customer_id=customer.contact_id,
    recurrence_frequency="months",
    repeat_every=1,
    line_items=[{"name": "Support", "rate": "120.00"}],
)
children = zoho.recurring_invoices.child_invoices(profile.recurring_invoice_id)
print(len(children), f"{children.items[0].total:.2f}", profile.next_invoice_date)
# 1 120.00 <today + 1 month>
"""


@pytest.fixture
def zoho() -> Iterator[ZohoInvoice]:
    with running_sandbox() as sandbox:
        user = sandbox.world.directory.user_by_email(ALICE)
        assert user is not None
        with httpx.Client(base_url=sandbox.base_url) as http:
            tokens = mint(http, user.user_id, scopes=SCOPES + ",ZohoInvoice.creditnotes.ALL")
        with ZohoInvoice(
            access_token=tokens["access_token"],
            api_domain=tokens["api_domain"],
            organization_id=user.organization_ids[0],
            budget=UnlimitedBudget(),
        ) as client:
            yield client


def test_the_readme_credit_note_and_recurring_invoice_example_prints_what_it_says(
    zoho: ZohoInvoice,
) -> None:
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(README_SNIPPET, {"zoho": zoho})  # the README's own text
    today = datetime.now(UTC).date()
    month_on = occurrence(today, "months", 1, 1)
    assert out.getvalue().splitlines() == ["450.00", "closed", f"1 120.00 {month_on}"]
