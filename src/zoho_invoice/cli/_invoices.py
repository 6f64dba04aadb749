"""``zoho-invoice invoices …`` and ``zoho-invoice contacts …``: the API client from a terminal.

Each command works on one stored connection (``--connection ID``): its tokens come from the
vault through the ``TokenManager``, so they refresh by themselves.

``invoices export`` writes CSV or JSON Lines page by page and keeps a cursor beside the output
(``FILE.cursor``: the last completed page and the output's size then), so ``--resume`` after an
interruption continues where it stopped instead of starting over. Both are owner-only files
(SECURITY 49), and a CSV cell a spreadsheet would run as a formula is written as text
(SECURITY 43; ``--raw-csv`` turns that off).
"""

from __future__ import annotations

import csv
import io
import json
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import date
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any, Literal

import typer
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from .._exceptions import APIError, DailyQuotaExceeded, ZohoError
from .._files import open_private, write_private_text
from ..api import (
    RateLimitStatus,
    ZohoInvoice,
    budget_from_settings,
    quota_blocks_from_settings,
)
from ..api._constants import MAX_PER_PAGE
from ..api.types import Invoice
from ..tokens import TokenManager
from ._common import err, fail, load_settings, make_oauth, open_vault, out
from ._csv import csv_cell

__all__ = ["contacts_app", "export_invoices", "invoices_app"]

invoices_app = typer.Typer(help="Invoices of a connected organization.", no_args_is_help=True)
contacts_app = typer.Typer(help="Contacts of a connected organization.", no_args_is_help=True)

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


def _connect(connection_id: str, organization_id: str | None) -> ZohoInvoice:
    """A client on a stored connection, built from the settings (environment)."""
    settings = load_settings()
    vault = open_vault(settings, upgrade=False)
    manager = TokenManager.from_settings(settings, vault=vault, oauth=make_oauth(settings))
    # The budget and the daily-quota blocks every worker and the service share (Redis, else the
    # vault's database): a 45 met by the service stops this command too, before it sends.
    return ZohoInvoice.for_connection(
        manager,
        connection_id,
        organization_id=organization_id,
        budget=budget_from_settings(settings),
        quota_blocks=quota_blocks_from_settings(settings, vault),
    )


#: Builds the client a command uses, from its connection id and organization id.
ClientFactory = Callable[[str, str | None], ZohoInvoice]


@contextmanager
def _client(
    ctx: typer.Context, connection_id: str, organization_id: str | None
) -> Iterator[ZohoInvoice]:
    """The command's client: from the invocation's own :data:`ClientFactory` when one was given
    as its ``obj`` (how a test wires the commands to the sandbox:
    ``CliRunner().invoke(app, args, obj=factory)``), else on the stored connection."""
    factory: ClientFactory = ctx.obj if callable(ctx.obj) else _connect
    try:
        with factory(connection_id, organization_id) as client:
            yield client
    except DailyQuotaExceeded as exc:
        when = f"{exc.resets_at:%Y-%m-%d %H:%M} UTC" if exc.resets_at else "Zoho's daily reset"
        fail(f"{exc}. The organization's daily API quota is renewed at {when}; try again then.")
    except APIError as exc:
        fail(str(exc))
    except ZohoError as exc:
        fail(f"{type(exc).__name__}: {exc}")


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


def _print_json(rows: list[dict[str, Any]], page_context: dict[str, Any]) -> None:
    text = json.dumps({"items": rows, "page_context": page_context}, default=str, indent=2)
    out.print_json(text)


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
    with _client(ctx, connection, organization) as client:
        result = client.invoices.list(page=page, per_page=per_page, **filters)
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
    ctx: typer.Context,
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
        fail(f"cannot read {from_json}: {exc}")
    if not isinstance(body, dict):
        fail(f"{from_json} must hold a JSON object")
    with _client(ctx, connection, organization) as client:
        invoice = client.invoices.create(body)
    out.print(
        f"created invoice {invoice.invoice_number or ''} (id {invoice.invoice_id})",
        highlight=False,
    )


