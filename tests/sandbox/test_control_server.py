"""End-to-end tests: ``serve_sandbox`` (what ``zoho-invoice sandbox`` runs) in a real process,
with a data directory, restarted, still honouring the tokens it issued before; its control
routes behind the control key, its journal and request bodies bounded (SECURITY 51)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psutil
import pytest

from support import free_port
from zoho_invoice._http import httpx
from zoho_invoice_sandbox import SandboxControl
from zoho_invoice_sandbox._world import JOURNAL_ENTRY_TEXT

pytestmark = pytest.mark.e2e

CLIENT = "1000.E2ECLIENT"
REDIRECT = "http://127.0.0.1:9/cb"


CONTROL_KEY = "sandbox-control-key-" + "k" * 24


@contextmanager
def sandbox_process(
    port: int,
    data_dir: Path,
    table: Path,
    *,
    key: str | None = CONTROL_KEY,
    started: list[subprocess.Popen[bytes]] | None = None,
) -> Iterator[str]:
    """``serve_sandbox`` in its own process; ``key`` goes in ``ZOHO_SANDBOX_CONTROL_KEY``
    (``None``: unset, so the sandbox makes one up)."""
    code = (
        "from pathlib import Path; from zoho_invoice_sandbox import serve_sandbox; "
        f"serve_sandbox('127.0.0.1', {port}, Path({str(data_dir)!r}), Path({str(table)!r}))"
    )
    env = {k: v for k, v in os.environ.items() if k != "ZOHO_SANDBOX_CONTROL_KEY"}
    if key is not None:
        env["ZOHO_SANDBOX_CONTROL_KEY"] = key
    process = subprocess.Popen(
        [sys.executable, "-c", code], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env
    )
    if started is not None:
        started.append(process)
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


def _tokens(http: httpx.Client, user_id: str = "700006006") -> dict[str, str]:
    """A code and its exchange at au (Amelia), as an app would: the secret goes in the form."""
    query = {
        "client_id": CLIENT,
        "response_type": "code",
        "redirect_uri": REDIRECT,
        "scope": "ZohoInvoice.invoices.READ",
        "access_type": "offline",
        "state": "x",
    }
    answer = http.post(
        "/accounts/au/oauth/v2/auth",
        params=query,
        data={"user_id": user_id, "decision": "approve"},
    )
    code = httpx.URL(answer.headers["location"]).params["code"]
    tokens: dict[str, str] = http.post(
        "/accounts/au/oauth/v2/token",
        data={
            "grant_type": "authorization_code",
            "client_id": CLIENT,
            "client_secret": "e2e-secret",
            "redirect_uri": REDIRECT,
            "code": code,
        },
    ).json()
    assert "refresh_token" in tokens
    return tokens


#: Every control route that shows a secret or changes the accounts' state.
KEYED_ROUTES = [
    ("POST", "/_sandbox/clients"),
    ("GET", "/_sandbox/faults"),
    ("POST", "/_sandbox/faults"),
    ("DELETE", "/_sandbox/faults"),
    ("GET", "/_sandbox/settings"),
    ("PATCH", "/_sandbox/settings"),
    ("POST", "/_sandbox/revoke"),
    ("GET", "/_sandbox/journal"),
    ("GET", "/_sandbox/stats"),
    ("POST", "/_sandbox/reset"),
]


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, psutil.Process]]:
    """One served sandbox (with ``CONTROL_KEY``) for the tests below: its URL and process."""
    tmp = tmp_path_factory.mktemp("served")
    started: list[subprocess.Popen[bytes]] = []
    with sandbox_process(
        free_port(), tmp / "data", tmp / "datacenters.json", started=started
    ) as base:
        yield base, psutil.Process(started[0].pid)


def test_s51_served_sandbox_control_routes_need_its_key(
    served: tuple[str, psutil.Process],
) -> None:
    with httpx.Client(base_url=served[0]) as http:
        tokens = _tokens(http)
        wrong_keys = [None, "", "wrong", CONTROL_KEY[:-1], CONTROL_KEY + "x", CONTROL_KEY.upper()]
        for method, path in KEYED_ROUTES:
            for wrong in wrong_keys:
                headers = {} if wrong is None else {"X-Sandbox-Key": wrong}
                body = {"refresh_token": tokens["refresh_token"]} if "revoke" in path else {}
                answer = http.request(method, path, headers=headers, json=body)
                assert answer.status_code == 401, (method, path, wrong)
                assert "e2e-secret" not in answer.text
                assert tokens["refresh_token"] not in answer.text
        # Nothing was reset or revoked: the refresh token still works.
        refreshed = http.post(
            "/accounts/au/oauth/v2/token",
            data={
                "grant_type": "refresh_token",
                "client_id": CLIENT,
                "client_secret": "e2e-secret",
                "refresh_token": tokens["refresh_token"],
            },
        )
        assert "access_token" in refreshed.json()
        # The simulated directory stays open (seeding and tests read it).
        assert http.get("/_sandbox/users").status_code == 200
        journal = SandboxControl(http, key=CONTROL_KEY).journal("accounts.token")
        assert ["client_secret", "e2e-secret"] in journal[0]["form"]


def test_s51_served_sandbox_without_a_key_makes_one_up(tmp_path: Path, data_dir: Path) -> None:
    started: list[subprocess.Popen[bytes]] = []
    with (
        sandbox_process(
            free_port(), data_dir, tmp_path / "datacenters.json", key=None, started=started
        ) as base,
        httpx.Client(base_url=base) as http,
    ):
        assert started[0].stderr is not None
        line = started[0].stderr.readline().decode()
        assert "X-Sandbox-Key" in line
        key = line.rsplit(" ", 1)[-1].strip()
        assert len(key) >= 32
        assert http.get("/_sandbox/journal").status_code == 401
        assert http.get("/_sandbox/journal", headers={"X-Sandbox-Key": key}).status_code == 200


def test_s51_served_sandbox_bounds_bodies_and_its_journal(
    served: tuple[str, psutil.Process],
) -> None:
    """40 bodies of 10 MB are refused unread (413), and 100 bodies just under 1 MB are journaled
    cut short: the sandbox's memory stays put (it grew by 400 MB before)."""
    base, process = served
    with httpx.Client(base_url=base, timeout=30) as http:
        form = {"Content-Type": "application/x-www-form-urlencoded"}
        http.post("/accounts/us/oauth/v2/token", content=b"client_id=warm-up", headers=form)
        before = process.memory_info().rss
        huge = b"client_secret=" + b"x" * (10 * 1024 * 1024)
        for _ in range(40):
            answer = http.post("/accounts/us/oauth/v2/token", content=huge, headers=form)
            assert answer.status_code == 413
        near = b"client_id=x&client_secret=" + b"y" * (1000 * 1000)
        for _ in range(100):
            answer = http.post("/accounts/us/oauth/v2/token", content=near, headers=form)
            assert answer.status_code < 500
        grown = process.memory_info().rss - before
        assert grown < 50 * 1024 * 1024, f"the sandbox grew by {grown // 1024 // 1024} MB"
        last = SandboxControl(http, key=CONTROL_KEY).journal("accounts.token")[-1]
        assert last["truncated"] is True
        assert sum(len(k) + len(v) for k, v in last["form"]) <= JOURNAL_ENTRY_TEXT


def test_served_sandbox_writes_the_table_and_keeps_tokens_across_restarts(
    tmp_path: Path, data_dir: Path
) -> None:
    port = free_port()
    table_path = tmp_path / "datacenters.json"
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
        control = SandboxControl(http, key=CONTROL_KEY)
        assert control.stats(tokens["refresh_token"])["access_tokens_minted"] == 2
