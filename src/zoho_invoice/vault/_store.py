"""The vault: one database, stores of one job each, and the key ring that seals their secrets.

``Vault`` opens the database (migrating it, checking the keys) and hands out its stores:
``keys`` (the canary, rotation), ``connect_sessions``, ``connections`` (and their tokens),
``revocations``, ``mints``, the ``webhook_outbox``, ``refresh_locks()`` and ``quota_blocks()``.
Each store is one module that works alone on an engine (``vault/_connections.py`` and its
siblings); the methods the vault had before the split stay as the same stores' methods, so
``vault.save_connection(...)`` and ``vault.connections.save(...)`` are one thing.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Collection
from contextlib import AbstractContextManager
from datetime import datetime
from typing import TYPE_CHECKING, Any, Concatenate, Generic, ParamSpec, TypeVar, overload

from sqlalchemy import Engine, text
from sqlalchemy.engine import URL

from .._exceptions import VaultError
from ._connect_sessions import ConnectSessions
from ._connections import Connections
from ._db import create_engine_for, current_revision, head_revision, upgrade_database
from ._db_session import unavailable
from ._keyring import KeyRing
from ._keys import Keys
from ._leases import VaultRefreshLocks, refresh_locks_for
from ._local_writes import write_generation
from ._mints import Mints
from ._mirror_store import MirrorStore
from ._outbox import WebhookOutbox
from ._quota_blocks import DatabaseQuotaBlocks
from ._refresh_schedule import RefreshSchedule
from ._revocations import Revocations
from ._sync_triggers import SyncTriggers
from ._unit_of_work import UnitOfWork, unit_of_work

if TYPE_CHECKING:
    from ..settings import Settings

__all__ = ["Vault"]

_P = ParamSpec("_P")
_R = TypeVar("_R")


class _Forward(Generic[_P, _R]):
    """A method of ``Vault`` that is a method of one of its stores: ``vault.load_tokens`` is
    ``vault.connections.load_tokens``, typed as that method and documented by its docstring.
    A class attribute, so a subclass can still override it as it could before the split."""

    def __init__(self, store: str, method: Callable[Concatenate[Any, _P], _R]) -> None:
        self._store = store
        self._name = method.__name__
        self.__doc__ = method.__doc__

    def __repr__(self) -> str:
        return f"<vault.{self._store}.{self._name}>"

    @overload
    def __get__(self, vault: None, owner: type[Vault]) -> _Forward[_P, _R]: ...
    @overload
    def __get__(self, vault: Vault, owner: type[Vault]) -> Callable[_P, _R]: ...
    def __get__(
        self, vault: Vault | None, owner: type[Vault]
    ) -> _Forward[_P, _R] | Callable[_P, _R]:
        if vault is None:
            return self
        method: Callable[_P, _R] = getattr(getattr(vault, self._store), self._name)
        return method


class Vault:
    """The vault's database and its stores, their secrets sealed with a :class:`KeyRing`.

    ``keys``, ``connect_sessions``, ``connections``, ``revocations`` and ``mints`` are the
    stores; the methods of before (``vault.load_tokens`` ...) are theirs, unchanged.

    >>> vault = Vault.open("sqlite:///data/zoho.db", KeyRing.from_string(keys), upgrade=True)
    >>> tokens = vault.connections.load_tokens(connection_id)   # or vault.load_tokens(...)
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
        self._keyring = keyring
        self._clock = clock
        self._owns_engine = owns_engine
        self.keys = Keys(engine, keyring, clock=clock)
        self.connect_sessions = ConnectSessions(engine, keyring, clock=clock)
        self.connections = Connections(engine, keyring, clock=clock)
        self.revocations = Revocations(engine, keyring, clock=clock)
        self.mints = Mints(engine, clock=clock)
        self.refresh_schedule = RefreshSchedule(engine, clock=clock)
        self._refresh_locks: VaultRefreshLocks | None = None

    # The vault's methods from before the split, each its store's method (``_Forward``).
    check_keyring = _Forward("keys", Keys.check)
    rotate_keys = _Forward("keys", Keys.rotate)
    create_connect_session = _Forward("connect_sessions", ConnectSessions.create)
    start_connect = _Forward("connect_sessions", ConnectSessions.start)
    consume_state = _Forward("connect_sessions", ConnectSessions.consume_state)
    purge_expired = _Forward("connect_sessions", ConnectSessions.purge_expired)
    save_connection = _Forward("connections", Connections.save)
    get_connection = _Forward("connections", Connections.get)
    list_connections = _Forward("connections", Connections.list_all)
    connections_expiring = _Forward("connections", Connections.expiring)
    load_tokens = _Forward("connections", Connections.load_tokens)
    load_access = _Forward("connections", Connections.load_access)
    access_stamp = _Forward("connections", Connections.access_stamp)
    store_refreshed = _Forward("connections", Connections.store_refreshed)
    set_status = _Forward("connections", Connections.set_status)
    set_organization = _Forward("connections", Connections.set_organization)
    disconnect = _Forward("connections", Connections.disconnect)
    queue_revocation = _Forward("revocations", Revocations.queue)
    due_revocations = _Forward("revocations", Revocations.due)
    revocation_done = _Forward("revocations", Revocations.done)
    revocation_failed = _Forward("revocations", Revocations.failed)
    record_mint = _Forward("mints", Mints.record)
    record_mint_within = _Forward("mints", Mints.record_within)
    forget_mint = _Forward("mints", Mints.forget)
    mints_since = _Forward("mints", Mints.since)

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
            vault.keys.check()
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
        with unavailable():
            upgrade_database(self._engine)

    def _require_schema(self) -> None:
        with unavailable():
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

    def unit_of_work(self) -> AbstractContextManager[UnitOfWork]:
        """One transaction for several writes: a state change and the event it causes commit
        together or not at all, since the stores and the outbox join it
        (``vault/_unit_of_work.py``).

        >>> with vault.unit_of_work():
        ...     vault.set_status(connection_id, "needs_reauth", reason="invalid_code")
        ...     events(ConnectionEvent(type="connection.needs_reauth", ...))
        """
        return unit_of_work(self._engine, guard=unavailable)

    # -- the stores that need no key ------------------------------------------------------

    @property
    def webhook_outbox(self) -> WebhookOutbox:
        """Webhook deliveries waiting in this database (SECURITY 48); see ``vault/_outbox.py``."""
        return WebhookOutbox(self._engine, clock=self._clock, guard=unavailable)

    @property
    def mirror(self) -> MirrorStore:
        """The Zoho mirror's rows, sync state, change feed and sync leases (issue 10); see
        ``vault/_mirror_store.py`` and ``zoho_invoice.mirror``, which drives it."""
        return MirrorStore(self._engine, clock=self._clock)

    @property
    def sync_triggers(self) -> SyncTriggers:
        """The mirror's workflow-webhook URLs (hashed) and the debounced syncs they request
        (issue 10); see ``vault/_sync_triggers.py``."""
        return SyncTriggers(self._engine, clock=self._clock)

    def refresh_locks(self) -> VaultRefreshLocks:
        """Refresh locks in this database, shared by every process that opens it (SECURITY 27):
        a PostgreSQL advisory lock, or a file lock beside a SQLite file; each dies with its
        holder and wakes its waiters at once (see ``vault/_leases.py``). One per vault."""
        if self._refresh_locks is None:
            self._refresh_locks = refresh_locks_for(self._engine, clock=self._clock)
        return self._refresh_locks

    def quota_blocks(self) -> DatabaseQuotaBlocks:
        """Daily-quota blocks (Zoho's code 45) in this database, seen by every process opening
        it; see ``vault/_quota_blocks.py``."""
        return DatabaseQuotaBlocks(self._engine, clock=self._clock)

    def record_use(self, connection_ids: Collection[str], at: datetime, /) -> int:
        """Mark connections in use at ``at`` (``RefreshSchedule.record_use``: one UPDATE)."""
        return self.refresh_schedule.record_use(connection_ids, at)

    def connection_generation(self, connection_id: str) -> int:
        """A number that changes whenever this process writes the connection's row, through
        any ``Vault`` (no I/O): what lets a token cache honour this process's own disconnects,
        verdicts and rotations at once (``vault/_local_writes.py``)."""
        return write_generation(connection_id)

    def ping(self) -> None:
        """``VaultUnavailableError`` unless the database answers."""
        with unavailable(), self._engine.connect() as conn:
            conn.execute(text("SELECT 1"))

    def close(self) -> None:
        """Release the database connections (the engine is disposed if the vault made it)."""
        if self._refresh_locks is not None:
            self._refresh_locks.dispose()
        if self._owns_engine:
            self._engine.dispose()
