"""Integration tests (SQLite and PostgreSQL): the worker's due queries find what is due, page
by page, and use their indexes (migration 0007) instead of reading the whole table."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from alembic import command
from sqlalchemy import Engine, Select, insert, inspect, text

from support import Clock
from vault._support import TokenFactory
from zoho_invoice.tokens import WorkerVault
from zoho_invoice.vault import Vault
from zoho_invoice.vault._db import alembic_config, create_engine_for
from zoho_invoice.vault._models import ConnectionRow

HOUR = 3600.0
DAY = 86400.0


def _at(epoch: float) -> datetime:
    return datetime.fromtimestamp(epoch, UTC)


def _rows(now: float, count: int, in_use: int) -> Iterator[dict[str, Any]]:
    """Rows as the worker meets them: ``in_use`` used lately, the rest idle over a day."""
    for n in range(count):
        # In use: tokens ending over the next ten minutes; idle: refreshed over the past day.
        refreshed = now - HOUR + (n % 60) * 10.0 if n < in_use else now - (n % 1440) * 60.0
        yield {
            "id": uuid.uuid4().hex,
            "owner": f"tenant-{n}",
            "location": "eu",
            "api_domain": "https://www.zohoapis.eu",
            "scopes": "ZohoInvoice.invoices.READ",
            "status": "active" if n % 50 else "needs_reauth",
            "access_expires_at": _at(refreshed + HOUR),
            "version": 1,
            "created_at": _at(refreshed),
            "updated_at": _at(refreshed),
            "last_refresh_at": _at(refreshed),
            "last_used_at": _at(now - 60.0) if n < in_use else None,
        }


def _explain(engine: Engine, query: Select[str, datetime | None]) -> str:
    """The database's plan for ``query`` (SQLite: EXPLAIN QUERY PLAN; PostgreSQL: JSON)."""
    compiled = query.compile(engine)
    params = compiled.construct_params()
    if engine.dialect.name == "sqlite":
        params = {
            k: v.astimezone(UTC).replace(tzinfo=None) if isinstance(v, datetime) else v
            for k, v in params.items()
        }
        positional = tuple(params[name] for name in compiled.positiontup or ())
        with engine.connect() as conn:
            rows = conn.exec_driver_sql("EXPLAIN QUERY PLAN " + str(compiled), positional).all()
    else:
        with engine.connect() as conn:
            rows = conn.exec_driver_sql("EXPLAIN (FORMAT JSON) " + str(compiled), params).all()
    if engine.dialect.name == "sqlite":
        return "\n".join(str(row[-1]) for row in rows)
    return json.dumps(rows[0][0])


def _index_nodes(plan_json: str) -> set[tuple[str, str]]:
    """(node type, index name) of every index-using node in a PostgreSQL JSON plan."""
    found: set[tuple[str, str]] = set()

    def walk(node: dict[str, Any]) -> None:
        if "Index Name" in node:
            found.add((node["Node Type"], node["Index Name"]))
        for child in node.get("Plans", []):
            walk(child)

    walk(json.loads(plan_json)[0]["Plan"])
    return found


def test_due_queries_find_in_use_and_probe_due_connections_in_pages(
    vault: Vault, clock: Clock
) -> None:
    now = clock()
    with vault.engine.begin() as conn:
        conn.execute(insert(ConnectionRow), list(_rows(now, 300, in_use=30)))
    schedule = vault.refresh_schedule
    before = now + 310.0
    in_use = list(schedule.in_use_expiring(used_since=now - 2 * HOUR, before=before, batch_size=7))
    with vault.engine.connect() as conn:
        expected_in_use = set(
            conn.scalars(
                text(
                    "SELECT id FROM connections WHERE status = 'active'"
                    " AND last_used_at IS NOT NULL AND access_expires_at <= :before"
                ),
                {"before": _at(before).replace(tzinfo=None)}
                if vault.engine.dialect.name == "sqlite"
                else {"before": _at(before)},
            )
        )
    assert len(in_use) == len(set(in_use)) == len(expected_in_use) > 0
    assert set(in_use) == expected_in_use
    # Idle rows last refreshed over four hours ago (one a minute back from now), the longest
    # unprobed first, across pages.
    probes = list(schedule.probes_due(probed_before=now - 4 * HOUR, before=before, batch_size=2))
    assert len(probes) == len(set(probes)) > 0
    with vault.engine.connect() as conn:
        refreshed = [
            conn.execute(
                text("SELECT last_refresh_at FROM connections WHERE id = :id"), {"id": probe}
            ).scalar_one()
            for probe in probes
        ]
    assert refreshed == sorted(refreshed)
    # A connection that is not active is never due.
    statuses = {vault.get_connection(probe).status for probe in probes + in_use}
    assert statuses == {"active"}


