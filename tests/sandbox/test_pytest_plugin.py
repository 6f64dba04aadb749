"""End-to-end tests: the ``zoho_sandbox`` pytest fixture in a project that is not this one.

A temporary folder gets a small test module of "someone's own invoice code", with no conftest
and no configuration; ``python -m pytest`` runs it in a subprocess, where pytest finds the
fixture through the installed ``zoho-invoice-sandbox`` distribution's ``pytest11`` entry point.
The module checks what a user relies on: a token of a simulated user that the Invoice API
client accepts, seeded invoices, a ``ZOHO_DATACENTERS`` file, the control client, one server for
the session, and data reset between tests. Also: the sandbox imports nothing of ``zoho_invoice``.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

USERS_TESTS = """
import json

import pytest

from zoho_invoice import ZohoInvoice


def overdue_count(client):
    return sum(1 for invoice in client.invoices.iter_all() if invoice.status == "overdue")


def test_overdue_report(zoho_sandbox):
    t = zoho_sandbox.access_token()
    zoho_sandbox.seed(t.organization_id, invoices=30)
    with ZohoInvoice(
        access_token=t.token, api_domain=t.api_domain, organization_id=t.organization_id
    ) as z:
        assert len(list(z.invoices.iter_all())) == 30
        assert 0 < overdue_count(z) < 30


def test_each_test_starts_empty_on_the_same_server(zoho_sandbox):
    t = zoho_sandbox.access_token()
    assert t == zoho_sandbox.access_token()  # the same default user, the same token
    with ZohoInvoice(
        access_token=t.token, api_domain=t.api_domain, organization_id=t.organization_id
    ) as z:
        assert list(z.invoices.iter_all()) == []  # the 30 invoices of the test before are gone
    assert zoho_sandbox.url.startswith("http://127.0.0.1:")
    assert t.api_domain == zoho_sandbox.url + "/api/us"


def test_another_user_and_the_datacenters_file(zoho_sandbox):
    elena = zoho_sandbox.access_token("elena@eurotech.example")
    assert elena.token != zoho_sandbox.access_token().token
    table = json.loads(zoho_sandbox.datacenters_file.read_text())
    assert table[elena.location]["api_domain"] == elena.api_domain
    assert table["eu"]["accounts_url"] == zoho_sandbox.url + "/accounts/eu"
    with pytest.raises(LookupError):
        zoho_sandbox.access_token("nobody@nowhere.example")


def test_the_control_client_and_the_oauth_client(zoho_sandbox):
    import httpx2 as httpx

    answer = httpx.post(
        zoho_sandbox.url + "/accounts/us/oauth/v2/token",
        data={
            "grant_type": "client_credentials",
            "client_id": zoho_sandbox.client_id,
            "client_secret": zoho_sandbox.client_secret,
        },
    )
    assert answer.status_code == 200
    assert [e["endpoint"] for e in zoho_sandbox.control.journal()] == ["accounts.token"]
    assert len(zoho_sandbox.control.users()["users"]) >= 6


def test_the_journal_was_reset(zoho_sandbox):
    assert zoho_sandbox.control.journal() == []
"""


def _run_pytest(folder: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST_", "ZOHO_"))}
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *args],
        cwd=folder,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def test_zoho_sandbox_fixture_works_in_another_project(tmp_path: Path) -> None:
    """The user's tests pass; a test run before any of them asked for ``zoho_sandbox`` saw the
    plugin loaded and no sandbox started (the plugin is in every session that has the
    distribution, this repository's too: it serves nothing unless a test asks)."""
    (tmp_path / "test_0_plain.py").write_text(
        textwrap.dedent(
            """
            import threading

            def test_plain(request):
                assert request.config.pluginmanager.has_plugin("zoho_invoice_sandbox")
                assert threading.enumerate() == [threading.main_thread()]
            """
        )
    )
    (tmp_path / "test_my_invoices.py").write_text(USERS_TESTS)
    run = _run_pytest(tmp_path)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "6 passed" in run.stdout


def test_the_sandbox_imports_nothing_of_zoho_invoice() -> None:
    """``pip install ./sandbox`` alone works: no module of the sandbox needs zoho_invoice
    (blocked here), and a sandbox served that way answers."""
    code = textwrap.dedent(
        """
        import importlib, pkgutil, sys
        sys.modules["zoho_invoice"] = None  # any import of it now fails
        import zoho_invoice_sandbox as sandbox
        for module in pkgutil.walk_packages(sandbox.__path__, "zoho_invoice_sandbox."):
            if not module.name.endswith("__main__"):
                importlib.import_module(module.name)
        from zoho_invoice_sandbox._http import httpx
        with sandbox.running_sandbox() as running:
            answer = httpx.get(running.base_url + "/_sandbox/users")
            assert answer.status_code == 200, answer.status_code
        print("ok")
        """
    )
    run = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False
    )
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip() == "ok"
