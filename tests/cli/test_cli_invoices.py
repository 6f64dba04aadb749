"""Integration tests: ``zoho-invoice invoices …`` / ``contacts …`` against the sandbox on a
real port, the client factory pointed at a token minted by the sandbox's Accounts."""

from __future__ import annotations

import csv
import json
import re
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from api._sandbox import ALICE, mint
from cli_support import SandboxRunner
from zoho_invoice._http import httpx
from zoho_invoice.api import InProcessQuotaBlocks, UnlimitedBudget, ZohoInvoice
from zoho_invoice.cli._export import ExportFormat, export_invoices
from zoho_invoice_sandbox import running_sandbox
from zoho_invoice_sandbox.invoice import InvoiceSandboxControl

INVOICES = 430


@pytest.fixture(scope="module")
def make_client() -> Iterator[object]:
    with running_sandbox() as sandbox, httpx.Client(base_url=sandbox.base_url) as http:
        user = sandbox.world.directory.user_by_email(ALICE)
        assert user is not None
        org = user.organization_ids[1]
        control = InvoiceSandboxControl(http)
        control.set_limits(per_minute=100_000, daily=1_000_000)
        control.seed(org, contacts=4, items=2, invoices=INVOICES, seed=11)
        tokens = mint(http, user.user_id)

        def factory(connection_id: str, organization_id: str | None) -> ZohoInvoice:
            assert connection_id == "conn-1"
            return ZohoInvoice(
                access_token=tokens["access_token"],
                api_domain=tokens["api_domain"],
                organization_id=organization_id or org,
                budget=UnlimitedBudget(),
            )

        yield factory


@pytest.fixture
def cli(make_client: Callable[[str, str | None], ZohoInvoice]) -> CliRunner:
    return SandboxRunner(make_client)


def _run(cli: CliRunner, *args: str) -> str:
    from zoho_invoice.cli._app import app

    result = cli.invoke(app, list(args))
    assert result.exit_code == 0, result.output
    return result.output


def test_invoices_list_json(cli: CliRunner) -> None:
    output = _run(cli, "invoices", "list", "--connection", "conn-1", "--per-page", "5", "--json")
    body = json.loads(output)
    assert len(body["items"]) == 5 and body["page_context"]["has_more_page"] is True


def test_invoices_list_table_and_contacts(cli: CliRunner) -> None:
    assert "more: --page 2" in _run(cli, "invoices", "list", "-c", "conn-1", "--status", "paid")
    contacts = json.loads(_run(cli, "contacts", "list", "-c", "conn-1", "--json"))
    assert len(contacts["items"]) == 4


def test_invoices_create_from_json(cli: CliRunner, tmp_path: Path) -> None:
    contacts = json.loads(_run(cli, "contacts", "list", "-c", "conn-1", "--json"))
    spec = tmp_path / "invoice.json"
    spec.write_text(
        json.dumps(
            {
                "customer_id": contacts["items"][0]["contact_id"],
                "line_items": [{"name": "Consulting", "rate": 150.5, "quantity": 2}],
            }
        )
    )
    assert "created invoice" in _run(
        cli, "invoices", "create", "-c", "conn-1", "--from-json", str(spec)
    )


def test_export_csv_complete(cli: CliRunner, tmp_path: Path) -> None:
    target = tmp_path / "all.csv"
    output = _run(cli, "invoices", "export", "-c", "conn-1", "--out", str(target))
    assert "wrote" in output
    rows = list(csv.DictReader(target.open()))
    assert len(rows) >= INVOICES and len({r["invoice_id"] for r in rows}) == len(rows)
    again = _run(cli, "invoices", "export", "-c", "conn-1", "--out", str(target), "--resume")
    assert "already complete" in " ".join(again.split())


def test_export_resumes_after_interruption(make_client: object, tmp_path: Path) -> None:
    factory = make_client
    assert callable(factory)
    target = tmp_path / "all.jsonl"
    with factory("conn-1", None) as client:
        full_pages, full_count = export_invoices(
            client, tmp_path / "ref.jsonl", fmt=ExportFormat.jsonl
        )
        pages, first = export_invoices(client, target, fmt=ExportFormat.jsonl, max_pages=1)
        assert (pages, first) == (1, 200)
        # A crash mid-page: half a line appended after the cursor was written.
        with target.open("ab") as handle:
            handle.write(b'{"invoice_id": "half')
        calls: list[int] = []
        pages, rest = export_invoices(
            client,
            target,
            fmt=ExportFormat.jsonl,
            resume=True,
            on_page=lambda p, _n: calls.append(p),
        )
    # Page 1 is read again only to see whether deletions moved invoices onto it; none of its
    # invoices is written twice.
    assert calls[:2] == [1, 2]
    lines = target.read_text().splitlines()
    assert len(lines) == full_count == first + rest
    ids = [json.loads(line)["invoice_id"] for line in lines]
    assert len(set(ids)) == len(ids)
    assert full_pages == pages  # pages 1 (checked again), 2 and 3


