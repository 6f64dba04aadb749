"""Connections and their sealed tokens.

A connection is one Zoho user's grant to one owner at one data centre (SECURITY 44). Its tokens
are sealed for the row and field they belong to (SECURITY 22), and every token write is fenced by
the row's ``version`` (SECURITY 28): ``store_refreshed`` and a fenced ``set_status`` are one
conditional UPDATE whose row count says whether the row was still the one read. A reconnect and a
disconnect queue the token they stop using in the same transaction (SECURITY 34, 36).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import datetime
from typing import Any, cast

from sqlalchemy import bindparam, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from .._exceptions import (
    ConnectionNotFoundError,
    DecryptionError,
    InvalidVaultInputError,
    StaleWriteError,
)
from ..oauth._types import TokenSet
from ._db_session import SealingStore, as_datetime, new_id, one_line, rowcount
from ._local_writes import bump_generation
from ._models import STATUSES, ConnectionRow
from ._revocations import queue_in
from ._stored_access import RowStamp, StoredAccess
from ._types import Connection, Status, StoredTokens

__all__ = ["ACCESS", "REFRESH", "Connections", "check_owner", "lock_connection"]

#: The fields a connection's tokens are sealed for.
ACCESS = "access_token"
REFRESH = "refresh_token"

_ID = re.compile(r"[0-9a-f]{32}")


def _valid_owner(owner: object) -> bool:
    return isinstance(owner, str) and 1 <= len(owner) <= 255 and owner.isprintable()


def check_owner(owner: object) -> None:
    """An owner is 1-255 printable characters: no NUL, no line break, no control character."""
    if not _valid_owner(owner):
        raise InvalidVaultInputError(
            "owner must be 1-255 printable characters (no control characters)"
        )


def _check_id(connection_id: object) -> str:
    """A well-formed connection id, else ``ConnectionNotFoundError`` before any query (any
    malformed id is simply unknown, and PostgreSQL is never handed odd text)."""
    if not isinstance(connection_id, str) or not _ID.fullmatch(connection_id):
        raise ConnectionNotFoundError("no connection with that id")
    return connection_id


def lock_connection(session: Session, connection_id: str) -> ConnectionRow:
    """The connection's row, locked for the caller's transaction; ``ConnectionNotFoundError``
    when there is none."""
    row = session.get(ConnectionRow, _check_id(connection_id), with_for_update=True)
    if row is None:
        raise ConnectionNotFoundError("no connection with that id")
    return row


def _scopes_text(scopes: Sequence[str] | str) -> str:
    items = scopes.split(",") if isinstance(scopes, str) else list(scopes)
    return ",".join(s.strip() for s in items if s.strip())


def _connection(row: ConnectionRow) -> Connection:
    return Connection(
        id=row.id,
        owner=row.owner,
        location=row.location,
        api_domain=row.api_domain,
        organization_id=row.organization_id,
        scopes=[s for s in row.scopes.split(",") if s],
        status=cast(Status, row.status),
        created_at=row.created_at,
        updated_at=row.updated_at,
        status_reason=row.status_reason,
        zoho_user_id=row.zoho_user_id,
    )


#: What ``load_access`` reads: everything but the refresh token (and the row's stamp).
_STAMP_COLUMNS = (
    ConnectionRow.version,
    ConnectionRow.status,
    ConnectionRow.organization_id,
    ConnectionRow.key_id,
    ConnectionRow.access_token_sealed,
)
_ACCESS_COLUMNS = (
    *_STAMP_COLUMNS,
    ConnectionRow.access_expires_at,
    ConnectionRow.location,
    ConnectionRow.api_domain,
)


# Built once: building a SELECT costs more than running it on a warm connection.
_ACCESS_QUERY = select(*_ACCESS_COLUMNS).where(ConnectionRow.id == bindparam("connection_id"))
_STAMP_QUERY = select(*_STAMP_COLUMNS).where(ConnectionRow.id == bindparam("connection_id"))


def _stamp(row: Any) -> RowStamp:
    return RowStamp(
        version=row.version,
        status=cast(Status, row.status),
        organization_id=row.organization_id,
        key_id=row.key_id,
        access_token_sealed=row.access_token_sealed,
    )


class Connections(SealingStore):
    """Connections in the ``connections`` table; see the module docstring.

    >>> connections = Connections(engine, keyring)
    >>> connection, created = connections.save(
    ...     owner="tenant-1", location="eu", api_domain="https://www.zohoapis.eu",
    ...     scopes=["ZohoInvoice.invoices.READ"], tokens=token_set)
    """

    def save(
        self,
        *,
        owner: str,
        location: str,
        api_domain: str,
        scopes: Sequence[str] | str,
        tokens: TokenSet,
        zoho_user_id: str | None = None,
        claim: str | None = None,
    ) -> tuple[Connection, bool]:
        """Store a new connection, or replace the tokens of the owner's connection of this very
        Zoho user at ``location``.

        A connection belongs to one Zoho user (SECURITY 44): a login by a Zoho user other than
        the one a connection records makes a new connection, and the old one keeps its tokens
        and organization. ``claim`` names a connection made before users were recorded (its
        ``zoho_user_id`` is ``None``) that the caller proved belongs to ``zoho_user_id``: that
        one is renewed and records the user. Without ``zoho_user_id`` (a caller that cannot
        tell users apart), only a connection that records no user is renewed.

        A reconnect sets the connection active, bumps its version and, in the same
        transaction, queues the old refresh token for revocation (SECURITY 34).
        Returns the connection and whether it was created.
        """
        check_owner(owner)
        for attempt in range(2):
            now = self._db.now()
            try:
                with self._db.write() as session:
                    row, created = self._renew_or_add(
                        session, now, owner, location, zoho_user_id, claim, tokens.refresh_token
                    )
                    row.api_domain = api_domain
                    row.scopes = _scopes_text(scopes)
                    row.status = "active"
                    row.status_reason = None
                    row.access_token_sealed = self._seal(tokens.access_token, row.id, ACCESS)
                    row.access_expires_at = as_datetime(tokens.expires_at)
                    if tokens.refresh_token is not None:
                        row.refresh_token_sealed = self._seal(tokens.refresh_token, row.id, REFRESH)
                        row.key_id = self._keyring.primary_key_id
                    row.updated_at = now
                    # Zoho just minted for it, and its user is here: in use (the worker's policy).
                    row.last_refresh_at = row.last_used_at = now
                    session.flush()
                    saved = _connection(row), created
                bump_generation(saved[0].id)  # committed: this process's caches re-read it
                return saved
            except IntegrityError:
                # Two first connects of one Zoho user raced; the second becomes a reconnect.
                if attempt:
                    raise
        raise AssertionError("unreachable")

    def _renew_or_add(
        self,
        session: Session,
        now: datetime,
        owner: str,
        location: str,
        zoho_user_id: str | None,
        claim: str | None,
        new_refresh_token: str | None,
    ) -> tuple[ConnectionRow, bool]:
        """The row ``save`` writes (locked), and whether it is new. A renewed row moves to the
        next version and records the user; its old refresh token, if replaced, is queued for
        revocation in this transaction (SECURITY 34)."""
        same_owner = (ConnectionRow.owner == owner, ConnectionRow.location == location)
        row = session.scalars(
            select(ConnectionRow)
            .where(
                *same_owner,
                ConnectionRow.zoho_user_id.is_(None)
                if zoho_user_id is None
                else ConnectionRow.zoho_user_id == zoho_user_id,
            )
            .with_for_update()
        ).first()
        if row is None and claim is not None and zoho_user_id is not None:
            row = session.scalars(
                select(ConnectionRow)
                .where(*same_owner, ConnectionRow.id == claim, ConnectionRow.zoho_user_id.is_(None))
                .with_for_update()
            ).first()
        if row is None:
            row = ConnectionRow(
                id=new_id(),
                owner=owner,
                location=location,
                zoho_user_id=zoho_user_id,
                version=1,
                created_at=now,
            )
            session.add(row)
            return row, True
        old_sealed = row.refresh_token_sealed
        if new_refresh_token is not None and old_sealed is not None:
            try:
                old = self._open(old_sealed, row.id, REFRESH)
            except DecryptionError:
                old = None  # cannot be revoked by us; Zoho will age it out
            if old is not None and old != new_refresh_token:
                self._queue_revoke(session, row, old, now)
        row.version += 1
        if zoho_user_id is not None:
            row.zoho_user_id = zoho_user_id
        return row, False

    def _queue_revoke(
        self, session: Session, row: ConnectionRow, token: str, now: datetime
    ) -> None:
        queue_in(
            session,
            self._keyring,
            connection_id=row.id,
            location=row.location,
            token=token,
            now=now,
        )

    def _row(self, connection_id: str) -> ConnectionRow:
        """The row as read now, with no lock."""
        with self._db.read() as session:
            row = session.get(ConnectionRow, _check_id(connection_id))
        if row is None:
            raise ConnectionNotFoundError("no connection with that id")
        return row

    def get(self, connection_id: str) -> Connection:
        """The connection, or ``ConnectionNotFoundError`` for any unknown or malformed id."""
        return _connection(self._row(connection_id))

    def list_all(self, owner: str | None = None) -> list[Connection]:
        """Every connection, or the owner's, oldest first."""
        if owner is not None and not _valid_owner(owner):
            return []  # no connection can have it (and PostgreSQL refuses a NUL in a query)
        query = select(ConnectionRow).order_by(ConnectionRow.created_at, ConnectionRow.id)
        if owner is not None:
            query = query.where(ConnectionRow.owner == owner)
        with self._db.read() as session:
            return [_connection(row) for row in session.scalars(query)]

    def expiring(self, before: datetime | float, *, limit: int = 100) -> list[str]:
        """Ids of active connections whose access token is missing or ends before ``before``,
        soonest first (what a background refresher works through)."""
        query = (
            select(ConnectionRow.id)
            .where(
                ConnectionRow.status == "active",
                (ConnectionRow.access_expires_at.is_(None))
                | (ConnectionRow.access_expires_at < as_datetime(before)),
            )
            .order_by(ConnectionRow.access_expires_at.asc().nulls_first(), ConnectionRow.id)
            .limit(limit)
        )
        with self._db.read() as session:
            return list(session.scalars(query))

    def load_tokens(self, connection_id: str) -> StoredTokens:
        """The connection's tokens, opened, with the version to fence the next write."""
        row = self._row(connection_id)
        access = row.access_token_sealed
        refresh = row.refresh_token_sealed
        return StoredTokens(
            access_token=self._open(access, row.id, ACCESS) if access else None,
            access_expires_at=row.access_expires_at,
            refresh_token=self._open(refresh, row.id, REFRESH) if refresh else None,
            version=row.version,
            status=cast(Status, row.status),
            location=row.location,
            api_domain=row.api_domain,
            organization_id=row.organization_id,
        )

    def load_access(self, connection_id: str) -> StoredAccess:
        """The connection's access token, opened, and the row's stamp; the refresh token is
        neither read nor opened (the hot path's read: ``tokens/_cache.py``)."""
        params = {"connection_id": _check_id(connection_id)}
        with self._db.read() as session:
            row = session.execute(_ACCESS_QUERY, params).one_or_none()
        if row is None:
            raise ConnectionNotFoundError("no connection with that id")
        sealed = row.access_token_sealed
        return StoredAccess(
            access_token=self._open(sealed, connection_id, ACCESS) if sealed else None,
            access_expires_at=row.access_expires_at,
            version=row.version,
            status=cast(Status, row.status),
            location=row.location,
            api_domain=row.api_domain,
            organization_id=row.organization_id,
            stamp=_stamp(row),
        )

    def access_stamp(self, connection_id: str) -> RowStamp | None:
        """The row's stamp (one primary-key SELECT of five columns, nothing opened), or
        ``None`` when there is no such connection: a cache compares it with the stamp it read
        the token with, to learn whether another process changed the row."""
        params = {"connection_id": _check_id(connection_id)}
        with self._db.read() as session:
            row = session.execute(_STAMP_QUERY, params).one_or_none()
        return None if row is None else _stamp(row)

    def _fenced_update(
        self, connection_id: str, values: dict[str, Any], expected_version: int | None
    ) -> bool:
        """One conditional UPDATE of the row (at ``expected_version``, when given): True if it
        landed, False if the row moved on, ``ConnectionNotFoundError`` if there is none."""
        with self._db.write() as session:
            statement = update(ConnectionRow).where(ConnectionRow.id == connection_id)
            if expected_version is not None:
                statement = statement.where(ConnectionRow.version == expected_version)
            result = session.execute(
                statement.values(**values).execution_options(synchronize_session=False)
            )
            if rowcount(result) == 1:
                return True
            if session.get(ConnectionRow, connection_id) is None:
                raise ConnectionNotFoundError("no connection with that id")
        return False

    def store_refreshed(
        self,
        connection_id: str,
        *,
        expected_version: int,
        access_token: str,
        expires_at: datetime | float,
        refresh_token: str | None = None,
        used: bool = True,
    ) -> int:
        """Store a refreshed access token if the row is still at ``expected_version``.

        ``used`` (the default) records in the same UPDATE that a caller had a token now: a
        refresh on demand is use. The worker's own refreshes pass ``used=False``, so keeping a
        token warm never makes a connection look in use.

        Returns the new version. ``StaleWriteError`` when another writer got there first: the
        newer tokens stay (SECURITY 28).
        """
        _check_id(connection_id)
        now = self._db.now()
        values: dict[str, Any] = {
            "access_token_sealed": self._seal(access_token, connection_id, ACCESS),
            "access_expires_at": as_datetime(expires_at),
            "version": ConnectionRow.version + 1,
            "last_refresh_at": now,
            "updated_at": now,
        }
        if used:
            values["last_used_at"] = now
        if refresh_token is not None:
            values["refresh_token_sealed"] = self._seal(refresh_token, connection_id, REFRESH)
            values["key_id"] = self._keyring.primary_key_id
        if self._fenced_update(connection_id, values, expected_version):
            bump_generation(connection_id)
            return expected_version + 1
        raise StaleWriteError("the connection's tokens changed since they were read; re-read them")

    def set_status(
        self,
        connection_id: str,
        status: Status,
        *,
        reason: str | None = None,
        expected_version: int | None = None,
    ) -> None:
        """Mark the connection ``active``, ``needs_reauth`` or ``revoked``.

        With ``expected_version``, only if the row is still at that version (one conditional
        UPDATE): a verdict about old tokens must not land on a reconnect's new ones
        (SECURITY 28). ``StaleWriteError`` when the row moved on.
        """
        if status not in STATUSES:
            raise ValueError(f"status must be one of {', '.join(STATUSES)}")
        values: dict[str, Any] = {
            "status": status,
            "status_reason": one_line(reason) if reason else None,
            "updated_at": self._db.now(),
        }
        if not self._fenced_update(_check_id(connection_id), values, expected_version):
            raise StaleWriteError("the connection changed since it was read; re-read it")
        bump_generation(connection_id)

    def set_organization(self, connection_id: str, organization_id: str | None) -> None:
        """Remember which Zoho organization the connection works in."""
        with self._db.write() as session:
            row = lock_connection(session, connection_id)
            row.organization_id = organization_id
            row.updated_at = self._db.now()
        bump_generation(connection_id)

    def disconnect(self, connection_id: str) -> Connection:
        """Wipe the tokens, mark the connection revoked and queue the revoke at Zoho.

        One transaction: even if Zoho never answers, the tokens are gone from here and the
        revoke is retried by the worker (SECURITY 36).
        """
        now = self._db.now()
        with self._db.write() as session:
            row = lock_connection(session, connection_id)
            token: str | None = None
            for sealed, field in (
                (row.refresh_token_sealed, REFRESH),
                (row.access_token_sealed, ACCESS),
            ):
                if sealed is None:
                    continue
                try:
                    token = self._open(sealed, row.id, field)
                except DecryptionError:
                    continue
                break  # revoking the refresh token kills its access tokens too
            if token is not None:
                self._queue_revoke(session, row, token, now)
            row.access_token_sealed = None
            row.access_expires_at = None
            row.refresh_token_sealed = None
            row.key_id = None
            row.status = "revoked"
            row.status_reason = "disconnected"
            row.version += 1
            row.updated_at = now
            session.flush()
            revoked = _connection(row)
        bump_generation(connection_id)
        return revoked
