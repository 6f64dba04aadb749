"""End-to-end test of the mirror's surfaces as a user runs them (issue 10): the sandbox on a real
port, ``zoho-invoice sync`` as a process, ``zoho-invoice serve`` as a process whose workflow
webhook URL a "Zoho workflow rule" calls, and ``zoho-invoice worker --once --sync-every``. The
loops that wait for the service's background sync poll with a safety net, as the other e2e tests
do; nothing is asserted about time."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from flows import PUBLIC_URL, connect_via_web
from support import free_port, wait_until_serving
from zoho_invoice import DEFAULT_SCOPES, Settings
from zoho_invoice._http import httpx
from zoho_invoice.vault import KeyRing, Vault
from zoho_invoice.web import create_app
from zoho_invoice_sandbox import RunningSandbox, running_sandbox
from zoho_invoice_sandbox.invoice import seed_organization

pytestmark = pytest.mark.e2e

CLI = [sys.executable, "-c", "from zoho_invoice.cli import main; main()"]
API_KEY = "sync-e2e-test-api-key-" + "0123456789abcdef" * 2
ALICE = "alice@acme.example"
#: The default scopes: since they ask for credit notes too, a default connection reads all seven.
SCOPES = list(DEFAULT_SCOPES)
SAFETY_NET = 120.0


@pytest.fixture
def sandbox(tmp_path: Path) -> Iterator[RunningSandbox]:
    with running_sandbox(
        data_dir=tmp_path / "sandbox", datacenters_out=tmp_path / "dcs.json"
    ) as running:
        yield running


def _env(settings: Settings, public_url: str) -> dict[str, str]:
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
            "ZOHO_PUBLIC_URL": public_url,
            "ZOHO_SCOPES": ",".join(SCOPES),
        }
    )
    return env


def _run(env: dict[str, str], cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*CLI, *args], env=env, cwd=cwd, capture_output=True, text=True, timeout=SAFETY_NET
    )


def test_sync_from_the_cli_the_service_and_a_workflow_webhook(
    tmp_path: Path, sandbox: RunningSandbox
) -> None:
    settings = Settings(
        client_id="1000.SYNCE2E",
        client_secret="sync-e2e-client-secret",
        redirect_uri=PUBLIC_URL + "/callback",
        encryption_keys=KeyRing.generate_entry(),
        api_key=API_KEY,
        datacenters=tmp_path / "dcs.json",
        data_dir=tmp_path / "data",
        public_url=PUBLIC_URL,
        scopes=SCOPES,
    )
    with TestClient(create_app(settings), base_url=PUBLIC_URL) as web:
        connection_id = connect_via_web(
            web, sandbox.base_url, api_key=API_KEY, owner="e2e", email=ALICE
        )
    alice = sandbox.world.directory.user_by_email(ALICE)
    assert alice is not None
    org = alice.organization_ids[0]
    vault = Vault.from_settings(settings)
    vault.set_organization(connection_id, org)
    seed_organization(sandbox.world, org, contacts=1, items=1, invoices=3)
    port = free_port()
    service_url = f"http://127.0.0.1:{port}"
    env = _env(settings, service_url)
    service: subprocess.Popen[bytes] | None = None
    try:
        # 1. The CLI, a process: the invoices into the mirror, the report as JSON.
        done = _run(env, tmp_path, "sync", "-c", connection_id, "-r", "invoices", "--json")
        assert done.returncode == 0, done.stderr
        report = json.loads(done.stdout)
        assert (report["outcome"], report["added"]) == ("completed", 3)

        # 2. The service, a process: its webhook URL, called as a workflow rule would.
        service = subprocess.Popen(
            [*CLI, "serve", "--port", str(port)],
            env=env,
            cwd=tmp_path,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        auth = {"Authorization": f"Bearer {API_KEY}"}
        deadline = time.monotonic() + SAFETY_NET
        wait_until_serving(service_url, service, within=SAFETY_NET)
        made = httpx.post(
            f"{service_url}/api/connections/{connection_id}/sync/webhook-url", headers=auth
        )
        assert made.status_code == 201, made.text
        hook = made.json()["url"]
        assert hook.startswith(f"{service_url}/zoho/webhooks/")
        called = httpx.post(hook, json={"invoice": {"invoice_id": "1"}}, timeout=SAFETY_NET)
        assert called.status_code == 202
        status_url = f"{service_url}/api/connections/{connection_id}/sync"
        while True:
            status = httpx.get(status_url, headers=auth, timeout=SAFETY_NET).json()
            rows = {r["resource"]: r for r in status["resources"]}
            if rows["contacts"]["last_success_at"] and not status["running"]:
                break
            assert time.monotonic() < deadline + SAFETY_NET, "the triggered sync never ended"
            time.sleep(0.2)
        assert rows["invoices"]["rows"] == 3 and rows["contacts"]["rows"] == 1
        assert all(r["error"] is None for r in rows.values()), rows  # the default grant
        unknown = httpx.post(hook + "x")
        assert unknown.status_code == 404
        # The JSON API's own start: 202, and the status shows the run once it ended.
        before = rows["invoices"]["last_run_at"]
        started = httpx.post(status_url, headers=auth, json={"resources": ["invoices"]})
        assert started.status_code == 202, started.text
        while True:
            status = httpx.get(status_url, headers=auth, timeout=SAFETY_NET).json()
            rows = {r["resource"]: r for r in status["resources"]}
            if rows["invoices"]["last_run_at"] != before and not status["running"]:
                break
            assert time.monotonic() < deadline + 2 * SAFETY_NET, "the API's sync never ended"
            time.sleep(0.2)
        assert rows["invoices"]["error"] is None and rows["invoices"]["rows"] == 3

        # 3. The worker, a process: one round with --sync-every; nothing due within 15 minutes.
        worker = _run(env, tmp_path, "worker", "--once", "--sync-every", "15m")
        assert worker.returncode == 0, worker.stderr
        assert "mirror sync" in worker.stderr
        bad = _run(env, tmp_path, "worker", "--once", "--sync-every", "often")
        assert bad.returncode == 2 and "--sync-every" in bad.stderr
    finally:
        if service is not None and service.poll() is None:
            service.terminate()
            service.wait(timeout=SAFETY_NET)
        vault.close()
