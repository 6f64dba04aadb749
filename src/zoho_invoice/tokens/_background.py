"""Background refresh: keep active connections' tokens fresh, and find dead ones early.

``zoho-invoice worker`` runs ``refresh_expiring`` every round with a manager whose leeway covers
the time until the next round, so API calls rarely wait for a refresh; a refresh token Zoho has
revoked is found here, the connection marked ``needs_reauth`` and the event sent, before a user
trips over it. Each refresh still goes through the manager: one at a time per connection across
processes, within Zoho's 10 tokens per 10 minutes.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from .._exceptions import ReauthorizationRequired, TokenUnavailableError, VaultError
from ._manager import TokenManager

__all__ = ["RefreshRound", "refresh_expiring"]

logger = logging.getLogger("zoho_invoice.worker")


class ExpiringConnections(Protocol):
    def connections_expiring(self, before: float, *, limit: int = 100) -> list[str]: ...


@dataclass(frozen=True)
class RefreshRound:
    """What one round did."""

    refreshed: int = 0
    needs_reauth: int = 0
    unavailable: int = 0


def refresh_expiring(
    manager: TokenManager,
    vault: ExpiringConnections,
    *,
    limit: int = 100,
    clock: Callable[[], float] = time.time,
) -> RefreshRound:
    """Refresh every active connection whose token ends within the manager's leeway."""
    refreshed = needs_reauth = unavailable = 0
    due = vault.connections_expiring(clock() + manager.leeway, limit=limit)
    for connection_id in due:
        try:
            manager.get_access_token(connection_id)
            refreshed += 1
        except ReauthorizationRequired:
            needs_reauth += 1  # marked and announced by the manager
        except (TokenUnavailableError, VaultError) as exc:
            unavailable += 1
            logger.warning("refresh of a connection postponed: %s", type(exc).__name__)
    return RefreshRound(refreshed, needs_reauth, unavailable)
