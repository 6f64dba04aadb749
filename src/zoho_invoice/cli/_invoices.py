"""``zoho-invoice invoices …``: the invoices of a connected organization from a terminal.

This module is the command group and the commands that read many invoices: ``list`` (one page,
filtered) and ``export`` (every invoice to a file, resumable; the work is ``_export``'s, the
progress bar is here). The commands that act on invoices a person names (``create``,
``remind``, ``pdf``) live in ``_invoice_actions`` and are registered here, so the group is
whole wherever it is imported. Each command works on one stored connection (``--connection
ID``), see ``_connection_client``.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Annotated

import typer
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from ..api import RateLimitStatus
from ._common import err, fail, out
from ._connection_client import (
    ConnectionOption,
    JsonOption,
    OrgOption,
    PageOption,
    PerPageOption,
    command_client,
    print_json,
)
from ._export import ExportFormat, cursor_path, export_invoices
from ._invoice_actions import invoices_create, invoices_pdf, invoices_remind

__all__ = ["invoices_app"]

invoices_app = typer.Typer(help="Invoices of a connected organization.", no_args_is_help=True)


def _filters(
    status: str | None,
    customer: str | None,
    *,
    date_from: str | None = None,
    date_to: str | None = None,
    search: str | None = None,
    extra: list[str] | None = None,
) -> dict[str, str]:
    filters: dict[str, str] = {}
    if status:
        filters["status"] = status
    if customer:
        filters["customer_id"] = customer
    # Zoho's suffix filters: date_start / date_end bound the invoice date, both inclusive.
    if date_from:
        filters["date_start"] = _iso_date(date_from, "--date-from")
    if date_to:
        filters["date_end"] = _iso_date(date_to, "--date-to")
    if search:
        filters["search_text"] = search
    for item in extra or []:
        key, sep, value = item.partition("=")
        key = key.strip()
        if not sep or not key or not key.replace("_", "").isalnum():
            fail(f"--filter wants key=value (e.g. total_greater_than=100), not {item!r}")
        filters[key] = value
    return filters


def _iso_date(value: str, option: str) -> str:
    try:
        return date.fromisoformat(value).isoformat()
    except ValueError:
        fail(f"{option} wants a date as YYYY-MM-DD, not {value!r}")


@invoices_app.command("list")
def invoices_list(
    ctx: typer.Context,
    connection: ConnectionOption,
    status: Annotated[str | None, typer.Option(help="sent, draft, overdue, paid, void, …")] = None,
    customer: Annotated[str | None, typer.Option(help="Only this customer id.")] = None,
    date_from: Annotated[
        str | None, typer.Option("--date-from", help="Invoice date on or after (YYYY-MM-DD).")
    ] = None,
    date_to: Annotated[
        str | None, typer.Option("--date-to", help="Invoice date on or before (YYYY-MM-DD).")
    ] = None,
    search: Annotated[
        str | None, typer.Option(help="Search number, reference and customer name.")
    ] = None,
    extra: Annotated[
        list[str] | None,
        typer.Option(
            "--filter",
            help="Any Zoho filter as key=value, repeatable (e.g. total_greater_than=100, "
            "customer_name_startswith=Ac).",
        ),
    ] = None,
    page: PageOption = 1,
    per_page: PerPageOption = 25,
    as_json: JsonOption = False,
    organization: OrgOption = None,
) -> None:
    """List one page of invoices."""
    filters = _filters(
        status, customer, date_from=date_from, date_to=date_to, search=search, extra=extra
    )
    with command_client(ctx, connection, organization) as client:
        result = client.invoices.list(page=page, per_page=per_page, **filters)
    if as_json:
        rows = [invoice.model_dump(mode="json") for invoice in result.items]
        print_json(rows, result.page_context.model_dump())
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


invoices_app.command("create")(invoices_create)


@invoices_app.command("export")
def invoices_export(
    ctx: typer.Context,
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
    raw_csv: Annotated[
        bool,
        typer.Option(
            "--raw-csv",
            help="Write CSV cells exactly as Zoho has them. Unsafe to open in a spreadsheet: "
            "a value starting with = + - @ would run as a formula. By default such a cell is "
            "written as text (a leading ').",
        ),
    ] = False,
) -> None:
    """Export every invoice to CSV or JSON Lines, resumable. The files are owner-only."""
    with (
        command_client(ctx, connection, organization) as client,
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

        def set_total(total: int) -> None:
            progress.update(task, total=total)

        try:
            pages, count = export_invoices(
                client,
                out_file,
                fmt=fmt,
                resume=resume,
                filters=_filters(status, customer),
                on_page=advance,
                on_total=set_total,
                raw_csv=raw_csv,
            )
        except ValueError as exc:
            fail(str(exc))
        except OSError as exc:
            # A link, or another user's file, where the export or its cursor goes (SECURITY 49).
            fail(f"cannot write {out_file}: {exc.strerror or exc}")
    if pages == 0:
        out.print(f"{out_file} is already complete (remove {cursor_path(out_file)} to redo it)")
    else:
        out.print(f"wrote {count} invoices ({pages} pages) to {out_file}", highlight=False)
    if client.rate_limit is not None:
        out.print(_quota_line(client.rate_limit), highlight=False)


def _quota_line(status: RateLimitStatus) -> str:
    """The organization's daily API quota as Zoho last reported it: a long export spends it."""
    line = f"Zoho daily API quota: {status.remaining:,} of {status.limit:,} requests left today"
    if status.resets_at is not None:
        line += f" (renewed {status.resets_at:%Y-%m-%d %H:%M} UTC)"
    return line


invoices_app.command("remind")(invoices_remind)
invoices_app.command("pdf")(invoices_pdf)
