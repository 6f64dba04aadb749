"""The Zoho mirror (issue 10): a table per resource (``zoho_invoices``, ``zoho_contacts``,
``zoho_items``, ``zoho_estimates``, ``zoho_customer_payments``, ``zoho_credit_notes``,
``zoho_recurring_invoices``) keyed by (connection, organization, Zoho's id), with typed columns
and their indexes; the sync state per (connection, organization, resource); the change feed; the
sync leases.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from zoho_invoice.vault._mirror_models import ExactDecimal
from zoho_invoice.vault._models import UTCDateTime

revision = "0008"
down_revision: str | None = "0007"
branch_labels: str | None = None
depends_on: str | None = None

#: table → (typed columns (name, kind, length), indexes (name suffix, columns))
_TABLES: dict[str, tuple[tuple[tuple[str, str, int], ...], tuple[tuple[str, ...], ...]]] = {
    "zoho_invoices": (
        (
            ("invoice_number", "text", 100),
            ("status", "text", 32),
            ("customer_id", "text", 64),
            ("customer_name", "text", 255),
            ("date", "date", 0),
            ("due_date", "date", 0),
            ("currency_code", "text", 8),
            ("total", "money", 0),
            ("balance", "money", 0),
        ),
        (("customer_id", "status"), ("status", "due_date"), ("date",), ("invoice_number",)),
    ),
    "zoho_contacts": (
        (
            ("contact_name", "text", 255),
            ("company_name", "text", 255),
            ("contact_type", "text", 32),
            ("status", "text", 32),
            ("email", "text", 255),
            ("currency_code", "text", 8),
            ("outstanding_receivable_amount", "money", 0),
        ),
        (("contact_name",), ("email",)),
    ),
    "zoho_items": (
        (
            ("name", "text", 255),
            ("sku", "text", 100),
            ("status", "text", 32),
            ("unit", "text", 64),
            ("rate", "money", 0),
        ),
        (("name",), ("sku",)),
    ),
    "zoho_estimates": (
        (
            ("estimate_number", "text", 100),
            ("status", "text", 32),
            ("customer_id", "text", 64),
            ("customer_name", "text", 255),
            ("date", "date", 0),
            ("expiry_date", "date", 0),
            ("currency_code", "text", 8),
            ("total", "money", 0),
        ),
        (("customer_id", "status"), ("date",), ("estimate_number",)),
    ),
    "zoho_customer_payments": (
        (
            ("payment_number", "text", 100),
            ("customer_id", "text", 64),
            ("customer_name", "text", 255),
            ("payment_mode", "text", 64),
            ("reference_number", "text", 100),
            ("date", "date", 0),
            ("currency_code", "text", 8),
            ("amount", "money", 0),
            ("unused_amount", "money", 0),
        ),
        (("customer_id", "date"), ("date",)),
    ),
    "zoho_credit_notes": (
        (
            ("creditnote_number", "text", 100),
            ("status", "text", 32),
            ("customer_id", "text", 64),
            ("customer_name", "text", 255),
            ("date", "date", 0),
            ("currency_code", "text", 8),
            ("total", "money", 0),
            ("balance", "money", 0),
        ),
        (("customer_id", "status"), ("date",), ("creditnote_number",)),
    ),
    "zoho_recurring_invoices": (
        (
            ("recurrence_name", "text", 255),
            ("status", "text", 32),
            ("customer_id", "text", 64),
            ("customer_name", "text", 255),
            ("recurrence_frequency", "text", 32),
            ("start_date", "date", 0),
            ("end_date", "date", 0),
            ("next_invoice_date", "date", 0),
            ("currency_code", "text", 8),
            ("total", "money", 0),
        ),
        (("customer_id", "status"), ("status", "next_invoice_date")),
    ),
}


def _typed(name: str, kind: str, length: int) -> sa.Column[object]:
    if kind == "text":
        return sa.Column(name, sa.String(length), nullable=True)
    if kind == "date":
        return sa.Column(name, sa.Date(), nullable=True)
    return sa.Column(name, ExactDecimal(20, 6), nullable=True)


def _spine() -> list[sa.Column[object]]:
    return [
        sa.Column("connection_id", sa.String(32), nullable=False),
        sa.Column("organization_id", sa.String(64), nullable=False),
        sa.Column("id", sa.String(64), nullable=False),
        sa.Column("created_time", UTCDateTime(), nullable=True),
        sa.Column("last_modified_time", UTCDateTime(), nullable=True),
        sa.Column("deleted_at", UTCDateTime(), nullable=True),
        sa.Column("synced_at", UTCDateTime(), nullable=False),
        sa.Column("level", sa.String(8), nullable=False),
        sa.Column("detail_modified_time", UTCDateTime(), nullable=True),
        sa.Column("detail_read_at", UTCDateTime(), nullable=True),
        sa.Column("stale", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column(
            "data",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
    ]


def upgrade() -> None:
    for table, (typed, indexes) in _TABLES.items():
        op.create_table(
            table,
            *_spine(),
            *(_typed(*column) for column in typed),
            sa.CheckConstraint("level IN ('list', 'detail')", name=op.f(f"ck_{table}_level_known")),
            sa.PrimaryKeyConstraint("connection_id", "organization_id", "id", name=f"pk_{table}"),
        )
        scope = ["connection_id", "organization_id"]
        op.create_index(f"ix_{table}_modified", table, [*scope, "last_modified_time"])
        op.create_index(f"ix_{table}_created", table, [*scope, "created_time"])
        for columns in indexes:
            op.create_index(f"ix_{table}_{'_'.join(columns)}", table, [*scope, *columns])
    op.create_table(
        "zoho_sync_state",
        sa.Column("connection_id", sa.String(32), nullable=False),
        sa.Column("organization_id", sa.String(64), nullable=False),
        sa.Column("resource", sa.String(32), nullable=False),
        sa.Column("cursor", UTCDateTime(), nullable=True),
        sa.Column("tz_offset", sa.String(8), nullable=True),
        sa.Column("sort_column", sa.String(32), nullable=True),
        sa.Column("run_started_at", UTCDateTime(), nullable=True),
        sa.Column("run_cursor", UTCDateTime(), nullable=True),
        sa.Column("run_page", sa.Integer(), nullable=True),
        sa.Column("run_resumed", sa.Boolean(), nullable=False),
        sa.Column("needs_reconcile", sa.Boolean(), nullable=False),
        sa.Column("last_run_at", UTCDateTime(), nullable=True),
        sa.Column("last_success_at", UTCDateTime(), nullable=True),
        sa.Column("last_reconciled_at", UTCDateTime(), nullable=True),
        sa.Column("added", sa.Integer(), nullable=False),
        sa.Column("updated", sa.Integer(), nullable=False),
        sa.Column("deleted", sa.Integer(), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint(
            "connection_id", "organization_id", "resource", name="pk_zoho_sync_state"
        ),
    )
    op.create_table(
        "zoho_changes",
        sa.Column(
            "seq",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("connection_id", sa.String(32), nullable=False),
        sa.Column("organization_id", sa.String(64), nullable=False),
        sa.Column("resource", sa.String(32), nullable=False),
        sa.Column("record_id", sa.String(64), nullable=False),
        sa.Column("kind", sa.String(8), nullable=False),
        sa.Column("at", UTCDateTime(), nullable=False),
        sa.CheckConstraint(
            "kind IN ('added', 'updated', 'deleted')", name=op.f("ck_zoho_changes_kind_known")
        ),
        sa.PrimaryKeyConstraint("seq", name=op.f("pk_zoho_changes")),
        sqlite_autoincrement=True,
    )
    op.create_index("ix_zoho_changes_connection_seq", "zoho_changes", ["connection_id", "seq"])
    op.create_table(
        "zoho_sync_leases",
        sa.Column("connection_id", sa.String(32), nullable=False),
        sa.Column("holder", sa.String(64), nullable=False),
        sa.Column("fence", sa.Integer(), nullable=False),
        sa.Column("expires_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("connection_id", name=op.f("pk_zoho_sync_leases")),
    )


def downgrade() -> None:
    op.drop_table("zoho_sync_leases")
    op.drop_index("ix_zoho_changes_connection_seq", table_name="zoho_changes")
    op.drop_table("zoho_changes")
    op.drop_table("zoho_sync_state")
    for table in reversed(_TABLES):
        op.drop_table(table)
