"""The mirror's tables (issue 10), beside the vault's own on the same ``Base``: one table per Zoho
resource (``zoho_invoices`` ...), the sync state per (connection, organization, resource), the
change feed and the sync leases. Migration 0008 creates them.

Every resource table has the same spine - ``connection_id``, ``organization_id``, ``id`` (Zoho's
id, text: ids pass 2**53), ``created_time``, ``last_modified_time``, ``deleted_at``,
``synced_at``, ``data`` (Zoho's JSON of the record), ``level`` (``list``: the list row's fields;
``detail``: the whole record) with ``detail_modified_time`` (the ``last_modified_time`` the detail
was read at) and ``detail_read_at`` - and typed columns people query by, copied from ``data`` on
every write (``TypedColumn``): money as exact decimals, dates as dates. The primary key
(connection, organization, id) is the unique key every upsert lands on.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any, Literal

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    Date,
    Dialect,
    Index,
    Integer,
    Numeric,
    PrimaryKeyConstraint,
    String,
    Text,
    TypeDecorator,
    false,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column
from sqlalchemy.types import TypeEngine

from ._models import Base, UTCDateTime

__all__ = [
    "MIRROR_TABLES",
    "ExactDecimal",
    "MirrorChangeRow",
    "MirrorLeaseRow",
    "MirrorRow",
    "MirrorStateRow",
    "TypedColumn",
]

#: Exact decimals: 20 digits, 6 after the point (Zoho's amounts have 2, its rates up to 6).
_PRECISION, _SCALE = 20, 6


class ExactDecimal(TypeDecorator[Decimal]):
    """``Decimal`` in and out: PostgreSQL ``numeric(20, 6)``, exact. SQLite has no decimal type:
    the column is declared ``NUMERIC`` (so ``SUM``, ``>`` and ``ORDER BY`` compare numbers) and the
    value is given as its text, which SQLite keeps exactly up to 15 significant digits; the
    record's ``data`` JSON keeps Zoho's exact value in every case."""

    impl = Numeric(_PRECISION, _SCALE)
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        if dialect.name == "sqlite":
            return dialect.type_descriptor(Numeric(_PRECISION, _SCALE, asdecimal=False))
        return dialect.type_descriptor(Numeric(_PRECISION, _SCALE))

    def process_bind_param(self, value: Decimal | None, dialect: Dialect) -> Any:
        if value is None:
            return None
        return str(value) if dialect.name == "sqlite" else value

    def process_result_value(self, value: Any, dialect: Dialect) -> Decimal | None:
        if value is None:
            return None
        return value if isinstance(value, Decimal) else Decimal(str(value))


#: Zoho's record as JSON: ``jsonb`` on PostgreSQL (indexable, ``->>`` in queries), JSON text else.
RecordJSON = JSON().with_variant(JSONB(), "postgresql")

ColumnKind = Literal["text", "date", "money", "time"]


@dataclass(frozen=True, slots=True)
class TypedColumn:
    """A column copied from the record's JSON key of the same name on every write."""

    name: str
    kind: ColumnKind


class MirrorRow(Base):
    """The spine every mirror table shares (an abstract base: no table of its own)."""

    __abstract__ = True
    #: the typed columns of the table, copied from ``data``
    typed: tuple[TypedColumn, ...] = ()
    #: the resource name (``invoices``) and Zoho's id key in a record (``invoice_id``)
    resource: str = ""
    id_key: str = ""
    #: Derived fields: a change of ``derived_fields`` (or an add, a delete) of a row of this
    #: table moves fields of the ``derived_into`` row named by ``derived_key`` without Zoho
    #: stamping it (a customer's ``outstanding_receivable_amount`` after an invoice is sent):
    #: that row is marked ``stale`` and its detail read again.
    derived_into: str | None = None
    derived_key: str = "customer_id"
    derived_fields: tuple[str, ...] = ()

    connection_id: Mapped[str] = mapped_column(String(32))
    organization_id: Mapped[str] = mapped_column(String(64))
    id: Mapped[str] = mapped_column(String(64))
    created_time: Mapped[datetime | None] = mapped_column(UTCDateTime())
    last_modified_time: Mapped[datetime | None] = mapped_column(UTCDateTime())
    deleted_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    synced_at: Mapped[datetime] = mapped_column(UTCDateTime())
    level: Mapped[str] = mapped_column(String(8))
    detail_modified_time: Mapped[datetime | None] = mapped_column(UTCDateTime())
    detail_read_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    #: the detail is held but known to be out of date (a derived field moved): read it again
    stale: Mapped[bool] = mapped_column(Boolean(), default=False, server_default=false())
    data: Mapped[dict[str, Any]] = mapped_column(RecordJSON)


