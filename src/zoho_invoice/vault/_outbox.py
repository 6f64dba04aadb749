"""The webhook outbox: events wait in the vault's database until a receiver takes them.

An event is written once (``enqueue``) with its final JSON body and its ``webhook-id``; any
number of senders (the service's background thread, one or several ``zoho-invoice worker``)
then ``claim_due`` entries. A claim is one conditional UPDATE: it succeeds only while the row is
pending and due, and it moves ``next_attempt_at`` one lease ahead and stamps a random ``claim``,
so a second sender (another thread, process or host) finds nothing to take; if the sender dies
the lease runs out and the entry is due again. Only the holder of a claim can finish the entry
(``delivered``, ``failed``, ``dead``): a sender whose lease ran out cannot undo another's work.
SQLite serializes these writes (``BEGIN IMMEDIATE``); PostgreSQL re-checks the WHERE clause
against the committed row, so on both exactly one claim wins.

Inside a unit of work (``vault/_unit_of_work.py``) the outbox joins its transaction: the event
is enqueued with the state change that causes it, and a failed enqueue fails the whole unit, so
a change is never committed without its event nor an event without its change.
"""

from __future__ import annotations

import secrets
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Literal, cast

from sqlalchemy import Connection, CursorResult, Engine, delete, func, insert, select, update

from ._db import READ_ONLY
from ._db_session import as_datetime, one_line
from ._models import WebhookOutboxRow
from ._unit_of_work import joined

__all__ = ["OutboxEntry", "WebhookOutbox"]

OutboxStatus = Literal["pending", "dead"]


@dataclass(frozen=True)
class OutboxEntry:
    """One queued delivery. ``attempts`` counts the attempts started so far (a claim is one).

    ``claim`` is set on an entry returned by ``claim_due``: the proof its holder passes back.
    """

    id: str
    event_type: str
    payload: str
    status: OutboxStatus
    attempts: int
    created_at: datetime
    next_attempt_at: datetime
    last_error: str | None
    claim: str | None = None


def _entry(row: Any, claim: str | None = None) -> OutboxEntry:
    return OutboxEntry(
        id=row.id,
        event_type=row.event_type,
        payload=row.payload,
        status=cast(OutboxStatus, row.status),
        attempts=row.attempts,
        created_at=row.created_at,
        next_attempt_at=row.next_attempt_at,
        last_error=row.last_error,
        claim=claim,
    )


def new_message_id() -> str:
    """A ``webhook-id``: ``msg_`` and 32 hex digits (no ``.``, which the signed text uses)."""
    return f"msg_{uuid.uuid4().hex}"


