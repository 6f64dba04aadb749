"""The API's resources, in sync/async pairs hung on the client (``client.invoices`` …).

A generic base per twin does list / iter_all / get / create / update / delete for any resource
described by its path, its envelope keys and its model; the concrete classes add the actions
(``mark_sent``, ``void`` …). Inputs are a params model, a mapping, or keyword arguments.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from pydantic import BaseModel

from ._base_client import RequestOptions
from ._constants import MAX_PER_PAGE
from ._pagination import AsyncPageIterator, Page, PageIterator
from ._request import build_options
from ._resources_invoice_credits import AsyncInvoiceCredits, InvoiceCredits
from ._resources_invoice_extras import AsyncInvoiceExtras, InvoiceExtras
from .types import Contact, CustomerPayment, Estimate, Invoice, Item, Organization, User

if TYPE_CHECKING:
    from ._client import AsyncZohoInvoice, ZohoInvoice

__all__ = [
    "AsyncContacts",
    "AsyncCustomerPayments",
    "AsyncEstimates",
    "AsyncInvoices",
    "AsyncItems",
    "AsyncOrganizations",
    "AsyncUsers",
    "Contacts",
    "CustomerPayments",
    "Estimates",
    "Invoices",
    "Items",
    "Organizations",
    "Users",
]

M = TypeVar("M", bound=BaseModel)
Body = BaseModel | Mapping[str, Any] | None


def _body(body: Body, fields: Mapping[str, Any]) -> dict[str, Any]:
    if body is None:
        merged: dict[str, Any] = {}
    elif isinstance(body, BaseModel):
        merged = body.model_dump(mode="python", exclude_none=True)
    else:
        merged = dict(body)
    merged.update({key: value for key, value in fields.items() if value is not None})
    return merged


def _list_params(page: int, per_page: int, filters: Mapping[str, Any]) -> dict[str, Any]:
    if page < 1:
        raise ValueError("page starts at 1")
    if not 1 <= per_page <= MAX_PER_PAGE:
        raise ValueError(f"per_page must be between 1 and {MAX_PER_PAGE}")
    return {**filters, "page": page, "per_page": per_page}


class _Spec(Generic[M]):
    _path: str
    _list_key: str
    _item_key: str
    _model: type[M]

    def _one(self, body: dict[str, Any]) -> M:
        return self._model.model_validate(body.get(self._item_key) or {})

    def _list_options(self, page: int, per_page: int, filters: Mapping[str, Any]) -> RequestOptions:
        return build_options("GET", self._path, params=_list_params(page, per_page, filters))

    def _page(self, body: dict[str, Any], page: int, per_page: int) -> Page[M]:
        return Page.from_body(body, self._list_key, self._model, page=page, per_page=per_page)


class _SyncResource(_Spec[M]):
    def __init__(self, client: ZohoInvoice) -> None:
        self._client = client

    def list(self, *, page: int = 1, per_page: int = MAX_PER_PAGE, **filters: Any) -> Page[M]:
        """One page. Filters pass through by Zoho's names (``status=``, ``date_after=`` …)."""
        options = self._list_options(page, per_page, filters)
        return self._client._request_page(options, self._list_key, self._model, page, per_page)

    def iter_all(self, **filters: Any) -> PageIterator[M]:
        """Every item, fetched 200 at a time: ``for invoice in client.invoices.iter_all():``."""
        return PageIterator(lambda number: self.list(page=number, per_page=MAX_PER_PAGE, **filters))

    def get(self, resource_id: str, **params: Any) -> M:
        body = self._client.request("GET", f"{self._path}/{resource_id}", params=params)
        return self._one(body)

    def create(self, body: Body = None, **fields: Any) -> M:
        """Create; never sent twice blindly (a retry could duplicate it)."""
        answer = self._client.request("POST", self._path, json=_body(body, fields))
        return self._one(answer)

    def update(self, resource_id: str, body: Body = None, **fields: Any) -> M:
        answer = self._client.request(
            "PUT", f"{self._path}/{resource_id}", json=_body(body, fields)
        )
        return self._one(answer)

    def delete(self, resource_id: str) -> None:
        self._client.request("DELETE", f"{self._path}/{resource_id}")

    def _action(self, resource_id: str, action: str, *, idempotent: bool = True) -> None:
        self._client.request("POST", f"{self._path}/{resource_id}/{action}", idempotent=idempotent)


