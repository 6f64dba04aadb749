"""The vault's tables (SQLAlchemy 2). The Alembic migrations in ``migrations/`` create them.

No column holds a plaintext token, code, state, verifier or secret (SECURITY 21): tokens and
verifiers are sealed by the key ring (``*_sealed``), and what only needs to be recognised (a
session token, a state, a browser binding) is kept as its SHA-256 hash. The client secret has no
column at all (SECURITY 25).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    CheckConstraint,
    DateTime,
    Dialect,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

STATUSES = ("active", "needs_reauth", "revoked")

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UTCDateTime(TypeDecorator[datetime]):
    """Aware UTC datetimes in, aware UTC datetimes out, on every database.

    SQLite has no time zones: values are stored as naive UTC, so string order is time order.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the vault; use an aware UTC datetime")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        assert isinstance(value, datetime)
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


class ConnectionRow(Base):
    """One Zoho connection per (owner, location, Zoho user) (SECURITY 44)."""

    __tablename__ = "connections"
    __table_args__ = (
        UniqueConstraint(
            "owner", "location", "zoho_user_id", name="uq_connections_owner_location_zoho_user"
        ),
        CheckConstraint("status IN ('active', 'needs_reauth', 'revoked')", name="status_known"),
        CheckConstraint("version >= 1", name="version_positive"),
        # The worker's two due queries (migration 0007; vault/_refresh_schedule.py): in-use
        # connections by when a token was last handed out, idle ones by their last refresh.
        Index("ix_connections_in_use", "status", "last_used_at", "access_expires_at"),
        Index("ix_connections_probe", "status", "last_refresh_at"),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    owner: Mapped[str] = mapped_column(String(255))
    location: Mapped[str] = mapped_column(String(16))
    api_domain: Mapped[str] = mapped_column(String(255))
    organization_id: Mapped[str | None] = mapped_column(String(64))
    #: Which Zoho user the tokens belong to (their Zoho user id, nothing more about them), so a
    #: connect finished by another Zoho user never takes this connection over. NULL only for
    #: rows made before migration 0003, until their next reconnect records it.
    zoho_user_id: Mapped[str | None] = mapped_column(String(64))
    scopes: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16))
    status_reason: Mapped[str | None] = mapped_column(Text)
    access_token_sealed: Mapped[str | None] = mapped_column(Text)
    access_expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    refresh_token_sealed: Mapped[str | None] = mapped_column(Text)
    #: The key that sealed the refresh token (for audits and rotation progress; each sealed
    #: value names its key too, and that is what opening trusts).
    key_id: Mapped[str | None] = mapped_column(String(64))
    #: Fences every token write: UPDATE ... WHERE version = expected (SECURITY 28).
    version: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())
    #: When Zoho last minted for this connection (a connect, any refresh): its refresh token
    #: worked then. The worker probes an idle connection once this is a probe interval old.
    last_refresh_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    #: When a caller last had a token for it, as far as it is recorded (a connect, a refresh on
    #: demand, a throttled usage mark; never on each call): the worker keeps warm only the
    #: connections used within ``ZOHO_IN_USE_WINDOW``. NULL: never recorded (idle).
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class ConnectSessionRow(Base):
    """A connect session, then the authorization it started (state lives in the database)."""

    __tablename__ = "connect_sessions"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    session_token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    state_hash: Mapped[str | None] = mapped_column(String(64), unique=True)
    binding_hash: Mapped[str | None] = mapped_column(String(64))
    code_verifier_sealed: Mapped[str | None] = mapped_column(Text)
    owner: Mapped[str] = mapped_column(String(255))
    return_url: Mapped[str | None] = mapped_column(Text)
    start_location: Mapped[str | None] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    consumed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class PendingRevocationRow(Base):
    """A token to revoke at Zoho, retried until Zoho confirms (SECURITY 34, 36)."""

    __tablename__ = "pending_revocations"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    connection_id: Mapped[str | None] = mapped_column(String(32))
    location: Mapped[str] = mapped_column(String(16))
    token_sealed: Mapped[str] = mapped_column(Text)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    last_error: Mapped[str | None] = mapped_column(Text)


class TokenMintRow(Base):
    """One access token minted, for Zoho's 10-per-10-minutes budget (SECURITY 33)."""

    __tablename__ = "token_mints"
    __table_args__ = (Index("ix_token_mints_connection_minted", "connection_id", "minted_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    connection_id: Mapped[str] = mapped_column(
        String(32), ForeignKey("connections.id", ondelete="CASCADE")
    )
    minted_at: Mapped[datetime] = mapped_column(UTCDateTime())


class MetaRow(Base):
    """Key/value facts about the database itself (the key-ring canary)."""

    __tablename__ = "meta"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[str] = mapped_column(Text)


class RefreshLeaseRow(Base):
    """Who may refresh a connection's token right now, across processes and hosts.

    A lease ends at ``expires_at`` (epoch seconds) even if its holder never comes back, so a
    crashed or stalled worker blocks nobody for long; the version fence refuses its late write.
    """

    __tablename__ = "refresh_leases"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    holder: Mapped[str] = mapped_column(String(64))
    expires_at: Mapped[float] = mapped_column(Float)


class WebhookOutboxRow(Base):
    """A webhook delivery waiting to be sent, retried with back-off (SECURITY 48).

    ``id`` is the Standard Webhooks ``webhook-id``: the same on every attempt, so a receiver
    can drop a duplicate. ``payload`` is the exact JSON body (no token, no secret). A sender
    claims a row by moving ``next_attempt_at`` past its lease with a conditional UPDATE and
    setting ``claim``; only that claim may then finish the row. Delivered rows are deleted;
    rows given up on stay as ``dead`` for a while, for the operator.
    """

    __tablename__ = "webhook_outbox"
    __table_args__ = (
        CheckConstraint("status IN ('pending', 'dead')", name="status_known"),
        Index("ix_webhook_outbox_status_next", "status", "next_attempt_at"),
    )

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    event_type: Mapped[str] = mapped_column(String(64))
    payload: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime())
    claim: Mapped[str | None] = mapped_column(String(32))
    last_error: Mapped[str | None] = mapped_column(Text)


class QuotaBlockRow(Base):
    """An organization whose daily Invoice API quota is spent (Zoho's code 45) until
    ``blocked_until`` (epoch seconds): no process sharing this database sends for it before.

    ``key`` is the client's budget key (API domain and organization id), nothing secret.
    """

    __tablename__ = "quota_blocks"

    key: Mapped[str] = mapped_column(String(255), primary_key=True)
    blocked_until: Mapped[float] = mapped_column(Float)
