"""The simulated organizations' data: SQLite, one file in the world's data directory.

Each resource is a table holding the JSON document plus indexed columns for filters and sort
(see ``_resources``). Every row carries its organization id, and every query is scoped to one
organization. With no data directory the database lives in memory.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from .._files import ensure_private_sqlite
from ._resources import RESOURCES, Field, Resource
from ._time import parse_timestamp

__all__ = ["DB_FILENAME", "EXTRA_TABLES", "InvoiceStore"]

DB_FILENAME = "invoice-sandbox.sqlite3"

#: Tables beside the resources' (one document a row), for what is not a resource of its own.
EXTRA_TABLES = (
    "CREATE TABLE IF NOT EXISTS invoice_comments (id INTEGER PRIMARY KEY, org TEXT NOT NULL, "
    "invoice_id TEXT NOT NULL, doc TEXT NOT NULL)",
    "CREATE INDEX IF NOT EXISTS ix_invoice_comments ON invoice_comments (org, invoice_id, id)",
    "CREATE TABLE IF NOT EXISTS invoice_attachments (id INTEGER PRIMARY KEY, org TEXT NOT NULL, "
    "invoice_id TEXT NOT NULL, doc TEXT NOT NULL, content BLOB NOT NULL)",
    "CREATE INDEX IF NOT EXISTS ix_invoice_attachments ON invoice_attachments "
    "(org, invoice_id, id)",
    "CREATE TABLE IF NOT EXISTS invoice_payment_ids (org TEXT NOT NULL, payment_id TEXT NOT NULL, "
    "invoice_id TEXT NOT NULL, id TEXT NOT NULL, PRIMARY KEY (org, payment_id, invoice_id))",
)

#: IDs start above 2**53 so that a client that parses them as floats breaks in tests, not in
#: production: Zoho's ids are 18-19 digit numbers.
_ID_BASE = 4_600_000_000_000_000_000

Doc = dict[str, Any]


def _column_type(field: Field) -> str:
    return "REAL" if field.kind in ("number", "time") else "TEXT"


def _column_value(field: Field, value: Any) -> Any:
    if value is None or value == "":
        return None
    if field.kind == "number":
        return float(value)
    if field.kind == "time":
        return parse_timestamp(str(value))
    return str(value)


class InvoiceStore:
    """Thread-safe access to the sandbox's Invoice data.

    >>> store = InvoiceStore(None)            # in memory
    >>> store = InvoiceStore(Path("data"))    # data/invoice-sandbox.sqlite3, survives restarts
    """

    def __init__(self, data_dir: Path | None) -> None:
        self.path = None if data_dir is None else Path(data_dir) / DB_FILENAME
        if self.path is not None:
            ensure_private_sqlite(self.path)  # owner-only, -wal and -shm too (SECURITY 49)
        self._conn = sqlite3.connect(
            ":memory:" if self.path is None else str(self.path),
            check_same_thread=False,
            isolation_level=None,
        )
        self._lock = threading.RLock()
        self._depth = 0
        if self.path is not None:
            self._conn.execute("PRAGMA journal_mode=WAL")
        self._conn.execute("PRAGMA busy_timeout=5000")
        self._conn.execute("PRAGMA synchronous=NORMAL")
        self._create_schema()

    # -- plumbing ---------------------------------------------------------------------------

    def _create_schema(self) -> None:
        with self.transaction():
            for res in RESOURCES:
                columns = "".join(f", {f.name} {_column_type(f)}" for f in res.fields)
                self._conn.execute(
                    f"CREATE TABLE IF NOT EXISTS {res.table} "
                    f"(id INTEGER PRIMARY KEY, org TEXT NOT NULL{columns}, doc TEXT NOT NULL)"
                )
                # A data directory from an older version lacks the columns added since.
                have = {row[1] for row in self._conn.execute(f"PRAGMA table_info({res.table})")}
                for f in res.fields:
                    if f.name not in have:
                        self._conn.execute(
                            f"ALTER TABLE {res.table} ADD COLUMN {f.name} {_column_type(f)}"
                        )
                self._conn.execute(
                    f"CREATE INDEX IF NOT EXISTS ix_{res.table}_org ON {res.table} (org, id)"
                )
                for f in res.fields:
                    if f.index:
                        self._conn.execute(
                            f"CREATE INDEX IF NOT EXISTS ix_{res.table}_{f.name} "
                            f"ON {res.table} (org, {f.name}, id)"
                        )
            self._conn.execute(
                "CREATE UNIQUE INDEX IF NOT EXISTS ux_invoices_number "
                "ON invoices (org, invoice_number)"
            )
            self._conn.execute(
                "CREATE UNIQUE INDEX IF NOT EXISTS ux_estimates_number "
                "ON estimates (org, estimate_number)"
            )
            self._conn.execute(
                "CREATE TABLE IF NOT EXISTS counters "
                "(name TEXT PRIMARY KEY, value INTEGER NOT NULL)"
            )
            self._conn.execute(
                "CREATE TABLE IF NOT EXISTS emails (id INTEGER PRIMARY KEY, org TEXT NOT NULL, "
                "invoice_id TEXT NOT NULL, doc TEXT NOT NULL)"
            )
            # An invoice's comments and history, its attached files, and the ids Zoho gives each
            # application of a payment to an invoice (``_extras.py`` keeps them).
            for ddl in EXTRA_TABLES:
                self._conn.execute(ddl)

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """One atomic unit of work; re-entrant, serialised across threads."""
        with self._lock:
            outer = self._depth == 0
            if outer:
                self._conn.execute("BEGIN IMMEDIATE")
            self._depth += 1
            try:
                yield
            except BaseException:
                self._depth -= 1
                if outer:
                    self._conn.execute("ROLLBACK")
                raise
            self._depth -= 1
            if outer:
                self._conn.execute("COMMIT")

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    def reset(self) -> None:
        """Empty every table: no organization has data, ids and numbers start again."""
        with self.transaction():
            tables = self._conn.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
            ).fetchall()
            for (table,) in tables:
                self._conn.execute(f'DELETE FROM "{table}"')

    # -- ids and numbers --------------------------------------------------------------------

    def _bump(self, name: str, count: int) -> int:
        """Reserve ``count`` values of counter ``name``; returns the first."""
        with self.transaction():
            row = self._conn.execute(
                "SELECT value FROM counters WHERE name = ?", (name,)
            ).fetchone()
            first = 1 if row is None else int(row[0]) + 1
            self._conn.execute(
                "INSERT INTO counters (name, value) VALUES (?, ?) "
                "ON CONFLICT(name) DO UPDATE SET value = excluded.value",
                (name, first + count - 1),
            )
            return first

    def new_ids(self, count: int = 1) -> list[str]:
        first = self._bump("id", count)
        return [str(_ID_BASE + first + i) for i in range(count)]

    def next_numbers(self, org: str, kind: str, count: int = 1) -> list[int]:
        """Per-organization sequence numbers (``INV-000001`` …)."""
        first = self._bump(f"{org}:{kind}", count)
        return list(range(first, first + count))

    def peek_number(self, org: str, kind: str) -> int:
        row = self._conn.execute(
            "SELECT value FROM counters WHERE name = ?", (f"{org}:{kind}",)
        ).fetchone()
        return 0 if row is None else int(row[0])

    # -- documents --------------------------------------------------------------------------

    def _row(self, res: Resource, org: str, doc: Doc) -> list[Any]:
        return [
            int(doc[res.id_field]),
            org,
            *(_column_value(f, doc.get(f.name)) for f in res.fields),
            json.dumps(doc, separators=(",", ":")),
        ]

    def insert_many(self, res: Resource, org: str, docs: Iterable[Doc]) -> None:
        """Insert documents that already carry their id (``res.id_field``)."""
        names = ", ".join(f.name for f in res.fields)
        marks = ", ".join("?" for _ in range(len(res.fields) + 3))
        with self.transaction():
            self._conn.executemany(
                f"INSERT INTO {res.table} (id, org, {names}, doc) VALUES ({marks})",
                (self._row(res, org, doc) for doc in docs),
            )

    def insert(self, res: Resource, org: str, doc: Doc) -> None:
        self.insert_many(res, org, [doc])

    def replace(self, res: Resource, org: str, doc: Doc) -> None:
        sets = ", ".join(f"{f.name} = ?" for f in res.fields)
        row = self._row(res, org, doc)
        with self.transaction():
            self._conn.execute(
                f"UPDATE {res.table} SET {sets}, doc = ? WHERE id = ? AND org = ?",
                (*row[2:], row[0], org),
            )

    def get(self, res: Resource, org: str, doc_id: str) -> Doc | None:
        if not doc_id.isascii() or not doc_id.isdigit() or int(doc_id) >= 2**63:
            return None
        with self._lock:
            row = self._conn.execute(
                f"SELECT doc FROM {res.table} WHERE id = ? AND org = ?", (int(doc_id), org)
            ).fetchone()
        return None if row is None else dict(json.loads(row[0]))

    def delete(self, res: Resource, org: str, doc_id: str) -> bool:
        with self.transaction():
            cursor = self._conn.execute(
                f"DELETE FROM {res.table} WHERE id = ? AND org = ?", (int(doc_id), org)
            )
        return cursor.rowcount > 0

    def select(
        self,
        res: Resource,
        org: str,
        *,
        where: Sequence[str] = (),
        params: Sequence[Any] = (),
        order_by: str = "id",
        limit: int = -1,
        offset: int = 0,
    ) -> list[Doc]:
        """Documents matching SQL ``where`` fragments built from ``res``'s own column names."""
        clause = " AND ".join(["org = ?", *where])
        # Page through the narrow index first, then read only the page's documents: OFFSET
        # then skips index entries, not whole rows (page 100 of 20,000 in milliseconds).
        with self._lock:
            rows = self._conn.execute(
                f"SELECT doc FROM {res.table} JOIN (SELECT id AS page_id FROM {res.table} "
                f"WHERE {clause} ORDER BY {order_by} LIMIT ? OFFSET ?) ON id = page_id "
                f"ORDER BY {order_by}",
                (org, *params, limit, offset),
            ).fetchall()
        return [dict(json.loads(row[0])) for row in rows]

    def count(
        self, res: Resource, org: str, *, where: Sequence[str] = (), params: Sequence[Any] = ()
    ) -> int:
        clause = " AND ".join(["org = ?", *where])
        with self._lock:
            row = self._conn.execute(
                f"SELECT COUNT(*) FROM {res.table} WHERE {clause}", (org, *params)
            ).fetchone()
        return int(row[0])

    def values(self, res: Resource, org: str, column: str) -> set[str]:
        """Every value of one of ``res``'s own columns in an organization."""
        if res.field(column) is None:
            raise ValueError(column)
        with self._lock:
            rows = self._conn.execute(
                f"SELECT {column} FROM {res.table} WHERE org = ?", (org,)
            ).fetchall()
        return {str(row[0]) for row in rows}

    # -- e-mails (recorded, never sent) ----------------------------------------------------

    def record_email(self, org: str, invoice_id: str, doc: Doc) -> None:
        with self.transaction():
            self._conn.execute(
                "INSERT INTO emails (org, invoice_id, doc) VALUES (?, ?, ?)",
                (org, invoice_id, json.dumps(doc)),
            )

    def emails(self, org: str) -> list[Doc]:
        with self._lock:
            rows = self._conn.execute(
                "SELECT doc FROM emails WHERE org = ? ORDER BY id", (org,)
            ).fetchall()
        return [dict(json.loads(row[0])) for row in rows]

    # -- the tables of EXTRA_TABLES --------------------------------------------------------

    def execute(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        """One statement on a table of ``EXTRA_TABLES``, in a transaction; its rows."""
        with self.transaction():
            return list(self._conn.execute(sql, tuple(params)).fetchall())
