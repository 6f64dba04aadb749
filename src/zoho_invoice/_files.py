"""Owner-only folders and files for whatever may hold a secret or a user's data (SECURITY 49).

The data folder, the vault's SQLite database (and its ``-wal``/``-shm``, which SQLite creates
with the database file's mode), exports and their cursors, and the sandbox's files are made
here: folders ``0700``, files ``0600``. Modes are set explicitly, never left to the umask.

What already exists:

- a *file* we write into must be a regular file that is ours: a symbolic link (the last part
  of the path; opened with ``O_NOFOLLOW``), a FIFO or device, or a file another user owns is
  refused with :class:`UnsafeFileError`, before a byte is written. In a folder others can
  write to (a shared ``/tmp``), they could otherwise plant a link or a file of theirs where we
  are about to write and receive the data. A file of ours that others can read is tightened
  to ``0600``;
- a file replaced whole (:func:`write_private_text`) is written to a fresh temporary file with
  an unpredictable name (``tempfile.mkstemp``: ``O_EXCL``, ``0600``) beside it, then renamed
  over it, so nobody can have prepared the temporary name;
- a *folder* that already exists is left as it is (it may be the user's working directory or a
  shared parent): the files we put in it are owner-only, which is what keeps them private. A
  warning is logged when others may read it.

POSIX only: elsewhere the calls create the same things and leave modes and owners to the
platform.
"""

from __future__ import annotations

import contextlib
import logging
import os
import stat
import tempfile
from pathlib import Path
from typing import IO, Literal

from ._exceptions import ConfigurationError

__all__ = [
    "PRIVATE_DIR_MODE",
    "PRIVATE_FILE_MODE",
    "UnsafeFileError",
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
# No O_TRUNC: a file is emptied only once it is known to be ours (see ``open_private``).
# O_NONBLOCK: opening a FIFO someone planted does not hang (it is then refused); it is taken
# off again before the file is used.
_OPEN_FLAGS = (
    getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_NONBLOCK", 0)
)
_FLAGS = {
    "wb": os.O_WRONLY | os.O_CREAT,
    "ab": os.O_WRONLY | os.O_CREAT | os.O_APPEND,
    "r+b": os.O_RDWR,
    "w+b": os.O_RDWR | os.O_CREAT,
}

logger = logging.getLogger("zoho_invoice.files")


class UnsafeFileError(ConfigurationError, OSError):
    """A path we were to write secrets or data into is a symbolic link, not a regular file, or
    another user's file: refused, nothing written (SECURITY 49).

    A ``ConfigurationError`` (the CLI refuses to start with its message) and an ``OSError``
    (callers that report a file they cannot write report this one too).
    """


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


def _refuse_unless_ours(st: os.stat_result, path: Path) -> None:
    """Raise ``UnsafeFileError`` unless ``st`` (of ``path``) is a regular file of ours."""
    if stat.S_ISLNK(st.st_mode):
        raise UnsafeFileError(f"{path} is a symbolic link; refusing to write through it")
    if not stat.S_ISREG(st.st_mode):
        raise UnsafeFileError(f"{path} is not a regular file; refusing to write to it")
    if _POSIX and st.st_uid != os.geteuid():
        raise UnsafeFileError(
            f"{path} belongs to another user (uid {st.st_uid}); refusing to write to it "
            "(remove it, or choose another path)"
        )


def _open_ours(path: Path, flags: int) -> int:
    """Open ``path`` (created ``0600`` if ``flags`` say so), refused unless a regular file of
    ours, and tightened to ``0600``: the descriptor, checked (no name looked up again)."""
    try:
        fd = os.open(path, flags | _OPEN_FLAGS, PRIVATE_FILE_MODE)
    except OSError:
        # ELOOP (a link, with O_NOFOLLOW), ENXIO (a FIFO nobody reads), ...: say why.
        with contextlib.suppress(FileNotFoundError):
            _refuse_unless_ours(os.lstat(path), path)
        raise
    try:
        _refuse_unless_ours(os.fstat(fd), path)
        if _OPEN_FLAGS & getattr(os, "O_NONBLOCK", 0):
            os.set_blocking(fd, True)
        _tighten(fd)
    except BaseException:
        os.close(fd)
        raise
    return fd


def _tighten(fd: int) -> None:
    """Make the open file (ours: checked before) ``0600`` if others could read it."""
    if _POSIX and stat.S_IMODE(os.fstat(fd).st_mode) != PRIVATE_FILE_MODE:
        os.fchmod(fd, PRIVATE_FILE_MODE)


def open_private(path: Path, mode: Literal["wb", "ab", "r+b", "w+b"] = "wb") -> IO[bytes]:
    """Open ``path`` for writing as an owner-only (``0600``) file, created so if missing.

    The file is created ``0600`` (no moment when others could open it) and an existing one is
    tightened to ``0600``. A link, a non-regular file or another user's file is refused with
    ``UnsafeFileError`` before anything is written (``"wb"`` empties the file only then). Its
    folder must exist (see ``ensure_private_dir``).
    """
    fd = _open_ours(Path(path), _FLAGS[mode])
    try:
        if mode == "wb":
            os.ftruncate(fd, 0)
        return os.fdopen(fd, mode)
    except BaseException:
        os.close(fd)
        raise


def ensure_private_file(path: Path) -> Path:
    """Create ``path`` empty as ``0600`` if missing, tighten it to ``0600`` if not.

    For files another library opens by name afterwards (SQLite): it keeps the mode it finds,
    and gives the ``-wal`` and ``-shm`` it creates the database file's mode. A link, a
    non-regular file or another user's file is refused (``UnsafeFileError``).
    """
    os.close(_open_ours(Path(path), os.O_RDWR | os.O_CREAT))
    return Path(path)


def ensure_private_sqlite(path: Path) -> Path:
    """Prepare an SQLite database file: its folder, the file, and any leftover ``-wal``,
    ``-shm`` or ``-journal`` from an earlier run, all owner-only; a database or leftover that
    is a link (dangling ones too) or another user's file is refused (``UnsafeFileError``)."""
    path = Path(path).expanduser()
    ensure_private_dir(path.parent)
    ensure_private_file(path)
    for suffix in ("-wal", "-shm", "-journal"):
        sidecar = path.with_name(path.name + suffix)
        if os.path.lexists(sidecar):
            ensure_private_file(sidecar)
    return path


def write_private_text(path: Path, text: str) -> None:
    """Replace ``path`` with ``text`` atomically (written beside, then renamed), owner-only.

    A crash leaves the old content or the new, never half of it; the folder must exist. The
    temporary file has a fresh unpredictable name (``mkstemp``: created exclusively, ``0600``),
    so a file or link planted beside ``path`` receives nothing; an existing ``path`` that is a
    link or another user's file is refused (``UnsafeFileError``).
    """
    path = Path(path)
    with contextlib.suppress(FileNotFoundError):
        _refuse_unless_ours(os.lstat(path), path)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            _tighten(handle.fileno())  # mkstemp makes it 0600 already: kept explicit
            handle.write(text.encode("utf-8"))
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
