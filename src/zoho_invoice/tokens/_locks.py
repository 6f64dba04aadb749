"""Refresh locks: one refresh at a time per connection.

``RefreshLocks`` is the protocol. ``lease_seconds`` bounds how long a holder may keep a lock (a
stalled holder loses it, and the vault's version fence refuses its late write), ``wait_seconds``
how long a caller waits for it.

- ``InProcessRefreshLocks``: a ``threading.Lock`` per key, for the threads of one process.
- ``RedisRefreshLocks``: a lease in Redis (redis-py's ``Lock``: ``SET NX PX`` and a token-checked
  release), for processes on several hosts (``ZOHO_REDIS_URL``).
- ``LayeredRefreshLocks``: the in-process lock first, then a shared one, so that the threads of
  one process queue locally and only one of them at a time contends across processes. Threads
  that queued behind a holder of this process that has just let go of the shared lock are told
  ``False`` together ("re-read, do not refresh") without touching the shared lock again, with
  ``coalesce=True``: a storm of callers costs one shared acquisition per process, not one per
  caller.

The vault's database gives the lock every process sharing it uses (``Vault.refresh_locks()``): a
PostgreSQL advisory lock, or a file lock beside a SQLite file; both wake waiters at once and die
with their holder (``vault/_leases.py``). ``TokenManager`` layers it by default, with or without
Redis: the database decides who refreshes, so Redis being down never stops a refresh.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import AbstractContextManager, ExitStack, contextmanager
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

    def __init__(
        self, client: redis.Redis, *, prefix: str = "zoho-invoice:refresh:", poll: float = 0.05
    ) -> None:
        self._client = client
        self._prefix = prefix
        self._poll = poll

    @classmethod
    def from_url(cls, url: str, **options: Any) -> RedisRefreshLocks:
        import redis as redis_module

        # Short socket timeouts: a Redis that is down or unreachable answers "not acquired"
        # within a second instead of holding the caller.
        client = redis_module.Redis.from_url(url, socket_connect_timeout=0.5, socket_timeout=2.0)
        return cls(client, **options)

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
            sleep=self._poll,
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
    """``local`` first, then ``shared``: threads queue in-process, one contends across hosts.

    With ``coalesce`` (the token manager's default), a thread that waited for ``local`` while
    another thread of this process held ``shared`` and let it go gets ``False`` at once, with
    ``local`` already released: the holder has just refreshed (or tried to), so the caller
    re-reads the row instead of queueing for ``shared`` behind every other waiter. ``False``
    means, as always, "do not refresh".

    An ``accelerator`` (Redis) sits between the two and never decides: contenders of several
    hosts queue on it for at most ``accelerator_wait`` seconds, sparing the database a blocked
    session each; held, refused, timed out or down, the caller goes on to ``shared``, which
    decides. So Redis being down, or a dead holder's Redis lease, costs at most that wait.
    """

    def __init__(
        self,
        shared: RefreshLocks,
        local: RefreshLocks | None = None,
        *,
        coalesce: bool = False,
        accelerator: RefreshLocks | None = None,
        accelerator_wait: float = 1.0,
    ) -> None:
        self.shared = shared
        self.local = local if local is not None else InProcessRefreshLocks()
        self.coalesce = coalesce
        self.accelerator = accelerator
        self.accelerator_wait = accelerator_wait
        self._guard = threading.Lock()
        # key -> how many times a thread of this process let go of ``shared`` for it.
        self._released: dict[str, int] = {}

    def acquire(
        self, key: str, *, lease_seconds: float, wait_seconds: float
    ) -> AbstractContextManager[bool]:
        return self._acquire(key, lease_seconds, wait_seconds)

    @contextmanager
    def _acquire(self, key: str, lease_seconds: float, wait_seconds: float) -> Iterator[bool]:
        deadline = time.monotonic() + wait_seconds
        with self._guard:
            seen = self._released.get(key, 0)
        with ExitStack() as stack:
            local_held = stack.enter_context(
                self.local.acquire(key, lease_seconds=lease_seconds, wait_seconds=wait_seconds)
            )
            if not local_held:
                stack.close()
                yield False
                return
            with self._guard:
                coalesce = self.coalesce and self._released.get(key, 0) != seen
            if coalesce:
                stack.close()  # let the next waiter of this process through at once
                yield False
                return
            if self.accelerator is not None:
                stack.enter_context(
                    self.accelerator.acquire(
                        key,
                        lease_seconds=lease_seconds,
                        wait_seconds=min(self.accelerator_wait, wait_seconds),
                    )
                )
            remaining = max(0.0, deadline - time.monotonic())
            shared_held = False
            try:
                with self.shared.acquire(
                    key, lease_seconds=lease_seconds, wait_seconds=remaining
                ) as shared_held:
                    yield shared_held
            finally:
                # Shared first (other processes' waiters wake now), counted before ``local``
                # lets this process's next waiter in, so that it sees the release.
                if shared_held:
                    with self._guard:
                        self._released[key] = self._released.get(key, 0) + 1