class WebhookOutbox:
    """Queued webhook deliveries in the ``webhook_outbox`` table; see the module docstring.

    ``guard`` wraps every database call (the vault passes the one that turns a database that
    does not answer into ``VaultUnavailableError``).
    """

    def __init__(
        self,
        engine: Engine,
        *,
        clock: Callable[[], float] = time.time,
        guard: Callable[[], AbstractContextManager[None]] | None = None,
    ) -> None:
        self._engine = engine
        self._reader = engine.execution_options(**{READ_ONLY: True})
        self._clock = clock
        self._guard = guard or nullcontext

    @contextmanager
    def _begin(self) -> Iterator[Connection]:
        unit = joined(self._engine)
        if unit is not None:
            with self._guard(), unit.session.begin_nested():
                yield unit.session.connection()
            return
        with self._guard(), self._engine.begin() as conn:
            yield conn

    @contextmanager
    def _read(self) -> Iterator[Connection]:
        unit = joined(self._engine)
        if unit is not None:
            with self._guard():
                yield unit.session.connection()
            return
        with self._guard(), self._reader.begin() as conn:
            yield conn

    def enqueue(
        self, event_type: str, payload: str, *, message_id: str | None = None
    ) -> OutboxEntry:
        """Store a delivery, due now. ``payload`` is the exact body to send: no secret in it.

        Inside a unit of work, in its transaction; if the write fails, the unit rolls back
        (the state change with it) even if the caller goes on."""
        now = datetime.fromtimestamp(self._clock(), UTC)
        entry = OutboxEntry(
            id=message_id or new_message_id(),
            event_type=event_type,
            payload=payload,
            status="pending",
            attempts=0,
            created_at=now,
            next_attempt_at=now,
            last_error=None,
        )
        unit = joined(self._engine)
        try:
            with self._begin() as conn:
                conn.execute(
                    insert(WebhookOutboxRow).values(
                        id=entry.id,
                        event_type=event_type,
                        payload=payload,
                        status="pending",
                        attempts=0,
                        created_at=now,
                        next_attempt_at=now,
                    )
                )
        except BaseException as exc:
            if unit is not None:
                unit.fail(exc)
            raise
        return entry

    def claim_due(
        self, now: datetime | float, *, lease: float, limit: int = 1
    ) -> list[OutboxEntry]:
        """Take up to ``limit`` due entries for ``lease`` seconds, oldest first.

        Each returned entry carries its ``claim``; nobody else gets it until the lease ends.
        """
        cutoff = as_datetime(now)
        table = WebhookOutboxRow
        with self._read() as conn:
            candidates = list(
                conn.scalars(
                    select(table.id)
                    .where(table.status == "pending", table.next_attempt_at <= cutoff)
                    .order_by(table.next_attempt_at, table.id)
                    .limit(max(limit, 1) * 4)
                )
            )
        claimed: list[OutboxEntry] = []
        for entry_id in candidates:
            if len(claimed) >= limit:
                break
            claim = secrets.token_hex(16)
            with self._begin() as conn:
                won = cast(
                    CursorResult[Any],
                    conn.execute(
                        update(table)
                        .where(
                            table.id == entry_id,
                            table.status == "pending",
                            table.next_attempt_at <= cutoff,
                        )
                        .values(
                            claim=claim,
                            attempts=table.attempts + 1,
                            next_attempt_at=cutoff + timedelta(seconds=lease),
                        )
                    ),
                ).rowcount
                if won != 1:
                    continue  # another sender took it first
                row = conn.execute(select(table.__table__).where(table.id == entry_id)).one()
            claimed.append(_entry(row, claim))
        return claimed

    def delivered(self, entry: OutboxEntry) -> bool:
        """The receiver took it: forget the entry. False if the claim was lost meanwhile."""
        table = WebhookOutboxRow
        with self._begin() as conn:
            result = conn.execute(
                delete(table).where(table.id == entry.id, table.claim == entry.claim)
            )
        return cast(CursorResult[Any], result).rowcount == 1

    def failed(self, entry: OutboxEntry, error: str, retry_at: datetime | float) -> bool:
        """Schedule the next attempt. ``error`` must hold no secret (it is stored and logged)."""
        return self._finish(
            entry, next_attempt_at=as_datetime(retry_at), last_error=one_line(error)
        )

    def dead(self, entry: OutboxEntry, error: str) -> bool:
        """Give up on the entry; it stays, marked ``dead``, until ``purge_dead`` removes it."""
        return self._finish(entry, status="dead", last_error=one_line(error))

    def _finish(self, entry: OutboxEntry, **values: Any) -> bool:
        table = WebhookOutboxRow
        with self._begin() as conn:
            result = conn.execute(
                update(table)
                .where(table.id == entry.id, table.claim == entry.claim)
                .values(claim=None, **values)
            )
        return cast(CursorResult[Any], result).rowcount == 1

    def entries(self, status: OutboxStatus | None = None) -> list[OutboxEntry]:
        """What the outbox holds (for operators and tests), oldest first."""
        table = WebhookOutboxRow
        query = select(table.__table__).order_by(table.created_at, table.id)
        if status is not None:
            query = query.where(table.status == status)
        with self._read() as conn:
            return [_entry(row) for row in conn.execute(query)]

    def count(self, status: OutboxStatus = "pending") -> int:
        """How many entries have ``status``."""
        table = WebhookOutboxRow
        with self._read() as conn:
            found = conn.scalar(
                select(func.count()).select_from(table).where(table.status == status)
            )
        return int(found or 0)

    def purge_dead(self, created_before: datetime | float) -> int:
        """Delete dead entries whose event is older than ``created_before``; returns how many."""
        table = WebhookOutboxRow
        with self._begin() as conn:
            result = conn.execute(
                delete(table).where(
                    table.status == "dead", table.created_at < as_datetime(created_before)
                )
            )
        return cast(CursorResult[Any], result).rowcount
