"""The routes of an invoice's sub-resources (``_extras``), and the history Zoho writes.

:func:`install` adds to the Invoice API's table of endpoints:

- ``GET /invoices/{id}/payments``, ``DELETE /invoices/{id}/payments/{invoice_payment_id}``;
- ``GET|POST /invoices/{id}/comments``, ``PUT|DELETE /invoices/{id}/comments/{comment_id}``;
- ``GET|POST /invoices/{id}/paymentreminder``, ``POST /invoices/paymentreminder?invoice_ids=``;
- ``GET /invoices/{id}/email`` (the content an e-mail would have);
- ``POST|GET|PUT|DELETE /invoices/{id}/attachment`` (multipart ``attachment``);
- ``GET /invoices/pdf?invoice_ids=`` (one PDF, at most 25 invoices);
- ``POST /invoices/{id}/writeoff``, ``POST /invoices/{id}/writeoff/cancel``;
- ``GET /invoices/templates``, ``PUT /invoices/{id}/templates/{template_id}``.

It also wraps the endpoints that change an invoice (create, edit, status, e-mail, payments,
delete) so that each success leaves the history entry Zoho shows, in the same transaction, and
so that what those endpoints know nothing of (a write-off, the chosen template) survives them.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from starlette.datastructures import UploadFile
from starlette.requests import Request
from starlette.responses import Response

from ._errors import ZohoAPIFailure, invalid
from ._extras import Actor, InvoiceExtras, forget_invoice, invoice_ids_of
from ._pdf import invoices_pdf
from ._resources import INVOICES, PAYMENTS

if TYPE_CHECKING:
    from ._app import Context, Handler, Payload, _InvoiceAPI

__all__ = ["install", "read_files"]

#: A file of a multipart body: (file name, declared content type, bytes).
UploadedFile = tuple[str, str, bytes]


def _ok(message: str = "success", data: Mapping[str, Any] | None = None) -> dict[str, Any]:
    return {"code": 0, "message": message, **(data or {})}


async def read_files(request: Request) -> dict[str, UploadedFile]:
    """The files of a ``multipart/form-data`` body (the form is parsed once, then cached)."""
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type != "multipart/form-data":
        return {}
    files: dict[str, UploadedFile] = {}
    for name, value in (await request.form()).multi_items():
        if isinstance(value, UploadFile) and name not in files:
            files[name] = (value.filename or "", value.content_type or "", await value.read())
    return files


def _written_off(books: Any, invoice_ids: list[str]) -> dict[str, Decimal]:
    amounts: dict[str, Decimal] = {}
    for invoice_id in invoice_ids:
        invoice = books.store.get(INVOICES, books.org, invoice_id)
        if invoice is not None:
            amounts[invoice_id] = Decimal(str(invoice.get("write_off_amount") or 0))
    return amounts


def _added_amounts(before: Mapping[str, Any] | None, asked: Any) -> dict[str, Decimal]:
    """How much more a payment's new applications put on each invoice than it had before."""
    had = {
        str(a["invoice_id"]): Decimal(str(a.get("amount_applied") or 0))
        for a in (before or {}).get("invoices", [])
    }
    more: dict[str, Decimal] = {}
    for application in asked if isinstance(asked, list) else []:
        if not isinstance(application, dict):
            continue
        invoice_id = str(application.get("invoice_id"))
        try:
            amount = Decimal(str(application.get("amount_applied") or 0))
        except ArithmeticError:
            continue  # the books refuse it with their own answer
        more[invoice_id] = amount - had.get(invoice_id, Decimal(0))
    return more


