"""Credit notes (``client.credit_notes``); the invoice's side is ``_resources_invoice_credits``.

>>> note = client.credit_notes.create(customer_id=cid, line_items=[{"name": "Refund", "rate": 50}])
>>> client.credit_notes.apply_to_invoices(note.creditnote_id, [{"invoice_id": iid,
...                                                              "amount_applied": "20.00"}])
>>> client.invoices.list_credits_applied(iid)[0].amount_applied
Decimal('20.00')

Every call goes through ``client.request``. Applying a credit, refunding and creating are never
repeated after a lost answer (twice would move money twice); status changes may be.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from pydantic import BaseModel

from ._constants import MAX_PER_PAGE
from ._pagination import AsyncPageIterator, Page, PageIterator
from ._resources import Body, _AsyncResource, _body, _list_params, _Spec, _SyncResource
from .types import CreditNote, CreditNoteApplication, CreditNoteRefund, InvoiceCredited

__all__ = ["AsyncCreditNotes", "CreditNotes"]

Rows = Iterable[BaseModel | Mapping[str, Any]]


def _rows(rows: Rows) -> list[dict[str, Any]]:
    return [_body(row, {}) for row in rows]


def _refunds(body: dict[str, Any], page: int, per_page: int) -> Page[CreditNoteRefund]:
    return Page.from_body(
        body, "creditnote_refunds", CreditNoteRefund, page=page, per_page=per_page
    )


class _CreditNotesSpec(_Spec[CreditNote]):
    _path = "/creditnotes"
    _list_key = "creditnotes"
    _item_key = "creditnote"
    _model = CreditNote

    def _note(self, creditnote_id: str) -> str:
        return f"{self._path}/{creditnote_id}"


class CreditNotes(_CreditNotesSpec, _SyncResource[CreditNote]):
    """``client.credit_notes``: list, get, create, update, delete, statuses, credits, refunds."""

    def create(
        self, body: Body = None, *, invoice_id: str | None = None, **fields: Any
    ) -> CreditNote:
        """A new credit note, ``open`` unless ``is_draft=True``; never sent twice blindly.

        ``invoice_id=`` names the invoice the credit note is raised against (Zoho's query
        parameter).
        """
        params = {"invoice_id": invoice_id} if invoice_id else None
        answer = self._client.request("POST", self._path, params=params, json=_body(body, fields))
        return self._one(answer)

    def void(self, creditnote_id: str) -> None:
        self._action(creditnote_id, "status/void")

    def mark_open(self, creditnote_id: str) -> None:
        """Open a draft or a voided credit note."""
        self._action(creditnote_id, "status/open")

    def mark_draft(self, creditnote_id: str) -> None:
        self._action(creditnote_id, "status/draft")

    def apply_to_invoices(self, creditnote_id: str, invoices: Rows) -> CreditNoteApplication:
        """Credit invoices of the same customer: ``[{"invoice_id": ..., "amount_applied": ...}]``.

        Lowers the credit note's balance and each invoice's balance by the amount.
        """
        answer = self._client.request(
            "POST", f"{self._note(creditnote_id)}/invoices", json={"invoices": _rows(invoices)}
        )
        return CreditNoteApplication.model_validate(answer.get("apply_to_invoices") or {})

    def invoices_credited(self, creditnote_id: str) -> list[InvoiceCredited]:
        answer = self._client.request("GET", f"{self._note(creditnote_id)}/invoices")
        return [InvoiceCredited.model_validate(c) for c in answer.get("invoices_credited") or []]

    def delete_invoice_credited(self, creditnote_id: str, creditnote_invoice_id: str) -> None:
        """Take one credit back: the amount returns to the credit note and to the invoice."""
        self._client.request(
            "DELETE", f"{self._note(creditnote_id)}/invoices/{creditnote_invoice_id}"
        )

    def refund(self, creditnote_id: str, body: Body = None, **fields: Any) -> CreditNoteRefund:
        """Record money paid back (``amount=``, ``date=``, ``refund_mode=`` …)."""
        answer = self._client.request(
            "POST", f"{self._note(creditnote_id)}/refunds", json=_body(body, fields)
        )
        return CreditNoteRefund.model_validate(answer.get("creditnote_refund") or {})

    def list_refunds(
        self, creditnote_id: str, *, page: int = 1, per_page: int = MAX_PER_PAGE
    ) -> Page[CreditNoteRefund]:
        """The refunds of one credit note."""
        answer = self._client.request(
            "GET",
            f"{self._note(creditnote_id)}/refunds",
            params=_list_params(page, per_page, {}),
        )
        return _refunds(answer, page, per_page)

    def list_all_refunds(
        self, *, page: int = 1, per_page: int = MAX_PER_PAGE, **filters: Any
    ) -> Page[CreditNoteRefund]:
        """Every credit note refund of the organization (``customer_id=``, ``sort_column=`` …)."""
        answer = self._client.request(
            "GET", f"{self._path}/refunds", params=_list_params(page, per_page, filters)
        )
        return _refunds(answer, page, per_page)

    def iter_all_refunds(self, **filters: Any) -> PageIterator[CreditNoteRefund]:
        return PageIterator(
            lambda number: self.list_all_refunds(page=number, per_page=MAX_PER_PAGE, **filters)
        )

    def get_refund(self, creditnote_id: str, refund_id: str) -> CreditNoteRefund:
        answer = self._client.request("GET", f"{self._note(creditnote_id)}/refunds/{refund_id}")
        return CreditNoteRefund.model_validate(answer.get("creditnote_refund") or {})

    def update_refund(
        self, creditnote_id: str, refund_id: str, body: Body = None, **fields: Any
    ) -> CreditNoteRefund:
        answer = self._client.request(
            "PUT", f"{self._note(creditnote_id)}/refunds/{refund_id}", json=_body(body, fields)
        )
        return CreditNoteRefund.model_validate(answer.get("creditnote_refund") or {})

    def delete_refund(self, creditnote_id: str, refund_id: str) -> None:
        self._client.request("DELETE", f"{self._note(creditnote_id)}/refunds/{refund_id}")


class AsyncCreditNotes(_CreditNotesSpec, _AsyncResource[CreditNote]):
    """``client.credit_notes`` of ``AsyncZohoInvoice``: the same calls, awaited."""

    async def create(
        self, body: Body = None, *, invoice_id: str | None = None, **fields: Any
    ) -> CreditNote:
        """A new credit note, ``open`` unless ``is_draft=True``; never sent twice blindly."""
        params = {"invoice_id": invoice_id} if invoice_id else None
        answer = await self._client.request(
            "POST", self._path, params=params, json=_body(body, fields)
        )
        return self._one(answer)

    async def void(self, creditnote_id: str) -> None:
        await self._action(creditnote_id, "status/void")

    async def mark_open(self, creditnote_id: str) -> None:
        await self._action(creditnote_id, "status/open")

    async def mark_draft(self, creditnote_id: str) -> None:
        await self._action(creditnote_id, "status/draft")

    async def apply_to_invoices(self, creditnote_id: str, invoices: Rows) -> CreditNoteApplication:
        answer = await self._client.request(
            "POST", f"{self._note(creditnote_id)}/invoices", json={"invoices": _rows(invoices)}
        )
        return CreditNoteApplication.model_validate(answer.get("apply_to_invoices") or {})

    async def invoices_credited(self, creditnote_id: str) -> list[InvoiceCredited]:
        answer = await self._client.request("GET", f"{self._note(creditnote_id)}/invoices")
        return [InvoiceCredited.model_validate(c) for c in answer.get("invoices_credited") or []]

    async def delete_invoice_credited(self, creditnote_id: str, creditnote_invoice_id: str) -> None:
        await self._client.request(
            "DELETE", f"{self._note(creditnote_id)}/invoices/{creditnote_invoice_id}"
        )

    async def refund(
        self, creditnote_id: str, body: Body = None, **fields: Any
    ) -> CreditNoteRefund:
        answer = await self._client.request(
            "POST", f"{self._note(creditnote_id)}/refunds", json=_body(body, fields)
        )
        return CreditNoteRefund.model_validate(answer.get("creditnote_refund") or {})

    async def list_refunds(
        self, creditnote_id: str, *, page: int = 1, per_page: int = MAX_PER_PAGE
    ) -> Page[CreditNoteRefund]:
        answer = await self._client.request(
            "GET",
            f"{self._note(creditnote_id)}/refunds",
            params=_list_params(page, per_page, {}),
        )
        return _refunds(answer, page, per_page)

    async def list_all_refunds(
        self, *, page: int = 1, per_page: int = MAX_PER_PAGE, **filters: Any
    ) -> Page[CreditNoteRefund]:
        answer = await self._client.request(
            "GET", f"{self._path}/refunds", params=_list_params(page, per_page, filters)
        )
        return _refunds(answer, page, per_page)

    def iter_all_refunds(self, **filters: Any) -> AsyncPageIterator[CreditNoteRefund]:
        async def fetch(number: int) -> Page[CreditNoteRefund]:
            return await self.list_all_refunds(page=number, per_page=MAX_PER_PAGE, **filters)

        return AsyncPageIterator(fetch)

    async def get_refund(self, creditnote_id: str, refund_id: str) -> CreditNoteRefund:
        answer = await self._client.request(
            "GET", f"{self._note(creditnote_id)}/refunds/{refund_id}"
        )
        return CreditNoteRefund.model_validate(answer.get("creditnote_refund") or {})

    async def update_refund(
        self, creditnote_id: str, refund_id: str, body: Body = None, **fields: Any
    ) -> CreditNoteRefund:
        answer = await self._client.request(
            "PUT", f"{self._note(creditnote_id)}/refunds/{refund_id}", json=_body(body, fields)
        )
        return CreditNoteRefund.model_validate(answer.get("creditnote_refund") or {})

    async def delete_refund(self, creditnote_id: str, refund_id: str) -> None:
        await self._client.request("DELETE", f"{self._note(creditnote_id)}/refunds/{refund_id}")
