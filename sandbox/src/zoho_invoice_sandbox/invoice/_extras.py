"""An invoice's sub-resources, as Zoho keeps them: comments and history, the payments seen from
the invoice, payment reminders, e-mail content, attached files, write-off, PDF templates and the
bulk PDF. HTTP-free like ``_books``; ``_extras_app`` serves it (docs/zoho/invoice-extras.md).

History: Zoho writes an entry (``comment_type`` ``system``) for what happens to an invoice.
:func:`add_history` is the one way to write one; ``_extras_app`` calls it for the actions the
sandbox performs, and any rule of the sandbox may call it for its own.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from ._amounts import money
from ._books import OPEN_STATUSES, Books
from ._errors import ZohoAPIFailure, invalid, not_found
from ._resources import CONTACTS, INVOICES, PAYMENTS
from ._store import InvoiceStore
from ._time import format_timestamp

__all__ = [
    "ATTACHMENT_TYPES",
    "MAX_ATTACHMENTS",
    "MAX_ATTACHMENT_BYTES",
    "MAX_BULK_PDF",
    "MAX_BULK_REMINDERS",
    "TEMPLATES",
    "Actor",
    "InvoiceExtras",
    "add_history",
    "forget_invoice",
]

Doc = dict[str, Any]

#: Zoho Invoice's limit for a file attached to a transaction: 5 MB, at most 3 a transaction.
MAX_ATTACHMENT_BYTES = 5 * 1024 * 1024
MAX_ATTACHMENTS = 3
#: The extensions Zoho's API accepts for an invoice attachment, and what they are served as.
ATTACHMENT_TYPES = {
    "gif": "image/gif",
    "png": "image/png",
    "jpeg": "image/jpeg",
    "jpg": "image/jpeg",
    "bmp": "image/bmp",
    "pdf": "application/pdf",
}
#: Zoho exports at most 25 invoices in one PDF and reminds at most 10 at once.
MAX_BULK_PDF = 25
MAX_BULK_REMINDERS = 10
#: Every organization's invoice PDF templates: (template_id, template_name, template_type).
TEMPLATES = (
    ("460000000000143", "Standard", "standard"),
    ("460000000000144", "Spreadsheet", "spreadsheet"),
    ("460000000000145", "Service - Classic", "classic"),
)
#: The one e-mail template of every organization.
_EMAIL_TEMPLATE = {"email_template_id": "460000000000067", "name": "Default"}
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_MAX_TEXT = 2000
_MAX_BODY_TEXT = 100_000


@dataclass(frozen=True, slots=True)
class Actor:
    """Who makes the request, and for which organization (for history and e-mails)."""

    user_id: str = ""
    user_name: str = ""
    user_email: str = ""
    organization_name: str = ""


def _dec(value: Any) -> Decimal:
    return Decimal(str(value or 0))


def _amount(currency: str, value: Any) -> str:
    return f"{currency} {_dec(value):,.2f}".strip()


def _clock_time(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).strftime("%I:%M %p").lstrip("0")


def _ago(then: float, now: float) -> str:
    """Zoho's ``date_description``: how long ago, in words."""
    seconds = max(0, int(now - then))
    if seconds < 60:
        return "few seconds ago"
    if seconds < 3600:
        minutes = seconds // 60
        return f"{minutes} minute{'s' if minutes > 1 else ''} ago"
    days = (datetime.fromtimestamp(now, UTC).date() - datetime.fromtimestamp(then, UTC).date()).days
    if days == 0:
        hours = seconds // 3600
        return f"{hours} hour{'s' if hours > 1 else ''} ago"
    return "yesterday" if days == 1 else f"{days} days ago"


def _text(body: Mapping[str, Any], field: str, *, limit: int = _MAX_TEXT) -> str:
    value = body.get(field)
    if value is None:
        return ""
    if not isinstance(value, str) or len(value) > limit:
        raise invalid(field)
    return value.strip()


def _flag(value: Any, field: str) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower() == "true"
    raise invalid(field)


