"""The invoice export behind ``zoho-invoice invoices export``: every invoice to CSV or JSON Lines,
page by page, resumable. No terminal here: the command (``_invoices``) shows the progress.

The export keeps a cursor beside the output (``FILE.cursor``: the last completed page and the
output's size then), so a resume after an interruption continues where it stopped instead of
starting over. Both are owner-only files (SECURITY 49), and a CSV cell a spreadsheet would run
as a formula is written as text (SECURITY 43; ``raw_csv`` turns that off).
"""

from __future__ import annotations

import csv
import io
import json
import os
from collections.abc import Callable
from enum import StrEnum
from pathlib import Path
from typing import Any, Literal

from .._files import open_private, write_private_text
from ..api import ZohoInvoice
from ..api._constants import MAX_PER_PAGE
from ..api.types import Invoice
from ._csv import csv_cell

__all__ = ["CSV_COLUMNS", "ExportFormat", "cursor_path", "export_invoices"]

#: The CSV's columns, in order: Zoho's invoice fields as named in its answers.
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
    """The output's format: CSV (a header, then one row an invoice) or JSON Lines."""

    csv = "csv"
    jsonl = "jsonl"


def _csv_row(invoice: Invoice, *, neutralise: bool) -> str:
    buffer = io.StringIO()
    values = [getattr(invoice, column, None) for column in CSV_COLUMNS]
    csv.writer(buffer, lineterminator="\n").writerow(
        [csv_cell(value, neutralise=neutralise) for value in values]
    )
    return buffer.getvalue()


def cursor_path(out_file: Path) -> Path:
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
    cursor_file = cursor_path(out_file)
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
