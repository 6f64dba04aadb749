"""Benchmark: the refresh storm. Many callers ask for the access tokens of a few connections at
the moment those tokens expire, spread over several ``zoho-invoice serve`` instances sharing one
PostgreSQL database; Zoho (the sandbox) answers its token endpoint in 100 ms.

Side by side, in the same run, the naive pattern of per-request OAuth clients: every caller that
sees an expired token refreshes it itself (``AsyncOAuthClient.refresh`` with the connection's
refresh token, against the same sandbox), on as many other connections of the same user.

Set-up: a database of its own on ``ZOHO_TEST_POSTGRES_URL`` (dropped at the end), the sandbox as
a process of its own on a free port (``zoho-invoice-sandbox serve``: Zoho's latency is then not
stretched by this process's callers holding the GIL), ``--instances`` real ``zoho-invoice serve``
processes, ``2 * --connections`` connections made through the real connect flow. Before the
storm, every instance serves every connection once and refreshes one (a running service has: its
lock pool, its HTTP connection to Zoho, its lazy imports and what it keeps per connection are
warm). Every caller's keep-alive connection is opened first (a ``/healthz`` each), the stored
tokens are made expired, the token endpoint gets its delay, and then ``--connections *
--callers`` concurrent
``POST /api/connections/{id}/access-token`` go out at once, round-robin over the instances.
Then the same load again on the now fresh tokens: the route's own cost under this concurrency.

The last line::

    mints_per_connection=<refresh grants Zoho saw per connection, ours>
    throttled=<our callers answered anything but 200, plus Zoho's throttles of our refreshes>
    baseline_mints_per_connection=<refresh grants the naive callers asked, per connection>
    baseline_throttled=<naive refreshes Zoho refused (its 10 per 10 minutes)>
    p99_ms=<storm: 99th percentile of a caller's wait> fresh_p99_ms=<same load, fresh tokens>
    storm_extra_ms=<p99_ms - fresh_p99_ms: what the storm costs beyond the route under that load>
    zoho_ms=<the token endpoint's delay> max_ms=<storm: the slowest caller>
    hot_us=<median µs of TokenManager.get_access_token on a fresh token, in process, PostgreSQL>

Run: ``ZOHO_TEST_POSTGRES_URL=postgresql://postgres@127.0.0.1:5432/test .venv/bin/python
bench/refresh_storm.py`` (``--connections 5 --callers 40 --instances 2 --workers 1 --zoho-ms 100``).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import AsyncExitStack, ExitStack, contextmanager
from pathlib import Path
from urllib.parse import urlsplit

from zoho_invoice import Settings, TokenManager, Vault
from zoho_invoice._exceptions import TokenThrottledError
from zoho_invoice._http import httpx
from zoho_invoice.oauth import AsyncOAuthClient
from zoho_invoice.vault import KeyRing
from zoho_invoice_sandbox import SandboxControl

CLI = [sys.executable, "-c", "from zoho_invoice.cli import main; main()"]
SANDBOX = [sys.executable, "-c", "from zoho_invoice_sandbox._cli import main; main()"]
CONTROL_KEY = "refresh-storm-bench-control-" + uuid.uuid4().hex
API_KEY = "refresh-storm-bench-key-" + "0123456789abcdef" * 2
CLIENT_ID = "1000.STORMBENCH"
CLIENT_SECRET = "storm-bench-secret"
USER = "bob@bluebird.example"
PER_ADDRESS = 40  # callers per client address (serve allows 50 connections per address)


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def _database(base: str) -> Iterator[str]:
    """A database of its own on the PostgreSQL server, dropped afterwards."""
    import sqlalchemy

    name = f"zoho_storm_{uuid.uuid4().hex[:12]}"
    admin = sqlalchemy.create_engine(base, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sqlalchemy.text(f'CREATE DATABASE "{name}"'))
    try:
        yield base.rsplit("/", 1)[0] + "/" + name
    finally:
        with admin.connect() as conn:
            conn.execute(sqlalchemy.text(f'DROP DATABASE "{name}" WITH (FORCE)'))
        admin.dispose()


def _env(settings: Settings) -> dict[str, str]:
    assert settings.encryption_keys is not None and settings.client_secret is not None
    env = {k: v for k, v in os.environ.items() if not k.startswith("ZOHO_")}
    env.update(
        {
            "ZOHO_CLIENT_ID": str(settings.client_id),
            "ZOHO_CLIENT_SECRET": settings.client_secret.get_secret_value(),
            "ZOHO_REDIRECT_URI": str(settings.redirect_uri),
            "ZOHO_ENCRYPTION_KEYS": settings.encryption_keys.get_secret_value(),
            "ZOHO_API_KEY": API_KEY,
            "ZOHO_DATACENTERS": str(settings.datacenters),
            "ZOHO_DATA_DIR": str(settings.data_dir),
            "ZOHO_PUBLIC_URL": settings.public_url,
            "ZOHO_DATABASE_URL": str(settings.database_url),
            "ZOHO_ENV_FILE": "",
        }
    )
    return env


@contextmanager
def _serve(settings: Settings, port: int, folder: Path, workers: int = 1) -> Iterator[str]:
    """A real ``zoho-invoice serve --workers N`` on ``port``; its base URL once /healthz
    answers."""
    log = (folder / f"serve-{port}.log").open("wb")
    process = subprocess.Popen(
        [*CLI, "serve", "--port", str(port), "--workers", str(workers)],
        env=_env(settings),
        cwd=folder,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            if process.poll() is not None:
                raise SystemExit(f"serve on {port} ended: see {log.name}")
            try:
                if httpx.get(url + "/healthz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise SystemExit(f"serve on {port} did not come up")
            time.sleep(0.05)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()


def _wait_for(url: str, process: subprocess.Popen[bytes], what: str) -> None:
    deadline = time.monotonic() + 60
    while True:
        if process.poll() is not None:
            raise SystemExit(f"{what} ended")
        try:
            if httpx.get(url, timeout=1).status_code < 500:
                return
        except httpx.TransportError:
            pass
        if time.monotonic() > deadline:
            raise SystemExit(f"{what} did not come up")
        time.sleep(0.05)


@contextmanager
def _sandbox(folder: Path) -> Iterator[str]:
    """The sandbox as a process of its own; its base URL once it answers."""
    port = _free_port()
    log = (folder / "sandbox.log").open("wb")
    env = {**os.environ, "ZOHO_SANDBOX_CONTROL_KEY": CONTROL_KEY}
    process = subprocess.Popen(
        [
            *SANDBOX,
            "serve",
            "--port",
            str(port),
            "--data-dir",
            str(folder / "sandbox"),
            "--datacenters-out",
            str(folder / "dcs.json"),
        ],
        env=env,
        cwd=folder,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_for(url + "/_sandbox/users", process, "the sandbox")
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()


def _connect(service: str, sandbox: str, owner: str) -> str:
    """The real connect flow over HTTP (service ↔ sandbox): the new connection's id."""
    auth = {"Authorization": f"Bearer {API_KEY}"}
    with httpx.Client(follow_redirects=False, timeout=30) as browser:
        session = browser.post(
            service + "/api/connect-sessions", json={"owner": owner}, headers=auth
        )
        session.raise_for_status()
        to_zoho = browser.get(session.json()["connect_url"])
        url = to_zoho.headers["location"]
        users = browser.get(sandbox + "/_sandbox/users").json()["users"]
        user_id = next(u["user_id"] for u in users if u["email"] == USER)
        answer = browser.post(url, data={"user_id": user_id, "decision": "approve"})
        callback = urlsplit(answer.headers["location"])
        done = browser.get(service + callback.path + "?" + callback.query)
        if done.status_code != 200:
            raise SystemExit(f"connect failed: {done.status_code} {done.text[-1500:]}")
        listed = browser.get(service + "/api/connections", params={"owner": owner}, headers=auth)
        [connection] = listed.json()["connections"]
        return str(connection["id"])


