"""One ``redis.asyncio`` client per event loop, for the Redis-backed limits of the async client.

A ``redis.asyncio`` connection belongs to the event loop that opened it: used from another loop
(a second ``asyncio.run``, a test's own loop) it fails. The budget and the quota blocks are
process-wide objects that outlive loops, so they keep one async client per running loop, made
on first use from the Redis URL and forgotten with the loop. ``aclose()`` closes the current
loop's client (a service calls it at shutdown; a loop that ends without it only drops it).
"""

from __future__ import annotations

import asyncio
import threading
import weakref
from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import redis.asyncio

__all__ = ["AsyncRedisClients"]


class AsyncRedisClients:
    """The ``redis.asyncio`` client of the running loop: a given one, else one per loop."""

    def __init__(
        self,
        *,
        factory: Callable[[], redis.asyncio.Redis] | None = None,
        client: redis.asyncio.Redis | None = None,
    ) -> None:
        if (factory is None) == (client is None):
            raise ValueError("give either factory= or client=")
        self._factory = factory
        self._client = client
        self._lock = threading.Lock()
        self._per_loop: weakref.WeakKeyDictionary[
            asyncio.AbstractEventLoop, redis.asyncio.Redis
        ] = weakref.WeakKeyDictionary()

    @classmethod
    def from_url(cls, url: str) -> AsyncRedisClients:
        def make() -> redis.asyncio.Redis:
            import redis.asyncio as redis_asyncio

            return redis_asyncio.Redis.from_url(url)

        return cls(factory=make)

    def current(self) -> redis.asyncio.Redis:
        """The client to use on the running loop."""
        if self._client is not None:
            return self._client
        assert self._factory is not None
        loop = asyncio.get_running_loop()
        with self._lock:
            client = self._per_loop.get(loop)
            if client is None:
                client = self._per_loop[loop] = self._factory()
            return client

    async def aclose(self) -> None:
        """Close the running loop's client (one given to ``__init__`` is its owner's to close)."""
        if self._client is not None:
            return
        with self._lock:
            client = self._per_loop.pop(asyncio.get_running_loop(), None)
        if client is not None:
            await client.aclose()
