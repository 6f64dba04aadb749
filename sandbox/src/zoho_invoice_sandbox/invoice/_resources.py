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
        # The profile a child invoice came from (``GET /invoices?recurring_invoice_id=``).
        Field("recurring_invoice_id", "text", index=True),
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

CREDIT_NOTES = Resource(
    table="creditnotes",
    singular="creditnote",
    plural="creditnotes",
    id_field="creditnote_id",
    label="Credit Note",
    area="creditnotes",
    fields=(
        Field("creditnote_number", "text", index=True),
        Field("customer_id", "text", index=True),
        Field("customer_name", "text"),
        Field("reference_number", "text"),
        Field("date", "date", index=True),
        Field("status", "text"),
        Field("total", "number"),
        Field("balance", "number"),
        *_TIMES,
    ),
    search=("creditnote_number", "customer_name", "reference_number"),
    default_sort="created_time",
    default_order="D",
    summary_exclude=frozenset(
        {
            "line_items",
            "notes",
            "terms",
            "taxes",
            "billing_address",
            "shipping_address",
            "invoices_credited",
            "creditnote_refunds",
        }
    ),
)

#: One credit of a credit note on an invoice (Zoho's ``creditnote_invoice_id``).
CREDIT_APPLICATIONS = Resource(
    table="creditnote_invoices",
    singular="credit",
    plural="credits",
    id_field="creditnote_invoice_id",
    label="Credit",
    area="creditnotes",
    fields=(
        Field("creditnote_id", "text", index=True),
        Field("invoice_id", "text", index=True),
        Field("customer_id", "text"),
        Field("date", "date"),
        Field("amount_applied", "number"),
        *_TIMES,
    ),
    search=("creditnote_id", "invoice_id"),
    default_sort="created_time",
    default_order="A",
)

CREDIT_NOTE_REFUNDS = Resource(
    table="creditnote_refunds",
    singular="creditnote_refund",
    plural="creditnote_refunds",
    id_field="creditnote_refund_id",
    label="Refund",
    area="creditnotes",
    fields=(
        Field("creditnote_id", "text", index=True),
        Field("creditnote_number", "text"),
        Field("customer_id", "text"),
        Field("customer_name", "text"),
        Field("refund_mode", "text"),
        Field("reference_number", "text"),
        Field("date", "date", index=True),
        Field("amount_bcy", "number"),
        Field("amount_fcy", "number"),
        *_TIMES,
    ),
    search=("creditnote_number", "customer_name", "reference_number"),
    default_sort="created_time",
    default_order="D",
)

RECURRING_INVOICES = Resource(
    table="recurringinvoices",
    singular="recurring_invoice",
    plural="recurring_invoices",
    id_field="recurring_invoice_id",
    label="Recurring Invoice",
    area="invoices",
    fields=(
        Field("recurrence_name", "text", index=True),
        Field("customer_id", "text", index=True),
        Field("customer_name", "text"),
        Field("status", "text", index=True),
        Field("start_date", "date"),
        Field("end_date", "date"),
        Field("next_invoice_date", "date", index=True),
        Field("last_sent_date", "date"),
        Field("total", "number"),
        *_TIMES,
    ),
    search=("recurrence_name", "customer_name"),
    default_sort="created_time",
    default_order="D",
    summary_exclude=frozenset({"line_items", "notes", "terms", "taxes"}),
)

#: Taxes, compound taxes and tax groups (``tax_type`` ``"tax_group"``) share one id space, as
#: on Zoho, where a line's ``tax_id`` may name either.
TAXES = Resource(
    table="taxes",
    singular="tax",
    plural="taxes",
    id_field="tax_id",
    label="Tax",
    area="settings",
    fields=(Field("tax_name", "text", index=True), Field("tax_type", "text")),
    search=("tax_name",),
    default_sort="tax_name",
    default_order="A",
)

CURRENCIES = Resource(
    table="currencies",
    singular="currency",
    plural="currencies",
    id_field="currency_id",
    label="Currency",
    area="settings",
    fields=(Field("currency_code", "text", index=True),),
    search=("currency_code",),
    default_sort="currency_code",
    default_order="A",
)

#: A contact's persons, by id; the contact's document shows them too (``contact_persons``).
CONTACT_PERSONS = Resource(
    table="contactpersons",
    singular="contact_person",
    plural="contact_persons",
    id_field="contact_person_id",
    label="Contact person",
    area="contacts",
    fields=(Field("contact_id", "text", index=True),),
    search=("contact_id",),
    default_sort="contact_person_id",
    default_order="A",
)

RESOURCES = (
    CONTACTS,
    ITEMS,
    INVOICES,
    ESTIMATES,
    PAYMENTS,
    CREDIT_NOTES,
    CREDIT_APPLICATIONS,
    CREDIT_NOTE_REFUNDS,
    RECURRING_INVOICES,
    TAXES,
    CURRENCIES,
    CONTACT_PERSONS,
)
