"""Integration tests (real processes, SQLite file and PostgreSQL): the vault's refresh lock wakes a
waiter in another process when its holder lets go, and frees itself when its holder is SIGKILLed,
however long the lease (SECURITY 27; issue 9's failover).

No timing is asserted. A waiter waits with ``wait_seconds`` of ten minutes and the holder's lease
is ten minutes: the waiter getting the lock at all (before the test's safety net of 60 s) shows it
was woken by the release or the death, not by a timer or the lease's end.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import threading
from collections.abc import Iterator

import pytest

from zoho_invoice.vault import Vault

LONG = 600.0  # a lease and a wait no test could sit out
SAFETY_NET = 60.0  # only so that a broken lock fails the test instead of hanging it

# The holder: takes the lock for KEY with a ten-minute lease, says so, and on "release" lets go
# (and stays alive, so that the release, not its death, frees the lock); on "exit" it exits.
HOLDER = """
import sys
from zoho_invoice.vault._db import create_engine_for
from zoho_invoice.vault._leases import refresh_locks_for
locks = refresh_locks_for(create_engine_for(sys.argv[1]))
with locks.acquire(sys.argv[2], lease_seconds=600.0, wait_seconds=0) as held:
    print("held" if held else "refused", flush=True)
    if held:
        sys.stdin.readline()
print("released", flush=True)
sys.stdin.readline()
"""


class Holder:
    """A real process holding the connection's lock."""

    def __init__(self, url: str, key: str) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-c", HOLDER, url, key],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        assert self.process.stdout is not None
        line = self.process.stdout.readline().strip()
        assert line == "held", (line, self._errors())

    def _errors(self) -> str:
        if self.process.poll() is None:
            return ""
        assert self.process.stderr is not None
        return self.process.stderr.read()[-2000:]

    def say(self, word: str) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write(word + "\n")
        self.process.stdin.flush()

    def release(self) -> None:
        self.say("release")
        assert self.process.stdout is not None
        assert self.process.stdout.readline().strip() == "released"

    def kill(self) -> None:
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=SAFETY_NET)

    def close(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait(timeout=SAFETY_NET)


class Waiter(threading.Thread):
    """This process asking for the lock with a ten-minute wait, in the background."""

    def __init__(self, vault: Vault, key: str) -> None:
        super().__init__(daemon=True)
        self._vault, self._key = vault, key
        self.asking = threading.Event()
        self.acquired: bool | None = None
        self.start()

    def run(self) -> None:
        self.asking.set()
        with self._vault.refresh_locks().acquire(
            self._key, lease_seconds=LONG, wait_seconds=LONG
        ) as held:
            self.acquired = held

    def outcome(self) -> bool | None:
        self.join(timeout=SAFETY_NET)
        assert not self.is_alive(), "the waiter was not woken"
        return self.acquired


@pytest.fixture
def holder(vault: Vault, db_url: str) -> Iterator[Holder]:
    running = Holder(db_url, "conn-failover")
    try:
        yield running
    finally:
        running.close()


def test_s27_the_lock_excludes_another_process(vault: Vault, holder: Holder) -> None:
    with vault.refresh_locks().acquire("conn-failover", lease_seconds=LONG, wait_seconds=0) as held:
        assert not held
    # Another connection's lock is free meanwhile.
    with vault.refresh_locks().acquire("conn-other", lease_seconds=LONG, wait_seconds=0) as held:
        assert held


def test_s27_a_waiter_in_another_process_is_woken_by_the_release(
    vault: Vault, holder: Holder
) -> None:
    waiter = Waiter(vault, "conn-failover")
    waiter.asking.wait(SAFETY_NET)
    holder.release()
    assert waiter.outcome() is True
    assert holder.process.poll() is None  # the holder lives: its release woke the waiter


def test_s27_a_sigkilled_holder_is_taken_over_without_waiting_for_its_lease(
    vault: Vault, holder: Holder
) -> None:
    waiter = Waiter(vault, "conn-failover")
    waiter.asking.wait(SAFETY_NET)
    holder.kill()
    # The lease was ten minutes and the wait ten minutes: the lock died with its holder.
    assert waiter.outcome() is True


def test_s27_a_waiter_that_times_out_holds_nothing(vault: Vault, holder: Holder) -> None:
    with vault.refresh_locks().acquire(
        "conn-failover", lease_seconds=LONG, wait_seconds=0.2
    ) as held:
        assert not held
    holder.release()
    # The timed-out wait left nothing behind: the next caller gets the lock. (On SQLite the
    # abandoned wait's thread may take the file lock for an instant before closing it, which
    # wakes this caller again: it waits, it does not fail.)
    with vault.refresh_locks().acquire(
        "conn-failover", lease_seconds=LONG, wait_seconds=SAFETY_NET
    ) as held:
        assert held


def test_s28_a_holder_that_stalls_past_its_lease_loses_the_lock(vault: Vault) -> None:
    """A live holder that hangs (it neither finishes nor dies) keeps the lock for its lease only:
    the server ends its session (PostgreSQL), a timer closes its file (SQLite). Its late
    release is harmless, and the version fence refuses its late write (tested elsewhere)."""
    locks = vault.refresh_locks()
    with locks.acquire("conn-stalled", lease_seconds=0.5, wait_seconds=0) as stalled:
        assert stalled
        with locks.acquire("conn-stalled", lease_seconds=LONG, wait_seconds=SAFETY_NET) as newcomer:
            assert newcomer
    with locks.acquire("conn-stalled", lease_seconds=LONG, wait_seconds=SAFETY_NET) as again:
        assert again
