"""Unit tests of the request budget (injected clock) and the concurrency cap."""

from __future__ import annotations

import asyncio
import sys
import threading
import time
from collections.abc import Callable

import pytest

from api._fakes import FakeProvider, Recorder, async_client, sync_client, zoho
from support import Clock
from zoho_invoice import DailyQuotaExceeded
from zoho_invoice.api import (
    AsyncQuotaBlocks,
    AsyncRequestBudget,
    InProcessQuotaBlocks,
    IPThrottle,
    QuotaBlocks,
    RequestBudget,
    TokenBucketBudget,
)
from zoho_invoice.api._budget import AsyncConcurrencyCap, ConcurrencyCap


def test_burst_then_paced_at_the_rate() -> None:
    clock = Clock(1000.0)
    budget = TokenBucketBudget(rate=100, window=60.0, burst=5, clock=clock)
    waits = [budget.reserve("org") for _ in range(8)]
    assert waits[:5] == [0.0] * 5
    # Then one permit every 0.6 s, queued fairly behind each other.
    assert waits[5:] == pytest.approx([0.6, 1.2, 1.8])


def test_never_more_than_rate_plus_burst_in_any_window() -> None:
    clock = Clock(1000.0)
    budget = TokenBucketBudget(rate=95, window=60.0, burst=5, clock=clock)
    send_times = []
    for _ in range(400):
        wait = budget.reserve("org")
        send_times.append(clock.now + wait)
        clock.now += 0.01  # callers arrive far faster than allowed
    for i, start in enumerate(send_times):
        in_window = [t for t in send_times[i:] if t < start + 60.0]
        assert len(in_window) <= 100


def test_refills_over_time_and_caps_at_burst() -> None:
    clock = Clock(1000.0)
    budget = TokenBucketBudget(rate=10, window=10.0, burst=2, clock=clock)
    assert [budget.reserve("o") for _ in range(2)] == [0.0, 0.0]
    assert budget.reserve("o") == pytest.approx(1.0)
    clock.now += 3600
    assert [budget.reserve("o") for _ in range(2)] == [0.0, 0.0]
    assert budget.reserve("o") > 0


def test_organizations_have_separate_buckets() -> None:
    budget = TokenBucketBudget(rate=1, window=60.0, burst=1, clock=Clock(1000.0))
    assert budget.reserve("a") == 0.0
    assert budget.reserve("b") == 0.0
    assert budget.reserve("a") > 0


def test_invalid_budget_settings_rejected() -> None:
    with pytest.raises(ValueError):
        TokenBucketBudget(rate=0)
    with pytest.raises(ValueError):
        TokenBucketBudget(burst=0)


def test_client_waits_for_permit_instead_of_failing() -> None:
    clock = Clock(1000.0)
    budget = TokenBucketBudget(rate=60, window=60.0, burst=1, clock=clock)
    recorder = Recorder(zoho(invoices=[]))
    slept: list[float] = []
    with sync_client(recorder, budget=budget, sleep=slept.append) as client:
        for _ in range(3):
            client.invoices.list()
    assert len(recorder.requests) == 3
    assert slept == pytest.approx([1.0, 2.0])


