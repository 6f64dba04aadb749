"""Integration tests: ``zoho-invoice invoices remind`` and ``invoices pdf`` against the sandbox
on a real port, the commands' client factory pointed at a token minted by its Accounts."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from api._sandbox import ALICE, mint
from cli_support import SandboxRunner
from zoho_invoice._http import httpx
from zoho_invoice.api import UnlimitedBudget, ZohoInvoice
from zoho_invoice.cli._app import app as cli_app
from zoho_invoice_sandbox import running_sandbox
from zoho_invoice_sandbox.invoice import InvoiceSandboxControl


@pytest.fixture(scope="module")
def connection() -> Iterator[tuple[dict[str, Any], str]]:
    with running_sandbox() as sandbox, httpx.Client(base_url=sandbox.base_url) as http:
        user = sandbox.world.directory.user_by_email(ALICE)
        assert user is not None
        InvoiceSandboxControl(http).set_limits(per_minute=100_000, daily=1_000_000)
        yield mint(http, user.user_id), user.organization_ids[0]


def _sync_client(connection: tuple[dict[str, Any], str]) -> ZohoInvoice:
    tokens, organization_id = connection
    return ZohoInvoice(
        access_token=tokens["access_token"],
        api_domain=tokens["api_domain"],
        organization_id=organization_id,
        budget=UnlimitedBudget(),
        timeout=10.0,
    )


@pytest.fixture(scope="module")
def client(connection: tuple[dict[str, Any], str]) -> Iterator[ZohoInvoice]:
    with _sync_client(connection) as client:
        yield client


def _open_invoice(client: ZohoInvoice, name: str) -> tuple[str, str]:
    person = {"first_name": "Will", "email": "will@bowman.example", "is_primary_contact": True}
    contact = client.contacts.create(contact_name=name, contact_persons=[person])
    invoice = client.invoices.create(
        customer_id=contact.contact_id, line_items=[{"name": "Work", "rate": "100"}]
    )
    client.invoices.mark_sent(invoice.invoice_id)
    return contact.contact_id, invoice.invoice_id


@pytest.fixture
def cli(connection: tuple[dict[str, Any], str]) -> CliRunner:
    def factory(connection_id: str, organization_id: str | None) -> ZohoInvoice:
        assert connection_id == "conn-1" and organization_id is None
        return _sync_client(connection)

    return SandboxRunner(factory)


def test_cli_reminds_and_says_what_was_not_sent(cli: CliRunner, client: ZohoInvoice) -> None:
    _, first = _open_invoice(client, "CLI Remind One")
    _, second = _open_invoice(client, "CLI Remind Two")
    draft = client.invoices.create(
        customer_id=client.invoices.get(first).customer_id, line_items=[{"name": "X", "rate": 1}]
    ).invoice_id
    result = cli.invoke(cli_app, ["invoices", "remind", "-c", "conn-1", first, second, draft])
    assert result.exit_code == 1, result.output
    assert "reminded 2 invoice(s)" in result.output and draft in result.output
    single = cli.invoke(cli_app, ["invoices", "remind", "-c", "conn-1", first])
    assert single.exit_code == 0 and "reminded 1 invoice(s)" in single.output


def test_cli_writes_one_owner_only_pdf_of_several_invoices(
    cli: CliRunner, client: ZohoInvoice, tmp_path: Path
) -> None:
    ids = [_open_invoice(client, f"CLI PDF {n}")[1] for n in range(2)]
    target = tmp_path / "both.pdf"
    result = cli.invoke(cli_app, ["invoices", "pdf", "-c", "conn-1", "--out", str(target), *ids])
    assert result.exit_code == 0, result.output
    assert target.read_bytes().startswith(b"%PDF") and b"/Count 2" in target.read_bytes()
    assert target.stat().st_mode & 0o777 == 0o600
    many = [str(4_600_000_000_000_000_000 + n) for n in range(26)]
    refused = cli.invoke(cli_app, ["invoices", "pdf", "-c", "conn-1", "-o", str(target), *many])
    assert refused.exit_code == 2 and "at most 25" in refused.output
