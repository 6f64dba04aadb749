"""Fixtures for the token-manager tests: the real Vault on SQLite, a fake Zoho, a movable clock."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from support import Clock
from tokens._support import START, FakeZoho, Manager
from zoho_invoice.vault import KeyRing, Vault


@pytest.fixture
def clock() -> Clock:
    return Clock(START)


@pytest.fixture
def zoho() -> FakeZoho:
    return FakeZoho()


@pytest.fixture
def vault(tmp_path: Path, clock: Clock) -> Iterator[Vault]:
    keyring = KeyRing.from_string(KeyRing.generate_entry())
    vault = Vault.open(f"sqlite:///{tmp_path / 'vault.db'}", keyring, upgrade=True, clock=clock)
    yield vault
    vault.close()


@pytest.fixture
def make_manager(vault: Vault, zoho: FakeZoho, clock: Clock) -> Manager:
    return Manager(vault, zoho, clock)