class _AsyncResource(_Spec[M]):
    def __init__(self, client: AsyncZohoInvoice) -> None:
        self._client = client

    async def list(self, *, page: int = 1, per_page: int = MAX_PER_PAGE, **filters: Any) -> Page[M]:
        """One page. Filters pass through by Zoho's names (``status=``, ``date_after=`` …)."""
        options = self._list_options(page, per_page, filters)
        return await self._client._request_page(
            options, self._list_key, self._model, page, per_page
        )

    def iter_all(self, **filters: Any) -> AsyncPageIterator[M]:
        """Every item, 200 at a time: ``async for invoice in client.invoices.iter_all():``."""

        async def fetch(number: int) -> Page[M]:
            return await self.list(page=number, per_page=MAX_PER_PAGE, **filters)

        return AsyncPageIterator(fetch)

    async def get(self, resource_id: str, **params: Any) -> M:
        body = await self._client.request("GET", f"{self._path}/{resource_id}", params=params)
        return self._one(body)

    async def create(self, body: Body = None, **fields: Any) -> M:
        """Create; never sent twice blindly (a retry could duplicate it)."""
        answer = await self._client.request("POST", self._path, json=_body(body, fields))
        return self._one(answer)

    async def update(self, resource_id: str, body: Body = None, **fields: Any) -> M:
        answer = await self._client.request(
            "PUT", f"{self._path}/{resource_id}", json=_body(body, fields)
        )
        return self._one(answer)

    async def delete(self, resource_id: str) -> None:
        await self._client.request("DELETE", f"{self._path}/{resource_id}")

    async def _action(self, resource_id: str, action: str, *, idempotent: bool = True) -> None:
        await self._client.request(
            "POST", f"{self._path}/{resource_id}/{action}", idempotent=idempotent
        )


# -- organizations ---------------------------------------------------------------------------
class _OrganizationsSpec(_Spec[Organization]):
    _path = "/organizations"
    _list_key = "organizations"
    _item_key = "organization"
    _model = Organization


class Organizations(_OrganizationsSpec):
    """The organizations the token's user belongs to (no organization id needed)."""

    def __init__(self, client: ZohoInvoice) -> None:
        self._client = client

    def list(self) -> list[Organization]:
        body = self._client.request("GET", self._path)
        return [Organization.model_validate(org) for org in body.get("organizations") or []]

    def get(self, resource_id: str) -> Organization:
        return self._one(self._client.request("GET", f"{self._path}/{resource_id}"))


class AsyncOrganizations(_OrganizationsSpec):
    """The organizations the token's user belongs to (no organization id needed)."""

    def __init__(self, client: AsyncZohoInvoice) -> None:
        self._client = client

    async def list(self) -> list[Organization]:
        body = await self._client.request("GET", self._path)
        return [Organization.model_validate(org) for org in body.get("organizations") or []]

    async def get(self, resource_id: str) -> Organization:
        return self._one(await self._client.request("GET", f"{self._path}/{resource_id}"))


# -- users ---------------------------------------------------------------------------------
class _UsersSpec(_Spec[User]):
    _path = "/users"
    _list_key = "users"
    _item_key = "user"
    _model = User


class Users(_UsersSpec):
    """Who the token belongs to: ``client.users.me()`` (needs an organization id).

    Zoho answers for the organization the request names: the token's user as a user of that
    organization (scope ZohoInvoice.settings.READ).
    """

    def __init__(self, client: ZohoInvoice) -> None:
        self._client = client

    def me(self) -> User:
        return self._one(self._client.request("GET", "/users/me"))

    def list(self, *, page: int = 1, per_page: int = MAX_PER_PAGE, **filters: Any) -> Page[User]:
        """The organization's users (``filter_by="Status.Active"`` …)."""
        options = self._list_options(page, per_page, filters)
        return self._client._request_page(options, self._list_key, User, page, per_page)

    def get(self, user_id: str) -> User:
        return self._one(self._client.request("GET", f"{self._path}/{user_id}"))