def _addresses(body: Mapping[str, Any], field: str) -> list[str]:
    value = body.get(field)
    if value is None:
        return []
    if not isinstance(value, list) or not all(
        isinstance(a, str) and _EMAIL.match(a) for a in value
    ):
        raise invalid(field)
    return list(value)


def _ids(text: str, field: str, most: int) -> list[str]:
    """A comma-separated list of ids (``invoice_ids=1,2,3``), at most ``most`` of them."""
    ids = [part.strip() for part in text.split(",") if part.strip()]
    if not ids or not all(part.isascii() and part.isdigit() for part in ids):
        raise invalid(field)
    if len(ids) > most:
        raise ZohoAPIFailure(400, 2, f"At most {most} invoices can be chosen at once ({field}).")
    return list(dict.fromkeys(ids))


# -- history and comments ---------------------------------------------------------------------


def add_history(
    store: InvoiceStore,
    org: str,
    invoice_id: str,
    text: str,
    *,
    now: float | None = None,
    user_id: str = "",
    user_name: str = "",
    operation: str = "Updated",
    transaction_id: str | None = None,
    transaction_type: str = "invoice",
) -> Doc:
    """Write one history entry of an invoice (Zoho's ``comment_type: system``); returns it.

    >>> add_history(books.store, books.org, invoice_id, "Invoice marked as void", now=books.now)

    ``operation`` is Zoho's ``operation_type`` (``Added``, ``Updated``, ``Deleted``); the entry
    names ``transaction_id`` (default: the invoice) of ``transaction_type``.
    """
    moment = time.time() if now is None else now
    entry: Doc = {
        "comment_id": store.new_ids()[0],
        "invoice_id": invoice_id,
        "description": text,
        "commented_by_id": user_id,
        "commented_by": user_name,
        "comment_type": "system",
        "operation_type": operation,
        "date": datetime.fromtimestamp(moment, UTC).date().isoformat(),
        "time": _clock_time(moment),
        "transaction_id": transaction_id or invoice_id,
        "transaction_type": transaction_type,
        "show_comment_to_clients": False,
        "created": moment,
    }
    _insert_comment(store, org, entry)
    return entry


def forget_invoice(store: InvoiceStore, org: str, invoice_id: str) -> None:
    """A deleted invoice takes its comments, history and files with it."""
    for table in ("invoice_comments", "invoice_attachments"):
        store.execute(f"DELETE FROM {table} WHERE org = ? AND invoice_id = ?", (org, invoice_id))


def _insert_comment(store: InvoiceStore, org: str, entry: Doc) -> None:
    store.execute(
        "INSERT INTO invoice_comments (id, org, invoice_id, doc) VALUES (?, ?, ?, ?)",
        (int(entry["comment_id"]), org, entry["invoice_id"], json.dumps(entry)),
    )


