"""Helpers of the hot-path cache tests (``from tokens._hot_support import CountingVault``): a
``TokenVault`` that counts what the manager asks of it, a counter of the SQL statements an
engine runs, and a real second process that changes a connection in the same database."""

from __future__ import annotations

import os
import subprocess
import sys
from collections import Counter
from collections.abc import Collection, Iterator
from contextlib import AbstractContextManager, contextmanager
from datetime import datetime
from typing import Any

from sqlalchemy import Engine, event

from zoho_invoice.tokens import RefreshLocks
from zoho_invoice.vault import Connection, Status, StoredTokens, Vault
from zoho_invoice.vault._stored_access import RowStamp, StoredAccess


class CountingVault:
    """A ``TokenVault`` that forwards to a real ``Vault`` and counts each method called."""

    def __init__(self, vault: Vault) -> None:
        self.vault = vault
        self.calls: Counter[str] = Counter()

    def load_tokens(self, connection_id: str, /) -> StoredTokens:
        self.calls["load_tokens"] += 1
        return self.vault.load_tokens(connection_id)

    def load_access(self, connection_id: str, /) -> StoredAccess:
        self.calls["load_access"] += 1
        return self.vault.load_access(connection_id)

    def access_stamp(self, connection_id: str, /) -> RowStamp | None:
        self.calls["access_stamp"] += 1
        return self.vault.access_stamp(connection_id)

    def connection_generation(self, connection_id: str, /) -> int:
        return self.vault.connection_generation(connection_id)  # no I/O: not counted

    def get_connection(self, connection_id: str, /) -> Connection:
        self.calls["get_connection"] += 1
        return self.vault.get_connection(connection_id)

    def store_refreshed(
        self,
        connection_id: str,
        /,
        *,
        expected_version: int,
        access_token: str,
        expires_at: datetime,
    ) -> int:
        self.calls["store_refreshed"] += 1
        return self.vault.store_refreshed(
            connection_id,
            expected_version=expected_version,
            access_token=access_token,
            expires_at=expires_at,
        )

    def set_status(
        self,
        connection_id: str,
        status: Status,
        /,
        *,
        reason: str | None = None,
        expected_version: int | None = None,
    ) -> object:
        self.calls["set_status"] += 1
        return self.vault.set_status(
            connection_id, status, reason=reason, expected_version=expected_version
        )

    def record_mint(self, connection_id: str, at: datetime, /) -> int:
        self.calls["record_mint"] += 1
        return self.vault.record_mint(connection_id, at)

    def record_mint_within(
        self, connection_id: str, at: datetime, /, *, since: datetime, limit: int
    ) -> int | None:
        self.calls["record_mint_within"] += 1
        return self.vault.record_mint_within(connection_id, at, since=since, limit=limit)

    def record_use(self, connection_ids: Collection[str], at: datetime, /) -> int:
        self.calls["record_use"] += 1
        return self.vault.record_use(connection_ids, at)

    def forget_mint(self, mint_id: int, /) -> object:
        self.calls["forget_mint"] += 1
        return self.vault.forget_mint(mint_id)

    def mints_since(self, connection_id: str, since: datetime, /) -> int:
        self.calls["mints_since"] += 1
        return self.vault.mints_since(connection_id, since)

    def refresh_locks(self) -> RefreshLocks:
        return self.vault.refresh_locks()

    def unit_of_work(self) -> AbstractContextManager[object]:
        return self.vault.unit_of_work()

    def reads(self) -> int:
        """Every call that reads the connection's row."""
        return self.calls["load_tokens"] + self.calls["load_access"] + self.calls["access_stamp"]


class StatementCounter:
    """Counts the SQL statements ``engine`` sends while ``counting()`` is open."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.statements: list[str] = []

    def _seen(self, conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        self.statements.append(statement)

    @contextmanager
    def counting(self) -> Iterator[list[str]]:
        self.statements = []
        event.listen(self.engine, "before_cursor_execute", self._seen)
        try:
            yield self.statements
        finally:
            event.remove(self.engine, "before_cursor_execute", self._seen)


# The other process: opens the same database with the given keys and acts on one connection.
_OTHER_PROCESS = """
import os, sys
from zoho_invoice.vault import KeyRing, Vault
url, action, connection_id = sys.argv[1:4]
vault = Vault.open(url, KeyRing.from_string(os.environ["ZOHO_ENCRYPTION_KEYS"]))
if action == "disconnect":
    vault.disconnect(connection_id)
elif action == "needs_reauth":
    vault.set_status(connection_id, "needs_reauth", reason="refused in another process")
elif action == "rotate":
    vault.rotate_keys()
else:
    raise SystemExit("unknown action " + action)
vault.close()
"""


def in_another_process(database_url: str, keys: str, action: str, connection_id: str) -> None:
    """Run ``action`` (disconnect, needs_reauth, rotate) on the connection from a real second
    process sharing the database, and wait for it to finish."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("ZOHO_")}
    env["ZOHO_ENCRYPTION_KEYS"] = keys  # not in argv, which other users can read
    done = subprocess.run(
        [sys.executable, "-c", _OTHER_PROCESS, database_url, action, connection_id],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr[-2000:]