def test_budget_is_thread_safe() -> None:
    budget = TokenBucketBudget(rate=1000, window=1.0, burst=1000, clock=Clock(1000.0))
    results: list[float] = []
    lock = threading.Lock()

    def take() -> None:
        for _ in range(100):
            wait = budget.reserve("o")
            with lock:
                results.append(wait)

    threads = [threading.Thread(target=take) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    # 800 reservations against 1000 permits: nobody waits, none lost to a race.
    assert len(results) == 800 and max(results) == 0.0
    # The clock stands still: the 801st to 1000th are free, the 1001st waits.
    assert [budget.reserve("o") > 0 for _ in range(201)] == [False] * 200 + [True]


def parked_at_a_semaphore(thread: threading.Thread) -> bool:
    """``thread`` waits in ``Semaphore.acquire`` (a slot of a full cap), by its current frame:
    an observation, not a guess about how long a wait takes."""
    frame = sys._current_frames().get(thread.ident or -1)
    return (
        frame is not None
        and frame.f_code.co_name == "wait"
        and frame.f_back is not None
        and frame.f_back.f_code.co_name == "acquire"
        and frame.f_code.co_filename == threading.__file__
    )


def settle(threads: list[threading.Thread], inside: Callable[[], int]) -> None:
    """Poll (deadline 10 s) until every thread is inside or parked at the cap's semaphore."""
    deadline = time.monotonic() + 10.0
    while inside() + sum(parked_at_a_semaphore(t) for t in threads) < len(threads):
        assert time.monotonic() < deadline, "threads neither inside nor waiting for a slot"
        time.sleep(0.001)


def test_concurrency_cap_limits_threads_in_flight() -> None:
    cap = ConcurrencyCap(3)
    inside = 0
    peak = 0
    entered = 0
    lock = threading.Lock()
    release = threading.Event()

    def work() -> None:
        nonlocal inside, peak, entered
        with cap.slot("org"):
            with lock:
                inside += 1
                entered += 1
                peak = max(peak, inside)
            assert release.wait(10)
            with lock:
                inside -= 1

    threads = [threading.Thread(target=work) for _ in range(12)]
    for thread in threads:
        thread.start()
    settle(threads, lambda: inside)
    # Three hold a slot, the nine others wait for one (none failed, none got past).
    assert (inside, entered) == (3, 3)
    release.set()
    for thread in threads:
        thread.join(10)
    assert (entered, peak) == (12, 3)


@pytest.mark.anyio
async def test_async_concurrency_cap() -> None:
    cap = AsyncConcurrencyCap(2)
    inside = 0
    peak = 0
    release = asyncio.Event()

    async def work() -> None:
        nonlocal inside, peak
        async with cap.slot("org"):
            inside += 1
            peak = max(peak, inside)
            await release.wait()
            inside -= 1

    tasks = [asyncio.create_task(work()) for _ in range(10)]
    for _ in range(20):  # one event loop: every task has run up to its await after these turns
        await asyncio.sleep(0)
    assert inside == 2
    release.set()
    await asyncio.gather(*tasks)
    assert (inside, peak) == (0, 2)


def test_default_budget_sends_at_most_95_in_any_minute() -> None:
    clock = Clock(1000.0)
    budget = TokenBucketBudget(clock=clock)  # the defaults every client uses
    send_times = []
    for _ in range(500):
        send_times.append(clock.now + budget.reserve("org"))
        clock.now += 0.01
    busiest = max(
        sum(1 for t in send_times[i:] if t < start + 60.0) for i, start in enumerate(send_times)
    )
    assert busiest <= 95  # headroom under Zoho's 100 for retries elsewhere and clock drift


class CountingBudget:
    window = 60.0

    def __init__(self) -> None:
        self.keys: list[str] = []

    def reserve(self, key: str) -> float:
        self.keys.append(key)
        return 0.0

    def pause(self, key: str, seconds: float) -> bool:
        return False


def test_the_resend_after_a_401_takes_its_own_permit() -> None:
    budget = CountingBudget()
    recorder = Recorder(zoho(401, 57), zoho(invoice={"invoice_id": "1"}))
    client = sync_client(recorder, token_provider=FakeProvider(), budget=budget)
    client.invoices.get("1")
    assert len(recorder.requests) == 2
    assert len(budget.keys) == 2  # one permit per request that reached Zoho


def test_clients_share_one_concurrency_cap_per_organization() -> None:
    in_flight = 0
    peak = 0
    lock = threading.Lock()
    release = threading.Event()

    def held(request: object) -> object:
        nonlocal in_flight, peak
        with lock:
            in_flight += 1
            peak = max(peak, in_flight)
        assert release.wait(10)
        with lock:
            in_flight -= 1
        return zoho(contacts=[])

    recorder = Recorder(held)

    def one_request() -> None:
        # A fresh client per request, as the web layer does.
        with sync_client(recorder) as client:
            client.contacts.list()

    threads = [threading.Thread(target=one_request) for _ in range(12)]
    for thread in threads:
        thread.start()
    settle(threads, lambda: in_flight)
    # Zoho sees 5 at once (its limit, code 1070); the 7 other clients wait for a slot.
    assert in_flight == 5 and len(recorder.requests) == 5
    release.set()
    for thread in threads:
        thread.join(10)
    assert len(recorder.requests) == 12
    assert peak == 5


def test_in_process_limits_forget_everything_on_clear() -> None:
    clock = Clock(1000.0)
    budget = TokenBucketBudget(rate=60, window=60.0, burst=1, clock=clock)
    budget.reserve("org")
    budget.pause("org", 30.0)
    blocks = InProcessQuotaBlocks(clock=clock)
    blocks.block("org", clock.now + 3600)
    throttle = IPThrottle(clock=clock)
    throttle.blocked()
    assert budget.reserve("org") > 0 and blocks.blocked_until("org") and throttle.wait() > 0
    for limit in (budget, blocks, throttle):
        limit.clear()
    assert (budget.reserve("org"), blocks.blocked_until("org"), throttle.wait()) == (0.0, None, 0.0)
    assert budget.reserve("org") > 0  # the bucket is back at its burst of 1, and paces again


class AsyncOnlyBudget:
    """A budget with only the async protocol: the async client must need nothing else."""

    window = 60.0

    def __init__(self) -> None:
        self.keys: list[str] = []
        self.paused: list[tuple[str, float]] = []

    async def areserve(self, key: str) -> float:
        self.keys.append(key)
        return 0.0

    async def apause(self, key: str, seconds: float) -> bool:
        self.paused.append((key, seconds))
        return True


class AsyncOnlyBlocks:
    """Quota blocks with only the async protocol."""

    def __init__(self) -> None:
        self.asked: list[str] = []
        self.blocks: dict[str, float] = {}

    async def ablock(self, key: str, until: float) -> None:
        self.blocks[key] = until

    async def ablocked_until(self, key: str) -> float | None:
        self.asked.append(key)
        return self.blocks.get(key)


@pytest.mark.anyio
async def test_the_async_client_uses_only_the_async_protocols() -> None:
    """Every permit, pause and block of the async client goes through ``AsyncRequestBudget`` and
    ``AsyncQuotaBlocks`` (awaited): none of the sync calls that would hold its event loop."""
    budget = AsyncOnlyBudget()
    blocks = AsyncOnlyBlocks()
    assert isinstance(budget, AsyncRequestBudget) and not isinstance(budget, RequestBudget)
    assert isinstance(blocks, AsyncQuotaBlocks) and not isinstance(blocks, QuotaBlocks)
    recorder = Recorder(
        zoho(429, 44, "too many"),
        zoho(contacts=[]),
        zoho(429, 45, "daily quota"),
    )
    async with async_client(
        recorder, budget=budget, quota_blocks=blocks, ip_throttle=IPThrottle(), max_retries=1
    ) as client:
        await client.contacts.list()  # a 44, the pause, then the retry
        assert budget.paused == [(budget.keys[0], 60.0)]
        with pytest.raises(DailyQuotaExceeded):
            await client.contacts.list()
        with pytest.raises(DailyQuotaExceeded):
            await client.contacts.list()  # blocked: nothing sent
    assert len(recorder.requests) == 3
    assert len(budget.keys) == 3
    assert list(blocks.blocks) == [budget.keys[0]] and len(blocks.asked) == 4
