"""Fixtures for the web tests: the service app wired to a real Vault on SQLite in tmp_path and
the real sandbox app (in process) playing Zoho for the OAuth client and the API client."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from support import Clock, missing, postgres_schema
from web._harness import (
    Harness,
    build_harness,
    make_settings,
)
from zoho_invoice.settings import Settings


@pytest.fixture
def harness(tmp_path: Path) -> Iterator[Harness]:
    yield from build_harness(tmp_path)


@pytest.fixture
def make_harness(tmp_path: Path) -> Iterator[Callable[..., Harness]]:
    """``make_harness(**settings_overrides)``: a harness of the test's own (e.g. another
    ``database_url`` or ``encryption_keys``), torn down after the test."""
    made: list[Iterator[Harness]] = []

    def make(**overrides: Any) -> Harness:
        built = build_harness(tmp_path, **overrides)
        made.append(built)
        return next(built)

    yield make
    for built in reversed(made):
        next(built, None)  # runs the rest of build_harness: closes the clients and the vault


@pytest.fixture
def no_metrics_harness(tmp_path: Path) -> Iterator[Harness]:
    yield from build_harness(tmp_path, metrics_key=None)


@pytest.fixture
def web_settings(tmp_path: Path) -> Callable[..., Settings]:
    """The harness's settings with overrides, for an app a test builds itself."""
    return lambda **overrides: make_settings(tmp_path, **overrides)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def timed_harness(tmp_path: Path, clock: Clock) -> Iterator[Harness]:
    yield from build_harness(tmp_path, clock=clock)


@pytest.fixture
def https_harness(tmp_path: Path) -> Iterator[Harness]:
    yield from build_harness(tmp_path, public_url="https://testserver")


@pytest.fixture
def demo_harness(tmp_path: Path) -> Iterator[Harness]:
    yield from build_harness(tmp_path, demo=True)


@pytest.fixture(scope="module")
def fuzz_harness(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Harness]:
    yield from build_harness(Path(tmp_path_factory.mktemp("fuzz")))


@pytest.fixture(
    scope="module", params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
)
def any_db_harness(request: pytest.FixtureRequest, tmp_path_factory) -> Iterator[Harness]:
    """The fuzz harness on SQLite, and on PostgreSQL (a schema of its own, dropped after)."""
    tmp = Path(tmp_path_factory.mktemp("fuzzdb"))
    if request.param == "sqlite":
        yield from build_harness(tmp)
        return
    base = os.environ.get("ZOHO_TEST_POSTGRES_URL", "")
    if not base:
        missing("ZOHO_TEST_POSTGRES_URL is not set (no PostgreSQL for this run)")
    with postgres_schema(base, "fuzz") as url:
        yield from build_harness(tmp, database_url=url)
