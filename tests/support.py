"""Helpers shared by tests: ``from support import Clock, free_port, missing``."""

from __future__ import annotations

import os
import socket
import subprocess
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime

import pytest

REQUIRE_ALL = os.environ.get("ZOHO_TEST_REQUIRE_ALL") == "1"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]


def missing(reason: str) -> None:
    """Skip locally, fail in CI: a test that needs something absent."""
    if REQUIRE_ALL:
        pytest.fail(f"required in CI but unavailable: {reason}")
    pytest.skip(reason)


def need_root() -> None:
    """Tests that plant a file owned by another user (``os.chown``) need root: CI runs as root;
    a local run as an ordinary user skips them with this reason."""
    if os.geteuid() != 0:
        missing("planting a file owned by another user needs root (os.chown); CI runs as root")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Clock:
    """The one test clock: epoch seconds that move only when the test says so.

    Pass it as the ``clock=`` of the code under test and move it with ``advance`` (or set
    ``now``); its ``sleep`` / ``asleep`` advance it, so a client given them waits without the
    test waiting. ``start`` defaults to the real time now. ``ticking=True`` is real time plus
    what the test has advanced, for a sandbox on a real port whose timers must keep moving.
    Safe to read and move from several threads.
    """

    def __init__(self, start: float | None = None, *, ticking: bool = False) -> None:
        self._lock = threading.Lock()
        self._ticking = ticking
        self._base = time.time() if start is None else start
        self._moved = 0.0

    @property
    def now(self) -> float:
        with self._lock:
            return (time.time() if self._ticking else self._base) + self._moved

    @now.setter
    def now(self, value: float) -> None:
        with self._lock:
            self._moved = value - (time.time() if self._ticking else self._base)

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        with self._lock:
            self._moved += seconds

    def sleep(self, seconds: float) -> None:
        self.advance(seconds)

    async def asleep(self, seconds: float) -> None:
        self.advance(seconds)

    def today(self) -> date:
        return datetime.fromtimestamp(self.now, UTC).date()


@contextmanager
def postgres_schema(base: str, prefix: str, *, options: str = "") -> Iterator[str]:
    """A PostgreSQL schema of its own for one test: yields a URL whose connections use it (and
    ``options``, more ``-c`` settings, URL-encoded), and drops it, whatever it holds, at the end."""
    from sqlalchemy import create_engine, text

    if base.startswith("postgresql://"):
        base = "postgresql+psycopg://" + base.removeprefix("postgresql://")
    schema = f"{prefix}_{uuid.uuid4().hex[:12]}"
    admin = create_engine(base)
    try:
        with admin.begin() as conn:
            conn.execute(text(f'CREATE SCHEMA "{schema}"'))
        separator = "&" if "?" in base else "?"
        yield f"{base}{separator}options=-csearch_path%3D{schema}{options}"
    finally:
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        admin.dispose()


def wait_until_serving(
    url: str,
    process: subprocess.Popen[bytes] | None = None,
    *,
    within: float = 60.0,
    what: str = "serve",
) -> None:
    """Wait until ``url``/healthz answers 200 (a process started moments ago); fail if
    ``process`` ends first or nothing answers ``within`` seconds."""
    from zoho_invoice._http import httpx

    deadline = time.monotonic() + within
    while True:
        assert process is None or process.poll() is None, f"{what} ended"
        try:
            if httpx.get(url + "/healthz", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        assert time.monotonic() < deadline, f"{what} did not come up"
        time.sleep(0.05)
