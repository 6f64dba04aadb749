"""The organization's request budget, spent before every request.

Zoho allows 100 requests a minute per organization, shared by every integration of that
organization; over it, code 44 and a wait. We keep under it on our side: a token bucket per
organization that holds ``burst`` permits and refills ``rate`` of them every ``window`` seconds.
A caller *reserves* a permit and is told how long to wait before using it, so callers queue
fairly and nobody fails for lack of budget. Reservation is a short critical section under a
``threading.Lock``: the same object serves threads (the sync client sleeps) and asyncio tasks
(the async client awaits ``asyncio.sleep``).

``RequestBudget`` is the protocol: ``reserve`` a permit, the ``window`` it paces by, and ``pause``
an organization after Zoho's code 44 (its minute is spent, by us or by another integration).
``AsyncRequestBudget`` is the same for async code (``areserve``, ``apause``): the async client
must never wait for I/O on its event loop. Every budget here implements both: the in-process
ones answer at once either way (a few microseconds under a lock), ``RedisRequestBudget`` talks
to Redis with ``redis-py`` in sync code and ``redis.asyncio`` in async code, the same scripts on
the same keys, so a sync and an async client share one organization's budget.
``RedisRequestBudget`` is the bucket kept in Redis (one atomic script, Redis's own clock), so
every worker on every host draws from one budget per organization (``ZOHO_REDIS_URL``).

The concurrency cap (Zoho's code 1070: 5 requests in flight on the free plan) is separate:
``ConcurrencyCap`` (threads) and ``AsyncConcurrencyCap`` (asyncio). Like the budget, the default
caps are process-wide (``default_concurrency_cap()``, ``default_async_concurrency_cap()``): the
web layer builds a client per request, and all of them together must keep to 5 per organization.
"""

from __future__ import annotations

import asyncio
import threading
import time
import weakref
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from ._constants import DEFAULT_BURST, DEFAULT_MAX_CONCURRENCY, DEFAULT_RATE, DEFAULT_WINDOW
from ._redis_clients import AsyncRedisClients

if TYPE_CHECKING:
    import redis
    import redis.asyncio

    from ..settings import Settings

__all__ = [
    "AsyncConcurrencyCap",
    "AsyncRequestBudget",
    "ConcurrencyCap",
    "RedisRequestBudget",
    "RequestBudget",
    "TokenBucketBudget",
    "UnlimitedBudget",
    "budget_from_settings",
    "default_async_concurrency_cap",
    "default_budget",
    "default_concurrency_cap",
]


@runtime_checkable
class RequestBudget(Protocol):
    """Hands out permission to send one request for an organization, and holds an organization
    back after Zoho refused it for being over its minute (code 44)."""

    @property
    def window(self) -> float:
        """Seconds the budget paces by (Zoho's minute): how long a 44 without ``Retry-After``
        is waited out."""
        ...

    def reserve(self, key: str) -> float:
        """Take one permit for ``key``; return how many seconds to wait before sending (≥ 0)."""
        ...

    def pause(self, key: str, seconds: float) -> bool:
        """After a 44: nobody sharing this budget takes a permit for ``key`` during the next
        ``seconds`` (the next ``reserve`` waits them out). ``False`` when this budget cannot hold
        anyone back; the caller then waits by itself."""
        ...


@runtime_checkable
class AsyncRequestBudget(Protocol):
    """``RequestBudget`` for async code: the same answers, awaited, so a budget that asks a
    server (Redis) never holds the event loop while it waits for the answer."""

    @property
    def window(self) -> float:
        """Seconds the budget paces by (``RequestBudget.window``)."""
        ...

    async def areserve(self, key: str) -> float:
        """``RequestBudget.reserve``: take one permit; the seconds to wait before sending."""
        ...

    async def apause(self, key: str, seconds: float) -> bool:
        """``RequestBudget.pause``: after a 44, hold every sharer back for ``seconds``."""
        ...