def _csv_row(invoice: Invoice, *, neutralise: bool) -> str:
    buffer = io.StringIO()
    values = [getattr(invoice, column, None) for column in CSV_COLUMNS]
    csv.writer(buffer, lineterminator="\n").writerow(
        [csv_cell(value, neutralise=neutralise) for value in values]
    )
    return buffer.getvalue()


def _cursor_path(out_file: Path) -> Path:
    return out_file.with_name(out_file.name + ".cursor")


def _write_cursor(path: Path, state: dict[str, Any]) -> None:
    # Written beside and renamed: a crash leaves the old cursor or the new, never half of one.
    write_private_text(path, json.dumps(state))


def _written_ids(out_file: Path, fmt: ExportFormat, offset: int) -> set[str]:
    """The invoice ids already in the output, up to ``offset`` (the cursor's size), as written
    there (a CSV id is compared in its cell's form, see ``export_invoices``)."""
    with out_file.open("rb") as handle:
        text = handle.read(offset).decode("utf-8", "replace")
    if fmt is ExportFormat.csv:
        rows = csv.reader(io.StringIO(text))
        next(rows, None)  # the header
        return {row[0] for row in rows if row}
    return {json.loads(line)["invoice_id"] for line in text.splitlines() if line.strip()}


def _total_of(page_context: Any) -> int | None:
    """Zoho's total count when the page context carries one (it often does not)."""
    extra = getattr(page_context, "model_extra", None) or {}
    for name in ("total", "total_count"):
        value = extra.get(name)
        if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
            return value
    return None


