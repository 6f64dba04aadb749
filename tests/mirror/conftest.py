"""Fixtures of the mirror tests: a vault per backend (SQLite file, PostgreSQL schema), the
sandbox in process on a fixed clock, a connection of alice bound to her organization."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from mirror._support import Sandbox, connect, sandbox_on
from sandbox_support import NOW
from support import Clock, postgres_schema
from zoho_invoice.vault import KeyRing, Vault


@pytest.fixture
def clock() -> Clock:
    return Clock(NOW)


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh, empty database: a SQLite file, or a PostgreSQL schema of its own."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'mirror.db'}"
        return
    base = request.getfixturevalue("postgres_url")
    # No fsync per commit: a test's data need not survive a crash of the server, and the
    # mirror commits once a page (the state machine makes thousands on a shared machine).
    with postgres_schema(base, "mirror_test", options="%20-csynchronous_commit%3Doff") as url:
        yield url


@pytest.fixture
def vault(db_url: str, clock: Clock) -> Iterator[Vault]:
    opened = Vault.open(
        db_url, KeyRing.from_string(KeyRing.generate_entry("k1")), upgrade=True, clock=clock
    )
    yield opened
    opened.close()


@pytest.fixture
def sandbox(clock: Clock) -> Iterator[Sandbox]:
    with sandbox_on(clock) as running:
        yield running


@pytest.fixture
def connection_id(vault: Vault, sandbox: Sandbox) -> str:
    return connect(vault, sandbox)