class UnlimitedBudget:
    """No budget at all (for tests, or when something else already limits the rate).

    It holds nobody back: after a 44 each caller waits by itself (``pause`` answers ``False``).
    """

    window = DEFAULT_WINDOW

    def reserve(self, key: str) -> float:
        return 0.0

    def pause(self, key: str, seconds: float) -> bool:
        return False

    async def areserve(self, key: str) -> float:
        return 0.0

    async def apause(self, key: str, seconds: float) -> bool:
        return False


def _check_limits(rate: int, window: float, burst: int) -> None:
    if rate <= 0 or window <= 0:
        raise ValueError("rate and window must be positive")
    if burst < 1:
        raise ValueError("burst must be at least 1")


@dataclass
class _Bucket:
    tokens: float
    updated: float


class TokenBucketBudget:
    """A per-key token bucket: ``rate`` permits per ``window`` seconds, up to ``burst`` at once.

    In any span of ``window`` seconds at most ``rate + burst`` requests go out, so the defaults
    (90 + 5) stay under Zoho's 100 a minute, retries included (each retry takes a permit).

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
        _check_limits(rate, window, burst)
        self.rate = rate
        self.window = window
        self.burst = burst
        self._per_second = rate / window
        self._clock = clock
        self._lock = threading.Lock()
        self._buckets: dict[str, _Bucket] = {}

    def _refilled(self, key: str) -> _Bucket:
        """``key``'s bucket (full when new) topped up for the time since it was last used; the
        caller holds ``self._lock``."""
        now = self._clock()
        bucket = self._buckets.get(key)
        if bucket is None:
            bucket = self._buckets[key] = _Bucket(tokens=float(self.burst), updated=now)
        else:
            elapsed = max(0.0, now - bucket.updated)
            bucket.tokens = min(float(self.burst), bucket.tokens + elapsed * self._per_second)
            bucket.updated = now
        return bucket

    def reserve(self, key: str) -> float:
        with self._lock:
            bucket = self._refilled(key)
            # The bucket may go negative: that debt is the queue of callers already waiting.
            bucket.tokens -= 1.0
            if bucket.tokens >= 0:
                return 0.0
            return -bucket.tokens / self._per_second

    def pause(self, key: str, seconds: float) -> bool:
        """Zoho refused ``key`` for being over its minute: nobody of this process sends for it
        again for ``seconds`` (the bucket is drained into debt; waiting callers stay queued)."""
        if seconds <= 0:
            return True
        with self._lock:
            bucket = self._refilled(key)
            # The next reserve takes one permit and must wait ``seconds``: tokens - 1 = -s·rate.
            bucket.tokens = min(bucket.tokens, 1.0 - seconds * self._per_second)
        return True

    async def areserve(self, key: str) -> float:
        """``reserve`` for async code: no I/O, so it answers at once on the loop."""
        return self.reserve(key)

    async def apause(self, key: str, seconds: float) -> bool:
        """``pause`` for async code: no I/O, so it answers at once on the loop."""
        return self.pause(key, seconds)

    def clear(self) -> None:
        """Forget every bucket and pause: each key starts full again (a process starting over,
        or a test of its own)."""
        with self._lock:
            self._buckets.clear()


# The bucket of TokenBucketBudget.reserve, atomically in Redis, on Redis's clock (so hosts whose
# clocks differ still share one budget). Floats travel as strings to keep their precision.
_RESERVE_SCRIPT = """
local per_second = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local clock = redis.call('TIME')
local now = tonumber(clock[1]) + tonumber(clock[2]) / 1000000
local state = redis.call('HMGET', KEYS[1], 'tokens', 'updated')
local tokens = tonumber(state[1])
local updated = tonumber(state[2])
if tokens == nil or updated == nil then
  tokens = burst
  updated = now
end
tokens = math.min(burst, tokens + math.max(0, now - updated) * per_second) - 1
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'updated', tostring(now))
redis.call('EXPIRE', KEYS[1], math.ceil((burst - tokens) / per_second) + 60)
if tokens >= 0 then
  return '0'
