"""``MirrorStore``: the mirror's rows, sync state, change feed and sync leases in the vault's
database (issue 10). The engine (``zoho_invoice.mirror``) decides what to ask Zoho; this store
only keeps what it was given, with three guarantees:

- **Idempotent upserts.** A row is keyed by (connection, organization, Zoho's id) and only moves
  forward: a list row replaces the stored one when its ``last_modified_time`` is newer (the row
  drops to level ``list``: its detail must be read again), a detail replaces it when it is at
  least as new (level ``detail``). Writing the same page twice changes nothing and logs nothing.
- **Checkpoints commit with the rows.** A page's rows, its change-feed entries and the next page
  to read are one transaction.
- **Fenced by the sync lease.** Every write of a run first renews the connection's lease row in
  the same transaction (``UPDATE ... WHERE holder = ? AND fence = ?``): a holder whose lease was
  taken over gets ``StaleWriteError`` and writes nothing (rule 5).
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

from sqlalchemy import Engine, delete, func, insert, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from .._exceptions import StaleWriteError
from ._db_session import DbSession, as_datetime, one_line, rowcount
from ._mirror_models import (
    MIRROR_TABLES,
    MirrorChangeRow,
    MirrorLeaseRow,
    MirrorRow,
    MirrorStateRow,
    TypedColumn,
)

__all__ = [
    "MirrorLease",
    "MirrorStore",
    "PageWrite",
    "StoredChange",
    "StoredRecord",
    "SyncState",
    "parse_zoho_time",
]


@dataclass(frozen=True, slots=True)
class MirrorLease:
    """A held sync lease: who holds it and the fence every write of the run checks."""

    connection_id: str
    holder: str
    fence: int
    seconds: float


@dataclass(frozen=True, slots=True)
class SyncState:
    """A snapshot of one ``zoho_sync_state`` row (defaults when there is none yet)."""

    connection_id: str
    organization_id: str
    resource: str
    cursor: datetime | None = None
    tz_offset: str | None = None
    sort_column: str | None = None
    run_started_at: datetime | None = None
    run_cursor: datetime | None = None
    #: the run in progress's next list row, counted from 1 (rows before it are read: the engine
    #: reads pages of varying size, see mirror/_engine.py); 0: listing done, details pending;
    #: None: no run
    run_page: int | None = None
    run_resumed: bool = False
    needs_reconcile: bool = False
    last_run_at: datetime | None = None
    last_success_at: datetime | None = None
    last_reconciled_at: datetime | None = None
    added: int = 0
    updated: int = 0
    deleted: int = 0
    error: str | None = None


@dataclass(frozen=True, slots=True)
class PageWrite:
    """What writing one page (or one detail) did: how many rows were added, updated, restored."""

    added: int = 0
    updated: int = 0


@dataclass(frozen=True, slots=True)
class StoredRecord:
    resource: str
    connection_id: str
    organization_id: str
    id: str
    last_modified_time: datetime | None
    level: str
    data: dict[str, Any]
    synced_at: datetime
    detail_read_at: datetime | None
    deleted_at: datetime | None


@dataclass(frozen=True, slots=True)
class StoredChange:
    seq: int
    connection_id: str
    organization_id: str
    resource: str
    id: str
    kind: str
    at: datetime


def parse_zoho_time(text: object) -> datetime | None:
    """Zoho's ``2016-06-11T17:38:06-0700`` (or ISO forms) as an aware UTC datetime; ``None`` for
    anything else (a missing or empty value)."""
    if not isinstance(text, str) or not text.strip():
        return None
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        return None
    if moment.tzinfo is None:
        return None
    return as_datetime(moment)


def _date(value: object) -> date | None:
    if not isinstance(value, str) or len(value) < 10:
        return None
    try:
        return date.fromisoformat(value[:10])
    except ValueError:
        return None


def _money(value: object) -> Decimal | None:
    if value is None or value == "" or isinstance(value, bool):
        return None
    try:
        number = Decimal(str(value))
    except InvalidOperation:
        return None
    return number if number.is_finite() else None


def _text(value: object, limit: int) -> str | None:
    if value is None or isinstance(value, (dict, list)):
        return None
    return str(value)[:limit]


def _typed_values(table: type[MirrorRow], record: Mapping[str, Any]) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for column in table.typed:
        values[column.name] = _typed_value(table, column, record.get(column.name))
    return values


def _typed_value(table: type[MirrorRow], column: TypedColumn, value: object) -> Any:
    if column.kind == "date":
        return _date(value)
    if column.kind == "money":
        return _money(value)
    if column.kind == "time":
        return parse_zoho_time(value)
    length = getattr(table.__table__.c[column.name].type, "length", None) or 255
    return _text(value, int(length))


class MirrorStore:
    """The mirror's tables; see the module docstring. One per vault (``vault.mirror``)."""

    def __init__(self, engine: Engine, *, clock: Callable[[], float] = time.time) -> None:
        self._db = DbSession(engine, clock=clock)

    def now(self) -> datetime:
        return self._db.now()

    @staticmethod
    def table(resource: str) -> type[MirrorRow]:
        """The mapped class of a resource's table (``KeyError`` for an unknown resource)."""
        return MIRROR_TABLES[resource]

    # -- leases (rule 5) ------------------------------------------------------------------

    def acquire_lease(self, connection_id: str, *, seconds: float) -> MirrorLease | None:
        """Take the connection's sync lease if nobody holds a live one; ``None`` otherwise."""
        now = self._db.now()
        holder = uuid.uuid4().hex
        expires = now + timedelta(seconds=seconds)
        with self._db.write() as session:
            row = session.get(MirrorLeaseRow, connection_id, with_for_update=True)
            if row is None:
                try:
                    with session.begin_nested():
                        session.execute(
                            insert(MirrorLeaseRow).values(
                                connection_id=connection_id,
                                holder=holder,
                                fence=1,
                                expires_at=expires,
                            )
                        )
                except IntegrityError:
                    return None
                return MirrorLease(connection_id, holder, 1, seconds)
            if row.expires_at > now:
                return None
            fence = row.fence + 1
            taken = session.execute(
                update(MirrorLeaseRow)
                .where(
                    MirrorLeaseRow.connection_id == connection_id,
                    MirrorLeaseRow.fence == row.fence,
                )
                .values(holder=holder, fence=fence, expires_at=expires)
            )
            if rowcount(taken) != 1:
                return None
        return MirrorLease(connection_id, holder, fence, seconds)

    def release_lease(self, lease: MirrorLease) -> None:
        """Give the lease back (only if still ours): the next sync may start at once."""
        with self._db.write() as session:
            session.execute(
                update(MirrorLeaseRow)
                .where(
                    MirrorLeaseRow.connection_id == lease.connection_id,
                    MirrorLeaseRow.holder == lease.holder,
                    MirrorLeaseRow.fence == lease.fence,
                )
                .values(expires_at=self._db.now())
            )

    def lease_held(self, connection_id: str) -> bool:
        """Whether a live sync lease exists for the connection (a sync is running)."""
        with self._db.read() as session:
            expires = session.scalar(
                select(MirrorLeaseRow.expires_at).where(
                    MirrorLeaseRow.connection_id == connection_id
                )
            )
        return expires is not None and expires > self._db.now()

    def _fence(self, session: Session, lease: MirrorLease) -> None:
        """Renew the lease in this transaction, or refuse the write: it was taken over."""
        renewed = session.execute(
            update(MirrorLeaseRow)
            .where(
                MirrorLeaseRow.connection_id == lease.connection_id,
                MirrorLeaseRow.holder == lease.holder,
                MirrorLeaseRow.fence == lease.fence,
            )
            .values(expires_at=self._db.now() + timedelta(seconds=lease.seconds))
        )
        if rowcount(renewed) != 1:
            raise StaleWriteError("the sync lease was taken over by another sync; stopping")

    def renew_lease(self, lease: MirrorLease) -> None:
        """Renew the lease (``StaleWriteError`` when it was taken over)."""
        with self._db.write() as session:
            self._fence(session, lease)

    # -- sync state -----------------------------------------------------------------------

    def state(self, connection_id: str, organization_id: str, resource: str) -> SyncState:
        with self._db.read() as session:
            row = session.get(MirrorStateRow, (connection_id, organization_id, resource))
            return _state(row, connection_id, organization_id, resource)

    def states(self, connection_id: str, organization_id: str) -> list[SyncState]:
        with self._db.read() as session:
            rows = session.scalars(
                select(MirrorStateRow).where(
                    MirrorStateRow.connection_id == connection_id,
                    MirrorStateRow.organization_id == organization_id,
                )
            ).all()
            return [_state(r, connection_id, organization_id, r.resource) for r in rows]

    def _state_row(
        self, session: Session, connection_id: str, organization_id: str, resource: str
    ) -> MirrorStateRow:
        row = session.get(MirrorStateRow, (connection_id, organization_id, resource))
        if row is None:
            row = MirrorStateRow(
                connection_id=connection_id,
                organization_id=organization_id,
                resource=resource,
                run_resumed=False,
                needs_reconcile=False,
                added=0,
                updated=0,
                deleted=0,
            )
            session.add(row)
        return row

    def start_window(
        self,
        lease: MirrorLease,
        organization_id: str,
        resource: str,
        *,
        cursor: datetime | None,
        started_at: datetime,
    ) -> SyncState:
        """Begin a listing window: from ``cursor`` (``None``: everything), started now."""
        with self._db.write() as session:
            self._fence(session, lease)
            row = self._state_row(session, lease.connection_id, organization_id, resource)
            row.run_started_at = started_at
            row.run_cursor = cursor
            row.run_page = 1
            row.run_resumed = False
            row.last_run_at = self._db.now()
            session.flush()
            return _state(row, lease.connection_id, organization_id, resource)

    def resume_window(self, lease: MirrorLease, organization_id: str, resource: str) -> SyncState:
        """Continue the window a stopped run left; a listing resumed after a gap is marked, so
        the window ends with a reconciliation (a delete in the gap may have shifted a page)."""
        with self._db.write() as session:
            self._fence(session, lease)
            row = self._state_row(session, lease.connection_id, organization_id, resource)
            if row.run_page is not None and row.run_page > 1:
                row.run_resumed = True
            row.last_run_at = self._db.now()
            session.flush()
            return _state(row, lease.connection_id, organization_id, resource)

    def set_sort_column(
        self, lease: MirrorLease, organization_id: str, resource: str, sort_column: str
    ) -> None:
        with self._db.write() as session:
            self._fence(session, lease)
            row = self._state_row(session, lease.connection_id, organization_id, resource)
            row.sort_column = sort_column

    def complete_window(
        self,
        lease: MirrorLease,
        organization_id: str,
        resource: str,
        *,
        cursor: datetime,
        added: int,
        updated: int,
        deleted: int,
    ) -> SyncState:
        """The window is listed and its details read: move the cursor, forget the run."""
        with self._db.write() as session:
            self._fence(session, lease)
            row = self._state_row(session, lease.connection_id, organization_id, resource)
            row.cursor = cursor
            row.needs_reconcile = row.needs_reconcile or row.run_resumed
            row.run_started_at = None
            row.run_cursor = None
            row.run_page = None
            row.run_resumed = False
            row.last_success_at = self._db.now()
            row.added, row.updated, row.deleted = added, updated, deleted
            row.error = None
            session.flush()
            return _state(row, lease.connection_id, organization_id, resource)

    def record_run(
        self,
        lease: MirrorLease,
        organization_id: str,
        resource: str,
        *,
        added: int,
        updated: int,
        deleted: int,
        error: str | None,
    ) -> None:
        """A run of the resource stopped before its window completed: its counts and why."""
        with self._db.write() as session:
            self._fence(session, lease)
            row = self._state_row(session, lease.connection_id, organization_id, resource)
            row.added, row.updated, row.deleted = added, updated, deleted
            row.error = None if error is None else one_line(error)

    def reconciled(
        self, lease: MirrorLease, organization_id: str, resource: str, *, at: datetime
    ) -> None:
        with self._db.write() as session:
            self._fence(session, lease)
            row = self._state_row(session, lease.connection_id, organization_id, resource)
            row.last_reconciled_at = at
            row.needs_reconcile = False

    # -- rows -----------------------------------------------------------------------------

    def write_list_page(
        self,
        lease: MirrorLease,
        organization_id: str,
        resource: str,
        rows: Sequence[Mapping[str, Any]],
        *,
        next_page: int | None,
        tz_offset: str | None = None,
        reread_within: float = 0.0,
    ) -> PageWrite:
        """Upsert a list page's rows and, in the same transaction, checkpoint the window: the
        next row to read, counted from 1 (``0``: listing done), the organization's UTC offset
        when seen. ``next_page=None`` leaves the checkpoint alone (a reconciliation's pages).

        A row listed again at the ``last_modified_time`` it is held at is a newer version when
        a list field differs (two changes in one second share a stamp); when none differs but
        its detail was read less than ``1 s + reread_within`` (the clock skew allowed) after
        that stamp, the detail may predate a change in the same second: it is marked stale and
        read again."""
        table = self.table(resource)
        with self._db.write() as session:
            self._fence(session, lease)
            result = self._upsert(
                session,
                table,
                lease.connection_id,
                organization_id,
                rows,
                False,
                reread_within=reread_within,
            )
            if next_page is not None or tz_offset is not None:
                state = self._state_row(session, lease.connection_id, organization_id, resource)
                if next_page is not None:
                    state.run_page = next_page
                if tz_offset is not None:
                    state.tz_offset = tz_offset
        return result

    def write_detail(
        self,
        lease: MirrorLease,
        organization_id: str,
        resource: str,
        record: Mapping[str, Any],
    ) -> PageWrite:
        """Store a record's detail (``GET /<resource>/{id}``): level ``detail`` at its time."""
        table = self.table(resource)
        with self._db.write() as session:
            self._fence(session, lease)
            return self._upsert(
                session, table, lease.connection_id, organization_id, [record], True
            )

    def _upsert(
        self,
        session: Session,
        table: type[MirrorRow],
        connection_id: str,
        organization_id: str,
        records: Sequence[Mapping[str, Any]],
        detail: bool,
        *,
        reread_within: float = 0.0,
    ) -> PageWrite:
        now = self._db.now()
        by_id: dict[str, Mapping[str, Any]] = {}
        for record in records:
            record_id = record.get(table.id_key)
            if record_id is not None and str(record_id):
                by_id[str(record_id)] = record
        if not by_id:
            return PageWrite()
        existing = {
            row.id: row
            for row in session.scalars(
                select(table).where(
                    table.connection_id == connection_id,
                    table.organization_id == organization_id,
                    table.id.in_(list(by_id)),
                )
            )
        }
        added = updated = 0
        changes: list[dict[str, Any]] = []
        derived: set[str] = set()
        for record_id, record in by_id.items():
            modified = parse_zoho_time(record.get("last_modified_time"))
            values: dict[str, Any] = {
                "data": dict(record),
                "last_modified_time": modified,
                "created_time": parse_zoho_time(record.get("created_time")),
                "synced_at": now,
                "deleted_at": None,
                **_typed_values(table, record),
            }
            if detail:
                values.update(
                    level="detail", stale=False, detail_modified_time=modified, detail_read_at=now
                )
            else:
                values.update(level="list")
            row = existing.get(record_id)
            if row is None:
                session.add(
                    table(
                        connection_id=connection_id,
                        organization_id=organization_id,
                        id=record_id,
                        **values,
                    )
                )
                added += 1
                changes.append(
                    _change(connection_id, organization_id, table, record_id, "added", now)
                )
                derived.update(_affected(table, None, record))
                continue
            kind = _kind(row, modified, detail, record)
            if kind is None:
                if not detail and _read_in_its_second(row, reread_within):
                    row.stale = True
                continue
            restored = row.deleted_at is not None
            derived.update(_affected(table, row.data if not restored else None, record))
            for name, value in values.items():
                setattr(row, name, value)
            if restored:
                added += 1
                changes.append(
                    _change(connection_id, organization_id, table, record_id, "added", now)
                )
            elif kind == "updated":
                updated += 1
                changes.append(
                    _change(connection_id, organization_id, table, record_id, "updated", now)
                )
        if changes:
            session.execute(insert(MirrorChangeRow), changes)
        self._mark_derived(session, table, connection_id, organization_id, derived)
        return PageWrite(added=added, updated=updated)

    def _mark_derived(
        self,
        session: Session,
        table: type[MirrorRow],
        connection_id: str,
        organization_id: str,
        ids: set[str],
    ) -> None:
        """Rows whose derived fields moved with this write (a customer's balances after an
        invoice, payment or credit note of theirs changed: Zoho does not stamp the contact) are
        marked stale, in the same transaction, so their detail is read again."""
        if not ids or table.derived_into is None:
            return
        target = MIRROR_TABLES[table.derived_into]
        session.execute(
            update(target)
            .where(
                *_live(target, connection_id, organization_id),
                target.id.in_(sorted(ids)),
            )
            .values(stale=True)
            .execution_options(synchronize_session=False)
        )

    def mark_deleted(
        self, lease: MirrorLease, organization_id: str, resource: str, ids: Iterable[str]
    ) -> int:
        """Zoho no longer has these records (each confirmed by a "does not exist"): set their
        ``deleted_at`` (rows already marked stay as they are)."""
        table = self.table(resource)
        wanted = list(ids)
        if not wanted:
            return 0
        now = self._db.now()
        with self._db.write() as session:
            self._fence(session, lease)
            gone = session.execute(
                select(table.id, table.data).where(
                    *_live(table, lease.connection_id, organization_id), table.id.in_(wanted)
                )
            ).all()
            derived: set[str] = set()
            for _id, data in gone:
                derived.update(_affected(table, data, None))
            self._mark_derived(session, table, lease.connection_id, organization_id, derived)
            marked = list(
                session.scalars(
                    update(table)
                    .where(
                        table.connection_id == lease.connection_id,
                        table.organization_id == organization_id,
                        table.id.in_(wanted),
                        table.deleted_at.is_(None),
                    )
                    .values(deleted_at=now, synced_at=now)
                    .returning(table.id)
                )
            )
            if marked:
                session.execute(
                    insert(MirrorChangeRow),
                    [
                        _change(lease.connection_id, organization_id, table, i, "deleted", now)
                        for i in marked
                    ],
                )
        return len(marked)

    def backlog(
        self, connection_id: str, organization_id: str, resource: str, *, limit: int
    ) -> list[str]:
        """Ids of live rows held at level ``list`` (their detail is due), oldest change first."""
        table = self.table(resource)
        with self._db.read() as session:
            return list(
                session.scalars(
                    select(table.id)
                    .where(*_live(table, connection_id, organization_id), _due(table))
                    .order_by(table.last_modified_time, table.id)
                    .limit(limit)
                )
            )

    def backlog_count(self, connection_id: str, organization_id: str, resource: str) -> int:
        table = self.table(resource)
        with self._db.read() as session:
            count = session.scalar(
                select(func.count())
                .select_from(table)
                .where(*_live(table, connection_id, organization_id), _due(table))
            )
        return int(count or 0)

    def live_ids(self, connection_id: str, organization_id: str, resource: str) -> set[str]:
        """Ids of the rows not marked deleted (a reconciliation compares them with Zoho's)."""
        table = self.table(resource)
        with self._db.read() as session:
            return set(
                session.scalars(
                    select(table.id).where(*_live(table, connection_id, organization_id))
                )
            )

    def records(
        self,
        connection_id: str,
        organization_id: str,
        resource: str,
        *,
        include_deleted: bool = False,
        limit: int = 100,
        offset: int = 0,
    ) -> list[StoredRecord]:
        """Rows newest ``created_time`` first (then id), ``limit``/``offset`` paged."""
        table = self.table(resource)
        where = _scope(table, connection_id, organization_id, include_deleted)
        with self._db.read() as session:
            rows = session.scalars(
                select(table)
                .where(*where)
                .order_by(table.created_time.desc(), table.id.desc())
                .limit(limit)
                .offset(offset)
            ).all()
            return [
                StoredRecord(
                    resource=resource,
                    connection_id=r.connection_id,
                    organization_id=r.organization_id,
                    id=r.id,
                    last_modified_time=r.last_modified_time,
                    level=r.level,
                    data=dict(r.data),
                    synced_at=r.synced_at,
                    detail_read_at=r.detail_read_at,
                    deleted_at=r.deleted_at,
                )
                for r in rows
            ]

    def count(
        self,
        connection_id: str,
        organization_id: str,
        resource: str,
        *,
        include_deleted: bool = False,
    ) -> int:
        table = self.table(resource)
        where = _scope(table, connection_id, organization_id, include_deleted)
        with self._db.read() as session:
            count = session.scalar(select(func.count()).select_from(table).where(*where))
        return int(count or 0)

    # -- the change feed, organizations, purge ----------------------------------------------

    def changes(
        self, connection_id: str, *, since: int = 0, limit: int = 1000
    ) -> list[StoredChange]:
        with self._db.read() as session:
            rows = session.scalars(
                select(MirrorChangeRow)
                .where(MirrorChangeRow.connection_id == connection_id, MirrorChangeRow.seq > since)
                .order_by(MirrorChangeRow.seq)
                .limit(limit)
            ).all()
            return [
                StoredChange(
                    seq=int(r.seq),
                    connection_id=r.connection_id,
                    organization_id=r.organization_id,
                    resource=r.resource,
                    id=r.record_id,
                    kind=r.kind,
                    at=r.at,
                )
                for r in rows
            ]

    def organizations(self, connection_id: str) -> list[str]:
        """Organizations with a sync state or rows for the connection, sorted."""
        with self._db.read() as session:
            found = set(
                session.scalars(
                    select(MirrorStateRow.organization_id).where(
                        MirrorStateRow.connection_id == connection_id
                    )
                )
            )
            for table in MIRROR_TABLES.values():
                found.update(
                    session.scalars(
                        select(table.organization_id)
                        .where(table.connection_id == connection_id)
                        .distinct()
                    )
                )
        return sorted(found)

    def purge(self, connection_id: str) -> int:
        """Remove every row, state, change and lease of the connection; the rows removed."""
        removed = 0
        with self._db.write() as session:
            for table in MIRROR_TABLES.values():
                removed += rowcount(
                    session.execute(delete(table).where(table.connection_id == connection_id))
                )
            for other in (MirrorStateRow, MirrorChangeRow, MirrorLeaseRow):
                session.execute(delete(other).where(other.connection_id == connection_id))
        return removed


