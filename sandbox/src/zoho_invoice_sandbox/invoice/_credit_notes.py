"""The rules of credit notes: create, edit, statuses, credits on invoices and refunds.

HTTP-free, like ``_books`` (whose customer, amount and text rules it reuses). Statuses, as Zoho
documents them: ``draft`` (``is_draft: true`` at creation), ``open`` (the default; has a balance),
``closed`` (used up by credits and refunds) and ``void``. Credits and refunds lower the balance;
taking a credit back or deleting a refund raises it again (docs/zoho/credits-recurring.md).
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

from ._amounts import money
from ._books import Books, _date, _text
from ._credit_ledger import (
    credits_of_invoice,
    credits_of_note,
    dec,
    record_credit,
    remove_credit,
    settle_note,
)
from ._errors import ZohoAPIFailure, invalid, not_found
from ._extras import Actor, InvoiceExtras
from ._resources import (
    CREDIT_APPLICATIONS,
    CREDIT_NOTE_REFUNDS,
    CREDIT_NOTES,
    INVOICES,
    PAYMENTS,
)
from ._store import Doc
from ._time import format_timestamp

__all__ = ["CreditNotes"]

_CENT = Decimal("0.01")
_MAX = Decimal(10) ** 12
#: Zoho's documented codes for credits that cannot be applied (credit-notes page).
_NOTE_CLOSED = (12003, "Credit notes that are in closed status cannot be applied to invoices")
_NOTE_VOID = (12004, "Credit notes that are in void status cannot be applied to invoices")
_INVOICE_DRAFT = (12005, "Credits cannot be applied to invoices in the draft status")
_INVOICE_CLOSED = (12006, "Credits cannot be applied to invoices in the closed status")
_INVOICE_VOID = (12007, "Credits cannot be applied to invoices in the void status")


def _fail(code_message: tuple[int, str]) -> ZohoAPIFailure:
    return ZohoAPIFailure(400, code_message[0], code_message[1])


def amount(value: Any, field: str) -> Decimal:
    """A positive amount of money, to the cent; 400 code 2 otherwise."""
    if isinstance(value, bool) or value in (None, ""):
        raise invalid(field)
    try:
        number = Decimal(str(value))
    except InvalidOperation:
        raise invalid(field) from None
    if not number.is_finite() or not 0 < number <= _MAX:
        raise invalid(field)
    return number.quantize(_CENT, rounding=ROUND_HALF_UP)


def _lines(lines: list[Doc]) -> list[Doc]:
    # Zoho's credit note lines also carry their order and base-currency rate.
    for order, line in enumerate(lines, start=1):
        line.setdefault("item_id", "")
        line.setdefault("tax_id", "")
        line["item_order"] = order
        line["bcy_rate"] = line["rate"]
    return lines


class CreditNotes:
    """One organization's credit notes, through the same ``Books`` as the rest of a request."""

    def __init__(self, books: Books) -> None:
        self.books = books
        self.store = books.store
        self.org = books.org

    @property
    def _stamp(self) -> str:
        return format_timestamp(self.books.now)

    def get(self, creditnote_id: str) -> Doc:
        return self.books.get(CREDIT_NOTES, creditnote_id)

    def present(self, note: Doc) -> Doc:
        """A whole credit note, with its credits and refunds as Zoho shows them."""
        return dict(
            note,
            invoices_credited=self.invoices_credited(note["creditnote_id"]),
            creditnote_refunds=self.refunds(note["creditnote_id"]),
        )

    # -- create and edit --------------------------------------------------------------------

    def _number(self, body: Mapping[str, Any], own_id: str | None) -> str:
        given = _text(body, "creditnote_number")
        if given:
            where = ["creditnote_number = ?"]
            params: list[Any] = [given]
            if own_id is not None:
                where.append("id != ?")
                params.append(int(own_id))
            if self.store.count(CREDIT_NOTES, self.org, where=where, params=params):
                raise ZohoAPIFailure(400, 12018, "The specified Credit Note Number already exists")
            return given
        while True:
            number = f"CN-{self.store.next_numbers(self.org, 'creditnote')[0]:05d}"
            taken = self.store.count(
                CREDIT_NOTES, self.org, where=["creditnote_number = ?"], params=[number]
            )
            if not taken:
                return number

    def save(
        self, body: Mapping[str, Any], existing: Doc | None = None, *, invoice_id: str = ""
    ) -> Doc:
        """Create (``existing`` None) or edit a credit note; the totals are computed here."""
        books = self.books
        with self.store.transaction():
            if existing and existing["status"] == "void":
                raise ZohoAPIFailure(400, 2, "A void credit note cannot be edited.")
            merged: dict[str, Any] = {**(existing or {}), **body}
            customer = books._customer(merged)
            used = dec(existing.get("total_credits_used")) if existing else Decimal(0)
            refunded = dec(existing.get("total_refunded_amount")) if existing else Decimal(0)
            moved = existing is not None and customer["contact_id"] != existing["customer_id"]
            if moved and (used or refunded):
                raise invalid("customer_id")
            if invoice_id:
                invoice = self.store.get(INVOICES, self.org, invoice_id)
                if invoice is None or invoice["customer_id"] != customer["contact_id"]:
                    raise invalid("invoice_id")
            number = self._number(merged, existing["creditnote_id"] if existing else None)
            day = _date(merged, "date", books.today)
            amounts = books._amounts(merged)
            if dec(amounts["total"]) < used + refunded:
                raise ZohoAPIFailure(
                    400,
                    2,
                    "The credit note total cannot be less than the credits used and refunded.",
                )
            is_draft = body.get("is_draft")
            if is_draft is not None and not isinstance(is_draft, bool):
                raise invalid("is_draft")
            status = existing["status"] if existing else ("draft" if is_draft else "open")
            doc: Doc = {
                "creditnote_id": existing["creditnote_id"] if existing else self.store.new_ids()[0],
                "creditnote_number": number,
                "date": day.isoformat(),
                "status": status,
                "reference_number": _text(merged, "reference_number"),
                "is_emailed": bool(existing.get("is_emailed")) if existing else False,
                "invoice_id": existing.get("invoice_id", "") if existing else invoice_id,
                "customer_id": customer["contact_id"],
                "customer_name": customer["contact_name"],
                "email": customer.get("email", ""),
                "contact_persons": [],
                "currency_id": "",
                "currency_code": customer.get("currency_code") or books.currency_code,
                "exchange_rate": 1.0,
                **amounts,
                "line_items": _lines(amounts["line_items"]),
                "total_credits_used": money(used),
                "total_refunded_amount": money(refunded),
                "balance": 0.0,
                "notes": _text(merged, "notes"),
                "terms": _text(merged, "terms"),
                "billing_address": dict(customer.get("billing_address") or {}),
                "shipping_address": {},
                "created_time": existing["created_time"] if existing else self._stamp,
                "last_modified_time": self._stamp,
            }
            settle_note(doc)
            if existing:
                self.store.replace(CREDIT_NOTES, self.org, doc)
            else:
                self.store.insert(CREDIT_NOTES, self.org, doc)
        return doc

    def _in_use(self, note: Doc) -> bool:
        return bool(dec(note.get("total_credits_used")) or dec(note.get("total_refunded_amount")))

    def delete(self, creditnote_id: str) -> None:
        # Zoho's pages say nothing of deleting a used credit note; refusing is the reading a
        # client survives whichever way Zoho goes (take the credits and refunds back first).
        with self.store.transaction():
            note = self.get(creditnote_id)
            if self._in_use(note):
                raise ZohoAPIFailure(
                    400,
                    2,
                    "Credits or refunds have been recorded for this credit note. "
                    "Delete them to delete the credit note.",
                )
            self.store.delete(CREDIT_NOTES, self.org, creditnote_id)

    def set_status(self, creditnote_id: str, target: str) -> None:
        """``void``, ``open`` (from draft or void) or ``draft`` (from open or void)."""
        with self.store.transaction():
            note = self.get(creditnote_id)
            status = note["status"]
            if target in ("void", "draft") and status != target and self._in_use(note):
                raise ZohoAPIFailure(
                    400,
                    2,
                    "Credits or refunds have been recorded for this credit note. "
                    "Delete them first.",
                )
            if target == "open" and status in ("open", "closed"):
                return
            if target == "draft" and status == "closed":
                raise invalid("status")
            note["status"] = target
            settle_note(note)
            if target == "void":
                note["balance"] = 0.0
            note["last_modified_time"] = self._stamp
            self.store.replace(CREDIT_NOTES, self.org, note)

    # -- credits on invoices ----------------------------------------------------------------

    def _check_invoice(self, invoice: Doc) -> None:
        status = invoice["status"]
        if status == "draft":
            raise _fail(_INVOICE_DRAFT)
        if status == "void":
            raise _fail(_INVOICE_VOID)
        if status == "paid" or dec(invoice.get("balance")) <= 0:
            raise _fail(_INVOICE_CLOSED)

    def _check_note(self, note: Doc) -> None:
        if note["status"] == "void":
            raise _fail(_NOTE_VOID)
        if note["status"] == "closed" or dec(note.get("balance")) <= 0:
            raise _fail(_NOTE_CLOSED)
        if note["status"] == "draft":
            raise ZohoAPIFailure(400, 2, "A draft credit note cannot be applied to invoices.")

    def credit(self, note: Doc, invoice: Doc, value: Decimal) -> Doc:
        """Apply ``value`` of ``note`` to ``invoice``, both checked; returns the credit."""
        self._check_note(note)
        self._check_invoice(invoice)
        if invoice["customer_id"] != note["customer_id"]:
            raise invalid("invoice_id")
        if value > dec(note["balance"]):
            raise ZohoAPIFailure(
                400, 2, "The amount applied exceeds the balance of the credit note."
            )
        if value > dec(invoice["balance"]):
            raise ZohoAPIFailure(400, 2, "The amount applied exceeds the balance of the invoice.")
        return record_credit(
            self.store,
            self.org,
            note,
            invoice,
            value,
            day=self.books.today.isoformat(),
            stamp=self._stamp,
        )

    def _list(self, body: Mapping[str, Any], key: str) -> list[Mapping[str, Any]]:
        raw = body.get(key)
        if raw is None:
            return []
        if not isinstance(raw, list) or not all(isinstance(r, dict) for r in raw):
            raise invalid(key)
        return raw

    def apply_to_invoices(self, creditnote_id: str, body: Mapping[str, Any]) -> list[Doc]:
        """``POST /creditnotes/{id}/invoices``: ``{"invoices": [{invoice_id, amount_applied}]}``."""
        with self.store.transaction():
            rows = self._list(body, "invoices")
            if not rows:
                raise invalid("invoices")
            applied: list[Doc] = []
            for row in rows:
                note = self.get(creditnote_id)
                invoice_id = _text(row, "invoice_id", required=True)
                invoice = self.store.get(INVOICES, self.org, invoice_id)
                if invoice is None:
                    raise invalid("invoice_id")
                value = amount(row.get("amount_applied"), "amount_applied")
                self.credit(note, invoice, value)
                applied.append({"invoice_id": invoice_id, "amount_applied": money(value)})
        return applied

    def invoices_credited(self, creditnote_id: str) -> list[Doc]:
        return [
            {
                "creditnote_id": c["creditnote_id"],
                "invoice_id": c["invoice_id"],
                "creditnote_invoice_id": c["creditnote_invoice_id"],
                "date": c["date"],
                "invoice_number": c["invoice_number"],
                "creditnote_number": c["creditnote_number"],
                "credited_amount": c["amount_applied"],
            }
            for c in credits_of_note(self.store, self.org, creditnote_id)
        ]

    def _credit_row(self, credit_id: str) -> Doc:
        credit = self.store.get(CREDIT_APPLICATIONS, self.org, credit_id)
        if credit is None:
            raise not_found("Credit")
        return credit

    def delete_credit(
        self, credit_id: str, *, creditnote_id: str | None = None, invoice_id: str | None = None
    ) -> None:
        """Take back one credit, named from the credit note's side or from the invoice's."""
        with self.store.transaction():
            if creditnote_id is not None:
                self.get(creditnote_id)
            if invoice_id is not None:
                self.books.get(INVOICES, invoice_id)
            credit = self._credit_row(credit_id)
            if creditnote_id is not None and credit["creditnote_id"] != creditnote_id:
                raise not_found("Credit")
            if invoice_id is not None and credit["invoice_id"] != invoice_id:
                raise not_found("Credit")
            remove_credit(self.store, self.org, credit, stamp=self._stamp)

    # -- the invoice's side -----------------------------------------------------------------

    def credits_applied(self, invoice_id: str) -> list[Doc]:
        """``GET /invoices/{id}/creditsapplied``: the credits on one invoice."""
        self.books.get(INVOICES, invoice_id)
        return [
            {
                "creditnote_id": c["creditnote_id"],
                "creditnotes_invoice_id": c["creditnote_invoice_id"],
                "creditnotes_number": c["creditnote_number"],
                "credited_date": c["date"],
                "amount_applied": c["amount_applied"],
            }
            for c in credits_of_invoice(self.store, self.org, invoice_id)
        ]

    def use_credits(self, invoice_id: str, body: Mapping[str, Any]) -> Doc:
        """``POST /invoices/{id}/credits``: credit notes and excess payments onto an invoice."""
        with self.store.transaction():
            invoice = self.books.get(INVOICES, invoice_id)
            notes = self._list(body, "apply_creditnotes")
            payments = self._list(body, "invoice_payments")
            if not notes and not payments:
                raise invalid("apply_creditnotes")
            self._check_invoice(invoice)
            used_payments = [self._use_payment(invoice_id, row) for row in payments]
            used_notes: list[Doc] = []
            for row in notes:
                note_id = _text(row, "creditnote_id", required=True)
                note = self.store.get(CREDIT_NOTES, self.org, note_id)
                if note is None:
                    raise invalid("creditnote_id")
                value = amount(row.get("amount_applied"), "amount_applied")
                credit = self.credit(note, self.books.get(INVOICES, invoice_id), value)
                used_notes.append(
                    {
                        "creditnotes_invoice_id": credit["creditnote_invoice_id"],
                        "creditnote_id": note_id,
                        "invoice_id": invoice_id,
                        "amount_applied": credit["amount_applied"],
                    }
                )
        return {"invoice_payments": used_payments, "apply_creditnotes": used_notes}

    def _use_payment(self, invoice_id: str, row: Mapping[str, Any]) -> Doc:
        """Apply part of a payment's unused amount to the invoice (the payment's own rules)."""
        payment_id = _text(row, "payment_id", required=True)
        payment = self.store.get(PAYMENTS, self.org, payment_id)
        invoice = self.books.get(INVOICES, invoice_id)
        if payment is None or payment["customer_id"] != invoice["customer_id"]:
            raise invalid("payment_id")
        value = amount(row.get("amount_applied"), "amount_applied")
        if value > dec(payment.get("unused_amount")):
            raise ZohoAPIFailure(
                400, 2, "The amount applied exceeds the unused amount of the payment."
            )
        if value > dec(invoice["balance"]):
            raise ZohoAPIFailure(400, 2, "The amount applied exceeds the balance of the invoice.")
        applications: list[dict[str, Any]] = []
        merged = False
        for old in payment.get("invoices", []):
            applied = dec(old["amount_applied"])
            if old["invoice_id"] == invoice_id:
                applied += value
                merged = True
            applications.append({"invoice_id": old["invoice_id"], "amount_applied": applied})
        if not merged:
            applications.append({"invoice_id": invoice_id, "amount_applied": value})
        saved = self.books.save_payment({"invoices": applications}, payment)
        # The same id ``GET /invoices/{id}/payments`` shows for this payment on this invoice.
        extras = InvoiceExtras(self.books, Actor())
        return {
            "invoice_payment_id": extras._invoice_payment_id(saved, invoice_id),
            "payment_id": payment_id,
            "invoice_id": invoice_id,
            "amount_used": money(value),
        }

    # -- refunds ----------------------------------------------------------------------------

    def refunds(self, creditnote_id: str) -> list[Doc]:
        return self.store.select(
            CREDIT_NOTE_REFUNDS,
            self.org,
            where=["creditnote_id = ?"],
            params=[creditnote_id],
            order_by="id",
        )

    def get_refund(self, creditnote_id: str, refund_id: str) -> Doc:
        self.get(creditnote_id)
        refund = self.store.get(CREDIT_NOTE_REFUNDS, self.org, refund_id)
        if refund is None or refund["creditnote_id"] != creditnote_id:
            raise not_found("Refund")
        return refund

    def save_refund(
        self, creditnote_id: str, body: Mapping[str, Any], refund_id: str | None = None
    ) -> Doc:
        """Record (or change) money paid back from a credit note's balance."""
        with self.store.transaction():
            note = self.get(creditnote_id)
            existing = self.get_refund(creditnote_id, refund_id) if refund_id else None
            if note["status"] in ("draft", "void"):
                raise ZohoAPIFailure(400, 2, f"A {note['status']} credit note cannot be refunded.")
            merged: dict[str, Any] = {**(existing or {}), **body}
            value = amount(merged.get("amount"), "amount")
            before = dec(existing["amount"]) if existing else Decimal(0)
            if value - before > dec(note["balance"]):
                raise ZohoAPIFailure(
                    400, 2, "The refund amount exceeds the balance of the credit note."
                )
            rate = merged.get("exchange_rate", 1)
            try:
                exchange_rate = Decimal(str(rate))
            except InvalidOperation:
                raise invalid("exchange_rate") from None
            if isinstance(rate, bool) or not exchange_rate.is_finite() or exchange_rate <= 0:
                raise invalid("exchange_rate")
            refund: Doc = {
                "creditnote_refund_id": existing["creditnote_refund_id"]
                if existing
                else self.store.new_ids()[0],
                "creditnote_id": creditnote_id,
                "creditnote_number": note["creditnote_number"],
                "customer_id": note["customer_id"],
                "customer_name": note["customer_name"],
                "date": _date(merged, "date", self.books.today).isoformat(),
                "refund_mode": _text(merged, "refund_mode", default="cash"),
                "reference_number": _text(merged, "reference_number"),
                "amount": money(value),
                "amount_fcy": money(value),
                "amount_bcy": money(value * exchange_rate),
                "exchange_rate": float(exchange_rate),
                "from_account_id": _text(merged, "from_account_id"),
                "from_account_name": _text(merged, "from_account_name"),
                "description": _text(merged, "description"),
                "created_time": existing["created_time"] if existing else self._stamp,
                "last_modified_time": self._stamp,
            }
            note["total_refunded_amount"] = money(
                dec(note.get("total_refunded_amount")) - before + value
            )
            note["last_modified_time"] = self._stamp
            self.store.replace(CREDIT_NOTES, self.org, settle_note(note))
            if existing:
                self.store.replace(CREDIT_NOTE_REFUNDS, self.org, refund)
            else:
                self.store.insert(CREDIT_NOTE_REFUNDS, self.org, refund)
        return refund

    def delete_refund(self, creditnote_id: str, refund_id: str) -> None:
        with self.store.transaction():
            refund = self.get_refund(creditnote_id, refund_id)
            note = self.get(creditnote_id)
            note["total_refunded_amount"] = money(
                dec(note.get("total_refunded_amount")) - dec(refund["amount"])
            )
            note["last_modified_time"] = self._stamp
            self.store.replace(CREDIT_NOTES, self.org, settle_note(note))
            self.store.delete(CREDIT_NOTE_REFUNDS, self.org, refund_id)
