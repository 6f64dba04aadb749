"""Benchmark: one worker cycle over 100,000 connections on PostgreSQL, and a simulated day.

Needs ``ZOHO_TEST_POSTGRES_URL``; every table lives in a schema of its own, dropped at the end.

1. **One cycle at fleet scale.** ``--connections`` rows (default 100,000) are written with
   PostgreSQL's COPY, then ANALYZEd. The mix: ``--in-use`` (1 %) were used within the in-use
   window, their tokens ending uniformly over the next hour (so the ones ending within the
   worker's leeway + interval are due now, as in a worker's first cycle); the rest are idle, last
   refreshed uniformly over the past day plus one cycle (so about a cycle's share of their daily
   probes is due). The refresh tokens of the rows a cycle can touch (every in-use row and the
   2,000 longest unprobed) are sealed for their own row; the other rows share one sealed value
   made once (a sealed value opens only for its own row, and the cycle never opens those).
   Zoho is a counting in-process token endpoint (an ``httpx.MockTransport`` answering at once):
   the cycle mints only for what is due, and the figure is the worker's own cost (the due
   queries, the lease, the mint log, the fenced write). ``cycle_s`` is the wall time of
   ``refresh_due`` finding and refreshing what is due; ``due_query_ms`` the two due queries
   alone; ``old_query_ms`` the policy before's query (``connections_expiring(limit=100)``) on
   the same table, and ``old_due`` how many rows it counts as due (every active one).
2. **A day, simulated** on ``--sample`` connections (1 % in use, a caller asking for each in-use
   one every cycle) with an injected clock, a cycle every ``--step`` seconds for 24 hours:
   ``mints_per_idle_connection_per_day`` (what the worker spent on idle connections) and
   ``in_use_waits_per_day`` (refreshes made on demand per in-use connection: callers that
   waited for Zoho). The policy before (``refresh_expiring`` each cycle) runs the same day on
   ``--old-sample`` connections, all idle: ``old_mints_per_idle_connection_per_day``.

The last line::

    connections=<n> due=<refreshed in the cycle> cycle_s=<s> due_query_ms=<ms>
    old_query_ms=<ms> old_due=<n> mints_per_idle_connection_per_day=<x>
    old_mints_per_idle_connection_per_day=<x> in_use_waits_per_day=<x>

Run: ``.venv/bin/python bench/worker_scale.py`` (``--connections 100000 --sample 2000``).
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import parse_qs

from pydantic import SecretStr
from sqlalchemy import create_engine, text

from zoho_invoice._http import httpx
from zoho_invoice.datacenters import DataCenterTable
from zoho_invoice.oauth import OAuthClient
from zoho_invoice.tokens import (
    ConnectionEvent,
    TokenManager,
    WorkerPolicy,
    WorkerVault,
    refresh_due,
    refresh_expiring,
)
from zoho_invoice.vault import KeyRing, Vault

HOUR = 3600.0
DAY = 86400.0
INTERVAL = 10.0  # the worker's default interval
LEEWAY = 300.0 + INTERVAL  # as `zoho-invoice worker` sets it
NOW = 1_800_000_000.0
SEALED_PROPERLY = 2_000  # the longest-unprobed rows whose refresh token opens
COLUMNS = (
    "id, owner, location, api_domain, scopes, status, access_token_sealed, access_expires_at,"
    " refresh_token_sealed, key_id, version, created_at, updated_at, last_refresh_at,"
    " last_used_at"
)


class MovableClock:
    """Epoch seconds that move when told (the bench's injected clock)."""

    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


class CountingZoho:
    """Zoho Accounts' token endpoint, in process: mints at once and counts per refresh token."""

    def __init__(self) -> None:
        self.mints: Counter[str] = Counter()

    def __call__(self, request: httpx.Request) -> httpx.Response:
        form = parse_qs(request.read().decode())
        self.mints[form["refresh_token"][0]] += 1
        return httpx.Response(
            200,
            json={
                "access_token": f"1000.{uuid.uuid4().hex}.{uuid.uuid4().hex}",
                "api_domain": "https://www.zohoapis.eu",
                "token_type": "Bearer",
                "expires_in": 3600,
            },
        )


def refresh_token(n: int) -> str:
    return f"1000.{n:032x}.{'a' * 32}"


def postgres_url() -> str:
    url = os.environ.get("ZOHO_TEST_POSTGRES_URL")
    if not url:
        raise SystemExit("set ZOHO_TEST_POSTGRES_URL (a PostgreSQL the bench may make a schema in)")
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url.removeprefix("postgresql://")
    return url


@contextmanager
def own_schema(base: str) -> Iterator[str]:
    """A database URL whose tables live in a fresh schema, dropped afterwards."""
    schema = f"worker_bench_{uuid.uuid4().hex[:12]}"
    admin = create_engine(base)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    try:
        separator = "&" if "?" in base else "?"
        yield f"{base}{separator}options=-csearch_path%3D{schema}"
    finally:
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        admin.dispose()


def _at(epoch: float) -> datetime:
    return datetime.fromtimestamp(epoch, UTC)


def fill(
    vault: Vault, connections: int, in_use: int, now: float, *, seal_all: bool = False
) -> list[int]:
    """COPY ``connections`` rows into the vault (the first ``in_use`` in use, the rest idle, as
    the module docstring says); returns the indexes of the in-use rows."""
    keyring = vault.keyring
    rng = random.Random(7)
    shared_id = uuid.uuid4().hex
    shared_refresh = keyring.seal(refresh_token(0), row_id=shared_id, field="refresh_token")
    shared_access = keyring.seal("1000.shared.access", row_id=shared_id, field="access_token")
    rows: list[tuple[str, int, float | None, float, float]] = []
    for n in range(connections):
        row_id = uuid.uuid4().hex
        if n < in_use:
            used = now - rng.uniform(0, HOUR)
            expires = now + rng.uniform(0, HOUR)
            refreshed = expires - HOUR
        else:
            used = None
            refreshed = now - INTERVAL - rng.uniform(0, DAY)
            expires = refreshed + HOUR
        rows.append((row_id, n, used, refreshed, expires))
    # The in-use rows and the longest unprobed idle ones are the rows a cycle can refresh.
    idle_oldest = sorted(range(in_use, connections), key=lambda i: rows[i][3])[:SEALED_PROPERLY]
    proper = set(range(in_use)) | set(idle_oldest)
    key_id = keyring.primary_key_id
    raw = vault.engine.raw_connection()
    try:
        cursor = raw.cursor()
        with cursor.copy(f"COPY connections ({COLUMNS}) FROM STDIN") as copy:
            for row_id, n, used, refreshed, expires in rows:
                if seal_all or n in proper:
                    sealed_refresh = keyring.seal(
                        refresh_token(n), row_id=row_id, field="refresh_token"
                    )
                    sealed_access = keyring.seal(
                        "1000.old.access", row_id=row_id, field="access_token"
                    )
                else:
                    sealed_refresh, sealed_access = shared_refresh, shared_access
                copy.write_row(
                    (
                        row_id,
                        f"tenant-{n}",
                        "eu",
                        "https://www.zohoapis.eu",
                        "ZohoInvoice.invoices.READ",
                        "active",
                        sealed_access,
                        _at(expires),
                        sealed_refresh,
                        key_id,
                        1,
                        _at(refreshed),
                        _at(refreshed),
                        _at(refreshed),
                        None if used is None else _at(used),
                    )
                )
        raw.commit()
    finally:
        raw.close()
    with vault.engine.begin() as conn:
        conn.execute(text("ANALYZE connections"))
    return list(range(in_use))


def oauth_for(zoho: CountingZoho, clock: MovableClock) -> OAuthClient:
    return OAuthClient(
        client_id="1000.BENCH",
        client_secret=SecretStr("bench-secret"),
        redirect_uri="https://bench.example/callback",
        scopes=["ZohoInvoice.invoices.READ"],
        datacenters=DataCenterTable.builtin(),
        http=httpx.Client(transport=httpx.MockTransport(zoho)),
        clock=clock,
    )


def worker_manager(
    vault: Vault, zoho: CountingZoho, clock: MovableClock, leeway: float = LEEWAY
) -> TokenManager:
    events: list[ConnectionEvent] = []
    return TokenManager(
        WorkerVault.view(vault, clock=clock),
        oauth_for(zoho, clock),
        leeway=leeway,
        clock=clock,
        events=events.append,
    )


@dataclass
class Result:
    connections: int
    due: int
    cycle_s: float
    due_query_ms: float
    old_query_ms: float
    old_due: int
    mints_per_idle_connection_per_day: float
    old_mints_per_idle_connection_per_day: float
    in_use_waits_per_day: float

    def line(self) -> str:
        return (
            f"connections={self.connections} due={self.due} cycle_s={self.cycle_s:.3f} "
            f"due_query_ms={self.due_query_ms:.2f} old_query_ms={self.old_query_ms:.2f} "
            f"old_due={self.old_due} "
            f"mints_per_idle_connection_per_day={self.mints_per_idle_connection_per_day:.3f} "
            f"old_mints_per_idle_connection_per_day="
            f"{self.old_mints_per_idle_connection_per_day:.3f} "
            f"in_use_waits_per_day={self.in_use_waits_per_day:.3f}"
        )


def one_cycle(
    base: str, connections: int, in_use_fraction: float
) -> tuple[int, float, float, float, int]:
    """(refreshed, cycle_s, due_query_ms, old_query_ms, old_due) on a fleet-sized table."""
    keyring = KeyRing.from_string(KeyRing.generate_entry())
    clock = MovableClock(NOW)
    with own_schema(base) as url:
        vault = Vault.open(url, keyring, upgrade=True, clock=clock)
        try:
            fill(vault, connections, max(1, int(connections * in_use_fraction)), NOW)
            schedule = vault.refresh_schedule
            policy = WorkerPolicy()
            started = time.perf_counter()
            list(
                schedule.in_use_expiring(used_since=NOW - policy.in_use_window, before=NOW + LEEWAY)
            )
            list(
                schedule.probes_due(
                    probed_before=NOW - policy.idle_probe_interval, before=NOW + LEEWAY
                )
            )
            due_query_ms = (time.perf_counter() - started) * 1000
            started = time.perf_counter()
            vault.connections_expiring(NOW + LEEWAY, limit=100)
            old_query_ms = (time.perf_counter() - started) * 1000
            with vault.engine.connect() as conn:
                old_due = int(
                    conn.execute(
                        text(
                            "SELECT count(*) FROM connections WHERE status = 'active' AND "
                            "(access_expires_at IS NULL OR access_expires_at < :before)"
                        ),
                        {"before": _at(NOW + LEEWAY)},
                    ).scalar_one()
                )
            zoho = CountingZoho()
            manager = worker_manager(vault, zoho, clock)
            started = time.perf_counter()
            cycle = refresh_due(manager, schedule, policy=policy, clock=clock)
            cycle_s = time.perf_counter() - started
            assert cycle.needs_reauth == cycle.unavailable == 0, cycle
            assert sum(zoho.mints.values()) == cycle.kept_warm + cycle.probed
            return cycle.kept_warm + cycle.probed, cycle_s, due_query_ms, old_query_ms, old_due
        finally:
            vault.close()


def simulated_day(
    base: str, sample: int, in_use_fraction: float, step: float, *, old: bool
) -> tuple[float, float]:
    """(mints per idle connection, on-demand refreshes per in-use connection) over one day."""
    keyring = KeyRing.from_string(KeyRing.generate_entry())
    clock = MovableClock(NOW)
    in_use = 0 if old else max(1, int(sample * in_use_fraction))
    with own_schema(base) as url:
        vault = Vault.open(url, keyring, upgrade=True, clock=clock)
        try:
            fill(vault, sample, in_use, NOW, seal_all=True)
            ids = [c.id for c in vault.list_connections()]
            busy = [c.id for c in vault.list_connections() if int(c.owner.split("-")[1]) < in_use]
            zoho = CountingZoho()
            # As `zoho-invoice worker --interval STEP` sets it: refresh leeway + interval.
            worker = worker_manager(vault, zoho, clock, leeway=300.0 + step)
            callers = CountingZoho()
            user = TokenManager(vault, oauth_for(callers, clock), clock=clock)
            policy = WorkerPolicy()
            end = NOW + DAY
            while clock.now < end:
                if old:
                    refresh_expiring(worker, vault, limit=sample, clock=clock)
                else:
                    refresh_due(worker, vault.refresh_schedule, policy=policy, clock=clock)
                clock.now += step - 1
                for connection_id in busy:
                    user.get_access_token(connection_id)
                clock.now += 1
            idle_tokens = {refresh_token(n) for n in range(in_use, sample)}
            idle_mints = sum(count for token, count in zoho.mints.items() if token in idle_tokens)
            idle = len(ids) - len(busy)
            waits = sum(callers.mints.values()) / len(busy) if busy else 0.0
            return idle_mints / idle, waits
        finally:
            vault.close()


def run(
    connections: int = 100_000,
    *,
    in_use_fraction: float = 0.01,
    sample: int = 2_000,
    old_sample: int = 100,
    step: float = 60.0,
) -> Result:
    base = postgres_url()
    due, cycle_s, due_query_ms, old_query_ms, old_due = one_cycle(
        base, connections, in_use_fraction
    )
    idle_per_day, waits = simulated_day(base, sample, in_use_fraction, step, old=False)
    old_per_day, _ = simulated_day(base, old_sample, in_use_fraction, step, old=True)
    return Result(
        connections=connections,
        due=due,
        cycle_s=cycle_s,
        due_query_ms=due_query_ms,
        old_query_ms=old_query_ms,
        old_due=old_due,
        mints_per_idle_connection_per_day=idle_per_day,
        old_mints_per_idle_connection_per_day=old_per_day,
        in_use_waits_per_day=waits,
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--connections", type=int, default=100_000)
    parser.add_argument("--in-use", type=float, default=0.01, help="fraction in use")
    parser.add_argument("--sample", type=int, default=2_000, help="connections in the day")
    parser.add_argument("--old-sample", type=int, default=100, help="the old policy's day")
    parser.add_argument("--step", type=float, default=60.0, help="simulated cycle seconds")
    args = parser.parse_args(argv)
    result = run(
        args.connections,
        in_use_fraction=args.in_use,
        sample=args.sample,
        old_sample=args.old_sample,
        step=args.step,
    )
    print(result.line())
    sys.stdout.flush()


if __name__ == "__main__":
    main()
