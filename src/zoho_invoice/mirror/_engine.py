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
2. pages that one filtered set by offset (``page=1, 2, ...``, 200 a page) sorted by
   ``created_time`` ascending (a column every list sorts by), upserting each page and
   checkpointing (the page reached, the window) in the same transaction;
3. when the last page is read and the detail backlog is empty, moves the cursor to
   ``start - overlap`` (never to the largest ``last_modified_time`` seen: a record edited early in
   the run and inserted behind the reading position has a smaller one than a record edited later
   and read).

Offset paging while the set changes. Order by ``created_time`` ascending is stable under every
change but one:

- an *edit* never moves a record that is in the filtered set (its ``created_time`` does not
  change); an edit of a record outside the set (older than the window) *adds* it at its
  ``created_time`` place, which shifts later records one place right: we may read one record twice
  (upserts are idempotent), never skip one. The added record itself has
  ``last_modified_time >= start``: if this run does not read it, the next run's window (which
  begins ``overlap`` before ``start``) does;
- a *create* lands at the end (newest ``created_time``): read by this run or the next;
- a *delete* of a record before the reading position shifts later records one place left: the
  record that was first on the next page becomes last on the page already read. This is the one
  way offset paging can skip, and only across a page boundary of a multi-page run (steady state is
  one page: no boundary). Such a record is not lost: the reconciliation (rule 3) reads every
  record's id *and* ``last_modified_time`` and fetches whatever the mirror does not hold at that
  time; a run whose listing was interrupted (a crash, the quota) and resumed later - an unbounded
  gap between two pages - schedules that reconciliation for its next sync; others get it by
  schedule (daily).

A crash at any point: rows and the checkpoint commit together per page, upserts are keyed on
(connection, organization, id) and compare ``last_modified_time``, so a re-run converges.

Rule 2, detail only for what changed: a list row whose ``last_modified_time`` differs from the one
the row's detail was read at is stored at level ``list`` (its list fields); the backlog is exactly
those rows, drained by ``GET /<resource>/{id}`` within the sync's quota share, oldest change
first, and resumed by the next run after the reset. Steady state after k edits: 1 list call + k
detail calls per resource.

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

import time
from collections.abc import Callable, Iterable, Sequence
from typing import Protocol

from ..api import ZohoInvoice
from ..tokens import TokenManager
from ..vault import Vault
from ._types import (
    Change,
    MirroredRecord,
    MirrorSettings,
    ProgressCallback,
    ResourceName,
    SyncReport,
    SyncStatus,
)

__all__ = ["ClientFactory", "Mirror"]


class ClientFactory(Protocol):
    """Builds the Invoice API client a sync uses for ``(connection_id, organization_id)``.

    The default is ``ZohoInvoice.for_connection(manager, connection_id, organization_id,
    budget=SyncShareBudget(...))``. Tests pass one whose ``http_client`` reaches the sandbox (and
    may fail at a chosen call, to show a crash anywhere converges); the caller closes nothing: the
    mirror closes the client after the run.
    """

    def __call__(self, connection_id: str, organization_id: str) -> ZohoInvoice: ...


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
        raise NotImplementedError

    @property
    def settings(self) -> MirrorSettings:
        raise NotImplementedError

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
        everything again (details are still read only for records that changed). ``reconcile``:
        also run the deletes pass now (it also runs when ``settings.reconcile_every`` has passed
        since the last one, or after a resumed listing). ``progress`` is called after each page and
        each detail read.

        Returns ``already_running`` at once when another sync holds the connection's lease;
        ``quota_exhausted`` when it stopped at the quota share (resumes from its checkpoint next
        time). Raises ``ConnectionNotFoundError``, ``ReauthorizationRequired``, ``MirrorError``
        (no organization bound) and the client's ``APIError`` s (the error is stored in the
        resource's status first; the checkpoint keeps what was done).
        """
        raise NotImplementedError

    def status(self, connection_id: str) -> SyncStatus:
        """Each resource's stored state for the connection's bound organization, and whether a
        sync holds the lease now."""
        raise NotImplementedError

    def changes(self, connection_id: str, *, since: int = 0, limit: int = 1000) -> list[Change]:
        """Changes of the mirror with ``seq > since``, oldest first, at most ``limit``."""
        raise NotImplementedError

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
        raise NotImplementedError

    def count(
        self,
        connection_id: str,
        resource: ResourceName,
        *,
        organization_id: str | None = None,
        include_deleted: bool = False,
    ) -> int:
        """How many rows ``records`` would page through."""
        raise NotImplementedError

    def purge(self, connection_id: str) -> int:
        """Delete every mirrored row, sync state and change of the connection (every
        organization); returns the number of rows removed. ``disconnect --purge``."""
        raise NotImplementedError

    def organizations(self, connection_id: str) -> Sequence[str]:
        """The organizations the connection has a mirror of (after a rebinding, more than one)."""
        raise NotImplementedError