def _spine(table: str, *indexes: Index) -> tuple[Any, ...]:
    """Primary key, level check and the indexes every table has (by modification time; live rows
    by creation for pages), then the table's own."""
    return (
        PrimaryKeyConstraint("connection_id", "organization_id", "id", name=f"pk_{table}"),
        CheckConstraint("level IN ('list', 'detail')", name="level_known"),
        Index(f"ix_{table}_modified", "connection_id", "organization_id", "last_modified_time"),
        Index(f"ix_{table}_created", "connection_id", "organization_id", "created_time"),
        *indexes,
    )


def _by(table: str, *columns: str) -> Index:
    return Index(f"ix_{table}_{'_'.join(columns)}", "connection_id", "organization_id", *columns)


class ZohoInvoiceRow(MirrorRow):
    __tablename__ = "zoho_invoices"
    __table_args__ = _spine(
        __tablename__,
        _by(__tablename__, "customer_id", "status"),
        _by(__tablename__, "status", "due_date"),
        _by(__tablename__, "date"),
        _by(__tablename__, "invoice_number"),
    )
    resource = "invoices"
    id_key = "invoice_id"
    derived_into = "contacts"
    derived_fields = ("customer_id", "status", "total", "balance", "payment_made", "payments")
    typed = (
        TypedColumn("invoice_number", "text"),
        TypedColumn("status", "text"),
        TypedColumn("customer_id", "text"),
        TypedColumn("customer_name", "text"),
        TypedColumn("date", "date"),
        TypedColumn("due_date", "date"),
        TypedColumn("currency_code", "text"),
        TypedColumn("total", "money"),
        TypedColumn("balance", "money"),
    )
    invoice_number: Mapped[str | None] = mapped_column(String(100))
    status: Mapped[str | None] = mapped_column(String(32))
    customer_id: Mapped[str | None] = mapped_column(String(64))
    customer_name: Mapped[str | None] = mapped_column(String(255))
    date: Mapped[dt.date | None] = mapped_column(Date())
    due_date: Mapped[dt.date | None] = mapped_column(Date())
    currency_code: Mapped[str | None] = mapped_column(String(8))
    total: Mapped[Decimal | None] = mapped_column(ExactDecimal())
    balance: Mapped[Decimal | None] = mapped_column(ExactDecimal())


class ZohoContactRow(MirrorRow):
    __tablename__ = "zoho_contacts"
    __table_args__ = _spine(
        __tablename__,
        _by(__tablename__, "contact_name"),
        _by(__tablename__, "email"),
    )
    resource = "contacts"
    id_key = "contact_id"
    typed = (
        TypedColumn("contact_name", "text"),
        TypedColumn("company_name", "text"),
        TypedColumn("contact_type", "text"),
        TypedColumn("status", "text"),
        TypedColumn("email", "text"),
        TypedColumn("currency_code", "text"),
        TypedColumn("outstanding_receivable_amount", "money"),
    )
    contact_name: Mapped[str | None] = mapped_column(String(255))
    company_name: Mapped[str | None] = mapped_column(String(255))
    contact_type: Mapped[str | None] = mapped_column(String(32))
    status: Mapped[str | None] = mapped_column(String(32))
    email: Mapped[str | None] = mapped_column(String(255))
    currency_code: Mapped[str | None] = mapped_column(String(8))
    outstanding_receivable_amount: Mapped[Decimal | None] = mapped_column(ExactDecimal())


class ZohoItemRow(MirrorRow):
    __tablename__ = "zoho_items"
    __table_args__ = _spine(__tablename__, _by(__tablename__, "name"), _by(__tablename__, "sku"))
    resource = "items"
    id_key = "item_id"
    typed = (
        TypedColumn("name", "text"),
        TypedColumn("sku", "text"),
        TypedColumn("status", "text"),
        TypedColumn("unit", "text"),
        TypedColumn("rate", "money"),
    )
    name: Mapped[str | None] = mapped_column(String(255))
    sku: Mapped[str | None] = mapped_column(String(100))
    status: Mapped[str | None] = mapped_column(String(32))
    unit: Mapped[str | None] = mapped_column(String(64))
    rate: Mapped[Decimal | None] = mapped_column(ExactDecimal())


