"""The organization's request budget, spent before every request.

Zoho allows 100 requests a minute per organization, shared by every integration of that
organization; over it, code 44 and a wait. We keep under it on our side: a token bucket per
organization that holds ``burst`` permits and refills ``rate`` of them every ``window`` seconds.
A caller *reserves* a permit and is told how long to wait before using it, so callers queue
fairly and nobody fails for lack of budget. Reservation is a short critical section under a
``threading.Lock``: the same object serves threads (the sync client sleeps) and asyncio tasks
(the async client awaits ``asyncio.sleep``).

``RequestBudget`` is the protocol: a Redis-backed budget shared by several hosts implements the
same ``reserve``.

The concurrency cap (Zoho's code 1070: 5 requests in flight on the free plan) is separate:
``ConcurrencyCap`` (threads) and ``AsyncConcurrencyCap`` (asyncio).
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from ._constants import DEFAULT_BURST, DEFAULT_MAX_CONCURRENCY, DEFAULT_RATE, DEFAULT_WINDOW

__all__ = [
    "AsyncConcurrencyCap",
    "ConcurrencyCap",
    "RequestBudget",
    "TokenBucketBudget",
    "UnlimitedBudget",
    "default_budget",
]


@runtime_checkable
class RequestBudget(Protocol):
    """Hands out permission to send one request for an organization."""

    def reserve(self, key: str) -> float:
        """Take one permit for ``key``; return how many seconds to wait before sending (≥ 0)."""
        ...


class UnlimitedBudget:
    """No budget at all (for tests, or when something else already limits the rate)."""

    def reserve(self, key: str) -> float:
        return 0.0


@dataclass
class _Bucket:
    tokens: float
    updated: float


class TokenBucketBudget:
    """A per-key token bucket: ``rate`` permits per ``window`` seconds, up to ``burst`` at once.

    In any span of ``window`` seconds at most ``rate + burst`` requests go out, so the defaults
    (95 + 5) never exceed Zoho's 100 a minute.

    >>> budget = TokenBucketBudget(rate=100, window=6.0, burst=1)   # a short window for a test
    """

    def __init__(
        self,
        rate: int = DEFAULT_RATE,
        window: float = DEFAULT_WINDOW,
        *,
        burst: int = DEFAULT_BURST,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if rate <= 0 or window <= 0:
            raise ValueError("rate and window must be positive")
        if burst < 1:
            raise ValueError("burst must be at least 1")
        self.rate = rate
        self.window = window
        self.burst = burst
        self._per_second = rate / window
        self._clock = clock
        self._lock = threading.Lock()
        self._buckets: dict[str, _Bucket] = {}

    def reserve(self, key: str) -> float:
        with self._lock:
            now = self._clock()
            bucket = self._buckets.get(key)
            if bucket is None:
                bucket = self._buckets[key] = _Bucket(tokens=float(self.burst), updated=now)
            else:
                elapsed = max(0.0, now - bucket.updated)
                bucket.tokens = min(float(self.burst), bucket.tokens + elapsed * self._per_second)
                bucket.updated = now
            # The bucket may go negative: that debt is the queue of callers already waiting.
            bucket.tokens -= 1.0
            if bucket.tokens >= 0:
                return 0.0
            return -bucket.tokens / self._per_second


_default_lock = threading.Lock()
_default: TokenBucketBudget | None = None


def default_budget() -> TokenBucketBudget:
    """The process-wide budget every client shares unless given its own."""
    global _default
    with _default_lock:
        if _default is None:
            _default = TokenBucketBudget()
        return _default


class ConcurrencyCap:
    """At most ``limit`` requests in flight per key, across threads."""

    def __init__(self, limit: int = DEFAULT_MAX_CONCURRENCY) -> None:
        if limit < 1:
            raise ValueError("limit must be at least 1")
        self.limit = limit
        self._lock = threading.Lock()
        self._semaphores: dict[str, threading.BoundedSemaphore] = {}

    @contextmanager
    def slot(self, key: str) -> Iterator[None]:
        with self._lock:
            semaphore = self._semaphores.setdefault(key, threading.BoundedSemaphore(self.limit))
        with semaphore:
            yield


class AsyncConcurrencyCap:
    """At most ``limit`` requests in flight per key, across the tasks of one event loop."""

    def __init__(self, limit: int = DEFAULT_MAX_CONCURRENCY) -> None:
        if limit < 1:
            raise ValueError("limit must be at least 1")
        self.limit = limit
        self._semaphores: dict[str, asyncio.Semaphore] = {}

    @asynccontextmanager
    async def slot(self, key: str) -> AsyncIterator[None]:
        semaphore = self._semaphores.setdefault(key, asyncio.Semaphore(self.limit))
        async with semaphore:
            yield
