"""End-to-end test: ``serve_sandbox`` (what ``zoho-invoice sandbox`` runs) in a real process,
with a data directory, restarted, still honouring the tokens it issued before."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from support import free_port
from zoho_invoice._http import httpx
from zoho_invoice.sandbox import SandboxControl

pytestmark = pytest.mark.e2e

CLIENT = "1000.E2ECLIENT"
REDIRECT = "http://127.0.0.1:9/cb"


@contextmanager
def sandbox_process(port: int, data_dir: Path, table: Path) -> Iterator[str]:
    code = (
        "from pathlib import Path; from zoho_invoice.sandbox import serve_sandbox; "
        f"serve_sandbox('127.0.0.1', {port}, Path({str(data_dir)!r}), Path({str(table)!r}))"
    )
    process = subprocess.Popen(
        [sys.executable, "-c", code], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                if httpx.get(base + "/_sandbox", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                _, err = process.communicate(timeout=5)
                pytest.fail(f"the sandbox did not start: {err.decode()[-2000:]}")
            time.sleep(0.05)
        yield base
    finally:
        process.terminate()
        process.communicate(timeout=10)


def test_served_sandbox_writes_the_table_and_keeps_tokens_across_restarts(
    tmp_path: Path, data_dir: Path
) -> None:
    port = free_port()
    table_path = tmp_path / "dc.json"
    with sandbox_process(port, data_dir, table_path) as base:
        table = json.loads(table_path.read_text())
        assert len(table) == 9
        assert table["au"]["accounts_url"] == f"{base}/accounts/au"
        assert table["au"]["api_domain"] == f"{base}/api/au"
        with httpx.Client(base_url=base) as http:
            query = {
                "client_id": CLIENT,
                "response_type": "code",
                "redirect_uri": REDIRECT,
                "scope": "ZohoInvoice.invoices.READ",
                "access_type": "offline",
                "state": "x",
            }
            answer = http.post(
                table["au"]["accounts_url"] + "/oauth/v2/auth",
                params=query,
                data={"user_id": "700006006", "decision": "approve"},  # Amelia, au
            )
            code = httpx.URL(answer.headers["location"]).params["code"]
            tokens = http.post(
                table["au"]["accounts_url"] + "/oauth/v2/token",
                data={
                    "grant_type": "authorization_code",
                    "client_id": CLIENT,
                    "client_secret": "e2e-secret",
                    "redirect_uri": REDIRECT,
                    "code": code,
                },
            ).json()
            assert tokens["api_domain"] == table["au"]["api_domain"]

    with sandbox_process(port, data_dir, table_path) as base, httpx.Client(base_url=base) as http:
        refreshed = http.post(
            "/accounts/au/oauth/v2/token",
            data={
                "grant_type": "refresh_token",
                "client_id": CLIENT,
                "client_secret": "e2e-secret",
                "refresh_token": tokens["refresh_token"],
            },
        ).json()
        assert "access_token" in refreshed
        assert SandboxControl(http).stats(tokens["refresh_token"])["access_tokens_minted"] == 2
