"""Integration tests in a real Redis: a 44's pause of an organization holds every host back, and
daily-quota blocks (code 45) are shared by every host, as a key expiring at the reset.

Needs ``ZOHO_TEST_REDIS_URL``; skipped on a laptop without Redis.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from zoho_invoice import Settings
from zoho_invoice.api import RedisQuotaBlocks, RedisRequestBudget, quota_blocks_from_settings
from zoho_invoice.api._quota import LayeredQuotaBlocks, default_quota_blocks

pytestmark = pytest.mark.redis


@pytest.fixture
def client(redis_url: str) -> Iterator[redis.Redis]:
    connection = redis.Redis.from_url(redis_url)
    yield connection
    connection.close()


@pytest.fixture
def prefix(client: redis.Redis) -> Iterator[str]:
    name = f"zoho-invoice-test:{uuid.uuid4().hex}:"
    yield name
    for key in client.scan_iter(f"{name}*"):
        client.delete(key)


def test_a_pause_on_one_host_holds_every_host_back(
    client: redis.Redis, redis_url: str, prefix: str
) -> None:
    one = RedisRequestBudget(client, rate=90, window=60, burst=5, prefix=prefix)
    two = RedisRequestBudget.from_url(redis_url, rate=90, window=60, burst=5, prefix=prefix)
    assert two.reserve("org-1") == 0.0
    one.pause("org-1", 60.0)  # host one met a 44
    assert two.reserve("org-1") == pytest.approx(60.0, abs=0.5)
    assert two.reserve("org-2") == 0.0  # another organization sends on


def test_quota_blocks_are_shared_and_expire(
    client: redis.Redis, redis_url: str, prefix: str
) -> None:
    one = RedisQuotaBlocks(client, prefix=prefix)
    two = RedisQuotaBlocks.from_url(redis_url, prefix=prefix)
    until = time.time() + 30
    one.block("api|org-1", until)
    seen = two.blocked_until("api|org-1")
    assert seen is not None and abs(seen - until) < 0.5
    two.block("api|org-1", until - 20)  # never shortened
    assert 25 < client.pttl(f"{prefix}api|org-1") / 1000 <= 30
    assert two.blocked_until("api|org-2") is None
    one.block("api|org-3", time.time() + 0.05)
    deadline = time.monotonic() + 5
    while one.blocked_until("api|org-3") is not None and time.monotonic() < deadline:
        time.sleep(0.02)
    assert one.blocked_until("api|org-3") is None  # Redis let it expire


def test_redis_down_reads_as_not_blocked() -> None:
    blocks = RedisQuotaBlocks(redis.Redis.from_url("redis://127.0.0.1:1/0"))
    blocks.block("api|org", time.time() + 60)
    assert blocks.blocked_until("api|org") is None


def test_settings_pick_redis_then_the_vault_then_the_process(tmp_path: Path) -> None:
    with_redis = quota_blocks_from_settings(
        Settings(data_dir=tmp_path, redis_url="redis://127.0.0.1:6379/0")
    )
    assert isinstance(with_redis, LayeredQuotaBlocks)
    assert isinstance(with_redis.shared, RedisQuotaBlocks)
    assert quota_blocks_from_settings(Settings(data_dir=tmp_path)) is default_quota_blocks()
