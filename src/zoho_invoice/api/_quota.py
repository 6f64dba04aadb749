"""The organization's daily quota: what Zoho reports of it, and blocks once it is spent.

Every Zoho answer carries ``X-Rate-Limit-Limit`` (the organization's daily quota),
``X-Rate-Limit-Remaining`` (what is left of it today) and ``X-Rate-Limit-Reset`` (seconds until it
is renewed; 34881 seen on Books). ``RateLimitStatus`` is that reading; the client keeps the last
one (``client.rate_limit``) and the metrics export it.

Once the quota is spent Zoho answers code 45 until the reset, and every further request only
adds to the count: nothing for that organization may be sent before then, by this process or any
other. ``QuotaBlocks`` records "organization X is blocked until T" where every sender looks:

- ``InProcessQuotaBlocks``: the threads of one process (``default_quota_blocks()`` is shared).
- ``RedisQuotaBlocks``: every host sharing a Redis (``ZOHO_REDIS_URL``); the block is a key that
  expires at the reset, on Redis's clock.
- ``DatabaseQuotaBlocks`` (``vault.quota_blocks()``): every process sharing the vault's database
  (a SQLite file on a host, PostgreSQL across hosts), a row per blocked organization.
- ``LayeredQuotaBlocks(shared)``: the process's own record first (no I/O once it knows), then
  the shared one. ``quota_blocks_from_settings`` picks Redis, else the vault's database.

The async client reads and records blocks with ``AsyncQuotaBlocks`` (``ablocked_until``,
``ablock``), so it never waits for Redis or the database on its event loop; every class here
implements both protocols (``SharedQuotaBlocks``), the vault's ``DatabaseQuotaBlocks`` too.

A shared store that does not answer counts as "not blocked": the request goes out, Zoho says 45
again, and the block is recorded once more. A block is never lifted early.
"""

from __future__ import annotations

import asyncio
import math
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from ._redis_clients import AsyncRedisClients

if TYPE_CHECKING:
    import redis
    import redis.asyncio

    from ..settings import Settings
    from ..vault import Vault

__all__ = [
    "UNKNOWN_RESET_BLOCK",
    "AsyncQuotaBlocks",
    "InProcessQuotaBlocks",
    "LayeredQuotaBlocks",
    "QuotaBlocks",
    "RateLimitStatus",
    "RedisQuotaBlocks",
    "SharedQuotaBlocks",
    "daily_reset_at",
    "default_quota_blocks",
    "parse_rate_limit",
    "quota_blocks_from_settings",
]

#: After a code 45 without ``X-Rate-Limit-Reset``, how long to wait before one request probes.
UNKNOWN_RESET_BLOCK = 3600.0
#: Larger values of ``X-Rate-Limit-Reset`` are an epoch time, not seconds to wait (not seen on
#: Zoho, but some of Zoho's APIs' cousins do it).
_EPOCH_THRESHOLD = 1e9


@dataclass(frozen=True, slots=True)
class RateLimitStatus:
    """The organization's daily quota as Zoho last reported it.

    ``limit``: requests a day; ``remaining``: left today; ``resets_at``: when it is renewed
    (aware UTC), ``None`` when the answer did not say.
    """

    limit: int
    remaining: int
    resets_at: datetime | None


def _int_header(headers: Mapping[str, str], name: str) -> int | None:
    value = headers.get(name)
    if value is None:
        return None
    try:
        number = int(value.strip())
    except ValueError:
        return None
    return number if number >= 0 else None


def daily_reset_at(headers: Mapping[str, str], now: float) -> datetime | None:
    """When ``X-Rate-Limit-Reset`` says the daily quota is renewed (``now``: epoch seconds)."""
    value = headers.get("x-rate-limit-reset")
    if value is None:
        return None
    try:
        seconds = float(value.strip())
    except ValueError:
        return None
    if not math.isfinite(seconds) or seconds < 0:
        return None
    at = seconds if seconds > _EPOCH_THRESHOLD else now + seconds
    try:
        return datetime.fromtimestamp(at, UTC)
    except (OverflowError, OSError, ValueError):
        return None


