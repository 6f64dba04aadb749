"""Benchmark: ``TokenManager.get_access_token`` on a fresh token, in process, SQLite and PostgreSQL.

For each database it saves one connection whose access token is valid for an hour (well beyond
the 300 s leeway), then, side by side in the same run and in alternating rounds, times:

- ``hot``: the manager as shipped (the token cache, re-checked against the row at most 1 s
  apart: the check's SELECT is part of what is timed, once a second);
- ``uncached``: the same manager with ``staleness_bound=None``, which reads the row's access
  token on every call (no refresh token opened);
- ``full_read``: ``Vault.load_tokens`` alone, the read every call did before the cache (the whole
  row, both ciphertexts opened): the old cost.

The hot path is timed in batches (``--batch`` calls, one clock read each side) and the uncached
paths call by call; each figure is the median per call in µs. Zoho is a transport that fails the
run if a refresh is ever asked for. PostgreSQL comes from ``ZOHO_TEST_POSTGRES_URL`` (as the
tests read it; a schema of its own, dropped afterwards); unset, it is skipped with the reason.
The last line is::

    hot_us_sqlite=<µs> hot_us_postgres=<µs> hot_us=<the larger> uncached_us_sqlite=<µs>
    uncached_us_postgres=<µs> full_read_us_sqlite=<µs> full_read_us_postgres=<µs>
    hot_mean_us_sqlite=<µs> hot_mean_us_postgres=<µs> speedup_sqlite=<full_read/hot>
    speedup_postgres=<full_read/hot> refreshes=0

Run: ``.venv/bin/python bench/hot_path.py`` (``--calls 20000 --rounds 5``).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from pydantic import SecretStr
from sqlalchemy import create_engine, text

from zoho_invoice._http import httpx
from zoho_invoice.datacenters import DataCenterTable
from zoho_invoice.oauth import OAuthClient, TokenSet
from zoho_invoice.tokens import TokenManager
from zoho_invoice.vault import KeyRing, Vault

ACCESS = "1000." + "a" * 32 + "." + "b" * 32
REFRESH = "1000." + "c" * 32 + "." + "d" * 32


@dataclass
class Figures:
    """Median µs per call of each path on one database."""

    hot_us: float
    #: The mean, which carries the once-a-second row check (the median does not).
    hot_mean_us: float
    uncached_us: float
    full_read_us: float

    @property
    def speedup(self) -> float:
        return self.full_read_us / self.hot_us


class _NoZoho:
    """Zoho Accounts that must never be asked: a fresh token needs no refresh."""

    def __init__(self) -> None:
        self.asked = 0

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.asked += 1
        return httpx.Response(500, json={"error": "the benchmark asked Zoho for a refresh"})


def _oauth(zoho: _NoZoho) -> OAuthClient:
    return OAuthClient(
        client_id="1000.BENCH",
        client_secret=SecretStr("bench-secret"),
        redirect_uri="http://bench.test/callback",
        scopes=["ZohoInvoice.invoices.READ"],
        datacenters=DataCenterTable.builtin(),
        http=httpx.Client(transport=httpx.MockTransport(zoho)),
    )


def _save(vault: Vault) -> str:
    tokens = TokenSet(
        access_token=ACCESS,
        refresh_token=REFRESH,
        expires_at=datetime.now(UTC) + timedelta(hours=1),
        api_domain="https://www.zohoapis.eu",
        token_type="Bearer",
        scope=None,
    )
    connection, _ = vault.save_connection(
        owner="bench",
        location="eu",
        api_domain="https://www.zohoapis.eu",
        scopes=["ZohoInvoice.invoices.READ"],
        tokens=tokens,
    )
    return connection.id


def _per_call_us(call: Callable[[], object], calls: int) -> list[float]:
    clock = time.perf_counter_ns
    samples = []
    for _ in range(calls):
        started = clock()
        call()
        samples.append((clock() - started) / 1000)
    return samples


def _batched_us(call: Callable[[], object], calls: int, batch: int) -> list[float]:
    """µs per call, one figure per batch (a sub-µs call is below a clock read's resolution)."""
    clock = time.perf_counter_ns
    samples = []
    for _ in range(max(1, calls // batch)):
        started = clock()
        for _ in range(batch):
            call()
        samples.append((clock() - started) / 1000 / batch)
    return samples


def measure(vault: Vault, *, calls: int, rounds: int, batch: int, zoho: _NoZoho) -> Figures:
    """The three paths on one vault, in alternating rounds, so the machine's noise falls on
    each alike."""
    cid = _save(vault)
    hot = TokenManager(vault, _oauth(zoho))
    uncached = TokenManager(vault, _oauth(zoho), staleness_bound=None)
    slow_calls = max(1, calls // 20)  # the uncached paths cost ~100x: fewer calls, same rounds
    for manager in (hot, uncached):  # warm: connection pool, statement cache, the cache itself
        for _ in range(50):
            assert manager.get_access_token(cid).token == ACCESS
    hot_samples: list[float] = []
    uncached_samples: list[float] = []
    full_samples: list[float] = []
    for _ in range(rounds):
        hot_samples += _batched_us(lambda: hot.get_access_token(cid), calls, batch)
        uncached_samples += _per_call_us(lambda: uncached.get_access_token(cid), slow_calls)
        full_samples += _per_call_us(lambda: vault.load_tokens(cid), slow_calls)
    return Figures(
        hot_us=statistics.median(hot_samples),
        hot_mean_us=statistics.fmean(hot_samples),
        uncached_us=statistics.median(uncached_samples),
        full_read_us=statistics.median(full_samples),
    )


@contextmanager
def sqlite_vault(folder: Path) -> Iterator[Vault]:
    keyring = KeyRing.from_string(KeyRing.generate_entry())
    vault = Vault.open(f"sqlite:///{folder / 'hot.db'}", keyring, upgrade=True)
    try:
        yield vault
    finally:
        vault.close()


@contextmanager
def postgres_vault(base: str) -> Iterator[Vault]:
    """A vault in a PostgreSQL schema of its own, dropped afterwards."""
    if base.startswith("postgresql://"):
        base = "postgresql+psycopg://" + base.removeprefix("postgresql://")
    schema = f"bench_hot_{uuid.uuid4().hex[:12]}"
    admin = create_engine(base)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    url = f"{base}{'&' if '?' in base else '?'}options=-csearch_path%3D{schema}"
    try:
        keyring = KeyRing.from_string(KeyRing.generate_entry())
        vault = Vault.open(url, keyring, upgrade=True)
        try:
            yield vault
        finally:
            vault.close()
    finally:
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        admin.dispose()


def _show(name: str, figures: Figures) -> None:
    print(
        f"{name}: hot {figures.hot_us:.2f} µs, uncached (access token only) "
        f"{figures.uncached_us:.1f} µs, full row read (before the cache) "
        f"{figures.full_read_us:.1f} µs: {figures.speedup:.0f}x",
        flush=True,
    )


def _route_figures(workers: int, seconds: float, concurrency: int) -> dict[str, str]:
    """``route_ratio``, ``route_p99_ms`` (and the raw rates) from bench/_route_load.py."""
    bench_dir = str(Path(__file__).resolve().parent)
    if bench_dir not in sys.path:
        sys.path.insert(0, bench_dir)
    import _route_load  # bench/_route_load.py, beside this file

    with _route_load.served(workers) as (base, connection_id):
        warm = _route_load.httpx.post(
            f"{base}/api/connections/{connection_id}/access-token",
            headers={"Authorization": f"Bearer {_route_load.API_KEY}"},
        )
        warm.raise_for_status()
        figures = _route_load.route_figures(
            base,
            api_key=_route_load.API_KEY,
            connection_id=connection_id,
            duration=seconds,
            concurrency=concurrency,
        )
    print("route: " + _route_load.line(figures, tool=_route_load.load_tool(), workers=workers))
    return {
        "route_ratio": f"{figures['route_ratio']:.3f}",
        "route_p99_ms": f"{figures['route_p99_ms']:.1f}",
        "route_rps": f"{figures['route_rps']:.0f}",
        "healthz_rps": f"{figures['healthz_rps']:.0f}",
        "route_errors": f"{figures['route_errors']:.0f}",
    }


def main(argv: list[str] | None = None) -> dict[str, str]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--calls", type=int, default=20000, help="hot calls per round")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--batch", type=int, default=100, help="hot calls per clock read")
    parser.add_argument(
        "--route-seconds", type=float, default=10.0, help="seconds per target of the route load"
    )
    parser.add_argument("--route-concurrency", type=int, default=16)
    parser.add_argument("--route-workers", type=int, default=1, help="serve --workers")
    parser.add_argument("--no-route", action="store_true", help="skip the served route")
    args = parser.parse_args(argv)
    zoho = _NoZoho()
    fields: dict[str, str] = {}
    with tempfile.TemporaryDirectory(prefix="hot-path-") as folder, sqlite_vault(Path(folder)) as v:
        sqlite = measure(v, calls=args.calls, rounds=args.rounds, batch=args.batch, zoho=zoho)
    _show("sqlite", sqlite)
    postgres: Figures | None = None
    base = os.environ.get("ZOHO_TEST_POSTGRES_URL", "")
    if base:
        with postgres_vault(base) as v:
            postgres = measure(v, calls=args.calls, rounds=args.rounds, batch=args.batch, zoho=zoho)
        _show("postgres", postgres)
    else:
        print("postgres: skipped (ZOHO_TEST_POSTGRES_URL is not set)", flush=True)

    def pg(value: Callable[[Figures], float], digits: int) -> str:
        return "skipped" if postgres is None else f"{value(postgres):.{digits}f}"

    hot_us = max(sqlite.hot_us, postgres.hot_us if postgres else 0.0)
    fields.update(
        hot_us_sqlite=f"{sqlite.hot_us:.2f}",
        hot_us_postgres=pg(lambda f: f.hot_us, 2),
        hot_us=f"{hot_us:.2f}",
        hot_mean_us_sqlite=f"{sqlite.hot_mean_us:.2f}",
        hot_mean_us_postgres=pg(lambda f: f.hot_mean_us, 2),
        uncached_us_sqlite=f"{sqlite.uncached_us:.1f}",
        uncached_us_postgres=pg(lambda f: f.uncached_us, 1),
        full_read_us_sqlite=f"{sqlite.full_read_us:.1f}",
        full_read_us_postgres=pg(lambda f: f.full_read_us, 1),
        speedup_sqlite=f"{sqlite.speedup:.0f}",
        speedup_postgres=pg(lambda f: f.speedup, 0),
        refreshes=str(zoho.asked),
    )
    # The access-token route against /healthz on one real `zoho-invoice serve`, side by side in
    # the same run (bench/_route_load.py: wrk when installed, else an httpx load generator).
    if not args.no_route:
        route = _route_figures(args.route_workers, args.route_seconds, args.route_concurrency)
        fields.update(route)
    print(" ".join(f"{key}={value}" for key, value in fields.items()))
    return fields


if __name__ == "__main__":
    main()
