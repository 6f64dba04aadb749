"""An invoice's sub-resources, mixed into ``client.invoices`` (sync and async).

>>> client.invoices.add_comment(invoice_id, "Promised to pay on Friday")
>>> [c.description for c in client.invoices.list_comments(invoice_id) if c.is_history]
>>> client.invoices.send_payment_reminder(invoice_id)
>>> client.invoices.add_attachment(invoice_id, Path("purchase-order.pdf"))
>>> pdf = client.invoices.bulk_pdf([first_id, second_id])

Payments seen from the invoice, comments and history, payment reminders (one, or up to 10 at
once), the content Zoho would e-mail, attached files (gif, png, jpeg, jpg, bmp or pdf, at most
5 MB), write-off, PDF templates and one PDF of up to 25 invoices. Limits Zoho documents are
checked here first, so a call that Zoho would refuse is never sent. A module of its own,
importing nothing of ``_resources``, so ``Invoices`` can mix it in.

Sending twice is visible to a customer: reminders and comments are never repeated after a lost
answer; a write-off, its cancelling and the changes by PUT or DELETE may be.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any
from urllib.parse import unquote

from pydantic import BaseModel

from .._http import httpx
from ._base_client import RequestOptions
from ._request import build_options, check_path
from .types import (
    BulkReminderInfo,
    EmailContent,
    InvoiceAttachment,
    InvoiceComment,
    InvoicePayment,
    InvoiceTemplate,
)

if TYPE_CHECKING:
    from ._client import AsyncZohoInvoice, ZohoInvoice

__all__ = [
    "ATTACHMENT_TYPES",
    "MAX_ATTACHMENT_BYTES",
    "MAX_BULK_PDF",
    "MAX_BULK_REMINDERS",
    "AsyncInvoiceExtras",
    "InvoiceExtras",
]

#: Zoho's limit for one attached file (its Invoice help: 5 MB a file).
MAX_ATTACHMENT_BYTES = 5 * 1024 * 1024
#: The extensions Zoho's API takes for an invoice attachment, and their content types.
ATTACHMENT_TYPES = {
    "gif": "image/gif",
    "png": "image/png",
    "jpeg": "image/jpeg",
    "jpg": "image/jpeg",
    "bmp": "image/bmp",
    "pdf": "application/pdf",
}
#: At most 25 invoices in one PDF, at most 10 reminded at once.
MAX_BULK_PDF = 25
MAX_BULK_REMINDERS = 10

Body = BaseModel | Mapping[str, Any] | None
FileInput = bytes | str | os.PathLike[str] | IO[bytes]
_FILENAME = re.compile(r"""filename\*?=(?:UTF-8'[^']*')?"?([^";]+)"?""", re.IGNORECASE)


def _json(body: Body, fields: Mapping[str, Any]) -> dict[str, Any] | None:
    if body is None:
        merged: dict[str, Any] = {}
    elif isinstance(body, BaseModel):
        merged = body.model_dump(mode="python", exclude_none=True)
    else:
        merged = dict(body)
    merged.update({key: value for key, value in fields.items() if value is not None})
    return merged or None


def _ids(invoice_ids: Sequence[str] | str, most: int, what: str) -> str:
    """``invoice_ids`` as Zoho takes them: comma separated, 1 to ``most`` of them."""
    ids = [invoice_ids] if isinstance(invoice_ids, str) else list(invoice_ids)
    ids = list(dict.fromkeys(str(i).strip() for i in ids if str(i).strip()))
    if not ids:
        raise ValueError(f"name at least one invoice to {what}")
    if len(ids) > most:
        raise ValueError(f"Zoho takes at most {most} invoices at once to {what}; got {len(ids)}")
    return ",".join(ids)


def _comment(description: str | None, **fields: Any) -> dict[str, Any]:
    body = {key: value for key, value in fields.items() if value is not None}
    if description is not None:
        if not description.strip():
            raise ValueError("a comment needs a description")
        body["description"] = description
    return body