def parse_rate_limit(headers: Mapping[str, str], now: float) -> RateLimitStatus | None:
    """The ``X-Rate-Limit-*`` headers of an answer, or ``None`` when it has none."""
    limit = _int_header(headers, "x-rate-limit-limit")
    remaining = _int_header(headers, "x-rate-limit-remaining")
    if limit is None or remaining is None:
        return None
    return RateLimitStatus(limit, remaining, daily_reset_at(headers, now))


@runtime_checkable
class QuotaBlocks(Protocol):
    """Where "this organization's daily quota is spent until T" is recorded and read.

    ``key`` names the organization at its data centre (the client's budget key); ``until`` is in
    epoch seconds.
    """

    def block(self, key: str, until: float) -> None:
        """Nothing is sent for ``key`` before ``until`` (a later block than one recorded wins)."""
        ...

    def blocked_until(self, key: str) -> float | None:
        """The end of ``key``'s block if one still runs, else ``None``."""
        ...


@runtime_checkable
class AsyncQuotaBlocks(Protocol):
    """``QuotaBlocks`` for async code: the same answers, awaited, so a store that asks a server
    (Redis, the database) never holds the event loop while it waits."""

    async def ablock(self, key: str, until: float) -> None:
        """``QuotaBlocks.block``."""
        ...

    async def ablocked_until(self, key: str) -> float | None:
        """``QuotaBlocks.blocked_until``."""
        ...


@runtime_checkable
class SharedQuotaBlocks(QuotaBlocks, AsyncQuotaBlocks, Protocol):
    """A store both clients can use (``LayeredQuotaBlocks`` puts one behind the process's
    record): ``RedisQuotaBlocks``, the vault's ``DatabaseQuotaBlocks``, ``InProcessQuotaBlocks``."""


class InProcessQuotaBlocks:
    """Blocks kept in this process's memory (no I/O: the async methods answer at once)."""

    def __init__(self, *, clock: Callable[[], float] = time.time) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._until: dict[str, float] = {}

    def block(self, key: str, until: float) -> None:
        with self._lock:
            self._until[key] = max(until, self._until.get(key, 0.0))

    def blocked_until(self, key: str) -> float | None:
        with self._lock:
            until = self._until.get(key)
            if until is None:
                return None
            if until <= self._clock():
                del self._until[key]
                return None
            return until

    async def ablock(self, key: str, until: float) -> None:
        self.block(key, until)

    async def ablocked_until(self, key: str) -> float | None:
        return self.blocked_until(key)

    def clear(self) -> None:
        """Forget every block (a process starting over, or a test of its own)."""
        with self._lock:
            self._until.clear()


