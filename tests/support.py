"""Helpers shared by tests: ``from support import free_port, missing``."""

from __future__ import annotations

import os
import socket

import pytest

REQUIRE_ALL = os.environ.get("ZOHO_TEST_REQUIRE_ALL") == "1"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]


def missing(reason: str) -> None:
    """Skip locally, fail in CI: a test that needs something absent."""
    if REQUIRE_ALL:
        pytest.fail(f"required in CI but unavailable: {reason}")
    pytest.skip(reason)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])
