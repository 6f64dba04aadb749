"""The credits on an invoice, mixed into ``client.invoices`` (sync and async).

>>> client.invoices.apply_credits(iid, creditnotes=[{"creditnote_id": cn, "amount_applied": 20}])
>>> client.invoices.list_credits_applied(iid)[0].amount_applied
Decimal('20.00')

A module of its own, importing nothing of ``_resources``, so ``Invoices`` can mix it in.
Applying is never repeated after a lost answer (twice would move money twice).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel

from .types import AppliedCredit, UseCredits

if TYPE_CHECKING:
    from ._client import AsyncZohoInvoice, ZohoInvoice

__all__ = ["AsyncInvoiceCredits", "InvoiceCredits"]

Rows = Iterable[BaseModel | Mapping[str, Any]]


def _rows(rows: Rows) -> list[dict[str, Any]]:
    return [
        row.model_dump(mode="python", exclude_none=True)
        if isinstance(row, BaseModel)
        else dict(row)
        for row in rows
    ]


def _use_body(creditnotes: Rows, payments: Rows) -> dict[str, Any]:
    body: dict[str, Any] = {}
    if notes := _rows(creditnotes):
        body["apply_creditnotes"] = notes
    if paid := _rows(payments):
        body["invoice_payments"] = paid
    if not body:
        raise ValueError("name at least one credit note or payment to apply")
    return body


class InvoiceCredits:
    """Mixed into ``client.invoices``: the credits applied to an invoice."""

    _client: ZohoInvoice

    def list_credits_applied(self, invoice_id: str) -> list[AppliedCredit]:
        """The credit notes' credits on the invoice (``GET /invoices/{id}/creditsapplied``)."""
        answer = self._client.request("GET", f"/invoices/{invoice_id}/creditsapplied")
        return [AppliedCredit.model_validate(c) for c in answer.get("credits") or []]

    def apply_credits(
        self, invoice_id: str, *, creditnotes: Rows = (), payments: Rows = ()
    ) -> UseCredits:
        """Use the customer's credit on the invoice: credit notes
        (``[{"creditnote_id": ..., "amount_applied": ...}]``) and excess payments
        (``[{"payment_id": ..., "amount_applied": ...}]``). Never sent twice blindly."""
        answer = self._client.request(
            "POST", f"/invoices/{invoice_id}/credits", json=_use_body(creditnotes, payments)
        )
        return UseCredits.model_validate(answer.get("use_credits") or {})

    def delete_applied_credit(self, invoice_id: str, creditnotes_invoice_id: str) -> None:
        """Take a credit off the invoice; it returns to its credit note."""
        self._client.request(
            "DELETE", f"/invoices/{invoice_id}/creditsapplied/{creditnotes_invoice_id}"
        )


class AsyncInvoiceCredits:
    """Mixed into ``AsyncZohoInvoice.invoices``: the credits applied to an invoice."""

    _client: AsyncZohoInvoice

    async def list_credits_applied(self, invoice_id: str) -> list[AppliedCredit]:
        answer = await self._client.request("GET", f"/invoices/{invoice_id}/creditsapplied")
        return [AppliedCredit.model_validate(c) for c in answer.get("credits") or []]

    async def apply_credits(
        self, invoice_id: str, *, creditnotes: Rows = (), payments: Rows = ()
    ) -> UseCredits:
        answer = await self._client.request(
            "POST", f"/invoices/{invoice_id}/credits", json=_use_body(creditnotes, payments)
        )
        return UseCredits.model_validate(answer.get("use_credits") or {})

    async def delete_applied_credit(self, invoice_id: str, creditnotes_invoice_id: str) -> None:
        await self._client.request(
            "DELETE", f"/invoices/{invoice_id}/creditsapplied/{creditnotes_invoice_id}"
        )
