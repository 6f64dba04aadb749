"""What each simulated resource stores, and which of its fields can be filtered and sorted.

A resource is a table holding the whole JSON document plus one column per field that lists
filter or sort on, so that paging through 20,000 invoices stays an indexed SQL query.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

FieldKind = Literal["text", "date", "number", "time"]


@dataclass(frozen=True, slots=True)
class Field:
    """A document field copied into its own column (same name) for filters and sorting."""

    name: str
    kind: FieldKind
    index: bool = False


@dataclass(frozen=True, slots=True)
class Resource:
    table: str
    singular: str
    plural: str
    id_field: str
    label: str
    area: str
    fields: tuple[Field, ...]
    search: tuple[str, ...]
    default_sort: str
    default_order: Literal["A", "D"]
    #: Fields left out of list answers (Zoho lists carry summaries, not whole documents).
    summary_exclude: frozenset[str] = frozenset()

    def field(self, name: str) -> Field | None:
        for field in self.fields:
            if field.name == name:
                return field
        return None


_TIMES = (
    Field("created_time", "time", index=True),
    Field("last_modified_time", "time", index=True),
)

CONTACTS = Resource(
    table="contacts",
    singular="contact",
    plural="contacts",
    id_field="contact_id",
    label="Contact",
    area="contacts",
    fields=(
        Field("contact_name", "text", index=True),
        Field("company_name", "text"),
        Field("email", "text"),
        Field("phone", "text"),
        Field("status", "text"),
        Field("contact_type", "text"),
        *_TIMES,
    ),
    search=("contact_name", "company_name", "email"),
    default_sort="contact_name",
    default_order="A",
    summary_exclude=frozenset({"billing_address", "contact_persons", "notes"}),
)

ITEMS = Resource(
    table="items",
    singular="item",
    plural="items",
    id_field="item_id",
    label="Item",
    area="settings",
    fields=(
        Field("name", "text", index=True),
        Field("sku", "text"),
        Field("rate", "number"),
        Field("status", "text"),
        Field("description", "text"),
        *_TIMES,
    ),
    search=("name", "sku", "description"),
    default_sort="name",
    default_order="A",
)

INVOICES = Resource(
    table="invoices",
    singular="invoice",
    plural="invoices",
    id_field="invoice_id",
    label="Invoice",
    area="invoices",
    fields=(
        Field("invoice_number", "text", index=True),
        Field("customer_id", "text", index=True),
        Field("customer_name", "text", index=True),
        Field("reference_number", "text"),
        Field("date", "date", index=True),
        Field("due_date", "date", index=True),
        Field("status", "text", index=True),
        Field("total", "number", index=True),
        Field("balance", "number"),
        Field("payment_made", "number"),
        *_TIMES,
    ),
    search=("invoice_number", "customer_name", "reference_number"),
    default_sort="created_time",
    default_order="D",
    summary_exclude=frozenset(
        {"line_items", "notes", "terms", "billing_address", "payments", "taxes"}
    ),
)

ESTIMATES = Resource(
    table="estimates",
    singular="estimate",
    plural="estimates",
    id_field="estimate_id",
    label="Estimate",
    area="estimates",
    fields=(
        Field("estimate_number", "text", index=True),
        Field("customer_id", "text"),
        Field("customer_name", "text"),
        Field("reference_number", "text"),
        Field("date", "date", index=True),
        Field("expiry_date", "date"),
        Field("status", "text"),
        Field("total", "number"),
        *_TIMES,
    ),
    search=("estimate_number", "customer_name", "reference_number"),
    default_sort="created_time",
    default_order="D",
    summary_exclude=frozenset({"line_items", "notes", "terms", "taxes"}),
)

PAYMENTS = Resource(
    table="customerpayments",
    singular="payment",
    plural="customerpayments",
    id_field="payment_id",
    label="Payment",
    area="customerpayments",
    fields=(
        Field("payment_number", "text"),
        Field("customer_id", "text"),
        Field("customer_name", "text"),
        Field("reference_number", "text"),
        Field("payment_mode", "text"),
        Field("date", "date", index=True),
        Field("amount", "number"),
        *_TIMES,
    ),
    search=("payment_number", "customer_name", "reference_number"),
    default_sort="created_time",
    default_order="D",
)

RESOURCES = (CONTACTS, ITEMS, INVOICES, ESTIMATES, PAYMENTS)
