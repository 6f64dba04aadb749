"""``Mirror``: keeps a connection's Zoho data in the vault's database, current, within Zoho's
limits (issue 10). The tables and their store are ``vault/_mirror_models.py`` and
``vault/_mirror_store.py``; this module decides what to ask Zoho and when.

Rule 1, incremental by ``last_modified_time``, and why no record is lost
------------------------------------------------------------------------
Zoho filters a list by ``last_modified_time=T``, meaning *strictly after* ``T``, to the second,
and cannot sort most lists by it (docs/zoho/sandbox-rules.md §6). A run of a resource therefore:

1. fixes its window once: ``start`` = our clock at the run's start; the filter value is
   ``cursor - 1 s`` floored to the second and written in the organization's time zone (the offset
   Zoho's own timestamps carry), so ``> cursor - 1 s`` includes everything *at or after* the
   cursor's second: inclusive, whatever second several records share;
2. pages that one filtered set by offset, sorted by ``created_time`` ascending (a column every
   list sorts by), upserting each page and checkpointing (the next row, the window) in the
   same transaction;
3. when the last page is read and the detail backlog is empty, moves the cursor to
   ``start - overlap`` (never to the largest ``last_modified_time`` seen: a record edited early in
   the run and inserted behind the reading position has a smaller one than a record edited later
   and read).

Offset paging while the set changes. Zoho reads ``per_page`` rows from offset
``(page - 1) * per_page`` of the list as it is at that moment. Sorted by ``created_time``
ascending, a change during the run moves offsets as follows:

- an *edit* never moves a record of the filtered set (its ``created_time`` does not change);
  an edit of a record outside the set (older than the window) *adds* it at its
  ``created_time`` place: later records shift one place toward the end, so a read may repeat
  a row (upserts are idempotent), never miss one; the added record has
  ``last_modified_time >= start``: if this run does not read it, the next window (which
  begins ``overlap`` before ``start``) does;
- a *create* lands at the end (newest ``created_time``): read by this run or the next;
- a *delete* of a record before the reading position shifts every later record one place
  toward the front: the record that was first on the next page becomes last on the page
  already read, and aligned pages skip it. Nothing about it changed, so the next window does
  not list it either.

The direction of reading does not help. Sorted descending (newest first), a delete of an
already-read (newer) record shifts the not-yet-read older ones toward the front just the same:
a skip; and creates then land at the front and shift everything toward the end (repeats).
Reading the pages backwards (last page first, ascending) is immune to deletes (they shift the
unread front toward the read tail: repeats) but a record entering the window in the unread
front pushes the last unread row into the read tail: a skip; and it needs the page count,
which Zoho's ``page_context`` does not give. Whatever the order, a shift toward the front skips
when reading toward the end, a shift toward the end skips when reading toward the front, and
a run sees both (deletes; records entering the window).

So the pages are *anchored* (``MirrorSettings.anchor_pages``, default on). Every read after the
first starts at or before the last row already read: Zoho's offset is ``(page - 1) * size``
and ``size`` may be anything up to 200, so a size a little under 200 puts the start one to a
few rows back (``_overlapping_read``). A read is accepted only when it lists a record the
previous accepted read listed. Then nothing is skipped: the read lists, contiguously in the
present order, everything from that record on; everything before it was read by induction
(or entered the window during the run, and is caught by the next one). When no such record
is there, records before the reading position were deleted meanwhile: the read is made
again from further back, until it holds one (or starts at row 0, which needs no anchor).
Cost: only runs of more than one page pay (the steady state is one page): 2,000 records
take 11 list calls instead of 10, 10,000 take 55 instead of 50; a delete during the run
costs a read or two more. Details - one call per changed record - dominate an initial sync,
so it costs +0.05 % there. ``anchor_pages=False`` reads aligned pages (the minimum), and a
record a delete pushed across a page boundary then waits for the next reconciliation.

A listing interrupted (a crash, the quota) and resumed later has no anchor across the gap:
it continues from its checkpoint (the next row, at or before the first unread one) and the
window is reconciled as soon as it completes, in the same run (rule 3).

A list that refuses ``sort_column=created_time`` (400) is read in its own order, remembered per
resource; an edit that moves a record in that order backwards across the reading position is then
a second way to skip, bounded by the scheduled reconciliation. A list that ignores the
``last_modified_time`` filter answers everything: the window is a full listing, still correct,
only dearer.

A crash at any point: rows and the checkpoint commit together per page, upserts are keyed on
(connection, organization, id) and compare ``last_modified_time``, so a re-run converges.

Two changes in one second share a stamp. The window's filter keeps the cursor's whole second,
so a record stamped in it is listed again; a listed row at the stamp the mirror holds is still a
newer version when one of its list fields differs, and when none does but the held detail was
read less than ``1 s + clock_skew`` after that stamp (a second change in the same second would
carry the same stamp), the detail is read once more. Further from its stamp, a detail has every
change of that second.

Rule 2, detail only for what changed: a list row whose ``last_modified_time`` differs from the one
the row's detail was read at is stored at level ``list`` (its list fields); the backlog is exactly
those rows, drained by ``GET /<resource>/{id}`` within the sync's quota share, oldest change
first, and resumed by the next run after the reset. Steady state after k edits: 1 list call + k
detail calls per resource.

Derived fields: Zoho does not stamp a contact when its balances move (an invoice sent, paid,
voided or deleted changes ``outstanding_receivable_amount`` and ``unused_credits_receivable_amount``
without touching the contact's ``last_modified_time``). Writing an invoice, payment or credit note
whose money fields moved marks its customer's row stale in the same transaction, and a sync runs
the contacts last (``SYNC_ORDER``), so the contact is read again in the same sync.

Rule 3, deletes: a reconciliation lists every page (ids and ``last_modified_time``), marks
``deleted_at`` on rows Zoho no longer lists - each confirmed by a ``GET`` answering "does not
exist", so a record a concurrent delete pushed across a page boundary is never marked - clears it
on rows that reappear, and re-reads rows whose time differs.

Rule 4, the budget: the client a sync uses takes its permits from a ``SyncShareBudget``; after
every answer the engine reads Zoho's ``X-Rate-Limit-*`` (``client.rate_limit``) and stops cleanly
(outcome ``quota_exhausted``) before ``remaining`` falls to ``(1 - share) * limit``; a code 45
(``DailyQuotaExceeded``) stops it the same way.

Rule 5, once across the fleet: a sync lease per connection, a row in the vault's database taken
by a conditional write, renewed and *checked* at every checkpoint (the checkpoint's transaction
fails if the lease moved on: a paused holder cannot overwrite its successor's state). A second
sync meanwhile is answered ``already_running``.

Rule 6, one Zoho user: rows are keyed by (connection, organization, id); the organization is the
connection's bound one at the start of the run, so binding another starts that organization's
mirror beside the first; ``purge`` removes a connection's rows, state and feed.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from typing import Any, Protocol

from .._exceptions import (
    BadRequestError,
    DailyQuotaExceeded,
    MissingScopeError,
    NotFoundError,
    PermissionDeniedError,
    StaleWriteError,
)
from .._redact import redact
from ..api import ZohoInvoice, default_budget
from ..tokens import TokenManager
from ..vault import Vault
from ..vault._mirror_store import MirrorLease, MirrorStore, SyncState
from ._budget import SyncShareBudget
from ._errors import MirrorError
from ._types import (
    RESOURCES,
    Change,
    ChangeKind,
    MirroredRecord,
    MirrorSettings,
    ProgressCallback,
    ResourceName,
    ResourceReport,
    ResourceStatus,
    SyncPhase,
    SyncProgress,
    SyncReport,
    SyncStatus,
    missing_scope_error,
)

__all__ = ["READ_SCOPES", "ClientFactory", "Mirror"]

logger = logging.getLogger("zoho_invoice.mirror")

#: The order pages are read in: stable under edits, creations at the end (module docstring).
SORT_COLUMN = "created_time"
#: The order a sync runs resources in: what moves a customer's balances (invoices, payments,
#: credit notes) before the contacts, so a contact marked stale by them is read again in the
#: same sync (Zoho does not stamp a contact when its balances move).
SYNC_ORDER: tuple[ResourceName, ...] = (
    "invoices",
    "customer_payments",
    "credit_notes",
    "estimates",
    "recurring_invoices",
    "items",
    "contacts",
)
assert set(SYNC_ORDER) == set(RESOURCES)
#: How many backlog ids are read from the database at a time.
_BACKLOG_BATCH = 100
_OFFSET = re.compile(r"([+-])(\d\d):?(\d\d)$")


@dataclass(frozen=True, slots=True)
class _Endpoint:
    """Where a resource lives in the Invoice API: its path, the list's key, one record's key and
    the id's key."""

    path: str
    list_key: str
    detail_key: str
    id_key: str


