"""Credit notes, their refunds, and credits on invoices (answers and request bodies).

Key names are Zoho's, which differ by side: a credit seen from its credit note is a
``creditnote_invoice_id`` with a ``credited_amount``; the same credit seen from the invoice is a
``creditnotes_invoice_id`` with an ``amount_applied`` (docs/zoho/credits-recurring.md).
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from pydantic import Field

from ._base import Money, ZohoDate, ZohoDateTime, ZohoID, ZohoModel, ZohoParams
from ._models import LineItem
from ._params import LineItemParams

__all__ = [
    "AppliedCredit",
    "CreditNote",
    "CreditNoteApplication",
    "CreditNoteCreditParams",
    "CreditNoteParams",
    "CreditNoteRefund",
    "CreditNoteRefundParams",
    "CreditNoteUse",
    "InvoiceAmountApplied",
    "InvoiceCreditParams",
    "InvoiceCredited",
    "InvoicePaymentCreditParams",
    "InvoicePaymentUse",
    "UseCredits",
]


class InvoiceCredited(ZohoModel):
    """One credit of a credit note on an invoice (``GET /creditnotes/{id}/invoices``)."""

    creditnote_invoice_id: ZohoID
    creditnote_id: ZohoID | None = None
    invoice_id: ZohoID | None = None
    invoice_number: str | None = None
    creditnote_number: str | None = None
    date: ZohoDate = None
    credited_amount: Money = None


class CreditNoteRefund(ZohoModel):
    """Money paid back to the customer from a credit note's balance."""

    creditnote_refund_id: ZohoID
    creditnote_id: ZohoID | None = None
    creditnote_number: str | None = None
    customer_name: str | None = None
    date: ZohoDate = None
    refund_mode: str | None = None
    reference_number: str | None = None
    amount: Money = None
    amount_bcy: Money = None
    amount_fcy: Money = None
    exchange_rate: Money = None
    from_account_id: ZohoID | None = None
    from_account_name: str | None = None
    description: str | None = None


class CreditNote(ZohoModel):
    """A credit note: ``open`` while it has a ``balance``, ``closed`` once used up, ``void`` or
    ``draft``; ``balance = total - total_credits_used - total_refunded_amount``.
    """

    creditnote_id: ZohoID
    creditnote_number: str | None = None
    status: str | None = None
    date: ZohoDate = None
    customer_id: ZohoID | None = None
    customer_name: str | None = None
    reference_number: str | None = None
    invoice_id: ZohoID | None = None
    currency_id: ZohoID | None = None
    currency_code: str | None = None
    exchange_rate: Money = None
    sub_total: Money = None
    tax_total: Money = None
    total: Money = None
    total_credits_used: Money = None
    total_refunded_amount: Money = None
    balance: Money = None
    is_emailed: bool | None = None
    line_items: list[LineItem] = Field(default_factory=list)
    invoices_credited: list[InvoiceCredited] = Field(default_factory=list)
    creditnote_refunds: list[CreditNoteRefund] = Field(default_factory=list)
    created_time: ZohoDateTime = None
    last_modified_time: ZohoDateTime = None


class InvoiceAmountApplied(ZohoModel):
    invoice_id: ZohoID
    amount_applied: Money = None


class CreditNoteApplication(ZohoModel):
    """What ``POST /creditnotes/{id}/invoices`` applied (its ``apply_to_invoices``)."""

    invoices: list[InvoiceAmountApplied] = Field(default_factory=list)


class AppliedCredit(ZohoModel):
    """One credit on an invoice (``GET /invoices/{id}/creditsapplied``)."""

    creditnotes_invoice_id: ZohoID
    creditnote_id: ZohoID | None = None
    creditnotes_number: str | None = None
    credited_date: ZohoDate = None
    amount_applied: Money = None


class CreditNoteUse(ZohoModel):
    creditnotes_invoice_id: ZohoID
    creditnote_id: ZohoID | None = None
    invoice_id: ZohoID | None = None
    amount_applied: Money = None


class InvoicePaymentUse(ZohoModel):
    invoice_payment_id: ZohoID | None = None
    payment_id: ZohoID | None = None
    invoice_id: ZohoID | None = None
    amount_used: Money = None


class UseCredits(ZohoModel):
    """What ``POST /invoices/{id}/credits`` applied (its ``use_credits``)."""

    invoice_payments: list[InvoicePaymentUse] = Field(default_factory=list)
    apply_creditnotes: list[CreditNoteUse] = Field(default_factory=list)


# -- request bodies ------------------------------------------------------------------------------


class CreditNoteParams(ZohoParams):
    """A new or changed credit note; ``is_draft=True`` keeps it a draft (else it opens)."""

    customer_id: str | None = None
    creditnote_number: str | None = None
    reference_number: str | None = None
    date: dt.date | None = None
    is_draft: bool | None = None
    line_items: list[LineItemParams] | None = None
    notes: str | None = None
    terms: str | None = None


class CreditNoteRefundParams(ZohoParams):
    amount: Decimal | None = None
    date: dt.date | None = None
    refund_mode: str | None = None
    reference_number: str | None = None
    exchange_rate: Decimal | None = None
    from_account_id: str | None = None
    description: str | None = None


class InvoiceCreditParams(ZohoParams):
    """One invoice to credit from a credit note."""

    invoice_id: str
    amount_applied: Decimal


class CreditNoteCreditParams(ZohoParams):
    """One credit note to use on an invoice."""

    creditnote_id: str
    amount_applied: Decimal


class InvoicePaymentCreditParams(ZohoParams):
    """Part of a payment's unused amount to use on an invoice."""

    payment_id: str
    amount_applied: Decimal