def _read_file(file: FileInput, file_name: str | None) -> tuple[str, bytes]:
    """The name and bytes of an attachment, refused here if Zoho would refuse it."""
    if isinstance(file, str | os.PathLike):
        path = Path(file)
        if path.stat().st_size > MAX_ATTACHMENT_BYTES:
            raise ValueError(f"{path.name} is larger than Zoho's 5 MB for an attachment")
        name, content = file_name or path.name, path.read_bytes()
    elif isinstance(file, bytes):
        name, content = file_name or "", file
    else:
        content = file.read(MAX_ATTACHMENT_BYTES + 1)
        name = file_name or Path(str(getattr(file, "name", "") or "")).name
    if not name:
        raise ValueError("give file_name= (with its extension) for an attachment's bytes")
    extension = name.rsplit(".", 1)[-1].lower() if "." in name else ""
    if extension not in ATTACHMENT_TYPES:
        raise ValueError(
            f"Zoho attaches only {', '.join(ATTACHMENT_TYPES)} files to an invoice, not {name!r}"
        )
    if not content:
        raise ValueError(f"{name} is empty")
    if len(content) > MAX_ATTACHMENT_BYTES:
        raise ValueError(f"{name} is larger than Zoho's 5 MB for an attachment")
    return name, content


def _attachment_options(
    invoice_id: str, file: FileInput, file_name: str | None, can_send_in_mail: bool | None
) -> RequestOptions:
    name, content = _read_file(file, file_name)
    path = check_path(f"/invoices/{invoice_id}/attachment")
    extension = name.rsplit(".", 1)[-1].lower()
    params = None if can_send_in_mail is None else {"can_send_in_mail": can_send_in_mail}
    return RequestOptions(
        "POST",
        path,
        params=params,
        files={"attachment": (name, content, ATTACHMENT_TYPES[extension])},
        # Two uploads would be two files on the invoice.
        idempotent=False,
    )


def _download_options(invoice_id: str, preview: bool) -> RequestOptions:
    params = {"preview": True} if preview else None
    return build_options("GET", f"/invoices/{invoice_id}/attachment", params=params, accept="*/*")


def _attachment(response: httpx.Response) -> InvoiceAttachment:
    disposition = response.headers.get("content-disposition", "")
    match = _FILENAME.search(disposition)
    return InvoiceAttachment(
        content=response.content,
        content_type=response.headers.get("content-type", "application/octet-stream"),
        file_name=unquote(match.group(1)) if match else None,
    )


def _one_comment(answer: Mapping[str, Any]) -> InvoiceComment | None:
    # Zoho's docs show "Comments added." alone; its SDK reads the comment from "comment".
    comment = answer.get("comment")
    return InvoiceComment.model_validate(comment) if isinstance(comment, dict) else None


