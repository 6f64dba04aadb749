"""Integration tests: refresh locks and the request budget in a real Redis (SECURITY 27, 33).

Needs ``ZOHO_TEST_REDIS_URL`` (set by ``.ci/run``); skipped on a laptop without Redis.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Iterator

import pytest
import redis

from zoho_invoice.api import RedisRequestBudget
from zoho_invoice.tokens import RedisRefreshLocks
from zoho_invoice.tokens._locks import LayeredRefreshLocks


@pytest.fixture
def client(redis_url: str) -> Iterator[redis.Redis]:
    connection = redis.Redis.from_url(redis_url)
    try:
        connection.ping()
    except redis.RedisError as exc:
        pytest.fail(f"ZOHO_TEST_REDIS_URL is set but Redis does not answer: {exc}")
    yield connection
    connection.close()


def test_s27_one_holder_at_a_time_across_clients(client: redis.Redis, redis_url: str) -> None:
    # Two independent clients stand for two hosts.
    key = f"conn-{uuid.uuid4().hex}"
    first = RedisRefreshLocks(client)
    second = RedisRefreshLocks.from_url(redis_url)
    with first.acquire(key, lease_seconds=10, wait_seconds=0) as held:
        assert held
        with second.acquire(key, lease_seconds=10, wait_seconds=0.2) as other:
            assert not other
    with second.acquire(key, lease_seconds=10, wait_seconds=0) as held_after_release:
        assert held_after_release


def test_s28_a_stalled_holder_loses_its_lease(client: redis.Redis) -> None:
    key = f"conn-{uuid.uuid4().hex}"
    locks = RedisRefreshLocks(client)
    with locks.acquire(key, lease_seconds=0.2, wait_seconds=0) as stalled:
        assert stalled
        # The holder stalls past its lease: another worker gets the lock; the stalled
        # holder's release later does not free the newcomer's lease.
        with locks.acquire(key, lease_seconds=10, wait_seconds=2) as newcomer:
            assert newcomer
            assert client.exists(f"zoho-invoice:refresh:{key}")
        assert not client.exists(f"zoho-invoice:refresh:{key}")
    assert not client.exists(f"zoho-invoice:refresh:{key}")


def test_s27_layered_locks_let_one_thread_of_many_in(client: redis.Redis) -> None:
    key = f"conn-{uuid.uuid4().hex}"
    locks = LayeredRefreshLocks(RedisRefreshLocks(client))
    inside = 0
    most = 0
    entered = 0
    guard = threading.Lock()

    def work() -> None:
        nonlocal inside, most, entered
        with locks.acquire(key, lease_seconds=10, wait_seconds=10) as held:
            assert held
            with guard:
                inside += 1
                entered += 1
                most = max(most, inside)
            time.sleep(0.005)
            with guard:
                inside -= 1

    threads = [threading.Thread(target=work) for _ in range(12)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert entered == 12
    assert most == 1


def test_redis_down_means_not_acquired() -> None:
    locks = RedisRefreshLocks.from_url("redis://127.0.0.1:1/0")
    with locks.acquire("conn", lease_seconds=1, wait_seconds=0.1) as held:
        assert not held


def test_s33_shared_budget_across_hosts(client: redis.Redis, redis_url: str) -> None:
    # Two "hosts" share one organization's budget: 10 a window, burst 2.
    prefix = f"zoho-invoice-test:{uuid.uuid4().hex}:"
    one = RedisRequestBudget(client, rate=10, window=60, burst=2, prefix=prefix)
    two = RedisRequestBudget.from_url(redis_url, rate=10, window=60, burst=2, prefix=prefix)
    waits = [one.reserve("org-1"), two.reserve("org-1"), one.reserve("org-1")]
    assert waits[0] == 0 and waits[1] == 0  # the burst
    assert waits[2] == pytest.approx(6.0, abs=0.5)  # then one permit each 6 s, queued
    assert two.reserve("org-1") == pytest.approx(12.0, abs=0.5)
    assert one.reserve("org-2") == 0  # another organization has its own bucket


def test_budget_falls_back_to_a_local_bucket_when_redis_is_down() -> None:
    budget = RedisRequestBudget(redis.Redis.from_url("redis://127.0.0.1:1/0"), rate=10, window=60)
    waits = [budget.reserve("org") for _ in range(7)]
    assert waits[:5] == [0.0] * 5
    assert waits[5] > 0 and waits[6] > waits[5]
