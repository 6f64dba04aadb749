"""Unit tests of the owner-only folder and file helpers, on real files (SECURITY 49)."""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Literal

import pytest

from private_files import mode, permissive_umask
from support import need_root
from zoho_invoice._exceptions import ConfigurationError
from zoho_invoice._files import (
    UnsafeFileError,
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


# -- a folder others can write to (a shared /tmp): links and other users' files ----------------

OTHER_UID = 65534  # nobody: as root, the tests plant files another user owns


def _plant(path: Path, text: str = "theirs", *, uid: int = OTHER_UID) -> Path:
    """A file another user owns, writable by all (what an attacker leaves in a shared folder)."""
    path.write_text(text)
    path.chmod(0o666)
    os.chown(path, uid, uid)
    return path


def _as_root() -> None:
    need_root()


@pytest.mark.parametrize("open_mode", ["wb", "ab", "r+b", "w+b"])
def test_s49_a_symlinked_export_path_is_refused_and_its_target_untouched(
    tmp_path: Path, open_mode: Literal["wb", "ab", "r+b", "w+b"]
) -> None:
    bait = tmp_path / "bait"
    bait.write_text("bait")
    bait.chmod(0o644)
    link = tmp_path / "out.csv"
    link.symlink_to(bait)
    with pytest.raises(UnsafeFileError, match=r"out\.csv is a symbolic link") as caught:
        open_private(link, open_mode)
    assert isinstance(caught.value, OSError) and isinstance(caught.value, ConfigurationError)
    assert (bait.read_text(), mode(bait)) == ("bait", 0o644)
    assert link.is_symlink()


def test_s49_a_dangling_link_is_refused_and_creates_nothing(tmp_path: Path) -> None:
    link = tmp_path / "cursor.json"
    link.symlink_to(tmp_path / "made-by-us")
    with pytest.raises(UnsafeFileError, match="symbolic link"):
        open_private(link, "wb")
    with pytest.raises(UnsafeFileError, match="symbolic link"):
        write_private_text(link, "secret")
    assert not (tmp_path / "made-by-us").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cursor.json"]


def test_s49_a_planted_fifo_is_refused(tmp_path: Path) -> None:
    fifo = tmp_path / "out.csv"
    os.mkfifo(fifo, 0o666)
    # A reader, as an attacker would keep: opening for writing then never blocks, so a
    # regression shows as a failure here, not as a hung test.
    reader = os.open(fifo, os.O_RDONLY | os.O_NONBLOCK)
    try:
        for open_mode in ("wb", "ab", "r+b", "w+b"):
            with pytest.raises(UnsafeFileError, match=r"out\.csv is not a regular file"):
                open_private(fifo, open_mode)
    finally:
        os.close(reader)
    os.unlink(fifo)
    # Without a reader, O_NONBLOCK keeps the open from waiting for one (ENXIO), still refused.
    os.mkfifo(fifo, 0o666)
    with pytest.raises(UnsafeFileError, match="not a regular file"):
        open_private(fifo, "wb")


def test_s49_a_planted_tmp_name_of_another_user_receives_nothing(tmp_path: Path) -> None:
    _as_root()
    planted = _plant(tmp_path / "cursor.json.tmp", "")
    target = tmp_path / "cursor.json"
    write_private_text(target, "secret")
    info = target.stat()
    assert (target.read_text(), info.st_uid, mode(target)) == ("secret", os.geteuid(), 0o600)
    assert (planted.read_text(), planted.stat().st_uid) == ("", OTHER_UID)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cursor.json", "cursor.json.tmp"]


def test_s49_another_users_target_file_is_refused_not_written(tmp_path: Path) -> None:
    _as_root()
    target = _plant(tmp_path / "out.csv")
    for open_mode in ("wb", "ab", "r+b", "w+b"):
        with pytest.raises(
            UnsafeFileError, match=rf"out\.csv belongs to another user \(uid {OTHER_UID}\)"
        ):
            open_private(target, open_mode)
    with pytest.raises(UnsafeFileError, match="belongs to another user"):
        write_private_text(target, "secret")
    with pytest.raises(UnsafeFileError, match="belongs to another user"):
        ensure_private_file(target)
    info = target.stat()
    assert (target.read_text(), info.st_uid, mode(target)) == ("theirs", OTHER_UID, 0o666)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.csv"]


@pytest.mark.parametrize("suffix", ["", "-wal", "-shm"])
def test_s49_sqlite_refuses_another_users_db_wal_or_shm(tmp_path: Path, suffix: str) -> None:
    _as_root()
    db = tmp_path / "x.sqlite3"
    if suffix:
        ensure_private_sqlite(db)
    planted = _plant(db.with_name(db.name + suffix), "")
    with pytest.raises(UnsafeFileError, match=rf"x\.sqlite3{suffix} belongs to another user"):
        ensure_private_sqlite(db)
    assert (planted.stat().st_uid, mode(planted), planted.read_text()) == (OTHER_UID, 0o666, "")


@pytest.mark.parametrize("suffix", ["", "-wal", "-shm"])
def test_s49_sqlite_refuses_a_symlinked_db_wal_or_shm(tmp_path: Path, suffix: str) -> None:
    db = tmp_path / "x.sqlite3"
    if suffix:
        ensure_private_sqlite(db)
    bait = tmp_path / "bait"
    db.with_name(db.name + suffix).symlink_to(bait)  # dangling: SQLite would create the bait
    with pytest.raises(UnsafeFileError, match=rf"x\.sqlite3{suffix} is a symbolic link"):
        ensure_private_sqlite(db)
    assert not bait.exists()
