"""The worker at fleet scale: connections record when a caller last had a token
(``last_used_at``), and two indexes let the worker find what is due without a scan: in-use
connections near expiry (``ix_connections_in_use``) and idle ones whose daily probe is due
(``ix_connections_probe``).

Existing rows get ``last_refresh_at`` from their last update when it was never recorded, and
``last_used_at`` from their last refresh: right after the upgrade every connection the old
worker kept warm still counts as in use for one in-use window, then the idle ones fall back to
a probe a day.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from zoho_invoice.vault._models import UTCDateTime

revision = "0007"
down_revision: str | None = "0006"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    with op.batch_alter_table("connections") as batch:
        batch.add_column(sa.Column("last_used_at", UTCDateTime(), nullable=True))
    op.execute(
        "UPDATE connections SET last_refresh_at = COALESCE(updated_at, created_at)"
        " WHERE last_refresh_at IS NULL"
    )
    op.execute("UPDATE connections SET last_used_at = last_refresh_at WHERE status = 'active'")
    op.create_index(
        "ix_connections_in_use",
        "connections",
        ["status", "last_used_at", "access_expires_at"],
    )
    op.create_index("ix_connections_probe", "connections", ["status", "last_refresh_at"])


def downgrade() -> None:
    op.drop_index("ix_connections_probe", table_name="connections")
    op.drop_index("ix_connections_in_use", table_name="connections")
    with op.batch_alter_table("connections") as batch:
        batch.drop_column("last_used_at")
