"""The mint log: when access tokens were minted for each connection.

Zoho limits how many access tokens one grant may mint in a window (the token manager's
``MINT_LIMIT`` per ``MINT_WINDOW``); the manager records a mint before asking, forgets it when
Zoho's answer says nothing was minted, and counts the recent ones before asking again. A row is
kept for an hour, longer than any window the manager uses.

``record_within`` does the count and the record in one committed transaction (the refresh holds
its lock through it, so every round trip saved there is saved for every waiter): the mint is
durable before Zoho is asked (SECURITY 33), and never recorded past the limit.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import datetime, timedelta

from sqlalchemy import Engine, delete, func, select
from sqlalchemy.orm import Session

from ._connections import lock_connection
from ._db_session import DbSession, as_datetime
from ._models import TokenMintRow
from ._unit_of_work import joined

__all__ = ["Mints"]

_MINT_HISTORY = timedelta(hours=1)


class Mints:
    """Mints in the ``token_mints`` table; see the module docstring."""

    def __init__(self, engine: Engine, *, clock: Callable[[], float] = time.time) -> None:
        self._db = DbSession(engine, clock=clock)

    def record(self, connection_id: str, at: datetime | float | None = None) -> int:
        """Count one access token minted for the connection (and forget old ones).

        Returns the mint's id, for ``forget``; ``ConnectionNotFoundError`` for an unknown
        connection.
        """
        minted = self._db.now() if at is None else as_datetime(at)
        with self._db.write() as session:
            lock_connection(session, connection_id)
            mint = TokenMintRow(connection_id=connection_id, minted_at=minted)
            session.add(mint)
            session.flush()
            mint_id = int(mint.id)
            self._forget_old(session, connection_id, minted)
        return mint_id

    @staticmethod
    def _forget_old(session: Session, connection_id: str, now: datetime) -> None:
        """Drop the connection's mints older than any window the manager counts."""
        session.execute(
            delete(TokenMintRow)
            .where(
                TokenMintRow.connection_id == connection_id,
                TokenMintRow.minted_at < now - _MINT_HISTORY,
            )
            .execution_options(synchronize_session=False)
        )

    def record_within(
        self, connection_id: str, at: datetime | float, *, since: datetime | float, limit: int
    ) -> int | None:
        """Record a mint at ``at`` unless ``limit`` were already recorded since ``since``.

        The mint's id (committed when this returns), or ``None`` when the window is spent
        (nothing recorded). One transaction: the connection's row is locked, so two recorders
        can never both take the last place. ``ConnectionNotFoundError`` for an unknown one.
        """
        if joined(self._db.engine) is not None:
            # SECURITY 33: the mint must be committed before Zoho is asked; inside a unit of
            # work it would wait for that unit's commit (and vanish with its rollback).
            raise RuntimeError(
                "a mint is recorded in a transaction of its own, not in a unit of work"
            )
        minted = as_datetime(at)
        with self._db.write() as session:
            lock_connection(session, connection_id)
            recent = session.scalar(
                select(func.count())
                .select_from(TokenMintRow)
                .where(
                    TokenMintRow.connection_id == connection_id,
                    TokenMintRow.minted_at >= as_datetime(since),
                )
            )
            if int(recent or 0) >= limit:
                return None
            mint = TokenMintRow(connection_id=connection_id, minted_at=minted)
            session.add(mint)
            session.flush()
            mint_id = int(mint.id)
            self._forget_old(session, connection_id, minted)
        return mint_id

    def forget(self, mint_id: int) -> None:
        """Uncount a mint recorded before asking Zoho, when Zoho's answer says it minted
        nothing (a throttle, ``invalid_code``)."""
        with self._db.write() as session:
            session.execute(
                delete(TokenMintRow)
                .where(TokenMintRow.id == mint_id)
                .execution_options(synchronize_session=False)
            )

    def since(self, connection_id: str, since: datetime | float) -> int:
        """How many access tokens were minted for the connection since ``since``."""
        with self._db.read() as session:
            count = session.scalar(
                select(func.count())
                .select_from(TokenMintRow)
                .where(
                    TokenMintRow.connection_id == connection_id,
                    TokenMintRow.minted_at >= as_datetime(since),
                )
            )
        return int(count or 0)