def _live(table: type[MirrorRow], connection_id: str, organization_id: str) -> tuple[Any, ...]:
    return (
        table.connection_id == connection_id,
        table.organization_id == organization_id,
        table.deleted_at.is_(None),
    )


def _due(table: type[MirrorRow]) -> Any:
    """A row whose detail is due: held at list level, or a detail known to be stale."""
    return or_(table.level == "list", table.stale.is_(True))


def _scope(
    table: type[MirrorRow], connection_id: str, organization_id: str, include_deleted: bool
) -> tuple[Any, ...]:
    if include_deleted:
        return (table.connection_id == connection_id, table.organization_id == organization_id)
    return _live(table, connection_id, organization_id)


def _kind(
    row: MirrorRow, modified: datetime | None, detail: bool, record: Mapping[str, Any]
) -> str | None:
    """What writing a record over ``row`` means: ``updated`` (Zoho's time moved on, or a stale
    detail read again differs: a derived field moved), ``same`` (the same version, written to fill
    in its detail or to restore a row marked deleted), or ``None``: nothing to write (an older
    version, or one already held at that level)."""
    held = row.last_modified_time
    if modified is not None and held is not None and modified < held:
        return None
    if modified is not None and (held is None or modified > held):
        return "updated"
    if not detail and row.deleted_at is None and _differs(row.data, record):
        return "updated"  # a newer version stamped in the same second
    if detail and row.stale and row.level == "detail" and row.deleted_at is None:
        return "updated" if dict(record) != row.data else "same"
    if row.deleted_at is not None or (detail and (row.level != "detail" or row.stale)):
        return "same"
    return None