def _expire(settings: Settings, connection_ids: list[str]) -> None:
    vault = Vault.from_settings(settings)
    try:
        for connection_id in connection_ids:
            row = vault.load_tokens(connection_id)
            assert row.access_token is not None
            vault.store_refreshed(
                connection_id,
                expected_version=row.version,
                access_token=row.access_token,
                expires_at=time.time() - 1,
            )
    finally:
        vault.close()


def _refresh_grants(control: SandboxControl, refresh_tokens: list[str]) -> int:
    """Refresh grants Zoho (the sandbox) saw for these refresh tokens."""
    return sum(control.stats(token)["refresh_grants"] for token in refresh_tokens)


def _refresh_tokens(settings: Settings, connection_ids: list[str]) -> list[str]:
    vault = Vault.from_settings(settings)
    try:
        tokens = [vault.load_tokens(c).refresh_token for c in connection_ids]
    finally:
        vault.close()
    return [token for token in tokens if token is not None]


def _ask(service: str, connection_id: str) -> None:
    httpx.post(
        f"{service}/api/connections/{connection_id}/access-token",
        headers={"Authorization": f"Bearer {API_KEY}"},
        timeout=60,
    ).raise_for_status()


async def _storm(
    services: list[str], connection_ids: list[str], callers: int
) -> tuple[list[float], int]:
    """Every caller at once; (each caller's wait in ms, callers answered anything but 200)."""
    total = len(connection_ids) * callers
    # serve takes at most 50 connections per client address (SECURITY 51): callers come from
    # several loopback addresses, PER_ADDRESS each, as from several client hosts.
    limits = httpx.Limits(max_connections=PER_ADDRESS, max_keepalive_connections=PER_ADDRESS)
    async with AsyncExitStack() as stack:
        clients = [
            await stack.enter_async_context(
                httpx.AsyncClient(
                    transport=httpx.AsyncHTTPTransport(
                        limits=limits, local_address=f"127.0.0.{2 + k}"
                    ),
                    timeout=60,
                )
            )
            for k in range((total + PER_ADDRESS - 1) // PER_ADDRESS)
        ]
        # Open every caller's connection first, so the storm measures the service, not TCP.
        await asyncio.gather(
            *(
                clients[i // PER_ADDRESS].get(services[i % len(services)] + "/healthz")
                for i in range(total)
            )
        )
        go = asyncio.Event()
        waits: list[float] = []
        failed = 0

        async def call(i: int) -> None:
            nonlocal failed
            service = services[i % len(services)]
            connection_id = connection_ids[i % len(connection_ids)]
            client = clients[i // PER_ADDRESS]
            await go.wait()
            started = time.perf_counter()
            answer = await client.post(
                f"{service}/api/connections/{connection_id}/access-token",
                headers={"Authorization": f"Bearer {API_KEY}"},
            )
            waits.append((time.perf_counter() - started) * 1000)
            if answer.status_code != 200:
                failed += 1

        tasks = [asyncio.create_task(call(i)) for i in range(total)]
        await asyncio.sleep(0.2)  # every task is parked on the event
        go.set()
        await asyncio.gather(*tasks)
        return waits, failed


async def _naive(settings: Settings, connection_ids: list[str], callers: int) -> tuple[int, int]:
    """Per-request OAuth clients: each caller refreshes itself. (grants asked, throttled)."""
    vault = Vault.from_settings(settings)
    try:
        rows = [vault.load_tokens(c) for c in connection_ids]
    finally:
        vault.close()
    # A pool of 32: the sandbox, like any server, refuses too many connections from one address.
    http = httpx.AsyncClient(limits=httpx.Limits(max_connections=32), timeout=60)
    oauth = AsyncOAuthClient.from_settings(settings, http=http)
    throttled = 0
    asked = 0
    go = asyncio.Event()

    async def call(i: int) -> None:
        nonlocal throttled, asked
        row = rows[i % len(rows)]
        assert row.refresh_token is not None
        await go.wait()
        asked += 1
        try:
            await oauth.refresh(row.location, row.refresh_token)
        except TokenThrottledError:
            throttled += 1

    tasks = [asyncio.create_task(call(i)) for i in range(len(rows) * callers)]
    await asyncio.sleep(0.2)
    go.set()
    await asyncio.gather(*tasks)
    await http.aclose()
    return asked, throttled


def _percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def _hot_us(settings: Settings, connection_id: str, calls: int) -> float:
    """Median µs of get_access_token on a fresh token, in this process (PostgreSQL)."""
    manager = TokenManager.from_settings(settings)
    manager.get_access_token(connection_id)
    times = []
    for _ in range(calls):
        started = time.perf_counter()
        manager.get_access_token(connection_id)
        times.append((time.perf_counter() - started) * 1e6)
    return statistics.median(times)


def run(
    connections: int,
    callers: int,
    instances: int,
    zoho_ms: float,
    hot_calls: int,
    workers: int = 1,
) -> str:
    base = os.environ.get("ZOHO_TEST_POSTGRES_URL")
    if not base:
        raise SystemExit("set ZOHO_TEST_POSTGRES_URL (a PostgreSQL server to create a database on)")
    with ExitStack() as stack:
        folder = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="storm-")))
        database_url = stack.enter_context(_database(base))
        sandbox = stack.enter_context(_sandbox(folder))
        control = SandboxControl(
            stack.enter_context(httpx.Client(base_url=sandbox, timeout=60)), key=CONTROL_KEY
        )
        ports = [_free_port() for _ in range(instances)]
        settings = Settings(
            client_id=CLIENT_ID,
            client_secret=CLIENT_SECRET,
            redirect_uri=f"http://127.0.0.1:{ports[0]}/callback",
            encryption_keys=KeyRing.generate_entry(),
            api_key=API_KEY,
            datacenters=folder / "dcs.json",
            data_dir=folder / "data",
            database_url=database_url,
            public_url=f"http://127.0.0.1:{ports[0]}",
        )
        Vault.from_settings(settings, upgrade=True).close()
        services = [stack.enter_context(_serve(settings, port, folder, workers)) for port in ports]
        ours = [_connect(services[0], sandbox, f"storm-{i}") for i in range(connections)]
        naive = [_connect(services[0], sandbox, f"naive-{i}") for i in range(connections)]

        # A running service has served its connections before and refreshed some: every
        # instance answers every connection once (what it keeps per connection is warm) and
        # refreshes one (its lock pool, HTTP connection to Zoho and lazy imports are warm).
        for service in services:
            for connection_id in ours:
                _ask(service, connection_id)
        warm = [ours[i % len(ours)] for i in range(instances)]
        _expire(settings, warm)
        for service, connection_id in zip(services, warm, strict=True):
            _ask(service, connection_id)
        _expire(settings, ours + naive)
        # A token that ends by itself leaves the instances' memory at its end; one made to end
        # by a write of this process is seen once the cache's staleness bound (1 s) has passed.
        time.sleep(1.5)
        refresh_tokens = _refresh_tokens(settings, ours)
        control.script("accounts.token", status=None, delay=zoho_ms / 1000, times=1_000_000)
        before = _refresh_grants(control, refresh_tokens)
        waits, failed = asyncio.run(_storm(services, ours, callers))
        grants = _refresh_grants(control, refresh_tokens) - before
        fresh_waits, fresh_failed = asyncio.run(_storm(services, ours, callers))
        asked, naive_throttled = asyncio.run(_naive(settings, naive, callers))
        hot = _hot_us(settings, ours[0], hot_calls)
    p99, fresh_p99 = _percentile(waits, 0.99), _percentile(fresh_waits, 0.99)
    return (
        f"mints_per_connection={grants / connections:.2f} throttled={failed + fresh_failed} "
        f"baseline_mints_per_connection={asked / connections:.2f} "
        f"baseline_throttled={naive_throttled} "
        f"p99_ms={p99:.1f} fresh_p99_ms={fresh_p99:.1f} storm_extra_ms={p99 - fresh_p99:.1f} "
        f"zoho_ms={zoho_ms:.0f} max_ms={max(waits):.1f} hot_us={hot:.1f}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--connections", type=int, default=5)
    parser.add_argument("--callers", type=int, default=40, help="concurrent callers per connection")
    parser.add_argument("--instances", type=int, default=2, help="zoho-invoice serve processes")
    parser.add_argument("--workers", type=int, default=1, help="serve --workers of each instance")
    parser.add_argument("--zoho-ms", type=float, default=100.0, help="token endpoint's delay")
    parser.add_argument("--hot-calls", type=int, default=2000)
    args = parser.parse_args()
    print(
        run(
            args.connections,
            args.callers,
            args.instances,
            args.zoho_ms,
            args.hot_calls,
            args.workers,
        )
    )


if __name__ == "__main__":
    main()
