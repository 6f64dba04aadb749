"""Integration tests in a real Redis: the async path of ``RedisRequestBudget`` (``redis.asyncio``),
and a sync and an async client sharing one organization's budget on the same keys.

Each test uses a key prefix of its own and deletes its keys after. Needs ``ZOHO_TEST_REDIS_URL``.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import AsyncIterator, Iterator

import pytest
import redis

from api._fakes import Recorder, async_client, sync_client, zoho
from zoho_invoice import RateLimitError
from zoho_invoice.api import (
    AsyncQuotaBlocks,
    AsyncRequestBudget,
    InProcessQuotaBlocks,
    IPThrottle,
    RedisQuotaBlocks,
    RedisRequestBudget,
    RequestBudget,
)

pytestmark = [pytest.mark.redis, pytest.mark.anyio]


@pytest.fixture
def prefix(redis_url: str) -> Iterator[str]:
    name = f"zoho-invoice-test:{uuid.uuid4().hex}:"
    yield name
    client = redis.Redis.from_url(redis_url)
    for key in client.scan_iter(f"{name}*"):
        client.delete(key)
    client.close()


@pytest.fixture
async def budget(redis_url: str, prefix: str) -> AsyncIterator[RedisRequestBudget]:
    # 1 permit a minute after a burst of 2: any second take shows who drew from the bucket.
    shared = RedisRequestBudget.from_url(redis_url, rate=1, window=60.0, burst=2, prefix=prefix)
    yield shared
    await shared.aclose()


async def test_the_async_path_draws_from_the_redis_bucket(budget: RedisRequestBudget) -> None:
    assert isinstance(budget, AsyncRequestBudget) and isinstance(budget, RequestBudget)
    assert [await budget.areserve("org-1") for _ in range(2)] == [0.0, 0.0]
    third = await budget.areserve("org-1")
    assert 55.0 < third <= 60.0  # the next permit is a minute away
    assert await budget.areserve("org-2") == 0.0  # another organization: its own bucket


async def test_an_async_pause_holds_every_sharer_back(
    budget: RedisRequestBudget, redis_url: str, prefix: str
) -> None:
    assert await budget.apause("org-1", 30.0) is True
    # Another process's budget on the same Redis (a fresh object: no local memory of the pause).
    other = RedisRequestBudget.from_url(redis_url, rate=1, window=60.0, burst=2, prefix=prefix)
    try:
        assert 25.0 < other.reserve("org-1") <= 30.0
        assert 25.0 < await other.areserve("org-1") <= 90.0
    finally:
        await other.aclose()


async def test_sync_and_async_clients_share_one_budget(redis_url: str, prefix: str) -> None:
    """A sync client and an async client of one organization take permits from one bucket
    (the same scripts on the same keys), and a 44 met by the async one holds the sync one back."""
    # Two budget objects, as two processes would have: they agree only through Redis's keys.
    budget = RedisRequestBudget.from_url(redis_url, rate=1, window=60.0, burst=2, prefix=prefix)
    twin = RedisRequestBudget.from_url(redis_url, rate=1, window=60.0, burst=2, prefix=prefix)
    sync_slept: list[float] = []
    async_slept: list[float] = []

    async def sleep(seconds: float) -> None:
        async_slept.append(seconds)

    def ok() -> Recorder:
        return Recorder(lambda _request: zoho(contacts=[]))

    try:
        with sync_client(ok(), budget=budget, sleep=sync_slept.append) as sync:
            sync.contacts.list()
            async with async_client(
                ok(),
                budget=twin,
                sleep=sleep,
                quota_blocks=InProcessQuotaBlocks(),
                ip_throttle=IPThrottle(),
            ) as aclient:
                await aclient.contacts.list()
                assert sync_slept == async_slept == []  # the burst of 2: one each
                sync.contacts.list()
                assert len(sync_slept) == 1 and 55.0 < sync_slept[0] <= 60.0
        # The 44 on the async side pauses the organization where the sync side looks.
        limited = Recorder(zoho(429, 44, "too many", contacts=[]))
        fresh = prefix + "after-44:"
        paused = RedisRequestBudget.from_url(redis_url, rate=90, window=60, burst=5, prefix=fresh)
        held = RedisRequestBudget.from_url(redis_url, rate=90, window=60, burst=5, prefix=fresh)
        try:
            async with async_client(
                limited,
                budget=paused,
                sleep=sleep,
                max_retries=0,
                quota_blocks=InProcessQuotaBlocks(),
                ip_throttle=IPThrottle(),
            ) as aclient:
                with pytest.raises(RateLimitError):
                    await aclient.contacts.list()
            waited: list[float] = []
            with sync_client(ok(), budget=held, sleep=waited.append) as sync:
                sync.contacts.list()
            assert len(waited) == 1 and 55.0 < waited[0] <= 60.0  # the budget's window
        finally:
            await paused.aclose()
    finally:
        await twin.aclose()


async def test_redis_quota_blocks_answer_both_clients(redis_url: str, prefix: str) -> None:
    blocks = RedisQuotaBlocks.from_url(redis_url, prefix=prefix + "block:")
    try:
        assert isinstance(blocks, AsyncQuotaBlocks)
        assert await blocks.ablocked_until("org-1") is None
        await blocks.ablock("org-1", time.time() + 600)
        seen = blocks.blocked_until("org-1")
        assert seen is not None and 590 < seen - time.time() <= 600
        later = await blocks.ablocked_until("org-1")
        assert later is not None and abs(later - seen) < 5
    finally:
        await blocks.aclose()


async def test_an_async_budget_without_redis_keeps_a_local_bucket(prefix: str) -> None:
    """Redis gone (a closed port): the async path falls back to the local bucket, no error."""
    budget = RedisRequestBudget.from_url(
        "redis://127.0.0.1:1/0", rate=1, window=60.0, burst=1, prefix=prefix
    )
    try:
        assert await budget.areserve("org-1") == 0.0
        assert await budget.areserve("org-1") > 0.0
        assert await budget.apause("org-1", 5.0) is True
    finally:
        await budget.aclose()