def _differs(held: Mapping[str, Any], listed: Mapping[str, Any]) -> bool:
    """Whether a list row shows a field value other than the held version's."""
    return any(key in held and held[key] != value for key, value in listed.items())


def _read_in_its_second(row: MirrorRow, skew: float) -> bool:
    """The held detail was read within a second (plus the clock skew) of its stamp: a change
    later in that second would carry the same stamp, unseen."""
    if row.level != "detail" or row.stale or row.deleted_at is not None:
        return False
    stamp, read = row.last_modified_time, row.detail_read_at
    if stamp is None or read is None:
        return False
    return read < stamp + timedelta(seconds=1 + skew)


def _affected(
    table: type[MirrorRow], old: Mapping[str, Any] | None, new: Mapping[str, Any] | None
) -> set[str]:
    """The ids of ``table.derived_into`` rows a change from ``old`` to ``new`` touches: the
    customer (old and new) when a field the customer's balances follow moved."""
    if table.derived_into is None:
        return set()
    watched = table.derived_fields
    # Only fields both versions carry are compared (a list row lacks some detail fields).
    if (
        old is not None
        and new is not None
        and all(old.get(f) == new.get(f) for f in watched if f in old and f in new)
    ):
        return set()
    key = table.derived_key
    return {str(d[key]) for d in (old, new) if d is not None and d.get(key)}


def _change(
    connection_id: str,
    organization_id: str,
    table: type[MirrorRow],
    record_id: str,
    kind: str,
    at: datetime,
) -> dict[str, Any]:
    return {
        "connection_id": connection_id,
        "organization_id": organization_id,
        "resource": table.resource,
        "record_id": record_id,
        "kind": kind,
        "at": at,
    }


def _state(
    row: MirrorStateRow | None, connection_id: str, organization_id: str, resource: str
) -> SyncState:
    if row is None:
        return SyncState(connection_id, organization_id, resource)
    return SyncState(
        connection_id=connection_id,
        organization_id=organization_id,
        resource=resource,
        cursor=row.cursor,
        tz_offset=row.tz_offset,
        sort_column=row.sort_column,
        run_started_at=row.run_started_at,
        run_cursor=row.run_cursor,
        run_page=row.run_page,
        run_resumed=bool(row.run_resumed),
        needs_reconcile=bool(row.needs_reconcile),
        last_run_at=row.last_run_at,
        last_success_at=row.last_success_at,
        last_reconciled_at=row.last_reconciled_at,
        added=row.added or 0,
        updated=row.updated or 0,
        deleted=row.deleted or 0,
        error=row.error,
    )
