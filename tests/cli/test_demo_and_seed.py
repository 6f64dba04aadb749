"""Integration tests of the demo's persistence and ``zoho-invoice sandbox seed``: the demo's setup
run twice on one folder, the sandbox on a real port with its data folder, the service app in
process; a second run finds the same connection, its invoices, and refreshes its token."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import typer
from starlette.testclient import TestClient
from typer.testing import CliRunner

from private_files import mode
from support import free_port
from zoho_invoice._http import httpx
from zoho_invoice.cli import app
from zoho_invoice.cli._demo import demo_settings, prepare_demo, seed_demo_world
from zoho_invoice.oauth import TokenSet
from zoho_invoice.vault import KeyRing, Vault
from zoho_invoice.web import create_app
from zoho_invoice_sandbox import SandboxWorld, running_sandbox
from zoho_invoice_sandbox.invoice._resources import CONTACTS, INVOICES

runner = CliRunner()
CLI_MAIN = "from zoho_invoice.cli import main; main()"


def _invoice_count(data_dir: Path, org_id: str) -> int:
    world = SandboxWorld(base_url="http://127.0.0.1", data_dir=data_dir)
    try:
        return world.invoices.count(INVOICES, org_id)
    finally:
        world.close()


def test_demo_setup_reuses_keys_and_sandbox_port(tmp_path: Path) -> None:
    first = prepare_demo(tmp_path)
    stored = json.loads((tmp_path / "demo.json").read_text())
    assert stored["sandbox_port"] == first.sandbox_port
    assert (tmp_path / "demo.json").stat().st_mode & 0o077 == 0
    second = prepare_demo(tmp_path)
    assert second.sandbox_port == first.sandbox_port
    for key in ("encryption_keys", "api_key", "client_secret"):
        assert second.secrets[key] == first.secrets[key]
    assert second.sandbox_dir == tmp_path / "sandbox"
    assert not second.seeded
    second.mark_seeded()
    assert prepare_demo(tmp_path).seeded
    other = prepare_demo(tmp_path / "other")
    assert other.secrets["encryption_keys"] != first.secrets["encryption_keys"]


def test_demo_setup_takes_a_given_port_once_and_then_keeps_it(tmp_path: Path) -> None:
    port = free_port()
    assert prepare_demo(tmp_path, sandbox_port=port).sandbox_port == port
    assert prepare_demo(tmp_path).sandbox_port == port
    with pytest.raises(typer.Exit):  # the stored connections point at the first port
        prepare_demo(tmp_path, sandbox_port=port + 1 if port < 65535 else port - 1)


def test_demo_setup_refuses_a_damaged_file(tmp_path: Path) -> None:
    (tmp_path / "demo.json").write_text("{not json")
    with pytest.raises(typer.Exit):
        prepare_demo(tmp_path)


def test_seed_command_on_a_data_folder(tmp_path: Path) -> None:
    world = SandboxWorld(base_url="http://127.0.0.1")
    org_id = world.directory.organizations[0].organization_id
    world.close()
    args = ["sandbox", "seed", "--data-dir", str(tmp_path), "--organization", org_id]
    result = runner.invoke(app, [*args, "--contacts", "5", "--items", "3", "--invoices", "12"])
    assert result.exit_code == 0, result.output
    assert f"organization {org_id}: 5 contacts, 3 items, 12 invoices" in result.stdout
    assert _invoice_count(tmp_path, org_id) == 12
    again = runner.invoke(app, [*args, "--contacts", "0", "--items", "0", "--invoices", "4"])
    assert again.exit_code == 0, again.output
    assert _invoice_count(tmp_path, org_id) == 16
    unknown = runner.invoke(
        app, ["sandbox", "seed", "--data-dir", str(tmp_path), "--organization", "42"]
    )
    assert unknown.exit_code == 2
    assert org_id in unknown.output
    neither = runner.invoke(app, ["sandbox", "seed", "--organization", org_id])
    assert neither.exit_code == 2


def test_seed_command_against_a_running_sandbox(tmp_path: Path) -> None:
    with running_sandbox(data_dir=tmp_path) as sandbox:
        org_ids = [o.organization_id for o in sandbox.world.directory.organizations]
        result = runner.invoke(
            app,
            [
                *("sandbox", "seed", "--url", sandbox.base_url, "--organization", "all"),
                *("--contacts", "2", "--items", "1", "--invoices", "3"),
            ],
        )
        assert result.exit_code == 0, result.output
        assert result.stdout.count("3 invoices") == len(org_ids)
        store = sandbox.world.invoices
        assert all(store.count(INVOICES, org) == 3 for org in org_ids)
        assert all(store.count(CONTACTS, org) == 2 for org in org_ids)


def _connect(web: TestClient, api_key: str, email: str) -> str:
    """The real connect flow: the service in process, consent at the sandbox over HTTP."""
    auth = {"Authorization": f"Bearer {api_key}"}
    session = web.post("/api/connect-sessions", json={"owner": "demo-user"}, headers=auth)
    assert session.status_code == 201, session.text
    to_zoho = web.get(urlsplit(session.json()["connect_url"]).path, follow_redirects=False)
    url = to_zoho.headers["location"]
    with httpx.Client(follow_redirects=False) as browser:
        user_id = next(
            u["user_id"]
            for u in browser.get(url.split("/accounts/")[0] + "/_sandbox/users").json()["users"]
            if u["email"] == email
        )
        for _ in range(3):
            answer = browser.post(url, data={"user_id": user_id, "decision": "approve"})
            url = answer.headers["location"]
            if "/callback?" in url:
                break
    back = web.get(url.split("127.0.0.1:8000", 1)[1], follow_redirects=False)
    assert back.status_code == 200, back.text
    return str(web.get("/api/connections", headers=auth).json()["connections"][0]["id"])


def _rows_when_shown(web: TestClient) -> str:
    """The dashboard, polled as its own reload does, until it shows invoices (a minute at
    most: the first list call brings them)."""
    deadline = time.monotonic() + 60
    while True:
        text = web.get("/").text
        if '<tr class="invoice' in text:
            return text
        assert time.monotonic() < deadline, "the first sync showed no invoices"
        time.sleep(0.2)


def test_a_second_demo_run_finds_the_connection_working(tmp_path: Path) -> None:
    public_url = "http://127.0.0.1:8000"
    setup = prepare_demo(tmp_path, sandbox_port=free_port())
    with running_sandbox(port=setup.sandbox_port, data_dir=setup.sandbox_dir) as sandbox:
        world = sandbox.world
        assert seed_demo_world(world) == 120 * len(world.directory.organizations)
        setup.mark_seeded()
        settings = demo_settings(setup, public_url)
        with TestClient(create_app(settings, demo=True), base_url=public_url) as web:
            conn_id = _connect(web, setup.secrets["api_key"], "bob@bluebird.example")
            # The first view starts the first sync; the page shows the rows once it has them.
            assert "syncing…" in web.get("/").text
            assert len(_rows_when_shown(web).split('<tr class="invoice')) == 11

    again = prepare_demo(tmp_path)
    assert again.seeded and again.sandbox_port == setup.sandbox_port
    with running_sandbox(port=again.sandbox_port, data_dir=again.sandbox_dir) as sandbox:
        world = sandbox.world
        settings = demo_settings(again, public_url)
        # The access token of the first run has expired: the next call must refresh it.
        vault = Vault.from_settings(settings)
        tokens = vault.load_tokens(conn_id)
        vault.store_refreshed(
            conn_id,
            expected_version=tokens.version,
            access_token="stale",
            expires_at=datetime(2000, 1, 1, tzinfo=UTC),
        )
        vault.close()
        with TestClient(create_app(settings, demo=True), base_url=public_url) as web:
            auth = {"Authorization": f"Bearer {again.secrets['api_key']}"}
            listed = web.get("/api/connections", headers=auth).json()["connections"]
            assert [c["id"] for c in listed] == [conn_id]
            assert listed[0]["status"] == "active" and listed[0]["organization_id"]
            token = web.post(f"/api/connections/{conn_id}/access-token", headers=auth)
            assert token.status_code == 200, token.text
            assert token.json()["access_token"] != "stale"
            page = web.get("/")
            assert len(page.text.split('<tr class="invoice')) == 11  # the seeded invoices survived
            assert "zoho-error" not in page.text
        assert world.invoices.count(INVOICES, listed[0]["organization_id"]) == 120


def test_after_make_demo_the_cli_in_the_same_folder_finds_the_demos_settings(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A newcomer's next step after ``make demo``: ``zoho-invoice connections list`` there."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith("ZOHO_")}
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("ZOHO_ENV_FILE")  # outside the tests: the working folder's .env
    setup = prepare_demo(Path(".zoho-invoice"), sandbox_port=free_port())
    assert mode(tmp_path / ".env") == 0o600  # it holds the demo's keys
    # The demo's service stores a connection, as the first connect on its dashboard does.
    vault = Vault.from_settings(demo_settings(setup), upgrade=True)
    try:
        stored, _ = vault.save_connection(
            owner="demo-user",
            location="eu",
            api_domain=f"{setup.sandbox_url}/api/eu",
            scopes=["ZohoInvoice.invoices.ALL"],
            tokens=TokenSet(
                access_token="1000.access.demo",
                refresh_token="1000.refresh.demo",
                expires_at=datetime.now(UTC) + timedelta(hours=1),
                api_domain=f"{setup.sandbox_url}/api/eu",
                token_type="Bearer",
                scope="ZohoInvoice.invoices.ALL",
            ),
        )
    finally:
        vault.close()

    # The console command, in that folder, with nothing of the demo's in the environment.
    listed = subprocess.run(
        [sys.executable, "-c", CLI_MAIN, "connections", "list", "--json"],
        cwd=tmp_path,
        env=clean,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert listed.returncode == 0, listed.stderr
    assert [c["id"] for c in json.loads(listed.stdout)["connections"]] == [stored.id]

    # The environment wins over the file: another key cannot open the demo's vault.
    other = runner.invoke(
        app, ["connections", "list"], env={"ZOHO_ENCRYPTION_KEYS": KeyRing.generate_entry()}
    )
    assert other.exit_code == 2 and stored.id not in other.stdout


def test_the_demo_leaves_a_persons_own_env_file_alone(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("ZOHO_ENV_FILE")
    own = "ZOHO_CLIENT_ID=1000.MINE\nDATABASE_URL=postgresql://elsewhere\n"
    (tmp_path / ".env").write_text(own)
    setup = prepare_demo(Path("demo"))
    assert (tmp_path / ".env").read_text() == own
    assert (tmp_path / "demo" / "demo.json").exists() and setup.sandbox_port
    # A file the demo wrote is its own to rewrite: another folder's demo replaces it.
    monkeypatch.setenv("ZOHO_ENV_FILE", str(tmp_path / "demo.env"))
    prepare_demo(Path("first"))
    second = prepare_demo(Path("second"))
    written = (tmp_path / "demo.env").read_text()
    assert second.secrets["api_key"] in written and str(tmp_path / "second") in written
