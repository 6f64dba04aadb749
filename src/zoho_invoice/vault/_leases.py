"""Refresh locks kept by the vault's database: one refresh per connection for every process that
shares the database (one SQLite file on a host, or PostgreSQL across hosts).

Three things matter (SECURITY 27, issue 9): exactly one holder; waiters learn *at once* that the
holder is done (no poll with sleeps); and a dead holder frees the lock *at once*, not after its
lease. So each database gets a lock that lives in something that dies with its holder:

- PostgreSQL, ``AdvisoryRefreshLocks``: a transaction-scoped advisory lock
  (``pg_advisory_xact_lock``) on a connection of a small pool of its own. Waiters block in the
  server (``lock_timeout`` bounds the wait) and are woken by it the moment the holder's
  transaction ends, on any host. A killed holder's socket closes and the server ends its
  session, lock included; a host that vanishes is caught by TCP keep-alives (about 11 s); a holder
  that hangs alive is ended by ``idle_in_transaction_session_timeout`` = the lease. Transaction
  scope, not session scope: a pooled connection can never carry a forgotten lock back to the pool
  (the pool's rollback ends it).
- A SQLite file, ``FileRefreshLocks``: an OS lock (``flock``) on a small file per connection in a
  folder beside the database file. The kernel wakes a blocked waiter when it is released and drops
  it when its process dies; a timer gives it back after the lease if the holder hangs alive.
- In-memory SQLite (one process by nature) or anything else: ``DatabaseRefreshLocks``, the lease
  rows of table ``refresh_leases`` (a holder's death is seen when its lease ends).

Whoever holds a lock too long loses nothing but the race: the version column fences every write
(SECURITY 28). These classes fit the ``RefreshLocks`` protocol of ``zoho_invoice.tokens`` without
importing it; ``refresh_locks_for(engine)`` picks one.
"""

from __future__ import annotations

import fcntl
import hashlib
import logging
import os
import random
import secrets
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path

from sqlalchemy import Connection, Engine, delete, insert, text, update
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError

from .._files import ensure_private_dir
from ._db import create_engine_for
from ._models import RefreshLeaseRow

__all__ = [
    "AdvisoryRefreshLocks",
    "DatabaseRefreshLocks",
    "FileRefreshLocks",
    "VaultRefreshLocks",
    "refresh_locks_for",
]

logger = logging.getLogger("zoho_invoice.vault")

_POLL_SECONDS = 0.05
#: Namespace of our advisory-lock keys, so another application's advisory locks never collide.
_ADVISORY_NAMESPACE = b"zoho-invoice:refresh:"
#: TCP keep-alive of a lock's session (seconds): a vanished host is noticed in idle + interval
#: * count, about 11 s, by the server, which then frees the lock.
_KEEPALIVE_IDLE, _KEEPALIVE_INTERVAL, _KEEPALIVE_COUNT = 5, 2, 3


def _lock_timed_out(exc: DBAPIError) -> bool:
    """``lock_timeout`` ran out (SQLSTATE 55P03), as opposed to a busy or lost database."""
    from psycopg.errors import LockNotAvailable  # PostgreSQL only, where psycopg is installed

    return isinstance(exc.orig, LockNotAvailable)


