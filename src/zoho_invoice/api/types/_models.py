"""Response models of the Zoho Invoice API (v3).

Only the fields most callers need are declared; every other field Zoho sends is kept in
``model_extra`` and reachable as an attribute.
"""

from __future__ import annotations

from typing import Any

from pydantic import Field, model_validator

from ._base import Discount, Money, ZohoDate, ZohoDateTime, ZohoID, ZohoModel
from ._custom_fields import HasCustomFields


class PageContext(ZohoModel):
    """Where a page sits in its list, and what Zoho applied to the list.

    ``report_name`` ("Invoices"), ``applied_filter`` (the ``filter_by`` in force, "Status.All"
    by default), the sort, and ``search_criteria`` (one entry per filter parameter:
    ``column_name``, ``search_text``, ``comparator``). Anything else Zoho adds is kept.
    """

    page: int = 1
    per_page: int = 200
    has_more_page: bool = False
    report_name: str | None = None
    applied_filter: str | None = None
    sort_column: str | None = None
    sort_order: str | None = None
    search_criteria: list[dict[str, Any]] = Field(default_factory=list)

    @model_validator(mode="before")
    @classmethod
    def _one_of_a_list(cls, value: Any) -> Any:
        # Zoho's list pages print page_context as a list of one object; real answers send the
        # object. Both read the same.
        if isinstance(value, list) and len(value) == 1 and isinstance(value[0], dict):
            return value[0]
        return value


class Organization(ZohoModel):
    organization_id: ZohoID
    name: str | None = None
    currency_code: str | None = None
    is_default_org: bool | None = None
    time_zone: str | None = None


class User(ZohoModel):
    """A Zoho Invoice user of an organization (``GET /users/me`` answers the token's own)."""

    user_id: ZohoID
    name: str | None = None
    email: str | None = None
    user_role: str | None = None
    status: str | None = None
    is_current_user: bool | None = None


class ContactPerson(ZohoModel):
    """A person at a contact; invoices are e-mailed to the primary one unless others are named.

    Zoho's Invoice docs print ``phone`` and ``mobile`` as numbers in one example: read as text.
    """

    contact_person_id: ZohoID | None = None
    contact_id: ZohoID | None = None
    salutation: str | None = None
    first_name: str | None = None
    last_name: str | None = None
    email: str | None = None
    phone: ZohoID | None = None
    mobile: ZohoID | None = None
    designation: str | None = None
    department: str | None = None
    is_primary_contact: bool | None = None
    is_added_in_portal: bool | None = None


class Contact(HasCustomFields):
    contact_id: ZohoID
    contact_name: str | None = None
    company_name: str | None = None
    contact_type: str | None = None
    status: str | None = None
    email: str | None = None
    currency_id: ZohoID | None = None
    currency_code: str | None = None
    outstanding_receivable_amount: Money = None
    contact_persons: list[ContactPerson] = Field(default_factory=list)
    created_time: ZohoDateTime = None
    last_modified_time: ZohoDateTime = None


class Item(HasCustomFields):
    item_id: ZohoID
    name: str | None = None
    status: str | None = None
    description: str | None = None
    rate: Money = None
    unit: str | None = None
    sku: str | None = None
    created_time: ZohoDateTime = None
    last_modified_time: ZohoDateTime = None


class LineItem(ZohoModel):
    line_item_id: ZohoID | None = None
    item_id: ZohoID | None = None
    name: str | None = None
    description: str | None = None
    quantity: Money = None
    rate: Money = None
    #: An amount (``Decimal("190")``) or a percentage of rate x quantity (``"12.5%"``).
    discount: Discount = None
    tax_id: ZohoID | None = None
    tax_name: str | None = None
    tax_type: str | None = None
    tax_percentage: Money = None
    item_total: Money = None


class Invoice(HasCustomFields):
    invoice_id: ZohoID
    invoice_number: str | None = None
    status: str | None = None
    customer_id: ZohoID | None = None
    customer_name: str | None = None
    date: ZohoDate = None
    due_date: ZohoDate = None
    currency_code: str | None = None
    sub_total: Money = None
    tax_total: Money = None
    discount_total: Money = None
    shipping_charge: Money = None
    adjustment: Money = None
    total: Money = None
    payment_made: Money = None
    balance: Money = None
    reference_number: str | None = None
    line_items: list[LineItem] = Field(default_factory=list)
    created_time: ZohoDateTime = None
    last_modified_time: ZohoDateTime = None


class Estimate(HasCustomFields):
    estimate_id: ZohoID
    estimate_number: str | None = None
    status: str | None = None
    customer_id: ZohoID | None = None
    customer_name: str | None = None
    date: ZohoDate = None
    expiry_date: ZohoDate = None
    currency_code: str | None = None
    sub_total: Money = None
    tax_total: Money = None
    discount_total: Money = None
    shipping_charge: Money = None
    adjustment: Money = None
    total: Money = None
    line_items: list[LineItem] = Field(default_factory=list)
    created_time: ZohoDateTime = None
    last_modified_time: ZohoDateTime = None


class PaymentInvoice(ZohoModel):
    invoice_id: ZohoID
    amount_applied: Money = None
    invoice_number: str | None = None


class CustomerPayment(ZohoModel):
    payment_id: ZohoID
    customer_id: ZohoID | None = None
    customer_name: str | None = None
    payment_mode: str | None = None
    date: ZohoDate = None
    amount: Money = None
    unused_amount: Money = None
    reference_number: str | None = None
    invoices: list[PaymentInvoice] = Field(default_factory=list)
    created_time: ZohoDateTime = None
    last_modified_time: ZohoDateTime = None
