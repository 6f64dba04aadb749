"""The token manager: a valid access token per connection, refreshed once, within Zoho's limits.

``get_access_token`` answers a token valid beyond the leeway from memory (``tokens/_cache.py``:
re-checked against the row at most ``staleness_bound`` seconds apart, and at once after a write
of this process), else reads the row's access token alone (the refresh token stays sealed) and
returns it if it is valid beyond the leeway. Otherwise one caller refreshes under the
connection's lock while the others wait and re-read the row (SECURITY 26, 27, 29). Every
write is fenced by the row's version (28). Transient failures are retried at most
``retry_attempts`` times with jittered back-off inside the lock's lease (30); a dead refresh
token marks the connection ``needs_reauth`` and announces it (31); Zoho's throttle and our own
10-per-10-minutes budget never cause a retry storm (32, 33).

No call spends more than ``MAX_LOCK_WAIT`` (10 s) waiting for the lock and refreshing: the
wait, the retries and each attempt's timeout fit in what remains; then the caller gets the
current token while it lives, else ``TokenUnavailableError`` with ``retry_after``. The refresh
holds the lock through few round trips: the mint is counted and recorded in one committed
transaction before Zoho is asked, the new token is stored with one fenced UPDATE and kept in
memory for this process's next callers. ``AsyncTokenManager`` sends one thread per connection
at a time; its other tasks await that call's answer.

The manager also marks the connections its callers use (``record_use``, read by the worker's
in-use window): at most once per connection per ``use_mark_interval`` in a process, noted only
where it reads the database anyway and written in batches by a staleness check; never on a
cache hit.
"""

from __future__ import annotations

import hmac
import logging
import threading
import time
from collections.abc import Callable, Collection
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, NoReturn, Protocol

import anyio.to_thread
import tenacity

from .. import _metrics
from .._exceptions import (
    ClientSecretRejectedError,
    DataCenterError,
    InvalidClientError,
    InvalidClientSecretError,
    InvalidGrantError,
    OAuthError,
    OAuthTransientError,
    ReauthorizationRequired,
    StaleWriteError,
    TokenThrottledError,
    TokenUnavailableError,
    VaultError,
)
from .._redact import redact
from .._zoho_codes import CODE_UNAUTHORIZED
from ..datacenters import DataCenter, DataCenterTable
from ..oauth._types import TokenSet
from ..vault._stored_access import RowStamp, StoredAccess
from ..vault._types import Connection, Status, StoredTokens
from ._backoff import Backoff
from ._cache import AccessTokenCache, CachedAccess
from ._events import EventSink
from ._locks import LayeredRefreshLocks, RedisRefreshLocks, RefreshLocks
from ._types import AccessToken, ConnectionEvent

if TYPE_CHECKING:
    from ..settings import Settings

__all__ = ["AsyncTokenManager", "TokenManager", "TokenVault"]

logger = logging.getLogger("zoho_invoice.tokens")

#: Zoho's limit: access tokens per refresh token per window.
MINT_LIMIT = 10
MINT_WINDOW = 600.0
#: A token with less life than this is not handed out even as a fallback.
MIN_USEFUL = 5.0
#: The longest one ``get_access_token`` spends waiting for another's refresh or refreshing
#: itself (``lock_wait`` is capped to it; the refresh's attempts and their timeouts fit in what
#: remains): no request waits longer (issue 9).
MAX_LOCK_WAIT = 10.0
#: A refresh that would have less than this left of the request's bound is not started.
MIN_ATTEMPT = 0.5
#: A token we minted this recently is valid: a code 57 on it means a missing scope.
JUST_MINTED = 120.0


