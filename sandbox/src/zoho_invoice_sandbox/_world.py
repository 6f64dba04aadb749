"""The sandbox's shared state: what both the Accounts side and the Invoice API side see.

``SandboxWorld`` holds the directory of simulated users, its two stores (the Accounts state:
clients, codes, refresh and access tokens; the organizations' Invoice data), in SQLite, on disk
when ``data_dir`` is given, the fault script and the journal of received requests. The Invoice
API authenticates with :meth:`SandboxWorld.authenticate`.
"""

from __future__ import annotations

import fnmatch
import threading
import time
from collections import deque
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

import anyio

from ._directory import Directory
from ._files import ensure_private_dir
from ._store import AccountsStore
from .invoice._store import InvoiceStore

__all__ = [
    "JOURNAL_ENTRIES",
    "JOURNAL_ENTRY_TEXT",
    "AccessGrant",
    "Fault",
    "FaultScript",
    "Journal",
    "JournalEntry",
    "SandboxSettings",
    "SandboxWorld",
]

Clock = Callable[[], float]
#: Waits the given seconds (``anyio.sleep``): how a scripted fault's ``delay`` is played.
Sleep = Callable[[float], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class AccessGrant:
    """What a live access token allows: whose it is, where, with which scopes, until when."""

    user_id: str
    location: str
    scopes: frozenset[str]
    client_id: str
    expires_at: float


@dataclass(frozen=True, slots=True)
class Fault:
    """One scripted answer.

    ``status is None``: wait ``delay`` seconds, then answer normally. Otherwise wait ``delay``
    seconds and answer ``status`` with ``body`` as JSON (no body when ``body is None``).
    ``delay_after`` (``accounts.token`` only, with ``status is None``): act first (mint the
    tokens), then hold the answer that long, or until the client hangs up: a process killed
    "after Zoho minted, before it stored the tokens" (SECURITY 41).
    """

    status: int | None = None
    body: Any = None
    delay: float = 0.0
    headers: Mapping[str, str] = field(default_factory=dict)
    delay_after: float = 0.0


class FaultScript:
    """The next answers of an endpoint, scripted by tests.

    Endpoint keys: ``accounts.auth``, ``accounts.token``, ``accounts.revoke``, and on the Invoice
    side ``invoice.<METHOD> <path under /invoice/v3>`` (e.g. ``invoice.GET /invoices``). A script
    may be added under a pattern (``invoice.*``); ``take`` uses the oldest matching entry.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._entries: list[tuple[str, Fault, list[int]]] = []

    def add(self, endpoint: str, fault: Fault, *, times: int = 1) -> None:
        if times < 1:
            raise ValueError("times must be at least 1")
        with self._lock:
            self._entries.append((endpoint, fault, [times]))

    def take(self, endpoint_key: str) -> Fault | None:
        """The scripted answer for this request, consuming it; ``None`` when nothing is scripted."""
        with self._lock:
            for index, (pattern, fault, remaining) in enumerate(self._entries):
                if pattern == endpoint_key or fnmatch.fnmatchcase(endpoint_key, pattern):
                    remaining[0] -= 1
                    if remaining[0] <= 0:
                        del self._entries[index]
                    return fault
        return None

    def pending(self) -> list[dict[str, Any]]:
        with self._lock:
            return [
                {"endpoint": pattern, "remaining": remaining[0], **asdict(fault)}
                for pattern, fault, remaining in self._entries
            ]

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()


#: The journal keeps the newest entries only, and each one keeps at most this much text
#: (values cut short, ``truncated`` set): a client sending large or many requests cannot grow
#: the sandbox's memory without bound (SECURITY 51).
JOURNAL_ENTRIES = 1000
JOURNAL_ENTRY_TEXT = 8 * 1024
JOURNAL_FIELDS = 64


@dataclass(frozen=True, slots=True)
class JournalEntry:
    """One request the sandbox received (secrets included: it is a test double).

    ``seq`` numbers every request ever recorded (1, 2, ...), so a reader can tell what is new
    even after old entries were dropped.
    """

    endpoint: str
    method: str
    path: str
    query: list[tuple[str, str]]
    form: list[tuple[str, str]]
    headers: dict[str, str]
    at: float
    body: str = ""
    truncated: bool = False
    seq: int = 0

    def to_json(self) -> dict[str, Any]:
        return {
            "endpoint": self.endpoint,
            "method": self.method,
            "path": self.path,
            "query": [list(pair) for pair in self.query],
            "form": [list(pair) for pair in self.form],
            "headers": dict(self.headers),
            "at": self.at,
            "body": self.body,
            "truncated": self.truncated,
            "seq": self.seq,
        }


class _Budget:
    """What is left of one entry's text allowance; cuts what does not fit."""

    def __init__(self, chars: int) -> None:
        self.left = chars
        self.cut = False

    def take(self, text: str) -> str:
        if len(text) > self.left:
            self.cut = True
            text = text[: self.left]
        self.left -= len(text)
        return text

    def pairs(self, items: Iterable[tuple[str, str]]) -> list[tuple[str, str]]:
        kept: list[tuple[str, str]] = []
        for key, value in items:
            if len(kept) == JOURNAL_FIELDS:
                self.cut = True
                break
            kept.append((self.take(key), self.take(value)))
        return kept


class Journal:
    """The newest requests received, in order; tests read it to prove what was (not) sent.

    At most ``max_entries`` are kept (the oldest go first), each cut to ``JOURNAL_ENTRY_TEXT``
    characters; :attr:`total` counts every request ever recorded.
    """

    def __init__(self, clock: Clock, *, max_entries: int = JOURNAL_ENTRIES) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._entries: deque[JournalEntry] = deque(maxlen=max_entries)
        self._total = 0

    @property
    def total(self) -> int:
        """How many requests were recorded since the start (or the last ``clear``)."""
        with self._lock:
            return self._total

    def record(
        self,
        *,
        endpoint: str,
        method: str,
        path: str,
        query: Iterable[tuple[str, str]] = (),
        form: Iterable[tuple[str, str]] = (),
        headers: Mapping[str, str] | None = None,
        body: str = "",
    ) -> JournalEntry:
        budget = _Budget(JOURNAL_ENTRY_TEXT)
        # Headers first: they say who called (the token); bodies are the first to be cut.
        kept_headers = dict(budget.pairs((k.lower(), v) for k, v in (headers or {}).items()))
        kept_query = budget.pairs(query)
        kept_form = budget.pairs(form)
        kept_body = budget.take(body)
        with self._lock:
            self._total += 1
            entry = JournalEntry(
                endpoint=endpoint,
                method=method.upper(),
                path=budget.take(path),
                query=kept_query,
                form=kept_form,
                headers=kept_headers,
                at=self._clock(),
                body=kept_body,
                truncated=budget.cut,
                seq=self._total,
            )
            self._entries.append(entry)
        return entry

    def entries(self, endpoint: str | None = None) -> list[JournalEntry]:
        """Entries in arrival order; ``endpoint`` may be a key or a pattern (``accounts.*``)."""
        with self._lock:
            entries = list(self._entries)
        if endpoint is None:
            return entries
        return [e for e in entries if fnmatch.fnmatchcase(e.endpoint, endpoint)]

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
            self._total = 0


@dataclass(slots=True)
class SandboxSettings:
    """Behaviour switches, changed through the control API."""

    #: Seconds an access token lives (Zoho: 3600).
    access_token_lifetime: float = 3600.0
    #: ``"current"``: ``expires_in`` in seconds; ``"legacy"``: ``expires_in_sec`` in seconds and
    #: ``expires_in`` in milliseconds (the older format docs/zoho/README.md describes).
    token_format: Literal["current", "legacy"] = "current"
    #: Accept any client id and remember the first secret it presents.
    auto_register_clients: bool = True
    #: The throttle's wording: ``"classic"`` ("You have made too many requests continuously")
    #: or ``"new"`` ("Token creation throttle limit reached"); both seen from Zoho.
    throttle_wording: Literal["classic", "new"] = "classic"
    #: ``"sliding"``: a refresh is refused while 10 refreshes lie in the last 10 minutes;
    #: ``"fixed"``: the 10-minute window starts at its first refresh and is closed for the rest
    #: of it once 10 are used (the other reading of Zoho's documentation).
    throttle_window: Literal["sliding", "fixed"] = "sliding"
    #: Live access tokens one refresh token keeps; the next one evicts the oldest. Zoho's pages
    #: say 10 (Accounts' token-limits page), 15 (an older copy of it, CRM) or 30 (Projects).
    live_access_tokens: Literal[10, 15, 30] = 10
    #: Refresh tokens Zoho issues per user and client in 10 minutes; beyond, the code exchange
    #: answers "Access Denied" (Zoho CRM's Kaizen #43). ``0`` lifts the limit.
    refresh_token_limit: int = 10
    #: Authorization codes Zoho issues per client in 10 minutes; beyond, the authorize step
    #: sends the browser back with ``error=access_denied`` (CRM's token-validity page). ``0``
    #: lifts the limit. Both windows follow ``throttle_window``.
    authorization_code_limit: int = 10

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


class SandboxWorld:
    """Everything the simulated Zoho knows.

    ``control_key``: when set, the control routes (``/_sandbox/...``: the journal with its
    secrets, faults, settings, clients, revoke, stats, reset) answer only requests carrying it
    in ``X-Sandbox-Key``; ``zoho-invoice sandbox`` always sets one (SECURITY 51).

    >>> world = SandboxWorld(base_url="http://127.0.0.1:8090")
    >>> world.authenticate("1000.nope.nope") is None
    True
    """

    def __init__(
        self,
        *,
        base_url: str,
        data_dir: Path | None = None,
        clock: Clock = time.time,
        directory: Directory | None = None,
        control_key: str | None = None,
        sleep: Sleep = anyio.sleep,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.control_key = control_key
        #: Plays a scripted fault's ``delay``; a test passes its own to see the delay happen.
        self.sleep = sleep
        self.data_dir = data_dir
        self.clock = clock
        self.directory = directory or Directory.default()
        self.settings = SandboxSettings()
        self.faults = FaultScript()
        self.journal = Journal(clock)
        db_path = None if data_dir is None else Path(data_dir) / "sandbox-accounts.sqlite3"
        if db_path is not None:
            ensure_private_dir(db_path.parent)
        self.accounts = AccountsStore(db_path, clock=clock, settings=self.settings)
        #: The organizations' contacts, items, invoices, ...: the Invoice API, the seed
        #: endpoint and ``seed_organization`` all use this one, so seeded data shows at once.
        self.invoices = InvoiceStore(data_dir)

    def accounts_url(self, location: str) -> str:
        return f"{self.base_url}/accounts/{location}"

    def api_domain(self, location: str) -> str:
        return f"{self.base_url}/api/{location}"

    def authenticate(self, access_token: str) -> AccessGrant | None:
        """The grant of a live access token; ``None`` for an unknown, revoked or expired one."""
        record = self.accounts.access_token(access_token)
        if record is None:
            return None
        return AccessGrant(
            user_id=record.user_id,
            location=record.location,
            scopes=frozenset(record.scopes),
            client_id=record.client_id,
            expires_at=record.expires_at,
        )

    def reset(self) -> None:
        """Forget every client, code and token, the organizations' Invoice data, the faults, the
        journal and the settings: the world as it started (the simulated users stay)."""
        self.faults.clear()
        self.journal.clear()
        fresh = SandboxSettings()
        for name in SandboxSettings.__slots__:
            setattr(self.settings, name, getattr(fresh, name))
        self.accounts.reset()
        self.invoices.reset()

    def close(self) -> None:
        """Close both stores (their SQLite connections)."""
        self.accounts.close()
        self.invoices.close()
