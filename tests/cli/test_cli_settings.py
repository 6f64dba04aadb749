"""Integration tests: ``zoho-invoice taxes list`` and ``currencies list`` against the sandbox on a
real port, the client factory pointed at a token for an Indian (GST) organization."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from typer.testing import CliRunner

from cli_support import SandboxRunner
from sandbox_support import FULL_ACCESS, mint
from zoho_invoice._http import httpx
from zoho_invoice.api import UnlimitedBudget, ZohoInvoice
from zoho_invoice_sandbox import RunningSandbox, running_sandbox
from zoho_invoice_sandbox.invoice import InvoiceSandboxControl

ISHAAN = "ishaan@indigo.example"


@pytest.fixture(scope="module")
def sandbox() -> Iterator[RunningSandbox]:
    with running_sandbox() as running:
        yield running


@pytest.fixture
def cli(sandbox: RunningSandbox) -> CliRunner:
    user = sandbox.world.directory.user_by_email(ISHAAN)
    assert user is not None
    token = mint(sandbox.world, ISHAAN, FULL_ACCESS)

    def factory(connection_id: str, organization_id: str | None) -> ZohoInvoice:
        assert connection_id == "conn-1"
        return ZohoInvoice(
            access_token=token,
            api_domain=sandbox.world.api_domain("in"),
            organization_id=organization_id or user.organization_ids[0],
            budget=UnlimitedBudget(),
        )

    return SandboxRunner(factory)


def _run(cli: CliRunner, *args: str) -> str:
    from zoho_invoice.cli._app import app

    result = cli.invoke(app, list(args), terminal_width=200)
    assert result.exit_code == 0, result.output
    return result.output


def test_taxes_list_shows_gst_taxes_and_groups_however_zoho_lists_them(
    cli: CliRunner, sandbox: RunningSandbox
) -> None:
    table = _run(cli, "taxes", "list", "-c", "conn-1")
    assert "GST18" in table and "tax_group" in table and "IGST18" in table
    inline = json.loads(_run(cli, "taxes", "list", "-c", "conn-1", "--json"))["items"]
    with httpx.Client(base_url=sandbox.base_url) as http:
        control = InvoiceSandboxControl(http)
        control.set_tax_rules(group_listing="separate")
        try:
            separate = json.loads(_run(cli, "taxes", "list", "-c", "conn-1", "--json"))["items"]
        finally:
            control.set_tax_rules(group_listing="inline")
    groups = {t["tax_id"]: t["tax_name"] for t in inline if t["tax_type"] == "tax_group"}
    assert sorted(groups.values()) == ["GST18", "GST5"]
    assert {t["tax_id"]: t["tax_name"] for t in separate if t["tax_type"] == "tax_group"} == groups
    assert len(separate) == len(inline)


def test_currencies_list(cli: CliRunner) -> None:
    rows = json.loads(_run(cli, "currencies", "list", "-c", "conn-1", "--json"))["items"]
    assert [r["currency_code"] for r in rows if r["is_base_currency"]] == ["INR"]
    others = json.loads(_run(cli, "currencies", "list", "-c", "conn-1", "--exclude-base", "--json"))
    assert "INR" not in {r["currency_code"] for r in others["items"]}
    assert "USD" in _run(cli, "currencies", "list", "-c", "conn-1")
