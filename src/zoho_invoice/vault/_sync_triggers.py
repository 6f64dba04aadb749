"""Sync triggers: the secret URL a Zoho workflow rule calls to say "something changed", per
connection, and the debounced "sync this connection soon" it leaves behind (issue 10, rule 7).

A connection has at most one trigger URL, ``{ZOHO_PUBLIC_URL}/zoho/webhooks/{token}``. The token
(32 random bytes, URL-safe) is shown once, when it is made; the table keeps only its SHA-256, so
a copy of the database cannot call the URL. A lookup hashes what it is given and then finds the
row by that hash through a unique index: the time it takes says nothing about how close a guess
was to a real token.

A call does not sync: it sets ``due_at``, at most once a ``debounce`` (a minute by default,
``ZOHO_SYNC_WEBHOOK_DEBOUNCE``) after the last start, so a burst of workflow calls (a bulk edit in
Zoho fires one per record) costs one sync; while a request is pending a call only reads.
``take_due`` hands each due connection to exactly one taker (a conditional UPDATE): the web
process that got the call, or any worker sharing the database if that process died.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable
from datetime import datetime, timedelta

from sqlalchemy import Engine, ForeignKey, Index, String, delete, select, update
from sqlalchemy.orm import Mapped, mapped_column

from ._db_session import DbSession, rowcount, sha256_hex
from ._models import Base, UTCDateTime

__all__ = ["MAX_TRIGGER_TOKEN", "SyncTriggerRow", "SyncTriggers"]

#: A longer token is no trigger's: refused before it is hashed.
MAX_TRIGGER_TOKEN = 128


class SyncTriggerRow(Base):
    """A connection's trigger URL (its token's SHA-256) and its pending sync request."""

    __tablename__ = "sync_triggers"
    __table_args__ = (Index("ix_sync_triggers_due", "due_at"),)

    connection_id: Mapped[str] = mapped_column(
        String(32), ForeignKey("connections.id", ondelete="CASCADE"), primary_key=True
    )
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    #: When a sync was last started for a call (the debounce counts from here).
    last_started_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    #: When the requested sync may start; NULL: none requested.
    due_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class SyncTriggers:
    """Trigger URLs and their debounced requests in ``sync_triggers``; see the module docstring.

    >>> triggers = SyncTriggers(vault.engine)
    >>> token = triggers.issue(connection_id)          # show once: /zoho/webhooks/{token}
    >>> triggers.connection_for(token)                 # the connection, or None
    >>> triggers.request(connection_id)                # due now, or a minute after the last start
    >>> triggers.take_due()                            # [connection ids whose sync starts now]
    """

    def __init__(
        self,
        engine: Engine,
        *,
        debounce: float = 60.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._engine, self._clock = engine, clock
        self._db = DbSession(engine, clock=clock)
        self.debounce = timedelta(seconds=debounce)

    def now(self) -> datetime:
        """The store's time (its clock): what ``due_at`` is compared with."""
        return self._db.now()

    def issue(self, connection_id: str) -> str:
        """A new trigger token for the connection (the old URL stops working). Shown once."""
        token = secrets.token_urlsafe(32)
        now = self._db.now()
        with self._db.write() as session:
            row = session.get(SyncTriggerRow, connection_id)
            if row is None:
                session.add(
                    SyncTriggerRow(
                        connection_id=connection_id, token_hash=sha256_hex(token), created_at=now
                    )
                )
            else:
                row.token_hash, row.created_at = sha256_hex(token), now
        return token

    def has_url(self, connection_id: str) -> bool:
        with self._db.read() as session:
            return session.get(SyncTriggerRow, connection_id) is not None

    def revoke(self, connection_id: str) -> bool:
        """Forget the connection's trigger URL; ``True`` if it had one."""
        with self._db.write() as session:
            result = session.execute(
                delete(SyncTriggerRow).where(SyncTriggerRow.connection_id == connection_id)
            )
        return rowcount(result) > 0

    def connection_for(self, token: str) -> str | None:
        """The connection whose trigger token this is, or ``None``. Hash first, then an indexed
        lookup of the hash (see the module docstring)."""
        if not 0 < len(token) <= MAX_TRIGGER_TOKEN or not token.isascii():
            return None
        digest = sha256_hex(token)
        with self._db.read() as session:
            found = session.execute(
                select(SyncTriggerRow.connection_id).where(SyncTriggerRow.token_hash == digest)
            ).scalar_one_or_none()
        return None if found is None else str(found)

    def with_debounce(self, seconds: float) -> SyncTriggers:
        """The same store with another debounce (``ZOHO_SYNC_WEBHOOK_DEBOUNCE``)."""
        return SyncTriggers(self._engine, debounce=seconds, clock=self._clock)

    def request(self, connection_id: str) -> datetime:
        """Ask for a sync of the connection: due now, or ``debounce`` after the last start; an
        earlier pending request stands. Returns when it is due.

        A read first: while a request is pending (every call of a burst but the first) nothing
        is written, so a bulk edit's thousand calls take no write lock (on SQLite one lock
        serves the whole database). Otherwise one conditional UPDATE, which touches nothing if
        another caller set the request meanwhile (then its moment is read and returned)."""
        while True:
            now = self._db.now()
            with self._db.read() as session:
                found = session.execute(
                    select(SyncTriggerRow.due_at, SyncTriggerRow.last_started_at).where(
                        SyncTriggerRow.connection_id == connection_id
                    )
                ).one_or_none()
            if found is None:
                raise LookupError("no trigger for that connection")
            pending, last = found
            if pending is not None:
                return pending
            due = now if last is None or last + self.debounce <= now else last + self.debounce
            with self._db.write() as session:
                result = session.execute(
                    update(SyncTriggerRow)
                    .where(
                        SyncTriggerRow.connection_id == connection_id,
                        SyncTriggerRow.due_at.is_(None),
                    )
                    .values(due_at=due)
                    .execution_options(synchronize_session=False)
                )
            if rowcount(result):
                return due
            # Another caller set it (or took it) between the read and the write: read again.

    def take_due(self, *, limit: int = 100) -> list[str]:
        """The connections whose requested sync is due, each taken by exactly one caller (its
        request cleared, its start recorded) even when several processes ask at once."""
        now = self._db.now()
        with self._db.read() as session:
            due = session.execute(
                select(SyncTriggerRow.connection_id, SyncTriggerRow.due_at)
                .where(SyncTriggerRow.due_at.is_not(None), SyncTriggerRow.due_at <= now)
                .order_by(SyncTriggerRow.due_at)
                .limit(limit)
            ).all()
        taken: list[str] = []
        for connection_id, due_at in due:
            with self._db.write() as session:
                result = session.execute(
                    update(SyncTriggerRow)
                    .where(
                        SyncTriggerRow.connection_id == connection_id,
                        SyncTriggerRow.due_at == due_at,
                    )
                    .values(due_at=None, last_started_at=now)
                    .execution_options(synchronize_session=False)
                )
            if rowcount(result):
                taken.append(str(connection_id))
        return taken

    def next_due(self) -> datetime | None:
        """The earliest pending request, for a runner that sleeps until then."""
        with self._db.read() as session:
            found = session.execute(
                select(SyncTriggerRow.due_at)
                .where(SyncTriggerRow.due_at.is_not(None))
                .order_by(SyncTriggerRow.due_at)
                .limit(1)
            ).scalar_one_or_none()
        return found
