"""Helpers for tests of owner-only folders and files (SECURITY 49).

``from private_files import mode, permissive_umask`` (the fixture is used by name)."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest


@pytest.fixture
def permissive_umask() -> Iterator[None]:
    """Umask 022, as on most machines: a file left to it would be 0644, a folder 0755."""
    old = os.umask(0o022)
    try:
        yield
    finally:
        os.umask(old)


def mode(path: Path) -> int:
    """The permission bits of ``path`` (``0o600``, ``0o700``, ...)."""
    return stat.S_IMODE(path.stat().st_mode)