#: The OAuth scope each resource's list and detail need (Zoho's ``ZohoInvoice.<area>.READ``;
#: items live in the settings area, recurring invoices in the invoices area: docs/zoho/scopes.md).
#: A connection whose grant lacks one syncs the others; that resource's state names the scope.
READ_SCOPES: dict[ResourceName, str] = {
    "invoices": "ZohoInvoice.invoices.READ",
    "contacts": "ZohoInvoice.contacts.READ",
    "items": "ZohoInvoice.settings.READ",
    "estimates": "ZohoInvoice.estimates.READ",
    "customer_payments": "ZohoInvoice.customerpayments.READ",
    "credit_notes": "ZohoInvoice.creditnotes.READ",
    "recurring_invoices": "ZohoInvoice.invoices.READ",
}
assert set(READ_SCOPES) == set(RESOURCES)

ENDPOINTS: dict[ResourceName, _Endpoint] = {
    "invoices": _Endpoint("/invoices", "invoices", "invoice", "invoice_id"),
    "contacts": _Endpoint("/contacts", "contacts", "contact", "contact_id"),
    "items": _Endpoint("/items", "items", "item", "item_id"),
    "estimates": _Endpoint("/estimates", "estimates", "estimate", "estimate_id"),
    "customer_payments": _Endpoint(
        "/customerpayments", "customerpayments", "payment", "payment_id"
    ),
    "credit_notes": _Endpoint("/creditnotes", "creditnotes", "creditnote", "creditnote_id"),
    "recurring_invoices": _Endpoint(
        "/recurringinvoices", "recurring_invoices", "recurring_invoice", "recurring_invoice_id"
    ),
}