class _Extras:
    """The handlers; one instance per Invoice API."""

    def __init__(self, api: _InvoiceAPI) -> None:
        self.api = api

    def extras(self, ctx: Context) -> InvoiceExtras:
        directory = self.api.world.directory
        user = directory.user(ctx.user_id)
        organization = ctx.org.name if ctx.org is not None else ""
        return InvoiceExtras(
            ctx.b,
            Actor(
                user_id=ctx.user_id,
                user_name=getattr(user, "display_name", ""),
                user_email=getattr(user, "email", ""),
                organization_name=organization,
            ),
        )

    # -- payments ------------------------------------------------------------------------

    def list_payments(self, ctx: Context) -> Payload:
        return _ok(data={"payments": self.extras(ctx).payments(ctx.path["invoice_id"])})

    def delete_payment(self, ctx: Context) -> Payload:
        extras = self.extras(ctx)
        invoice_id = ctx.path["invoice_id"]
        written_off = _written_off(ctx.b, [invoice_id])
        payment = extras.delete_payment(invoice_id, ctx.path["invoice_payment_id"])
        extras.keep_write_off(invoice_id, written_off.get(invoice_id, Decimal(0)))
        amount = sum(
            (Decimal(str(a["amount_applied"])) for a in payment["invoices"]
             if a["invoice_id"] == invoice_id),
            Decimal(0),
        )  # fmt: skip
        extras.history(
            invoice_id,
            f"Payment of {extras.money(payment, amount)} deleted",
            operation="Deleted",
            transaction_id=str(payment["payment_id"]),
            transaction_type="customer_payment",
        )
        return _ok("The payment has been deleted.")

    # -- comments ------------------------------------------------------------------------

    def list_comments(self, ctx: Context) -> Payload:
        return _ok(data={"comments": self.extras(ctx).comments(ctx.path["invoice_id"])})

    def add_comment(self, ctx: Context) -> Payload:
        comment = self.extras(ctx).add_comment(ctx.path["invoice_id"], ctx.body)
        # The docs show only code and message; Zoho's own SDK reads "comment" from the answer.
        return _ok("Comments added.", {"comment": comment})

    def update_comment(self, ctx: Context) -> Payload:
        comment = self.extras(ctx).update_comment(
            ctx.path["invoice_id"], ctx.path["comment_id"], ctx.body
        )
        return _ok(data={"comment": comment})

    def delete_comment(self, ctx: Context) -> Payload:
        self.extras(ctx).delete_comment(ctx.path["invoice_id"], ctx.path["comment_id"])
        return _ok("The comment has been deleted.")

    # -- e-mails -------------------------------------------------------------------------

    def email_content(self, ctx: Context) -> Payload:
        content = self.extras(ctx).email_content(
            ctx.path["invoice_id"], ctx.query.get("email_template_id", "")
        )
        return _ok(data={"data": content})

    def reminder_content(self, ctx: Context) -> Payload:
        return _ok(data={"data": self.extras(ctx).reminder_content(ctx.path["invoice_id"])})

    def remind(self, ctx: Context) -> Payload:
        self.extras(ctx).remind(ctx.path["invoice_id"], ctx.body)
        return _ok("Your payment reminder has been sent.")

    def remind_many(self, ctx: Context) -> Payload:
        ids = ctx.query.get("invoice_ids") or str(ctx.body.get("invoice_ids") or "")
        return _ok(data={"info": self.extras(ctx).remind_many(ids)})

    # -- write-off and templates ---------------------------------------------------------

    def write_off(self, ctx: Context) -> Payload:
        self.extras(ctx).write_off(ctx.path["invoice_id"])
        return _ok("Invoice has been written off")

    def cancel_write_off(self, ctx: Context) -> Payload:
        self.extras(ctx).cancel_write_off(ctx.path["invoice_id"])
        return _ok("The write off done for this invoice has been cancelled.")

    def list_templates(self, ctx: Context) -> Payload:
        return _ok(data={"templates": InvoiceExtras.templates()})

    def set_template(self, ctx: Context) -> Payload:
        self.extras(ctx).set_template(ctx.path["invoice_id"], ctx.path["template_id"])
        return _ok("Invoice information has been updated.")

    # -- attachments ---------------------------------------------------------------------

    def add_attachment(self, ctx: Context) -> Payload:
        upload = ctx.files.get("attachment")
        if upload is None:
            raise invalid("attachment")
        file_name, _, content = upload
        flag = ctx.query.get("can_send_in_mail", "false").lower()
        if flag not in ("true", "false"):
            raise invalid("can_send_in_mail")
        self.extras(ctx).attach(
            ctx.path["invoice_id"], file_name, content, can_send_in_mail=flag == "true"
        )
        return _ok("Your file has been successfully attached to the invoice.")

    def get_attachment(self, ctx: Context) -> Payload:
        document, content = self.extras(ctx).attachment(ctx.path["invoice_id"])
        name = str(document["file_name"]).replace('"', "")
        return Response(
            content,
            media_type=str(document["content_type"]),
            headers={"Content-Disposition": f'attachment; filename="{name}"'},
        )

    def attachment_preference(self, ctx: Context) -> Payload:
        flag = ctx.query.get("can_send_in_mail", "").lower()
        if flag not in ("true", "false"):
            raise invalid("can_send_in_mail")
        self.extras(ctx).set_attachment_preference(ctx.path["invoice_id"], flag == "true")
        return _ok("Invoice information has been updated.")

    def delete_attachment(self, ctx: Context) -> Payload:
        self.extras(ctx).delete_attachment(ctx.path["invoice_id"])
        return _ok("Your file is no longer attached to the invoice.")

    # -- bulk PDF ------------------------------------------------------------------------

    def bulk_pdf(self, ctx: Context) -> Payload:
        invoices = self.extras(ctx).for_pdf(ctx.query.get("invoice_ids", ""))
        assert ctx.org is not None
        return Response(
            invoices_pdf(invoices, ctx.org.name),
            media_type="application/pdf",
            headers={"Content-Disposition": 'attachment; filename="invoices.pdf"'},
        )

    # -- history around the endpoints that change invoices -------------------------------

    def _wrap(self, method: str, template: str, make: Callable[[Handler], Handler]) -> None:
        endpoint = self.api.endpoints.get(template, {}).get(method)
        if endpoint is not None:
            self.api.endpoints[template][method] = dataclasses.replace(
                endpoint, handler=make(endpoint.handler)
            )

    def wrap_invoice_changes(self) -> None:
        def created(original: Handler) -> Handler:
            def handler(ctx: Context) -> Payload:
                result = original(ctx)
                if isinstance(result, dict) and "invoice" in result:
                    extras = self.extras(ctx)
                    invoice = result["invoice"]
                    stored = extras.invoice(str(invoice["invoice_id"]))
                    stored.update(extras.default_template())
                    ctx.b.store.replace(INVOICES, ctx.b.org, stored)
                    invoice.update(extras.default_template())
                    extras.history(
                        str(invoice["invoice_id"]),
                        f"Invoice created for {extras.money(invoice, invoice.get('total'))}",
                        operation="Added",
                    )
                return result

            return handler

        def edited(original: Handler) -> Handler:
            def handler(ctx: Context) -> Payload:
                invoice_id = ctx.path["invoice_id"]
                before = ctx.b.get(INVOICES, invoice_id)
                result = original(ctx)
                extras = self.extras(ctx)
                after = extras.invoice(invoice_id)
                # The books rebuild the document: what they do not know is carried over.
                kept: dict[str, Any] = {
                    k: before[k]
                    for k in ("template_id", "template_name", "template_type")
                    if k in before and k not in after
                }
                if kept:
                    after.update(kept)
                    ctx.b.store.replace(INVOICES, ctx.b.org, after)
                extras.keep_write_off(invoice_id, Decimal(str(before.get("write_off_amount") or 0)))
                extras.history(invoice_id, "Invoice updated")
                if isinstance(result, dict) and "invoice" in result:
                    result["invoice"] = ctx.b.present(INVOICES, extras.invoice(invoice_id))
                return result

            return handler

        def status_change(label: str) -> Callable[[Handler], Handler]:
            def make(original: Handler) -> Handler:
                def handler(ctx: Context) -> Payload:
                    invoice_id = ctx.path["invoice_id"]
                    before = ctx.b.get(INVOICES, invoice_id)["status"]
                    result = original(ctx)
                    extras = self.extras(ctx)
                    after = extras.invoice(invoice_id)
                    if after["status"] != before:
                        if after["status"] == "void" and after.get("write_off_amount"):
                            after["write_off_amount"] = 0.0  # voiding undoes the write-off
                            ctx.b.store.replace(INVOICES, ctx.b.org, after)
                        extras.history(invoice_id, label)
                    return result

                return handler

            return make

        def emailed(original: Handler) -> Handler:
            def handler(ctx: Context) -> Payload:
                result = original(ctx)
                invoice_id = ctx.path["invoice_id"]
                sent = [e for e in ctx.b.store.emails(ctx.b.org) if e["invoice_id"] == invoice_id]
                if sent:
                    to = ", ".join(sent[-1].get("to_mail_ids") or [])
                    self.extras(ctx).history(invoice_id, f"Invoice emailed to {to}")
                return result

            return handler

        def deleted(original: Handler) -> Handler:
            def handler(ctx: Context) -> Payload:
                result = original(ctx)
                forget_invoice(ctx.b.store, ctx.b.org, ctx.path["invoice_id"])
                return result

            return handler

        self._wrap("POST", "/invoices", created)
        self._wrap("PUT", "/invoices/{invoice_id}", edited)
        self._wrap("DELETE", "/invoices/{invoice_id}", deleted)
        self._wrap("POST", "/invoices/{invoice_id}/email", emailed)
        for status, label in (
            ("sent", "Invoice marked as sent"),
            ("void", "Invoice status changed to Void"),
            ("draft", "Invoice marked as draft"),
        ):
            self._wrap("POST", f"/invoices/{{invoice_id}}/status/{status}", status_change(label))

    def wrap_payments(self) -> None:
        """A payment recorded, changed or deleted shows in each invoice's history; a
        written-off invoice has nothing left to pay (24016) and keeps its write-off."""

        def record(kind: str) -> Callable[[Handler], Handler]:
            def make(original: Handler) -> Handler:
                def handler(ctx: Context) -> Payload:
                    payment_id = ctx.path.get("payment_id")
                    before = (
                        ctx.b.store.get(PAYMENTS, ctx.b.org, payment_id) if payment_id else None
                    )
                    asked = ctx.body.get("invoices") if kind != "deleted" else None
                    targets = [
                        str(a.get("invoice_id"))
                        for a in (asked if isinstance(asked, list) else [])
                        if isinstance(a, dict)
                    ]
                    written_off = _written_off(ctx.b, [*invoice_ids_of(before), *targets])
                    for invoice_id, more in _added_amounts(before, asked).items():
                        if more > 0 and written_off.get(invoice_id, Decimal(0)) > 0:
                            raise ZohoAPIFailure(
                                400,
                                24016,
                                "The amount entered is more than the balance due for this invoice",
                            )
                    result = original(ctx)
                    extras = self.extras(ctx)
                    for invoice_id, written in written_off.items():
                        extras.keep_write_off(invoice_id, written)
                    payment = before if kind == "deleted" else None
                    if isinstance(result, dict) and isinstance(result.get("payment"), dict):
                        payment = result["payment"]
                    for application in (payment or {}).get("invoices", []):
                        amount = extras.money(payment or {}, application.get("amount_applied"))
                        number = application.get("invoice_number", "")
                        text = {
                            "recorded": f"Payment of {amount} received and applied for {number}",
                            "updated": f"Payment of {amount} applied for {number} updated",
                            "deleted": f"Payment of {amount} deleted",
                        }[kind]
                        extras.history(
                            str(application["invoice_id"]),
                            text,
                            operation={"recorded": "Added", "deleted": "Deleted"}.get(
                                kind, "Updated"
                            ),
                            transaction_id=str((payment or {}).get("payment_id", "")),
                            transaction_type="customer_payment",
                        )
                    return result

                return handler

            return make

        self._wrap("POST", "/customerpayments", record("recorded"))
        self._wrap("PUT", "/customerpayments/{payment_id}", record("updated"))
        self._wrap("DELETE", "/customerpayments/{payment_id}", record("deleted"))


