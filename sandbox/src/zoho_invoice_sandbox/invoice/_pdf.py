"""A real, if plain, PDF of an invoice (fpdf2), for ``Accept: application/pdf``, and of several
invoices in one document (``GET /invoices/pdf``)."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from fpdf import FPDF

_UNSAFE_IN_NAME = re.compile(r"[^A-Za-z0-9 ._()+-]")


def pdf_disposition(number: str) -> str:
    """``attachment; filename="INV-000384.pdf"``: Zoho names the file by the invoice number.

    A number may hold any character; those a header or a file system would misread (quotes,
    slashes, control and non-ASCII characters) become ``_``.
    """
    name = _UNSAFE_IN_NAME.sub("_", number)[:100].strip() or "invoice"
    return f'attachment; filename="{name}.pdf"'


def _latin1(text: object) -> str:
    # The PDF core fonts speak Latin-1 only.
    return str(text).encode("latin-1", "replace").decode("latin-1")


def invoice_pdf(invoice: Mapping[str, Any], organization_name: str) -> bytes:
    return invoices_pdf([invoice], organization_name)


def invoices_pdf(invoices: Sequence[Mapping[str, Any]], organization_name: str) -> bytes:
    """One document, a page (or more) per invoice, as Zoho's bulk export makes it."""
    pdf = FPDF(format="A4")
    pdf.set_creator("zoho-invoice sandbox")
    numbers = ", ".join(str(invoice["invoice_number"]) for invoice in invoices)
    pdf.set_title(_latin1(f"Invoice {numbers}" if len(invoices) == 1 else f"Invoices {numbers}"))
    for invoice in invoices:
        _page(pdf, invoice, organization_name)
    return bytes(pdf.output())


def _page(pdf: FPDF, invoice: Mapping[str, Any], organization_name: str) -> None:
    pdf.add_page()
    pdf.set_font("Helvetica", "B", 18)
    pdf.cell(0, 10, _latin1(organization_name), new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("Helvetica", "B", 14)
    pdf.cell(0, 10, _latin1(f"INVOICE {invoice['invoice_number']}"), new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("Helvetica", "", 11)
    for label, key in (
        ("Bill to", "customer_name"),
        ("Date", "date"),
        ("Due date", "due_date"),
        ("Status", "status"),
    ):
        pdf.cell(0, 7, _latin1(f"{label}: {invoice.get(key, '')}"), new_x="LMARGIN", new_y="NEXT")
    pdf.ln(4)
    pdf.set_font("Helvetica", "B", 11)
    widths = (90, 25, 30, 35)
    for width, title in zip(widths, ("Item", "Qty", "Rate", "Amount"), strict=True):
        pdf.cell(width, 8, title, border=1)
    pdf.ln()
    pdf.set_font("Helvetica", "", 10)
    for line in invoice.get("line_items", []):
        cells = (
            line["name"][:48],
            f"{line['quantity']:g}",
            f"{line['rate']:.2f}",
            f"{line['item_total']:.2f}",
        )
        for width, text in zip(widths, cells, strict=True):
            pdf.cell(width, 7, _latin1(text), border=1)
        pdf.ln()
    pdf.ln(4)
    currency = invoice.get("currency_code", "")
    for label, key in (
        ("Sub total", "sub_total"),
        ("Discount", "discount_total"),
        ("Tax", "tax_total"),
        ("Total", "total"),
        ("Balance due", "balance"),
    ):
        pdf.cell(145, 7, label, align="R")
        pdf.cell(35, 7, _latin1(f"{currency} {float(invoice.get(key, 0)):.2f}"), align="R")
        pdf.ln()
