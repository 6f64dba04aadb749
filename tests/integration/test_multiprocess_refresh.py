"""Integration test (real processes): several worker processes ask for the same connection's
token at the same moment, just as it is about to expire; Zoho (the sandbox, on a real port) sees
exactly one refresh, and every process gets the new token (SECURITY 27).

Three set-ups: processes sharing one SQLite file (the database lease), processes sharing
PostgreSQL (as several hosts would), and processes coordinating through Redis.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from flows import PUBLIC_URL, connect_via_web, refresh_grants
from zoho_invoice import Settings, Vault
from zoho_invoice.vault import KeyRing
from zoho_invoice.web import create_app
from zoho_invoice_sandbox import RunningSandbox, running_sandbox

API_KEY = "multiprocess-api-key-0123456789-abcdef"
WORKERS = 6

# Each worker: build everything from the environment like a real worker, wait for the common
# start time, ask for the token once, print a digest of it (never the token itself).
WORKER = """
import hashlib, sys, time
from zoho_invoice import Settings, TokenManager
manager = TokenManager.from_settings(Settings())
start = float(sys.argv[2])
while time.time() < start:
    time.sleep(0.001)
token = manager.get_access_token(sys.argv[1])
print(hashlib.sha256(token.token.encode()).hexdigest())
"""


@pytest.fixture
def sandbox(tmp_path: Path) -> Iterator[RunningSandbox]:
    with running_sandbox(datacenters_out=tmp_path / "datacenters.json") as running:
        yield running


@pytest.fixture
def postgres_database(postgres_url: str) -> Iterator[str]:
    """A database of its own on the test server, dropped afterwards."""
    import sqlalchemy

    name = f"zoho_mp_{uuid.uuid4().hex[:12]}"
    admin = sqlalchemy.create_engine(postgres_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sqlalchemy.text(f'CREATE DATABASE "{name}"'))
    url = postgres_url.rsplit("/", 1)[0] + "/" + name
    try:
        yield url
    finally:
        with admin.connect() as conn:
            conn.execute(sqlalchemy.text(f'DROP DATABASE "{name}" WITH (FORCE)'))
        admin.dispose()


def _env(settings: Settings, tmp_path: Path, extra: dict[str, str]) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ZOHO_")}
    assert settings.encryption_keys is not None and settings.client_secret is not None
    env.update(
        {
            "ZOHO_CLIENT_ID": str(settings.client_id),
            "ZOHO_CLIENT_SECRET": settings.client_secret.get_secret_value(),
            "ZOHO_REDIRECT_URI": str(settings.redirect_uri),
            "ZOHO_ENCRYPTION_KEYS": settings.encryption_keys.get_secret_value(),
            "ZOHO_DATACENTERS": str(settings.datacenters),
            "ZOHO_DATA_DIR": str(settings.data_dir),
            **extra,
        }
    )
    if settings.database_url:
        env["ZOHO_DATABASE_URL"] = settings.database_url
    return env


def _run(tmp_path: Path, sandbox: RunningSandbox, database_url: str | None, extra: dict[str, str]):
    settings = Settings(
        client_id="1000.MULTIPROCESS",
        client_secret="multiprocess-secret",
        redirect_uri=PUBLIC_URL + "/callback",
        encryption_keys=KeyRing.generate_entry(),
        api_key=API_KEY,
        datacenters=tmp_path / "datacenters.json",
        data_dir=tmp_path / "data",
        database_url=database_url,
        public_url=PUBLIC_URL,
    )
    with TestClient(create_app(settings), base_url=PUBLIC_URL) as web:
        connection_id = connect_via_web(web, sandbox.base_url, api_key=API_KEY, owner="mp")
    # The stored access token is about to expire: inside every worker's refresh leeway.
    vault = Vault.from_settings(settings)
    row = vault.load_tokens(connection_id)
    assert row.access_token is not None
    vault.store_refreshed(
        connection_id,
        expected_version=row.version,
        access_token=row.access_token,
        expires_at=time.time() + 30,
    )
    vault.close()
    before = refresh_grants(sandbox)

    start = time.time() + 4.0  # every worker is up and waiting by then
    env = _env(settings, tmp_path, extra)
    workers = [
        subprocess.Popen(
            [sys.executable, "-c", WORKER, connection_id, repr(start)],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        for _ in range(WORKERS)
    ]
    digests = []
    for worker in workers:
        out, err = worker.communicate(timeout=60)
        assert worker.returncode == 0, err.decode()[-2000:]
        digests.append(out.decode().strip())

    assert refresh_grants(sandbox) - before == 1
    assert len(set(digests)) == 1
    old = hashlib.sha256(row.access_token.encode()).hexdigest()
    assert digests[0] != old
    return json.dumps(digests)


def test_s27_processes_sharing_sqlite_refresh_once(tmp_path: Path, sandbox: RunningSandbox) -> None:
    _run(tmp_path, sandbox, None, {})


def test_s27_processes_sharing_postgres_refresh_once(
    tmp_path: Path, sandbox: RunningSandbox, postgres_database: str
) -> None:
    _run(tmp_path, sandbox, postgres_database, {})


def test_s27_processes_coordinating_through_redis_refresh_once(
    tmp_path: Path, sandbox: RunningSandbox, redis_url: str
) -> None:
    import redis

    client = redis.Redis.from_url(redis_url)

    def lock_commands() -> int:
        stats = client.info("commandstats")
        return int(stats.get("cmdstat_set", {}).get("calls", 0))

    before = lock_commands()
    _run(tmp_path, sandbox, None, {"ZOHO_REDIS_URL": redis_url})
    # The workers took their lease in Redis (SET NX PX), not only in the database.
    assert lock_commands() > before
    client.close()
