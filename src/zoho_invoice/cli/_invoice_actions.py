"""``zoho-invoice invoices create``, ``remind`` and ``pdf``: the commands that act on invoices
a person names (registered on ``invoices_app`` by ``_invoices``).

``create`` makes one invoice from a JSON file of Zoho's invoice fields. ``remind`` sends Zoho's
payment reminder for each invoice given (one call for one invoice, the bulk call for up to 10 at
a time) and says which were not sent. ``pdf`` writes one PDF of one invoice or of up to 25
(Zoho's limit) to an owner-only file.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from .._files import open_private
from ..api._resources_invoice_extras import MAX_BULK_PDF, MAX_BULK_REMINDERS
from ._common import fail, out
from ._connection_client import ConnectionOption, OrgOption, command_client

__all__ = ["invoices_create", "invoices_pdf", "invoices_remind"]

InvoiceIds = Annotated[list[str], typer.Argument(help="Invoice ids.", show_default=False)]


def _unique(ids: list[str]) -> list[str]:
    return list(dict.fromkeys(i.strip() for i in ids if i.strip()))


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
    with command_client(ctx, connection, organization) as client:
        invoice = client.invoices.create(body)
    out.print(
        f"created invoice {invoice.invoice_number or ''} (id {invoice.invoice_id})",
        highlight=False,
    )


def invoices_remind(
    ctx: typer.Context,
    connection: ConnectionOption,
    invoice_ids: InvoiceIds,
    organization: OrgOption = None,
) -> None:
    """E-mail a payment reminder for open or overdue invoices (Zoho's own content)."""
    ids = _unique(invoice_ids)
    sent: list[str] = []
    failed: list[str] = []
    with command_client(ctx, connection, organization) as client:
        if len(ids) == 1:
            client.invoices.send_payment_reminder(ids[0])
            sent = ids
        else:
            for start in range(0, len(ids), MAX_BULK_REMINDERS):
                batch = ids[start : start + MAX_BULK_REMINDERS]
                report = client.invoices.bulk_payment_reminder(batch)
                missed = set(report.failed_invoice_ids)
                failed += [i for i in batch if i in missed]
                sent += [i for i in batch if i not in missed]
    out.print(f"reminded {len(sent)} invoice(s)", highlight=False)
    if failed:
        out.print(f"not sent (not open, or no e-mail address): {', '.join(failed)}")
        raise typer.Exit(1)


def invoices_pdf(
    ctx: typer.Context,
    connection: ConnectionOption,
    invoice_ids: InvoiceIds,
    out_file: Annotated[
        Path, typer.Option("--out", "-o", dir_okay=False, help="The PDF file to write.")
    ],
    organization: OrgOption = None,
) -> None:
    """Write one PDF of one invoice, or of up to 25 (one after the other)."""
    ids = _unique(invoice_ids)
    if len(ids) > MAX_BULK_PDF:
        fail(f"Zoho puts at most {MAX_BULK_PDF} invoices in one PDF; got {len(ids)}")
    with command_client(ctx, connection, organization) as client:
        pdf = client.invoices.pdf(ids[0]) if len(ids) == 1 else client.invoices.bulk_pdf(ids)
    try:
        with open_private(out_file) as handle:
            handle.write(pdf)
    except OSError as exc:
        fail(f"cannot write {out_file}: {exc}")
    out.print(f"wrote {out_file} ({len(pdf)} bytes, {len(ids)} invoice(s))", highlight=False)
