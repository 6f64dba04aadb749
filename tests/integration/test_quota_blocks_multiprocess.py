"""Integration test (real processes): once Zoho says an organization's daily quota is spent
(code 45), no other process sends for it before the reset: a second process, started after, gets
``DailyQuotaExceeded`` without a request reaching Zoho (the sandbox, on a real port, counts).

Three set-ups, as ``quota_blocks_from_settings`` builds them from the environment: processes
sharing the vault's SQLite file, processes sharing PostgreSQL (as several hosts would), and
processes sharing Redis.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from api._sandbox import ALICE, mint
from zoho_invoice._http import httpx
from zoho_invoice.vault import KeyRing, Vault
from zoho_invoice_sandbox import RunningSandbox, running_sandbox
from zoho_invoice_sandbox.invoice import InvoiceSandboxControl

# A worker as a real one is built: blocks from the settings (the environment), the token from
# the environment (never on the command line), then ``calls`` requests; prints what happened.
WORKER = """
import json, os, sys
from zoho_invoice import DailyQuotaExceeded, Settings, Vault
from zoho_invoice.api import UnlimitedBudget, ZohoInvoice, quota_blocks_from_settings
settings = Settings()
vault = None if settings.redis_url else Vault.from_settings(settings)
outcomes = []
with ZohoInvoice(
    access_token=os.environ["QUOTA_TEST_TOKEN"],
    api_domain=sys.argv[1],
    organization_id=sys.argv[2],
    budget=UnlimitedBudget(),
    max_retries=0,
    quota_blocks=quota_blocks_from_settings(settings, vault),
) as client:
    for _ in range(int(sys.argv[3])):
        try:
            client.items.list(per_page=1)
            outcomes.append("ok")
        except DailyQuotaExceeded as exc:
            outcomes.append([exc.status_code, exc.resets_at.isoformat()])
print(json.dumps(outcomes))
"""


@pytest.fixture
def sandbox() -> Iterator[RunningSandbox]:
    with running_sandbox() as running:
        yield running


@pytest.fixture
def postgres_database(postgres_url: str) -> Iterator[str]:
    """A database of its own on the test server, dropped afterwards."""
    import sqlalchemy

    name = f"zoho_quota_{uuid.uuid4().hex[:12]}"
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


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres),
                        pytest.param("redis", marks=pytest.mark.redis)])  # fmt: skip
def shared(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[dict[str, str]]:
    """The environment that makes the workers share their blocks."""
    keys = KeyRing.generate_entry()
    env = {"ZOHO_ENCRYPTION_KEYS": keys, "ZOHO_DATA_DIR": str(tmp_path / "data")}
    if request.param == "redis":
        env["ZOHO_REDIS_URL"] = request.getfixturevalue("redis_url")
        yield env
        return
    url = (
        f"sqlite:///{tmp_path / 'zoho.db'}"
        if request.param == "sqlite"
        else request.getfixturevalue("postgres_database")
    )
    Vault.open(url, KeyRing.from_string(keys), upgrade=True).close()
    env["ZOHO_DATABASE_URL"] = url
    yield env


def _worker(env: dict[str, str], *args: str) -> list[Any]:
    done = subprocess.run(
        [sys.executable, "-c", WORKER, *args],
        env=env,
        capture_output=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr.decode()[-2000:]
    return list(json.loads(done.stdout))


def test_45_in_one_process_stops_every_other_process(
    sandbox: RunningSandbox, shared: dict[str, str]
) -> None:
    with httpx.Client(base_url=sandbox.base_url) as http:
        alice = sandbox.world.directory.user_by_email(ALICE)
        assert alice is not None
        org = alice.organization_ids[0]
        control = InvoiceSandboxControl(http)
        control.seed(org, contacts=1, items=1, invoices=0)
        tokens = mint(http, alice.user_id)
        control.set_limits(daily=2)
        control.reset_usage()
    env = {k: v for k, v in os.environ.items() if not k.startswith("ZOHO_")}
    env.update(shared, QUOTA_TEST_TOKEN=tokens["access_token"])
    api_domain = str(tokens["api_domain"])
    try:
        first = _worker(env, api_domain, org, "3")
        assert first[:2] == ["ok", "ok"]
        status, resets_at = first[2]
        assert status == 429  # Zoho's answer, with the reset it reported
        assert len(sandbox.world.journal.entries("invoice.GET /items")) == 3

        second = _worker(env, api_domain, org, "2")
        # Blocked before sending (no status: Zoho never saw it), until the same reset (Redis
        # keeps it as a TTL: the same to the millisecond).
        reset = datetime.fromisoformat(resets_at)
        assert [status for status, _ in second] == [None, None]
        for _, blocked_until in second:
            assert abs(datetime.fromisoformat(blocked_until) - reset) < timedelta(seconds=1)
        assert len(sandbox.world.journal.entries("invoice.GET /items")) == 3
    finally:
        if "ZOHO_REDIS_URL" in shared:
            import redis

            client = redis.Redis.from_url(shared["ZOHO_REDIS_URL"])
            client.delete(f"zoho-invoice:quota-block:{api_domain}|{org}")
            client.close()
