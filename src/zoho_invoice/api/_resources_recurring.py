"""Recurring invoices (``client.recurring_invoices``): profiles that make invoices on a schedule.

>>> profile = client.recurring_invoices.create(recurrence_name="Hosting", customer_id=cid,
...     recurrence_frequency="months", repeat_every=1, line_items=[{"name": "Hosting",
...     "rate": "25.00"}])
>>> children = client.recurring_invoices.child_invoices(profile.recurring_invoice_id)

Zoho files them under the invoices scope (``ZohoInvoice.invoices.*``). The invoices a profile
made are ordinary invoices carrying its ``recurring_invoice_id``: ``child_invoices`` lists them
with ``GET /invoices?recurring_invoice_id=``.
"""

from __future__ import annotations

from typing import Any

from ._constants import MAX_PER_PAGE
from ._pagination import AsyncPageIterator, Page, PageIterator
from ._resources import _AsyncResource, _list_params, _Spec, _SyncResource
from .types import Invoice, RecurringInvoice

__all__ = ["AsyncRecurringInvoices", "RecurringInvoices"]


class _RecurringSpec(_Spec[RecurringInvoice]):
    _path = "/recurringinvoices"
    _list_key = "recurring_invoices"
    _item_key = "recurring_invoice"
    _model = RecurringInvoice

    @staticmethod
    def _children_params(
        recurring_invoice_id: str, page: int, per_page: int, filters: dict[str, Any]
    ) -> dict[str, Any]:
        return _list_params(
            page, per_page, {**filters, "recurring_invoice_id": recurring_invoice_id}
        )


def _invoices(body: dict[str, Any], page: int, per_page: int) -> Page[Invoice]:
    return Page.from_body(body, "invoices", Invoice, page=page, per_page=per_page)


class RecurringInvoices(_RecurringSpec, _SyncResource[RecurringInvoice]):
    """``client.recurring_invoices``: list, get, create, update, delete, stop, resume, children."""

    def stop(self, recurring_invoice_id: str) -> None:
        """No more invoices until resumed."""
        self._action(recurring_invoice_id, "status/stop")

    def resume(self, recurring_invoice_id: str) -> None:
        self._action(recurring_invoice_id, "status/resume")

    def child_invoices(
        self,
        recurring_invoice_id: str,
        *,
        page: int = 1,
        per_page: int = MAX_PER_PAGE,
        **filters: Any,
    ) -> Page[Invoice]:
        """One page of the invoices this profile made (other invoice filters allowed)."""
        params = self._children_params(recurring_invoice_id, page, per_page, filters)
        return _invoices(self._client.request("GET", "/invoices", params=params), page, per_page)

    def iter_child_invoices(
        self, recurring_invoice_id: str, **filters: Any
    ) -> PageIterator[Invoice]:
        return PageIterator(
            lambda number: self.child_invoices(
                recurring_invoice_id, page=number, per_page=MAX_PER_PAGE, **filters
            )
        )


class AsyncRecurringInvoices(_RecurringSpec, _AsyncResource[RecurringInvoice]):
    """``client.recurring_invoices`` of ``AsyncZohoInvoice``: the same calls, awaited."""

    async def stop(self, recurring_invoice_id: str) -> None:
        await self._action(recurring_invoice_id, "status/stop")

    async def resume(self, recurring_invoice_id: str) -> None:
        await self._action(recurring_invoice_id, "status/resume")

    async def child_invoices(
        self,
        recurring_invoice_id: str,
        *,
        page: int = 1,
        per_page: int = MAX_PER_PAGE,
        **filters: Any,
    ) -> Page[Invoice]:
        params = self._children_params(recurring_invoice_id, page, per_page, filters)
        answer = await self._client.request("GET", "/invoices", params=params)
        return _invoices(answer, page, per_page)

    def iter_child_invoices(
        self, recurring_invoice_id: str, **filters: Any
    ) -> AsyncPageIterator[Invoice]:
        async def fetch(number: int) -> Page[Invoice]:
            return await self.child_invoices(
                recurring_invoice_id, page=number, per_page=MAX_PER_PAGE, **filters
            )

        return AsyncPageIterator(fetch)