class InvoiceExtras:
    """Mixed into ``client.invoices``: an invoice's payments, comments, reminders, files …"""

    _client: ZohoInvoice

    # -- payments ------------------------------------------------------------------------

    def list_payments(self, invoice_id: str) -> list[InvoicePayment]:
        """The payments applied to the invoice (``GET /invoices/{id}/payments``)."""
        answer = self._client.request("GET", f"/invoices/{invoice_id}/payments")
        return [InvoicePayment.model_validate(p) for p in answer.get("payments") or []]

    def delete_payment(self, invoice_id: str, invoice_payment_id: str) -> None:
        """Take a payment off the invoice, by ``InvoicePayment.invoice_payment_id``."""
        self._client.request("DELETE", f"/invoices/{invoice_id}/payments/{invoice_payment_id}")

    # -- comments and history ------------------------------------------------------------

    def list_comments(self, invoice_id: str) -> list[InvoiceComment]:
        """Comments and the history Zoho keeps (``is_history``), newest first."""
        answer = self._client.request("GET", f"/invoices/{invoice_id}/comments")
        return [InvoiceComment.model_validate(c) for c in answer.get("comments") or []]

    def add_comment(
        self,
        invoice_id: str,
        description: str,
        *,
        show_comment_to_clients: bool | None = None,
        payment_expected_date: str | None = None,
    ) -> InvoiceComment | None:
        """Add a comment; the comment as Zoho stored it, when its answer carries it."""
        body = _comment(
            description,
            show_comment_to_clients=show_comment_to_clients,
            payment_expected_date=payment_expected_date,
        )
        answer = self._client.request("POST", f"/invoices/{invoice_id}/comments", json=body)
        return _one_comment(answer)

    def update_comment(
        self,
        invoice_id: str,
        comment_id: str,
        description: str | None = None,
        *,
        show_comment_to_clients: bool | None = None,
    ) -> InvoiceComment | None:
        body = _comment(description, show_comment_to_clients=show_comment_to_clients)
        path = f"/invoices/{invoice_id}/comments/{comment_id}"
        return _one_comment(self._client.request("PUT", path, json=body))

    def delete_comment(self, invoice_id: str, comment_id: str) -> None:
        self._client.request("DELETE", f"/invoices/{invoice_id}/comments/{comment_id}")

    # -- e-mails and reminders -----------------------------------------------------------

    def email_content(
        self, invoice_id: str, *, email_template_id: str | None = None
    ) -> EmailContent:
        """What ``email()`` would send: subject, body, recipients (``GET …/email``)."""
        params = {"email_template_id": email_template_id} if email_template_id else None
        answer = self._client.request("GET", f"/invoices/{invoice_id}/email", params=params)
        return EmailContent.model_validate(answer.get("data") or {})

    def payment_reminder_content(self, invoice_id: str) -> EmailContent:
        """What ``send_payment_reminder()`` would send (``GET …/paymentreminder``)."""
        answer = self._client.request("GET", f"/invoices/{invoice_id}/paymentreminder")
        return EmailContent.model_validate(answer.get("data") or {})

    def send_payment_reminder(self, invoice_id: str, body: Body = None, **fields: Any) -> None:
        """Remind the customer of an open or overdue invoice (``to_mail_ids=``, ``subject=``,
        ``body=`` … or Zoho's default content)."""
        path = f"/invoices/{invoice_id}/paymentreminder"
        self._client.request("POST", path, json=_json(body, fields))

    def bulk_payment_reminder(self, invoice_ids: Sequence[str]) -> BulkReminderInfo:
        """Remind up to 10 invoices at once; the report says which were not sent."""
        params = {"invoice_ids": _ids(invoice_ids, MAX_BULK_REMINDERS, "remind")}
        answer = self._client.request("POST", "/invoices/paymentreminder", params=params)
        return BulkReminderInfo.model_validate(answer.get("info") or {})

    # -- attachments ---------------------------------------------------------------------

    def add_attachment(
        self,
        invoice_id: str,
        file: FileInput,
        *,
        file_name: str | None = None,
        can_send_in_mail: bool | None = None,
    ) -> None:
        """Attach a file (a path, an open binary file, or bytes with ``file_name=``)."""
        options = _attachment_options(invoice_id, file, file_name, can_send_in_mail)
        self._client._request_json(options)

    def get_attachment(self, invoice_id: str, *, preview: bool = False) -> InvoiceAttachment:
        """The file attached last, its bytes, type and name."""
        return _attachment(self._client._send(_download_options(invoice_id, preview)))

    def update_attachment_preference(self, invoice_id: str, can_send_in_mail: bool) -> None:
        """Whether the attached file goes with the invoice when it is e-mailed."""
        params = {"can_send_in_mail": can_send_in_mail}
        self._client.request("PUT", f"/invoices/{invoice_id}/attachment", params=params)

    def delete_attachment(self, invoice_id: str) -> None:
        """Remove the file attached last."""
        self._client.request("DELETE", f"/invoices/{invoice_id}/attachment")

    # -- PDF, write-off, templates -------------------------------------------------------

    def bulk_pdf(self, invoice_ids: Sequence[str]) -> bytes:
        """One PDF of up to 25 invoices (``GET /invoices/pdf``)."""
        params = {"invoice_ids": _ids(invoice_ids, MAX_BULK_PDF, "export as one PDF")}
        return self._client.request_bytes("GET", "/invoices/pdf", params=params)

    def write_off(self, invoice_id: str) -> None:
        """Write off the balance: the invoice shows as paid, ``write_off_amount`` holds it."""
        self._client.request("POST", f"/invoices/{invoice_id}/writeoff", idempotent=True)

    def cancel_write_off(self, invoice_id: str) -> None:
        self._client.request("POST", f"/invoices/{invoice_id}/writeoff/cancel", idempotent=True)

    def list_templates(self) -> list[InvoiceTemplate]:
        """The organization's invoice PDF templates."""
        answer = self._client.request("GET", "/invoices/templates")
        return [InvoiceTemplate.model_validate(t) for t in answer.get("templates") or []]

    def set_template(self, invoice_id: str, template_id: str) -> None:
        """Print the invoice with another template."""
        self._client.request("PUT", f"/invoices/{invoice_id}/templates/{template_id}")