class ClientFactory(Protocol):
    """Builds the Invoice API client a sync uses for ``(connection_id, organization_id)``.

    The default is ``ZohoInvoice.for_connection(manager, connection_id, organization_id,
    budget=SyncShareBudget(...))``. Tests pass one whose ``http_client`` reaches the sandbox (and
    may fail at a chosen call, to show a crash anywhere converges). The mirror closes the client
    after the run.
    """

    def __call__(self, connection_id: str, organization_id: str) -> ZohoInvoice: ...


class _QuotaStop(Exception):
    """The sync's share of the daily quota is spent: stop cleanly, resume after the reset."""

    def __init__(self, resets_at: datetime | None) -> None:
        super().__init__("the sync's share of the daily quota is spent")
        self.resets_at = resets_at


def zoho_timestamp(moment: datetime, tz_offset: str | None) -> str:
    """``moment`` as Zoho writes times (``2016-06-11T17:38:06-0700``): whole seconds, in the
    organization's UTC offset (``tz_offset`` as Zoho's own timestamps carry it; UTC if unknown)."""
    zone: timezone = UTC
    match = _OFFSET.search(tz_offset or "")
    if match:
        sign = -1 if match.group(1) == "-" else 1
        zone = timezone(sign * timedelta(hours=int(match.group(2)), minutes=int(match.group(3))))
    return moment.astimezone(zone).strftime("%Y-%m-%dT%H:%M:%S%z")


def filter_value(cursor: datetime, tz_offset: str | None) -> str:
    """The ``last_modified_time=`` value that keeps everything modified *at or after* the
    cursor's second: Zoho keeps what is strictly after the value, to the second, so the value
    is one second before the cursor's second."""
    second = cursor.astimezone(UTC).replace(microsecond=0)
    return zoho_timestamp(second - timedelta(seconds=1), tz_offset)


def _offset_of(rows: Sequence[dict[str, Any]]) -> str | None:
    for row in rows:
        stamp = row.get("last_modified_time") or row.get("created_time")
        if isinstance(stamp, str):
            match = _OFFSET.search(stamp.strip())
            if match:
                return f"{match.group(1)}{match.group(2)}{match.group(3)}"
    return None


@dataclass
class _Tally:
    """What one run did to one resource (becomes its ``ResourceReport``)."""

    added: int = 0
    updated: int = 0
    deleted: int = 0
    list_calls: int = 0
    detail_calls: int = 0
    reconcile_calls: int = 0
    reconciled: bool = False


