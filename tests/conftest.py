"""Shared test fixtures.

Tests that need a server (PostgreSQL, Redis) or a browser skip with a clear reason on a laptop
that lacks them; in CI (``ZOHO_TEST_REQUIRE_ALL=1``, set by ``.ci/run``) they fail instead.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from support import CHROMIUM, missing

# The settings file (``.env`` in the working folder, which ``make demo`` writes) must not reach
# the tests, nor the processes they start: each test sets what it needs. A test of the file
# points ZOHO_ENV_FILE at one itself.
os.environ["ZOHO_ENV_FILE"] = ""


@pytest.fixture
def postgres_url() -> str:
    url = os.environ.get("ZOHO_TEST_POSTGRES_URL")
    if not url:
        missing("ZOHO_TEST_POSTGRES_URL is not set (no PostgreSQL for this run)")
    assert url is not None
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url.removeprefix("postgresql://")
    return url


@pytest.fixture
def redis_url() -> str:
    url = os.environ.get("ZOHO_TEST_REDIS_URL")
    if not url:
        missing("ZOHO_TEST_REDIS_URL is not set (no Redis for this run)")
    assert url is not None
    return url


@pytest.fixture
def chromium_path() -> str:
    if not Path(CHROMIUM).exists() and not shutil.which("chromium"):
        missing(f"{CHROMIUM} is not installed (apt-get install chromium)")
    return CHROMIUM if Path(CHROMIUM).exists() else str(shutil.which("chromium"))


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def data_dir(tmp_path: Path) -> Iterator[Path]:
    path = tmp_path / "data"
    path.mkdir()
    yield path


@pytest.fixture(autouse=True)
def _restore_root_logging() -> Iterator[None]:
    """CLI commands install a stderr handler on the root logger; keep it from leaking into
    later tests (where it would write to a closed, captured stream)."""
    import logging

    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    for handler in root.handlers[:]:
        if handler not in handlers:
            root.removeHandler(handler)
    root.setLevel(level)


@pytest.fixture(autouse=True)
def _forget_zoho_throttles() -> Iterator[None]:
    """A daily-quota block (code 45), a minute's pause (code 44) or an IP pause one test
    provoked lives in process-wide defaults: forget them, so no later test finds its
    organization or its address blocked."""
    yield
    from zoho_invoice.api._budget import default_budget
    from zoho_invoice.api._ip_throttle import default_ip_throttle
    from zoho_invoice.api._quota import default_quota_blocks

    default_quota_blocks().clear()
    default_ip_throttle().clear()
    default_budget().clear()
