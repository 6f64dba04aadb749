"""Owner-only folders and files for the sandbox's data: plaintext tokens, client secrets and
invoices in SQLite, and the data-centre table (SECURITY 49).

The sandbox depends on nothing of ``zoho_invoice``, so this is a small equivalent of
``zoho_invoice._files`` holding only what the sandbox needs: folders are made ``0700``, files
``0600`` (an existing file of ours is tightened to ``0600``); an existing folder keeps its mode.
A file we would write into that is a symbolic link (opened with ``O_NOFOLLOW``), not a regular
file, or another user's is refused (:class:`UnsafeFileError`); a file replaced whole is
written to a fresh ``mkstemp`` file beside it (``O_EXCL``, ``0600``), then renamed.
POSIX only: elsewhere the same things are made and modes and owners left to the platform.
"""

from __future__ import annotations

import contextlib
import os
import stat
import tempfile
from pathlib import Path

__all__ = ["UnsafeFileError", "ensure_private_dir", "ensure_private_sqlite", "write_private_text"]

_DIR_MODE = 0o700
_FILE_MODE = 0o600
_POSIX = os.name == "posix"
# O_NONBLOCK: a planted FIFO does not hang the open (it is then refused).
_OPEN_FLAGS = (
    getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_NONBLOCK", 0)
)


class UnsafeFileError(OSError):
    """A path the sandbox was to write into is a link, not a regular file, or another user's
    file: refused, nothing written (SECURITY 49)."""


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


def _refuse_unless_ours(st: os.stat_result, path: Path) -> None:
    if stat.S_ISLNK(st.st_mode):
        raise UnsafeFileError(f"{path} is a symbolic link; refusing to write through it")
    if not stat.S_ISREG(st.st_mode):
        raise UnsafeFileError(f"{path} is not a regular file; refusing to write to it")
    if _POSIX and st.st_uid != os.geteuid():
        raise UnsafeFileError(f"{path} belongs to another user (uid {st.st_uid}); refusing it")


def _private_fd(path: Path, flags: int) -> int:
    """Open ``path`` created ``0600`` (no moment when others could open it), refused unless a
    regular file of ours (checked on the descriptor), tightened to ``0600`` if not."""
    try:
        fd = os.open(path, flags | _OPEN_FLAGS, _FILE_MODE)
    except OSError:
        with contextlib.suppress(FileNotFoundError):
            _refuse_unless_ours(os.lstat(path), path)  # a link (ELOOP), a FIFO (ENXIO), ...
        raise
    try:
        info = os.fstat(fd)
        _refuse_unless_ours(info, path)
        if _OPEN_FLAGS & getattr(os, "O_NONBLOCK", 0):
            os.set_blocking(fd, True)
        if _POSIX and stat.S_IMODE(info.st_mode) != _FILE_MODE:
            os.fchmod(fd, _FILE_MODE)
    except BaseException:
        os.close(fd)
        raise
    return fd


def ensure_private_sqlite(path: Path) -> Path:
    """Prepare an SQLite database file, its folder and any leftover ``-wal``, ``-shm`` or
    ``-journal``, all owner-only: SQLite gives the files it creates the database's mode. One
    that is a link (dangling ones too) or another user's is refused."""
    path = Path(path).expanduser()
    ensure_private_dir(path.parent)
    for suffix in ("", "-wal", "-shm", "-journal"):
        file = path.with_name(path.name + suffix)
        if not suffix or os.path.lexists(file):
            os.close(_private_fd(file, os.O_RDWR | os.O_CREAT))
    return path


def write_private_text(path: Path, text: str) -> None:
    """Replace ``path`` with ``text`` atomically (written to a fresh ``mkstemp`` file beside it,
    then renamed), owner-only; an existing ``path`` that is a link or another user's is
    refused."""
    path = Path(path)
    with contextlib.suppress(FileNotFoundError):
        _refuse_unless_ours(os.lstat(path), path)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            if _POSIX:
                os.fchmod(handle.fileno(), _FILE_MODE)  # mkstemp makes it 0600 already
            handle.write(text.encode("utf-8"))
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