end
return tostring(-tokens / per_second)
"""


# TokenBucketBudget.pause in Redis: top the bucket up to now, then leave it at most
# 1 - seconds·rate, so the next reserve waits ``seconds`` on every host.
_PAUSE_SCRIPT = """
local per_second = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local seconds = tonumber(ARGV[3])
local clock = redis.call('TIME')
local now = tonumber(clock[1]) + tonumber(clock[2]) / 1000000
local state = redis.call('HMGET', KEYS[1], 'tokens', 'updated')
local tokens = tonumber(state[1])
local updated = tonumber(state[2])
if tokens == nil or updated == nil then
  tokens = burst
  updated = now
end
tokens = math.min(burst, tokens + math.max(0, now - updated) * per_second)
tokens = math.min(tokens, 1 - seconds * per_second)
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'updated', tostring(now))
redis.call('EXPIRE', KEYS[1], math.ceil((burst - tokens) / per_second) + 60)
return 'ok'
"""


class RedisRequestBudget:
    """``TokenBucketBudget`` kept in Redis: one budget per organization for every host.

    >>> budget = RedisRequestBudget.from_url("redis://127.0.0.1:6379/0")  # doctest: +SKIP
    >>> zoho = ZohoInvoice.for_connection(manager, connection_id, budget=budget)  # doctest: +SKIP
    >>> azoho = AsyncZohoInvoice.for_connection(amgr, conn_id, budget=budget)  # doctest: +SKIP

    Sync code (``reserve``, ``pause``) uses ``client``; async code (``areserve``, ``apause``) uses
    ``redis.asyncio``: ``async_client`` when given, else (``from_url``) one client per event loop
    made from the URL. Without either, the async path runs the sync call in a worker thread, so
    the event loop is never held either way. Both paths run the same scripts on the same keys.

    When Redis cannot be reached, it falls back to a local bucket with the same limits rather than
    failing every request (each host then keeps to the limit on its own).
    """

    def __init__(
        self,
        client: redis.Redis,
        rate: int = DEFAULT_RATE,
        window: float = DEFAULT_WINDOW,
        *,
        burst: int = DEFAULT_BURST,
        prefix: str = "zoho-invoice:budget:",
        async_client: redis.asyncio.Redis | None = None,
    ) -> None:
        _check_limits(rate, window, burst)
        self.rate = rate
        self.window = window
        self.burst = burst
        self._client = client
        self._prefix = prefix
        self._script = client.register_script(_RESERVE_SCRIPT)
        self._pause_script = client.register_script(_PAUSE_SCRIPT)
        self._async_clients: AsyncRedisClients | None = (
            AsyncRedisClients(client=async_client) if async_client is not None else None
        )
        self._fallback = TokenBucketBudget(rate, window, burst=burst)

    @classmethod
    def from_url(cls, url: str, **options: Any) -> RedisRequestBudget:
        """Sync and async clients of the Redis at ``url`` (the async one per event loop)."""
        import redis as redis_module

        budget = cls(redis_module.Redis.from_url(url), **options)
        budget._async_clients = AsyncRedisClients.from_url(url)
        return budget

    def _reserve_args(self) -> list[Any]:
        return [repr(self.rate / self.window), self.burst]

    def _pause_args(self, seconds: float) -> list[Any]:
        return [repr(self.rate / self.window), self.burst, repr(float(seconds))]

    @staticmethod
    def _wait_of(answer: Any) -> float:
        text = answer.decode() if isinstance(answer, bytes) else str(answer)
        return max(0.0, float(text))

    def reserve(self, key: str) -> float:
        from redis.exceptions import RedisError

        try:
            answer = self._script(keys=[self._prefix + key], args=self._reserve_args())
        except RedisError:
            return self._fallback.reserve(key)
        return self._wait_of(answer)

    def pause(self, key: str, seconds: float) -> bool:
        """``TokenBucketBudget.pause`` for every host: after a 44, nobody sends for ``key``."""
        from redis.exceptions import RedisError

        if seconds <= 0:
            return True
        self._fallback.pause(key, seconds)
        try:
            self._pause_script(keys=[self._prefix + key], args=self._pause_args(seconds))
        except RedisError:
            pass  # the local bucket holds this host back
        return True

    async def areserve(self, key: str) -> float:
        """``reserve`` through ``redis.asyncio``: the loop runs other tasks meanwhile."""
        from redis.exceptions import RedisError

        if self._async_clients is None:
            return await asyncio.to_thread(self.reserve, key)
        # The script object is a sha and the text (EVALSHA, SCRIPT LOAD once if Redis lacks it).
        script = self._async_clients.current().register_script(_RESERVE_SCRIPT)
        try:
            answer = await script(keys=[self._prefix + key], args=self._reserve_args())
        except RedisError:
            return self._fallback.reserve(key)
        return self._wait_of(answer)

    async def apause(self, key: str, seconds: float) -> bool:
        """``pause`` through ``redis.asyncio``: every host holds back, the loop does not."""
        from redis.exceptions import RedisError

        if seconds <= 0:
            return True
        if self._async_clients is None:
            return await asyncio.to_thread(self.pause, key, seconds)
        self._fallback.pause(key, seconds)
        script = self._async_clients.current().register_script(_PAUSE_SCRIPT)
        try:
            await script(keys=[self._prefix + key], args=self._pause_args(seconds))
        except RedisError:
            pass  # the local bucket holds this host back
        return True

    async def aclose(self) -> None:
        """Close this event loop's Redis client (one made by ``from_url``), e.g. at shutdown."""
        if self._async_clients is not None:
            await self._async_clients.aclose()


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
        semaphore = self._semaphores.get(key)
        if semaphore is None:  # the first request for this key (a semaphore is not free to make)
            with self._lock:
                semaphore = self._semaphores.setdefault(key, threading.BoundedSemaphore(self.limit))
        with semaphore:
            yield


