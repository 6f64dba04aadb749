"""Recurring invoices: a profile that makes an invoice every ``repeat_every``
``recurrence_frequency`` (``days``, ``weeks``, ``months`` or ``years``) from ``start_date`` to
``end_date``; ``status`` is ``active``, ``stopped`` or ``expired``."""

from __future__ import annotations

import datetime as dt

from pydantic import Field

from ._base import Money, ZohoDate, ZohoDateTime, ZohoID, ZohoModel, ZohoParams
from ._models import LineItem
from ._params import LineItemParams

__all__ = ["RecurringInvoice", "RecurringInvoiceParams"]


class RecurringInvoice(ZohoModel):
    recurring_invoice_id: ZohoID
    recurrence_name: str | None = None
    status: str | None = None
    customer_id: ZohoID | None = None
    customer_name: str | None = None
    reference_number: str | None = None
    currency_id: ZohoID | None = None
    currency_code: str | None = None
    recurrence_frequency: str | None = None
    repeat_every: int | None = None
    start_date: ZohoDate = None
    end_date: ZohoDate = None
    last_sent_date: ZohoDate = None
    next_invoice_date: ZohoDate = None
    payment_terms: int | None = None
    sub_total: Money = None
    tax_total: Money = None
    total: Money = None
    line_items: list[LineItem] = Field(default_factory=list)
    created_time: ZohoDateTime = None
    last_modified_time: ZohoDateTime = None


class RecurringInvoiceParams(ZohoParams):
    recurrence_name: str | None = None
    customer_id: str | None = None
    recurrence_frequency: str | None = None
    repeat_every: int | None = None
    start_date: dt.date | None = None
    end_date: dt.date | None = None
    reference_number: str | None = None
    payment_terms: int | None = None
    line_items: list[LineItemParams] | None = None
    notes: str | None = None
    terms: str | None = None
