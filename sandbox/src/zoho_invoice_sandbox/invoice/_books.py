"""The rules of one organization's books: contacts, items, invoices, estimates, payments.

HTTP-free: the app turns requests into calls here, and failures into Zoho's error answers.
Invoice statuses are stored as ``draft``, ``sent``, ``viewed``, ``partially_paid``, ``paid`` or
``void``; an unpaid (sent, viewed or partially paid) invoice past its due date is shown and
filtered as ``overdue``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from ._amounts import compute, money
from ._codes import (
    contact_has_transactions,
    contact_name_taken,
    item_in_use,
    item_name_taken,
    missing,
    payment_above_balance,
)
from ._contact_persons import invoice_persons, invoice_recipients, sync_contact_persons
from ._credit_ledger import release_invoice_credits
from ._custom_fields import custom_field_hash, merge_custom_fields
from ._errors import ZohoAPIFailure, invalid
from ._resources import CONTACTS, ESTIMATES, INVOICES, ITEMS, PAYMENTS, RESOURCES, Resource
from ._settings_routes import books_settings
from ._store import Doc, InvoiceStore
from ._time import format_timestamp, parse_date, today

__all__ = ["OPEN_STATUSES", "Books", "display_status"]

#: Stored statuses of an invoice that still waits for money.
OPEN_STATUSES = ("sent", "viewed", "partially_paid")
#: Code 4001 and 12008: Zoho names the money that keeps an invoice from being deleted. Only the
#: codes and the start of 4001's text are sourced; the rest of the wording is ours.
PAYMENTS_RECORDED = (
    "Payments have been recorded for this invoice. Delete the payments to delete the invoice."
)
CREDITS_APPLIED = (
    "Credits have been applied to this invoice. Remove the applied credits to delete the invoice."
)
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_MAX_TEXT = 2000


def display_status(doc: Mapping[str, Any], on: date) -> str:
    status = str(doc.get("status", "draft"))
    if status in OPEN_STATUSES and str(doc.get("due_date") or "9999-12-31") < on.isoformat():
        return "overdue"
    return status


def _text(body: Mapping[str, Any], field: str, *, required: bool = False, default: str = "") -> str:
    value = body.get(field)
    if value is None:
        if required:
            raise invalid(field)
        return default
    if not isinstance(value, str | int) or isinstance(value, bool) or len(str(value)) > _MAX_TEXT:
        raise invalid(field)
    text = str(value).strip()
    if required and not text:
        raise invalid(field)
    return text


def _email(body: Mapping[str, Any], field: str) -> str:
    text = _text(body, field)
    if text and not _EMAIL.match(text):
        raise invalid(field)
    return text


def _date(body: Mapping[str, Any], field: str, default: date) -> date:
    value = body.get(field)
    if value in (None, ""):
        return default
    try:
        return parse_date(str(value))
    except ValueError:
        raise invalid(field) from None


def _optional_date(body: Mapping[str, Any], field: str) -> str:
    """A date the document may leave unset: ``""`` then, as Zoho answers it."""
    value = body.get(field)
    if value is None or (isinstance(value, str) and not value.strip()):
        return ""
    try:
        return parse_date(str(value).strip()).isoformat()
    except ValueError:
        raise invalid(field) from None


def _int(body: Mapping[str, Any], field: str, default: int) -> int:
    value = body.get(field, default)
    if isinstance(value, bool):
        raise invalid(field)
    try:
        number = int(str(value))
    except ValueError:
        raise invalid(field) from None
    if number < 0 or number > 3650:
        raise invalid(field)
    return number


def _custom(body: Mapping[str, Any], existing: Doc | None) -> dict[str, Any]:
    """``custom_fields`` and ``custom_field_hash`` of a document after this request."""
    fields = merge_custom_fields(body, existing)
    return {"custom_fields": fields, "custom_field_hash": custom_field_hash(fields)}


def _dec(value: Any) -> Decimal:
    return Decimal(str(value or 0))


class Books:
    """One organization's data at one moment (``now`` from the world's clock)."""

    def __init__(
        self, store: InvoiceStore, organization_id: str, *, now: float, currency_code: str = "USD"
    ) -> None:
        self.store = store
        self.org = organization_id
        self.now = now
        self.today = today(now)
        self.currency_code = currency_code

    # -- shared -----------------------------------------------------------------------------

    def _stamp(self, doc: Doc, *, created: bool) -> Doc:
        stamp = format_timestamp(self.now)
        if created:
            doc["created_time"] = stamp
        doc["last_modified_time"] = stamp
        return doc

    def get(self, res: Resource, doc_id: str) -> Doc:
        doc = self.store.get(res, self.org, doc_id)
        if doc is None:
            raise missing(res)
        return doc

    def present(self, res: Resource, doc: Doc) -> Doc:
        """The document as the API shows it (invoice status as of today)."""
        if res is INVOICES:
            doc = dict(doc, status=display_status(doc, self.today))
        elif res is CONTACTS:
            # Zoho's contact answers (lists, creates and updates too) carry what it is owed.
            doc = self.contact_detail(doc)
        return doc

    def _name_taken(self, res: Resource, field: str, name: str, own_id: str | None) -> bool:
        """Another record of ``res`` has this name (case and outer spaces ignored)."""
        where = [f"{field} = ? COLLATE NOCASE"]
        params: list[Any] = [name.strip()]
        if own_id is not None:
            where.append("id != ?")
            params.append(int(own_id))
        return self.store.count(res, self.org, where=where, params=params) > 0

    def _number_taken(self, res: Resource, field: str, number: str, own_id: str | None) -> bool:
        where = [f"{field} = ?"]
        params: list[Any] = [number]
        if own_id is not None:
            where.append("id != ?")
            params.append(int(own_id))
        return self.store.count(res, self.org, where=where, params=params) > 0

    def _number(self, res: Resource, body: Mapping[str, Any], own_id: str | None = None) -> str:
        field, prefix, kind = (
            ("invoice_number", "INV-", "invoice")
            if res is INVOICES
            else ("estimate_number", "EST-", "estimate")
        )
        given = _text(body, field)
        if given:
            if self._number_taken(res, field, given, own_id):
                raise ZohoAPIFailure(400, 1001, f'{res.label} "{given}" already exists.')
            return given
        while True:
            number = f"{prefix}{self.store.next_numbers(self.org, kind)[0]:06d}"
            if not self._number_taken(res, field, number, own_id):
                return number

    def _customer(self, body: Mapping[str, Any]) -> Doc:
        customer_id = _text(body, "customer_id", required=True)
        customer = self.store.get(CONTACTS, self.org, customer_id)
        if customer is None:
            raise invalid("customer_id")
        return customer

    def _amounts(self, body: Mapping[str, Any]) -> dict[str, Any]:
        settings = books_settings(self)
        amounts = compute(
            body,
            lookup_item=lambda item_id: self.store.get(ITEMS, self.org, item_id),
            new_line_id=lambda: self.store.new_ids()[0],
            lookup_tax=settings.line_tax,
            tax_required=settings.line_tax_required(),
        )
        # Zoho numbers the lines (``item_order``), keeping an order the request gives.
        raw_lines = body.get("line_items") or []
        for position, (line, raw) in enumerate(
            zip(amounts["line_items"], raw_lines, strict=False), start=1
        ):
            order = raw.get("item_order") if isinstance(raw, dict) else None
            valid = isinstance(order, int) and not isinstance(order, bool) and 0 < order < 10**6
            line["item_order"] = order if valid else position
        return amounts

    # -- contacts ---------------------------------------------------------------------------

    def save_contact(self, body: Mapping[str, Any], existing: Doc | None = None) -> Doc:
        merged: dict[str, Any] = {**(existing or {}), **body}
        contact_type = _text(merged, "contact_type", default="customer")
        if contact_type not in ("customer", "vendor"):
            raise invalid("contact_type")
        address = merged.get("billing_address") or {}
        persons = merged.get("contact_persons") or []
        if not isinstance(address, dict) or not isinstance(persons, list):
            raise invalid("billing_address" if not isinstance(address, dict) else "contact_persons")
        doc: Doc = {
            "contact_id": existing["contact_id"] if existing else self.store.new_ids()[0],
            "contact_name": _text(merged, "contact_name", required=True),
            "company_name": _text(merged, "company_name"),
            "contact_type": contact_type,
            "status": existing["status"] if existing else "active",
            "first_name": _text(merged, "first_name"),
            "last_name": _text(merged, "last_name"),
            "email": _email(merged, "email"),
            "phone": _text(merged, "phone"),
            **books_settings(self).contact_currency(merged),
            "payment_terms": _int(merged, "payment_terms", 0),
            "billing_address": address,
            "contact_persons": persons,
            "notes": _text(merged, "notes"),
            **_custom(body, existing),
            "created_time": existing["created_time"] if existing else "",
        }
        self._stamp(doc, created=existing is None)
        with self.store.transaction():
            if self._name_taken(CONTACTS, "contact_name", doc["contact_name"], doc["contact_id"]):
                raise contact_name_taken(doc["contact_name"], contact_type)
            given = body.get("contact_persons") if "contact_persons" in body else None
            doc["contact_persons"] = sync_contact_persons(
                self.store, self.org, doc["contact_id"], given
            )
            if existing:
                self.store.replace(CONTACTS, self.org, doc)
            else:
                self.store.insert(CONTACTS, self.org, doc)
        return doc

    def contact_detail(self, doc: Doc) -> Doc:
        due = self.store.select(
            INVOICES,
            self.org,
            where=["customer_id = ?", "status IN ('sent', 'viewed', 'partially_paid')"],
            params=[doc["contact_id"]],
        )
        outstanding = sum((_dec(inv.get("balance")) for inv in due), Decimal(0))
        # Unapplied payment money (an overpayment, or a voided invoice's payments) is the
        # customer's credit.
        payments = self.store.select(
            PAYMENTS, self.org, where=["customer_id = ?"], params=[doc["contact_id"]]
        )
        unused = sum((_dec(p.get("unused_amount")) for p in payments), Decimal(0))
        return dict(
            doc,
            outstanding_receivable_amount=money(outstanding),
            unused_credits_receivable_amount=money(unused),
        )

    def set_contact_status(self, contact_id: str, status: str) -> None:
        doc = self.get(CONTACTS, contact_id)
        doc["status"] = status
        self.store.replace(CONTACTS, self.org, self._stamp(doc, created=False))

    def set_item_status(self, item_id: str, status: str) -> None:
        doc = self.get(ITEMS, item_id)
        doc["status"] = status
        self.store.replace(ITEMS, self.org, self._stamp(doc, created=False))

    def delete_contact(self, contact_id: str) -> None:
        """Zoho keeps a contact that any transaction names: 400 code 3000."""
        self.get(CONTACTS, contact_id)
        with self.store.transaction():
            for res in RESOURCES:
                if res is CONTACTS or res.field("customer_id") is None:
                    continue
                if self.store.count(res, self.org, where=["customer_id = ?"], params=[contact_id]):
                    raise contact_has_transactions()
            self.store.delete(CONTACTS, self.org, contact_id)

    # -- items ------------------------------------------------------------------------------

    def save_item(self, body: Mapping[str, Any], existing: Doc | None = None) -> Doc:
        merged: dict[str, Any] = {**(existing or {}), **body}
        rate = merged.get("rate")
        if isinstance(rate, bool) or rate in (None, ""):
            raise invalid("rate")
        try:
            rate_value = Decimal(str(rate))
        except ArithmeticError:
            raise invalid("rate") from None
        if not rate_value.is_finite() or not 0 <= rate_value <= 10**12:
            raise invalid("rate")
        product_type = _text(merged, "product_type", default="service")
        if product_type not in ("service", "goods"):
            raise invalid("product_type")
        doc: Doc = {
            "item_id": existing["item_id"] if existing else self.store.new_ids()[0],
            "name": _text(merged, "name", required=True),
            "description": _text(merged, "description"),
            "rate": money(rate_value),
            "unit": _text(merged, "unit"),
            "sku": _text(merged, "sku"),
            "product_type": product_type,
            "status": existing["status"] if existing else "active",
            **_custom(body, existing),
            "created_time": existing["created_time"] if existing else "",
        }
        self._stamp(doc, created=existing is None)
        with self.store.transaction():
            if self._name_taken(ITEMS, "name", doc["name"], doc["item_id"]):
                raise item_name_taken()
            if existing:
                self.store.replace(ITEMS, self.org, doc)
            else:
                self.store.insert(ITEMS, self.org, doc)
        return doc

    def delete_item(self, item_id: str) -> None:
        """Zoho keeps an item that a transaction's line names: 400 code 2049."""
        self.get(ITEMS, item_id)
        used = (
            "EXISTS (SELECT 1 FROM json_each(doc, '$.line_items') "
            "WHERE json_extract(value, '$.item_id') = ?)"
        )
        with self.store.transaction():
            for res in RESOURCES:
                if res is not ITEMS and self.store.count(
                    res, self.org, where=[used], params=[item_id]
                ):
                    raise item_in_use()
            self.store.delete(ITEMS, self.org, item_id)

    # -- invoices and estimates -------------------------------------------------------------

    def save_invoice(self, body: Mapping[str, Any], existing: Doc | None = None) -> Doc:
        with self.store.transaction():
            merged: dict[str, Any] = {**(existing or {}), **body}
            if existing and existing["status"] == "void":
                raise ZohoAPIFailure(400, 2, "A void invoice cannot be edited.")
            customer = self._customer(merged)
            number = self._number(INVOICES, merged, existing["invoice_id"] if existing else None)
            invoice_date = _date(merged, "date", self.today)
            terms = _int(merged, "payment_terms", int(customer.get("payment_terms") or 0))
            if existing and "date" in body and "due_date" not in body:
                merged.pop("due_date", None)
            due = _date(merged, "due_date", invoice_date + timedelta(days=terms))
            if due < invoice_date:
                raise invalid("due_date")
            amounts = self._amounts(merged)
            paid = _dec(existing.get("payment_made")) if existing else Decimal(0)
            # Credit notes' credits count like payments (_credit_ledger keeps the sum).
            credit = _dec(existing.get("credits_applied")) if existing else Decimal(0)
            if _dec(amounts["total"]) < paid + credit:
                raise ZohoAPIFailure(
                    400,
                    2,
                    "The invoice total cannot be less than the payments and credits applied to it.",
                )
            status = existing["status"] if existing else "draft"
            balance = Decimal(0) if status == "void" else _dec(amounts["total"]) - paid - credit
            if existing and status in ("paid", "partially_paid"):
                status = "paid" if balance == 0 else "partially_paid"
            doc: Doc = {
                "invoice_id": existing["invoice_id"] if existing else self.store.new_ids()[0],
                "invoice_number": number,
                "customer_id": customer["contact_id"],
                "customer_name": customer["contact_name"],
                "email": customer.get("email", ""),
                "reference_number": _text(merged, "reference_number"),
                "date": invoice_date.isoformat(),
                "due_date": due.isoformat(),
                "payment_expected_date": _optional_date(merged, "payment_expected_date"),
                "payment_terms": terms,
                "status": status,
                "currency_code": customer.get("currency_code") or self.currency_code,
                "currency_id": customer.get("currency_id", ""),
                "exchange_rate": books_settings(self).exchange_rate(
                    str(customer.get("currency_code") or self.currency_code)
                ),
                "contact_persons": invoice_persons(self.store, self.org, customer, merged),
                **amounts,
                "payment_made": money(paid),
                "credits_applied": money(credit),
                "recurring_invoice_id": (existing or {}).get("recurring_invoice_id", ""),
                "balance": money(balance),
                "payments": existing.get("payments", []) if existing else [],
                "is_emailed": bool(existing.get("is_emailed")) if existing else False,
                "notes": _text(merged, "notes"),
                "terms": _text(merged, "terms"),
                **_custom(body, existing),
                "created_time": existing["created_time"] if existing else "",
            }
            self._stamp(doc, created=existing is None)
            if existing:
                self.store.replace(INVOICES, self.org, doc)
            else:
                self.store.insert(INVOICES, self.org, doc)
        return doc

    def invoice_status(self, invoice_id: str, target: str) -> None:
        """Mark as sent (a draft), void (anything: payments become customer credit), or draft.

        Zoho's "mark as draft" is for a voided invoice only; what it answers for another status
        is not documented, so the sandbox refuses with code 2 (docs/zoho/sandbox-rules.md).
        """
        with self.store.transaction():
            doc = self.get(INVOICES, invoice_id)
            status = doc["status"]
            if target == "sent":
                if status == "void":
                    raise ZohoAPIFailure(400, 2, "A void invoice cannot be marked as sent.")
                if status == "draft":
                    doc["status"] = "sent"
            elif target == "void":
                if status != "void":
                    self._release_payments(doc)
                    stamp = format_timestamp(self.now)
                    release_invoice_credits(self.store, self.org, invoice_id, stamp=stamp)
                    doc.update(
                        status="void",
                        balance=0.0,
                        payment_made=0.0,
                        payments=[],
                        credits_applied=0.0,
                    )
            elif target == "draft":
                if status != "void":
                    raise ZohoAPIFailure(400, 2, "Only a void invoice can be marked as draft.")
                doc.update(status="draft", balance=doc["total"], payment_made=0.0)
            self.store.replace(INVOICES, self.org, self._stamp(doc, created=False))

    def _release_payments(self, invoice: Doc) -> None:
        """Voiding: each payment keeps its record and loses this invoice, the amount it had
        applied becoming unused (the customer's credit), as Zoho documents."""
        invoice_id = invoice["invoice_id"]
        for entry in invoice.get("payments", []):
            payment = self.store.get(PAYMENTS, self.org, str(entry["payment_id"]))
            if payment is None:
                continue
            applications = payment.get("invoices", [])
            freed = sum(
                (_dec(a["amount_applied"]) for a in applications if a["invoice_id"] == invoice_id),
                Decimal(0),
            )
            payment["invoices"] = [a for a in applications if a["invoice_id"] != invoice_id]
            payment["unused_amount"] = money(_dec(payment.get("unused_amount")) + freed)
            self.store.replace(PAYMENTS, self.org, self._stamp(payment, created=False))

    def delete_invoice(self, invoice_id: str) -> None:
        """Zoho deletes any invoice but one with payments (4001) or applied credits (12008).

        A sent, overdue or void invoice goes as a draft does: only money tied to it stops the
        delete, which would orphan the payment or the credit (docs/zoho/sandbox-rules.md).
        """
        with self.store.transaction():
            doc = self.get(INVOICES, invoice_id)
            if _dec(doc.get("payment_made")) > 0 or doc.get("payments"):
                raise ZohoAPIFailure(400, 4001, PAYMENTS_RECORDED)
            if _dec(doc.get("credits_applied")) > 0:
                raise ZohoAPIFailure(400, 12008, CREDITS_APPLIED)
            self.store.delete(INVOICES, self.org, invoice_id)

    def email_invoice(self, invoice_id: str, body: Mapping[str, Any]) -> Doc:
        with self.store.transaction():
            doc = self.get(INVOICES, invoice_id)
            if doc["status"] == "void":
                raise ZohoAPIFailure(400, 2, "A void invoice cannot be emailed.")
            recipients = body.get("to_mail_ids") or invoice_recipients(self.store, self.org, doc)
            cc = body.get("cc_mail_ids") or []
            for field, addresses in (("to_mail_ids", recipients), ("cc_mail_ids", cc)):
                if not isinstance(addresses, list) or not all(
                    isinstance(a, str) and _EMAIL.match(a) for a in addresses
                ):
                    raise invalid(field)
            if not recipients:
                raise invalid("to_mail_ids")
            email = {
                "invoice_id": invoice_id,
                "invoice_number": doc["invoice_number"],
                "to_mail_ids": recipients,
                "cc_mail_ids": cc,
                "subject": _text(body, "subject")
                or f"Invoice {doc['invoice_number']} from your supplier",
                "body": _text(body, "body"),
                "sent_time": format_timestamp(self.now),
            }
            self.store.record_email(self.org, invoice_id, email)
            if doc["status"] == "draft":
                doc["status"] = "sent"
            doc["is_emailed"] = True
            self.store.replace(INVOICES, self.org, self._stamp(doc, created=False))
        return email

    def save_estimate(self, body: Mapping[str, Any], existing: Doc | None = None) -> Doc:
        with self.store.transaction():
            merged: dict[str, Any] = {**(existing or {}), **body}
            customer = self._customer(merged)
            number = self._number(ESTIMATES, merged, existing["estimate_id"] if existing else None)
            estimate_date = _date(merged, "date", self.today)
            expiry = _date(merged, "expiry_date", estimate_date + timedelta(days=30))
            if expiry < estimate_date:
                raise invalid("expiry_date")
            doc: Doc = {
                "estimate_id": existing["estimate_id"] if existing else self.store.new_ids()[0],
                "estimate_number": number,
                "customer_id": customer["contact_id"],
                "customer_name": customer["contact_name"],
                "reference_number": _text(merged, "reference_number"),
                "date": estimate_date.isoformat(),
                "expiry_date": expiry.isoformat(),
                "status": existing["status"] if existing else "draft",
                "currency_code": customer.get("currency_code") or self.currency_code,
                **self._amounts(merged),
                "notes": _text(merged, "notes"),
                "terms": _text(merged, "terms"),
                **_custom(body, existing),
                "created_time": existing["created_time"] if existing else "",
            }
            self._stamp(doc, created=existing is None)
            if existing:
                self.store.replace(ESTIMATES, self.org, doc)
            else:
                self.store.insert(ESTIMATES, self.org, doc)
        return doc

    def estimate_status(self, estimate_id: str, target: str) -> None:
        with self.store.transaction():
            doc = self.get(ESTIMATES, estimate_id)
            if target in ("accepted", "declined") and doc["status"] == "draft":
                raise ZohoAPIFailure(
                    400, 2, f"A draft estimate cannot be marked as {target}. Send it first."
                )
            if target == "sent" and doc["status"] != "draft":
                return
            doc["status"] = target
            self.store.replace(ESTIMATES, self.org, self._stamp(doc, created=False))

    # -- customer payments ------------------------------------------------------------------

    def _apply(self, payment: Doc, sign: int) -> None:
        """Apply (+1) or take back (-1) a payment's amounts on its invoices."""
        for application in payment.get("invoices", []):
            invoice = self.get(INVOICES, application["invoice_id"])
            applied = _dec(application["amount_applied"]) * sign
            paid = _dec(invoice.get("payment_made")) + applied
            credit = _dec(invoice.get("credits_applied"))
            balance = _dec(invoice["total"]) - paid - credit
            if sign > 0:
                if invoice["status"] in ("draft", "void") or applied <= 0:
                    raise invalid("invoice_id")
                if balance < 0:
                    raise payment_above_balance()
            invoice["payment_made"] = money(paid)
            invoice["balance"] = money(balance)
            invoice["status"] = (
                "paid" if balance == 0 else "partially_paid" if paid or credit else "sent"
            )
            others = [
                p for p in invoice.get("payments", []) if p["payment_id"] != payment["payment_id"]
            ]
            if sign > 0:
                others.append(
                    {
                        "payment_id": payment["payment_id"],
                        "payment_number": payment["payment_number"],
                        "date": payment["date"],
                        "amount": money(_dec(application["amount_applied"])),
                        "payment_mode": payment["payment_mode"],
                    }
                )
            invoice["payments"] = others
            self.store.replace(INVOICES, self.org, self._stamp(invoice, created=False))

    def save_payment(self, body: Mapping[str, Any], existing: Doc | None = None) -> Doc:
        with self.store.transaction():
            merged: dict[str, Any] = {**(existing or {}), **body}
            customer = self._customer(merged)
            raw_amount = merged.get("amount")
            if isinstance(raw_amount, bool) or raw_amount in (None, ""):
                raise invalid("amount")
            try:
                amount = Decimal(str(raw_amount))
            except ArithmeticError:
                raise invalid("amount") from None
            if not amount.is_finite() or not 0 < amount <= 10**12:
                raise invalid("amount")
            raw_apps = merged.get("invoices") or []
            if not isinstance(raw_apps, list):
                raise invalid("invoices")
            applications: list[Doc] = []
            seen: set[str] = set()
            for raw in raw_apps:
                if not isinstance(raw, dict):
                    raise invalid("invoices")
                invoice_id = _text(raw, "invoice_id", required=True)
                if invoice_id in seen:
                    raise invalid("invoice_id")
                seen.add(invoice_id)
                invoice = self.store.get(INVOICES, self.org, invoice_id)
                if invoice is None or invoice["customer_id"] != customer["contact_id"]:
                    raise invalid("invoice_id")
                try:
                    applied = Decimal(str(raw.get("amount_applied")))
                except ArithmeticError:
                    raise invalid("amount_applied") from None
                if not applied.is_finite() or applied <= 0:
                    raise invalid("amount_applied")
                applications.append(
                    {
                        "invoice_id": invoice_id,
                        "invoice_number": invoice["invoice_number"],
                        "date": invoice["date"],
                        "total": invoice["total"],
                        "amount_applied": money(applied),
                    }
                )
            applied_total = sum((_dec(a["amount_applied"]) for a in applications), Decimal(0))
            if applied_total > amount:
                raise invalid("amount")
            if existing:
                self._apply(existing, -1)
            number = (
                existing["payment_number"]
                if existing
                else str(self.store.next_numbers(self.org, "payment")[0])
            )
            mode = _text(merged, "payment_mode", default="cash")
            doc: Doc = {
                "payment_id": existing["payment_id"] if existing else self.store.new_ids()[0],
                "payment_number": number,
                "customer_id": customer["contact_id"],
                "customer_name": customer["contact_name"],
                "payment_mode": mode,
                "date": _date(merged, "date", self.today).isoformat(),
                "amount": money(amount),
                "unused_amount": money(amount - applied_total),
                "reference_number": _text(merged, "reference_number"),
                "description": _text(merged, "description"),
                "currency_code": customer.get("currency_code") or self.currency_code,
                "invoices": applications,
                "created_time": existing["created_time"] if existing else "",
            }
            self._stamp(doc, created=existing is None)
            self._apply(doc, +1)
            for application in doc["invoices"]:
                invoice = self.get(INVOICES, application["invoice_id"])
                application["balance_amount"] = invoice["balance"]
            if existing:
                self.store.replace(PAYMENTS, self.org, doc)
            else:
                self.store.insert(PAYMENTS, self.org, doc)
        return doc

    def delete_payment(self, payment_id: str) -> None:
        with self.store.transaction():
            doc = self.get(PAYMENTS, payment_id)
            self._apply(doc, -1)
            self.store.delete(PAYMENTS, self.org, payment_id)
