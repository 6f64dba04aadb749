"""The one way the vault's stores talk to the database: short transactions, errors mapped.

Every store (keys, connect sessions, connections, revocations, mints) opens its transactions
through a :class:`DbSession`, so they all behave alike: a write takes SQLite's write lock up front
(``BEGIN IMMEDIATE``, set by ``create_engine_for``) and a read does not; a database that does not
answer becomes ``VaultUnavailableError`` with no host, user or path in its message; text the
database refuses becomes ``InvalidVaultInputError``. The small value helpers every store writes
with live here too, once.
"""

from __future__ import annotations

import hashlib
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from datetime import UTC, datetime
from typing import Any, cast

from sqlalchemy import CursorResult, Engine
from sqlalchemy.exc import DataError, DBAPIError, OperationalError
from sqlalchemy.exc import InterfaceError as SAInterfaceError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError
from sqlalchemy.orm import Session

from .._exceptions import InvalidVaultInputError, VaultUnavailableError
from ._db import READ_ONLY
from ._keyring import KeyRing
from ._unit_of_work import joined

__all__ = [
    "DbSession",
    "SealingStore",
    "as_datetime",
    "new_id",
    "one_line",
    "rowcount",
    "sha256_hex",
    "unavailable",
]


@contextmanager
def unavailable() -> Iterator[None]:
    """Turn a database that does not answer into ``VaultUnavailableError`` (callers answer "try
    again shortly") and text it refuses into ``InvalidVaultInputError``; other errors pass."""
    try:
        yield
    except (OperationalError, SAInterfaceError, PoolTimeoutError) as exc:
        # The driver's message may name the host, user or database path; keep it out.
        cause = type(getattr(exc, "orig", None) or exc).__name__
        raise VaultUnavailableError(
            f"the database did not answer ({cause}); try again shortly"
        ) from None
    except DataError:
        # PostgreSQL refuses some text (a NUL byte): the input's fault, not the database's.
        raise InvalidVaultInputError(
            "a value could not be stored (it holds a character the database refuses)"
        ) from None
    except DBAPIError as exc:
        if exc.connection_invalidated:
            raise VaultUnavailableError(
                "the connection to the database was lost; try again shortly"
            ) from None
        raise


class DbSession:
    """Transactions on ``engine`` and the time by ``clock`` (epoch seconds), for one store.

    >>> db = DbSession(engine)
    >>> with db.write() as session:   # one transaction, committed on leaving
    ...     session.add(row)
    """

    def __init__(self, engine: Engine, *, clock: Callable[[], float] = time.time) -> None:
        self.engine = engine
        self.clock = clock
        # Reads begin DEFERRED on SQLite, so a read never waits for or blocks a writer.
        self._reader = engine.execution_options(**{READ_ONLY: True})

    def now(self) -> datetime:
        return datetime.fromtimestamp(self.clock(), UTC)

    def write(self) -> AbstractContextManager[Session]:
        """One write transaction (SQLite: ``BEGIN IMMEDIATE``), committed when the block ends;
        inside a unit of work (``vault/_unit_of_work.py``), a SAVEPOINT of its transaction."""
        return self._transaction(self.engine, write=True)

    def read(self) -> AbstractContextManager[Session]:
        """One read transaction that takes no write lock; inside a unit of work, its own
        transaction (so the read sees the unit's writes)."""
        return self._transaction(self._reader, write=False)

    @contextmanager
    def _transaction(self, bind: Engine, *, write: bool) -> Iterator[Session]:
        unit = joined(self.engine)
        if unit is not None:
            with unavailable():
                if write:
                    with unit.session.begin_nested():
                        yield unit.session
                else:
                    yield unit.session
            return
        with unavailable(), Session(bind, expire_on_commit=False) as session, session.begin():
            yield session


class SealingStore:
    """The base of a store that keeps sealed values: its transactions (``self._db``) and the key
    ring that seals each value for its row and field, so a value copied to another row or column
    does not open (SECURITY 22)."""

    def __init__(
        self, engine: Engine, keyring: KeyRing, *, clock: Callable[[], float] = time.time
    ) -> None:
        self._db = DbSession(engine, clock=clock)
        self._keyring = keyring

    def _seal(self, value: str, row_id: str, field: str) -> str:
        return self._keyring.seal(value, row_id=row_id, field=field)

    def _open(self, sealed: str, row_id: str, field: str) -> str:
        return self._keyring.open(sealed, row_id=row_id, field=field)


def sha256_hex(value: str) -> str:
    """What the vault stores of a single-use secret (a session token, a state, a binding)."""
    return hashlib.sha256(value.encode("utf-8")).hexdigest()


def new_id() -> str:
    """A row id: 32 hex digits, unguessable."""
    return uuid.uuid4().hex


def as_datetime(value: datetime | float) -> datetime:
    """An aware UTC datetime from a datetime or epoch seconds; a naive datetime is refused."""
    if isinstance(value, datetime):
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the vault; use an aware UTC datetime")
        return value.astimezone(UTC)
    return datetime.fromtimestamp(value, UTC)


def one_line(text: str, limit: int = 500) -> str:
    """``text`` as one bounded line, for a stored reason or error (no forged log lines)."""
    return text.replace("\r", "\\r").replace("\n", "\\n")[:limit]


def rowcount(result: Any) -> int:
    """How many rows an UPDATE or DELETE touched (who won a conditional write)."""
    return cast(CursorResult[Any], result).rowcount
