"""Refresh locks: one refresh at a time per connection.

``RefreshLocks`` is the protocol; ``InProcessRefreshLocks`` serves one process (threads).
Cross-process and cross-host implementations (a database row lock, Redis) fit the same shape:
``lease_seconds`` bounds how long a holder may keep the lock (a stalled holder loses it, and the
vault's version fence refuses its late write), ``wait_seconds`` how long a caller waits for it.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from typing import Protocol

__all__ = ["InProcessRefreshLocks", "RefreshLocks"]


class RefreshLocks(Protocol):
    """Locks keyed by a string (a connection id)."""

    def acquire(
        self, key: str, *, lease_seconds: float, wait_seconds: float
    ) -> AbstractContextManager[bool]:
        """Wait up to ``wait_seconds`` for ``key``; the context yields whether it was acquired.

        When it yields ``False`` the caller holds nothing and must not refresh.
        """
        ...


class InProcessRefreshLocks:
    """A ``threading.Lock`` per key: single-flight among the threads of one process."""

    def __init__(self) -> None:
        self._guard = threading.Lock()
        self._locks: dict[str, threading.Lock] = {}

    def _lock_for(self, key: str) -> threading.Lock:
        with self._guard:
            lock = self._locks.get(key)
            if lock is None:
                lock = self._locks[key] = threading.Lock()
            return lock

    def acquire(
        self, key: str, *, lease_seconds: float, wait_seconds: float
    ) -> AbstractContextManager[bool]:
        # The holder is a thread of this process: it cannot stall past a lease without the
        # process stalling too, so the lease only matters to cross-process implementations.
        return self._acquire(key, wait_seconds)

    @contextmanager
    def _acquire(self, key: str, wait_seconds: float) -> Iterator[bool]:
        lock = self._lock_for(key)
        acquired = lock.acquire(timeout=max(wait_seconds, 0.0))
        try:
            yield acquired
        finally:
            if acquired:
                lock.release()
