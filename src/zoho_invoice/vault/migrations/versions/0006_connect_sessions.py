"""One name per concept: the table ``connect_transactions`` is ``connect_sessions``, with its
primary key, unique constraints and index renamed to match (the rows stay).

PostgreSQL renames in place. SQLite keeps a constraint's name inside the table's own SQL, which
``ALTER TABLE ... RENAME`` does not touch, so there the table is rebuilt under the new names
and its rows copied across, in the migration's one transaction.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-29
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from zoho_invoice.vault._models import UTCDateTime

revision = "0006"
down_revision: str | None = "0005"
branch_labels: str | None = None
depends_on: str | None = None

OLD = "connect_transactions"
NEW = "connect_sessions"
COLUMNS = (
    "id, session_token_hash, state_hash, binding_hash, code_verifier_sealed, owner, return_url,"
    " start_location, created_at, expires_at, started_at, consumed_at"
)


def _names(table: str) -> dict[str, str]:
    """The names the vault's naming convention gives this table's constraints and index."""
    return {
        "pk": f"pk_{table}",
        "uq_session": f"uq_{table}_session_token_hash",
        "uq_state": f"uq_{table}_state_hash",
        "ix_expires": f"ix_{table}_expires_at",
    }


def _create(table: str) -> None:
    """The table as migration 0001 made it, under ``table`` and names derived from it."""
    names = _names(table)
    op.create_table(
        table,
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
        sa.PrimaryKeyConstraint("id", name=names["pk"]),
        sa.UniqueConstraint("session_token_hash", name=names["uq_session"]),
        sa.UniqueConstraint("state_hash", name=names["uq_state"]),
    )
    op.create_index(names["ix_expires"], table, ["expires_at"])


def _rename(old: str, new: str) -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.rename_table(old, new)
        before, after = _names(old), _names(new)
        for kind in ("pk", "uq_session", "uq_state"):
            op.execute(f'ALTER TABLE "{new}" RENAME CONSTRAINT "{before[kind]}" TO "{after[kind]}"')
        op.execute(f'ALTER INDEX "{before["ix_expires"]}" RENAME TO "{after["ix_expires"]}"')
        return
    _create(new)
    op.execute(f"INSERT INTO {new} ({COLUMNS}) SELECT {COLUMNS} FROM {old}")
    op.drop_index(_names(old)["ix_expires"], table_name=old)
    op.drop_table(old)


def upgrade() -> None:
    _rename(OLD, NEW)


def downgrade() -> None:
    _rename(NEW, OLD)
