"""Recurring invoices: profiles that make a child invoice every N days, weeks, months or years.

HTTP-free. A profile is ``active``, ``stopped`` or ``expired`` (past its ``end_date``). Its n-th
invoice is dated ``start_date + n x repeat_every x recurrence_frequency`` (months and years keep
the start's day, or the month's last day when it has fewer), so a schedule never drifts.

When invoices are made: the sandbox has no scheduler; instead, before any request of an
organization is handled, every active profile of it whose ``next_invoice_date`` is today or
earlier (by the world's clock) makes its due invoices, oldest first (:func:`make_due_invoices`,
at most ``MAX_CATCH_UP`` a request). Moving the world's clock forward and making any request
is therefore how a test "advances" time. A child invoice is created as Zoho's recurring
profiles do by default, marked sent (no e-mail is recorded), carrying ``recurring_invoice_id``;
``GET /invoices?recurring_invoice_id=`` lists a profile's children. A resumed profile does not
make the invoices it skipped while stopped: it goes on from its next date on or after today.
"""

from __future__ import annotations

import calendar
from collections.abc import Callable, Mapping
from datetime import date, timedelta
from typing import TYPE_CHECKING, Any

from ._books import Books, _date, _int, _text
from ._errors import ZohoAPIFailure, invalid
from ._resources import INVOICES, RECURRING_INVOICES
from ._store import Doc
from ._time import format_timestamp

if TYPE_CHECKING:
    from ._app import Context, Payload

__all__ = [
    "FREQUENCIES",
    "MAX_CATCH_UP",
    "RecurringInvoices",
    "make_due_invoices",
    "occurrence",
    "with_due_invoices",
]

FREQUENCIES = ("days", "weeks", "months", "years")
#: Invoices one request may make, so a clock moved decades ahead cannot stall a request.
MAX_CATCH_UP = 500
#: Body fields a profile passes on to each invoice it makes.
_INVOICE_FIELDS = (
    "reference_number",
    "payment_terms",
    "discount",
    "is_discount_before_tax",
    "shipping_charge",
    "adjustment",
    "notes",
    "terms",
)


def _add_months(start: date, months: int) -> date:
    year, month = divmod(start.month - 1 + months, 12)
    year += start.year
    last = calendar.monthrange(year, month + 1)[1]
    return date(year, month + 1, min(start.day, last))


def occurrence(start: date, frequency: str, every: int, index: int) -> date:
    """The ``index``-th date (0 = ``start``) of a schedule."""
    step = every * index
    if frequency == "days":
        return start + timedelta(days=step)
    if frequency == "weeks":
        return start + timedelta(weeks=step)
    if frequency == "months":
        return _add_months(start, step)
    return _add_months(start, 12 * step)


def _index_of(start: date, frequency: str, every: int, day: date) -> int:
    """The index of ``day`` in the schedule (``day`` is one of its dates)."""
    if frequency in ("days", "weeks"):
        span = (day - start).days // (7 if frequency == "weeks" else 1)
    else:
        span = (day.year - start.year) * 12 + day.month - start.month
        if frequency == "years":
            span //= 12
    return span // every


def _first_on_or_after(start: date, frequency: str, every: int, day: date) -> date:
    index = 0 if day <= start else max(0, _index_of(start, frequency, every, day) - 1)
    while (found := occurrence(start, frequency, every, index)) < day:
        index += 1
    return found