class AsyncConcurrencyCap:
    """At most ``limit`` requests in flight per key, across the tasks of each event loop."""

    def __init__(self, limit: int = DEFAULT_MAX_CONCURRENCY) -> None:
        if limit < 1:
            raise ValueError("limit must be at least 1")
        self.limit = limit
        self._lock = threading.Lock()
        # An asyncio.Semaphore belongs to one loop: one set per loop, forgotten with the loop.
        self._semaphores: weakref.WeakKeyDictionary[
            asyncio.AbstractEventLoop, dict[str, asyncio.Semaphore]
        ] = weakref.WeakKeyDictionary()

    @asynccontextmanager
    async def slot(self, key: str) -> AsyncIterator[None]:
        loop = asyncio.get_running_loop()
        per_loop = self._semaphores.get(loop)
        semaphore = per_loop.get(key) if per_loop is not None else None
        if semaphore is None:  # the first request for this key on this loop
            with self._lock:
                per_loop = self._semaphores.setdefault(loop, {})
                semaphore = per_loop.setdefault(key, asyncio.Semaphore(self.limit))
        async with semaphore:
            yield


_caps_lock = threading.Lock()
_caps: dict[int, ConcurrencyCap] = {}
_async_caps: dict[int, AsyncConcurrencyCap] = {}


def default_concurrency_cap(limit: int = DEFAULT_MAX_CONCURRENCY) -> ConcurrencyCap:
    """The process-wide cap every sync client with this ``limit`` shares (per organization)."""
    with _caps_lock:
        cap = _caps.get(limit)
        if cap is None:
            cap = _caps[limit] = ConcurrencyCap(limit)
        return cap


def default_async_concurrency_cap(limit: int = DEFAULT_MAX_CONCURRENCY) -> AsyncConcurrencyCap:
    """The process-wide cap every async client with this ``limit`` shares (per organization)."""
    with _caps_lock:
        cap = _async_caps.get(limit)
        if cap is None:
            cap = _async_caps[limit] = AsyncConcurrencyCap(limit)
        return cap


def budget_from_settings(settings: Settings) -> RedisRequestBudget | TokenBucketBudget:
    """The budget every client of this process should share: in Redis when ``ZOHO_REDIS_URL``
    is set (shared by every host), else the process-wide one. Either serves sync and async
    clients (``RequestBudget`` and ``AsyncRequestBudget``)."""
    if settings.redis_url:
        return RedisRequestBudget.from_url(settings.redis_url)
    return default_budget()
