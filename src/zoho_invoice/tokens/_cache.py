"""The token manager's cache of opened access tokens: the hot path without the database.

Reading the row and opening its ciphertext on every ``get_access_token`` costs a database round
trip and an AES-GCM open; a token valid beyond the refresh leeway does not change between calls.
So the manager keeps, per connection, the ``AccessToken`` it handed out, and answers from memory
while three things hold:

- the token still lives beyond the leeway (inside it, the manager's refresh path takes over);
- this process wrote nothing to the row since it was read: the vault's *write generation*
  (``Vault.connection_generation``, bumped by every write of this process through any ``Vault``)
  is the one the entry was filled with; so a disconnect, a ``needs_reauth``, a reconnect, a
  refresh or a key rotation made here wins at once;
- the entry was checked against the row no longer ago than ``staleness_bound`` (1 s by default):
  older, one small primary-key SELECT (``Vault.access_stamp``: version, status, organization,
  key id, the access token's ciphertext; nothing is opened) says whether another process changed
  the row; equal, the entry lives on for another bound; different, the row is read again.

Serving a token another process has meanwhile replaced is safe with Zoho: a refresh leaves the
old access token valid until it expires (Zoho keeps up to 15 alive per refresh token), and the
entry is never used past the leeway. What must not be served for long (a disconnected or
``needs_reauth`` connection, a revoke, a rotation) is seen by every process within the bound.

A token the manager has just minted and stored is put in at once (its stamp unknown: the first
check, a bound later, reads the row), so the callers of this process that queued behind the
refresh get it from memory. A refused token (``TokenManager.invalidate``) is dropped at once.
One cache per manager, shared by every thread and task using it (a ``serve`` process has one
manager); reads take no lock.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

from ..vault._stored_access import RowStamp
from ._types import AccessToken

__all__ = ["AccessTokenCache", "CachedAccess"]


@dataclass(frozen=True, slots=True)
class CachedAccess:
    """One connection's cached token and what it was validated against."""

    token: AccessToken
    #: ``token.expires_at`` as epoch seconds (compared on every hit).
    expires_at: float
    #: The row as read (or last re-checked): the next check compares the row's stamp with it.
    #: ``None`` for a token this manager has just minted and stored: its row's stamp is not
    #: known here, so the first check reads the row again.
    stamp: RowStamp | None
    #: This process's write generation of the row, taken before the row was read.
    generation: int
    #: When the entry was last known to match the row (the manager's clock).
    checked_at: float


class AccessTokenCache:
    """Access tokens by connection id, each valid for ``staleness_bound`` seconds between
    checks against the row; see the module docstring.

    >>> cache = AccessTokenCache(staleness_bound=1.0)
    >>> cache.fresh(connection_id, now=clock(), leeway=300.0, generation=g)  # doctest: +SKIP
    """

    def __init__(self, *, staleness_bound: float = 1.0) -> None:
        if staleness_bound < 0:
            raise ValueError("staleness_bound must be zero or more seconds")
        self.staleness_bound = staleness_bound
        self._entries: dict[str, CachedAccess] = {}
        # Writers compare-and-set under it; readers only take a dict item (atomic).
        self._lock = threading.Lock()

    def fresh(
        self, connection_id: str, *, now: float, leeway: float, generation: int
    ) -> AccessToken | None:
        """The cached token if it can be handed out with no I/O at all, else ``None``."""
        entry = self._entries.get(connection_id)
        if (
            entry is None
            or entry.generation != generation
            or entry.expires_at - now <= leeway
            # A clock that went back makes the age negative: check rather than trust.
            or not 0.0 <= now - entry.checked_at <= self.staleness_bound
        ):
            return None
        return entry.token

    def to_check(self, connection_id: str, *, now: float, leeway: float) -> CachedAccess | None:
        """The entry worth re-checking against the row (its token still lives beyond the
        leeway; only its check is too old or its generation moved), else ``None``."""
        entry = self._entries.get(connection_id)
        if entry is None or entry.expires_at - now <= leeway:
            return None
        return entry

    def put(self, connection_id: str, entry: CachedAccess) -> None:
        with self._lock:
            self._entries[connection_id] = entry

    def renew(
        self, connection_id: str, entry: CachedAccess, *, checked_at: float, generation: int
    ) -> bool:
        """The row still matches ``entry``: trust it for another bound from ``checked_at``.
        ``False`` (nothing renewed) when the entry was dropped or replaced meanwhile."""
        with self._lock:
            if self._entries.get(connection_id) is not entry:
                return False
            self._entries[connection_id] = CachedAccess(
                token=entry.token,
                expires_at=entry.expires_at,
                stamp=entry.stamp,
                generation=generation,
                checked_at=checked_at,
            )
            return True

    def drop(self, connection_id: str, entry: CachedAccess | None = None) -> None:
        """Forget the connection's entry (only if it is still ``entry``, when given)."""
        with self._lock:
            if entry is None or self._entries.get(connection_id) is entry:
                self._entries.pop(connection_id, None)

    def cached_token(self, connection_id: str) -> str | None:
        """The token string cached for the connection, if any (to match a refused token)."""
        entry = self._entries.get(connection_id)
        return None if entry is None else entry.token.token

    def clear(self) -> None:
        """Forget every entry."""
        with self._lock:
            self._entries.clear()
