"""A unit of work: several vault writes in one database transaction, so a state change and the
event it causes are committed together or not at all.

The webhook outbox is durable only if an event cannot be lost between the change that causes
it and its enqueue: a crash between two transactions would lose it. So the code that changes a
connection's state opens a unit of work around the change and the event::

    with vault.unit_of_work():
        vault.set_status(connection_id, "needs_reauth", reason=reason)
        events(ConnectionEvent(type="connection.needs_reauth", ...))   # the enqueue joins it

Inside the block, every store of the vault (``DbSession.write``/``read``) and the outbox join
this one transaction instead of opening their own; a write that joins runs in a SAVEPOINT, so a
store that retries after a lost race (``save``'s unique key) still can. The unit commits when the
block ends and rolls everything back if the block raises. An outbox write that failed inside it
(:meth:`UnitOfWork.fail`) makes it roll back and raise even if the caller swallowed the error
(a sink is not allowed to break a flow, but a change must never commit without its event).

What must happen only once the change is committed (a log line, waking the webhook sender,
a process's caches) is deferred with :func:`after_commit`: run after the commit, never after a
rollback, and at once when no unit of work is open. The unit belongs to the thread (or task)
that opened it (a ``ContextVar``); a unit of work opened inside another joins it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from contextvars import ContextVar

from sqlalchemy import Engine
from sqlalchemy.orm import Session

from .._exceptions import VaultError

__all__ = ["UnitOfWork", "after_commit", "joined", "unit_of_work"]

logger = logging.getLogger("zoho_invoice.vault")

_current: ContextVar[UnitOfWork | None] = ContextVar("zoho_invoice_unit_of_work", default=None)


class UnitOfWork:
    """The open transaction (``session``) on ``engine`` that the vault's writes join."""

    def __init__(self, engine: Engine, session: Session) -> None:
        self.engine = engine
        self.session = session
        self._after: list[Callable[[], None]] = []
        self._failure: BaseException | None = None

    def after_commit(self, action: Callable[[], None]) -> None:
        """Run ``action`` once this unit has committed (never if it rolls back)."""
        self._after.append(action)

    def fail(self, error: BaseException) -> None:
        """A write this unit must not commit without failed: roll back and raise ``error`` when
        the block ends, whatever the caller did with it."""
        if self._failure is None:
            self._failure = error

    @property
    def failure(self) -> BaseException | None:
        return self._failure

    def _run_after_commit(self) -> None:
        for action in self._after:
            try:
                action()
            except Exception:  # the change is committed: a follow-up must not undo the answer
                logger.exception("an after-commit action failed")


def joined(engine: Engine) -> UnitOfWork | None:
    """The unit of work open in this context on ``engine``, if any (a store then joins it)."""
    current = _current.get()
    return current if current is not None and current.engine is engine else None


@contextmanager
def unit_of_work(
    engine: Engine, *, guard: Callable[[], AbstractContextManager[None]] = nullcontext
) -> Iterator[UnitOfWork]:
    """One write transaction on ``engine`` that the vault's writes inside the block join; see
    the module docstring. Nested inside another on the same engine, it is that one. ``guard``
    wraps the transaction (the vault passes the one that maps a database that does not
    answer to ``VaultUnavailableError``)."""
    current = _current.get()
    if current is not None:
        if current.engine is not engine:
            raise VaultError("a unit of work is already open on another database")
        yield current
        return
    with guard(), Session(engine, expire_on_commit=False) as session:
        unit = UnitOfWork(engine, session)
        token = _current.set(unit)
        try:
            with session.begin():
                yield unit
                if unit.failure is not None:
                    raise unit.failure
        finally:
            _current.reset(token)
    unit._run_after_commit()


def after_commit(action: Callable[[], None]) -> None:
    """Run ``action`` once the unit of work open in this context commits, or now if none is."""
    current = _current.get()
    if current is None:
        action()
    else:
        current.after_commit(action)
