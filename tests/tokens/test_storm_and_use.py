"""Unit tests (real Vault on SQLite, fake Zoho, the test clock): what a refresh storm costs in the
refresher's process, and the manager's use marks (issue 9).

- ``AsyncTokenManager``: tasks asking for a connection whose call is already in a thread await
  that call's answer: one thread, one refresh, and no database read per waiting task.
- ``TokenManager``: the token it has just minted and stored is answered from memory next.
- Use marks: a connection used steadily over a simulated day, with the worker running, never
  makes a caller wait for a refresh; marks are written at most once per quarter window per
  connection (a hit writes nothing: ``tests/tokens/test_hot_cache.py`` counts its statements).
"""

from __future__ import annotations

import threading

import anyio
import anyio.to_thread
import pytest

from support import Clock
from tokens._hot_support import CountingVault
from tokens._support import FakeZoho, Manager
from zoho_invoice import ReauthorizationRequired
from zoho_invoice._http import httpx
from zoho_invoice.tokens import (
    AsyncTokenManager,
    Backoff,
    TokenManager,
    WorkerPolicy,
    WorkerVault,
    refresh_due,
)
from zoho_invoice.tokens._types import AccessToken
from zoho_invoice.vault import Vault

SAFETY_NET = 30.0  # only ever reached when the code under test is broken
TASKS = 20
HOUR = 3600.0
DAY = 86400.0
CYCLE = 60.0


def _manager(make_manager: Manager, vault: CountingVault, **options: object) -> TokenManager:
    return TokenManager(
        vault,
        make_manager.oauth(make_manager.zoho),
        clock=make_manager.clock,
        sleep=make_manager.sleep,
        backoff=Backoff(initial=0.5, maximum=8.0, jitter=lambda: 0.0),
        **options,  # type: ignore[arg-type]  # keyword options of several types
    )


@pytest.mark.anyio
async def test_s27_tasks_behind_a_refresh_share_its_answer_without_threads_or_reads(
    make_manager: Manager,
) -> None:
    cid = make_manager.save(expires_in=-10)  # expired: the first task refreshes
    in_zoho = threading.Event()
    release = threading.Event()

    def held(request: httpx.Request) -> httpx.Response:
        in_zoho.set()
        release.wait(SAFETY_NET)
        return make_manager.zoho.ok(request)

    make_manager.zoho.script.append(held)
    counting = CountingVault(make_manager.vault)
    tokens = AsyncTokenManager(_manager(make_manager, counting))
    answers: list[AccessToken] = []

    async def ask() -> None:
        answers.append(await tokens.get_access_token(cid))

    async with anyio.create_task_group() as group:
        for _ in range(TASKS):
            group.start_soon(ask)
        # The first task's thread is inside Zoho; every other task is parked on the loop.
        assert await anyio.to_thread.run_sync(in_zoho.wait, SAFETY_NET)
        await anyio.wait_all_tasks_blocked()
        assert answers == []
        release.set()

    assert make_manager.zoho.refreshes == 1
    assert len(answers) == TASKS and {a.token for a in answers} == {make_manager.zoho.minted[0]}
    # The refreshing call's two reads (access token, then both under the lock); none for the
    # 19 tasks that waited.
    assert counting.calls["load_access"] == 1 and counting.calls["load_tokens"] == 1
    # And the next task is answered from memory: the refresher cached what it stored.
    reads = counting.reads()
    assert (await tokens.get_access_token(cid)).token == make_manager.zoho.minted[0]
    assert counting.reads() == reads


@pytest.mark.anyio
async def test_a_failed_call_is_the_answer_of_every_task_that_waited_for_it(
    make_manager: Manager,
) -> None:
    cid = make_manager.save(expires_in=-10)
    in_zoho = threading.Event()
    release = threading.Event()

    def dead(request: httpx.Request) -> httpx.Response:
        in_zoho.set()
        release.wait(SAFETY_NET)
        return make_manager.error("invalid_code")(request)

    make_manager.zoho.script.append(dead)
    tokens = AsyncTokenManager(make_manager())
    failures: list[BaseException] = []

    async def ask() -> None:
        try:
            await tokens.get_access_token(cid)
        except ReauthorizationRequired as exc:
            failures.append(exc)

    async with anyio.create_task_group() as group:
        for _ in range(5):
            group.start_soon(ask)
        assert await anyio.to_thread.run_sync(in_zoho.wait, SAFETY_NET)
        await anyio.wait_all_tasks_blocked()
        release.set()
    assert len(failures) == 5 and make_manager.zoho.refreshes == 1