class AsyncUsers(_UsersSpec):
    """Who the token belongs to: ``await client.users.me()`` (needs an organization id)."""

    def __init__(self, client: AsyncZohoInvoice) -> None:
        self._client = client

    async def me(self) -> User:
        return self._one(await self._client.request("GET", "/users/me"))

    async def list(
        self, *, page: int = 1, per_page: int = MAX_PER_PAGE, **filters: Any
    ) -> Page[User]:
        """The organization's users (``filter_by="Status.Active"`` …)."""
        options = self._list_options(page, per_page, filters)
        return await self._client._request_page(options, self._list_key, User, page, per_page)

    async def get(self, user_id: str) -> User:
        return self._one(await self._client.request("GET", f"{self._path}/{user_id}"))


# -- contacts ------------------------------------------------------------------------------
class _ContactsSpec(_Spec[Contact]):
    _path = "/contacts"
    _list_key = "contacts"
    _item_key = "contact"
    _model = Contact


class Contacts(_ContactsSpec, _SyncResource[Contact]):
    def mark_active(self, resource_id: str) -> None:
        self._action(resource_id, "active")

    def mark_inactive(self, resource_id: str) -> None:
        self._action(resource_id, "inactive")


class AsyncContacts(_ContactsSpec, _AsyncResource[Contact]):
    async def mark_active(self, resource_id: str) -> None:
        await self._action(resource_id, "active")

    async def mark_inactive(self, resource_id: str) -> None:
        await self._action(resource_id, "inactive")


# -- items ---------------------------------------------------------------------------------
class _ItemsSpec(_Spec[Item]):
    _path = "/items"
    _list_key = "items"
    _item_key = "item"
    _model = Item


class Items(_ItemsSpec, _SyncResource[Item]):
    def mark_active(self, resource_id: str) -> None:
        self._action(resource_id, "active")

    def mark_inactive(self, resource_id: str) -> None:
        self._action(resource_id, "inactive")


class AsyncItems(_ItemsSpec, _AsyncResource[Item]):
    async def mark_active(self, resource_id: str) -> None:
        await self._action(resource_id, "active")

    async def mark_inactive(self, resource_id: str) -> None:
        await self._action(resource_id, "inactive")


# -- invoices ------------------------------------------------------------------------------
class _InvoicesSpec(_Spec[Invoice]):
    _path = "/invoices"
    _list_key = "invoices"
    _item_key = "invoice"
    _model = Invoice

    @staticmethod
    def _create_params(
        body: Mapping[str, Any], send: bool | None, ignore_auto_number_generation: bool | None
    ) -> dict[str, str] | None:
        # Zoho reads both from the query string; with its numbering off it needs the number.
        if ignore_auto_number_generation and not str(body.get("invoice_number") or "").strip():
            raise ValueError("invoice_number is required with ignore_auto_number_generation")
        params = {
            name: "true" if value else "false"
            for name, value in (
                ("send", send),
                ("ignore_auto_number_generation", ignore_auto_number_generation),
            )
            if value is not None
        }
        return params or None


class Invoices(_InvoicesSpec, InvoiceCredits, InvoiceExtras, _SyncResource[Invoice]):
    def create(
        self,
        body: Body = None,
        *,
        send: bool | None = None,
        ignore_auto_number_generation: bool | None = None,
        **fields: Any,
    ) -> Invoice:
        """Create an invoice; never sent twice blindly (a retry could duplicate it).

        ``send=True`` e-mails it to the customer's contact persons at once;
        ``ignore_auto_number_generation=True`` keeps your ``invoice_number`` (then required)
        instead of the organization's next number.
        """
        json = _body(body, fields)
        params = self._create_params(json, send, ignore_auto_number_generation)
        return self._one(self._client.request("POST", self._path, params=params, json=json))

    def mark_sent(self, resource_id: str) -> None:
        self._action(resource_id, "status/sent")

    def void(self, resource_id: str) -> None:
        self._action(resource_id, "status/void")

    def mark_draft(self, resource_id: str) -> None:
        self._action(resource_id, "status/draft")

    def email(self, resource_id: str, body: Body = None, **fields: Any) -> None:
        """Email the invoice (``to_mail_ids=[...]``, ``subject=``, ``body=`` …)."""
        # Sending mail twice is visible to the customer: a POST, not repeated after a lost answer.
        self._client.request("POST", f"{self._path}/{resource_id}/email", json=_body(body, fields))

    def pdf(self, resource_id: str) -> bytes:
        """The invoice as a PDF document."""
        return self._client.request_bytes(
            "GET", f"{self._path}/{resource_id}", params={"accept": "pdf"}
        )