def install(api: _InvoiceAPI) -> None:
    """Add the sub-resource routes to ``api`` and wrap its invoice-changing endpoints.

    Called last by the Invoice API's ``_register``: the fixed paths added here
    (``/invoices/templates``, ``/invoices/pdf``, ``/invoices/paymentreminder``) go to the front of
    the table so that ``/invoices/{invoice_id}`` does not take them.
    """
    extras = _Extras(api)
    extras.wrap_invoice_changes()
    extras.wrap_payments()
    before = set(api.endpoints)
    add = api._add
    one = "/invoices/{invoice_id}"
    add("GET", "/invoices/templates", "invoices", extras.list_templates)
    add("GET", "/invoices/pdf", "invoices", extras.bulk_pdf)
    add("POST", "/invoices/paymentreminder", "invoices", extras.remind_many, status=201)
    add("GET", f"{one}/payments", "invoices", extras.list_payments)
    add("DELETE", f"{one}/payments/{{invoice_payment_id}}", "invoices", extras.delete_payment)
    add("GET", f"{one}/comments", "invoices", extras.list_comments)
    add("POST", f"{one}/comments", "invoices", extras.add_comment)
    add("PUT", f"{one}/comments/{{comment_id}}", "invoices", extras.update_comment)
    add("DELETE", f"{one}/comments/{{comment_id}}", "invoices", extras.delete_comment)
    add("GET", f"{one}/email", "invoices", extras.email_content)
    add("GET", f"{one}/paymentreminder", "invoices", extras.reminder_content)
    add("POST", f"{one}/paymentreminder", "invoices", extras.remind)
    add("POST", f"{one}/attachment", "invoices", extras.add_attachment)
    add("GET", f"{one}/attachment", "invoices", extras.get_attachment)
    add("PUT", f"{one}/attachment", "invoices", extras.attachment_preference)
    add("DELETE", f"{one}/attachment", "invoices", extras.delete_attachment)
    add("POST", f"{one}/writeoff", "invoices", extras.write_off)
    add("POST", f"{one}/writeoff/cancel", "invoices", extras.cancel_write_off)
    add("PUT", f"{one}/templates/{{template_id}}", "invoices", extras.set_template)
    fixed = [t for t in api.endpoints if t not in before and "{" not in t]
    reordered = {t: api.endpoints[t] for t in fixed}
    reordered.update((t, e) for t, e in api.endpoints.items() if t not in reordered)
    api.endpoints.clear()
    api.endpoints.update(reordered)
