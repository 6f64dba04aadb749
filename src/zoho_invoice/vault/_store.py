"""The vault: connections, connect transactions and sealed tokens in SQLite or PostgreSQL.

Every method is one short transaction. Single-use things (connect sessions, states) are consumed
by one conditional ``UPDATE`` whose row count says who won; token writes are fenced by the row's
``version`` (SECURITY 28).
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, cast

from sqlalchemy import CursorResult, Engine, delete, func, select, text, update
from sqlalchemy.engine import URL
from sqlalchemy.exc import DataError, DBAPIError, IntegrityError, OperationalError
from sqlalchemy.exc import InterfaceError as SAInterfaceError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError
from sqlalchemy.orm import Session

from .._exceptions import (
    ConnectFlowError,
    ConnectionNotFoundError,
    DecryptionError,
    InvalidVaultInputError,
    KeyRingError,
    StaleWriteError,
    VaultError,
    VaultUnavailableError,
)
from ..oauth._types import TokenSet
from ._db import READ_ONLY, create_engine_for, current_revision, head_revision, upgrade_database
from ._keyring import KeyRing
from ._leases import DatabaseRefreshLocks
from ._models import (
    STATUSES,
    ConnectionRow,
    ConnectTransactionRow,
    MetaRow,
    PendingRevocationRow,
    TokenMintRow,
)
from ._outbox import WebhookOutbox
from ._quota_blocks import DatabaseQuotaBlocks
from ._types import Connection, PendingConnect, PendingRevocation, Status, StoredTokens

if TYPE_CHECKING:
    from ..settings import Settings

__all__ = ["Vault"]

#: A connect transaction lives 10 minutes from the redirect to Zoho (SECURITY 4).
TRANSACTION_TTL = timedelta(minutes=10)
CANARY_KEY = "keyring_canary"
_CANARY_PLAINTEXT = "zoho-invoice key-ring canary"
_CANARY_ROW = "meta"
_ID = re.compile(r"[0-9a-f]{32}")
_MINT_HISTORY = timedelta(hours=1)

ACCESS = "access_token"
REFRESH = "refresh_token"
VERIFIER = "code_verifier"
REVOKE = "revoke_token"


def _hash(value: str) -> str:
    return hashlib.sha256(value.encode("utf-8")).hexdigest()


def _new_id() -> str:
    return uuid.uuid4().hex


def _as_datetime(value: datetime | float) -> datetime:
    if isinstance(value, datetime):
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the vault; use an aware UTC datetime")
        return value.astimezone(UTC)
    return datetime.fromtimestamp(value, UTC)


def _scopes_text(scopes: Sequence[str] | str) -> str:
    items = scopes.split(",") if isinstance(scopes, str) else list(scopes)
    return ",".join(s.strip() for s in items if s.strip())


def _valid_owner(owner: object) -> bool:
    return isinstance(owner, str) and 1 <= len(owner) <= 255 and owner.isprintable()


def _check_owner(owner: object) -> None:
    """An owner is 1-255 printable characters: no NUL, no line break, no control character."""
    if not _valid_owner(owner):
        raise InvalidVaultInputError(
            "owner must be 1-255 printable characters (no control characters)"
        )


def _one_line(text_: str, limit: int = 500) -> str:
    return text_.replace("\r", "\\r").replace("\n", "\\n")[:limit]


def _rowcount(result: Any) -> int:
    return cast(CursorResult[Any], result).rowcount


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


def _check_session(row: ConnectTransactionRow | None, now: datetime) -> ConnectTransactionRow:
    """The connect session, if it may still start an authorization; else ``ConnectFlowError``."""
    if row is None:
        raise ConnectFlowError("unknown connect link; ask the app for a new one")
    if row.started_at is not None or row.consumed_at is not None:
        raise ConnectFlowError("this connect link was already used; ask for a new one")
    if row.expires_at <= now:
        raise ConnectFlowError("this connect link has expired; ask for a new one")
    return row


def _check_state(
    row: ConnectTransactionRow | None, binding: str, now: datetime
) -> ConnectTransactionRow:
    """The transaction, if this browser may consume it now; else ``ConnectFlowError``."""
    if row is None or row.binding_hash is None:
        raise ConnectFlowError("unknown state: start connecting again")
    # The browser check comes first, and a wrong browser consumes nothing.
    if not hmac.compare_digest(_hash(binding), row.binding_hash):
        raise ConnectFlowError(
            "this sign-in was started in another browser: start connecting again here"
        )
    if row.consumed_at is not None:
        raise ConnectFlowError("this sign-in was already completed: start again")
    if row.expires_at <= now:
        raise ConnectFlowError("this sign-in took too long and expired: start again")
    return row


class Vault:
    """Connections and connect state, sealed with a :class:`KeyRing`.

    >>> vault = Vault.open("sqlite:///data/zoho.db", KeyRing.from_string(keys), upgrade=True)
    >>> connection, created = vault.save_connection(
    ...     owner="tenant-1", location="eu", api_domain="https://www.zohoapis.eu",
    ...     scopes=["ZohoInvoice.invoices.READ"], tokens=token_set)
    """

    def __init__(
        self,
        engine: Engine,
        keyring: KeyRing,
        *,
        clock: Callable[[], float] = time.time,
        owns_engine: bool = False,
    ) -> None:
        self._engine = engine
        self._reader = engine.execution_options(**{READ_ONLY: True})
        self._keyring = keyring
        self._clock = clock
        self._owns_engine = owns_engine

    # -- opening --------------------------------------------------------------------------

    @classmethod
    def open(
        cls,
        database_url: str | URL | Engine,
        keyring: KeyRing,
        *,
        upgrade: bool = False,
        clock: Callable[[], float] = time.time,
    ) -> Vault:
        """Connect, optionally migrate, and check that ``keyring`` opens this database.

        Raises ``KeyRingError`` when the keys are not the ones the data was sealed with
        (SECURITY 24), ``VaultError`` when the tables are missing and ``upgrade`` is false,
        ``VaultUnavailableError`` when the database does not answer.
        """
        owns = not isinstance(database_url, Engine)
        engine = (
            database_url if isinstance(database_url, Engine) else create_engine_for(database_url)
        )
        vault = cls(engine, keyring, clock=clock, owns_engine=owns)
        try:
            if upgrade:
                vault.upgrade()
            else:
                vault._require_schema()
            vault.check_keyring()
        except BaseException:
            vault.close()
            raise
        return vault

    @classmethod
    def from_settings(
        cls, settings: Settings, *, upgrade: bool = False, clock: Callable[[], float] = time.time
    ) -> Vault:
        """The vault ``ZOHO_DATABASE_URL`` (or the data directory) and ``ZOHO_ENCRYPTION_KEYS``
        name."""
        keys = settings.encryption_keys.get_secret_value() if settings.encryption_keys else None
        keyring = KeyRing.from_string(keys)
        return cls.open(settings.resolved_database_url, keyring, upgrade=upgrade, clock=clock)

    @property
    def engine(self) -> Engine:
        return self._engine

    @property
    def keyring(self) -> KeyRing:
        return self._keyring

    def upgrade(self) -> None:
        """Run the packaged migrations up to the newest one."""
        with self._unavailable():
            upgrade_database(self._engine)

    def _require_schema(self) -> None:
        with self._unavailable():
            revision = current_revision(self._engine)
        head = head_revision()
        if revision is None:
            raise VaultError(
                "the database has no vault tables yet: run `zoho-invoice db upgrade` "
                "(or open the vault with upgrade=True)"
            )
        if revision != head:
            raise VaultError(
                f"the database schema is at revision {revision}, this version needs {head}: "
                "run `zoho-invoice db upgrade`"
            )

    @property
    def webhook_outbox(self) -> WebhookOutbox:
        """Webhook deliveries waiting in this database (SECURITY 48); see ``vault/_outbox.py``."""
        return WebhookOutbox(self._engine, clock=self._clock, guard=self._unavailable)

    def refresh_locks(self) -> DatabaseRefreshLocks:
        """Refresh locks in this database, shared by every process that opens it (SECURITY 27)."""
        return DatabaseRefreshLocks(self._engine, clock=self._clock)

    def quota_blocks(self) -> DatabaseQuotaBlocks:
        """Daily-quota blocks (Zoho's code 45) in this database, seen by every process opening
        it; see ``vault/_quota_blocks.py``."""
        return DatabaseQuotaBlocks(self._engine, clock=self._clock)

    def ping(self) -> None:
        """``VaultUnavailableError`` unless the database answers."""
        with self._unavailable(), self._engine.connect() as conn:
            conn.execute(text("SELECT 1"))

    def close(self) -> None:
        """Release the database connections (the engine is disposed if the vault made it)."""
        if self._owns_engine:
            self._engine.dispose()

    # -- plumbing -------------------------------------------------------------------------

    def _now(self) -> datetime:
        return datetime.fromtimestamp(self._clock(), UTC)

    @contextmanager
    def _unavailable(self) -> Iterator[None]:
        try:
            yield
        except (OperationalError, SAInterfaceError, PoolTimeoutError) as exc:
            # The driver's message may name the host, user or database path; keep it out.
            cause = type(getattr(exc, "orig", None) or exc).__name__
            raise VaultUnavailableError(
                f"the database did not answer ({cause}); try again shortly"
            ) from None
        except DataError:
            # PostgreSQL refuses some text (a NUL byte): the input's fault, not the database's.
            raise InvalidVaultInputError(
                "a value could not be stored (it holds a character the database refuses)"
            ) from None
        except DBAPIError as exc:
            if exc.connection_invalidated:
                raise VaultUnavailableError(
                    "the connection to the database was lost; try again shortly"
                ) from None
            raise

    @contextmanager
    def _write(self) -> Iterator[Session]:
        with (
            self._unavailable(),
            Session(self._engine, expire_on_commit=False) as session,
            session.begin(),
        ):
            yield session

    @contextmanager
    def _read(self) -> Iterator[Session]:
        with (
            self._unavailable(),
            Session(self._reader, expire_on_commit=False) as session,
            session.begin(),
        ):
            yield session

    def _lock(self, session: Session, connection_id: str) -> ConnectionRow:
        if not isinstance(connection_id, str) or not _ID.fullmatch(connection_id):
            raise ConnectionNotFoundError("no connection with that id")
        row = session.get(ConnectionRow, connection_id, with_for_update=True)
        if row is None:
            raise ConnectionNotFoundError("no connection with that id")
        return row

    def _seal(self, value: str, row_id: str, field: str) -> str:
        return self._keyring.seal(value, row_id=row_id, field=field)

    def _open(self, sealed: str, row_id: str, field: str) -> str:
        return self._keyring.open(sealed, row_id=row_id, field=field)

    # -- key ring -------------------------------------------------------------------------

    def check_keyring(self) -> None:
        """Open the canary; on first start, store it sealed under the first key (SECURITY 24)."""
        with self._read() as session:
            canary = session.get(MetaRow, CANARY_KEY)
            sealed = canary.value if canary is not None else None
        if sealed is None:
            try:
                with self._write() as session:
                    if session.get(MetaRow, CANARY_KEY) is None:
                        session.add(
                            MetaRow(
                                key=CANARY_KEY,
                                value=self._seal(_CANARY_PLAINTEXT, _CANARY_ROW, CANARY_KEY),
                            )
                        )
                return
            except IntegrityError:  # another instance stored it first: check theirs
                with self._read() as session:
                    canary = session.get(MetaRow, CANARY_KEY)
                    assert canary is not None
                    sealed = canary.value
        try:
            if self._open(sealed, _CANARY_ROW, CANARY_KEY) == _CANARY_PLAINTEXT:
                return
        except DecryptionError:
            pass
        try:
            sealed_with = f"key id {KeyRing.key_id_of(sealed)!r}"
        except DecryptionError:
            sealed_with = "an unknown key"
        raise KeyRingError(
            "the encryption keys do not match this database (ZOHO_ENCRYPTION_KEYS): its data is "
            f"sealed with {sealed_with}, and the configured keys "
            f"({', '.join(self._keyring.key_ids)}) do not open it. Set ZOHO_ENCRYPTION_KEYS to "
            "the keys this database was created with (a new key goes first, the old ones after)."
        )

    def rotate_keys(self, *, batch_size: int = 200) -> int:
        """Re-seal every sealed value under the first key; returns how many changed.

        Rows are re-sealed in short batches; a row changed meanwhile by a refresh is re-read,
        not overwritten. Afterwards the old keys can be removed from ``ZOHO_ENCRYPTION_KEYS``.
        """
        changed = 0
        changed += self._rotate_connections(batch_size)
        changed += self._rotate_simple(
            ConnectTransactionRow, "code_verifier_sealed", VERIFIER, batch_size
        )
        changed += self._rotate_simple(PendingRevocationRow, "token_sealed", REVOKE, batch_size)
        with self._write() as session:
            canary = session.get(MetaRow, CANARY_KEY, with_for_update=True)
            if canary is not None and not self._keyring.is_current(canary.value):
                plain = self._open(canary.value, _CANARY_ROW, CANARY_KEY)
                canary.value = self._seal(plain, _CANARY_ROW, CANARY_KEY)
                changed += 1
        return changed

    def _reseal(self, sealed: str | None, row_id: str, field: str) -> str | None:
        if sealed is None or self._keyring.is_current(sealed):
            return sealed
        return self._seal(self._open(sealed, row_id, field), row_id, field)

    def _reseal_in_batches(
        self, model: Any, batch_size: int, reseal_row: Callable[[Any], int]
    ) -> int:
        """Calls ``reseal_row`` on every row of ``model``, in id order, ``batch_size`` rows
        (locked) per transaction; returns the sum of what it returned (values changed)."""
        changed = 0
        after = ""
        while True:
            with self._write() as session:
                rows = session.scalars(
                    select(model)
                    .where(model.id > after)
                    .order_by(model.id)
                    .limit(batch_size)
                    .with_for_update()
                ).all()
                for row in rows:
                    changed += reseal_row(row)
            if len(rows) < batch_size:
                return changed
            after = rows[-1].id

    def _rotate_connections(self, batch_size: int) -> int:
        def reseal_row(row: ConnectionRow) -> int:
            access = self._reseal(row.access_token_sealed, row.id, ACCESS)
            refresh = self._reseal(row.refresh_token_sealed, row.id, REFRESH)
            changed = (access != row.access_token_sealed) + (refresh != row.refresh_token_sealed)
            # Not a token change: the version stays, so no refresher is fenced out.
            row.access_token_sealed = access
            row.refresh_token_sealed = refresh
            if refresh is not None:
                row.key_id = self._keyring.primary_key_id
            return changed

        return self._reseal_in_batches(ConnectionRow, batch_size, reseal_row)

    def _rotate_simple(self, model: Any, column: str, field: str, batch_size: int) -> int:
        def reseal_row(row: Any) -> int:
            old = getattr(row, column)
            new = self._reseal(old, row.id, field)
            if new == old:
                return 0
            setattr(row, column, new)
            return 1

        return self._reseal_in_batches(model, batch_size, reseal_row)

    # -- connect sessions and transactions ------------------------------------------------

    def create_connect_session(
        self,
        *,
        owner: str,
        return_url: str | None = None,
        location: str | None = None,
        ttl: float = 600.0,
    ) -> tuple[str, datetime]:
        """A single-use session token the app hands to its user's browser, and its expiry."""
        _check_owner(owner)
        token = secrets.token_urlsafe(32)
        now = self._now()
        expires_at = now + timedelta(seconds=ttl)
        with self._write() as session:
            # Expired transactions go as new ones come, even if no worker runs (SECURITY 4).
            session.execute(
                delete(ConnectTransactionRow)
                .where(ConnectTransactionRow.expires_at <= now)
                .execution_options(synchronize_session=False)
            )
            session.add(
                ConnectTransactionRow(
                    id=_new_id(),
                    session_token_hash=_hash(token),
                    owner=owner,
                    return_url=return_url,
                    start_location=location,
                    created_at=now,
                    expires_at=expires_at,
                )
            )
        return token, expires_at

    def start_connect(
        self, session_token: str, *, state: str, binding: str, code_verifier: str
    ) -> PendingConnect:
        """Use a connect session (once) to start an authorization; it expires in 10 minutes.

        The link is checked by a read first: an unknown, used or expired one writes nothing and
        takes no write lock (SECURITY 51); only a link that passes is claimed, by a write that
        checks again (another request may have claimed it in between).
        """
        now = self._now()
        token_hash = _hash(session_token)
        with self._read() as session:
            row = session.scalars(
                select(ConnectTransactionRow).where(
                    ConnectTransactionRow.session_token_hash == token_hash
                )
            ).first()
            _check_session(row, now)
        with self._write() as session:
            row = session.scalars(
                select(ConnectTransactionRow)
                .where(ConnectTransactionRow.session_token_hash == token_hash)
                .with_for_update()
            ).first()
            row = _check_session(row, now)
            result = session.execute(
                update(ConnectTransactionRow)
                .where(
                    ConnectTransactionRow.id == row.id,
                    ConnectTransactionRow.started_at.is_(None),
                    ConnectTransactionRow.expires_at > now,
                )
                .values(
                    state_hash=_hash(state),
                    binding_hash=_hash(binding),
                    code_verifier_sealed=self._seal(code_verifier, row.id, VERIFIER),
                    started_at=now,
                    expires_at=now + TRANSACTION_TTL,
                )
                .execution_options(synchronize_session=False)
            )
            if _rowcount(result) != 1:
                raise ConnectFlowError("this connect link was already used; ask for a new one")
            return PendingConnect(
                owner=row.owner,
                return_url=row.return_url,
                start_location=row.start_location,
                code_verifier=code_verifier,
            )

    def consume_state(self, state: str, binding: str) -> PendingConnect:
        """Consume the transaction ``state`` names, once, from the browser that started it.

        A read decides first: a callback with an unknown state, another browser's binding, or
        a used or expired state writes nothing and takes no write lock (SECURITY 51). Only one
        that passes is consumed, by a write that checks again.
        """
        now = self._now()
        state_hash = _hash(state)
        query = select(ConnectTransactionRow).where(ConnectTransactionRow.state_hash == state_hash)
        with self._read() as session:
            _check_state(session.scalars(query).first(), binding, now)
        with self._write() as session:
            row = _check_state(session.scalars(query.with_for_update()).first(), binding, now)
            sealed = row.code_verifier_sealed
            result = session.execute(
                update(ConnectTransactionRow)
                .where(
                    ConnectTransactionRow.id == row.id,
                    ConnectTransactionRow.consumed_at.is_(None),
                    ConnectTransactionRow.expires_at > now,
                )
                .values(consumed_at=now, code_verifier_sealed=None)
                .execution_options(synchronize_session=False)
            )
            if _rowcount(result) != 1 or sealed is None:
                raise ConnectFlowError("this sign-in was already completed: start again")
            verifier = self._open(sealed, row.id, VERIFIER)
            return PendingConnect(
                owner=row.owner,
                return_url=row.return_url,
                start_location=row.start_location,
                code_verifier=verifier,
            )

    def purge_expired(self, now: datetime | float | None = None) -> int:
        """Delete expired connect transactions; returns how many went."""
        cutoff = self._now() if now is None else _as_datetime(now)
        with self._write() as session:
            result = session.execute(
                delete(ConnectTransactionRow)
                .where(ConnectTransactionRow.expires_at <= cutoff)
                .execution_options(synchronize_session=False)
            )
            return _rowcount(result)

    # -- connections ----------------------------------------------------------------------

    def save_connection(
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
        _check_owner(owner)
        for attempt in range(2):
            try:
                return self._save_connection(
                    owner, location, api_domain, scopes, tokens, zoho_user_id, claim
                )
            except IntegrityError:
                # Two first connects of one Zoho user raced; the second becomes a reconnect.
                if attempt:
                    raise
        raise AssertionError("unreachable")

    def _save_connection(
        self,
        owner: str,
        location: str,
        api_domain: str,
        scopes: Sequence[str] | str,
        tokens: TokenSet,
        zoho_user_id: str | None,
        claim: str | None,
    ) -> tuple[Connection, bool]:
        now = self._now()
        same_owner = (ConnectionRow.owner == owner, ConnectionRow.location == location)
        with self._write() as session:
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
                    .where(
                        *same_owner, ConnectionRow.id == claim, ConnectionRow.zoho_user_id.is_(None)
                    )
                    .with_for_update()
                ).first()
            created = row is None
            if row is None:
                row = ConnectionRow(
                    id=_new_id(),
                    owner=owner,
                    location=location,
                    zoho_user_id=zoho_user_id,
                    version=1,
                    created_at=now,
                )
                session.add(row)
            else:
                old_sealed = row.refresh_token_sealed
                if tokens.refresh_token is not None and old_sealed is not None:
                    try:
                        old = self._open(old_sealed, row.id, REFRESH)
                    except DecryptionError:
                        old = None  # cannot be revoked by us; Zoho will age it out
                    if old is not None and old != tokens.refresh_token:
                        self._queue_revocation(session, row.id, row.location, old, now)
                row.version += 1
                if zoho_user_id is not None:
                    row.zoho_user_id = zoho_user_id
            row.api_domain = api_domain
            row.scopes = _scopes_text(scopes)
            row.status = "active"
            row.status_reason = None
            row.access_token_sealed = self._seal(tokens.access_token, row.id, ACCESS)
            row.access_expires_at = _as_datetime(tokens.expires_at)
            if tokens.refresh_token is not None:
                row.refresh_token_sealed = self._seal(tokens.refresh_token, row.id, REFRESH)
                row.key_id = self._keyring.primary_key_id
            row.updated_at = now
            session.flush()
            return _connection(row), created

    def queue_revocation(self, location: str, token: str) -> None:
        """Queue a token that belongs to no stored connection for revocation at ``location``'s
        accounts server, retried until Zoho confirms (e.g. one minted for a refused connect)."""
        with self._write() as session:
            self._queue_revocation(session, None, location, token, self._now())

    def _queue_revocation(
        self,
        session: Session,
        connection_id: str | None,
        location: str,
        token: str,
        now: datetime,
    ) -> None:
        rev_id = _new_id()
        session.add(
            PendingRevocationRow(
                id=rev_id,
                connection_id=connection_id,
                location=location,
                token_sealed=self._seal(token, rev_id, REVOKE),
                attempts=0,
                created_at=now,
                next_attempt_at=now,
            )
        )

    def get_connection(self, connection_id: str) -> Connection:
        """The connection, or ``ConnectionNotFoundError`` for any unknown or malformed id."""
        if not isinstance(connection_id, str) or not _ID.fullmatch(connection_id):
            raise ConnectionNotFoundError("no connection with that id")
        with self._read() as session:
            row = session.get(ConnectionRow, connection_id)
            if row is None:
                raise ConnectionNotFoundError("no connection with that id")
            return _connection(row)

    def list_connections(self, owner: str | None = None) -> list[Connection]:
        """Every connection, or the owner's, oldest first."""
        if owner is not None and not _valid_owner(owner):
            return []  # no connection can have it (and PostgreSQL refuses a NUL in a query)
        query = select(ConnectionRow).order_by(ConnectionRow.created_at, ConnectionRow.id)
        if owner is not None:
            query = query.where(ConnectionRow.owner == owner)
        with self._read() as session:
            return [_connection(row) for row in session.scalars(query)]

    def connections_expiring(self, before: datetime | float, *, limit: int = 100) -> list[str]:
        """Ids of active connections whose access token is missing or ends before ``before``,
        soonest first (what a background refresher works through)."""
        query = (
            select(ConnectionRow.id)
            .where(
                ConnectionRow.status == "active",
                (ConnectionRow.access_expires_at.is_(None))
                | (ConnectionRow.access_expires_at < _as_datetime(before)),
            )
            .order_by(ConnectionRow.access_expires_at.asc().nulls_first(), ConnectionRow.id)
            .limit(limit)
        )
        with self._read() as session:
            return list(session.scalars(query))

    def load_tokens(self, connection_id: str) -> StoredTokens:
        """The connection's tokens, opened, with the version to fence the next write."""
        if not isinstance(connection_id, str) or not _ID.fullmatch(connection_id):
            raise ConnectionNotFoundError("no connection with that id")
        with self._read() as session:
            row = session.get(ConnectionRow, connection_id)
            if row is None:
                raise ConnectionNotFoundError("no connection with that id")
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

    def store_refreshed(
        self,
        connection_id: str,
        *,
        expected_version: int,
        access_token: str,
        expires_at: datetime | float,
        refresh_token: str | None = None,
    ) -> int:
        """Store a refreshed access token if the row is still at ``expected_version``.

        Returns the new version. ``StaleWriteError`` when another writer got there first: the
        newer tokens stay (SECURITY 28).
        """
        if not isinstance(connection_id, str) or not _ID.fullmatch(connection_id):
            raise ConnectionNotFoundError("no connection with that id")
        now = self._now()
        values: dict[str, Any] = {
            "access_token_sealed": self._seal(access_token, connection_id, ACCESS),
            "access_expires_at": _as_datetime(expires_at),
            "version": ConnectionRow.version + 1,
            "last_refresh_at": now,
            "updated_at": now,
        }
        if refresh_token is not None:
            values["refresh_token_sealed"] = self._seal(refresh_token, connection_id, REFRESH)
            values["key_id"] = self._keyring.primary_key_id
        with self._write() as session:
            result = session.execute(
                update(ConnectionRow)
                .where(
                    ConnectionRow.id == connection_id,
                    ConnectionRow.version == expected_version,
                )
                .values(**values)
                .execution_options(synchronize_session=False)
            )
            if _rowcount(result) == 1:
                return expected_version + 1
            if session.get(ConnectionRow, connection_id) is None:
                raise ConnectionNotFoundError("no connection with that id")
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
            "status_reason": _one_line(reason) if reason else None,
            "updated_at": self._now(),
        }
        if not isinstance(connection_id, str) or not _ID.fullmatch(connection_id):
            raise ConnectionNotFoundError("no connection with that id")
        with self._write() as session:
            statement = update(ConnectionRow).where(ConnectionRow.id == connection_id)
            if expected_version is not None:
                statement = statement.where(ConnectionRow.version == expected_version)
            result = session.execute(
                statement.values(**values).execution_options(synchronize_session=False)
            )
            if _rowcount(result) == 1:
                return
            if session.get(ConnectionRow, connection_id) is None:
                raise ConnectionNotFoundError("no connection with that id")
        raise StaleWriteError("the connection changed since it was read; re-read it")

    def set_organization(self, connection_id: str, organization_id: str | None) -> None:
        """Remember which Zoho organization the connection works in."""
        with self._write() as session:
            row = self._lock(session, connection_id)
            row.organization_id = organization_id
            row.updated_at = self._now()

    def disconnect(self, connection_id: str) -> Connection:
        """Wipe the tokens, mark the connection revoked and queue the revoke at Zoho.

        One transaction: even if Zoho never answers, the tokens are gone from here and the
        revoke is retried by the worker (SECURITY 36).
        """
        now = self._now()
        with self._write() as session:
            row = self._lock(session, connection_id)
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
                self._queue_revocation(session, row.id, row.location, token, now)
            row.access_token_sealed = None
            row.access_expires_at = None
            row.refresh_token_sealed = None
            row.key_id = None
            row.status = "revoked"
            row.status_reason = "disconnected"
            row.version += 1
            row.updated_at = now
            session.flush()
            return _connection(row)

    # -- revocations ----------------------------------------------------------------------

    def due_revocations(
        self, now: datetime | float | None = None, limit: int = 100
    ) -> list[PendingRevocation]:
        """Revocations whose next attempt is due, oldest first."""
        cutoff = self._now() if now is None else _as_datetime(now)
        with self._read() as session:
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

    def revocation_done(self, revocation_id: str) -> None:
        """Zoho confirmed: forget the token."""
        with self._write() as session:
            session.execute(
                delete(PendingRevocationRow)
                .where(PendingRevocationRow.id == revocation_id)
                .execution_options(synchronize_session=False)
            )

    def revocation_failed(self, revocation_id: str, error: str, retry_at: datetime | float) -> None:
        """Count a failed attempt and schedule the next one. ``error`` must hold no secret."""
        with self._write() as session:
            session.execute(
                update(PendingRevocationRow)
                .where(PendingRevocationRow.id == revocation_id)
                .values(
                    attempts=PendingRevocationRow.attempts + 1,
                    last_error=_one_line(error),
                    next_attempt_at=_as_datetime(retry_at),
                )
                .execution_options(synchronize_session=False)
            )

    # -- Zoho's mint budget ---------------------------------------------------------------

    def record_mint(self, connection_id: str, at: datetime | float | None = None) -> int:
        """Count one access token minted for the connection (and forget old ones).

        Returns the mint's id, for ``forget_mint``.
        """
        minted = self._now() if at is None else _as_datetime(at)
        with self._write() as session:
            self._lock(session, connection_id)
            mint = TokenMintRow(connection_id=connection_id, minted_at=minted)
            session.add(mint)
            session.flush()
            mint_id = int(mint.id)
            session.execute(
                delete(TokenMintRow)
                .where(
                    TokenMintRow.connection_id == connection_id,
                    TokenMintRow.minted_at < minted - _MINT_HISTORY,
                )
                .execution_options(synchronize_session=False)
            )
        return mint_id

    def forget_mint(self, mint_id: int) -> None:
        """Uncount a mint recorded before asking Zoho, when Zoho's answer says it minted
        nothing (a throttle, ``invalid_code``)."""
        with self._write() as session:
            session.execute(
                delete(TokenMintRow)
                .where(TokenMintRow.id == mint_id)
                .execution_options(synchronize_session=False)
            )

    def mints_since(self, connection_id: str, since: datetime | float) -> int:
        """How many access tokens were minted for the connection since ``since``."""
        with self._read() as session:
            count = session.scalar(
                select(func.count())
                .select_from(TokenMintRow)
                .where(
                    TokenMintRow.connection_id == connection_id,
                    TokenMintRow.minted_at >= _as_datetime(since),
                )
            )
        return int(count or 0)
