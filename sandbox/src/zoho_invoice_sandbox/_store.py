"""Zoho Accounts' state and rules: clients, codes, refresh and access tokens, and the limits.

One SQLite database (a file in ``data_dir`` so a restarted sandbox honours earlier tokens, else in
memory), one connection guarded by one lock: every operation is a short transaction, so the store
is safe to call from any thread. The rules follow docs/zoho/README.md and docs/zoho/accounts.md:

- a code lives 2 minutes, is single use, and belongs to its client, redirect URI, scopes, PKCE
  challenge and the user's data centre;
- at most 10 access tokens per 10 minutes per refresh token (counting refresh grants), then
  "Access Denied" for the rest of the window;
- at most 10 live access tokens per refresh token (15 or 30 in other readings, a setting): the
  next one kills the oldest;
- at most 10 refresh tokens issued per user per client in 10 minutes (a setting): beyond, the
  code exchange answers "Access Denied" (the code is spent, nothing is minted);
- at most 10 authorization codes per client in 10 minutes (a setting): beyond, no code;
- at most 20 refresh tokens per user per client: the 21st kills the oldest and its access tokens;
- no refresh-token rotation; a refresh token or code used at another DC is ``invalid_client``.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import sqlite3
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from ._files import ensure_private_sqlite

if TYPE_CHECKING:
    from ._world import SandboxSettings

__all__ = [
    "CODE_LIFETIME",
    "MAX_REFRESH_TOKENS",
    "THROTTLE_LIMIT",
    "THROTTLE_WINDOW",
    "AccessRecord",
    "AccountsStore",
    "ClientRecord",
    "Minted",
    "OAuthFailure",
    "Throttled",
]

CODE_LIFETIME = 120.0
THROTTLE_WINDOW = 600.0
THROTTLE_LIMIT = 10
MAX_REFRESH_TOKENS = 20
_PURGE_AFTER = 86_400.0

_SCHEMA = """
CREATE TABLE IF NOT EXISTS clients (
    client_id TEXT PRIMARY KEY,
    client_secret TEXT,
    redirect_uris TEXT,
    registered INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS codes (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    code TEXT UNIQUE NOT NULL,
    client_id TEXT NOT NULL,
    redirect_uri TEXT NOT NULL,
    scopes TEXT NOT NULL,
    user_id TEXT NOT NULL,
    location TEXT NOT NULL,
    challenge TEXT,
    challenge_method TEXT,
    offline INTEGER NOT NULL,
    force_consent INTEGER NOT NULL,
    expires_at REAL NOT NULL,
    used INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS refresh_tokens (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    token TEXT UNIQUE NOT NULL,
    client_id TEXT NOT NULL,
    user_id TEXT NOT NULL,
    location TEXT NOT NULL,
    scopes TEXT NOT NULL,
    created_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS access_tokens (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    token TEXT UNIQUE NOT NULL,
    refresh_token TEXT,
    client_id TEXT NOT NULL,
    user_id TEXT NOT NULL,
    location TEXT NOT NULL,
    scopes TEXT NOT NULL,
    created_at REAL NOT NULL,
    expires_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS mints (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    refresh_token TEXT,
    grant_type TEXT NOT NULL,
    at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS issued (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    kind TEXT NOT NULL,
    client_id TEXT NOT NULL,
    user_id TEXT,
    at REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS issued_by_client ON issued (kind, client_id, at);
CREATE INDEX IF NOT EXISTS access_by_refresh ON access_tokens (refresh_token);
CREATE INDEX IF NOT EXISTS mints_by_refresh ON mints (refresh_token, at);
"""


class OAuthFailure(Exception):
    """A token-endpoint refusal; Zoho answers it with HTTP 200 and ``{"error": error}``."""

    def __init__(self, error: str) -> None:
        super().__init__(error)
        self.error = error


class Throttled(Exception):
    """One of Zoho's windows is full: access tokens per refresh token, refresh tokens per user
    and client, or authorization codes per client (each 10 in 10 minutes by default)."""


@dataclass(frozen=True, slots=True)
class ClientRecord:
    client_id: str
    client_secret: str | None
    redirect_uris: tuple[str, ...] | None
    registered: bool


@dataclass(frozen=True, slots=True)
class AccessRecord:
    token: str
    refresh_token: str | None
    client_id: str
    user_id: str
    location: str
    scopes: tuple[str, ...]
    expires_at: float


@dataclass(frozen=True, slots=True)
class Minted:
    access_token: str
    refresh_token: str | None
    expires_in: float
    location: str


def new_token() -> str:
    """Zoho's shape: ``1000.<32 hex>.<32 hex>``."""
    return f"1000.{secrets.token_hex(16)}.{secrets.token_hex(16)}"


def pkce_matches(challenge: str, method: str, verifier: str) -> bool:
    if method == "plain":
        expected = verifier
    else:
        digest = hashlib.sha256(verifier.encode("ascii", "replace")).digest()
        expected = base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")
    return hmac.compare_digest(expected, challenge)


def _scopes(text: str) -> tuple[str, ...]:
    return tuple(s for s in text.split(",") if s)


class AccountsStore:
    def __init__(
        self, path: Path | None, *, clock: Callable[[], float], settings: SandboxSettings
    ) -> None:
        self._clock = clock
        self._settings = settings
        self._lock = threading.RLock()
        if path is not None:
            # Plaintext tokens and client secrets: owner-only, -wal and -shm too (SECURITY 49).
            ensure_private_sqlite(path)
        self._db = sqlite3.connect(
            ":memory:" if path is None else str(path), check_same_thread=False, isolation_level=None
        )
        self._db.row_factory = sqlite3.Row
        if path is not None:
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA busy_timeout=5000")
        self._db.executescript(_SCHEMA)

    # -- plumbing -------------------------------------------------------------------------------

    def _tx(self) -> _Transaction:
        return _Transaction(self._db, self._lock)

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def reset(self) -> None:
        with self._tx() as db:
            for table in ("clients", "codes", "refresh_tokens", "access_tokens", "mints", "issued"):
                db.execute(f"DELETE FROM {table}")

    # -- clients --------------------------------------------------------------------------------

    def register_client(
        self, client_id: str, client_secret: str, redirect_uris: list[str] | None
    ) -> None:
        uris = None if redirect_uris is None else json.dumps(list(redirect_uris))
        with self._tx() as db:
            db.execute(
                "INSERT INTO clients (client_id, client_secret, redirect_uris, registered) "
                "VALUES (?, ?, ?, 1) ON CONFLICT (client_id) DO UPDATE SET "
                "client_secret = excluded.client_secret, redirect_uris = excluded.redirect_uris, "
                "registered = 1",
                (client_id, client_secret, uris),
            )

    def client(self, client_id: str) -> ClientRecord | None:
        """The client, auto-registering an unknown one when the settings allow it."""
        if not client_id:
            return None
        with self._tx() as db:
            row = db.execute("SELECT * FROM clients WHERE client_id = ?", (client_id,)).fetchone()
            if row is None:
                if not self._settings.auto_register_clients:
                    return None
                db.execute(
                    "INSERT INTO clients (client_id, client_secret, redirect_uris, registered) "
                    "VALUES (?, NULL, NULL, 0)",
                    (client_id,),
                )
                return ClientRecord(client_id, None, None, False)
        uris = None if row["redirect_uris"] is None else tuple(json.loads(row["redirect_uris"]))
        return ClientRecord(client_id, row["client_secret"], uris, bool(row["registered"]))

    def redirect_uri_allowed(self, client: ClientRecord, redirect_uri: str) -> bool:
        # Registered clients: exact string match, as Zoho does. Auto-registered: any URI.
        if client.redirect_uris is None:
            parts = urlsplit(redirect_uri)
            return parts.scheme in ("http", "https") and bool(parts.netloc) and not parts.fragment
        return redirect_uri in client.redirect_uris

    def _check_secret(self, db: sqlite3.Connection, client: ClientRecord, secret: str) -> None:
        if client.client_secret is None:
            if not secret:
                raise OAuthFailure("invalid_client_secret")
            # Auto-registration: the first secret presented becomes the client's secret.
            db.execute(
                "UPDATE clients SET client_secret = ? "
                "WHERE client_id = ? AND client_secret IS NULL",
                (secret, client.client_id),
            )
            return
        if not hmac.compare_digest(client.client_secret.encode(), secret.encode()):
            raise OAuthFailure("invalid_client_secret")

    # -- codes ----------------------------------------------------------------------------------

    def create_code(
        self,
        *,
        client_id: str,
        redirect_uri: str,
        scopes: list[str],
        user_id: str,
        location: str,
        challenge: str | None,
        challenge_method: str | None,
        offline: bool,
        force_consent: bool,
        throttle: bool = True,
    ) -> str:
        """A new code, or ``Throttled`` when the client used up its codes for the window.

        ``throttle=False`` neither checks nor counts Zoho's code limit: for tests that only need
        a token, not the authorize step (Zoho has no such switch).
        """
        code = new_token()
        now = self._clock()
        with self._tx() as db:
            # Housekeeping: long-dead codes and access tokens answer like unknown ones anyway.
            db.execute("DELETE FROM codes WHERE expires_at < ?", (now - _PURGE_AFTER,))
            db.execute("DELETE FROM access_tokens WHERE expires_at < ?", (now - _PURGE_AFTER,))
            db.execute("DELETE FROM issued WHERE at < ?", (now - 2 * THROTTLE_WINDOW,))
            if throttle:
                if self._codes_used_up(db, client_id, now):
                    raise Throttled()
                db.execute(
                    "INSERT INTO issued (kind, client_id, user_id, at) VALUES ('code', ?, ?, ?)",
                    (client_id, user_id, now),
                )
            db.execute(
                "INSERT INTO codes (code, client_id, redirect_uri, scopes, user_id, location, "
                "challenge, challenge_method, offline, force_consent, expires_at) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    code,
                    client_id,
                    redirect_uri,
                    ",".join(scopes),
                    user_id,
                    location,
                    challenge,
                    challenge_method,
                    int(offline),
                    int(force_consent),
                    now + CODE_LIFETIME,
                ),
            )
        return code

    def codes_used_up(self, client_id: str) -> bool:
        """Whether the client has used up its authorization codes for the current window."""
        with self._tx() as db:
            return self._codes_used_up(db, client_id, self._clock())

    def _codes_used_up(self, db: sqlite3.Connection, client_id: str, now: float) -> bool:
        limit = self._settings.authorization_code_limit
        if limit <= 0:
            return False
        times = self._issue_times(db, "code", client_id, None, now)
        return self._window_full(times, now, limit)

    def _issue_times(
        self, db: sqlite3.Connection, kind: str, client_id: str, user_id: str | None, now: float
    ) -> list[float]:
        query = "SELECT at FROM issued WHERE kind = ? AND client_id = ? AND at > ?"
        args: list[object] = [kind, client_id, now - 2 * THROTTLE_WINDOW]
        if user_id is not None:
            query += " AND user_id = ?"
            args.append(user_id)
        return [row[0] for row in db.execute(query + " ORDER BY at", args)]

    def _window_full(self, times: list[float], now: float, limit: int) -> bool:
        """Whether ``limit`` events in ``times`` (ascending) close the window at ``now``.

        ``"sliding"``: ``limit`` events lie in the last 10 minutes. ``"fixed"``: a window opens
        at the first event after the previous one closed, and stays closed once full.
        """
        if self._settings.throttle_window == "sliding":
            return sum(1 for at in times if at > now - THROTTLE_WINDOW) >= limit
        start: float | None = None
        count = 0
        for at in times:
            if start is None or at >= start + THROTTLE_WINDOW:
                start, count = at, 0
            count += 1
        if start is None or now >= start + THROTTLE_WINDOW:
            return False
        return count >= limit

    # -- grants ---------------------------------------------------------------------------------

    def exchange_code(
        self,
        *,
        location: str,
        client_id: str,
        client_secret: str,
        code: str,
        redirect_uri: str,
        code_verifier: str,
    ) -> Minted:
        client = self.client(client_id)
        if client is None:
            raise OAuthFailure("invalid_client")
        now = self._clock()
        with self._tx() as db:
            row = (
                db.execute("SELECT * FROM codes WHERE code = ?", (code,)).fetchone()
                if code
                else None
            )
            if row is not None and (row["location"] != location or row["client_id"] != client_id):
                # Each DC knows only its own codes and clients: elsewhere the client is unknown.
                raise OAuthFailure("invalid_client")
            self._check_secret(db, client, client_secret)
            if row is None or row["used"] or row["expires_at"] <= now:
                raise OAuthFailure("invalid_code")
            # Single use, whatever happens next (a failed PKCE check burns the code too).
            db.execute("UPDATE codes SET used = 1 WHERE id = ?", (row["id"],))
            if redirect_uri != row["redirect_uri"]:
                raise OAuthFailure("invalid_redirect_uri")
            if row["challenge"] is not None and not pkce_matches(
                row["challenge"], row["challenge_method"] or "plain", code_verifier
            ):
                raise OAuthFailure("invalid_code")
            refresh: str | None = None
            if row["offline"] and (row["force_consent"] or not self._has_refresh(db, row)):
                if self._refresh_tokens_used_up(db, row, now):
                    raise Throttled()
                refresh = self._issue_refresh(db, row, now)
            access = self._issue_access(
                db,
                refresh_token=refresh,
                client_id=client_id,
                user_id=row["user_id"],
                location=location,
                scopes=row["scopes"],
                now=now,
                grant_type="authorization_code",
            )
        return Minted(access, refresh, self._settings.access_token_lifetime, location)

    def refresh(
        self, *, location: str, client_id: str, client_secret: str, refresh_token: str
    ) -> Minted:
        client = self.client(client_id)
        if client is None:
            raise OAuthFailure("invalid_client")
        now = self._clock()
        with self._tx() as db:
            row = (
                db.execute(
                    "SELECT * FROM refresh_tokens WHERE token = ?", (refresh_token,)
                ).fetchone()
                if refresh_token
                else None
            )
            if row is not None and (row["location"] != location or row["client_id"] != client_id):
                raise OAuthFailure("invalid_client")
            self._check_secret(db, client, client_secret)
            if row is None:
                raise OAuthFailure("invalid_code")
            if self._throttled(db, refresh_token, now):
                raise Throttled()
            access = self._issue_access(
                db,
                refresh_token=refresh_token,
                client_id=client_id,
                user_id=row["user_id"],
                location=location,
                scopes=row["scopes"],
                now=now,
                grant_type="refresh_token",
            )
        return Minted(access, None, self._settings.access_token_lifetime, location)

    def _throttled(self, db: sqlite3.Connection, refresh_token: str, now: float) -> bool:
        """Zoho's 10 refreshes per 10 minutes per refresh token, in either reading."""
        times = [
            row[0]
            for row in db.execute(
                "SELECT at FROM mints WHERE refresh_token = ? AND grant_type = 'refresh_token' "
                "AND at > ? ORDER BY at",
                (refresh_token, now - 2 * THROTTLE_WINDOW),
            )
        ]
        return self._window_full(times, now, THROTTLE_LIMIT)

    def _refresh_tokens_used_up(
        self, db: sqlite3.Connection, code_row: sqlite3.Row, now: float
    ) -> bool:
        """Zoho's 10 refresh tokens per user per client in 10 minutes (Kaizen #43)."""
        limit = self._settings.refresh_token_limit
        if limit <= 0:
            return False
        times = self._issue_times(db, "refresh", code_row["client_id"], code_row["user_id"], now)
        return self._window_full(times, now, limit)

    def revoke(
        self,
        *,
        location: str,
        token: str,
        client_id: str | None = None,
        token_type: str | None = None,
    ) -> bool:
        """Revoke a refresh token (and its access tokens) or an access token of this DC.

        ``client_id`` (``/oauth/v2/revoke/token``, which authenticates the client): only that
        client's tokens; ``token_type`` (``refresh_token`` or ``access_token``): only that kind.
        """
        with self._tx() as db:
            row = db.execute(
                "SELECT location, client_id FROM refresh_tokens WHERE token = ?", (token,)
            ).fetchone()
            if row is not None:
                if (
                    row["location"] != location
                    or token_type == "access_token"
                    or (client_id is not None and row["client_id"] != client_id)
                ):
                    return False
                self._kill_refresh(db, token)
                return True
            if token_type == "refresh_token":
                return False
            deleted = db.execute(
                "DELETE FROM access_tokens WHERE token = ? AND location = ? "
                "AND (? IS NULL OR client_id = ?)",
                (token, location, client_id, client_id),
            ).rowcount
            return bool(deleted)

    def client_authenticates(self, client_id: str, client_secret: str) -> bool:
        """Whether ``client_id`` is a known client and ``client_secret`` its secret."""
        client = self.client(client_id)
        if client is None or client.client_secret is None:
            return False
        return hmac.compare_digest(client.client_secret.encode(), client_secret.encode())

    def revoke_refresh_token(self, token: str) -> bool:
        """Revoke by value, whatever the DC (control API)."""
        with self._tx() as db:
            exists = db.execute("SELECT 1 FROM refresh_tokens WHERE token = ?", (token,)).fetchone()
            if exists is None:
                return False
            self._kill_refresh(db, token)
            return True

    # -- helpers (inside a transaction) ---------------------------------------------------------

    def _has_refresh(self, db: sqlite3.Connection, code_row: sqlite3.Row) -> bool:
        # Zoho issues a new refresh token to a user who already granted one only with
        # prompt=consent.
        found = db.execute(
            "SELECT 1 FROM refresh_tokens WHERE user_id = ? AND client_id = ? LIMIT 1",
            (code_row["user_id"], code_row["client_id"]),
        ).fetchone()
        return found is not None

    def _issue_refresh(self, db: sqlite3.Connection, code_row: sqlite3.Row, now: float) -> str:
        token = new_token()
        db.execute(
            "INSERT INTO issued (kind, client_id, user_id, at) VALUES ('refresh', ?, ?, ?)",
            (code_row["client_id"], code_row["user_id"], now),
        )
        db.execute(
            "INSERT INTO refresh_tokens (token, client_id, user_id, location, scopes, created_at) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            (
                token,
                code_row["client_id"],
                code_row["user_id"],
                code_row["location"],
                code_row["scopes"],
                now,
            ),
        )
        rows = db.execute(
            "SELECT token FROM refresh_tokens WHERE user_id = ? AND client_id = ? ORDER BY id",
            (code_row["user_id"], code_row["client_id"]),
        ).fetchall()
        for old in rows[: max(0, len(rows) - MAX_REFRESH_TOKENS)]:
            self._kill_refresh(db, old["token"])
        return token

    def _kill_refresh(self, db: sqlite3.Connection, token: str) -> None:
        db.execute("DELETE FROM refresh_tokens WHERE token = ?", (token,))
        db.execute("DELETE FROM access_tokens WHERE refresh_token = ?", (token,))

    def _issue_access(
        self,
        db: sqlite3.Connection,
        *,
        refresh_token: str | None,
        client_id: str,
        user_id: str,
        location: str,
        scopes: str,
        now: float,
        grant_type: str,
    ) -> str:
        token = new_token()
        db.execute(
            "INSERT INTO access_tokens (token, refresh_token, client_id, user_id, location, "
            "scopes, created_at, expires_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (
                token,
                refresh_token,
                client_id,
                user_id,
                location,
                scopes,
                now,
                now + self._settings.access_token_lifetime,
            ),
        )
        db.execute(
            "INSERT INTO mints (refresh_token, grant_type, at) VALUES (?, ?, ?)",
            (refresh_token, grant_type, now),
        )
        if refresh_token is not None:
            live = db.execute(
                "SELECT id FROM access_tokens WHERE refresh_token = ? AND expires_at > ? "
                "ORDER BY id",
                (refresh_token, now),
            ).fetchall()
            keep = self._settings.live_access_tokens
            for old in live[: max(0, len(live) - keep)]:
                db.execute("DELETE FROM access_tokens WHERE id = ?", (old["id"],))
        return token

    # -- reads ----------------------------------------------------------------------------------

    def access_token(self, token: str) -> AccessRecord | None:
        """A live access token's record; ``None`` when unknown, revoked, evicted or expired."""
        if not token:
            return None
        with self._tx() as db:
            row = db.execute("SELECT * FROM access_tokens WHERE token = ?", (token,)).fetchone()
        if row is None or row["expires_at"] <= self._clock():
            return None
        return AccessRecord(
            token=row["token"],
            refresh_token=row["refresh_token"],
            client_id=row["client_id"],
            user_id=row["user_id"],
            location=row["location"],
            scopes=_scopes(row["scopes"]),
            expires_at=row["expires_at"],
        )

    def stats(self, refresh_token: str | None = None) -> dict[str, Any]:
        now = self._clock()
        with self._tx() as db:
            if refresh_token is None:
                minted = db.execute("SELECT COUNT(*) FROM mints").fetchone()[0]
                refreshed = db.execute(
                    "SELECT COUNT(*) FROM mints WHERE grant_type = 'refresh_token'"
                ).fetchone()[0]
                live = db.execute(
                    "SELECT COUNT(*) FROM access_tokens WHERE expires_at > ?", (now,)
                ).fetchone()[0]
                refresh_live = db.execute("SELECT COUNT(*) FROM refresh_tokens").fetchone()[0]
                return {
                    "access_tokens_minted": minted,
                    "refresh_grants": refreshed,
                    "live_access_tokens": live,
                    "live_refresh_tokens": refresh_live,
                }
            minted = db.execute(
                "SELECT COUNT(*) FROM mints WHERE refresh_token = ?", (refresh_token,)
            ).fetchone()[0]
            refreshed = db.execute(
                "SELECT COUNT(*) FROM mints WHERE refresh_token = ? AND grant_type = "
                "'refresh_token'",
                (refresh_token,),
            ).fetchone()[0]
            live = db.execute(
                "SELECT COUNT(*) FROM access_tokens WHERE refresh_token = ? AND expires_at > ?",
                (refresh_token, now),
            ).fetchone()[0]
            alive = db.execute(
                "SELECT COUNT(*) FROM refresh_tokens WHERE token = ?", (refresh_token,)
            ).fetchone()[0]
            return {
                "access_tokens_minted": minted,
                "refresh_grants": refreshed,
                "live_access_tokens": live,
                "live_refresh_tokens": alive,
            }


class _Transaction:
    """``with store._tx() as db``: hold the lock, BEGIN IMMEDIATE, COMMIT or ROLLBACK.

    A raised ``OAuthFailure`` still commits: a code burnt by a failed exchange stays burnt.
    """

    def __init__(self, db: sqlite3.Connection, lock: threading.RLock) -> None:
        self._db = db
        self._lock = lock
        self._outer = False

    def __enter__(self) -> sqlite3.Connection:
        self._lock.acquire()
        try:
            self._outer = not self._db.in_transaction
            if self._outer:
                self._db.execute("BEGIN IMMEDIATE")
        except BaseException:
            self._lock.release()
            raise
        return self._db

    def __exit__(self, exc_type: type[BaseException] | None, *_: object) -> None:
        try:
            if self._outer:
                if exc_type is None or issubclass(exc_type, (OAuthFailure, Throttled)):
                    self._db.execute("COMMIT")
                else:
                    self._db.execute("ROLLBACK")
        finally:
            self._lock.release()
