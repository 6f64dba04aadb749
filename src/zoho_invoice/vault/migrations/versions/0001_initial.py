"""The vault's first tables: connections, connect transactions, revocations, mints, meta.

Revision ID: 0001
Revises:
Create Date: 2026-01-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from zoho_invoice.vault._models import UTCDateTime

revision = "0001"
down_revision: str | None = None
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    op.create_table(
        "connections",
        sa.Column("id", sa.String(32), nullable=False),
        sa.Column("owner", sa.String(255), nullable=False),
        sa.Column("location", sa.String(16), nullable=False),
        sa.Column("api_domain", sa.String(255), nullable=False),
        sa.Column("organization_id", sa.String(64), nullable=True),
        sa.Column("scopes", sa.Text(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("status_reason", sa.Text(), nullable=True),
        sa.Column("access_token_sealed", sa.Text(), nullable=True),
        sa.Column("access_expires_at", UTCDateTime(), nullable=True),
        sa.Column("refresh_token_sealed", sa.Text(), nullable=True),
        sa.Column("key_id", sa.String(64), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.Column("last_refresh_at", UTCDateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_connections")),
        sa.UniqueConstraint("owner", "location", name="uq_connections_owner_location"),
        sa.CheckConstraint(
            "status IN ('active', 'needs_reauth', 'revoked')",
            name=op.f("ck_connections_status_known"),
        ),
        sa.CheckConstraint("version >= 1", name=op.f("ck_connections_version_positive")),
    )
    op.create_table(
        "connect_transactions",
        sa.Column("id", sa.String(32), nullable=False),
        sa.Column("session_token_hash", sa.String(64), nullable=False),
        sa.Column("state_hash", sa.String(64), nullable=True),
        sa.Column("binding_hash", sa.String(64), nullable=True),
        sa.Column("code_verifier_sealed", sa.Text(), nullable=True),
        sa.Column("owner", sa.String(255), nullable=False),
        sa.Column("return_url", sa.Text(), nullable=True),
        sa.Column("start_location", sa.String(16), nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("expires_at", UTCDateTime(), nullable=False),
        sa.Column("started_at", UTCDateTime(), nullable=True),
        sa.Column("consumed_at", UTCDateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_connect_transactions")),
        sa.UniqueConstraint(
            "session_token_hash", name=op.f("uq_connect_transactions_session_token_hash")
        ),
        sa.UniqueConstraint("state_hash", name=op.f("uq_connect_transactions_state_hash")),
    )
    op.create_index(
        op.f("ix_connect_transactions_expires_at"), "connect_transactions", ["expires_at"]
    )
    op.create_table(
        "pending_revocations",
        sa.Column("id", sa.String(32), nullable=False),
        sa.Column("connection_id", sa.String(32), nullable=True),
        sa.Column("location", sa.String(16), nullable=False),
        sa.Column("token_sealed", sa.Text(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("next_attempt_at", UTCDateTime(), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_pending_revocations")),
    )
    op.create_index(
        op.f("ix_pending_revocations_next_attempt_at"), "pending_revocations", ["next_attempt_at"]
    )
    op.create_table(
        "token_mints",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("connection_id", sa.String(32), nullable=False),
        sa.Column("minted_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["connection_id"],
            ["connections.id"],
            name=op.f("fk_token_mints_connection_id_connections"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_token_mints")),
    )
    op.create_index(
        "ix_token_mints_connection_minted", "token_mints", ["connection_id", "minted_at"]
    )
    op.create_table(
        "meta",
        sa.Column("key", sa.String(64), nullable=False),
        sa.Column("value", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_meta")),
    )


def downgrade() -> None:
    op.drop_table("meta")
    op.drop_index("ix_token_mints_connection_minted", table_name="token_mints")
    op.drop_table("token_mints")
    op.drop_index(op.f("ix_pending_revocations_next_attempt_at"), table_name="pending_revocations")
    op.drop_table("pending_revocations")
    op.drop_index(op.f("ix_connect_transactions_expires_at"), table_name="connect_transactions")
    op.drop_table("connect_transactions")
    op.drop_table("connections")
