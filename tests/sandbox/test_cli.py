"""Tests of ``zoho-invoice-sandbox``, the sandbox's own command: ``seed`` in process (a data
folder, a running sandbox by URL, an unknown organization), and the installed console script
serving on a real port until stopped, its data-centre table written first."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from support import free_port
from zoho_invoice_sandbox import SandboxWorld, running_sandbox
from zoho_invoice_sandbox._cli import main
from zoho_invoice_sandbox._http import httpx
from zoho_invoice_sandbox.invoice._resources import CONTACTS, INVOICES

ACME = "800000000001000003"


def test_seed_fills_a_data_folder(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    args = ["seed", "--data-dir", str(tmp_path), "--organization", ACME]
    assert main([*args, "--contacts", "3", "--items", "2", "--invoices", "7"]) == 0
    assert f"organization {ACME}: 3 contacts, 2 items, 7 invoices" in capsys.readouterr().out
    world = SandboxWorld(base_url="http://127.0.0.1", data_dir=tmp_path)
    try:
        assert world.invoices.count(INVOICES, ACME) == 7
        assert world.invoices.count(CONTACTS, ACME) == 3
    finally:
        world.close()


def test_seed_names_the_known_organizations_for_an_unknown_one(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["seed", "--data-dir", str(tmp_path), "--organization", "42"]) == 1
    assert f"no simulated organization '42'; known: {ACME}" in capsys.readouterr().err


def test_seed_all_through_a_running_sandbox(capsys: pytest.CaptureFixture[str]) -> None:
    with running_sandbox() as sandbox:
        args = ["seed", "--url", sandbox.base_url, "--organization", "all", "--invoices", "2"]
        assert main([*args, "--contacts", "1", "--items", "1"]) == 0
        organizations = sandbox.world.directory.organizations
        assert len(organizations) > 10
        for org in organizations:
            assert sandbox.world.invoices.count(INVOICES, org.organization_id) == 2
    assert capsys.readouterr().out.count("2 invoices") == len(organizations)


@pytest.mark.e2e
def test_the_command_serves_on_a_port_and_writes_the_table(tmp_path: Path) -> None:
    command = shutil.which("zoho-invoice-sandbox", path=str(Path(sys.executable).parent))
    assert command is not None, "the console script is installed with the distribution"
    port = free_port()
    table = tmp_path / "datacenters.json"
    env = {**os.environ, "ZOHO_SANDBOX_CONTROL_KEY": "k" * 40}
    args = [command, "--port", str(port), "--datacenters-out", str(table)]
    process = subprocess.Popen(args, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                answer = httpx.get(f"http://127.0.0.1:{port}/_sandbox/users", timeout=1)
                break
            except httpx.TransportError:
                assert process.poll() is None and time.monotonic() < deadline
                time.sleep(0.05)
        assert answer.status_code == 200
        assert json.loads(table.read_text())["eu"]["api_domain"].endswith(f":{port}/api/eu")
        journal = httpx.get(f"http://127.0.0.1:{port}/_sandbox/journal")
        assert journal.status_code == 401  # the control routes need the key
    finally:
        process.terminate()
        process.wait(timeout=10)