class TokenVault(Protocol):
    """The vault methods the manager uses (``zoho_invoice.vault.Vault`` has them)."""

    def load_tokens(self, connection_id: str, /) -> StoredTokens: ...
    # The hot path: the access token alone with the row's stamp; the stamp alone (None: no
    # such row); a number that changes whenever this process writes the row (no I/O).
    def load_access(self, connection_id: str, /) -> StoredAccess: ...
    def access_stamp(self, connection_id: str, /) -> RowStamp | None: ...
    def connection_generation(self, connection_id: str, /) -> int: ...
    def get_connection(self, connection_id: str, /) -> Connection: ...
    def store_refreshed(
        self,
        connection_id: str,
        /,
        *,
        expected_version: int,
        access_token: str,
        expires_at: datetime,
    ) -> int: ...
    def set_status(
        self,
        connection_id: str,
        status: Status,
        /,
        *,
        reason: str | None = None,
        expected_version: int | None = None,
    ) -> object: ...
    # The count and the record of a mint in one committed transaction (SECURITY 32, 33): the
    # mint's id, or None when ``limit`` were recorded since ``since`` (nothing recorded).
    def record_mint_within(
        self, connection_id: str, at: datetime, /, *, since: datetime, limit: int
    ) -> int | None: ...
    def forget_mint(self, mint_id: int, /) -> object: ...
    def mints_since(self, connection_id: str, since: datetime, /) -> int: ...
    # Callers had tokens for these connections at ``at`` (the worker keeps them warm): one
    # UPDATE for them all; how many rows moved.
    def record_use(self, connection_ids: Collection[str], at: datetime, /) -> int: ...
    def refresh_locks(self) -> RefreshLocks:
        """Refresh locks every process opening this vault shares (SECURITY 27)."""
        ...

    def unit_of_work(self) -> AbstractContextManager[object]:
        """One transaction for a state change and its event (``vault/_unit_of_work.py``)."""
        ...


class TokenRefresher(Protocol):
    """What the manager needs of an ``OAuthClient``."""

    @property
    def datacenters(self) -> DataCenterTable: ...
    def refresh(
        self, datacenter: DataCenter | str, refresh_token: str, /, *, timeout: float | None = None
    ) -> TokenSet:
        """One attempt; ``timeout``: the most seconds it may take (``None``: the client's)."""
        ...


class _StopAt(tenacity.stop.stop_base):
    """Stop when the next attempt would start past ``deadline`` (the lock's lease, or the
    request's ``MAX_LOCK_WAIT``); each attempt's timeout is what remains until it."""

    def __init__(self, deadline: float, clock: Callable[[], float]) -> None:
        self._deadline = deadline
        self._clock = clock

    def __call__(self, retry_state: tenacity.RetryCallState) -> bool:
        return self._clock() + retry_state.upcoming_sleep >= self._deadline


class _MintsSpent(Exception):
    """Our record of Zoho's 10 tokens per 10 minutes says no: nothing was recorded or asked."""


#: Connections whose last use mark is remembered (then the memory starts again).
_USE_MARKS_KEPT = 100_000
#: Use marks noted within this many seconds go to the database in one UPDATE.
_USE_BATCH_SECONDS = 1.0

#: A row as the manager hands its access token out: both tokens opened (under the refresh lock)
#: or the access token alone (the hot path).
_TokenRow = StoredTokens | StoredAccess


def _utc(epoch: float) -> datetime:
    return datetime.fromtimestamp(epoch, UTC)


