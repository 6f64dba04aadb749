"""``client.taxes`` and ``client.currencies``: an organization's tax setup and currencies.

>>> vat = next(t for t in client.taxes.iter_all() if t.tax_percentage == Decimal("20"))
>>> client.invoices.create(customer_id=cid, line_items=[{"item_id": iid, "tax_id": vat.tax_id}])

Taxes live under ``/settings/taxes`` (the list shows tax groups too, as ``tax_type
"tax_group"``); tax groups under ``/settings/taxgroups``; currencies under
``/settings/currencies``. Every call goes through ``client.request``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

from pydantic import BaseModel

from ._constants import MAX_PER_PAGE
from ._pagination import AsyncPageIterator, Page, PageIterator
from ._resources import _AsyncResource, _Spec, _SyncResource
from .types import Currency, Tax, TaxGroup

if TYPE_CHECKING:
    from ._client import AsyncZohoInvoice, ZohoInvoice

__all__ = ["AsyncCurrencies", "AsyncTaxes", "Currencies", "Taxes", "one_of"]

M = TypeVar("M", bound=BaseModel)


def one_of(body: Mapping[str, Any], key: str, model: type[M]) -> M:
    """The resource an answer carries under ``key``.

    Some of Zoho's documented answers wrap a single resource in a one-item list (the currency
    example does): both forms read the same.
    """
    value = body.get(key)
    if isinstance(value, list) and len(value) == 1:
        value = value[0]
    return model.model_validate(value or {})


def _group_body(name: str | None, tax_ids: Sequence[str] | str | None) -> dict[str, Any]:
    # Zoho takes the group's taxes as one comma-separated string of tax ids.
    body: dict[str, Any] = {}
    if name is not None:
        body["tax_group_name"] = name
    if tax_ids is not None:
        body["taxes"] = tax_ids if isinstance(tax_ids, str) else ",".join(map(str, tax_ids))
    return body


def _groups_in(body: Mapping[str, Any], into: dict[str, TaxGroup]) -> bool:
    """Collect the tax groups of one page of ``GET /settings/taxes``; whether more pages follow.

    Groups come either among the taxes (``tax_type "tax_group"``) or in a ``tax_groups`` array
    beside them: both readings are seen, both are read.
    """
    taxes = body.get("taxes") or []
    for tax in taxes:
        if isinstance(tax, dict) and tax.get("tax_type") == "tax_group":
            group = TaxGroup.model_validate(
                {
                    "tax_group_id": tax.get("tax_id"),
                    "tax_group_name": tax.get("tax_name"),
                    "tax_group_percentage": tax.get("tax_percentage"),
                }
            )
            into.setdefault(group.tax_group_id, group)
    for raw in body.get("tax_groups") or []:
        group = TaxGroup.model_validate(raw)
        into[group.tax_group_id] = group
    context = body.get("page_context")
    more = isinstance(context, dict) and bool(context.get("has_more_page"))
    return more and bool(taxes)


class _TaxesSpec(_Spec[Tax]):
    _path = "/settings/taxes"
    _list_key = "taxes"
    _item_key = "tax"
    _model = Tax
    _groups = "/settings/taxgroups"

    def _one(self, body: dict[str, Any]) -> Tax:
        return one_of(body, self._item_key, Tax)


class Taxes(_TaxesSpec, _SyncResource[Tax]):
    """Taxes and tax groups: ``list``/``iter_all``/``get``/``create``/``update``/``delete`` for
    taxes, ``list_groups`` and ``*_group`` for groups. ``list`` shows what Zoho lists under
    ``taxes``, which may include groups (``tax_type "tax_group"``)."""

    def list_groups(self) -> list[TaxGroup]:
        """Every tax group, however Zoho lists them (read from ``GET /settings/taxes``)."""
        groups: dict[str, TaxGroup] = {}
        page = 1
        while _groups_in(
            self._client.request(
                "GET", self._path, params={"page": page, "per_page": MAX_PER_PAGE}
            ),
            groups,
        ):
            page += 1
        return list(groups.values())

    def get_group(self, tax_group_id: str) -> TaxGroup:
        body = self._client.request("GET", f"{self._groups}/{tax_group_id}")
        return one_of(body, "tax_group", TaxGroup)

    def create_group(self, name: str, tax_ids: Sequence[str] | str) -> TaxGroup:
        """A group of two or more taxes (at most one compound); never sent twice blindly."""
        body = self._client.request("POST", self._groups, json=_group_body(name, tax_ids))
        return one_of(body, "tax_group", TaxGroup)

    def update_group(
        self, tax_group_id: str, *, name: str | None = None, tax_ids: Sequence[str] | str | None
    ) -> TaxGroup:
        """Rename a group or change its taxes; the group as Zoho now has it.

        Zoho's SDK documents only a message as the answer: then the group is read back (one
        more request).
        """
        path = f"{self._groups}/{tax_group_id}"
        body = self._client.request("PUT", path, json=_group_body(name, tax_ids))
        if body.get("tax_group"):
            return one_of(body, "tax_group", TaxGroup)
        return self.get_group(tax_group_id)

    def delete_group(self, tax_group_id: str) -> None:
        self._client.request("DELETE", f"{self._groups}/{tax_group_id}")


class AsyncTaxes(_TaxesSpec, _AsyncResource[Tax]):
    """Taxes and tax groups, async; see :class:`Taxes`."""

    async def list_groups(self) -> list[TaxGroup]:
        """Every tax group, however Zoho lists them (read from ``GET /settings/taxes``)."""
        groups: dict[str, TaxGroup] = {}
        page = 1
        while _groups_in(
            await self._client.request(
                "GET", self._path, params={"page": page, "per_page": MAX_PER_PAGE}
            ),
            groups,
        ):
            page += 1
        return list(groups.values())

    async def get_group(self, tax_group_id: str) -> TaxGroup:
        body = await self._client.request("GET", f"{self._groups}/{tax_group_id}")
        return one_of(body, "tax_group", TaxGroup)

    async def create_group(self, name: str, tax_ids: Sequence[str] | str) -> TaxGroup:
        """A group of two or more taxes (at most one compound); never sent twice blindly."""
        body = await self._client.request("POST", self._groups, json=_group_body(name, tax_ids))
        return one_of(body, "tax_group", TaxGroup)

    async def update_group(
        self, tax_group_id: str, *, name: str | None = None, tax_ids: Sequence[str] | str | None
    ) -> TaxGroup:
        """Rename a group or change its taxes; read back when Zoho answers only a message."""
        path = f"{self._groups}/{tax_group_id}"
        body = await self._client.request("PUT", path, json=_group_body(name, tax_ids))
        if body.get("tax_group"):
            return one_of(body, "tax_group", TaxGroup)
        return await self.get_group(tax_group_id)

    async def delete_group(self, tax_group_id: str) -> None:
        await self._client.request("DELETE", f"{self._groups}/{tax_group_id}")


class _CurrenciesSpec(_Spec[Currency]):
    _path = "/settings/currencies"
    _list_key = "currencies"
    _item_key = "currency"
    _model = Currency

    def _one(self, body: dict[str, Any]) -> Currency:
        return one_of(body, self._item_key, Currency)


class Currencies(_CurrenciesSpec):
    """The organization's currencies: ``list(filter_by="Currencies.ExcludeBaseCurrency")``,
    ``iter_all``, ``get``. A contact billed in one of them names it by ``currency_id``."""

    def __init__(self, client: ZohoInvoice) -> None:
        self._client = client

    def list(
        self, *, page: int = 1, per_page: int = MAX_PER_PAGE, **filters: Any
    ) -> Page[Currency]:
        options = self._list_options(page, per_page, filters)
        return self._client._request_page(options, self._list_key, Currency, page, per_page)

    def iter_all(self, **filters: Any) -> PageIterator[Currency]:
        return PageIterator(lambda number: self.list(page=number, **filters))

    def get(self, currency_id: str) -> Currency:
        return self._one(self._client.request("GET", f"{self._path}/{currency_id}"))


class AsyncCurrencies(_CurrenciesSpec):
    """The organization's currencies, async; see :class:`Currencies`."""

    def __init__(self, client: AsyncZohoInvoice) -> None:
        self._client = client

    async def list(
        self, *, page: int = 1, per_page: int = MAX_PER_PAGE, **filters: Any
    ) -> Page[Currency]:
        options = self._list_options(page, per_page, filters)
        return await self._client._request_page(options, self._list_key, Currency, page, per_page)

    def iter_all(self, **filters: Any) -> AsyncPageIterator[Currency]:
        async def fetch(number: int) -> Page[Currency]:
            return await self.list(page=number, **filters)

        return AsyncPageIterator(fetch)

    async def get(self, currency_id: str) -> Currency:
        return self._one(await self._client.request("GET", f"{self._path}/{currency_id}"))
