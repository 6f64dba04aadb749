"""The mirror's rounds: which connections to sync now and what to announce after, shared by
``zoho-invoice worker --sync-every``, the JSON API and the workflow-webhook trigger.

A connection is due when it is active, has an organization bound, and either its oldest
resource last ran ``every`` seconds ago or more (or never), or a workflow webhook asked for it
(``SyncTriggers.take_due``, debounced). Each sync that did something ends with a
``sync.completed`` event carrying the counts (``added``, ``updated``, ``deleted``); one that found
another sync running announces nothing. A failing connection is logged (its error is already in
its status, for ``GET /api/connections/{id}/sync``) and the round goes on with the others.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable

from .._exceptions import ZohoError
from ..tokens import ConnectionEvent, EventSink
from ..vault import Connection, Vault
from ..vault._sync_triggers import SyncTriggers
from ._engine import Mirror
from ._types import ProgressCallback, ResourceName, SyncReport

__all__ = ["SyncRounds", "completed_event", "parse_interval"]

logger = logging.getLogger("zoho_invoice.mirror")

_UNITS = {"s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}


def parse_interval(text: str) -> float:
    """Seconds of ``"15m"``, ``"90s"``, ``"2h"``, ``"1d"`` or a plain number of seconds;
    ValueError otherwise (or under a minute: a sync every few seconds would spend the budget on
    empty lists)."""
    raw = text.strip().lower()
    unit = _UNITS.get(raw[-1:]) if raw else None
    number = raw[:-1] if unit is not None else raw
    try:
        seconds = float(number) * (unit or 1.0)
    except ValueError:
        raise ValueError(f"not a duration: {text!r} (examples: 15m, 90s, 2h)") from None
    if not seconds >= 60:
        raise ValueError(f"a sync interval of at least a minute, not {text!r}")
    return seconds


def completed_event(connection: Connection, report: SyncReport) -> ConnectionEvent:
    """The ``sync.completed`` event of a finished sync: its outcome as the reason, the counts,
    and the resources it could not read (a scope the connection's grant lacks) with why."""
    return ConnectionEvent(
        type="sync.completed",
        connection_id=connection.id,
        owner=connection.owner,
        at=report.finished_at,
        reason=report.outcome,
        counts={"added": report.added, "updated": report.updated, "deleted": report.deleted},
        errors=report.errors or None,
    )


class SyncRounds:
    """Runs due syncs one after another (a sync of one connection is already once across the
    fleet: the mirror's lease). ``every=None``: only syncs a trigger asked for."""

    def __init__(
        self,
        mirror: Mirror,
        vault: Vault,
        *,
        every: float | None,
        triggers: SyncTriggers | None = None,
        events: EventSink | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.mirror = mirror
        self.vault = vault
        self.every = every
        self.triggers = triggers
        self.events = events
        self._clock = clock

    def due(self) -> list[str]:
        """The connections to sync now: triggered ones first, then those ``every`` old."""
        wanted: list[str] = list(self.triggers.take_due()) if self.triggers else []
        if self.every is None:
            return wanted
        now = self._clock()
        for connection in self.vault.list_connections():
            if connection.id in wanted or not self._syncable(connection):
                continue
            status = self.mirror.status(connection.id)
            runs = [r.last_run_at for r in status.resources]
            if status.running:
                continue
            if not runs or any(run is None for run in runs):
                wanted.append(connection.id)
                continue
            oldest = min(run for run in runs if run is not None)
            if now - oldest.timestamp() >= self.every:
                wanted.append(connection.id)
        return wanted

    @staticmethod
    def _syncable(connection: Connection) -> bool:
        return connection.status == "active" and connection.organization_id is not None

    def run(
        self,
        connection_id: str,
        *,
        resources: Iterable[ResourceName] | None = None,
        full: bool = False,
        reconcile: bool = False,
        progress: ProgressCallback | None = None,
    ) -> SyncReport:
        """One sync, then its ``sync.completed`` event (not for ``already_running``). Errors
        reach the caller (the mirror has stored them in the resource's status first)."""
        report = self.mirror.sync(
            connection_id, resources=resources, full=full, reconcile=reconcile, progress=progress
        )
        if report.outcome != "already_running":
            self.announce(report)
        return report

    def announce(self, report: SyncReport) -> None:
        """Emit ``sync.completed`` for ``report`` (a sink that fails is logged, never raised:
        the sync's data is committed whatever happens to its announcement)."""
        if self.events is None:
            return
        try:
            connection = self.vault.get_connection(report.connection_id)
            self.events(completed_event(connection, report))
        except Exception:  # the sink is the app's; a failure must not undo a sync
            logger.warning("sync.completed for connection %s was not queued", report.connection_id)

    def round(self) -> list[SyncReport]:
        """Sync every due connection once; a failure is logged and the round goes on."""
        reports: list[SyncReport] = []
        for connection_id in self.due():
            try:
                reports.append(self.run(connection_id))
            except ZohoError as exc:
                logger.warning(
                    "sync of connection %s failed (%s); its status holds the error",
                    connection_id,
                    type(exc).__name__,
                )
        return reports
