"""The mirror's public values: which resources it keeps, its settings, what a sync reports while it
runs and when it ends, the per-resource status, and one entry of the change feed.

Plain frozen dataclasses (no I/O), so the CLI, the JSON API, the worker and the dashboard can show
them without knowing the engine; ``to_json()`` is the one JSON view of each.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal, get_args

__all__ = [
    "RESOURCES",
    "Change",
    "ChangeKind",
    "MirrorSettings",
    "MirroredRecord",
    "ProgressCallback",
    "ResourceName",
    "ResourceReport",
    "ResourceStatus",
    "SyncOutcome",
    "SyncPhase",
    "SyncProgress",
    "SyncReport",
    "SyncStatus",
    "missing_scope_error",
]

#: The resources a mirror keeps, each in its table ``zoho_<name>``.
ResourceName = Literal[
    "invoices",
    "contacts",
    "items",
    "estimates",
    "customer_payments",
    "credit_notes",
    "recurring_invoices",
]
RESOURCES: tuple[ResourceName, ...] = get_args(ResourceName)

#: ``completed``: the run went through every asked resource; each is current (its cursor moved,
#: its detail backlog empty) unless its report carries an ``error`` (a resource Zoho refuses to
#: this connection, e.g. a scope its grant lacks: the other resources still synced);
#: ``quota_exhausted``: stopped cleanly before the sync's share of the daily quota ran out, the
#: checkpoint and backlog kept, ``resumes_at`` says when the quota is renewed;
#: ``already_running``: another process (or thread) holds this connection's sync lease, nothing
#: was done (rule 5).
SyncOutcome = Literal["completed", "quota_exhausted", "already_running"]
#: ``list``: list pages (list fields of every changed record); ``detail``: the records whose
#: ``last_modified_time`` moved since their detail was read; ``reconcile``: the ids-only pass
#: that finds deletes.
SyncPhase = Literal["list", "detail", "reconcile"]
ChangeKind = Literal["added", "updated", "deleted"]

#: How a resource's stored error starts when Zoho refused the connection's grant for it.
_MISSING_SCOPE = "missing scope "


def missing_scope_error(scope: str, detail: str) -> str:
    """The error a resource's state keeps when the connection's grant lacks ``scope``: the
    scope first (``ResourceStatus.missing_scope`` reads it back), then what Zoho said."""
    return f"{_MISSING_SCOPE}{scope}: reconnect asking for it ({detail})"


def _scope_in(error: str | None) -> str | None:
    if error is None or not error.startswith(_MISSING_SCOPE):
        return None
    return error[len(_MISSING_SCOPE) :].split(":", 1)[0] or None


@dataclass(frozen=True, slots=True)
class MirrorSettings:
    """How a mirror spends the organization's budget and how often it reconciles.

    - ``share`` (0 < share <= 1, default 0.5): the part of the per-minute budget *and* of the
      daily quota a sync may take (rule 4). Per minute: a sync takes at most
      ``share * per_minute`` permits in any ``window`` (they may go at once: a small sync is not
      paced by its share) before it draws from the organization's shared budget, so
      interactive calls always find the rest. Daily: a sync stops cleanly once Zoho's
      ``X-Rate-Limit-Remaining`` would fall to ``(1 - share) * limit``.
    - ``per_minute`` / ``window``: the organization's budget the share is taken of (the client's
      default budget: 90 a minute).
    - ``reconcile_every``: seconds between automatic reconciliations (rule 3; default a day);
      ``None``: only when asked (``reconcile=True``).
    - ``overlap``: seconds the next incremental run re-reads before the start of the last one
      (clock skew between Zoho and us; costs list rows, never detail calls).
    - ``clock_skew``: how far Zoho's clock may be from ours. A detail read less than
      ``1 s + clock_skew`` after the record's stamp may predate a second change stamped in the
      same second: when the record is listed again, its detail is read once more.
    - ``lease_seconds``: how long a sync lease lives without renewal (it is renewed at every
      checkpoint; a dead holder's lease frees itself after this).
    - ``per_page``: list page size (Zoho's maximum, 200).
    - ``anchor_pages`` (default ``True``): each list read after the first starts at or before
      the last row already read and must contain a record already read, else it steps back;
      so a record deleted while a multi-page run reads cannot push another across a page
      boundary (mirror/_engine.py argues it). It costs list calls only when a run spans more
      than one page (the steady state is one page): reads overlap by a few rows, about 2,000
      records in 11 list calls instead of 10, 10,000 in 55 instead of 50 (details, one per
      record, are the bulk of an initial sync: +0.05 %). ``False``: aligned pages, the
      minimum; such a record then waits for the next reconciliation.
    """

    share: float = 0.5
    per_minute: int = 90
    window: float = 60.0
    reconcile_every: float | None = 86_400.0
    overlap: float = 300.0
    clock_skew: float = 2.0
    lease_seconds: float = 120.0
    per_page: int = 200
    anchor_pages: bool = True

    def __post_init__(self) -> None:
        if not 0 < self.share <= 1:
            raise ValueError("share must be in (0, 1]")
        if self.per_minute < 1 or self.window <= 0:
            raise ValueError("per_minute and window must be positive")
        if not 1 <= self.per_page <= 200:
            raise ValueError("per_page must be 1..200")
        if self.overlap < 1 or self.lease_seconds <= 0 or self.clock_skew < 0:
            raise ValueError("overlap must be >= 1 s, lease_seconds positive, clock_skew >= 0")


@dataclass(frozen=True, slots=True)
class SyncProgress:
    """One step of a running sync, for a progress display (CLI's Rich bar, logs).

    ``done`` counts calls' worth of work in ``phase`` for ``resource``; ``total`` is known for the
    detail phase (the backlog) and unknown (``None``) while list pages are read."""

    connection_id: str
    organization_id: str
    resource: ResourceName
    phase: SyncPhase
    done: int
    total: int | None = None


ProgressCallback = Callable[[SyncProgress], None]


@dataclass(frozen=True, slots=True)
class ResourceReport:
    """What one sync did to one resource."""

    resource: ResourceName
    added: int = 0
    updated: int = 0
    deleted: int = 0
    #: list calls, detail calls and reconciliation calls this run spent on the resource
    list_calls: int = 0
    detail_calls: int = 0
    reconcile_calls: int = 0
    #: records still waiting for their detail (drained by the next run, after the quota's reset)
    backlog: int = 0
    #: the cursor after the run (``None``: no complete run yet)
    cursor: datetime | None = None
    #: the resource is current: listing finished and the detail backlog is empty
    complete: bool = False
    reconciled: bool = False
    #: why the resource could not be synced (``None``: it was); the other resources still ran
    error: str | None = None
    #: the OAuth scope the connection's grant lacks for it (``ZohoInvoice.creditnotes.READ``)
    missing_scope: str | None = None

    @property
    def calls(self) -> int:
        return self.list_calls + self.detail_calls + self.reconcile_calls

    def to_json(self) -> dict[str, Any]:
        return {
            "resource": self.resource,
            "added": self.added,
            "updated": self.updated,
            "deleted": self.deleted,
            "list_calls": self.list_calls,
            "detail_calls": self.detail_calls,
            "reconcile_calls": self.reconcile_calls,
            "backlog": self.backlog,
            "cursor": _iso(self.cursor),
            "complete": self.complete,
            "reconciled": self.reconciled,
            "error": self.error,
            "missing_scope": self.missing_scope,
        }


@dataclass(frozen=True, slots=True)
class SyncReport:
    """The result of ``Mirror.sync``: the outcome, and per resource what changed and what it cost.
    ``added`` / ``updated`` / ``deleted`` are the totals the ``sync.completed`` event carries."""

    connection_id: str
    organization_id: str
    outcome: SyncOutcome
    started_at: datetime
    finished_at: datetime
    resources: tuple[ResourceReport, ...] = ()
    #: when Zoho renews the daily quota (``quota_exhausted`` only, when Zoho said)
    resumes_at: datetime | None = None

    @property
    def added(self) -> int:
        return sum(r.added for r in self.resources)

    @property
    def updated(self) -> int:
        return sum(r.updated for r in self.resources)

    @property
    def deleted(self) -> int:
        return sum(r.deleted for r in self.resources)

    @property
    def calls(self) -> int:
        return sum(r.calls for r in self.resources)

    @property
    def errors(self) -> dict[str, str]:
        """The resources this run could not sync, and why (a missing scope names the scope)."""
        return {r.resource: r.error for r in self.resources if r.error is not None}

    def to_json(self) -> dict[str, Any]:
        return {
            "connection_id": self.connection_id,
            "organization_id": self.organization_id,
            "outcome": self.outcome,
            "started_at": _iso(self.started_at),
            "finished_at": _iso(self.finished_at),
            "added": self.added,
            "updated": self.updated,
            "deleted": self.deleted,
            "calls": self.calls,
            "resumes_at": _iso(self.resumes_at),
            "errors": self.errors,
            "resources": [r.to_json() for r in self.resources],
        }


@dataclass(frozen=True, slots=True)
class ResourceStatus:
    """The stored sync state of one resource of one (connection, organization)."""

    resource: ResourceName
    cursor: datetime | None = None
    last_run_at: datetime | None = None
    last_success_at: datetime | None = None
    last_reconciled_at: datetime | None = None
    #: counts of the last run
    added: int = 0
    updated: int = 0
    deleted: int = 0
    #: the last run's error (a class name and a redacted message), ``None`` after a success
    error: str | None = None
    #: a run stopped mid-listing will resume at this page (``None``: no run in progress)
    resume_page: int | None = None
    #: records waiting for their detail; rows (deleted ones excluded) held now
    backlog: int = 0
    rows: int = 0

    @property
    def missing_scope(self) -> str | None:
        """The scope the connection's grant lacks for this resource, when that is why its last
        run failed (reconnecting with it lets the next sync read it)."""
        return _scope_in(self.error)

    def to_json(self) -> dict[str, Any]:
        return {
            "resource": self.resource,
            "cursor": _iso(self.cursor),
            "last_run_at": _iso(self.last_run_at),
            "last_success_at": _iso(self.last_success_at),
            "last_reconciled_at": _iso(self.last_reconciled_at),
            "added": self.added,
            "updated": self.updated,
            "deleted": self.deleted,
            "error": self.error,
            "missing_scope": self.missing_scope,
            "resume_page": self.resume_page,
            "backlog": self.backlog,
            "rows": self.rows,
        }


@dataclass(frozen=True, slots=True)
class SyncStatus:
    """``Mirror.status``: the connection's bound organization, whether a sync holds the lease now,
    and each resource's state (the ``GET /api/connections/{id}/sync`` answer)."""

    connection_id: str
    organization_id: str | None
    running: bool
    resources: tuple[ResourceStatus, ...] = field(default=())

    @property
    def last_success_at(self) -> datetime | None:
        """When every resource was last current (the oldest of their last successes): what
        "synced N minutes ago" shows; ``None`` until each resource had a complete run. A
        resource the connection's grant lacks the scope for is left out (it cannot be synced
        until the user reconnects; its ``error`` says so)."""
        times = [r.last_success_at for r in self.resources if r.missing_scope is None]
        if not times or any(t is None for t in times):
            return None
        return min(t for t in times if t is not None)

    def to_json(self) -> dict[str, Any]:
        return {
            "connection_id": self.connection_id,
            "organization_id": self.organization_id,
            "running": self.running,
            "last_success_at": _iso(self.last_success_at),
            "resources": [r.to_json() for r in self.resources],
        }


@dataclass(frozen=True, slots=True)
class Change:
    """One entry of the change feed: a record of the mirror was added, updated (its
    ``last_modified_time`` moved) or deleted (marked by a reconciliation). ``seq`` increases
    monotonically across the whole feed: pass the last one seen as ``since=`` to resume."""

    seq: int
    connection_id: str
    organization_id: str
    resource: ResourceName
    id: str
    kind: ChangeKind
    at: datetime

    def to_json(self) -> dict[str, Any]:
        return {
            "seq": self.seq,
            "connection_id": self.connection_id,
            "organization_id": self.organization_id,
            "resource": self.resource,
            "id": self.id,
            "kind": self.kind,
            "at": _iso(self.at),
        }


@dataclass(frozen=True, slots=True)
class MirroredRecord:
    """One row of a mirror table as the library hands it out (``Mirror.records``).

    ``level`` says what ``data`` holds: ``"list"`` (the list answer's fields: no line items) or
    ``"detail"`` (the whole record as ``GET /<resource>/{id}`` answers it, read at
    ``detail_read_at``). ``deleted_at`` is set once a reconciliation found Zoho no longer has it.
    """

    resource: ResourceName
    connection_id: str
    organization_id: str
    id: str
    last_modified_time: datetime | None
    level: Literal["list", "detail"]
    data: dict[str, Any]
    synced_at: datetime
    detail_read_at: datetime | None = None
    deleted_at: datetime | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "resource": self.resource,
            "connection_id": self.connection_id,
            "organization_id": self.organization_id,
            "id": self.id,
            "last_modified_time": _iso(self.last_modified_time),
            "level": self.level,
            "data": self.data,
            "synced_at": _iso(self.synced_at),
            "detail_read_at": _iso(self.detail_read_at),
            "deleted_at": _iso(self.deleted_at),
        }


def _iso(moment: datetime | None) -> str | None:
    return None if moment is None else moment.isoformat()
