"""Refresh locks kept in the vault's database: one refresh per connection for every process
that shares the database (one SQLite file on a host, or PostgreSQL across hosts).

A lease is a row ``(key, holder, expires_at)``. Taking it is one statement that succeeds only
when the row is absent (INSERT) or expired (UPDATE ... WHERE expires_at <= now), so two workers
can never both hold it; giving it back deletes the row only if we still hold it. It fits the
``RefreshLocks`` protocol of ``zoho_invoice.tokens`` without importing it.
"""

from __future__ import annotations

import random
import secrets
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager

from sqlalchemy import Engine, delete, insert, update
from sqlalchemy.exc import DBAPIError, IntegrityError

from ._models import RefreshLeaseRow

__all__ = ["DatabaseRefreshLocks"]

_POLL_SECONDS = 0.05


class DatabaseRefreshLocks:
    """Leases in the ``refresh_leases`` table; see the module docstring."""

    def __init__(
        self,
        engine: Engine,
        *,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._engine = engine
        self._clock = clock
        self._sleep = sleep

    def acquire(
        self, key: str, *, lease_seconds: float, wait_seconds: float
    ) -> AbstractContextManager[bool]:
        return self._acquire(key, lease_seconds, wait_seconds)

    @contextmanager
    def _acquire(self, key: str, lease_seconds: float, wait_seconds: float) -> Iterator[bool]:
        holder = secrets.token_hex(16)
        deadline = time.monotonic() + max(wait_seconds, 0.0)
        acquired = self._try(key, holder, lease_seconds)
        while not acquired and time.monotonic() < deadline:
            self._sleep(min(_POLL_SECONDS * (0.5 + random.random()), deadline - time.monotonic()))
            acquired = self._try(key, holder, lease_seconds)
        try:
            yield acquired
        finally:
            if acquired:
                self._release(key, holder)

    def _try(self, key: str, holder: str, lease_seconds: float) -> bool:
        now = self._clock()
        expires_at = now + max(lease_seconds, 0.001)
        try:
            with self._engine.begin() as conn:
                taken = conn.execute(
                    update(RefreshLeaseRow)
                    .where(RefreshLeaseRow.key == key, RefreshLeaseRow.expires_at <= now)
                    .values(holder=holder, expires_at=expires_at)
                ).rowcount
                if taken == 1:
                    return True
            with self._engine.begin() as conn:
                conn.execute(
                    insert(RefreshLeaseRow).values(key=key, holder=holder, expires_at=expires_at)
                )
            return True
        except IntegrityError:
            return False  # someone else holds a live lease
        except DBAPIError:
            # A busy or unreachable database: we hold nothing; the caller falls back.
            return False

    def _release(self, key: str, holder: str) -> None:
        try:
            with self._engine.begin() as conn:
                conn.execute(
                    delete(RefreshLeaseRow).where(
                        RefreshLeaseRow.key == key, RefreshLeaseRow.holder == holder
                    )
                )
        except DBAPIError:
            pass  # the lease expires by itself
