"""Unit tests of the owner-only folder and file helpers, on real files (SECURITY 49)."""

from __future__ import annotations

import logging
import os
from pathlib import Path

import pytest

from private_files import mode, permissive_umask
from zoho_invoice._files import (
    ensure_private_dir,
    ensure_private_file,
    ensure_private_sqlite,
    open_private,
    write_private_text,
)

pytestmark = [
    pytest.mark.usefixtures(permissive_umask.__name__),
    pytest.mark.skipif(os.name != "posix", reason="file modes are POSIX"),
]


def test_s49_new_folders_are_owner_only_parents_included(tmp_path: Path) -> None:
    target = ensure_private_dir(tmp_path / "a" / "b" / "data")
    assert target.is_dir()
    for folder in (tmp_path / "a", tmp_path / "a" / "b", target):
        assert mode(folder) == 0o700, folder


def test_s49_an_existing_open_folder_is_left_alone_with_a_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(0o755)
    with caplog.at_level(logging.WARNING, logger="zoho_invoice.files"):
        ensure_private_dir(shared)
    assert mode(shared) == 0o755
    assert "can be read by other users" in caplog.text


def test_s49_open_private_creates_0600_and_tightens_an_existing_file(tmp_path: Path) -> None:
    fresh = tmp_path / "fresh.csv"
    with open_private(fresh, "wb") as handle:
        handle.write(b"x")
    assert mode(fresh) == 0o600
    old = tmp_path / "old.csv"
    old.write_text("before")
    old.chmod(0o644)
    with open_private(old, "r+b") as handle:
        assert handle.read() == b"before"
    assert mode(old) == 0o600


def test_s49_write_private_text_replaces_atomically_and_owner_only(tmp_path: Path) -> None:
    target = tmp_path / "state.json"
    target.write_text("old")
    target.chmod(0o644)
    write_private_text(target, "new")
    assert target.read_text() == "new"
    assert mode(target) == 0o600
    assert sorted(p.name for p in tmp_path.iterdir()) == ["state.json"]


def test_s49_sqlite_file_and_leftover_sidecars_are_tightened(tmp_path: Path) -> None:
    db = tmp_path / "db" / "x.sqlite3"
    ensure_private_sqlite(db)
    assert db.exists() and db.stat().st_size == 0
    assert (mode(db.parent), mode(db)) == (0o700, 0o600)
    for suffix in ("-wal", "-shm"):
        sidecar = db.with_name(db.name + suffix)
        sidecar.write_bytes(b"")
        sidecar.chmod(0o644)
    ensure_private_file(db)
    ensure_private_sqlite(db)
    assert [mode(db.with_name(db.name + s)) for s in ("-wal", "-shm")] == [0o600, 0o600]
    assert not db.with_name(db.name + "-journal").exists()
