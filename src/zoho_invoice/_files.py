"""Owner-only folders and files for whatever may hold a secret or a user's data (SECURITY 49).

The data folder, the vault's SQLite database (and its ``-wal``/``-shm``, which SQLite creates
with the database file's mode), exports and their cursors, and the sandbox's files are made
here: folders ``0700``, files ``0600``. Modes are set explicitly, never left to the umask.

What already exists:

- a *file* we open that others can read is tightened to ``0600`` (it is ours: we are about to
  write secrets or data into it); when we cannot (another owner), a warning is logged;
- a *folder* that already exists is left as it is (it may be the user's working directory or a
  shared parent): the files we put in it are owner-only, which is what keeps them private. A
  warning is logged when others may read it.

POSIX only: elsewhere the calls create the same things and leave modes to the platform.
"""

from __future__ import annotations

import logging
import os
import stat
from pathlib import Path
from typing import IO, Literal

__all__ = [
    "PRIVATE_DIR_MODE",
    "PRIVATE_FILE_MODE",
    "ensure_private_dir",
    "ensure_private_file",
    "ensure_private_sqlite",
    "open_private",
    "write_private_text",
]

PRIVATE_DIR_MODE = 0o700
PRIVATE_FILE_MODE = 0o600
_OPEN_TO_OTHERS = stat.S_IRWXG | stat.S_IRWXO
_POSIX = os.name == "posix"
_FLAGS = {
    "wb": os.O_WRONLY | os.O_CREAT | os.O_TRUNC,
    "ab": os.O_WRONLY | os.O_CREAT | os.O_APPEND,
    "r+b": os.O_RDWR,
    "w+b": os.O_RDWR | os.O_CREAT,
}

logger = logging.getLogger("zoho_invoice.files")


def ensure_private_dir(path: Path) -> Path:
    """Create ``path`` and any missing parents as ``0700``; return it.

    An existing folder keeps its mode (a warning is logged when others may read it).
    """
    path = Path(path).expanduser()
    missing: list[Path] = []
    probe = path
    while not probe.exists():
        missing.append(probe)
        if probe.parent == probe:
            break
        probe = probe.parent
    for folder in reversed(missing):
        try:
            os.mkdir(folder, PRIVATE_DIR_MODE)
        except FileExistsError:
            continue  # made meanwhile by another process: judged below like any existing one
        if _POSIX:
            os.chmod(folder, PRIVATE_DIR_MODE)  # the umask may have taken bits off, or not
    if not path.is_dir():
        raise NotADirectoryError(f"{path} is not a folder")
    if _POSIX and path not in missing and path.stat().st_mode & _OPEN_TO_OTHERS:
        logger.warning(
            "folder %s can be read by other users; the files written there are owner-only, "
            "but consider chmod 700 on it",
            path,
        )
    return path


def _tighten(fd: int, path: Path) -> None:
    """Make the open file ``0600`` if others could read it (it is ours to write into)."""
    if not _POSIX:
        return
    mode = os.fstat(fd).st_mode
    if stat.S_IMODE(mode) == PRIVATE_FILE_MODE:
        return
    try:
        os.fchmod(fd, PRIVATE_FILE_MODE)
    except PermissionError:
        if mode & _OPEN_TO_OTHERS:
            logger.warning("cannot make %s owner-only (not its owner): others can read it", path)


def open_private(path: Path, mode: Literal["wb", "ab", "r+b", "w+b"] = "wb") -> IO[bytes]:
    """Open ``path`` for writing as an owner-only (``0600``) file, created so if missing.

    The file is created ``0600`` (no moment when others could open it) and an existing one is
    tightened to ``0600``. Its folder must exist (see ``ensure_private_dir``).
    """
    flags = _FLAGS[mode] | getattr(os, "O_CLOEXEC", 0)
    fd = os.open(path, flags, PRIVATE_FILE_MODE)
    try:
        _tighten(fd, Path(path))
        return os.fdopen(fd, mode)
    except BaseException:
        os.close(fd)
        raise


def ensure_private_file(path: Path) -> Path:
    """Create ``path`` empty as ``0600`` if missing, tighten it to ``0600`` if not.

    For files another library opens by name afterwards (SQLite): it keeps the mode it finds,
    and gives the ``-wal`` and ``-shm`` it creates the database file's mode.
    """
    fd = os.open(path, os.O_RDWR | os.O_CREAT | getattr(os, "O_CLOEXEC", 0), PRIVATE_FILE_MODE)
    try:
        _tighten(fd, Path(path))
    finally:
        os.close(fd)
    return Path(path)


def ensure_private_sqlite(path: Path) -> Path:
    """Prepare an SQLite database file: its folder, the file, and any leftover ``-wal``,
    ``-shm`` or ``-journal`` from an earlier run, all owner-only."""
    path = Path(path).expanduser()
    ensure_private_dir(path.parent)
    ensure_private_file(path)
    for suffix in ("-wal", "-shm", "-journal"):
        sidecar = path.with_name(path.name + suffix)
        if sidecar.exists():
            ensure_private_file(sidecar)
    return path


def write_private_text(path: Path, text: str) -> None:
    """Replace ``path`` with ``text`` atomically (written beside, then renamed), owner-only.

    A crash leaves the old content or the new, never half of it; the folder must exist.
    """
    path = Path(path)
    tmp = path.with_name(path.name + ".tmp")
    with open_private(tmp, "wb") as handle:
        handle.write(text.encode("utf-8"))
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, path)
