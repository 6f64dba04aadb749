"""``zoho-invoice invoices …`` and ``zoho-invoice contacts …``: the API client from a terminal.

Each command works on one stored connection (``--connection ID``): its tokens come from the
vault through the ``TokenManager``, so they refresh by themselves.

``invoices export`` writes CSV or JSON Lines page by page and keeps a cursor beside the output
(``FILE.cursor``: the last completed page and the output's size then), so ``--resume`` after an
interruption continues where it stopped instead of starting over.
"""

from __future__ import annotations

import csv
import io
import json
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any, NoReturn

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from .._exceptions import APIError, ZohoError
from ..api import ZohoInvoice
from ..api._constants import MAX_PER_PAGE
from ..api.types import Invoice

__all__ = ["contacts_app", "export_invoices", "invoices_app"]

invoices_app = typer.Typer(help="Invoices of a connected organization.", no_args_is_help=True)
contacts_app = typer.Typer(help="Contacts of a connected organization.", no_args_is_help=True)

out = Console()
err = Console(stderr=True)

ConnectionOption = Annotated[
    str, typer.Option("--connection", "-c", help="Id of the stored connection to use.")
]
OrgOption = Annotated[
    str | None,
    typer.Option("--organization", help="Organization id (default: the connection's)."),
]
PageOption = Annotated[int, typer.Option(min=1, help="Page number, from 1.")]
PerPageOption = Annotated[int, typer.Option(min=1, max=MAX_PER_PAGE, help="Items per page.")]
JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")]

CSV_COLUMNS = (
    "invoice_id",
    "invoice_number",
    "status",
    "customer_id",
    "customer_name",
    "date",
    "due_date",
    "currency_code",
    "total",
    "balance",
    "last_modified_time",
)


class ExportFormat(StrEnum):
    csv = "csv"
    jsonl = "jsonl"


def _fail(message: str) -> NoReturn:
    err.print(f"[bold red]error:[/] {message}", highlight=False, soft_wrap=True)
    raise typer.Exit(2)


def _connect(connection_id: str, organization_id: str | None) -> ZohoInvoice:
    """A client on a stored connection, built from the settings (environment)."""
    # Imported here: ``_app`` imports this module while it is still loading.
    from ..tokens import TokenManager
    from ._app import load_settings, make_oauth, open_vault

    settings = load_settings()
    vault = open_vault(settings, upgrade=False)
    manager = TokenManager.from_settings(settings, vault=vault, oauth=make_oauth(settings))
    return ZohoInvoice.for_connection(manager, connection_id, organization_id=organization_id)


#: How the commands get a client; tests swap it for one wired to the sandbox.
client_factory: Callable[[str, str | None], ZohoInvoice] = _connect


@contextmanager
def _client(connection_id: str, organization_id: str | None) -> Iterator[ZohoInvoice]:
    try:
        with client_factory(connection_id, organization_id) as client:
            yield client
    except APIError as exc:
        _fail(str(exc))
    except ZohoError as exc:
        _fail(f"{type(exc).__name__}: {exc}")


def _filters(status: str | None, customer: str | None) -> dict[str, str]:
    filters: dict[str, str] = {}
    if status:
        filters["status"] = status
    if customer:
        filters["customer_id"] = customer
    return filters


def _print_json(rows: list[dict[str, Any]], page_context: dict[str, Any]) -> None:
    text = json.dumps({"items": rows, "page_context": page_context}, default=str, indent=2)
    out.print_json(text)


@invoices_app.command("list")
def invoices_list(
    connection: ConnectionOption,
    status: Annotated[str | None, typer.Option(help="sent, draft, overdue, paid, void, …")] = None,
    customer: Annotated[str | None, typer.Option(help="Only this customer id.")] = None,
    page: PageOption = 1,
    per_page: PerPageOption = 25,
    as_json: JsonOption = False,
    organization: OrgOption = None,
) -> None:
    """List one page of invoices."""
    with _client(connection, organization) as client:
        result = client.invoices.list(page=page, per_page=per_page, **_filters(status, customer))
    if as_json:
        rows = [invoice.model_dump(mode="json") for invoice in result.items]
        _print_json(rows, result.page_context.model_dump())
        return
    table = Table("Number", "Status", "Customer", "Date", "Due", "Total", "Balance", "Id")
    for inv in result.items:
        table.add_row(
            inv.invoice_number or "",
            inv.status or "",
            inv.customer_name or "",
            str(inv.date or ""),
            str(inv.due_date or ""),
            f"{inv.total or ''} {inv.currency_code or ''}".strip(),
            str(inv.balance if inv.balance is not None else ""),
            inv.invoice_id,
        )
    out.print(table)
    more = f" (more: --page {page + 1})" if result.has_more else ""
    out.print(f"page {page}, {len(result.items)} invoices{more}", highlight=False)


@invoices_app.command("create")
def invoices_create(
    connection: ConnectionOption,
    from_json: Annotated[
        Path, typer.Option("--from-json", exists=True, dir_okay=False, help="Invoice as JSON.")
    ],
    organization: OrgOption = None,
) -> None:
    """Create an invoice from a JSON file (Zoho's invoice fields)."""
    try:
        body = json.loads(from_json.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        _fail(f"cannot read {from_json}: {exc}")
    if not isinstance(body, dict):
        _fail(f"{from_json} must hold a JSON object")
    with _client(connection, organization) as client:
        invoice = client.invoices.create(body)
    out.print(
        f"created invoice {invoice.invoice_number or ''} (id {invoice.invoice_id})",
        highlight=False,
    )


def _csv_row(invoice: Invoice) -> str:
    buffer = io.StringIO()
    values = [getattr(invoice, column, None) for column in CSV_COLUMNS]
    csv.writer(buffer, lineterminator="\n").writerow(
        ["" if value is None else str(value) for value in values]
    )
    return buffer.getvalue()


def _cursor_path(out_file: Path) -> Path:
    return out_file.with_name(out_file.name + ".cursor")


def _write_cursor(path: Path, state: dict[str, Any]) -> None:
    # Written beside and renamed: a crash leaves the old cursor or the new, never half of one.
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(state), encoding="utf-8")
    os.replace(tmp, path)


