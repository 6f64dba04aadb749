"""Connections record their Zoho user; one owner may hold connections of several (SECURITY 44).

A connect link finished by a Zoho user other than the one a connection already belongs to must
make a new connection, never rebind the old one to another account. So each connection records
what identifies its Zoho user (``zoho_user_id``, nothing more), and the unique key becomes
(owner, location, zoho_user_id) instead of (owner, location).

Rows from before this migration have no recorded user (NULL); the first reconnect of such a row
records it (see ``Vault.complete_connect``).

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-30
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision: str | None = "0002"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    # batch_alter_table: SQLite cannot drop a constraint in place, so the table is copied
    # (rows, keys and the other constraints kept); PostgreSQL gets plain ALTER TABLEs.
    with op.batch_alter_table("connections") as batch:
        batch.add_column(sa.Column("zoho_user_id", sa.String(64), nullable=True))
        batch.drop_constraint("uq_connections_owner_location", type_="unique")
        batch.create_unique_constraint(
            "uq_connections_owner_location_zoho_user", ["owner", "location", "zoho_user_id"]
        )


def downgrade() -> None:
    # Going back is only possible while each owner holds at most one connection per location;
    # the database refuses the old unique key otherwise, and nothing is lost silently.
    with op.batch_alter_table("connections") as batch:
        batch.drop_constraint("uq_connections_owner_location_zoho_user", type_="unique")
        batch.create_unique_constraint("uq_connections_owner_location", ["owner", "location"])
        batch.drop_column("zoho_user_id")