class TokenManager:
    """Hands out a valid access token for a connection at any moment.

    >>> manager = TokenManager(vault, oauth_client)  # doctest: +SKIP
    >>> token = manager.get_access_token(connection_id)  # doctest: +SKIP
    >>> headers = {"Authorization": f"Zoho-oauthtoken {token.token}"}  # doctest: +SKIP

    Raises ``ReauthorizationRequired`` when the user must connect again, and
    ``TokenUnavailableError`` (with ``retry_after``) when no valid token can be had right now.

    A 401 code 57 on a token known to work (``confirm``) or minted moments ago, for an operation
    that token never did, is a missing scope, not a dead token: ``invalidate(..., code=57,
    operation=...)`` keeps it and answers ``False``, so calls to an under-scoped endpoint never
    spend Zoho's 10 refreshes per 10 minutes. A 57 on an operation the token did before means
    the token died: it is refreshed as before.

    A token valid beyond the leeway is served from memory: a disconnect, ``needs_reauth`` or
    key rotation by another process is seen within ``staleness_bound`` seconds (1 s), one made
    in this process at once (``tokens/_cache.py``). ``staleness_bound=None`` reads the row on
    every call.
    """

    def __init__(
        self,
        vault: TokenVault,
        oauth: TokenRefresher,
        *,
        leeway: float = 300.0,
        locks: RefreshLocks | None = None,
        events: EventSink | None = None,
        clock: Callable[[], float] = time.time,
        retry_attempts: int = 3,
        lock_lease: float = 45.0,
        lock_wait: float = 8.0,
        backoff: Backoff | None = None,
        sleep: Callable[[float], None] = time.sleep,
        throttle_backoff: float = 60.0,
        staleness_bound: float | None = 1.0,
        use_mark_interval: float | None = 1800.0,
    ) -> None:
        if retry_attempts < 1:
            raise ValueError("retry_attempts must be at least 1")
        self._vault = vault
        self._oauth = oauth
        self.leeway = leeway
        if locks is None:
            # One refresh per connection across every process sharing the vault's database
            # (SECURITY 27), with the threads of this process queueing locally first.
            # Callers queued behind a finished refresh of this process re-read at once.
            locks = LayeredRefreshLocks(vault.refresh_locks(), coalesce=True)
        self._locks: RefreshLocks = locks
        self._events = events
        self._clock = clock
        self._retry_attempts = retry_attempts
        self._lock_lease = lock_lease
        # No request waits longer than MAX_LOCK_WAIT for another's refresh (issue 9): a longer
        # wait is capped; the waiter then gets the current token or TokenUnavailableError.
        self._lock_wait = min(lock_wait, MAX_LOCK_WAIT)
        self._backoff = backoff or Backoff()
        self._sleep = sleep
        self._throttle_backoff = throttle_backoff
        self._state_guard = threading.Lock()
        # connection id -> epoch until which we must not ask Zoho (throttle, budget).
        self._blocked_until: dict[str, float] = {}
        # connection id -> an access token the API refused (401): do not hand it out again.
        self._refused: dict[str, str] = {}
        # connection id -> (the access token last seen working, the operations it did).
        self._working: dict[str, tuple[str, set[str]]] = {}
        # connections whose last refresh met invalid_client_secret (our configuration's fault).
        self._secret_rejected_for: set[str] = set()
        # connection id -> (the token this manager minted last, when).
        self._minted: dict[str, tuple[str, float]] = {}
        # Opened access tokens served with no I/O, each re-checked against its row at most
        # ``staleness_bound`` seconds apart (tokens/_cache.py); None: read the row every call.
        self._cache = (
            None if staleness_bound is None else AccessTokenCache(staleness_bound=staleness_bound)
        )
        # Use marks (``record_use``, for the worker's in-use window): each connection at most
        # once per ``use_mark_interval`` in this process, noted only where the manager goes to
        # the database anyway (a row read, the staleness check), written a batch at a time.
        self._use_mark_interval = use_mark_interval
        self._use_marked: dict[str, float] = {}
        self._use_pending: set[str] = set()
        self._use_flushed_at = float("-inf")

    @classmethod
    def from_settings(
        cls,
        settings: Settings,
        *,
        vault: TokenVault | None = None,
        oauth: TokenRefresher | None = None,
        events: EventSink | None = None,
        **options: Any,
    ) -> TokenManager:
        """A manager wired from the environment: the vault (``ZOHO_DATABASE_URL``,
        ``ZOHO_ENCRYPTION_KEYS``), the OAuth client (``ZOHO_CLIENT_*``, ``ZOHO_DATACENTERS``),
        the refresh leeway and the event sink (``ZOHO_WEBHOOK_URL``: events are queued in the
        vault's webhook outbox, so webhooks need ``vault`` to be a ``Vault``).

        >>> manager = TokenManager.from_settings(Settings())  # doctest: +SKIP
        """
        from ..oauth import OAuthClient
        from ..vault import Vault
        from ._events import event_sink_from_settings

        if oauth is None:
            oauth = OAuthClient.from_settings(settings)
        if vault is None:
            vault = Vault.from_settings(settings)
        if events is None:
            # Webhooks are queued in the vault's outbox; the worker or the service sends them.
            events = event_sink_from_settings(settings, vault if isinstance(vault, Vault) else None)
        options.setdefault("leeway", settings.refresh_leeway)
        options.setdefault("lock_lease", settings.refresh_lease)  # ZOHO_REFRESH_LEASE
        # Marked in use often enough that the worker's window never lapses while callers ask.
        options.setdefault("use_mark_interval", settings.in_use_window / 4)
        if settings.redis_url and "locks" not in options:
            # The vault's database lock decides who refreshes; Redis only queues contenders
            # (at most a second), so a Redis that is down never stops a refresh.
            options["locks"] = LayeredRefreshLocks(
                vault.refresh_locks(),
                coalesce=True,
                accelerator=RedisRefreshLocks.from_url(settings.redis_url, poll=0.01),
            )
        return cls(vault, oauth, events=events, **options)

    # -- public ------------------------------------------------------------------------------

    def get_access_token(self, connection_id: str) -> AccessToken:
        cached = self._cache_hit(connection_id) or self._recheck(connection_id)
        if cached is not None:
            return cached
        # From here on this call spends at most MAX_LOCK_WAIT seconds waiting and refreshing.
        begun = self._clock()
        row: _TokenRow = self._read_access(connection_id)  # the lock below reads both tokens
        now = self._clock()
        if self._fresh(connection_id, row, now):
            return self._access(connection_id, row)
        blocked = self._blocked(connection_id, now)
        if blocked is not None:
            if connection_id in self._secret_rejected_for:
                return self._secret_rejected(connection_id, row, now)
            return self._fallback(
                connection_id, row, now, blocked - now, "Zoho's token limit is reached"
            )
        wait = max(0.0, min(self._lock_wait, begun + MAX_LOCK_WAIT - now))
        with self._locks.acquire(
            connection_id, lease_seconds=self._lock_lease, wait_seconds=wait
        ) as acquired:
            started = self._clock()
            if not acquired:
                # We waited behind a refresh (or gave up waiting): the access token alone
                # tells; the refresh token is not opened. The first waiter's read is cached.
                seen = self._cache_hit(connection_id) or self._read_access(connection_id)
                if isinstance(seen, AccessToken):
                    return seen
                if self._fresh(connection_id, seen, started):
                    return self._access(connection_id, seen)
                return self._fallback(
                    connection_id,
                    seen,
                    started,
                    2.0,
                    "another worker is refreshing this connection's token",
                )
            # Re-read: whoever held the lock before us may have refreshed (single-flight).
            row = self._load(connection_id)
            if self._fresh(connection_id, row, started):
                return self._access(connection_id, row)
            # The refresh ends within the lock's lease and within this request's bound.
            deadline = min(started + self._lock_lease - 1.0, begun + MAX_LOCK_WAIT)
            return self._refresh_locked(connection_id, row, started, deadline)

    def invalidate(
        self,
        connection_id: str,
        token: str,
        *,
        code: int | None = None,
        operation: str | None = None,
    ) -> bool:
        """The API refused ``token`` (a 401): the next call refreshes, if it is still stored.

        A token that was already replaced is ignored, so many callers reporting the same 401
        cause one refresh, not many. With Zoho's ``code`` 57, a token seen working (``confirm``)
        or minted here moments ago is kept when ``operation`` (``"GET contacts"``) is one it
        never did: the refusal is a missing scope, and a refresh would not cure it. Returns
        ``False`` when the token is kept, ``True`` otherwise.
        """
        now = self._clock()
        row = self._vault.load_access(connection_id)
        stored = row.access_token is not None and hmac.compare_digest(
            row.access_token.encode(), token.encode()
        )
        # A stored token near its end may simply have expired at Zoho (clocks differ): refresh.
        ending = (
            stored
            and row.access_expires_at is not None
            and row.access_expires_at.timestamp() - now <= self.leeway
        )
        if (
            code == CODE_UNAUTHORIZED
            and not ending
            and self._known_good(connection_id, token, operation, now)
        ):
            logger.info(
                "connection %s: Zoho refused a working token (code 57): a missing scope, "
                "no refresh",
                connection_id,
            )
            return False
        with self._state_guard:
            # Never again from memory, even a token another process has already replaced.
            if self._cache is not None and self._cache.cached_token(connection_id) == token:
                self._cache.drop(connection_id)
            if stored:
                self._refused[connection_id] = token
                self._working.pop(connection_id, None)
        return True

    def confirm(self, connection_id: str, token: str, operation: str | None = None) -> None:
        """The API accepted ``token`` for ``operation`` (``None``: the token is valid but lacks
        a scope): a later code 57 on it for another operation is a missing scope. No I/O."""
        with self._state_guard:
            current = self._working.get(connection_id)
            if current is None or not hmac.compare_digest(current[0].encode(), token.encode()):
                current = self._working[connection_id] = (token, set())
            if operation is not None:
                current[1].add(operation)

    def _known_good(
        self, connection_id: str, token: str, operation: str | None, now: float
    ) -> bool:
        with self._state_guard:
            working = self._working.get(connection_id)
            minted = self._minted.get(connection_id)
            if working is not None and hmac.compare_digest(working[0].encode(), token.encode()):
                # It did this very operation before: now refused, it died (revoked, expired).
                return operation is None or operation not in working[1]
        if (
            minted is not None
            and now - minted[1] < JUST_MINTED
            and hmac.compare_digest(minted[0].encode(), token.encode())
        ):
            self.confirm(connection_id, token)
            return True
        return False

    # -- reading the row ---------------------------------------------------------------------

    def _load(self, connection_id: str) -> StoredTokens:
        """Both tokens, opened: only under the refresh lock, where a refresh may follow."""
        row = self._vault.load_tokens(connection_id)
        self._require_active(connection_id, row.status)
        return row

    def _read_access(self, connection_id: str) -> StoredAccess:
        """The access token alone (the refresh token stays sealed), remembered in the cache
        when it is fresh."""
        generation = self._vault.connection_generation(connection_id)
        read_at = self._clock()
        row = self._vault.load_access(connection_id)
        self._require_active(connection_id, row.status)
        self._remember(connection_id, row, generation, read_at)
        self._note_use(connection_id, read_at, flush=False)  # off a refresh's critical path
        return row

    def _require_active(self, connection_id: str, status: Status) -> None:
        if status != "active":
            raise ReauthorizationRequired(
                f"connection {connection_id} is {status}: its user must connect again",
                connection_id=connection_id,
                status=status,
            )

    # -- the cache (tokens/_cache.py) --------------------------------------------------------

    def _write_generation(self, connection_id: str) -> int:
        """This process's write generation of the row (no I/O)."""
        return self._vault.connection_generation(connection_id)

    def _cache_hit(self, connection_id: str) -> AccessToken | None:
        """The cached token when it needs no I/O at all (safe on an event loop), else None."""
        if self._cache is None:
            return None
        return self._cache.fresh(
            connection_id,
            now=self._clock(),
            leeway=self.leeway,
            generation=self._vault.connection_generation(connection_id),
        )

    def _recheck(self, connection_id: str) -> AccessToken | None:
        """A cached token whose check is due: one stamp SELECT; unchanged row, served."""
        if self._cache is None:
            return None
        entry = self._cache.to_check(connection_id, now=self._clock(), leeway=self.leeway)
        if entry is None:
            return None
        generation = self._vault.connection_generation(connection_id)
        checked_at = self._clock()
        if self._vault.access_stamp(connection_id) != entry.stamp:
            self._cache.drop(connection_id, entry)
            return None
        if not self._cache.renew(
            connection_id, entry, checked_at=checked_at, generation=generation
        ):
            return None  # invalidated meanwhile: read the row
        self._note_use(connection_id, checked_at, flush=True)
        return entry.token

    def _remember(
        self, connection_id: str, row: StoredAccess, generation: int, read_at: float
    ) -> None:
        if self._cache is None or not self._fresh(connection_id, row, read_at):
            return
        token = self._access(connection_id, row)
        with self._state_guard:  # invalidate() drops under this guard: it cannot be undone
            if self._refused.get(connection_id) == token.token:
                return
            self._cache.put(
                connection_id,
                CachedAccess(
                    token=token,
                    expires_at=token.expires_at.timestamp(),
                    stamp=row.stamp,
                    generation=generation,
                    checked_at=read_at,
                ),
            )

    def _remember_minted(self, connection_id: str, token: AccessToken, generation: int) -> None:
        """Cache the token this manager has just stored, so that this process's callers
        queued behind the refresh get it from memory. ``generation`` was taken before the
        store: unless the store's own bump is the only write since, nothing is cached (another
        write of this process may be newer). The row's stamp is not known: the first check,
        a bound later, reads the row once."""
        if self._cache is None:
            return
        now = self._clock()
        if token.expires_at.timestamp() - now <= self.leeway:
            return
        if self._vault.connection_generation(connection_id) != generation + 1:
            return
        with self._state_guard:
            if self._refused.get(connection_id) == token.token:
                return
            self._cache.put(
                connection_id,
                CachedAccess(
                    token=token,
                    expires_at=token.expires_at.timestamp(),
                    stamp=None,
                    generation=generation + 1,
                    checked_at=now,
                ),
            )

    # -- use marks (the worker's in-use window) ------------------------------------------------

    def _note_use(self, connection_id: str, now: float, *, flush: bool) -> None:
        """A caller had a token for the connection: mark it in use, at most once per
        ``use_mark_interval`` here, batched with the others noted within a second. Called only
        where the manager has just gone to the database (never on a cache hit); the batch is
        written by a staleness check (``flush``), which a connection in steady use passes
        through every ``staleness_bound``, never before a refresh."""
        if self._use_mark_interval is None:
            return
        with self._state_guard:
            last = self._use_marked.get(connection_id)
            if last is None or not 0.0 <= now - last < self._use_mark_interval:
                if len(self._use_marked) >= _USE_MARKS_KEPT:
                    self._use_marked.clear()  # bounded memory: at worst a spare mark each
                self._use_marked[connection_id] = now
                self._use_pending.add(connection_id)
            if (
                not flush
                or not self._use_pending
                or 0.0 <= now - self._use_flushed_at < _USE_BATCH_SECONDS
            ):
                return
            batch, self._use_pending = self._use_pending, set()
            self._use_flushed_at = now
        try:
            self._vault.record_use(batch, _utc(now))
        except VaultError as exc:
            # A lost mark costs at most one caller's wait for a refresh later: forget that
            # these were marked, so the next call tries again.
            logger.warning("could not mark %d connections in use: %s", len(batch), exc)
            with self._state_guard:
                for marked in batch:
                    self._use_marked.pop(marked, None)

    def _life(self, connection_id: str, row: _TokenRow, now: float) -> float:
        """Seconds the stored access token still lives (0 when none or refused)."""
        if row.access_token is None or row.access_expires_at is None:
            return 0.0
        with self._state_guard:
            if self._refused.get(connection_id) == row.access_token:
                return 0.0
        return row.access_expires_at.timestamp() - now

    def _fresh(self, connection_id: str, row: _TokenRow, now: float) -> bool:
        return self._life(connection_id, row, now) > self.leeway

    def _access(self, connection_id: str, row: _TokenRow) -> AccessToken:
        assert row.access_token is not None and row.access_expires_at is not None
        return AccessToken(
            token=row.access_token,
            expires_at=row.access_expires_at,
            api_domain=row.api_domain,
            organization_id=row.organization_id,
            connection_id=connection_id,
        )

    def _fallback(
        self, connection_id: str, row: _TokenRow, now: float, retry_after: float, why: str
    ) -> AccessToken:
        """The current token while it still lives (even inside the leeway), else an error."""
        if self._life(connection_id, row, now) > MIN_USEFUL:
            return self._access(connection_id, row)
        raise TokenUnavailableError(
            f"no valid access token for connection {connection_id}: {why}",
            retry_after=max(retry_after, 1.0),
        )

    def _secret_rejected(self, connection_id: str, row: _TokenRow, now: float) -> AccessToken:
        if self._life(connection_id, row, now) > MIN_USEFUL:
            return self._access(connection_id, row)
        raise ClientSecretRejectedError(
            f"no valid access token for connection {connection_id}: Zoho Accounts rejects the "
            "configured client secret (invalid_client_secret); fix ZOHO_CLIENT_SECRET",
            retry_after=self._throttle_backoff,
        )

    def _blocked(self, connection_id: str, now: float) -> float | None:
        with self._state_guard:
            until = self._blocked_until.get(connection_id)
            if until is not None and until <= now:
                del self._blocked_until[connection_id]
                return None
            return until

    def _block(self, connection_id: str, until: float) -> None:
        with self._state_guard:
            self._blocked_until[connection_id] = max(
                until, self._blocked_until.get(connection_id, 0.0)
            )

    # -- Zoho's budget (SECURITY 32, 33) ------------------------------------------------------

    def _window_frees_at(self, connection_id: str, now: float, target: int) -> float | None:
        """When fewer than ``target`` of our recorded mints remain in the rolling window.

        The vault only counts, so bisect for the ``target``-th newest mint (1 s precision).
        """
        count = self._vault.mints_since(connection_id, _utc(now - MINT_WINDOW))
        if count == 0:
            return None
        target = min(target, count)
        lo, hi = now - MINT_WINDOW, now + 1.0
        while hi - lo > 1.0:
            mid = (lo + hi) / 2
            if self._vault.mints_since(connection_id, _utc(mid)) >= target:
                lo = mid
            else:
                hi = mid
        return hi + MINT_WINDOW

    # -- refreshing ---------------------------------------------------------------------------

    def _refresh_locked(
        self, connection_id: str, row: StoredTokens, now: float, deadline: float
    ) -> AccessToken:
        if not row.refresh_token:
            self._needs_reauth(connection_id, "no refresh token is stored", row.version)
        if deadline - now < MIN_ATTEMPT:
            # The wait for the lock used up this request's time: another caller will refresh.
            return self._fallback(
                connection_id, row, now, 2.0, "no time was left to refresh within the request"
            )
        try:
            tokens = self._refresh_with_retries(connection_id, row, deadline)
        except _MintsSpent:
            now = self._clock()
            frees = self._window_frees_at(connection_id, now, MINT_LIMIT) or now + MINT_WINDOW
            self._block(connection_id, frees)
            logger.warning(
                "connection %s minted %d access tokens in 10 minutes; waiting %.0f s",
                connection_id,
                MINT_LIMIT,
                frees - now,
            )
            return self._fallback(
                connection_id, row, now, frees - now, "Zoho's 10 tokens per 10 minutes are spent"
            )
        except InvalidClientSecretError:
            _metrics.refresh_outcome("client_secret_rejected")
            # Our configuration is wrong, not this connection: keep it active (a rotated secret
            # must not kill every connection), say so loudly, and do not hammer Zoho meanwhile.
            now = self._clock()
            self._block(connection_id, now + self._throttle_backoff)
            with self._state_guard:
                self._secret_rejected_for.add(connection_id)
            logger.error(
                "Zoho Accounts rejects ZOHO_CLIENT_SECRET (invalid_client_secret) on refresh for "
                "connection %s: fix the client secret; the connection stays active",
                connection_id,
            )
            return self._secret_rejected(connection_id, row, now)
        except (InvalidGrantError, InvalidClientError) as exc:
            _metrics.refresh_outcome("needs_reauth")
            try:
                self._needs_reauth(
                    connection_id, f"Zoho answered {exc.error} on refresh", row.version
                )
            except StaleWriteError:
                # A reconnect replaced the refresh token Zoho refused (SECURITY 28, 34): the
                # verdict was about the old one. Act on the row as it is now.
                logger.info("connection %s changed while its refresh was refused", connection_id)
                current = self._load(connection_id)
                now = self._clock()
                if self._fresh(connection_id, current, now):
                    return self._access(connection_id, current)
                return self._fallback(
                    connection_id, current, now, 2.0, "the connection changed during a refresh"
                )
        except TokenThrottledError:
            _metrics.refresh_outcome("throttled")
            now = self._clock()
            window_end = self._window_frees_at(connection_id, now, MINT_LIMIT)
            until = max(now + self._throttle_backoff, window_end or 0.0)
            self._block(connection_id, until)
            logger.warning(
                "Zoho throttled token refresh for connection %s; waiting %.0f s",
                connection_id,
                until - now,
            )
            return self._fallback(connection_id, row, now, until - now, "Zoho throttles refreshes")
        except OAuthTransientError as exc:
            _metrics.refresh_outcome("transient_failure")
            logger.warning("refresh for connection %s failed: %s", connection_id, redact(exc))
            return self._fallback(
                connection_id, row, self._clock(), 30.0, "Zoho Accounts is unavailable"
            )
        except (OAuthError, DataCenterError) as exc:
            _metrics.refresh_outcome("refused")
            logger.error("refresh for connection %s refused: %s", connection_id, redact(exc))
            return self._fallback(connection_id, row, self._clock(), 60.0, str(exc))
        minted_at = self._clock()
        generation = self._vault.connection_generation(connection_id)
        try:
            self._vault.store_refreshed(
                connection_id,
                expected_version=row.version,
                access_token=tokens.access_token,
                expires_at=tokens.expires_at,
            )
        except StaleWriteError:
            # Someone newer wrote the row (we stalled past our lease): theirs wins (SECURITY 28).
            logger.warning("refresh for connection %s lost the version race", connection_id)
            current = self._load(connection_id)
            return self._fallback(
                connection_id, current, self._clock(), 2.0, "a newer write replaced this refresh"
            )
        _metrics.refresh_outcome("ok")
        with self._state_guard:
            self._refused.pop(connection_id, None)
            self._blocked_until.pop(connection_id, None)
            self._minted[connection_id] = (tokens.access_token, minted_at)
            # store_refreshed marked the use: no separate mark for another interval.
            self._use_marked[connection_id] = minted_at
            self._use_pending.discard(connection_id)
            self._secret_rejected_for.discard(connection_id)
        token = AccessToken(
            token=tokens.access_token,
            expires_at=tokens.expires_at,
            api_domain=row.api_domain,
            organization_id=row.organization_id,
            connection_id=connection_id,
        )
        self._remember_minted(connection_id, token, generation)
        return token

    def _refresh_with_retries(
        self, connection_id: str, row: StoredTokens, deadline: float
    ) -> TokenSet:
        assert row.refresh_token is not None
        refresh_token = row.refresh_token
        datacenter = self._oauth.datacenters.get(row.location)

        retrying = tenacity.Retrying(
            stop=tenacity.stop_any(
                tenacity.stop_after_attempt(self._retry_attempts), _StopAt(deadline, self._clock)
            ),
            wait=lambda state: self._backoff.delay(state.attempt_number),
            retry=tenacity.retry_if_exception_type(OAuthTransientError),
            sleep=self._sleep,
            reraise=True,
        )
        return retrying(self._attempt, connection_id, datacenter, refresh_token, deadline)

    def _attempt(
        self, connection_id: str, datacenter: DataCenter, refresh_token: str, deadline: float
    ) -> TokenSet:
        # SECURITY 33: count the mint before asking, committed (one transaction that also
        # checks the window: 32). Zoho may mint and the answer get lost (a timeout): an
        # uncounted mint would let us overrun its 10 per 10 minutes.
        now = self._clock()
        mint_id = self._vault.record_mint_within(
            connection_id, _utc(now), since=_utc(now - MINT_WINDOW), limit=MINT_LIMIT
        )
        if mint_id is None:
            raise _MintsSpent
        try:
            # No attempt outlives the request's bound (MAX_LOCK_WAIT) or the lock's lease.
            timeout = deadline - self._clock()
            return self._oauth.refresh(datacenter, refresh_token, timeout=timeout)
        except (TokenThrottledError, InvalidGrantError, InvalidClientError):
            # Zoho answered, and said no: nothing was minted.
            self._vault.forget_mint(mint_id)
            raise

    def _needs_reauth(
        self, connection_id: str, reason: str, version: int | None = None
    ) -> NoReturn:
        """Mark the connection, announce it, and raise ``ReauthorizationRequired``.

        ``version`` is the row version the verdict is about: ``StaleWriteError`` (nothing
        marked) when the row moved on since (SECURITY 28).
        """
        # The mark and its event commit together or not at all: an outbox enqueue that fails
        # rolls the mark back and raises (the verdict is reached again next time).
        with self._vault.unit_of_work():
            self._vault.set_status(
                connection_id, "needs_reauth", reason=reason, expected_version=version
            )
            if self._events is not None:
                try:
                    owner = self._vault.get_connection(connection_id).owner
                    self._events(
                        ConnectionEvent(
                            type="connection.needs_reauth",
                            connection_id=connection_id,
                            owner=owner,
                            at=_utc(self._clock()),
                            reason=reason,
                        )
                    )
                except Exception:  # an event sink must never break the refresh path
                    logger.exception("could not emit connection.needs_reauth for %s", connection_id)
        logger.warning("connection %s needs reauthorization: %s", connection_id, reason)
        raise ReauthorizationRequired(
            f"connection {connection_id} needs its user to connect again ({reason})",
            connection_id=connection_id,
            status="needs_reauth",
        )


