"""Background refresh: keep the tokens of connections in use warm, probe idle ones once a day.

``zoho-invoice worker`` runs ``refresh_due`` every cycle. It refreshes, through the manager (one
at a time per connection across processes, within Zoho's 10 tokens per 10 minutes):

- connections **in use** — a caller had a token within ``in_use_window`` (default 2 h, two
  token lifetimes), as recorded at a connect and by each refresh made on demand — whose token
  ends before the next cycle, so their callers rarely wait for Zoho;
- connections **idle** for longer, only once their last refresh is ``idle_probe_interval`` old
  (default a day): one refresh that proves the refresh token alive, or finds it dead early (the
  manager marks the connection ``needs_reauth`` and sends the event) before a user trips on it.

Everything else is left to the manager, which refreshes on demand when a caller asks. Both
questions are indexed queries read page by page (``vault/_refresh_schedule.py``), so a cycle
over 100,000 connections reads only what is due. The worker's own refreshes are stored with
``used=False`` (``WorkerVault``): keeping a token warm never makes a connection look in use.

``refresh_expiring`` is the policy before: every active connection whose token ends within the
leeway, idle or not (about 24 refreshes a day each); it stays for callers that want it.
"""

from __future__ import annotations

import itertools
import logging
import time
from collections.abc import Callable, Collection, Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from .._exceptions import ReauthorizationRequired, TokenUnavailableError, VaultError
from ..vault import Vault
from ._manager import TokenManager

__all__ = [
    "RefreshCycle",
    "RefreshRound",
    "WorkerPolicy",
    "WorkerVault",
    "refresh_due",
    "refresh_expiring",
]

logger = logging.getLogger("zoho_invoice.worker")


class ExpiringConnections(Protocol):
    def connections_expiring(self, before: float, *, limit: int = 100) -> list[str]: ...


class DueConnections(Protocol):
    """The worker's due queries (``zoho_invoice.vault.RefreshSchedule`` has them)."""

    def in_use_expiring(
        self, *, used_since: float, before: float, batch_size: int = 500
    ) -> Iterator[str]: ...
    def probes_due(
        self, *, probed_before: float, before: float, batch_size: int = 500
    ) -> Iterator[str]: ...


@dataclass(frozen=True)
class RefreshRound:
    """What one round did."""

    refreshed: int = 0
    needs_reauth: int = 0
    unavailable: int = 0


@dataclass(frozen=True)
class WorkerPolicy:
    """Which connections the worker refreshes (``ZOHO_IN_USE_WINDOW``,
    ``ZOHO_IDLE_PROBE_INTERVAL``; ``zoho-invoice worker --in-use-window --idle-probe-interval
    --probes-per-cycle``).

    ``probes_per_cycle`` caps the idle probes of one cycle, so a backlog (the first day after an
    upgrade, a restore) is spread over cycles instead of sent to Zoho at once; the default, 100
    every 10 s, can probe 864,000 connections a day.
    """

    in_use_window: float = 7200.0
    idle_probe_interval: float = 86400.0
    probes_per_cycle: int = 100
    batch_size: int = 500

    def __post_init__(self) -> None:
        if self.in_use_window <= 0 or self.idle_probe_interval <= 0:
            raise ValueError("in_use_window and idle_probe_interval must be positive")
        if self.probes_per_cycle < 0 or self.batch_size < 1:
            raise ValueError("probes_per_cycle must be >= 0 and batch_size >= 1")


@dataclass(frozen=True)
class RefreshCycle:
    """What one cycle did: in-use connections kept warm, idle ones probed, and how many of
    either turned out dead (``needs_reauth``) or could not be refreshed now (``unavailable``)."""

    kept_warm: int = 0
    probed: int = 0
    needs_reauth: int = 0
    unavailable: int = 0

    def __str__(self) -> str:
        return (
            f"kept warm {self.kept_warm}, probed {self.probed}, "
            f"needs_reauth {self.needs_reauth}, unavailable {self.unavailable}"
        )


class WorkerVault(Vault):
    """The vault as the worker's manager sees it: a refresh it stores is not use.

    >>> worker_vault = WorkerVault.view(vault)   # same engine and keys, no second pool
    """

    @classmethod
    def view(cls, vault: Vault, *, clock: Callable[[], float] = time.time) -> WorkerVault:
        return cls(vault.engine, vault.keyring, clock=clock)

    def store_refreshed(
        self,
        connection_id: str,
        /,
        *,
        expected_version: int,
        access_token: str,
        expires_at: datetime | float,
        refresh_token: str | None = None,
        used: bool = False,
    ) -> int:
        """As ``Vault.store_refreshed``, but recording no use unless told to."""
        return self.connections.store_refreshed(
            connection_id,
            expected_version=expected_version,
            access_token=access_token,
            expires_at=expires_at,
            refresh_token=refresh_token,
            used=used,
        )

    def record_use(self, connection_ids: Collection[str], at: datetime, /) -> int:
        """Nothing: the worker asking for a token (to keep it warm, or to probe) is not use,
        or every connection it touches would stay in use for ever. Returns 0 (no row moved)."""
        return 0


def _refresh_each(manager: TokenManager, connection_ids: Iterable[str]) -> tuple[int, int, int]:
    """Ask the manager for each connection's token: (refreshed, needs_reauth, unavailable)."""
    refreshed = needs_reauth = unavailable = 0
    for connection_id in connection_ids:
        try:
            manager.get_access_token(connection_id)
            refreshed += 1
        except ReauthorizationRequired:
            needs_reauth += 1  # marked and announced by the manager
        except (TokenUnavailableError, VaultError) as exc:
            unavailable += 1
            logger.warning("refresh of a connection postponed: %s", type(exc).__name__)
    return refreshed, needs_reauth, unavailable


def refresh_due(
    manager: TokenManager,
    schedule: DueConnections,
    *,
    policy: WorkerPolicy | None = None,
    clock: Callable[[], float] = time.time,
) -> RefreshCycle:
    """One worker cycle: refresh in-use connections whose token ends within the manager's
    leeway, then probe at most ``policy.probes_per_cycle`` idle connections whose last refresh
    is ``policy.idle_probe_interval`` old. Idle connections are otherwise left alone."""
    policy = policy or WorkerPolicy()
    now = clock()
    before = now + manager.leeway
    warm, dead_warm, later_warm = _refresh_each(
        manager,
        schedule.in_use_expiring(
            used_since=now - policy.in_use_window, before=before, batch_size=policy.batch_size
        ),
    )
    probes = schedule.probes_due(
        probed_before=now - policy.idle_probe_interval,
        before=before,
        batch_size=min(policy.batch_size, max(policy.probes_per_cycle, 1)),
    )
    probed, dead_idle, later_idle = _refresh_each(
        manager, itertools.islice(probes, policy.probes_per_cycle)
    )
    return RefreshCycle(
        kept_warm=warm,
        probed=probed,
        needs_reauth=dead_warm + dead_idle,
        unavailable=later_warm + later_idle,
    )


def refresh_expiring(
    manager: TokenManager,
    vault: ExpiringConnections,
    *,
    limit: int = 100,
    clock: Callable[[], float] = time.time,
) -> RefreshRound:
    """Refresh every active connection whose token ends within the manager's leeway (the
    policy before ``refresh_due``: idle connections included)."""
    refreshed, needs_reauth, unavailable = _refresh_each(
        manager, vault.connections_expiring(clock() + manager.leeway, limit=limit)
    )
    return RefreshRound(refreshed, needs_reauth, unavailable)
