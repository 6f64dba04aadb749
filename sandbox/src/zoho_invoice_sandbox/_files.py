"""Owner-only folders and files for the sandbox's data: plaintext tokens, client secrets and
invoices in SQLite, and the data-centre table (SECURITY 49).

The sandbox depends on nothing of ``zoho_invoice``, so this is a small equivalent of
``zoho_invoice._files`` holding only what the sandbox needs: folders are made ``0700``, files
``0600`` (an existing file of ours is tightened to ``0600``); an existing folder keeps its mode.
POSIX only: elsewhere the same things are made and modes left to the platform.
"""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["ensure_private_dir", "ensure_private_sqlite", "write_private_text"]

_DIR_MODE = 0o700
_FILE_MODE = 0o600
_POSIX = os.name == "posix"
_CLOEXEC = getattr(os, "O_CLOEXEC", 0)


def ensure_private_dir(path: Path) -> Path:
    """Create ``path`` and any missing parents as ``0700`` (whatever the umask); return it."""
    path = Path(path).expanduser()
    missing: list[Path] = []
    probe = path
    while not probe.exists() and probe.parent != probe:
        missing.append(probe)
        probe = probe.parent
    for folder in reversed(missing):
        try:
            os.mkdir(folder, _DIR_MODE)
        except FileExistsError:
            continue  # made meanwhile by another process
        if _POSIX:
            os.chmod(folder, _DIR_MODE)  # the umask may have taken bits off, or not
    if not path.is_dir():
        raise NotADirectoryError(f"{path} is not a folder")
    return path


def _private_fd(path: Path, flags: int) -> int:
    """Open ``path`` created ``0600`` (no moment when others could open it), tightened if not."""
    fd = os.open(path, flags | _CLOEXEC, _FILE_MODE)
    if _POSIX and (os.fstat(fd).st_mode & 0o777) != _FILE_MODE:
        try:
            os.fchmod(fd, _FILE_MODE)
        except BaseException:
            os.close(fd)
            raise
    return fd


def ensure_private_sqlite(path: Path) -> Path:
    """Prepare an SQLite database file, its folder and any leftover ``-wal``, ``-shm`` or
    ``-journal``, all owner-only: SQLite gives the files it creates the database's mode."""
    path = Path(path).expanduser()
    ensure_private_dir(path.parent)
    for suffix in ("", "-wal", "-shm", "-journal"):
        file = path.with_name(path.name + suffix)
        if not suffix or file.exists():
            os.close(_private_fd(file, os.O_RDWR | os.O_CREAT))
    return path


def write_private_text(path: Path, text: str) -> None:
    """Replace ``path`` with ``text`` atomically (written beside, then renamed), owner-only."""
    path = Path(path)
    tmp = path.with_name(path.name + ".tmp")
    with os.fdopen(_private_fd(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC), "wb") as handle:
        handle.write(text.encode("utf-8"))
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, path)