class InvoiceExtras:
    """The sub-resources of one organization's invoices, at one moment (``books.now``)."""

    def __init__(self, books: Books, actor: Actor) -> None:
        self.books = books
        self.store = books.store
        self.org = books.org
        self.now = books.now
        self.actor = actor

    # -- shared ---------------------------------------------------------------------------

    def invoice(self, invoice_id: str) -> Doc:
        return self.books.get(INVOICES, invoice_id)

    def _save(self, invoice: Doc) -> None:
        invoice["last_modified_time"] = format_timestamp(self.now)
        self.store.replace(INVOICES, self.org, invoice)

    def history(self, invoice_id: str, text: str, **options: Any) -> Doc:
        return add_history(
            self.store,
            self.org,
            invoice_id,
            text,
            now=self.now,
            user_id=self.actor.user_id,
            user_name=self.actor.user_name,
            **options,
        )

    def money(self, invoice: Mapping[str, Any], value: Any) -> str:
        return _amount(str(invoice.get("currency_code") or self.books.currency_code), value)

    # -- comments and history -------------------------------------------------------------

    def _present(self, entry: Mapping[str, Any]) -> Doc:
        shown = {k: v for k, v in entry.items() if k != "created"}
        shown["date_description"] = _ago(float(entry.get("created") or self.now), self.now)
        return shown

    def comments(self, invoice_id: str) -> list[Doc]:
        """Comments and history, newest first, as Zoho lists them."""
        self.invoice(invoice_id)
        rows = self.store.execute(
            "SELECT doc FROM invoice_comments WHERE org = ? AND invoice_id = ? ORDER BY id DESC",
            (self.org, invoice_id),
        )
        return [self._present(json.loads(row[0])) for row in rows]

    def _comment_fields(self, body: Mapping[str, Any], *, required: bool) -> Doc:
        description = _text(body, "description")
        if required and not description:
            raise invalid("description")
        fields: Doc = {}
        if description:
            fields["description"] = description
        if "show_comment_to_clients" in body:
            shown = _flag(body["show_comment_to_clients"], "show_comment_to_clients")
            fields["show_comment_to_clients"] = shown
            # The docs show only "system" entries; a comment is "internal" unless the
            # customer sees it.
            fields["comment_type"] = "external" if shown else "internal"
        expected = _text(body, "payment_expected_date")
        if expected:
            try:
                datetime.strptime(expected, "%Y-%m-%d")
            except ValueError:
                raise invalid("payment_expected_date") from None
            fields["payment_expected_date"] = expected
        return fields

    def add_comment(self, invoice_id: str, body: Mapping[str, Any]) -> Doc:
        self.invoice(invoice_id)
        entry: Doc = {
            "comment_id": self.store.new_ids()[0],
            "invoice_id": invoice_id,
            "description": "",
            "commented_by_id": self.actor.user_id,
            "commented_by": self.actor.user_name,
            "comment_type": "internal",
            "operation_type": "",
            "date": self.books.today.isoformat(),
            "time": _clock_time(self.now),
            "transaction_id": invoice_id,
            "transaction_type": "invoice",
            "show_comment_to_clients": False,
            "created": self.now,
            **self._comment_fields(body, required=True),
        }
        _insert_comment(self.store, self.org, entry)
        return self._present(entry)

    def _comment(self, invoice_id: str, comment_id: str) -> Doc:
        self.invoice(invoice_id)
        if not comment_id.isascii() or not comment_id.isdigit() or int(comment_id) >= 2**63:
            raise not_found("Comment")
        rows = self.store.execute(
            "SELECT doc FROM invoice_comments WHERE org = ? AND invoice_id = ? AND id = ?",
            (self.org, invoice_id, int(comment_id)),
        )
        if not rows:
            raise not_found("Comment")
        entry: Doc = json.loads(rows[0][0])
        if entry.get("comment_type") == "system":
            raise ZohoAPIFailure(400, 2, "The history of an invoice cannot be changed.")
        return entry

    def update_comment(self, invoice_id: str, comment_id: str, body: Mapping[str, Any]) -> Doc:
        entry = self._comment(invoice_id, comment_id)
        entry.update(self._comment_fields(body, required=False))
        self.store.execute(
            "UPDATE invoice_comments SET doc = ? WHERE org = ? AND id = ?",
            (json.dumps(entry), self.org, int(comment_id)),
        )
        return self._present(entry)

    def delete_comment(self, invoice_id: str, comment_id: str) -> None:
        self._comment(invoice_id, comment_id)
        self.store.execute(
            "DELETE FROM invoice_comments WHERE org = ? AND id = ?", (self.org, int(comment_id))
        )

    # -- payments seen from the invoice ---------------------------------------------------

    def _invoice_payment_id(self, payment: Mapping[str, Any], invoice_id: str) -> str:
        """Zoho's id of one application of a payment to an invoice, made once and kept."""
        for application in payment.get("invoices", []):
            known = application.get("invoice_payment_id")
            if application.get("invoice_id") == invoice_id and known:
                return str(known)
        key = (self.org, str(payment["payment_id"]), invoice_id)
        rows = self.store.execute(
            "SELECT id FROM invoice_payment_ids "
            "WHERE org = ? AND payment_id = ? AND invoice_id = ?",
            key,
        )
        if rows:
            return str(rows[0][0])
        new_id = self.store.new_ids()[0]
        self.store.execute(
            "INSERT INTO invoice_payment_ids (org, payment_id, invoice_id, id) VALUES (?, ?, ?, ?)",
            (*key, new_id),
        )
        return new_id

    def payments(self, invoice_id: str) -> list[Doc]:
        invoice = self.invoice(invoice_id)
        answer: list[Doc] = []
        for entry in invoice.get("payments", []):
            payment = self.store.get(PAYMENTS, self.org, str(entry["payment_id"])) or {}
            answer.append(
                {
                    "payment_id": str(entry["payment_id"]),
                    "payment_number": str(entry.get("payment_number", "")),
                    "invoice_id": invoice_id,
                    "invoice_payment_id": self._invoice_payment_id(
                        payment or {"payment_id": entry["payment_id"]}, invoice_id
                    ),
                    "payment_mode": entry.get("payment_mode", ""),
                    "description": payment.get("description", ""),
                    "date": entry.get("date", ""),
                    "reference_number": payment.get("reference_number", ""),
                    "exchange_rate": 1.0,
                    "amount": entry.get("amount", 0.0),
                    "tax_amount_withheld": 0.0,
                    "online_transaction_id": "",
                    "is_single_invoice_payment": len(payment.get("invoices", [])) <= 1,
                }
            )
        return answer

    def delete_payment(self, invoice_id: str, invoice_payment_id: str) -> Doc:
        """Take one payment off the invoice; returns the payment as it was.

        A payment of this invoice alone is deleted; one spread over several invoices loses this
        invoice, the amount becoming unused (the customer's credit).
        """
        for entry in self.payments(invoice_id):
            if entry["invoice_payment_id"] == invoice_payment_id:
                break
        else:
            raise not_found("Payment")
        payment = self.books.get(PAYMENTS, entry["payment_id"])
        others = [a for a in payment.get("invoices", []) if a["invoice_id"] != invoice_id]
        if not others:
            self.books.delete_payment(payment["payment_id"])
        else:
            body = dict(payment, invoices=others)
            self.books.save_payment(body, payment)
        self.store.execute(
            "DELETE FROM invoice_payment_ids WHERE org = ? AND payment_id = ? AND invoice_id = ?",
            (self.org, payment["payment_id"], invoice_id),
        )
        return payment

    # -- e-mails: content and payment reminders ------------------------------------------

    def _recipients(self, invoice: Mapping[str, Any]) -> list[Doc]:
        """``to_contacts``: the customer's contact persons with an address (primary chosen)."""
        contact = self.store.get(CONTACTS, self.org, str(invoice.get("customer_id", ""))) or {}
        persons = [p for p in contact.get("contact_persons") or [] if isinstance(p, dict)]
        if not persons and contact.get("email"):
            persons = [dict(contact, is_primary_contact=True)]
        chosen = [p for p in persons if p.get("email")]
        primary = any(p.get("is_primary_contact") for p in chosen)
        return [
            {
                "contact_person_id": str(p.get("contact_person_id") or ""),
                "salutation": str(p.get("salutation") or ""),
                "first_name": str(p.get("first_name") or ""),
                "last_name": str(p.get("last_name") or ""),
                "email": str(p["email"]),
                "phone": str(p.get("phone") or ""),
                "mobile": str(p.get("mobile") or ""),
                "selected": bool(p.get("is_primary_contact")) or (not primary and i == 0),
            }
            for i, p in enumerate(chosen)
        ]

    def _content(self, invoice: Mapping[str, Any], subject: str, body: str) -> Doc:
        number = str(invoice["invoice_number"])
        sender = {
            "user_name": self.actor.user_name,
            "selected": True,
            "email": self.actor.user_email,
            "organization_contact_id": self.actor.user_id,
            "is_org_email_id": False,
        }
        to_contacts = self._recipients(invoice)
        chosen = [c["email"] for c in to_contacts if c["selected"]]
        return {
            "bcc_mails": [],
            "gateways_configured": False,
            "gateways_associated": False,
            "bcc_mails_str": "",
            "body": body,
            "documents": "",
            "customer_name": invoice.get("customer_name", ""),
            "attach_pdf": True,
            "entity_id": str(invoice["invoice_id"]),
            "cc_mails_list": [],
            "file_name_without_extension": number,
            "to_mails_str": ",".join(chosen),
            "cc_mails_str": "",
            "from_email": self.actor.user_email,
            "from_address": self.actor.user_email,
            "deprecated_placeholders_used": [],
            "error_list": [],
            "subject": subject,
            "emailtemplates": [dict(_EMAIL_TEMPLATE, selected=True)],
            "emailtemplate_documents": [],
            "to_contacts": to_contacts,
            "attachment_name": "",
            "file_name": f"{number}.pdf",
            "from_emails": [sender],
            "customer_id": str(invoice.get("customer_id", "")),
        }

    def email_content(self, invoice_id: str, email_template_id: str = "") -> Doc:
        """What ``POST /invoices/{id}/email`` sends when given no subject or body."""
        if email_template_id and email_template_id != _EMAIL_TEMPLATE["email_template_id"]:
            raise invalid("email_template_id")
        invoice = self.invoice(invoice_id)
        number = invoice["invoice_number"]
        organization = self.actor.organization_name
        body = (
            f"Dear {invoice.get('customer_name', 'Customer')},<br><br>"
            f"Thank you for your business. Invoice {number} is attached to this e-mail.<br><br>"
            f"Invoice: {number}<br>Date: {invoice.get('date', '')}<br>"
            f"Amount: {self.money(invoice, invoice.get('total'))}<br><br>"
            f"Regards,<br>{organization}<br>"
        )
        return self._content(invoice, f"Invoice from {organization} (Invoice#: {number})", body)

    def _overdue_days(self, invoice: Mapping[str, Any]) -> int:
        due = str(invoice.get("due_date") or "")
        try:
            return (self.books.today - datetime.strptime(due, "%Y-%m-%d").date()).days
        except ValueError:
            return 0

    def reminder_content(self, invoice_id: str) -> Doc:
        """What ``POST /invoices/{id}/paymentreminder`` sends when given no subject or body."""
        invoice = self.invoice(invoice_id)
        number = invoice["invoice_number"]
        days = self._overdue_days(invoice)
        when = (
            f"is now overdue by {days} day{'s' if days != 1 else ''}"
            if days > 0
            else f"is due on {invoice.get('due_date', '')}"
        )
        body = (
            f"Dear {invoice.get('customer_name', 'Customer')},<br><br>"
            f"This is a reminder that invoice {number} {when}.<br><br>"
            f"Invoice: {number}<br>Due date: {invoice.get('due_date', '')}<br>"
            f"Balance due: {self.money(invoice, invoice.get('balance'))}<br><br>"
            f"If you have paid already, please ignore this reminder.<br><br>"
            f"Regards,<br>{self.actor.organization_name}<br>"
        )
        subject = f"Payment reminder: invoice {number} from {self.actor.organization_name}"
        return self._content(invoice, subject, body)

    def remind(self, invoice_id: str, body: Mapping[str, Any]) -> Doc:
        """Send (record) a payment reminder; only an open or overdue invoice gets one."""
        invoice = self.invoice(invoice_id)
        if invoice["status"] not in OPEN_STATUSES:
            raise ZohoAPIFailure(
                400, 2, "Payment reminders can be sent only for open or overdue invoices."
            )
        default = self.reminder_content(invoice_id)
        recipients = _addresses(body, "to_mail_ids") or [
            c["email"] for c in default["to_contacts"] if c["selected"]
        ]
        if not recipients:
            raise invalid("to_mail_ids")
        email: Doc = {
            "type": "payment_reminder",
            "invoice_id": invoice_id,
            "invoice_number": invoice["invoice_number"],
            "to_mail_ids": recipients,
            "cc_mail_ids": _addresses(body, "cc_mail_ids"),
            "subject": _text(body, "subject") or default["subject"],
            "body": _text(body, "body", limit=_MAX_BODY_TEXT) or default["body"],
            "sent_time": format_timestamp(self.now),
        }
        if "send_from_org_email_id" in body:
            _flag(body["send_from_org_email_id"], "send_from_org_email_id")
        self.store.record_email(self.org, invoice_id, email)
        self.history(invoice_id, f"Payment reminder sent to {', '.join(recipients)}")
        return email

    def remind_many(self, invoice_ids: str) -> Doc:
        """The bulk reminder: each open invoice whose customer has an address gets one; the
        others are reported, not refused (Zoho's ``info``)."""
        ids = _ids(invoice_ids, "invoice_ids", MAX_BULK_REMINDERS)
        sent: list[str] = []
        failed: list[str] = []
        for invoice_id in ids:
            try:
                self.remind(invoice_id, {})
            except ZohoAPIFailure:
                failed.append(invoice_id)
            else:
                sent.append(invoice_id)
        errors = (
            [
                {
                    "message": "Reminders were not sent for these invoices: they are not open, "
                    "or their customer has no e-mail address.",
                    "ids": ",".join(failed),
                }
            ]
            if failed
            else []
        )
        return {
            "email_success_info": {
                "message": "The reminders were successfully sent" if sent else "",
                "sent_count": len(sent),
            },
            "email_errors_info": errors,
            # The docs show 4083 beside a partial failure; 0 when nothing failed.
            "code": 4083 if failed else 0,
        }

    # -- write-off -----------------------------------------------------------------------

    def write_off(self, invoice_id: str) -> Doc:
        """The balance written off: the invoice shows as paid, ``write_off_amount`` holds it."""
        invoice = self.invoice(invoice_id)
        balance = _dec(invoice.get("balance"))
        if invoice["status"] not in OPEN_STATUSES or balance <= 0:
            raise ZohoAPIFailure(400, 2, "Only an open or overdue invoice can be written off.")
        invoice["write_off_amount"] = money(_dec(invoice.get("write_off_amount")) + balance)
        invoice["balance"] = 0.0
        invoice["status"] = "paid"
        self._save(invoice)
        self.history(invoice_id, f"Invoice written off for {self.money(invoice, balance)}")
        return invoice

    def cancel_write_off(self, invoice_id: str) -> Doc:
        """The written-off amount owed again; the status as the payments make it."""
        invoice = self.invoice(invoice_id)
        written_off = _dec(invoice.get("write_off_amount"))
        if written_off <= 0 or invoice["status"] == "void":
            raise ZohoAPIFailure(400, 2, "This invoice has not been written off.")
        invoice["balance"] = money(_dec(invoice.get("balance")) + written_off)
        invoice["write_off_amount"] = 0.0
        invoice["status"] = "partially_paid" if _dec(invoice.get("payment_made")) > 0 else "sent"
        self._save(invoice)
        self.history(invoice_id, f"Write-off of {self.money(invoice, written_off)} cancelled")
        return invoice

    def keep_write_off(self, invoice_id: str, written_off: Decimal) -> None:
        """After a change the books made knowing nothing of write-offs (an edit, a payment
        taken back), take the written-off amount off the balance they computed again."""
        if written_off <= 0:
            return
        invoice = self.store.get(INVOICES, self.org, invoice_id)
        if invoice is None or invoice["status"] in ("void", "draft"):
            return
        balance = _dec(invoice.get("balance"))
        kept = min(written_off, balance) if balance > 0 else Decimal(0)
        invoice["write_off_amount"] = money(kept)
        invoice["balance"] = money(balance - kept)
        if balance - kept == 0:
            invoice["status"] = "paid"
        self.store.replace(INVOICES, self.org, invoice)

    # -- templates -----------------------------------------------------------------------

    @staticmethod
    def templates() -> list[Doc]:
        return [
            {"template_name": name, "template_id": template_id, "template_type": kind}
            for template_id, name, kind in TEMPLATES
        ]

    @staticmethod
    def default_template() -> Doc:
        template_id, name, kind = TEMPLATES[0]
        return {"template_id": template_id, "template_name": name, "template_type": kind}

    def set_template(self, invoice_id: str, template_id: str) -> Doc:
        invoice = self.invoice(invoice_id)
        for template in self.templates():
            if template["template_id"] == template_id:
                break
        else:
            raise not_found("Template")
        invoice.update(template)
        self._save(invoice)
        return invoice

    # -- attachments ---------------------------------------------------------------------

    def attach(
        self, invoice_id: str, file_name: str, content: bytes, *, can_send_in_mail: bool
    ) -> Doc:
        """Keep a file on the invoice: an allowed type, at most 5 MB, at most 3 an invoice."""
        self.invoice(invoice_id)
        name = file_name.replace("\\", "/").rsplit("/", 1)[-1].strip()
        extension = name.rsplit(".", 1)[-1].lower() if "." in name else ""
        if not name or len(name) > 255 or extension not in ATTACHMENT_TYPES:
            raise ZohoAPIFailure(
                400, 2, "Attach a file of one of these types: gif, png, jpeg, jpg, bmp, pdf."
            )
        if not content:
            raise invalid("attachment")
        if len(content) > MAX_ATTACHMENT_BYTES:
            raise ZohoAPIFailure(400, 2, "The file is larger than 5 MB.")
        (count,) = self.store.execute(
            "SELECT COUNT(*) FROM invoice_attachments WHERE org = ? AND invoice_id = ?",
            (self.org, invoice_id),
        )[0]
        if count >= MAX_ATTACHMENTS:
            raise ZohoAPIFailure(
                400, 2, f"An invoice can have at most {MAX_ATTACHMENTS} attachments."
            )
        document: Doc = {
            "document_id": self.store.new_ids()[0],
            "file_name": name,
            "file_type": extension,
            "content_type": ATTACHMENT_TYPES[extension],
            "file_size": len(content),
            "can_send_in_mail": can_send_in_mail,
            "uploaded_by": self.actor.user_name,
            "uploaded_on": format_timestamp(self.now),
        }
        self.store.execute(
            "INSERT INTO invoice_attachments (id, org, invoice_id, doc, content) "
            "VALUES (?, ?, ?, ?, ?)",
            (int(document["document_id"]), self.org, invoice_id, json.dumps(document), content),
        )
        self.history(invoice_id, f"File {name} attached", operation="Added")
        return document

    def _last_attachment(self, invoice_id: str) -> tuple[Doc, bytes]:
        self.invoice(invoice_id)
        rows = self.store.execute(
            "SELECT doc, content FROM invoice_attachments WHERE org = ? AND invoice_id = ? "
            "ORDER BY id DESC LIMIT 1",
            (self.org, invoice_id),
        )
        if not rows:
            raise not_found("Attachment")
        return json.loads(rows[0][0]), bytes(rows[0][1])

    def attachment(self, invoice_id: str) -> tuple[Doc, bytes]:
        """The file attached last (Zoho's ``GET …/attachment``) and its bytes."""
        return self._last_attachment(invoice_id)

    def documents(self, invoice_id: str) -> list[Doc]:
        rows = self.store.execute(
            "SELECT doc FROM invoice_attachments WHERE org = ? AND invoice_id = ? ORDER BY id",
            (self.org, invoice_id),
        )
        return [json.loads(row[0]) for row in rows]

    def delete_attachment(self, invoice_id: str) -> None:
        document, _ = self._last_attachment(invoice_id)
        self.store.execute(
            "DELETE FROM invoice_attachments WHERE org = ? AND id = ?",
            (self.org, int(document["document_id"])),
        )
        self.history(invoice_id, f"File {document['file_name']} removed", operation="Deleted")

    def set_attachment_preference(self, invoice_id: str, can_send_in_mail: bool) -> None:
        self._last_attachment(invoice_id)
        for document in self.documents(invoice_id):
            document["can_send_in_mail"] = can_send_in_mail
            self.store.execute(
                "UPDATE invoice_attachments SET doc = ? WHERE org = ? AND id = ?",
                (json.dumps(document), self.org, int(document["document_id"])),
            )

    # -- bulk PDF ------------------------------------------------------------------------

    def for_pdf(self, invoice_ids: str) -> list[Doc]:
        """The invoices of a bulk export, in the order asked (at most 25)."""
        return [
            self.books.present(INVOICES, self.invoice(invoice_id))
            for invoice_id in _ids(invoice_ids, "invoice_ids", MAX_BULK_PDF)
        ]


def invoice_ids_of(payment: Mapping[str, Any] | None) -> Sequence[str]:
    """The invoices a payment is applied to."""
    return [str(a["invoice_id"]) for a in (payment or {}).get("invoices", [])]
