"""Revoking old refresh tokens at Zoho, retried until Zoho confirms (SECURITY 34, 36).

The vault queues a token when a connection is disconnected or reconnected; the CLI ``worker``
and the web app's background task call ``process_revocations`` periodically.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from typing import Protocol

from .. import _metrics
from .._exceptions import DataCenterError, InvalidGrantError, OAuthError
from .._redact import redact
from ..datacenters import DataCenter, DataCenterTable
from ..vault._types import PendingRevocation

__all__ = ["process_revocations", "revocation_retry_delay"]

logger = logging.getLogger("zoho_invoice.revocations")

#: Back-off between revoke attempts: 30 s doubling up to 6 hours.
FIRST_RETRY = 30.0
MAX_RETRY = 6 * 3600.0


class RevocationVault(Protocol):
    def due_revocations(self, now: datetime, limit: int, /) -> list[PendingRevocation]: ...
    def revocation_done(self, rev_id: str, /) -> object: ...
    def revocation_failed(self, rev_id: str, error: str, retry_at: datetime, /) -> object: ...


class Revoker(Protocol):
    @property
    def datacenters(self) -> DataCenterTable: ...
    def revoke(self, datacenter: DataCenter | str, token: str, /) -> None: ...


def revocation_retry_delay(attempts: int) -> float:
    """Seconds before the next try, after ``attempts`` failed tries (1 or more)."""
    return min(MAX_RETRY, FIRST_RETRY * 2.0 ** max(attempts - 1, 0))


def process_revocations(
    vault: RevocationVault, oauth: Revoker, *, now: datetime | None = None, limit: int = 50
) -> int:
    """Revoke every due queued token at its own DC; returns how many are done.

    Zoho's "unknown token" (HTTP 400) counts as done: the token is dead either way.
    """
    now = now or datetime.now(UTC)
    done = 0
    for pending in vault.due_revocations(now, limit):
        try:
            oauth.revoke(oauth.datacenters.get(pending.location), pending.token)
        except InvalidGrantError:
            _metrics.revocation_outcome("unknown_token")  # already revoked or expired
        except (OAuthError, DataCenterError) as exc:
            _metrics.revocation_outcome("retry_later")
            delay = revocation_retry_delay(pending.attempts + 1)
            error = redact(exc)[:500]
            vault.revocation_failed(pending.id, error, now + timedelta(seconds=delay))
            logger.warning(
                "revoke %s (connection %s) failed, retrying in %.0f s: %s",
                pending.id,
                pending.connection_id,
                delay,
                error,
            )
            continue
        else:
            _metrics.revocation_outcome("revoked")
        vault.revocation_done(pending.id)
        done += 1
    return done
