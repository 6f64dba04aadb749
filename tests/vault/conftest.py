"""Fixtures for the vault tests: a database URL per backend, a movable clock, a key ring."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from support import Clock, postgres_schema
from vault._support import TokenFactory
from zoho_invoice.vault import KeyRing, Vault

START = 1_800_000_000.0


@pytest.fixture
def clock() -> Clock:
    return Clock(START)


@pytest.fixture
def keys_text() -> str:
    return KeyRing.generate_entry("k1")


@pytest.fixture
def keyring(keys_text: str) -> KeyRing:
    return KeyRing.from_string(keys_text)


@pytest.fixture(
    params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)],
)
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh, empty database: a SQLite file, or a PostgreSQL schema of its own."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'vault' / 'zoho.db'}"
        return
    base = request.getfixturevalue("postgres_url")
    with postgres_schema(base, "vault_test") as url:
        yield url


@pytest.fixture
def vault(db_url: str, keyring: KeyRing, clock: Clock) -> Iterator[Vault]:
    opened = Vault.open(db_url, keyring, upgrade=True, clock=clock)
    yield opened
    opened.close()


@pytest.fixture
def tokens(clock: Clock) -> TokenFactory:
    return TokenFactory(clock)