class ZohoEstimateRow(MirrorRow):
    __tablename__ = "zoho_estimates"
    __table_args__ = _spine(
        __tablename__,
        _by(__tablename__, "customer_id", "status"),
        _by(__tablename__, "date"),
        _by(__tablename__, "estimate_number"),
    )
    resource = "estimates"
    id_key = "estimate_id"
    typed = (
        TypedColumn("estimate_number", "text"),
        TypedColumn("status", "text"),
        TypedColumn("customer_id", "text"),
        TypedColumn("customer_name", "text"),
        TypedColumn("date", "date"),
        TypedColumn("expiry_date", "date"),
        TypedColumn("currency_code", "text"),
        TypedColumn("total", "money"),
    )
    estimate_number: Mapped[str | None] = mapped_column(String(100))
    status: Mapped[str | None] = mapped_column(String(32))
    customer_id: Mapped[str | None] = mapped_column(String(64))
    customer_name: Mapped[str | None] = mapped_column(String(255))
    date: Mapped[dt.date | None] = mapped_column(Date())
    expiry_date: Mapped[dt.date | None] = mapped_column(Date())
    currency_code: Mapped[str | None] = mapped_column(String(8))
    total: Mapped[Decimal | None] = mapped_column(ExactDecimal())


class ZohoCustomerPaymentRow(MirrorRow):
    __tablename__ = "zoho_customer_payments"
    __table_args__ = _spine(
        __tablename__,
        _by(__tablename__, "customer_id", "date"),
        _by(__tablename__, "date"),
    )
    resource = "customer_payments"
    id_key = "payment_id"
    derived_into = "contacts"
    derived_fields = ("customer_id", "amount", "unused_amount", "invoices")
    typed = (
        TypedColumn("payment_number", "text"),
        TypedColumn("customer_id", "text"),
        TypedColumn("customer_name", "text"),
        TypedColumn("payment_mode", "text"),
        TypedColumn("reference_number", "text"),
        TypedColumn("date", "date"),
        TypedColumn("currency_code", "text"),
        TypedColumn("amount", "money"),
        TypedColumn("unused_amount", "money"),
    )
    payment_number: Mapped[str | None] = mapped_column(String(100))
    customer_id: Mapped[str | None] = mapped_column(String(64))
    customer_name: Mapped[str | None] = mapped_column(String(255))
    payment_mode: Mapped[str | None] = mapped_column(String(64))
    reference_number: Mapped[str | None] = mapped_column(String(100))
    date: Mapped[dt.date | None] = mapped_column(Date())
    currency_code: Mapped[str | None] = mapped_column(String(8))
    amount: Mapped[Decimal | None] = mapped_column(ExactDecimal())
    unused_amount: Mapped[Decimal | None] = mapped_column(ExactDecimal())


class ZohoCreditNoteRow(MirrorRow):
    __tablename__ = "zoho_credit_notes"
    __table_args__ = _spine(
        __tablename__,
        _by(__tablename__, "customer_id", "status"),
        _by(__tablename__, "date"),
        _by(__tablename__, "creditnote_number"),
    )
    resource = "credit_notes"
    id_key = "creditnote_id"
    derived_into = "contacts"
    derived_fields = ("customer_id", "status", "total", "balance", "invoices_credited")
    typed = (
        TypedColumn("creditnote_number", "text"),
        TypedColumn("status", "text"),
        TypedColumn("customer_id", "text"),
        TypedColumn("customer_name", "text"),
        TypedColumn("date", "date"),
        TypedColumn("currency_code", "text"),
        TypedColumn("total", "money"),
        TypedColumn("balance", "money"),
    )
    creditnote_number: Mapped[str | None] = mapped_column(String(100))
    status: Mapped[str | None] = mapped_column(String(32))
    customer_id: Mapped[str | None] = mapped_column(String(64))
    customer_name: Mapped[str | None] = mapped_column(String(255))
    date: Mapped[dt.date | None] = mapped_column(Date())
    currency_code: Mapped[str | None] = mapped_column(String(8))
    total: Mapped[Decimal | None] = mapped_column(ExactDecimal())
    balance: Mapped[Decimal | None] = mapped_column(ExactDecimal())


