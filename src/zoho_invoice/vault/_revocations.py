"""The revocation queue: tokens waiting to be revoked at Zoho, retried until Zoho confirms.

A token goes in sealed, in the same transaction that stops using it (a reconnect's old refresh
token, SECURITY 34; a disconnect's, SECURITY 36), through :func:`queue_in`; the worker takes the
``due`` ones, and says ``done`` or ``failed`` (with the next attempt's time).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from .._exceptions import DecryptionError
from ._db_session import SealingStore, as_datetime, new_id, one_line
from ._keyring import KeyRing
from ._models import PendingRevocationRow
from ._types import PendingRevocation

__all__ = ["REVOKE", "Revocations", "queue_in"]

#: The field a queued token is sealed for (the key ring binds it into the ciphertext).
REVOKE = "revoke_token"


def queue_in(
    session: Session,
    keyring: KeyRing,
    *,
    connection_id: str | None,
    location: str,
    token: str,
    now: datetime,
) -> None:
    """Queue ``token`` inside the caller's transaction, due now: it is queued exactly when the
    caller's change commits."""
    rev_id = new_id()
    session.add(
        PendingRevocationRow(
            id=rev_id,
            connection_id=connection_id,
            location=location,
            token_sealed=keyring.seal(token, row_id=rev_id, field=REVOKE),
            attempts=0,
            created_at=now,
            next_attempt_at=now,
        )
    )


class Revocations(SealingStore):
    """Pending revocations in the ``pending_revocations`` table; see the module docstring."""

    def queue(self, location: str, token: str) -> None:
        """Queue a token that belongs to no stored connection for revocation at ``location``'s
        accounts server, retried until Zoho confirms (e.g. one minted for a refused connect)."""
        with self._db.write() as session:
            queue_in(
                session,
                self._keyring,
                connection_id=None,
                location=location,
                token=token,
                now=self._db.now(),
            )

    def due(self, now: datetime | float | None = None, limit: int = 100) -> list[PendingRevocation]:
        """Revocations whose next attempt is due, oldest first."""
        cutoff = self._db.now() if now is None else as_datetime(now)
        with self._db.read() as session:
            rows = session.scalars(
                select(PendingRevocationRow)
                .where(PendingRevocationRow.next_attempt_at <= cutoff)
                .order_by(PendingRevocationRow.next_attempt_at, PendingRevocationRow.id)
                .limit(limit)
            ).all()
        due: list[PendingRevocation] = []
        for row in rows:
            try:
                token = self._open(row.token_sealed, row.id, REVOKE)
            except DecryptionError:
                continue  # its key is gone: nothing we can send
            due.append(
                PendingRevocation(
                    id=row.id,
                    connection_id=row.connection_id,
                    location=row.location,
                    token=token,
                    attempts=row.attempts,
                    next_attempt_at=row.next_attempt_at,
                    last_error=row.last_error,
                )
            )
        return due

    def done(self, revocation_id: str) -> None:
        """Zoho confirmed: forget the token."""
        with self._db.write() as session:
            session.execute(
                delete(PendingRevocationRow)
                .where(PendingRevocationRow.id == revocation_id)
                .execution_options(synchronize_session=False)
            )

    def failed(self, revocation_id: str, error: str, retry_at: datetime | float) -> None:
        """Count a failed attempt and schedule the next one. ``error`` must hold no secret."""
        with self._db.write() as session:
            session.execute(
                update(PendingRevocationRow)
                .where(PendingRevocationRow.id == revocation_id)
                .values(
                    attempts=PendingRevocationRow.attempts + 1,
                    last_error=one_line(error),
                    next_attempt_at=as_datetime(retry_at),
                )
                .execution_options(synchronize_session=False)
            )