class AsyncInvoices(
    _InvoicesSpec, AsyncInvoiceCredits, AsyncInvoiceExtras, _AsyncResource[Invoice]
):
    async def create(
        self,
        body: Body = None,
        *,
        send: bool | None = None,
        ignore_auto_number_generation: bool | None = None,
        **fields: Any,
    ) -> Invoice:
        """Create an invoice; never sent twice blindly (a retry could duplicate it).

        ``send=True`` e-mails it to the customer's contact persons at once;
        ``ignore_auto_number_generation=True`` keeps your ``invoice_number`` (then required)
        instead of the organization's next number.
        """
        json = _body(body, fields)
        params = self._create_params(json, send, ignore_auto_number_generation)
        answer = await self._client.request("POST", self._path, params=params, json=json)
        return self._one(answer)

    async def mark_sent(self, resource_id: str) -> None:
        await self._action(resource_id, "status/sent")

    async def void(self, resource_id: str) -> None:
        await self._action(resource_id, "status/void")

    async def mark_draft(self, resource_id: str) -> None:
        await self._action(resource_id, "status/draft")

    async def email(self, resource_id: str, body: Body = None, **fields: Any) -> None:
        """Email the invoice (``to_mail_ids=[...]``, ``subject=``, ``body=`` …)."""
        # Sending mail twice is visible to the customer: a POST, not repeated after a lost answer.
        await self._client.request(
            "POST", f"{self._path}/{resource_id}/email", json=_body(body, fields)
        )

    async def pdf(self, resource_id: str) -> bytes:
        """The invoice as a PDF document."""
        return await self._client.request_bytes(
            "GET", f"{self._path}/{resource_id}", params={"accept": "pdf"}
        )


# -- estimates -----------------------------------------------------------------------------
class _EstimatesSpec(_Spec[Estimate]):
    _path = "/estimates"
    _list_key = "estimates"
    _item_key = "estimate"
    _model = Estimate


class Estimates(_EstimatesSpec, _SyncResource[Estimate]):
    def mark_sent(self, resource_id: str) -> None:
        self._action(resource_id, "status/sent")

    def mark_accepted(self, resource_id: str) -> None:
        self._action(resource_id, "status/accepted")

    def mark_declined(self, resource_id: str) -> None:
        self._action(resource_id, "status/declined")


class AsyncEstimates(_EstimatesSpec, _AsyncResource[Estimate]):
    async def mark_sent(self, resource_id: str) -> None:
        await self._action(resource_id, "status/sent")

    async def mark_accepted(self, resource_id: str) -> None:
        await self._action(resource_id, "status/accepted")

    async def mark_declined(self, resource_id: str) -> None:
        await self._action(resource_id, "status/declined")


# -- customer payments ---------------------------------------------------------------------
class _CustomerPaymentsSpec(_Spec[CustomerPayment]):
    _path = "/customerpayments"
    _list_key = "customerpayments"
    _item_key = "payment"
    _model = CustomerPayment


class CustomerPayments(_CustomerPaymentsSpec, _SyncResource[CustomerPayment]):
    """Payments received; the body names the invoices paid (``invoices=[{invoice_id, …}]``)."""


class AsyncCustomerPayments(_CustomerPaymentsSpec, _AsyncResource[CustomerPayment]):
    """Payments received; the body names the invoices paid (``invoices=[{invoice_id, …}]``)."""
