"""The demo dashboard's invoice panels: the latest invoices of a bound organization, paged, and
the form that creates one.

The panel is read from the mirror (``_demo_mirror.py``); creating an invoice goes to Zoho through
the Invoice API client of the connection (a fresh token from the token manager). Whatever Zoho or
the token manager answers becomes a notice on the panel: the dashboard never fails because one
organization cannot be read.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime
from datetime import date as Date
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any

from .._exceptions import (
    APIStatusError,
    ConfigurationError,
    ConnectionNotFoundError,
    DailyQuotaExceeded,
    RateLimitError,
    ReauthorizationRequired,
    TokenUnavailableError,
)
from .._redact import redact

if TYPE_CHECKING:
    from ..api.types import Contact, Invoice, Item, Tax

__all__ = [
    "PER_PAGE_CHOICES",
    "InvoiceForm",
    "InvoicePanel",
    "LineInput",
    "describe_error",
]

logger = logging.getLogger("zoho_invoice.web")

PER_PAGE_CHOICES = (10, 25)
MAX_PAGE = 10_000
#: Line rows the form offers (empty ones are skipped).
FORM_LINES = 3


def describe_error(exc: Exception) -> str:
    """A notice a person understands, for anything the token manager or Zoho raised."""
    if isinstance(exc, ReauthorizationRequired):
        return (
            "This connection must be connected again: Zoho no longer accepts its tokens "
            f"(status {exc.status}). Use “Connect Zoho Invoice” above."
        )
    if isinstance(exc, TokenUnavailableError):
        return "Zoho is not handing out access tokens right now. Reload in a minute."
    if isinstance(exc, DailyQuotaExceeded):
        when = f"{exc.resets_at:%Y-%m-%d %H:%M} UTC" if exc.resets_at else "its daily reset"
        return f"Zoho's daily API quota for this organization is spent until {when}."
    if isinstance(exc, RateLimitError):
        return (
            "Zoho's request limit for this organization was reached"
            + (f" ({redact(exc.message)[:200]})" if exc.message else "")
            + ". Reload in a minute."
        )
    if isinstance(exc, APIStatusError):  # not APIConnectionError: no answer is said below
        return "Zoho answered an error: " + (redact(exc.message)[:300] or "no message")
    if isinstance(exc, ConnectionNotFoundError):
        return "This connection no longer exists."
    if isinstance(exc, ConfigurationError):
        return "This connection has no organization to work with yet."
    return "Zoho could not be reached right now. Reload in a minute."


@dataclass
class LineInput:
    """One line of the form as typed (strings, so a failed attempt shows them again)."""

    item_id: str = ""
    description: str = ""
    quantity: str = ""
    rate: str = ""

    @property
    def empty(self) -> bool:
        return not (self.item_id or self.description.strip())


@dataclass
class InvoiceForm:
    """What the person typed into the create-invoice form, and what was wrong with it."""

    customer_id: str = ""
    date: str = ""
    lines: list[LineInput] = field(default_factory=list)
    error: str | None = None
    #: The tax every line pays ("" none); ``None`` until the organization's default is known.
    tax_id: str | None = None

    @classmethod
    def blank(cls, today: Date) -> InvoiceForm:
        lines = [LineInput(quantity="1")] + [LineInput() for _ in range(FORM_LINES - 1)]
        return cls(date=today.isoformat(), lines=lines)

    @classmethod
    def from_fields(
        cls,
        *,
        customer_id: str,
        date_text: str,
        item_ids: list[str],
        descriptions: list[str],
        quantities: list[str],
        rates: list[str],
        tax_id: str = "",
    ) -> InvoiceForm:
        count = max(len(item_ids), len(descriptions), len(quantities), len(rates), FORM_LINES)
        count = min(count, 50)

        def at(values: list[str], i: int) -> str:
            return values[i].strip() if i < len(values) else ""

        lines = [
            LineInput(
                item_id=at(item_ids, i),
                description=at(descriptions, i),
                quantity=at(quantities, i),
                rate=at(rates, i),
            )
            for i in range(count)
        ]
        return cls(
            customer_id=customer_id.strip(),
            date=date_text.strip(),
            lines=lines,
            tax_id=tax_id.strip(),
        )

    def body(self) -> dict[str, Any]:
        """The Invoice API body; ``ValueError`` with a readable message when the form is wrong."""
        if not self.customer_id:
            raise ValueError("Choose a customer.")
        try:
            day = Date.fromisoformat(self.date)
        except ValueError:
            raise ValueError("The date must look like 2025-01-31.") from None
        lines: list[dict[str, Any]] = []
        for number, line in enumerate(self.lines, start=1):
            if line.empty:
                continue
            quantity = _number(line.quantity or "1", f"Line {number}: the quantity")
            if quantity <= 0:
                raise ValueError(f"Line {number}: the quantity must be more than 0.")
            entry: dict[str, Any] = {"quantity": float(quantity)}
            if line.item_id:
                entry["item_id"] = line.item_id
                if line.description.strip():
                    entry["description"] = line.description.strip()
            else:
                entry["name"] = line.description.strip()
                entry["description"] = line.description.strip()
                if not line.rate:
                    raise ValueError(f"Line {number}: a free description needs a rate.")
            if line.rate:
                entry["rate"] = float(_number(line.rate, f"Line {number}: the rate"))
            if self.tax_id:
                # A VAT or GST organization wants a tax on every line.
                entry["tax_id"] = self.tax_id
            lines.append(entry)
        if not lines:
            raise ValueError("Add at least one line: an item or a description.")
        return {"customer_id": self.customer_id, "date": day.isoformat(), "line_items": lines}


def _number(text: str, what: str) -> Decimal:
    try:
        value = Decimal(text.replace(",", ""))
    except InvalidOperation:
        raise ValueError(f"{what} must be a number.") from None
    if not value.is_finite():
        raise ValueError(f"{what} must be a number.")
    return value


@dataclass
class InvoicePanel:
    """One bound organization's part of the dashboard."""

    connection_id: str
    organization_id: str
    organization_name: str
    page: int = 1
    per_page: int = PER_PAGE_CHOICES[0]
    invoices: list[Invoice] = field(default_factory=list)
    has_more: bool = False
    contacts: list[Contact] = field(default_factory=list)
    items: list[Item] = field(default_factory=list)
    taxes: list[Tax] = field(default_factory=list)
    error: str | None = None
    form: InvoiceForm | None = None
    created_id: str | None = None
    #: Read from the mirror (issue 10): when its invoices were last current, whether a sync
    #: runs now, and the phrase the page shows ("synced 3 minutes ago").
    synced_at: datetime | None = None
    syncing: bool = False
    synced_text: str = ""

    @property
    def waiting(self) -> bool:
        """A sync runs and nothing shows yet (a first sync): the page reloads itself until the
        rows are there (a form being filled in is never reloaded away)."""
        return self.syncing and not self.invoices and self.page == 1 and self.error is None

    @property
    def created_number(self) -> str | None:
        for invoice in self.invoices:
            if invoice.invoice_id == self.created_id:
                return invoice.invoice_number or invoice.invoice_id
        return None

    @property
    def first_index(self) -> int:
        return (self.page - 1) * self.per_page + 1


def today_utc() -> Date:
    return datetime.now(UTC).date()


def default_tax(taxes: list[Tax]) -> str:
    """The tax the form starts with: the highest value-added rate (a VAT or GST organization's
    standard rate), else none."""
    vat = [t for t in taxes if t.is_value_added and t.tax_percentage is not None]
    if not vat:
        return ""
    return max(vat, key=lambda t: t.tax_percentage or 0).tax_id
