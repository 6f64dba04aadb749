"""Sync triggers: a connection's secret trigger URL (its token's SHA-256) for Zoho's workflow
webhooks, and the debounced sync it requests (issue 10; vault/_sync_triggers.py).

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-29
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from zoho_invoice.vault._models import UTCDateTime

revision = "0009"
down_revision: str | None = "0008"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    op.create_table(
        "sync_triggers",
        sa.Column("connection_id", sa.String(32), nullable=False),
        sa.Column("token_hash", sa.String(64), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("last_started_at", UTCDateTime(), nullable=True),
        sa.Column("due_at", UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["connection_id"],
            ["connections.id"],
            name=op.f("fk_sync_triggers_connection_id_connections"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("connection_id", name=op.f("pk_sync_triggers")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_sync_triggers_token_hash")),
    )
    op.create_index("ix_sync_triggers_due", "sync_triggers", ["due_at"])


def downgrade() -> None:
    op.drop_index("ix_sync_triggers_due", table_name="sync_triggers")
    op.drop_table("sync_triggers")