def test_the_refresher_answers_its_next_caller_from_memory(make_manager: Manager) -> None:
    cid = make_manager.save(expires_in=-10)
    counting = CountingVault(make_manager.vault)
    manager = _manager(make_manager, counting)
    minted = manager.get_access_token(cid)
    reads = counting.reads()
    assert manager.get_access_token(cid) == minted
    assert counting.reads() == reads
    # Its stamp is not known: the first check a bound later reads the row once, then the
    # entry lives on checks of the stamp alone.
    make_manager.clock.advance(2.0)
    assert manager.get_access_token(cid).token == minted.token
    make_manager.clock.advance(2.0)
    before = counting.calls["load_access"]
    assert manager.get_access_token(cid).token == minted.token
    assert counting.calls["load_access"] == before


# -- use marks -----------------------------------------------------------------------------------


def _day_of_steady_use(
    make_manager: Manager, *, use_mark_interval: float | None
) -> tuple[int, int, int]:
    """A connection asked for every minute (half a minute after each worker cycle) for a day:
    (refreshes made during a caller's call, use marks written, the worker's refreshes)."""
    vault: Vault = make_manager.vault
    cid = make_manager.save(expires_in=HOUR)  # connecting marks use
    counting = CountingVault(vault)
    caller = _manager(make_manager, counting, use_mark_interval=use_mark_interval)
    worker = TokenManager(
        WorkerVault.view(vault, clock=make_manager.clock),
        make_manager.oauth(make_manager.zoho),
        leeway=300.0 + CYCLE,
        clock=make_manager.clock,
        sleep=make_manager.sleep,
        backoff=Backoff(initial=0.5, maximum=8.0, jitter=lambda: 0.0),
    )
    policy = WorkerPolicy(in_use_window=2 * HOUR, idle_probe_interval=DAY)
    waits = worker_refreshes = 0
    end = make_manager.clock() + DAY
    while make_manager.clock() < end:
        before = make_manager.zoho.refreshes
        refresh_due(worker, vault.refresh_schedule, policy=policy, clock=make_manager.clock)
        worker_refreshes += make_manager.zoho.refreshes - before
        make_manager.clock.advance(CYCLE / 2)
        before = make_manager.zoho.refreshes
        caller.get_access_token(cid)
        waits += make_manager.zoho.refreshes - before
        make_manager.clock.advance(CYCLE / 2)
    return waits, counting.calls["record_use"], worker_refreshes


def test_a_connection_in_steady_use_never_makes_a_caller_wait_for_zoho(
    make_manager: Manager,
) -> None:
    waits, marks, worker_refreshes = _day_of_steady_use(make_manager, use_mark_interval=HOUR / 2)
    assert waits == 0
    # At most one mark per quarter window (30 min) a day, plus the first.
    assert 1 <= marks <= DAY / (HOUR / 2) + 1
    assert worker_refreshes >= 20  # the worker kept it warm all day (a token lives an hour)


def test_without_use_marks_a_steady_caller_waits_every_few_hours(make_manager: Manager) -> None:
    """The same day without marks: what the marks prevent (the window lapses, a caller waits)."""
    waits, marks, _ = _day_of_steady_use(make_manager, use_mark_interval=None)
    assert waits >= 5 and marks == 0


def test_use_marks_are_batched_and_written_by_a_staleness_check(
    make_manager: Manager, clock: Clock, zoho: FakeZoho
) -> None:
    ids = [make_manager.save(expires_in=HOUR, owner=f"t{n}") for n in range(3)]
    counting = CountingVault(make_manager.vault)
    manager = _manager(make_manager, counting, use_mark_interval=HOUR / 2)
    for cid in ids:
        manager.get_access_token(cid)  # row reads: noted, nothing written before a refresh
    assert counting.calls["record_use"] == 0
    clock.advance(2.0)
    for cid in ids:
        manager.get_access_token(cid)  # staleness checks: the first writes all three at once
    assert counting.calls["record_use"] == 1
    # All three now count as in use (marked at this moment, not only at their connect).
    marked = make_manager.vault.refresh_schedule.in_use_expiring(
        used_since=clock() - 1.0, before=clock() + 2 * HOUR
    )
    assert sorted(marked) == sorted(ids)
    # Within the interval nothing more is written, however often they are checked.
    for _ in range(10):
        clock.advance(60.0)
        for cid in ids:
            manager.get_access_token(cid)
    assert counting.calls["record_use"] == 1
    assert zoho.refreshes == 0
