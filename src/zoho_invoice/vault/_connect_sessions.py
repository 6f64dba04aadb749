"""Connect sessions: the single-use link an app hands its user, then the authorization it starts.

A session is created with a random token (only its hash is stored), started once by the browser
that follows the link (it then records the OAuth ``state``, the browser binding and the sealed
PKCE verifier, and lives 10 minutes, SECURITY 4), and consumed once by the callback from that
same browser. Each step is checked by a read first, so an unknown, used or expired link or state
writes nothing and takes no write lock (SECURITY 51); a step that passes is claimed by one
conditional UPDATE whose row count says who won.
"""

from __future__ import annotations

import hmac
import secrets
from datetime import datetime, timedelta

from sqlalchemy import delete, select, update
from sqlalchemy.orm import InstrumentedAttribute, Session

from .._exceptions import ConnectFlowError
from ._connections import check_owner
from ._db_session import SealingStore, as_datetime, new_id, rowcount, sha256_hex
from ._models import ConnectSessionRow
from ._types import ConnectSession

__all__ = ["STARTED_SESSION_TTL", "VERIFIER", "ConnectSessions"]

#: A started connect session lives 10 minutes from the redirect to Zoho (SECURITY 4).
STARTED_SESSION_TTL = timedelta(minutes=10)
#: The field a PKCE verifier is sealed for.
VERIFIER = "code_verifier"


def _check_session(row: ConnectSessionRow | None, now: datetime) -> ConnectSessionRow:
    """The connect session, if it may still start an authorization; else ``ConnectFlowError``."""
    if row is None:
        raise ConnectFlowError("unknown connect link; ask the app for a new one")
    if row.started_at is not None or row.consumed_at is not None:
        raise ConnectFlowError("this connect link was already used; ask for a new one")
    if row.expires_at <= now:
        raise ConnectFlowError("this connect link has expired; ask for a new one")
    return row


def _check_state(row: ConnectSessionRow | None, binding: str, now: datetime) -> ConnectSessionRow:
    """The started connect session, if this browser may consume it now; else
    ``ConnectFlowError``."""
    if row is None or row.binding_hash is None:
        raise ConnectFlowError("unknown state: start connecting again")
    # The browser check comes first, and a wrong browser consumes nothing.
    if not hmac.compare_digest(sha256_hex(binding), row.binding_hash):
        raise ConnectFlowError(
            "this sign-in was started in another browser: start connecting again here"
        )
    if row.consumed_at is not None:
        raise ConnectFlowError("this sign-in was already completed: start again")
    if row.expires_at <= now:
        raise ConnectFlowError("this sign-in took too long and expired: start again")
    return row


def _claim(
    session: Session,
    row: ConnectSessionRow,
    unset: InstrumentedAttribute[datetime | None],
    now: datetime,
    **values: object,
) -> bool:
    """One conditional UPDATE of the live connect session while ``unset`` is still empty: True for
    the one request that wins it, False for any that came second."""
    result = session.execute(
        update(ConnectSessionRow)
        .where(
            ConnectSessionRow.id == row.id,
            unset.is_(None),
            ConnectSessionRow.expires_at > now,
        )
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    return rowcount(result) == 1


def _connect_session(row: ConnectSessionRow, code_verifier: str) -> ConnectSession:
    return ConnectSession(
        owner=row.owner,
        return_url=row.return_url,
        start_location=row.start_location,
        code_verifier=code_verifier,
    )


class ConnectSessions(SealingStore):
    """Connect sessions in the ``connect_sessions`` table; see the module docstring.

    >>> sessions = ConnectSessions(engine, keyring)
    >>> token, expires_at = sessions.create(owner="tenant-1")
    >>> started = sessions.start(token, state=state, binding=binding, code_verifier=verifier)
    >>> consumed = sessions.consume_state(state, binding)   # in the callback, once
    """

    def create(
        self,
        *,
        owner: str,
        return_url: str | None = None,
        location: str | None = None,
        ttl: float = 600.0,
    ) -> tuple[str, datetime]:
        """A single-use session token the app hands to its user's browser, and its expiry."""
        check_owner(owner)
        token = secrets.token_urlsafe(32)
        now = self._db.now()
        expires_at = now + timedelta(seconds=ttl)
        with self._db.write() as session:
            # Expired sessions go as new ones come, even if no worker runs (SECURITY 4).
            session.execute(
                delete(ConnectSessionRow)
                .where(ConnectSessionRow.expires_at <= now)
                .execution_options(synchronize_session=False)
            )
            session.add(
                ConnectSessionRow(
                    id=new_id(),
                    session_token_hash=sha256_hex(token),
                    owner=owner,
                    return_url=return_url,
                    start_location=location,
                    created_at=now,
                    expires_at=expires_at,
                )
            )
        return token, expires_at

    def start(
        self, session_token: str, *, state: str, binding: str, code_verifier: str
    ) -> ConnectSession:
        """Use a connect session (once) to start an authorization; it expires in 10 minutes.

        The link is checked by a read first: an unknown, used or expired one writes nothing and
        takes no write lock (SECURITY 51); only a link that passes is claimed, by a write that
        checks again (another request may have claimed it in between).
        """
        now = self._db.now()
        query = select(ConnectSessionRow).where(
            ConnectSessionRow.session_token_hash == sha256_hex(session_token)
        )
        with self._db.read() as session:
            _check_session(session.scalars(query).first(), now)
        with self._db.write() as session:
            row = _check_session(session.scalars(query.with_for_update()).first(), now)
            claimed = _claim(
                session,
                row,
                ConnectSessionRow.started_at,
                now,
                state_hash=sha256_hex(state),
                binding_hash=sha256_hex(binding),
                code_verifier_sealed=self._seal(code_verifier, row.id, VERIFIER),
                started_at=now,
                expires_at=now + STARTED_SESSION_TTL,
            )
            if not claimed:
                raise ConnectFlowError("this connect link was already used; ask for a new one")
            return _connect_session(row, code_verifier)

    def consume_state(self, state: str, binding: str) -> ConnectSession:
        """Consume the connect session ``state`` names, once, from the browser that started it.

        A read decides first: a callback with an unknown state, another browser's binding, or
        a used or expired state writes nothing and takes no write lock (SECURITY 51). Only one
        that passes is consumed, by a write that checks again.
        """
        now = self._db.now()
        query = select(ConnectSessionRow).where(ConnectSessionRow.state_hash == sha256_hex(state))
        with self._db.read() as session:
            _check_state(session.scalars(query).first(), binding, now)
        with self._db.write() as session:
            row = _check_state(session.scalars(query.with_for_update()).first(), binding, now)
            sealed = row.code_verifier_sealed
            claimed = _claim(
                session,
                row,
                ConnectSessionRow.consumed_at,
                now,
                consumed_at=now,
                code_verifier_sealed=None,
            )
            if not claimed or sealed is None:
                raise ConnectFlowError("this sign-in was already completed: start again")
            return _connect_session(row, self._open(sealed, row.id, VERIFIER))

    def purge_expired(self, now: datetime | float | None = None) -> int:
        """Delete expired connect sessions; returns how many went."""
        cutoff = self._db.now() if now is None else as_datetime(now)
        with self._db.write() as session:
            result = session.execute(
                delete(ConnectSessionRow)
                .where(ConnectSessionRow.expires_at <= cutoff)
                .execution_options(synchronize_session=False)
            )
            return rowcount(result)
