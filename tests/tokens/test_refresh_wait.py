"""Unit tests (real SQLite vault, fake Zoho, movable clock): what a caller waits for another's
refresh is capped, and the threads of one process queued behind a finished refresh are let go
together instead of each taking the shared lock (issue 9; SECURITY 26, 29).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager

import pytest

from support import Clock
from tokens._support import Manager
from zoho_invoice import TokenUnavailableError
from zoho_invoice.tokens import InProcessRefreshLocks
from zoho_invoice.tokens._locks import LayeredRefreshLocks
from zoho_invoice.tokens._manager import MAX_LOCK_WAIT
from zoho_invoice.vault import Vault
from zoho_invoice.vault._leases import DatabaseRefreshLocks

SAFETY_NET = 60.0


def test_s29_a_waiters_wait_is_capped_whatever_lock_wait_says(
    vault: Vault, clock: Clock, make_manager: Manager
) -> None:
    """Another process holds the connection's lease (ten minutes); a caller built with
    ``lock_wait=60`` gives up after at most MAX_LOCK_WAIT seconds of its clock and answers
    "try again" (TokenUnavailableError with retry_after), never the 60 s it asked for."""
    connection_id = make_manager.save(expires_in=-10)
    sleeps: list[float] = []

    def sleep(seconds: float) -> None:
        sleeps.append(seconds)
        clock.advance(seconds)

    shared = DatabaseRefreshLocks(vault.engine, clock=clock, sleep=sleep, poll=1.0)
    manager = make_manager(locks=LayeredRefreshLocks(shared), lock_wait=60.0)
    started = clock()
    with shared.acquire(connection_id, lease_seconds=600.0, wait_seconds=0) as other_holds:
        assert other_holds
        with pytest.raises(TokenUnavailableError) as caught:
            manager.get_access_token(connection_id)
    assert caught.value.retry_after is not None and caught.value.retry_after >= 1
    assert sleeps  # it did wait, by its clock
    assert clock() - started <= MAX_LOCK_WAIT
    assert make_manager.zoho.refreshes == 0


class _Observed:
    """``InProcessRefreshLocks`` that counts the callers who asked (before they block)."""

    def __init__(self) -> None:
        self._inner = InProcessRefreshLocks()
        self.asked = 0
        self.changed = threading.Condition()

    def acquire(
        self, key: str, *, lease_seconds: float, wait_seconds: float
    ) -> AbstractContextManager[bool]:
        with self.changed:
            self.asked += 1
            self.changed.notify_all()
        return self._inner.acquire(key, lease_seconds=lease_seconds, wait_seconds=wait_seconds)


class _Counting:
    """A shared lock that counts how often it was taken."""

    def __init__(self) -> None:
        self._inner = InProcessRefreshLocks()
        self.taken = 0

    def acquire(
        self, key: str, *, lease_seconds: float, wait_seconds: float
    ) -> AbstractContextManager[bool]:
        return self._acquire(key, lease_seconds, wait_seconds)

    @contextmanager
    def _acquire(self, key: str, lease_seconds: float, wait_seconds: float) -> Iterator[bool]:
        with self._inner.acquire(
            key, lease_seconds=lease_seconds, wait_seconds=wait_seconds
        ) as held:
            if held:
                self.taken += 1
            yield held


@pytest.mark.parametrize("coalesce", [True, False])
def test_s26_threads_queued_behind_a_finished_refresh_skip_the_shared_lock(
    coalesce: bool,
) -> None:
    local, shared = _Observed(), _Counting()
    locks = LayeredRefreshLocks(shared, local, coalesce=coalesce)
    inside, finish = threading.Event(), threading.Event()
    outcomes: list[bool] = []
    guard = threading.Lock()

    def hold() -> None:
        with locks.acquire("conn", lease_seconds=45, wait_seconds=SAFETY_NET) as held:
            assert held
            inside.set()
            finish.wait(SAFETY_NET)

    def wait() -> None:
        with locks.acquire("conn", lease_seconds=45, wait_seconds=SAFETY_NET) as held, guard:
            outcomes.append(held)

    holder = threading.Thread(target=hold)
    holder.start()
    assert inside.wait(SAFETY_NET)
    waiters = [threading.Thread(target=wait) for _ in range(12)]
    for waiter in waiters:
        waiter.start()
    with local.changed:
        assert local.changed.wait_for(lambda: local.asked == 13, SAFETY_NET)
    finish.set()
    for thread in [holder, *waiters]:
        thread.join(SAFETY_NET)
        assert not thread.is_alive()

    assert len(outcomes) == 12
    if coalesce:
        # Every waiter queued behind the holder is told "re-read, do not refresh" at once.
        assert outcomes == [False] * 12
        assert shared.taken == 1
    else:
        assert outcomes == [True] * 12
        assert shared.taken == 13
