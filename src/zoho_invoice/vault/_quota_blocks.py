"""Daily-quota blocks kept in the vault's database: every process sharing it (one SQLite file on
a host, or PostgreSQL across hosts) stops sending for an organization whose quota is spent.

A block is a row ``(key, blocked_until)``. Recording one is an UPDATE that only lengthens a block
(``WHERE blocked_until < new``), else an INSERT; a racing INSERT of the same key means another
process recorded it first, and the UPDATE is tried once more. Reading is one SELECT. It fits the
``QuotaBlocks`` protocol of ``zoho_invoice.api`` without importing it (the vault imports nothing
above it). A database that does not answer reads as "not blocked" and forgets a write: the
caller's in-process record still holds, and Zoho's next 45 is recorded again.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from sqlalchemy import Engine, delete, insert, select, update
from sqlalchemy.exc import DBAPIError, IntegrityError

from ._models import QuotaBlockRow

__all__ = ["DatabaseQuotaBlocks"]


class DatabaseQuotaBlocks:
    """Blocks in the ``quota_blocks`` table; see the module docstring."""

    def __init__(self, engine: Engine, *, clock: Callable[[], float] = time.time) -> None:
        self._engine = engine
        self._clock = clock

    def block(self, key: str, until: float) -> None:
        try:
            for _ in range(2):
                with self._engine.begin() as conn:
                    found = conn.execute(
                        select(QuotaBlockRow.blocked_until).where(QuotaBlockRow.key == key)
                    ).scalar_one_or_none()
                    if found is not None:
                        conn.execute(
                            update(QuotaBlockRow)
                            .where(QuotaBlockRow.key == key, QuotaBlockRow.blocked_until < until)
                            .values(blocked_until=until)
                        )
                        return
                try:
                    with self._engine.begin() as conn:
                        conn.execute(insert(QuotaBlockRow).values(key=key, blocked_until=until))
                    return
                except IntegrityError:
                    continue  # another process inserted it meanwhile: lengthen theirs
        except DBAPIError:
            return

    def blocked_until(self, key: str) -> float | None:
        try:
            with self._engine.connect() as conn:
                until = conn.execute(
                    select(QuotaBlockRow.blocked_until).where(QuotaBlockRow.key == key)
                ).scalar_one_or_none()
        except DBAPIError:
            return None
        if until is None or until <= self._clock():
            return None
        return float(until)

    def purge_expired(self) -> int:
        """Delete blocks that have ended (they are ignored anyway); returns how many."""
        try:
            with self._engine.begin() as conn:
                result = conn.execute(
                    delete(QuotaBlockRow).where(QuotaBlockRow.blocked_until <= self._clock())
                )
        except DBAPIError:
            return 0
        return int(result.rowcount or 0)