class AsyncInvoiceExtras:
    """The async twin of :class:`InvoiceExtras`."""

    _client: AsyncZohoInvoice

    async def list_payments(self, invoice_id: str) -> list[InvoicePayment]:
        answer = await self._client.request("GET", f"/invoices/{invoice_id}/payments")
        return [InvoicePayment.model_validate(p) for p in answer.get("payments") or []]

    async def delete_payment(self, invoice_id: str, invoice_payment_id: str) -> None:
        path = f"/invoices/{invoice_id}/payments/{invoice_payment_id}"
        await self._client.request("DELETE", path)

    async def list_comments(self, invoice_id: str) -> list[InvoiceComment]:
        answer = await self._client.request("GET", f"/invoices/{invoice_id}/comments")
        return [InvoiceComment.model_validate(c) for c in answer.get("comments") or []]

    async def add_comment(
        self,
        invoice_id: str,
        description: str,
        *,
        show_comment_to_clients: bool | None = None,
        payment_expected_date: str | None = None,
    ) -> InvoiceComment | None:
        body = _comment(
            description,
            show_comment_to_clients=show_comment_to_clients,
            payment_expected_date=payment_expected_date,
        )
        answer = await self._client.request("POST", f"/invoices/{invoice_id}/comments", json=body)
        return _one_comment(answer)

    async def update_comment(
        self,
        invoice_id: str,
        comment_id: str,
        description: str | None = None,
        *,
        show_comment_to_clients: bool | None = None,
    ) -> InvoiceComment | None:
        body = _comment(description, show_comment_to_clients=show_comment_to_clients)
        path = f"/invoices/{invoice_id}/comments/{comment_id}"
        return _one_comment(await self._client.request("PUT", path, json=body))

    async def delete_comment(self, invoice_id: str, comment_id: str) -> None:
        await self._client.request("DELETE", f"/invoices/{invoice_id}/comments/{comment_id}")

    async def email_content(
        self, invoice_id: str, *, email_template_id: str | None = None
    ) -> EmailContent:
        params = {"email_template_id": email_template_id} if email_template_id else None
        answer = await self._client.request("GET", f"/invoices/{invoice_id}/email", params=params)
        return EmailContent.model_validate(answer.get("data") or {})

    async def payment_reminder_content(self, invoice_id: str) -> EmailContent:
        answer = await self._client.request("GET", f"/invoices/{invoice_id}/paymentreminder")
        return EmailContent.model_validate(answer.get("data") or {})

    async def send_payment_reminder(
        self, invoice_id: str, body: Body = None, **fields: Any
    ) -> None:
        path = f"/invoices/{invoice_id}/paymentreminder"
        await self._client.request("POST", path, json=_json(body, fields))

    async def bulk_payment_reminder(self, invoice_ids: Sequence[str]) -> BulkReminderInfo:
        params = {"invoice_ids": _ids(invoice_ids, MAX_BULK_REMINDERS, "remind")}
        answer = await self._client.request("POST", "/invoices/paymentreminder", params=params)
        return BulkReminderInfo.model_validate(answer.get("info") or {})

    async def add_attachment(
        self,
        invoice_id: str,
        file: FileInput,
        *,
        file_name: str | None = None,
        can_send_in_mail: bool | None = None,
    ) -> None:
        options = _attachment_options(invoice_id, file, file_name, can_send_in_mail)
        await self._client._request_json(options)

    async def get_attachment(self, invoice_id: str, *, preview: bool = False) -> InvoiceAttachment:
        return _attachment(await self._client._send(_download_options(invoice_id, preview)))

    async def update_attachment_preference(self, invoice_id: str, can_send_in_mail: bool) -> None:
        params = {"can_send_in_mail": can_send_in_mail}
        await self._client.request("PUT", f"/invoices/{invoice_id}/attachment", params=params)

    async def delete_attachment(self, invoice_id: str) -> None:
        await self._client.request("DELETE", f"/invoices/{invoice_id}/attachment")

    async def bulk_pdf(self, invoice_ids: Sequence[str]) -> bytes:
        params = {"invoice_ids": _ids(invoice_ids, MAX_BULK_PDF, "export as one PDF")}
        return await self._client.request_bytes("GET", "/invoices/pdf", params=params)

    async def write_off(self, invoice_id: str) -> None:
        await self._client.request("POST", f"/invoices/{invoice_id}/writeoff", idempotent=True)

    async def cancel_write_off(self, invoice_id: str) -> None:
        path = f"/invoices/{invoice_id}/writeoff/cancel"
        await self._client.request("POST", path, idempotent=True)

    async def list_templates(self) -> list[InvoiceTemplate]:
        answer = await self._client.request("GET", "/invoices/templates")
        return [InvoiceTemplate.model_validate(t) for t in answer.get("templates") or []]

    async def set_template(self, invoice_id: str, template_id: str) -> None:
        await self._client.request("PUT", f"/invoices/{invoice_id}/templates/{template_id}")