class RedisQuotaBlocks:
    """Blocks in Redis: a key per blocked organization, expiring when its block ends.

    The time left travels as a TTL, so hosts whose clocks differ agree on how long it lasts.
    Async code talks to Redis through ``redis.asyncio`` (``async_client``, else one client per
    event loop made from the URL by ``from_url``, else the sync call in a worker thread).
    """

    def __init__(
        self,
        client: redis.Redis,
        *,
        prefix: str = "zoho-invoice:quota-block:",
        async_client: redis.asyncio.Redis | None = None,
    ) -> None:
        self._client = client
        self._prefix = prefix
        self._async_clients: AsyncRedisClients | None = (
            AsyncRedisClients(client=async_client) if async_client is not None else None
        )

    @classmethod
    def from_url(cls, url: str, **options: Any) -> RedisQuotaBlocks:
        import redis as redis_module

        blocks = cls(redis_module.Redis.from_url(url), **options)
        blocks._async_clients = AsyncRedisClients.from_url(url)
        return blocks

    def block(self, key: str, until: float) -> None:
        from redis.exceptions import RedisError

        ttl_ms = int((until - time.time()) * 1000)
        if ttl_ms <= 0:
            return
        try:
            # Only ever lengthen a block another host recorded (never shorten it).
            current = self._client.pttl(self._prefix + key)
            if isinstance(current, int) and current >= ttl_ms:
                return
            self._client.set(self._prefix + key, "45", px=ttl_ms)
        except RedisError:
            pass  # this process still keeps it (LayeredQuotaBlocks)

    def blocked_until(self, key: str) -> float | None:
        from redis.exceptions import RedisError

        try:
            ttl_ms = self._client.pttl(self._prefix + key)
        except RedisError:
            return None
        return self._until_of(ttl_ms)

    @staticmethod
    def _until_of(ttl_ms: object) -> float | None:
        if not isinstance(ttl_ms, int) or ttl_ms <= 0:
            return None  # -2: no key; -1: no expiry (never written so)
        return time.time() + ttl_ms / 1000.0

    async def ablock(self, key: str, until: float) -> None:
        from redis.exceptions import RedisError

        if self._async_clients is None:
            await asyncio.to_thread(self.block, key, until)
            return
        ttl_ms = int((until - time.time()) * 1000)
        if ttl_ms <= 0:
            return
        client = self._async_clients.current()
        try:
            current = await client.pttl(self._prefix + key)
            if isinstance(current, int) and current >= ttl_ms:
                return
            await client.set(self._prefix + key, "45", px=ttl_ms)
        except RedisError:
            pass  # this process still keeps it (LayeredQuotaBlocks)

    async def ablocked_until(self, key: str) -> float | None:
        from redis.exceptions import RedisError

        if self._async_clients is None:
            return await asyncio.to_thread(self.blocked_until, key)
        try:
            ttl_ms = await self._async_clients.current().pttl(self._prefix + key)
        except RedisError:
            return None
        return self._until_of(ttl_ms)

    async def aclose(self) -> None:
        """Close this event loop's Redis client (one made by ``from_url``), e.g. at shutdown."""
        if self._async_clients is not None:
            await self._async_clients.aclose()


class LayeredQuotaBlocks:
    """This process's record in front of a shared one: a block seen once costs no more I/O."""

    def __init__(
        self, shared: SharedQuotaBlocks, local: InProcessQuotaBlocks | None = None
    ) -> None:
        self.shared = shared
        self.local = local if local is not None else InProcessQuotaBlocks()

    def block(self, key: str, until: float) -> None:
        self.local.block(key, until)
        self.shared.block(key, until)

    def blocked_until(self, key: str) -> float | None:
        until = self.local.blocked_until(key)
        if until is not None:
            return until
        until = self.shared.blocked_until(key)
        if until is not None:
            self.local.block(key, until)
        return until

    async def ablock(self, key: str, until: float) -> None:
        self.local.block(key, until)
        await self.shared.ablock(key, until)

    async def ablocked_until(self, key: str) -> float | None:
        until = self.local.blocked_until(key)
        if until is not None:
            return until
        until = await self.shared.ablocked_until(key)
        if until is not None:
            self.local.block(key, until)
        return until


_default_lock = threading.Lock()
_default: InProcessQuotaBlocks | None = None


def default_quota_blocks() -> InProcessQuotaBlocks:
    """The blocks every client of this process shares unless given others."""
    global _default
    with _default_lock:
        if _default is None:
            _default = InProcessQuotaBlocks()
        return _default


def quota_blocks_from_settings(settings: Settings, vault: Vault | None = None) -> SharedQuotaBlocks:
    """Blocks every sender sharing this configuration sees: in Redis when ``ZOHO_REDIS_URL`` is
    set (every host), else in the vault's database (every process opening it), else this
    process's own. The process's record always sits in front. The answer serves sync and async
    clients alike."""
    if settings.redis_url:
        return LayeredQuotaBlocks(
            RedisQuotaBlocks.from_url(settings.redis_url), default_quota_blocks()
        )
    if vault is not None:
        return LayeredQuotaBlocks(vault.quota_blocks(), default_quota_blocks())
    return default_quota_blocks()