class ZohoRecurringInvoiceRow(MirrorRow):
    __tablename__ = "zoho_recurring_invoices"
    __table_args__ = _spine(
        __tablename__,
        _by(__tablename__, "customer_id", "status"),
        _by(__tablename__, "status", "next_invoice_date"),
    )
    resource = "recurring_invoices"
    id_key = "recurring_invoice_id"
    typed = (
        TypedColumn("recurrence_name", "text"),
        TypedColumn("status", "text"),
        TypedColumn("customer_id", "text"),
        TypedColumn("customer_name", "text"),
        TypedColumn("recurrence_frequency", "text"),
        TypedColumn("start_date", "date"),
        TypedColumn("end_date", "date"),
        TypedColumn("next_invoice_date", "date"),
        TypedColumn("currency_code", "text"),
        TypedColumn("total", "money"),
    )
    recurrence_name: Mapped[str | None] = mapped_column(String(255))
    status: Mapped[str | None] = mapped_column(String(32))
    customer_id: Mapped[str | None] = mapped_column(String(64))
    customer_name: Mapped[str | None] = mapped_column(String(255))
    recurrence_frequency: Mapped[str | None] = mapped_column(String(32))
    start_date: Mapped[dt.date | None] = mapped_column(Date())
    end_date: Mapped[dt.date | None] = mapped_column(Date())
    next_invoice_date: Mapped[dt.date | None] = mapped_column(Date())
    currency_code: Mapped[str | None] = mapped_column(String(8))
    total: Mapped[Decimal | None] = mapped_column(ExactDecimal())


#: resource name → its table's mapped class
MIRROR_TABLES: dict[str, type[MirrorRow]] = {
    row.resource: row
    for row in (
        ZohoInvoiceRow,
        ZohoContactRow,
        ZohoItemRow,
        ZohoEstimateRow,
        ZohoCustomerPaymentRow,
        ZohoCreditNoteRow,
        ZohoRecurringInvoiceRow,
    )
}


class MirrorStateRow(Base):
    """The sync state of one resource of one (connection, organization).

    ``cursor``: records modified at or after it are what the next run lists (``None``: all);
    ``run_*``: the run in progress (its window start, its cursor, the next page to read, whether
    its listing was resumed after a gap); ``needs_reconcile``: the next sync reconciles;
    ``sort_column``: the order the list accepted (``created_time``, or ``""`` for its default);
    ``tz_offset``: the organization's UTC offset as Zoho's timestamps carry it (``-0700``).
    """

    __tablename__ = "zoho_sync_state"
    __table_args__ = (
        PrimaryKeyConstraint(
            "connection_id", "organization_id", "resource", name="pk_zoho_sync_state"
        ),
    )

    connection_id: Mapped[str] = mapped_column(String(32))
    organization_id: Mapped[str] = mapped_column(String(64))
    resource: Mapped[str] = mapped_column(String(32))
    cursor: Mapped[datetime | None] = mapped_column(UTCDateTime())
    tz_offset: Mapped[str | None] = mapped_column(String(8))
    sort_column: Mapped[str | None] = mapped_column(String(32))
    run_started_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    run_cursor: Mapped[datetime | None] = mapped_column(UTCDateTime())
    run_page: Mapped[int | None] = mapped_column(Integer())
    run_resumed: Mapped[bool] = mapped_column(Boolean(), default=False)
    needs_reconcile: Mapped[bool] = mapped_column(Boolean(), default=False)
    last_run_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    last_success_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    last_reconciled_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    added: Mapped[int] = mapped_column(Integer(), default=0)
    updated: Mapped[int] = mapped_column(Integer(), default=0)
    deleted: Mapped[int] = mapped_column(Integer(), default=0)
    error: Mapped[str | None] = mapped_column(Text())


class MirrorChangeRow(Base):
    """One entry of the change feed; ``seq`` only grows (the database's sequence)."""

    __tablename__ = "zoho_changes"
    __table_args__ = (
        Index("ix_zoho_changes_connection_seq", "connection_id", "seq"),
        CheckConstraint("kind IN ('added', 'updated', 'deleted')", name="kind_known"),
        # AUTOINCREMENT: SQLite never reuses a seq, even after the newest rows are purged.
        {"sqlite_autoincrement": True},
    )

    seq: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer(), "sqlite"), primary_key=True, autoincrement=True
    )
    connection_id: Mapped[str] = mapped_column(String(32))
    organization_id: Mapped[str] = mapped_column(String(64))
    resource: Mapped[str] = mapped_column(String(32))
    record_id: Mapped[str] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(8))
    at: Mapped[datetime] = mapped_column(UTCDateTime())


class MirrorLeaseRow(Base):
    """The sync lease of a connection (rule 5): its holder, a fence that grows with every new
    holder, and when it ends unless renewed."""

    __tablename__ = "zoho_sync_leases"

    connection_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    holder: Mapped[str] = mapped_column(String(64))
    fence: Mapped[int] = mapped_column(Integer())
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