def advisory_key(key: str) -> int:
    """The signed 64-bit advisory-lock key of ``key`` (a hash, namespaced)."""
    digest = hashlib.blake2b(_ADVISORY_NAMESPACE + key.encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


def _milliseconds(seconds: float) -> str:
    return str(max(1, int(seconds * 1000)))


class AdvisoryRefreshLocks:
    """PostgreSQL advisory locks held by a live session; see the module docstring.

    Connections come from a small pool of their own (``pool_size`` kept, more opened when a
    storm needs them), so a refresh holding its lock through Zoho's latency never takes a
    connection the vault's reads need.
    """

    def __init__(self, engine: Engine, *, pool_size: int = 4, max_overflow: int = 60) -> None:
        self._engine = create_engine_for(
            engine.url,
            pool_size=pool_size,
            max_overflow=max_overflow,
            pool_timeout=10.0,
            pool_pre_ping=False,
            connect_args={
                "keepalives": 1,
                "keepalives_idle": _KEEPALIVE_IDLE,
                "keepalives_interval": _KEEPALIVE_INTERVAL,
                "keepalives_count": _KEEPALIVE_COUNT,
            },
        )

    def acquire(
        self, key: str, *, lease_seconds: float, wait_seconds: float
    ) -> AbstractContextManager[bool]:
        return self._acquire(key, lease_seconds, wait_seconds)

    @contextmanager
    def _acquire(self, key: str, lease_seconds: float, wait_seconds: float) -> Iterator[bool]:
        conn: Connection | None = None
        acquired = False
        started = time.monotonic()
        for attempt in (1, 2):
            try:
                conn = self._engine.connect()
            except (DBAPIError, PoolTimeoutError):
                break  # the database is down or every lock connection busy: hold nothing
            # What the wait for a pooled connection took comes off the wait for the lock, so
            # one caller never waits longer than ``wait_seconds`` in all.
            remaining = wait_seconds - (time.monotonic() - started) if wait_seconds > 0 else 0.0
            if wait_seconds > 0 and remaining <= 0:
                break
            try:
                acquired = self._take(conn, key, lease_seconds, remaining)
                break
            except DBAPIError as exc:
                # Not pre-pinged (a round trip saved per lock): a pooled connection the server
                # dropped fails here, once, and is replaced.
                if exc.connection_invalidated and attempt == 1:
                    conn.close()
                    conn = None
                    continue
                # 55P03 lock_not_available: lock_timeout ran out. Anything else: the database
                # is busy or gone. Either way we hold nothing.
                if not _lock_timed_out(exc):
                    logger.warning("refresh lock unavailable: %s", type(exc.orig).__name__)
                break
        try:
            yield acquired
        finally:
            if conn is not None:
                try:
                    conn.rollback()  # ends the transaction: the lock is free, waiters wake now
                    conn.close()
                except DBAPIError:
                    # The server ended the session (we overstayed the lease): the lock is
                    # already free, and the version fence refuses a late write.
                    conn.invalidate()
                    conn.close()

    @staticmethod
    def _take(conn: Connection, key: str, lease_seconds: float, wait_seconds: float) -> bool:
        """One round trip: settings local to this transaction (they end with it, the pool stays
        clean; the FROM clause sets them before the lock is asked for), then the lock. The
        server ends a holder idle in it past the lease, and its keep-alives find a holder whose
        host is gone."""
        # pg_advisory_xact_lock returns void once it holds the lock (never NULL); the try form
        # answers whether it got it.
        lock = (
            "pg_advisory_xact_lock(:k) IS NOT NULL"
            if wait_seconds > 0
            else "pg_try_advisory_xact_lock(:k)"
        )
        row = conn.execute(
            text(
                f"SELECT {lock} FROM (SELECT"
                " set_config('idle_in_transaction_session_timeout', :lease, true),"
                " set_config('lock_timeout', :wait, true),"
                " set_config('tcp_keepalives_idle', :idle, true),"
                " set_config('tcp_keepalives_interval', :interval, true),"
                " set_config('tcp_keepalives_count', :count, true)) AS settings"
            ),
            {
                "k": advisory_key(key),
                "lease": _milliseconds(lease_seconds),
                "wait": _milliseconds(wait_seconds),
                "idle": str(_KEEPALIVE_IDLE),
                "interval": str(_KEEPALIVE_INTERVAL),
                "count": str(_KEEPALIVE_COUNT),
            },
        ).scalar()
        return bool(row)

    def dispose(self) -> None:
        """Close the pool's connections (the vault's ``close``)."""
        self._engine.dispose()


class FileRefreshLocks:
    """``flock`` on a file per key in ``directory``: for processes sharing a SQLite file.

    The kernel wakes a blocked waiter when the holder lets go, and lets go for a process that
    dies. A waiter blocks in a helper thread so that its wait can be bounded (``flock`` has no
    timeout); a timer gives the lock back after ``lease_seconds`` if its holder hangs.
    """

    def __init__(self, directory: Path) -> None:
        self._directory = Path(directory)
        self._made = False

    def _path(self, key: str) -> Path:
        if not self._made:
            ensure_private_dir(self._directory)
            self._made = True
        return self._directory / (hashlib.sha256(key.encode()).hexdigest()[:32] + ".lock")

    def acquire(
        self, key: str, *, lease_seconds: float, wait_seconds: float
    ) -> AbstractContextManager[bool]:
        return self._acquire(key, lease_seconds, wait_seconds)

    @contextmanager
    def _acquire(self, key: str, lease_seconds: float, wait_seconds: float) -> Iterator[bool]:
        try:
            # Its own open file description: flock then excludes the other threads too.
            fd = os.open(
                self._path(key), os.O_RDWR | os.O_CREAT | os.O_CLOEXEC | os.O_NOFOLLOW, 0o600
            )
        except OSError as exc:
            logger.warning("refresh lock file unavailable: %s", type(exc).__name__)
            yield False
            return
        held = _HeldFile(fd)
        acquired = held.take(wait_seconds)
        timer: threading.Timer | None = None
        if acquired:
            timer = threading.Timer(max(lease_seconds, 0.001), held.give_back)
            timer.daemon = True
            timer.start()
        try:
            yield acquired
        finally:
            if timer is not None:
                timer.cancel()
            held.give_back()

    def dispose(self) -> None:
        """Nothing to close: each lock's file is closed when it is given back."""


class _HeldFile:
    """One descriptor's ``flock``: taken with a bounded wait, given back exactly once."""

    def __init__(self, fd: int) -> None:
        self._fd = fd
        self._guard = threading.Lock()
        self._holding = False
        self._abandoned = False
        self._waiting = False
        self._closed = False

    def take(self, wait_seconds: float) -> bool:
        try:
            fcntl.flock(self._fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            self._holding = True
            return True
        except BlockingIOError:
            pass
        if wait_seconds <= 0:
            return False
        taken = threading.Event()
        self._waiting = True
        threading.Thread(target=self._block, args=(taken,), daemon=True).start()
        taken.wait(wait_seconds)
        with self._guard:
            if self._holding:
                return True
            # Too late: the helper gives the lock back (and closes) as soon as it gets it.
            self._abandoned = True
            return False

    def _block(self, taken: threading.Event) -> None:
        try:
            fcntl.flock(self._fd, fcntl.LOCK_EX)  # the kernel wakes us on release or death
            got = True
        except OSError:
            got = False
        with self._guard:
            self._waiting = False
            if got and not self._abandoned:
                self._holding = True
                taken.set()
                return
            abandoned = self._abandoned
        if abandoned:
            self._close()

    def give_back(self) -> None:
        with self._guard:
            if self._abandoned and self._waiting:
                return  # the helper still waits; it closes when it gets the lock
        self._close()

    def _close(self) -> None:
        with self._guard:
            if self._closed:
                return
            self._closed = True
            self._holding = False
        os.close(self._fd)  # closing the last descriptor drops the flock


class DatabaseRefreshLocks:
    """Leases in the ``refresh_leases`` table; see the module docstring.

    A lease row is taken by one statement that succeeds only when the row is absent (INSERT) or
    expired (UPDATE ... WHERE expires_at <= now), so two workers can never both hold it; giving
    it back deletes the row only if we still hold it. Waiters poll (jittered, ``poll`` seconds);
    ``clock`` and ``sleep`` also bound the wait, so a test can move time.
    """

    def __init__(
        self,
        engine: Engine,
        *,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
        poll: float = _POLL_SECONDS,
    ) -> None:
        self._engine = engine
        self._clock = clock
        self._sleep = sleep
        self._poll = poll

    def acquire(
        self, key: str, *, lease_seconds: float, wait_seconds: float
    ) -> AbstractContextManager[bool]:
        return self._acquire(key, lease_seconds, wait_seconds)

    @contextmanager
    def _acquire(self, key: str, lease_seconds: float, wait_seconds: float) -> Iterator[bool]:
        holder = secrets.token_hex(16)
        deadline = self._clock() + max(wait_seconds, 0.0)
        acquired = self._try(key, holder, lease_seconds)
        while not acquired and self._clock() < deadline:
            self._sleep(min(self._poll * (0.5 + random.random()), deadline - self._clock()))
            acquired = self._try(key, holder, lease_seconds)
        try:
            yield acquired
        finally:
            if acquired:
                self._release(key, holder)

    def _try(self, key: str, holder: str, lease_seconds: float) -> bool:
        now = self._clock()
        expires_at = now + max(lease_seconds, 0.001)
        try:
            with self._engine.begin() as conn:
                taken = conn.execute(
                    update(RefreshLeaseRow)
                    .where(RefreshLeaseRow.key == key, RefreshLeaseRow.expires_at <= now)
                    .values(holder=holder, expires_at=expires_at)
                ).rowcount
                if taken == 1:
                    return True
            with self._engine.begin() as conn:
                conn.execute(
                    insert(RefreshLeaseRow).values(key=key, holder=holder, expires_at=expires_at)
                )
            return True
        except IntegrityError:
            return False  # someone else holds a live lease
        except DBAPIError:
            # A busy or unreachable database: we hold nothing; the caller falls back.
            return False

    def _release(self, key: str, holder: str) -> None:
        try:
            with self._engine.begin() as conn:
                conn.execute(
                    delete(RefreshLeaseRow).where(
                        RefreshLeaseRow.key == key, RefreshLeaseRow.holder == holder
                    )
                )
        except DBAPIError:
            pass  # the lease expires by itself

    def dispose(self) -> None:
        """Nothing of its own to close (it uses the vault's engine)."""


VaultRefreshLocks = AdvisoryRefreshLocks | FileRefreshLocks | DatabaseRefreshLocks


def refresh_locks_for(
    engine: Engine, *, clock: Callable[[], float] = time.time
) -> VaultRefreshLocks:
    """The refresh lock that dies with its holder on ``engine``'s database (module docstring)."""
    if engine.dialect.name == "postgresql":
        return AdvisoryRefreshLocks(engine)
    database = engine.url.database
    if (
        engine.dialect.name == "sqlite"
        and database
        and database != ":memory:"
        and not database.startswith("file:")
    ):
        return FileRefreshLocks(Path(database).with_name(Path(database).name + ".locks"))
    return DatabaseRefreshLocks(engine, clock=clock)
