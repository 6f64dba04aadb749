"""End-to-end test: ``zoho-invoice sandbox`` and ``zoho-invoice serve`` as real processes on
real ports, and an HTTP client keeping cookies walking the whole connect flow (an eu user sent
from us to eu), then an access token and a disconnect whose revoke reaches the sandbox."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from support import free_port
from zoho_invoice._http import httpx
from zoho_invoice.vault import KeyRing

pytestmark = pytest.mark.e2e

CLI = [sys.executable, "-c", "from zoho_invoice.cli import main; main()"]
SANDBOX_KEY = "e2e-sandbox-control-key-" + "s" * 16


@dataclass
class Stack:
    sandbox_url: str
    service_url: str
    api_key: str


def _wait_for(url: str, proc: subprocess.Popen[bytes], timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            out = proc.stdout.read().decode() if proc.stdout else ""
            raise AssertionError(f"process exited early ({proc.returncode}): {out[-2000:]}")
        try:
            if httpx.get(url, timeout=1.0).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    raise AssertionError(f"{url} did not come up")


def _stop(proc: subprocess.Popen[bytes]) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


@pytest.fixture
def stack(tmp_path: Path) -> Iterator[Stack]:
    sandbox_port, service_port = free_port(), free_port()
    sandbox_url = f"http://127.0.0.1:{sandbox_port}"
    service_url = f"http://127.0.0.1:{service_port}"
    datacenters_file = tmp_path / "datacenters.json"
    base_env = {k: v for k, v in os.environ.items() if not k.startswith("ZOHO_")}
    # The sandbox's control routes (the journal read below) need its key.
    base_env["ZOHO_SANDBOX_CONTROL_KEY"] = SANDBOX_KEY
    sandbox = subprocess.Popen(
        [*CLI, "sandbox", "--port", str(sandbox_port), "--datacenters-out", str(datacenters_file)],
        env=base_env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        _wait_for(sandbox_url + "/_sandbox", sandbox)
        api_key = "e2e-api-key-" + os.urandom(16).hex()
        env = {
            **base_env,
            "ZOHO_CLIENT_ID": "1000.E2ECLIENT",
            "ZOHO_CLIENT_SECRET": "e2e-client-secret",
            "ZOHO_REDIRECT_URI": service_url + "/callback",
            "ZOHO_ENCRYPTION_KEYS": KeyRing.generate_entry(),
            "ZOHO_API_KEY": api_key,
            "ZOHO_DATACENTERS": str(datacenters_file),
            "ZOHO_DATA_DIR": str(tmp_path / "data"),
            "ZOHO_PUBLIC_URL": service_url,
        }
        service = subprocess.Popen(
            [*CLI, "serve", "--port", str(service_port)],
            env=env,
            cwd=tmp_path,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )
        try:
            _wait_for(service_url + "/healthz", service)
            yield Stack(sandbox_url, service_url, api_key)
        finally:
            _stop(service)
    finally:
        _stop(sandbox)


def test_connect_eu_user_end_to_end(stack: Stack) -> None:
    auth = {"Authorization": f"Bearer {stack.api_key}"}
    with (
        httpx.Client(timeout=10.0, follow_redirects=False) as browser,
        httpx.Client(base_url=stack.service_url, headers=auth, timeout=10.0) as api,
    ):
        created = api.post("/api/connect-sessions", json={"owner": "e2e-tenant"})
        assert created.status_code == 201, created.text
        connect_url = created.json()["connect_url"]
        assert connect_url.startswith(stack.service_url + "/connect/")

        to_zoho = browser.get(connect_url)
        assert to_zoho.status_code == 303
        authorize_url = to_zoho.headers["location"]
        assert authorize_url.startswith(stack.sandbox_url + "/accounts/us/oauth/v2/auth?")
        consent_page = browser.get(authorize_url)
        assert consent_page.status_code == 200

        users = httpx.get(stack.sandbox_url + "/_sandbox/users").json()
        users = users["users"] if isinstance(users, dict) else users
        elena = next(u for u in users if u["email"] == "elena@eurotech.example")
        form = {"user_id": elena["user_id"], "decision": "approve"}
        hop = browser.post(authorize_url, data=form)
        assert hop.status_code == 302
        eu_url = hop.headers["location"]
        assert eu_url.startswith(stack.sandbox_url + "/accounts/eu/oauth/v2/auth?")
        back = browser.post(eu_url, data=form)
        assert back.status_code == 302
        callback_url = back.headers["location"]
        assert callback_url.startswith(stack.service_url + "/callback?")

        done = browser.get(callback_url)
        assert done.status_code == 200, done.text
        assert "Zoho Invoice is connected" in done.text

        listed = api.get("/api/connections", params={"owner": "e2e-tenant"}).json()["connections"]
        assert len(listed) == 1
        conn = listed[0]
        assert conn["location"] == "eu"
        assert conn["api_domain"] == stack.sandbox_url + "/api/eu"
        # Elena has two organizations: the connection stays unbound until she chooses.
        assert conn["organization_id"] is None

        token = api.post(f"/api/connections/{conn['id']}/access-token")
        assert token.status_code == 200, token.text
        body = token.json()
        assert body["api_domain"] == stack.sandbox_url + "/api/eu"
        orgs = httpx.get(
            body["api_domain"] + "/invoice/v3/organizations",
            headers={"Authorization": f"Zoho-oauthtoken {body['access_token']}"},
        )
        assert orgs.status_code == 200
        assert {o["name"] for o in orgs.json()["organizations"]} == {
            "Eurotech GmbH",
            "Eurotech Italia",
        }

        assert api.delete(f"/api/connections/{conn['id']}").status_code == 204
        deadline = time.monotonic() + 10
        revokes: list[dict[str, object]] = []
        while time.monotonic() < deadline:
            journal = httpx.get(
                stack.sandbox_url + "/_sandbox/journal",
                params={"endpoint": "accounts.revoke"},
                headers={"X-Sandbox-Key": SANDBOX_KEY},
            ).json()
            revokes = journal["entries"] if isinstance(journal, dict) else journal
            if revokes:
                break
            time.sleep(0.1)
        assert revokes, "the revoke never reached the sandbox"
        assert str(revokes[0]["path"]).startswith("/accounts/eu/")
        gone = httpx.get(
            body["api_domain"] + "/invoice/v3/organizations",
            headers={"Authorization": f"Zoho-oauthtoken {body['access_token']}"},
        )
        assert gone.status_code == 401
        assert api.get(f"/api/connections/{conn['id']}").json()["status"] == "revoked"