class Mirror:
    """A connection's Zoho data kept in the vault's database (tables ``zoho_<resource>``).

    >>> mirror = Mirror(vault, manager)
    >>> report = mirror.sync(connection_id)                 # incremental, every resource
    >>> report.added, report.updated, report.deleted
    >>> for change in mirror.changes(connection_id, since=last_seq):
    ...     print(change.seq, change.resource, change.id, change.kind)

    ``manager`` (a ``TokenManager``) gives the default client factory its tokens; pass
    ``client_factory`` instead to choose the transport and budget. ``clock`` (epoch seconds) is the
    window's and the rows' time.
    """

    def __init__(
        self,
        vault: Vault,
        manager: TokenManager | None = None,
        *,
        client_factory: ClientFactory | None = None,
        settings: MirrorSettings | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if client_factory is None and manager is None:
            raise MirrorError("give the mirror a token manager or a client_factory")
        self._vault = vault
        self._manager = manager
        self._factory = client_factory
        self._settings = settings or MirrorSettings()
        self._clock = clock
        self._store = MirrorStore(vault.engine, clock=clock)

    @property
    def settings(self) -> MirrorSettings:
        return self._settings

    @property
    def store(self) -> MirrorStore:
        """The tables this mirror writes (``vault.mirror`` on the same database)."""
        return self._store

    def _client(self, connection_id: str, organization_id: str) -> ZohoInvoice:
        if self._factory is not None:
            return self._factory(connection_id, organization_id)
        assert self._manager is not None
        settings = self._settings
        budget = SyncShareBudget(
            default_budget(),
            share=settings.share,
            rate=settings.per_minute,
            window=settings.window,
        )
        return ZohoInvoice.for_connection(
            self._manager, connection_id, organization_id, budget=budget
        )

    def _organization(self, connection_id: str) -> str:
        connection = self._vault.connections.get(connection_id)
        if not connection.organization_id:
            raise MirrorError(
                "the connection has no organization bound yet; choose one before syncing"
            )
        return connection.organization_id

    def sync(
        self,
        connection_id: str,
        *,
        resources: Iterable[ResourceName] | None = None,
        full: bool = False,
        reconcile: bool = False,
        progress: ProgressCallback | None = None,
    ) -> SyncReport:
        """Bring the mirror of ``connection_id`` (its bound organization) up to date.

        ``resources``: a subset (default all seven). ``full``: forget the cursors and list
        everything again (details are still read only for records that changed; a full listing
        finds deletes as a reconciliation does). ``reconcile``: also run the deletes pass now
        (it also runs when ``settings.reconcile_every`` has passed since the last one, or after
        a resumed listing). ``progress`` is called after each page and each detail read.

        Returns ``already_running`` at once when another sync holds the connection's lease;
        ``quota_exhausted`` when it stopped at the quota share (resumes from its checkpoint next
        time). Raises ``ConnectionNotFoundError``, ``ReauthorizationRequired``, ``MirrorError``
        (no organization bound, an unknown resource) and the client's ``APIError`` s (the error
        is stored in the resource's status first; the checkpoint keeps what was done).
        """
        chosen = _resources(resources)
        organization_id = self._organization(connection_id)
        started = self._now()
        lease = self._store.acquire_lease(connection_id, seconds=self._settings.lease_seconds)
        if lease is None:
            return SyncReport(
                connection_id, organization_id, "already_running", started, self._now()
            )
        reports: list[ResourceReport] = []
        outcome: Any = "completed"
        resumes_at: datetime | None = None
        try:
            client = self._client(connection_id, organization_id)
            try:
                for resource in chosen:
                    run = _ResourceRun(
                        self, client, lease, organization_id, resource, progress=progress
                    )
                    try:
                        run.run(full=full, reconcile=reconcile)
                    except _QuotaStop as stop:
                        outcome, resumes_at = "quota_exhausted", stop.resets_at
                        run.stopped(None)
                        reports.append(run.report(complete=False))
                        break
                    except StaleWriteError:
                        raise
                    except (MissingScopeError, PermissionDeniedError) as exc:
                        # Zoho refuses this resource to this connection (a scope its grant
                        # lacks, or the user's role): the others are still synced.
                        scope = None
                        if isinstance(exc, MissingScopeError):
                            scope = READ_SCOPES[resource]
                        said = f"{type(exc).__name__}: {redact(exc.message)}"
                        error = said if scope is None else missing_scope_error(scope, said)
                        run.stopped(error)
                        reports.append(run.report(complete=False, error=error, missing_scope=scope))
                        continue
                    except Exception as exc:
                        run.stopped(f"{type(exc).__name__}: {redact(str(exc))}")
                        raise
                    reports.append(run.report(complete=True))
            finally:
                client.close()
        finally:
            self._store.release_lease(lease)
        return SyncReport(
            connection_id,
            organization_id,
            outcome,
            started,
            self._now(),
            tuple(reports),
            resumes_at,
        )

    def status(self, connection_id: str) -> SyncStatus:
        """Each resource's stored state for the connection's bound organization, and whether a
        sync holds the lease now."""
        connection = self._vault.connections.get(connection_id)
        organization_id = connection.organization_id
        running = self._store.lease_held(connection_id)
        if organization_id is None:
            return SyncStatus(connection_id, None, running)
        states = {s.resource: s for s in self._store.states(connection_id, organization_id)}
        resources = tuple(
            self._resource_status(states.get(r) or SyncState(connection_id, organization_id, r), r)
            for r in RESOURCES
        )
        return SyncStatus(connection_id, organization_id, running, resources)

    def _resource_status(self, state: SyncState, resource: ResourceName) -> ResourceStatus:
        store = self._store
        return ResourceStatus(
            resource=resource,
            cursor=state.cursor,
            last_run_at=state.last_run_at,
            last_success_at=state.last_success_at,
            last_reconciled_at=state.last_reconciled_at,
            added=state.added,
            updated=state.updated,
            deleted=state.deleted,
            error=state.error,
            # The checkpoint is a row (pages vary in size): shown as the page of that row.
            resume_page=None
            if state.run_page is None
            else (state.run_page - 1) // self._settings.per_page + 1
            if state.run_page > 0
            else 0,
            backlog=store.backlog_count(state.connection_id, state.organization_id, resource),
            rows=store.count(state.connection_id, state.organization_id, resource),
        )

    def changes(self, connection_id: str, *, since: int = 0, limit: int = 1000) -> list[Change]:
        """Changes of the mirror with ``seq > since``, oldest first, at most ``limit``."""
        return [
            Change(
                seq=c.seq,
                connection_id=c.connection_id,
                organization_id=c.organization_id,
                resource=_resource_name(c.resource),
                id=c.id,
                kind="added"
                if c.kind == "added"
                else "deleted"
                if c.kind == "deleted"
                else "updated",
                at=c.at,
            )
            for c in self._store.changes(connection_id, since=since, limit=limit)
        ]

    def records(
        self,
        connection_id: str,
        resource: ResourceName,
        *,
        organization_id: str | None = None,
        include_deleted: bool = False,
        limit: int = 100,
        offset: int = 0,
    ) -> list[MirroredRecord]:
        """Mirrored rows of one resource, newest ``created_time`` first (the bound organization's
        unless ``organization_id`` is given): what a dashboard shows without calling Zoho."""
        (name,) = _resources([resource])
        org = organization_id or self._organization(connection_id)
        return [
            MirroredRecord(
                resource=name,
                connection_id=r.connection_id,
                organization_id=r.organization_id,
                id=r.id,
                last_modified_time=r.last_modified_time,
                level="detail" if r.level == "detail" else "list",
                data=r.data,
                synced_at=r.synced_at,
                detail_read_at=r.detail_read_at,
                deleted_at=r.deleted_at,
            )
            for r in self._store.records(
                connection_id,
                org,
                name,
                include_deleted=include_deleted,
                limit=limit,
                offset=offset,
            )
        ]

    def count(
        self,
        connection_id: str,
        resource: ResourceName,
        *,
        organization_id: str | None = None,
        include_deleted: bool = False,
    ) -> int:
        """How many rows ``records`` would page through."""
        (name,) = _resources([resource])
        org = organization_id or self._organization(connection_id)
        return self._store.count(connection_id, org, name, include_deleted=include_deleted)

    def purge(self, connection_id: str) -> int:
        """Delete every mirrored row, sync state and change of the connection (every
        organization); returns the number of rows removed. ``disconnect --purge``."""
        return self._store.purge(connection_id)

    def organizations(self, connection_id: str) -> Sequence[str]:
        """The organizations the connection has a mirror of (after a rebinding, more than one)."""
        return self._store.organizations(connection_id)

    def _now(self) -> datetime:
        return datetime.fromtimestamp(self._clock(), UTC)


def _change_kind(kind: str) -> ChangeKind:
    if kind == "added":
        return "added"
    return "deleted" if kind == "deleted" else "updated"


def _resources(resources: Iterable[str] | None) -> tuple[ResourceName, ...]:
    """The resources to sync, in ``SYNC_ORDER``."""
    if resources is None:
        return SYNC_ORDER
    chosen = {_resource_name(name) for name in resources}
    return tuple(r for r in SYNC_ORDER if r in chosen)


def _resource_name(name: str) -> ResourceName:
    for resource in RESOURCES:
        if resource == name:
            return resource
    raise MirrorError(f"unknown resource {name!r}; one of: {', '.join(RESOURCES)}")


def _aligned_read(covered: int, per_page: int) -> tuple[int, int]:
    """``(page, per_page)`` of the aligned page that holds row ``covered`` (0-based): the
    reads of the minimum, one page after another (a resumed listing continues this way)."""
    return covered // per_page + 1, per_page


#: The largest page Zoho answers.
_MAX_PER_PAGE = 200


def _overlapping_read(covered: int, back: int, per_page: int) -> tuple[int, int]:
    """``(page, size)`` of the read that starts at or before row ``covered - back`` (0-based)
    and reaches furthest past ``covered``: Zoho reads ``size`` rows from ``(page - 1) *
    size``, so a size a little under ``per_page`` puts a read's start just before the rows
    already read (most often by one to a few rows).

    Stepping back (``back > 1``, after a read found no anchor) the read need not reach past
    ``covered``: it looks for an anchor further back. Otherwise, when every size from
    ``per_page // 2`` to ``per_page`` divides ``covered`` (none can then both overlap and
    reach past it: with Zoho's 200 never in practice, the least such row being the least
    common multiple of 100..200; with a test's tiny pages, rows like 6 for 3 a page), the
    smallest larger size that does not divide it (Zoho answers up to 200)."""
    limit = max(0, covered - back)
    best = (0, 1, per_page)  # (reach, page, size)
    for size in range(per_page, max(1, per_page // 2) - 1, -1):
        page = limit // size + 1
        if page * size > best[0]:
            best = (page * size, page, size)
    if back <= 1 and best[0] <= covered:
        for size in range(per_page + 1, _MAX_PER_PAGE + 1):
            if covered % size:
                return limit // size + 1, size
    return best[1], best[2]


class _ResourceRun:
    """One resource of one sync: its window(s), its detail backlog, its reconciliation."""

    def __init__(
        self,
        mirror: Mirror,
        client: ZohoInvoice,
        lease: MirrorLease,
        organization_id: str,
        resource: ResourceName,
        *,
        progress: ProgressCallback | None,
    ) -> None:
        self.mirror = mirror
        self.settings = mirror.settings
        self.store = mirror.store
        self.client = client
        self.lease = lease
        self.organization_id = organization_id
        self.resource = resource
        self.endpoint = ENDPOINTS[resource]
        self.progress = progress
        self.tally = _Tally()
        self.state = self.store.state(lease.connection_id, organization_id, resource)

    # -- the run --------------------------------------------------------------------------

    def run(self, *, full: bool, reconcile: bool) -> None:
        fresh = full or self.state.run_page is None
        if fresh:
            self._start_window(None if full else self.state.cursor)
        else:
            self.state = self.store.resume_window(self.lease, self.organization_id, self.resource)
        while True:
            self._window()
            if fresh:
                break
            # The window was a stopped run's: its start is in the past; read the present too.
            fresh = True
            self._start_window(self.state.cursor)
        if self.tally.reconciled:
            return
        if reconcile or self.state.needs_reconcile or self._reconcile_due():
            self._reconcile()
            self._drain()

    def _start_window(self, cursor: datetime | None) -> None:
        self.state = self.store.start_window(
            self.lease,
            self.organization_id,
            self.resource,
            cursor=cursor,
            started_at=self.mirror._now(),
        )

    def _window(self) -> None:
        """List the window from its checkpoint, read the details it left, move the cursor.

        The checkpoint is the next row (counted from 1). With ``anchor_pages`` every read after
        the first starts at or before the last row read and is accepted only when it holds a
        record an accepted read of this run held; otherwise it is read again from further back
        (the module docstring argues why nothing is then skipped)."""
        state = self.state
        next_row = state.run_page or 0
        full_pass = state.run_cursor is None and next_row == 1
        seen: set[str] | None = set() if full_pass else None
        anchored = self.settings.anchor_pages
        # Ids an accepted read of this run listed (none after a resume: such a window is
        # reconciled when it completes, whatever happened in the gap).
        read: set[str] = set()
        back = 1
        while next_row > 0:
            covered = next_row - 1
            overlap = anchored and bool(read)
            page, per_page = (
                _overlapping_read(covered, back, self.settings.per_page)
                if overlap
                else _aligned_read(covered, self.settings.per_page)
            )
            rows, more = self._list_page(page, state.run_cursor, per_page, phase="list")
            ids = self._ids(rows)
            start = (page - 1) * per_page
            if overlap and start > 0 and not ids & read:
                # Rows before the reading position were deleted meanwhile and shifted the
                # rest toward the front: read again from further back.
                back = min(covered, back * 2 + per_page)
                continue
            back = 1
            read = ids if anchored else read
            next_row = start + len(rows) + 1 if more else 0
            written = self.store.write_list_page(
                self.lease,
                self.organization_id,
                self.resource,
                rows,
                next_page=next_row,
                tz_offset=_offset_of(rows),
                reread_within=self.settings.clock_skew,
            )
            self.tally.added += written.added
            self.tally.updated += written.updated
            if seen is not None:
                seen.update(ids)
        self._drain()
        if seen is not None:
            # A full listing read every record: what the mirror holds beyond it is confirmed
            # gone or re-read, as a reconciliation does, at no extra list call.
            self._confirm_missing(seen)
            self.store.reconciled(
                self.lease, self.organization_id, self.resource, at=self._window_start()
            )
            self.tally.reconciled = True
        assert state.run_started_at is not None
        cursor = state.run_started_at - timedelta(seconds=self.settings.overlap)
        self.state = self.store.complete_window(
            self.lease,
            self.organization_id,
            self.resource,
            cursor=cursor,
            added=self.tally.added,
            updated=self.tally.updated,
            deleted=self.tally.deleted,
        )

    def _window_start(self) -> datetime:
        return self.state.run_started_at or self.mirror._now()

    def _reconcile_due(self) -> bool:
        every = self.settings.reconcile_every
        if every is None:
            return False
        last = self.state.last_reconciled_at
        return last is None or self.mirror._now() - last >= timedelta(seconds=every)

    def _reconcile(self) -> None:
        """Rule 3: every page (ids and ``last_modified_time``); rows whose time differs are
        upserted (to be re-read), rows Zoho no longer lists are confirmed and marked."""
        started = self.mirror._now()
        seen: set[str] = set()
        page = 1
        while True:
            rows, more = self._list_page(page, None, self.settings.per_page, phase="reconcile")
            written = self.store.write_list_page(
                self.lease,
                self.organization_id,
                self.resource,
                rows,
                next_page=None,
                reread_within=self.settings.clock_skew,
            )
            self.tally.added += written.added
            self.tally.updated += written.updated
            seen.update(self._ids(rows))
            if not more:
                break
            page += 1
        self._confirm_missing(seen)
        self.store.reconciled(self.lease, self.organization_id, self.resource, at=started)
        self.tally.reconciled = True

    def _confirm_missing(self, seen: set[str]) -> None:
        """Rows the mirror holds live that a complete listing did not show: Zoho is asked for
        each; "does not exist" marks it deleted, an answer stores it (a concurrent delete
        pushed it across a page boundary: it is not gone)."""
        live = self.store.live_ids(self.lease.connection_id, self.organization_id, self.resource)
        gone: list[str] = []
        for record_id in sorted(live - seen):
            record = self._detail(record_id, phase="reconcile")
            if record is None:
                gone.append(record_id)
        self.tally.deleted += self.store.mark_deleted(
            self.lease, self.organization_id, self.resource, gone
        )

    def _drain(self) -> None:
        """Rule 2: read the detail of every row held at level ``list``, oldest change first."""
        tried: set[str] = set()
        total = (
            None
            if self.progress is None
            else self.store.backlog_count(
                self.lease.connection_id, self.organization_id, self.resource
            )
        )
        done = 0
        while True:
            batch = [
                i
                for i in self.store.backlog(
                    self.lease.connection_id,
                    self.organization_id,
                    self.resource,
                    limit=_BACKLOG_BATCH + len(tried),
                )
                if i not in tried
            ]
            if not batch:
                return
            for record_id in batch[:_BACKLOG_BATCH]:
                tried.add(record_id)
                record = self._detail(record_id, phase="detail")
                if record is None:
                    self.tally.deleted += self.store.mark_deleted(
                        self.lease, self.organization_id, self.resource, [record_id]
                    )
                done += 1
                self._report("detail", done, total)

    # -- calls ----------------------------------------------------------------------------

    def _guard(self) -> None:
        """Rule 4: stop before this call would take the organization's daily quota below the
        part the sync leaves to others."""
        status = self.client.rate_limit
        if status is None or status.limit <= 0:
            return
        reserve = (1 - self.settings.share) * status.limit
        if status.remaining <= reserve:
            raise _QuotaStop(status.resets_at)

    def _call(self, path: str, params: dict[str, Any] | None) -> dict[str, Any]:
        try:
            return self.client.request("GET", path, params=params)
        except DailyQuotaExceeded as exc:
            raise _QuotaStop(exc.resets_at) from exc

    def _list_page(
        self, page: int, cursor: datetime | None, per_page: int, *, phase: SyncPhase
    ) -> tuple[list[dict[str, Any]], bool]:
        params: dict[str, Any] = {"page": page, "per_page": per_page}
        if cursor is not None:
            params["last_modified_time"] = filter_value(cursor, self.state.tz_offset)
        sort = self.state.sort_column
        if sort is None or sort:
            params.update(sort_column=sort or SORT_COLUMN, sort_order="A")
        try:
            body = self._count(phase, lambda: self._call(self.endpoint.path, params))
        except BadRequestError as exc:
            if sort is not None or "sort_column" not in str(exc):
                raise
            # This list does not sort by created_time: read it in its own order (the module
            # docstring says what that costs) and remember.
            self.store.set_sort_column(self.lease, self.organization_id, self.resource, "")
            self.state = self.store.state(
                self.lease.connection_id, self.organization_id, self.resource
            )
            return self._list_page(page, cursor, per_page, phase=phase)
        if sort is None:
            self.store.set_sort_column(self.lease, self.organization_id, self.resource, SORT_COLUMN)
            self.state = self.store.state(
                self.lease.connection_id, self.organization_id, self.resource
            )
        rows = [r for r in body.get(self.endpoint.list_key) or [] if isinstance(r, dict)]
        context = body.get("page_context")
        if isinstance(context, list) and context:
            context = context[0]
        more = bool(context.get("has_more_page")) if isinstance(context, dict) else False
        self._report(phase, page, None)
        return rows, more

    def _count(self, phase: SyncPhase, call: Callable[[], dict[str, Any]]) -> dict[str, Any]:
        """Make one call, guarded by the quota share and counted in its phase."""
        self._guard()
        if phase == "list":
            self.tally.list_calls += 1
        elif phase == "detail":
            self.tally.detail_calls += 1
        else:
            self.tally.reconcile_calls += 1
        return call()

    def _detail(self, record_id: str, *, phase: SyncPhase) -> dict[str, Any] | None:
        """Read and store one record's detail; ``None`` when Zoho says it does not exist."""
        path = f"{self.endpoint.path}/{record_id}"
        try:
            body = self._count(phase, lambda: self._call(path, None))
        except NotFoundError:
            return None
        record = body.get(self.endpoint.detail_key)
        if not isinstance(record, dict):
            raise MirrorError(f"Zoho's answer for one {self.resource} record had no record")
        written = self.store.write_detail(self.lease, self.organization_id, self.resource, record)
        self.tally.added += written.added
        self.tally.updated += written.updated
        return record

    def _ids(self, rows: Sequence[dict[str, Any]]) -> set[str]:
        key = self.endpoint.id_key
        return {str(r[key]) for r in rows if r.get(key) is not None}

    def _report(self, phase: SyncPhase, done: int, total: int | None) -> None:
        if self.progress is not None:
            self.progress(
                SyncProgress(
                    self.lease.connection_id,
                    self.organization_id,
                    self.resource,
                    phase,
                    done,
                    total,
                )
            )

    # -- the end --------------------------------------------------------------------------

    def stopped(self, error: str | None) -> None:
        """The run stopped before it completed: keep its counts and why (the checkpoint is
        already stored). A lease taken over meanwhile leaves the state to the new holder."""
        try:
            self.store.record_run(
                self.lease,
                self.organization_id,
                self.resource,
                added=self.tally.added,
                updated=self.tally.updated,
                deleted=self.tally.deleted,
                error=error,
            )
        except StaleWriteError:
            logger.warning("sync of %s stopped after its lease was taken over", self.resource)

    def report(
        self, *, complete: bool, error: str | None = None, missing_scope: str | None = None
    ) -> ResourceReport:
        t = self.tally
        backlog = self.store.backlog_count(
            self.lease.connection_id, self.organization_id, self.resource
        )
        return ResourceReport(
            resource=self.resource,
            added=t.added,
            updated=t.updated,
            deleted=t.deleted,
            list_calls=t.list_calls,
            detail_calls=t.detail_calls,
            reconcile_calls=t.reconcile_calls,
            backlog=backlog,
            cursor=self.state.cursor,
            complete=complete and backlog == 0,
            reconciled=t.reconciled,
            error=error,
            missing_scope=missing_scope,
        )