def export_invoices(
    client: ZohoInvoice,
    out_file: Path,
    *,
    fmt: ExportFormat = ExportFormat.csv,
    resume: bool = False,
    filters: dict[str, str] | None = None,
    on_page: Callable[[int, int], None] | None = None,
    on_total: Callable[[int], None] | None = None,
    max_pages: int | None = None,
    raw_csv: bool = False,
) -> tuple[int, int]:
    """Write every invoice to ``out_file``; return ``(pages, invoices)`` written by this run.

    Pages are read oldest first (``created_time`` ascending). The cursor beside the output keeps
    the last completed page, the output's size then and the last invoice written. With
    ``resume``, the output is cut back to that size (dropping a half-written page) and the
    export steps back while the page at the cursor no longer starts with an invoice already
    written (invoices deleted meanwhile shift later ones to earlier pages), then goes on,
    skipping ids already written: nothing is skipped, nothing written twice. ``on_total`` gets
    Zoho's total when a page context carries one. ``max_pages`` stops early (as if
    interrupted), for tests.

    CSV cells that a spreadsheet would evaluate (``=``, ``+``, ``-``, ``@``, TAB, CR first) are
    written with a leading ``'`` (SECURITY 43); typed amounts stay numbers. ``raw_csv`` writes
    them as Zoho has them. The cursor records which, and a resume must use the same.
    """
    filters = dict(filters or {})
    if raw_csv and fmt is not ExportFormat.csv:
        raise ValueError("--raw-csv applies to --format csv only")
    cursor_file = _cursor_path(out_file)
    cells = _cell_rule(fmt, raw_csv)
    state: dict[str, Any] = {"format": fmt.value, "filters": filters, "page": 0, "offset": 0}
    if cells is not None:
        state["csv_cells"] = cells
    if resume and cursor_file.exists():
        saved = json.loads(cursor_file.read_text(encoding="utf-8"))
        if saved.get("format") != fmt.value or saved.get("filters") != filters:
            raise ValueError("the cursor was made with another format or filters; drop --resume")
        # A cursor from before SECURITY 43 wrote raw cells.
        saved_cells = saved.get("csv_cells", "raw") if cells is not None else None
        if saved_cells != cells:
            flag = "without --raw-csv" if saved_cells == "text" else "with --raw-csv"
            raise ValueError(
                f"the output was started {flag}: resume the same way, or drop --resume"
            )
        state = {**saved, "csv_cells": cells} if cells is not None else saved
        if state.get("complete"):
            return 0, 0
    resuming = bool(state["page"]) and out_file.exists()
    mode: Literal["r+b", "wb"] = "r+b" if resuming else "wb"
    written_ids: set[str] = _written_ids(out_file, fmt, int(state["offset"])) if resuming else set()
    neutralise = cells == "text"

    def seen(invoice_id: str) -> bool:
        # CSV ids are read back as cells: compare in that form (Zoho's ids never start with
        # a formula character, so this is the id itself in practice).
        key = csv_cell(invoice_id, neutralise=neutralise) if cells is not None else invoice_id
        return key in written_ids

    def remember(invoice_id: str) -> None:
        written_ids.add(
            csv_cell(invoice_id, neutralise=neutralise) if cells is not None else invoice_id
        )

    def fetch(number: int) -> Any:
        # Oldest first, so pages already written do not shift when new invoices arrive.
        return client.invoices.list(
            page=number,
            per_page=MAX_PER_PAGE,
            sort_column="created_time",
            sort_order="A",
            **filters,
        )

    page_number = int(state["page"]) + 1
    page: Any = None
    if resuming:
        # Step back while the page at the cursor starts with an invoice not yet written:
        # deletions since the last run moved unwritten invoices onto earlier pages.
        page_number = int(state["page"])
        page = fetch(page_number)
        while page_number > 1 and page.items and not seen(page.items[0].invoice_id):
            page_number -= 1
            page = fetch(page_number)
    pages = written = 0
    told_total = False
    with open_private(out_file, mode) as handle:
        handle.seek(int(state["offset"]))
        handle.truncate()
        if mode == "wb" and fmt is ExportFormat.csv:
            handle.write((",".join(CSV_COLUMNS) + "\n").encode())
        while max_pages is None or pages < max_pages:
            if page is None:
                page = fetch(page_number)
            if not told_total and on_total is not None:
                told_total = True
                total = _total_of(page.page_context)
                if total is not None:
                    on_total(total)
            fresh = 0
            last_id = state.get("last_invoice_id")
            for invoice in page.items:
                if seen(invoice.invoice_id):
                    continue
                line = (
                    _csv_row(invoice, neutralise=neutralise)
                    if fmt is ExportFormat.csv
                    else invoice.model_dump_json() + "\n"
                )
                handle.write(line.encode())
                remember(invoice.invoice_id)
                last_id = invoice.invoice_id
                fresh += 1
            handle.flush()
            os.fsync(handle.fileno())
            pages += 1
            written += fresh
            done = not page.items or not page.has_more
            state = {
                **state,
                "page": page_number,
                "offset": handle.tell(),
                "last_invoice_id": last_id,
                "complete": done,
            }
            _write_cursor(cursor_file, state)
            if on_page is not None:
                on_page(page_number, fresh)
            if done:
                break
            page_number += 1
            page = None
    return pages, written


def _cell_rule(fmt: ExportFormat, raw_csv: bool) -> str | None:
    """How CSV cells are written: ``"text"`` (formulas neutralised) or ``"raw"``; ``None``
    for JSON Lines, which no spreadsheet evaluates."""
    if fmt is not ExportFormat.csv:
        return None
    return "raw" if raw_csv else "text"


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
        _client(ctx, connection, organization) as client,
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
        out.print(f"{out_file} is already complete (remove {_cursor_path(out_file)} to redo it)")
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


@contacts_app.command("list")
def contacts_list(
    ctx: typer.Context,
    connection: ConnectionOption,
    page: PageOption = 1,
    per_page: PerPageOption = 25,
    as_json: JsonOption = False,
    organization: OrgOption = None,
) -> None:
    """List one page of contacts."""
    with _client(ctx, connection, organization) as client:
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