def test_resume_with_other_filters_refused(cli: CliRunner, tmp_path: Path) -> None:
    from zoho_invoice.cli._app import app

    target = tmp_path / "x.csv"
    _run(cli, "invoices", "export", "-c", "conn-1", "--out", str(target), "--status", "paid")
    result = cli.invoke(
        app, ["invoices", "export", "-c", "conn-1", "--out", str(target), "--resume"]
    )
    assert result.exit_code == 2


def test_export_resume_after_deletions_skips_nothing(make_client: object, tmp_path: Path) -> None:
    factory = make_client
    assert callable(factory)
    target = tmp_path / "deleted.csv"
    with factory("conn-1", None) as client:
        pages, first = export_invoices(client, target, max_pages=2)
        assert (pages, first) == (2, 400)
        written = [row["invoice_id"] for row in csv.DictReader(target.open())]
        # Between the runs, drafts already written (page 1) are deleted: every later invoice
        # moves up; resuming by page number alone would skip as many as were deleted.
        drafts = [
            i.invoice_id
            for i in client.invoices.list(
                per_page=200, sort_column="created_time", sort_order="A"
            ).items
            if i.status == "draft"
        ][:3]
        assert len(drafts) == 3 and set(drafts) <= set(written)
        for invoice_id in drafts:
            client.invoices.delete(invoice_id)
        totals: list[int] = []
        export_invoices(client, target, resume=True, on_total=totals.append)
        after = [i.invoice_id for i in client.invoices.iter_all()]
    rows = [row["invoice_id"] for row in csv.DictReader(target.open())]
    assert len(rows) == len(set(rows))  # nothing twice
    assert set(after) <= set(rows)  # nothing skipped
    assert totals == []  # the sandbox, like Zoho often, gives no total: the bar counts pages


def test_invoices_list_filters_pass_through(cli: CliRunner) -> None:
    everything = json.loads(
        _run(cli, "invoices", "list", "-c", "conn-1", "--per-page", "200", "--json")
    )
    dated = sorted(i["date"] for i in everything["items"])
    low, high = dated[len(dated) // 4], dated[len(dated) // 2]
    body = json.loads(
        _run(
            cli, "invoices", "list", "-c", "conn-1", "--per-page", "200", "--json",
            "--date-from", low, "--date-to", high,
        )
    )  # fmt: skip
    assert body["items"] and all(low <= i["date"] <= high for i in body["items"])
    number = everything["items"][0]["invoice_number"]
    found = json.loads(_run(cli, "invoices", "list", "-c", "conn-1", "--search", number, "--json"))
    assert number in [i["invoice_number"] for i in found["items"]]
    big = json.loads(
        _run(
            cli, "invoices", "list", "-c", "conn-1", "--json", "--per-page", "200",
            "--filter", "total_greater_than=1000", "--filter", "status=paid",
        )
    )  # fmt: skip
    assert big["items"]
    assert all(float(i["total"]) > 1000 and i["status"] == "paid" for i in big["items"])


def test_invoices_list_bad_filter_is_a_clear_error(cli: CliRunner) -> None:
    from zoho_invoice.cli._app import app

    result = cli.invoke(app, ["invoices", "list", "-c", "conn-1", "--filter", "nonsense"])
    assert result.exit_code == 2 and "key=value" in result.output
    result = cli.invoke(app, ["invoices", "list", "-c", "conn-1", "--date-from", "May 1"])
    assert result.exit_code == 2 and "YYYY-MM-DD" in result.output


def test_export_shows_the_daily_quota_left(cli: CliRunner, tmp_path: Path) -> None:
    """A long export spends the organization's daily quota: the user sees what is left, as
    Zoho reported it on the last answer (X-Rate-Limit-*), and when it is renewed."""
    output = _run(cli, "invoices", "export", "-c", "conn-1", "--out", str(tmp_path / "q.csv"))
    line = " ".join(output.split())
    found = re.search(
        r"Zoho daily API quota: ([\d,]+) of 1,000,000 requests left today "
        r"\(renewed (\d{4}-\d\d-\d\d) 00:00 UTC\)",
        line,
    )
    assert found, line
    assert int(found.group(1).replace(",", "")) < 1_000_000


def test_export_stops_on_the_daily_quota_with_when_it_is_renewed(tmp_path: Path) -> None:
    def spent(connection_id: str, organization_id: str | None) -> ZohoInvoice:
        answer = httpx.Response(
            429,
            json={"code": 45, "message": "You have reached the daily limit."},
            headers={"X-Rate-Limit-Limit": "1000", "X-Rate-Limit-Remaining": "0",
                     "X-Rate-Limit-Reset": "3600"},
        )  # fmt: skip
        return ZohoInvoice(
            access_token="1000.t",
            organization_id="10234695",
            http_client=httpx.Client(transport=httpx.MockTransport(lambda _: answer)),
            budget=UnlimitedBudget(),
            quota_blocks=InProcessQuotaBlocks(),
        )

    from zoho_invoice.cli._app import app

    result = SandboxRunner(spent).invoke(
        app, ["invoices", "export", "-c", "conn-1", "--out", str(tmp_path / "x.csv")]
    )
    assert result.exit_code == 2
    text = " ".join(result.output.split())
    assert "code 45" in text and "daily API quota is renewed at" in text and "UTC" in text