def export_invoices(
    client: ZohoInvoice,
    out_file: Path,
    *,
    fmt: ExportFormat = ExportFormat.csv,
    resume: bool = False,
    filters: dict[str, str] | None = None,
    on_page: Callable[[int, int], None] | None = None,
    max_pages: int | None = None,
) -> tuple[int, int]:
    """Write every invoice to ``out_file``; return ``(pages, invoices)`` written by this run.

    With ``resume``, continue after the cursor's last completed page (the output is cut back to
    its size at that page, dropping a half-written one). ``max_pages`` stops early (as if
    interrupted), for tests.
    """
    filters = dict(filters or {})
    cursor_file = _cursor_path(out_file)
    state: dict[str, Any] = {"format": fmt.value, "filters": filters, "page": 0, "offset": 0}
    if resume and cursor_file.exists():
        saved = json.loads(cursor_file.read_text(encoding="utf-8"))
        if saved.get("format") != fmt.value or saved.get("filters") != filters:
            raise ValueError("the cursor was made with another format or filters; drop --resume")
        state = saved
        if state.get("complete"):
            return 0, 0
    page_number = int(state["page"]) + 1
    mode = "r+b" if state["page"] and out_file.exists() else "wb"
    pages = written = 0
    with out_file.open(mode) as handle:
        handle.seek(int(state["offset"]))
        handle.truncate()
        if mode == "wb" and fmt is ExportFormat.csv:
            handle.write((",".join(CSV_COLUMNS) + "\n").encode())
        while max_pages is None or pages < max_pages:
            # Oldest first, so pages already written do not shift when new invoices arrive.
            page = client.invoices.list(
                page=page_number,
                per_page=MAX_PER_PAGE,
                sort_column="created_time",
                sort_order="A",
                **filters,
            )
            for invoice in page.items:
                line = (
                    _csv_row(invoice)
                    if fmt is ExportFormat.csv
                    else invoice.model_dump_json() + "\n"
                )
                handle.write(line.encode())
            handle.flush()
            os.fsync(handle.fileno())
            pages += 1
            written += len(page.items)
            done = not page.items or not page.has_more
            state = {
                **state,
                "page": page_number,
                "offset": handle.tell(),
                "complete": done,
            }
            _write_cursor(cursor_file, state)
            if on_page is not None:
                on_page(page_number, len(page.items))
            if done:
                break
            page_number += 1
    return pages, written


@invoices_app.command("export")
def invoices_export(
    connection: ConnectionOption,
    out_file: Annotated[Path, typer.Option("--out", dir_okay=False, help="Output file.")],
    fmt: Annotated[ExportFormat, typer.Option("--format", help="csv or jsonl.")] = (
        ExportFormat.csv
    ),
    resume: Annotated[
        bool, typer.Option("--resume", help="Continue an interrupted export.")
    ] = False,
    status: Annotated[str | None, typer.Option(help="Only invoices in this status.")] = None,
    customer: Annotated[str | None, typer.Option(help="Only this customer id.")] = None,
    organization: OrgOption = None,
) -> None:
    """Export every invoice to CSV or JSON Lines, resumable."""
    with (
        _client(connection, organization) as client,
        Progress(
            TextColumn("[bold]exporting[/]"),
            BarColumn(),
            TextColumn("page {task.fields[page]}, {task.completed:.0f} invoices"),
            TimeElapsedColumn(),
            console=err,
            transient=False,
        ) as progress,
    ):
        task = progress.add_task("export", total=None, page=0)

        def advance(page: int, count: int) -> None:
            progress.update(task, advance=count, page=page)

        try:
            pages, count = export_invoices(
                client,
                out_file,
                fmt=fmt,
                resume=resume,
                filters=_filters(status, customer),
                on_page=advance,
            )
        except ValueError as exc:
            _fail(str(exc))
    if pages == 0:
        out.print(f"{out_file} is already complete (remove {_cursor_path(out_file)} to redo it)")
    else:
        out.print(f"wrote {count} invoices ({pages} pages) to {out_file}", highlight=False)


@contacts_app.command("list")
def contacts_list(
    connection: ConnectionOption,
    page: PageOption = 1,
    per_page: PerPageOption = 25,
    as_json: JsonOption = False,
    organization: OrgOption = None,
) -> None:
    """List one page of contacts."""
    with _client(connection, organization) as client:
        result = client.contacts.list(page=page, per_page=per_page)
    if as_json:
        rows = [contact.model_dump(mode="json") for contact in result.items]
        _print_json(rows, result.page_context.model_dump())
        return
    table = Table("Name", "Company", "Type", "Status", "Email", "Id")
    for contact in result.items:
        table.add_row(
            contact.contact_name or "",
            contact.company_name or "",
            contact.contact_type or "",
            contact.status or "",
            contact.email or "",
            contact.contact_id,
        )
    out.print(table)
