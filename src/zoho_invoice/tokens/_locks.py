"""Refresh locks: one refresh at a time per connection.

``RefreshLocks`` is the protocol. ``lease_seconds`` bounds how long a holder may keep a lock (a
stalled holder loses it, and the vault's version fence refuses its late write), ``wait_seconds``
how long a caller waits for it.

- ``InProcessRefreshLocks``: a ``threading.Lock`` per key, for the threads of one process.
- ``RedisRefreshLocks``: a lease in Redis (redis-py's ``Lock``: ``SET NX PX`` and a token-checked
  release), for processes on several hosts (``ZOHO_REDIS_URL``).
- ``LayeredRefreshLocks``: the in-process lock first, then a shared one, so that the threads of
  one process queue locally and only one of them at a time contends across processes.

The vault offers a lease on the database too (``Vault.refresh_locks()``), for several processes
sharing one SQLite file or one PostgreSQL database without Redis.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    import redis

__all__ = ["InProcessRefreshLocks", "LayeredRefreshLocks", "RedisRefreshLocks", "RefreshLocks"]


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


class RedisRefreshLocks:
    """A lease per key in Redis, shared by every process and host that uses the same Redis.

    >>> locks = RedisRefreshLocks.from_url("redis://127.0.0.1:6379/0")  # doctest: +SKIP
    """

    def __init__(self, client: redis.Redis, *, prefix: str = "zoho-invoice:refresh:") -> None:
        self._client = client
        self._prefix = prefix

    @classmethod
    def from_url(cls, url: str, **options: Any) -> RedisRefreshLocks:
        import redis as redis_module

        return cls(redis_module.Redis.from_url(url), **options)

    def acquire(
        self, key: str, *, lease_seconds: float, wait_seconds: float
    ) -> AbstractContextManager[bool]:
        return self._acquire(key, lease_seconds, wait_seconds)

    @contextmanager
    def _acquire(self, key: str, lease_seconds: float, wait_seconds: float) -> Iterator[bool]:
        from redis.exceptions import LockError, RedisError

        lock = self._client.lock(
            self._prefix + key,
            timeout=max(lease_seconds, 0.001),
            sleep=0.05,
            blocking=wait_seconds > 0,
            blocking_timeout=max(wait_seconds, 0.0),
            thread_local=False,
        )
        try:
            acquired = bool(lock.acquire())
        except RedisError:
            # Redis is down: nobody can be sure of the lock. Hand out nothing new; the manager
            # falls back to the stored token if it is still valid, or says "try later".
            acquired = False
        try:
            yield acquired
        finally:
            if acquired:
                try:
                    lock.release()
                except (LockError, RedisError):
                    # The lease ran out (the holder stalled) or Redis went away: the lease
                    # expires by itself and the version fence protects the row.
                    pass


class LayeredRefreshLocks:
    """``local`` first, then ``shared``: threads queue in-process, one contends across hosts."""

    def __init__(self, shared: RefreshLocks, local: RefreshLocks | None = None) -> None:
        self.shared = shared
        self.local = local if local is not None else InProcessRefreshLocks()

    def acquire(
        self, key: str, *, lease_seconds: float, wait_seconds: float
    ) -> AbstractContextManager[bool]:
        return self._acquire(key, lease_seconds, wait_seconds)

    @contextmanager
    def _acquire(self, key: str, lease_seconds: float, wait_seconds: float) -> Iterator[bool]:
        deadline = time.monotonic() + wait_seconds
        with self.local.acquire(
            key, lease_seconds=lease_seconds, wait_seconds=wait_seconds
        ) as local_held:
            if not local_held:
                yield False
                return
            remaining = max(0.0, deadline - time.monotonic())
            with self.shared.acquire(
                key, lease_seconds=lease_seconds, wait_seconds=remaining
            ) as shared_held:
                yield shared_held
