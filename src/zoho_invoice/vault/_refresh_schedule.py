"""What the worker must refresh now, found by indexed queries (migration 0007).

The worker keeps warm only connections in use and probes an idle one about once a day. Both
questions are answered by the database, page by page, never by reading every connection:

- *in use and near expiry*: ``status = 'active' AND last_used_at >= used_since AND
  (access_expires_at IS NULL OR access_expires_at <= before)`` — a range on
  ``ix_connections_in_use (status, last_used_at, access_expires_at)``, in its order, that
  touches only the connections used recently, however many idle ones the table holds;
- *idle and due for a probe*: ``status = 'active' AND last_refresh_at < probed_before AND
  (access_expires_at IS NULL OR access_expires_at <= before)`` — a range on
  ``ix_connections_probe (status, last_refresh_at)``, oldest probe first.

Pages are read in short read transactions, each continuing after the last key of the one
before (keyset paging), so a connection that could not be refreshed is not met again in the
same cycle and a cycle never holds a transaction open while Zoho answers.

``last_used_at`` is written by ``Connections`` at a connect and in the very UPDATE that stores a
refresh made on demand (a caller asked for a token), and by ``record_use``: the token manager
marks the connections its callers had tokens for, at most once per connection per process per
quarter of the in-use window, batched into one UPDATE, off the cache hit's path (issue 9).
Marking never moves what a cached token is checked against (the row's stamp), so it costs the
hot path nothing.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Collection, Iterator
from datetime import datetime

from sqlalchemy import ColumnElement, Engine, Select, or_, select, tuple_, update
from sqlalchemy.orm import InstrumentedAttribute

from ._db_session import DbSession, as_datetime, rowcount
from ._models import ConnectionRow

__all__ = ["RefreshSchedule"]

_ACTIVE = "active"
#: Ids per UPDATE of ``record_use`` (bound parameters stay well under SQLite's limit).
_USE_BATCH = 500


def _ending_before(before: datetime) -> ColumnElement[bool]:
    # ``<=``: the manager refreshes a token whose life is not above its leeway.
    return or_(ConnectionRow.access_expires_at.is_(None), ConnectionRow.access_expires_at <= before)


class RefreshSchedule:
    """The worker's due queries on the ``connections`` table; see the module docstring.

    >>> schedule = RefreshSchedule(engine)
    >>> for connection_id in schedule.in_use_expiring(used_since=now - 7200, before=now + 310):
    ...     manager.get_access_token(connection_id)
    """

    def __init__(self, engine: Engine, *, clock: Callable[[], float] = time.time) -> None:
        self._db = DbSession(engine, clock=clock)

    def in_use_query(
        self, *, used_since: datetime | float, before: datetime | float
    ) -> Select[str, datetime | None]:
        """The in-use due query (first page), in the index's order: for ``in_use_expiring``
        and for reading its plan."""
        return (
            select(ConnectionRow.id, ConnectionRow.last_used_at)
            .where(
                ConnectionRow.status == _ACTIVE,
                ConnectionRow.last_used_at >= as_datetime(used_since),
                _ending_before(as_datetime(before)),
            )
            .order_by(ConnectionRow.last_used_at, ConnectionRow.id)
        )

    def probe_query(
        self, *, probed_before: datetime | float, before: datetime | float
    ) -> Select[str, datetime | None]:
        """The idle-probe due query (first page), in the index's order: for ``probes_due`` and
        for reading its plan."""
        return (
            select(ConnectionRow.id, ConnectionRow.last_refresh_at)
            .where(
                ConnectionRow.status == _ACTIVE,
                ConnectionRow.last_refresh_at < as_datetime(probed_before),
                _ending_before(as_datetime(before)),
            )
            .order_by(ConnectionRow.last_refresh_at, ConnectionRow.id)
        )

    def in_use_expiring(
        self,
        *,
        used_since: datetime | float,
        before: datetime | float,
        batch_size: int = 500,
    ) -> Iterator[str]:
        """Ids of active connections used since ``used_since`` whose access token is missing or
        ends by ``before``, page by page (``batch_size`` a page)."""
        query = self.in_use_query(used_since=used_since, before=before)
        return self._pages(query, ConnectionRow.last_used_at, batch_size)

    def probes_due(
        self,
        *,
        probed_before: datetime | float,
        before: datetime | float,
        batch_size: int = 500,
    ) -> Iterator[str]:
        """Ids of active connections last refreshed before ``probed_before`` whose access token
        is missing or ends by ``before`` (a fresh token proves nothing new), the longest
        unprobed first, page by page."""
        query = self.probe_query(probed_before=probed_before, before=before)
        return self._pages(query, ConnectionRow.last_refresh_at, batch_size)

    def record_use(self, connection_ids: Collection[str], at: datetime | float) -> int:
        """Mark the connections used at ``at`` (a later mark is never moved back): one UPDATE
        per 500 ids, in one write transaction. Returns how many rows moved."""
        ids = sorted(set(connection_ids))
        if not ids:
            return 0
        used_at = as_datetime(at)
        moved = 0
        with self._db.write() as session:
            for start in range(0, len(ids), _USE_BATCH):
                result = session.execute(
                    update(ConnectionRow)
                    .where(
                        ConnectionRow.id.in_(ids[start : start + _USE_BATCH]),
                        or_(
                            ConnectionRow.last_used_at.is_(None),
                            ConnectionRow.last_used_at < used_at,
                        ),
                    )
                    .values(last_used_at=used_at)
                    .execution_options(synchronize_session=False)
                )
                moved += rowcount(result)
        return moved

    def _pages(
        self,
        query: Select[str, datetime | None],
        key: InstrumentedAttribute[datetime | None],
        batch_size: int,
    ) -> Iterator[str]:
        """The ids ``query`` selects (with ``key``, its order), a page per read transaction,
        each page after the last (key, id) of the one before."""
        after: tuple[datetime, str] | None = None
        while True:
            page = query
            if after is not None:
                page = query.where(tuple_(key, ConnectionRow.id) > tuple_(*after))
            with self._db.read() as session:
                rows = [
                    (row_id, row_key) for row_id, row_key in session.execute(page.limit(batch_size))
                ]
            yield from (connection_id for connection_id, _ in rows)
            if len(rows) < batch_size:
                return
            last_id, last_key = rows[-1]
            assert last_key is not None  # the query's range excludes NULL
            after = (last_key, last_id)
