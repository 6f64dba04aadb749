"""Credits of credit notes on invoices: one row per credit, and the sums kept on both documents.

HTTP-free and independent of ``_books`` (which reads it: an invoice's balance counts its credits,
a void gives them back, and one with credits cannot be deleted). Every change here runs inside
the caller's store transaction, so a credit note's balance and an invoice's balance move together.

Sums on the documents, as Zoho shows them:
- invoice:     ``credits_applied``; ``balance = total - payment_made - credits_applied``
- credit note: ``total_credits_used``, ``total_refunded_amount``;
               ``balance = total - total_credits_used - total_refunded_amount``;
               ``open`` while it has a balance, ``closed`` once it is used up.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from ._amounts import money
from ._resources import CREDIT_APPLICATIONS, CREDIT_NOTES, INVOICES
from ._store import Doc, InvoiceStore

__all__ = [
    "credits_applied",
    "credits_of_invoice",
    "credits_of_note",
    "dec",
    "record_credit",
    "release_invoice_credits",
    "remove_credit",
    "settle_invoice",
    "settle_note",
]


def dec(value: Any) -> Decimal:
    """A stored amount (a JSON number or text) as an exact ``Decimal``."""
    return Decimal(str(value or 0))


def credits_of_invoice(store: InvoiceStore, org: str, invoice_id: str) -> list[Doc]:
    return store.select(
        CREDIT_APPLICATIONS, org, where=["invoice_id = ?"], params=[invoice_id], order_by="id"
    )


def credits_of_note(store: InvoiceStore, org: str, creditnote_id: str) -> list[Doc]:
    return store.select(
        CREDIT_APPLICATIONS, org, where=["creditnote_id = ?"], params=[creditnote_id], order_by="id"
    )


def credits_applied(store: InvoiceStore, org: str, invoice_id: str) -> Decimal:
    """The credit notes' credits on an invoice, exact. Zoho refuses to delete an invoice that
    has any (code 12008): ``_books`` asks this before deleting."""
    return sum(
        (dec(c["amount_applied"]) for c in credits_of_invoice(store, org, invoice_id)),
        Decimal(0),
    )


def settle_invoice(invoice: Doc) -> Doc:
    """Balance and status of an invoice after its payments or credits changed."""
    paid = dec(invoice.get("payment_made"))
    credit = dec(invoice.get("credits_applied"))
    balance = dec(invoice.get("total")) - paid - credit
    invoice["credits_applied"] = money(credit)
    invoice["balance"] = money(balance)
    status = str(invoice.get("status", "draft"))
    if status not in ("draft", "void"):
        if balance == 0:
            invoice["status"] = "paid"
        elif paid or credit:
            invoice["status"] = "partially_paid"
        elif status not in ("sent", "viewed"):
            invoice["status"] = "sent"
    return invoice


def settle_note(note: Doc) -> Doc:
    """Balance and status of a credit note after credits or refunds changed."""
    balance = (
        dec(note.get("total"))
        - dec(note.get("total_credits_used"))
        - dec(note.get("total_refunded_amount"))
    )
    note["balance"] = money(balance)
    if note.get("status") in ("open", "closed"):
        note["status"] = "closed" if balance == 0 else "open"
    return note


def record_credit(
    store: InvoiceStore,
    org: str,
    note: Doc,
    invoice: Doc,
    amount: Decimal,
    *,
    day: str,
    stamp: str,
) -> Doc:
    """Apply ``amount`` of ``note`` to ``invoice`` (both already checked); returns the credit."""
    credit: Doc = {
        "creditnote_invoice_id": store.new_ids()[0],
        "creditnote_id": note["creditnote_id"],
        "creditnote_number": note["creditnote_number"],
        "invoice_id": invoice["invoice_id"],
        "invoice_number": invoice["invoice_number"],
        "customer_id": invoice["customer_id"],
        "date": day,
        "amount_applied": money(amount),
        "created_time": stamp,
        "last_modified_time": stamp,
    }
    with store.transaction():
        store.insert(CREDIT_APPLICATIONS, org, credit)
        note["total_credits_used"] = money(dec(note.get("total_credits_used")) + amount)
        note["last_modified_time"] = stamp
        store.replace(CREDIT_NOTES, org, settle_note(note))
        invoice["credits_applied"] = money(dec(invoice.get("credits_applied")) + amount)
        invoice["last_modified_time"] = stamp
        store.replace(INVOICES, org, settle_invoice(invoice))
    return credit


def remove_credit(store: InvoiceStore, org: str, credit: Doc, *, stamp: str) -> None:
    """Take a credit back: its amount returns to the credit note and to the invoice's balance."""
    amount = dec(credit["amount_applied"])
    with store.transaction():
        store.delete(CREDIT_APPLICATIONS, org, credit["creditnote_invoice_id"])
        note = store.get(CREDIT_NOTES, org, credit["creditnote_id"])
        if note is not None:
            note["total_credits_used"] = money(dec(note.get("total_credits_used")) - amount)
            note["last_modified_time"] = stamp
            store.replace(CREDIT_NOTES, org, settle_note(note))
        invoice = store.get(INVOICES, org, credit["invoice_id"])
        if invoice is not None:
            invoice["credits_applied"] = money(dec(invoice.get("credits_applied")) - amount)
            invoice["last_modified_time"] = stamp
            store.replace(INVOICES, org, settle_invoice(invoice))


def release_invoice_credits(store: InvoiceStore, org: str, invoice_id: str, *, stamp: str) -> None:
    """Voiding an invoice gives its credits back to their credit notes, as Zoho does."""
    with store.transaction():
        for credit in credits_of_invoice(store, org, invoice_id):
            remove_credit(store, org, credit, stamp=stamp)