@dataclass(slots=True)
class _Flight:
    """One ``get_access_token`` of an ``AsyncTokenManager`` that went to a thread, which the
    tasks asking for the same connection meanwhile await instead of hopping to threads too."""

    #: This process's write generation of the row when the flight left: a task that sees
    #: another (a write of this process since) flies on its own.
    generation: int
    done: anyio.Event = field(default_factory=anyio.Event)
    token: AccessToken | None = None
    error: Exception | None = None


class AsyncTokenManager:
    """``TokenManager`` for async code: a cache hit is answered on the event loop; a call that
    may do I/O runs the sync manager in a worker thread, one per connection at a time: the
    tasks of this event loop asking for the same connection meanwhile await its answer (a
    refresh storm costs one thread and no database read per waiting task)."""

    def __init__(self, manager: TokenManager) -> None:
        self.manager = manager
        # (event loop's thread, connection id) -> the call in flight. Touched only by the
        # loop's own thread, so one manager can serve several loops.
        self._flights: dict[tuple[int, str], _Flight] = {}

    async def get_access_token(self, connection_id: str) -> AccessToken:
        # A cache hit needs no I/O: answered on the event loop, no thread hop (issue 9).
        cached = self.manager._cache_hit(connection_id)
        if cached is not None:
            return cached
        key = (threading.get_ident(), connection_id)
        generation = self.manager._write_generation(connection_id)
        flight = self._flights.get(key)
        if flight is not None and flight.generation == generation:
            await flight.done.wait()
            if flight.token is not None:
                return flight.token
            if flight.error is not None:
                raise flight.error
            # The flight was cancelled before it had an answer: ask on our own.
        return await self._fly(key, connection_id, generation)

    async def _fly(self, key: tuple[int, str], connection_id: str, generation: int) -> AccessToken:
        flight = self._flights[key] = _Flight(generation)
        try:
            flight.token = await anyio.to_thread.run_sync(
                self.manager.get_access_token, connection_id
            )
            return flight.token
        except Exception as exc:
            flight.error = exc
            raise
        finally:
            if self._flights.get(key) is flight:
                del self._flights[key]
            flight.done.set()

    async def invalidate(
        self,
        connection_id: str,
        token: str,
        *,
        code: int | None = None,
        operation: str | None = None,
    ) -> bool:
        return await anyio.to_thread.run_sync(
            lambda: self.manager.invalidate(connection_id, token, code=code, operation=operation)
        )

    async def confirm(self, connection_id: str, token: str, operation: str | None = None) -> None:
        """As ``TokenManager.confirm`` (a dict write: no thread hop needed)."""
        self.manager.confirm(connection_id, token, operation)
