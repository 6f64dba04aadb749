"""Daily-quota blocks kept in the vault's database: every process sharing it (one SQLite file on
a host, or PostgreSQL across hosts) stops sending for an organization whose quota is spent.

A block is a row ``(key, blocked_until)``. Recording one is an UPDATE that only lengthens a block
(``WHERE blocked_until < new``), else an INSERT; a racing INSERT of the same key means another
process recorded it first, and the UPDATE is tried once more. It fits the ``QuotaBlocks`` and
``AsyncQuotaBlocks`` protocols of ``zoho_invoice.api`` without importing them (the vault imports
nothing above it). A database that does not answer reads as "not blocked" and forgets a write:
the caller's in-process record still holds, and Zoho's next 45 is recorded again.

Reading is one SELECT, and the client asks before every request: the answer is kept for
``cache_seconds`` (1 s by default) per key, so a busy process asks the database about an
organization at most once a second, and a block another process records is seen within that
second (a block this process records is seen at once). The async methods answer from that cache
on the event loop and run the SELECT (or the write) in a worker thread, so the async client
never waits for the database on its loop.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable

from sqlalchemy import Engine, delete, insert, select, update
from sqlalchemy.exc import DBAPIError, IntegrityError

from ._models import QuotaBlockRow

__all__ = ["DatabaseQuotaBlocks"]


class DatabaseQuotaBlocks:
    """Blocks in the ``quota_blocks`` table; see the module docstring."""

    def __init__(
        self,
        engine: Engine,
        *,
        clock: Callable[[], float] = time.time,
        cache_seconds: float = 1.0,
    ) -> None:
        if cache_seconds < 0:
            raise ValueError("cache_seconds must be >= 0")
        self._engine = engine
        self._clock = clock
        self._cache_seconds = cache_seconds
        self._cache_lock = threading.Lock()
        #: key -> (the block's end or None, when (``clock``) the database said so)
        self._cache: dict[str, tuple[float | None, float]] = {}

    def _cached(self, key: str) -> tuple[bool, float | None]:
        """(found, the block's end) from an answer younger than ``cache_seconds``."""
        with self._cache_lock:
            entry = self._cache.get(key)
        now = self._clock()
        # A clock that went back also ends the answer's life: never trust it longer.
        if entry is None or not 0 <= now - entry[1] < self._cache_seconds:
            return False, None
        until = entry[0]
        if until is None or until <= now:
            return True, None
        return True, until

    def _remember(self, key: str, until: float | None) -> None:
        with self._cache_lock:
            if until is not None:
                # Never forget a longer block this process knows of for a shorter answer.
                known = self._cache.get(key)
                if known is not None and known[0] is not None:
                    until = max(until, known[0])
            self._cache[key] = (until, self._clock())

    def block(self, key: str, until: float) -> None:
        self._remember(key, until)  # this process sees its own block at once
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
        found, until = self._cached(key)
        if found:
            return until
        try:
            with self._engine.connect() as conn:
                stored = conn.execute(
                    select(QuotaBlockRow.blocked_until).where(QuotaBlockRow.key == key)
                ).scalar_one_or_none()
        except DBAPIError:
            return None  # not cached: the next request asks again
        until = float(stored) if stored is not None else None
        self._remember(key, until)
        if until is None or until <= self._clock():
            return None
        return until

    async def ablock(self, key: str, until: float) -> None:
        """``block`` in a worker thread (the cache is updated at once)."""
        self._remember(key, until)
        await asyncio.to_thread(self.block, key, until)

    async def ablocked_until(self, key: str) -> float | None:
        """``blocked_until``: from the cache on the loop, else the SELECT in a worker thread."""
        found, until = self._cached(key)
        if found:
            return until
        return await asyncio.to_thread(self.blocked_until, key)

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