class RecurringInvoices:
    """One organization's recurring profiles, through the request's ``Books``."""

    def __init__(self, books: Books) -> None:
        self.books = books
        self.store = books.store
        self.org = books.org

    @property
    def _stamp(self) -> str:
        return format_timestamp(self.books.now)

    def get(self, recurring_invoice_id: str) -> Doc:
        return self.books.get(RECURRING_INVOICES, recurring_invoice_id)

    def save(self, body: Mapping[str, Any], existing: Doc | None = None) -> Doc:
        books = self.books
        with self.store.transaction():
            merged: dict[str, Any] = {**(existing or {}), **body}
            name = _text(merged, "recurrence_name")
            if not name:
                raise ZohoAPIFailure(400, 4031, "Please enter a name for this Recurring Invoice")
            customer = books._customer(merged)
            frequency = _text(merged, "recurrence_frequency", required=True).lower()
            if frequency not in FREQUENCIES:
                raise invalid("recurrence_frequency")
            every = _int(merged, "repeat_every", 1)
            if every < 1:
                raise invalid("repeat_every")
            start = _date(merged, "start_date", books.today)
            end: date | None = None
            if merged.get("end_date") not in (None, ""):
                end = _date(merged, "end_date", start)
                if end < start:
                    raise invalid("end_date")
            amounts = books._amounts(merged)
            for line in amounts["line_items"]:
                line.setdefault("item_id", "")  # Zoho shows the key on every line
            status = existing["status"] if existing else "active"
            last_sent = existing.get("last_sent_date", "") if existing else ""
            after = date.fromisoformat(last_sent) + timedelta(days=1) if last_sent else start
            upcoming = _first_on_or_after(start, frequency, every, max(after, start))
            doc: Doc = {
                "recurring_invoice_id": existing["recurring_invoice_id"]
                if existing
                else self.store.new_ids()[0],
                "recurrence_name": name,
                "reference_number": _text(merged, "reference_number"),
                "customer_id": customer["contact_id"],
                "customer_name": customer["contact_name"],
                "currency_id": "",
                "currency_code": customer.get("currency_code") or books.currency_code,
                "status": status,
                "recurrence_frequency": frequency,
                "repeat_every": every,
                "start_date": start.isoformat(),
                "end_date": end.isoformat() if end else "",
                "last_sent_date": last_sent,
                "next_invoice_date": upcoming.isoformat(),
                "payment_terms": _int(merged, "payment_terms", 0),
                **amounts,
                "notes": _text(merged, "notes"),
                "terms": _text(merged, "terms"),
                "created_time": existing["created_time"] if existing else self._stamp,
                "last_modified_time": self._stamp,
            }
            if status != "stopped":
                doc["status"] = "active"
            self._expire_if_over(doc)
            if existing:
                self.store.replace(RECURRING_INVOICES, self.org, doc)
            else:
                self.store.insert(RECURRING_INVOICES, self.org, doc)
            self.make_due(doc["recurring_invoice_id"])
        return self.get(doc["recurring_invoice_id"])

    @staticmethod
    def _expire_if_over(doc: Doc) -> None:
        end, upcoming = doc.get("end_date"), doc.get("next_invoice_date")
        if end and upcoming and upcoming > end:
            doc["status"] = "expired"
            doc["next_invoice_date"] = ""

    def delete(self, recurring_invoice_id: str) -> None:
        """The profile goes; the invoices it made stay, with their ``recurring_invoice_id``."""
        with self.store.transaction():
            self.get(recurring_invoice_id)
            self.store.delete(RECURRING_INVOICES, self.org, recurring_invoice_id)

    def stop(self, recurring_invoice_id: str) -> None:
        with self.store.transaction():
            doc = self.get(recurring_invoice_id)
            if doc["status"] == "expired":
                raise ZohoAPIFailure(400, 2, "An expired recurring invoice cannot be stopped.")
            doc["status"] = "stopped"
            doc["last_modified_time"] = self._stamp
            self.store.replace(RECURRING_INVOICES, self.org, doc)

    def resume(self, recurring_invoice_id: str) -> None:
        with self.store.transaction():
            doc = self.get(recurring_invoice_id)
            if doc["status"] == "expired":
                raise ZohoAPIFailure(400, 2, "An expired recurring invoice cannot be resumed.")
            if doc["status"] == "active":
                return
            start = date.fromisoformat(doc["start_date"])
            upcoming = _first_on_or_after(
                start, doc["recurrence_frequency"], int(doc["repeat_every"]), self.books.today
            )
            doc.update(status="active", next_invoice_date=upcoming.isoformat())
            doc["last_modified_time"] = self._stamp
            self._expire_if_over(doc)
            self.store.replace(RECURRING_INVOICES, self.org, doc)
            self.make_due(recurring_invoice_id)

    # -- making invoices --------------------------------------------------------------------

    def _child(self, profile: Doc, day: date) -> None:
        body: dict[str, Any] = {
            "customer_id": profile["customer_id"],
            "date": day.isoformat(),
            "line_items": [
                {k: v for k, v in line.items() if k != "line_item_id"}
                for line in profile["line_items"]
            ],
        }
        body.update({k: profile[k] for k in _INVOICE_FIELDS if profile.get(k) not in (None, "")})
        invoice = self.books.save_invoice(body)
        invoice["status"] = "sent"
        invoice["recurring_invoice_id"] = profile["recurring_invoice_id"]
        self.store.replace(INVOICES, self.org, invoice)

    def make_due(self, recurring_invoice_id: str | None = None, limit: int = MAX_CATCH_UP) -> int:
        """Make every invoice due by today (one profile, or all); returns how many were made."""
        today = self.books.today.isoformat()
        where = ["status = 'active'", "next_invoice_date <= ?", "next_invoice_date != ''"]
        params: list[Any] = [today]
        if recurring_invoice_id is not None:
            where.append("id = ?")
            params.append(int(recurring_invoice_id))
        if not self.store.count(RECURRING_INVOICES, self.org, where=where, params=params):
            return 0
        made = 0
        with self.store.transaction():
            due = self.store.select(
                RECURRING_INVOICES, self.org, where=where, params=params, order_by="id"
            )
            for profile in due:
                made += self._catch_up(profile, today, limit - made)
        return made

    def _catch_up(self, profile: Doc, today: str, limit: int) -> int:
        start = date.fromisoformat(profile["start_date"])
        frequency, every = profile["recurrence_frequency"], int(profile["repeat_every"])
        made = 0
        while (
            made < limit
            and profile["status"] == "active"
            and profile["next_invoice_date"]
            and profile["next_invoice_date"] <= today
        ):
            day = date.fromisoformat(profile["next_invoice_date"])
            try:
                self._child(profile, day)
            except ZohoAPIFailure:
                # The customer or an item went away: a profile that cannot invoice stops.
                profile["status"] = "stopped"
                break
            made += 1
            index = _index_of(start, frequency, every, day) + 1
            profile["last_sent_date"] = day.isoformat()
            profile["next_invoice_date"] = occurrence(start, frequency, every, index).isoformat()
            self._expire_if_over(profile)
        profile["last_modified_time"] = self._stamp
        self.store.replace(RECURRING_INVOICES, self.org, profile)
        return made


def make_due_invoices(books: Books) -> int:
    """Every recurring invoice of ``books``' organization due by its clock (see the module)."""
    return RecurringInvoices(books).make_due()


def with_due_invoices(handler: Callable[[Context], Payload]) -> Callable[[Context], Payload]:
    """``handler``, after the organization's due recurring invoices are made."""

    def run(ctx: Context) -> Payload:
        if ctx.books is not None:
            make_due_invoices(ctx.books)
        return handler(ctx)

    return run
