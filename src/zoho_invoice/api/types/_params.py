"""Request bodies. Each accepts any further field Zoho knows (``extra="allow"``)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from pydantic import Field

from ._base import Discount, ZohoParams
from ._custom_fields import CustomFieldParams


class LineItemParams(ZohoParams):
    item_id: str | None = None
    name: str | None = None
    description: str | None = None
    quantity: Decimal | None = None
    rate: Decimal | None = None
    #: An amount (``Decimal("190")``) or a percentage of rate x quantity (``"12.5%"``).
    discount: Discount = None
    #: A tax or tax group of the organization; VAT and GST organizations want one on each line.
    tax_id: str | None = None


class ContactParams(ZohoParams):
    contact_name: str | None = None
    company_name: str | None = None
    contact_type: str | None = None
    email: str | None = None
    currency_id: str | None = None
    custom_fields: list[CustomFieldParams] | None = None


class ItemParams(ZohoParams):
    name: str | None = None
    rate: Decimal | None = None
    description: str | None = None
    sku: str | None = None
    unit: str | None = None
    custom_fields: list[CustomFieldParams] | None = None


class InvoiceParams(ZohoParams):
    customer_id: str | None = None
    invoice_number: str | None = None
    reference_number: str | None = None
    date: dt.date | None = None
    due_date: dt.date | None = None
    payment_expected_date: dt.date | None = None
    line_items: list[LineItemParams] | None = None
    custom_fields: list[CustomFieldParams] | None = None


class EstimateParams(ZohoParams):
    customer_id: str | None = None
    estimate_number: str | None = None
    reference_number: str | None = None
    date: dt.date | None = None
    expiry_date: dt.date | None = None
    line_items: list[LineItemParams] | None = None
    custom_fields: list[CustomFieldParams] | None = None


class PaymentInvoiceParams(ZohoParams):
    invoice_id: str
    amount_applied: Decimal


class CustomerPaymentParams(ZohoParams):
    customer_id: str | None = None
    payment_mode: str | None = None
    amount: Decimal | None = None
    date: dt.date | None = None
    reference_number: str | None = None
    invoices: list[PaymentInvoiceParams] = Field(default_factory=list)


class TaxParams(ZohoParams):
    """A tax to create or change (``tax_type``: ``"tax"`` or ``"compound_tax"``)."""

    tax_name: str | None = None
    tax_percentage: Decimal | None = None
    tax_type: str | None = None
    tax_specific_type: str | None = None
    tax_authority_name: str | None = None
    country_code: str | None = None
    is_value_added: bool | None = None


class ContactPersonParams(ZohoParams):
    """A contact person to create or change; ``first_name`` is the one field Zoho requires."""

    salutation: str | None = None
    first_name: str | None = None
    last_name: str | None = None
    email: str | None = None
    phone: str | None = None
    mobile: str | None = None
    designation: str | None = None
    department: str | None = None