def test_connect_and_on_demand_refresh_record_use_and_the_worker_does_not(
    vault: Vault, clock: Clock, tokens: TokenFactory
) -> None:
    connection, _ = vault.save_connection(
        owner="tenant-1",
        location="eu",
        api_domain="https://www.zohoapis.eu",
        scopes=["ZohoInvoice.invoices.READ"],
        tokens=tokens(),
    )
    schedule = vault.refresh_schedule

    def in_use(now: float) -> bool:
        return connection.id in list(
            schedule.in_use_expiring(used_since=now - HOUR, before=now + 10 * DAY)
        )

    assert in_use(clock())
    clock.advance(2 * HOUR)
    assert not in_use(clock())
    stored = vault.load_tokens(connection.id)
    WorkerVault.view(vault, clock=clock).store_refreshed(
        connection.id,
        expected_version=stored.version,
        access_token="1000.worker.token",
        expires_at=clock() + HOUR,
    )
    assert not in_use(clock())  # the worker keeping it warm is not use
    vault.store_refreshed(
        connection.id,
        expected_version=stored.version + 1,
        access_token="1000.caller.token",
        expires_at=clock() + HOUR,
    )
    assert in_use(clock())  # a refresh on demand is


@pytest.fixture
def fleet(vault: Vault, clock: Clock) -> Vault:
    """20,000 connections, 1 % in use, the rest idle and refreshed over the past day; analysed."""
    now = clock()
    rows = list(_rows(now, 20_000, in_use=200))
    with vault.engine.begin() as conn:
        for start in range(0, len(rows), 5_000):
            conn.execute(insert(ConnectionRow), rows[start : start + 5_000])
        conn.execute(
            text("ANALYZE connections" if conn.dialect.name == "postgresql" else "ANALYZE")
        )
    return vault


def test_due_queries_use_their_indexes(fleet: Vault, clock: Clock) -> None:
    now = clock()
    schedule = fleet.refresh_schedule
    in_use = schedule.in_use_query(used_since=now - 2 * HOUR, before=now + 310.0).limit(500)
    probe = schedule.probe_query(probed_before=now - DAY, before=now + 310.0).limit(500)
    in_use_plan = _explain(fleet.engine, in_use)
    probe_plan = _explain(fleet.engine, probe)
    if fleet.engine.dialect.name == "sqlite":
        assert "USING INDEX ix_connections_in_use" in in_use_plan, in_use_plan
        assert "USING INDEX ix_connections_probe" in probe_plan, probe_plan
        return
    index_scans = {"Index Scan", "Index Only Scan", "Bitmap Index Scan"}
    assert {name for kind, name in _index_nodes(in_use_plan) if kind in index_scans} == {
        "ix_connections_in_use"
    }, in_use_plan
    assert {name for kind, name in _index_nodes(probe_plan) if kind in index_scans} == {
        "ix_connections_probe"
    }, probe_plan
    assert "Seq Scan" not in in_use_plan and "Seq Scan" not in probe_plan


def test_migration_0007_backfills_and_goes_back(db_url: str) -> None:
    """A connection from before 0007 (no last refresh recorded) gets one from its last update
    and counts as in use for one window; the downgrade drops the column and indexes."""
    engine = create_engine_for(db_url)
    try:
        with engine.begin() as conn:
            command.upgrade(alembic_config(conn), "0006")
        updated = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)
        stamp = updated.replace(tzinfo=None) if engine.dialect.name == "sqlite" else updated
        with engine.begin() as conn:
            conn.execute(
                text(
                    "INSERT INTO connections (id, owner, location, api_domain, scopes, status,"
                    " version, created_at, updated_at) VALUES ('c' || :n, 'tenant', 'eu',"
                    " 'https://www.zohoapis.eu', '', 'active', 1, :at, :at)"
                ),
                {"n": "0" * 31, "at": stamp},
            )
        with engine.begin() as conn:
            command.upgrade(alembic_config(conn), "0007")
        with engine.connect() as conn:
            row = conn.execute(text("SELECT last_refresh_at, last_used_at FROM connections")).one()
        assert row[0] is not None and row[0] == row[1]
        names = {ix["name"] for ix in inspect(engine).get_indexes("connections")}
        assert {"ix_connections_in_use", "ix_connections_probe"} <= names
        with engine.begin() as conn:
            command.downgrade(alembic_config(conn), "0006")
        inspector = inspect(engine)
        assert "last_used_at" not in {c["name"] for c in inspector.get_columns("connections")}
        assert not {"ix_connections_in_use", "ix_connections_probe"} & {
            ix["name"] for ix in inspector.get_indexes("connections")
        }
    finally:
        engine.dispose()
