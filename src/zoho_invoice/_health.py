"""Health of the optional dependencies, cheap enough for ``/healthz``.

Redis (``ZOHO_REDIS_URL``) is an accelerator: with it down, refreshes still happen (the
database decides who refreshes) and request budgets fall back to each process. So ``/healthz``
reports it as degraded, not down: a load balancer keeps sending traffic, a monitor sees it.
A probe pings with a short timeout and keeps its answer for a second or two, so a health check
every few milliseconds costs Redis one ping per ``ttl``, and a Redis that hangs costs the check
at most ``timeout``.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    import redis

__all__ = ["DependencyState", "RedisProbe"]

DependencyState = Literal["ok", "unavailable"]


class RedisProbe:
    """``state()``: ``"ok"`` when Redis answered a ping within ``timeout``, else
    ``"unavailable"``; the answer is kept ``ttl`` seconds (by ``clock``)."""

    def __init__(
        self,
        client: redis.Redis,
        *,
        ttl: float = 2.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._client = client
        self._ttl = ttl
        self._clock = clock
        self._guard = threading.Lock()
        self._state: DependencyState = "ok"
        self._checked_at: float | None = None

    @classmethod
    def from_url(cls, url: str, *, timeout: float = 0.25, ttl: float = 2.0) -> RedisProbe:
        import redis as redis_module

        client = redis_module.Redis.from_url(
            url, socket_connect_timeout=timeout, socket_timeout=timeout
        )
        return cls(client, ttl=ttl)

    def state(self) -> DependencyState:
        now = self._clock()
        # One caller pings; the others take the last answer meanwhile (never queue on Redis).
        if not self._guard.acquire(blocking=False):
            return self._state
        try:
            if self._checked_at is None or now - self._checked_at >= self._ttl:
                self._state = self._ping()
                self._checked_at = self._clock()
            return self._state
        finally:
            self._guard.release()

    def _ping(self) -> DependencyState:
        from redis.exceptions import RedisError

        try:
            return "ok" if self._client.ping() else "unavailable"
        except (RedisError, OSError):
            return "unavailable"
