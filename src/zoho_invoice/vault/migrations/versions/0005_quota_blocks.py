"""Quota blocks: an organization whose daily API quota is spent waits for its reset in every
process sharing the database (Zoho's code 45).

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision: str | None = "0004"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    op.create_table(
        "quota_blocks",
        sa.Column("key", sa.String(255), nullable=False),
        sa.Column("blocked_until", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_quota_blocks")),
    )


def downgrade() -> None:
    op.drop_table("quota_blocks")
