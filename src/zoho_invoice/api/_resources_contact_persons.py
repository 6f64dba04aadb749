"""``client.contact_persons``: the people at a contact, who receive its invoices.

>>> person = client.contact_persons.create(contact_id, first_name="Will", email="will@bowman.test")
>>> client.contact_persons.mark_primary(person.contact_person_id)

Zoho's paths: list and get under ``/contacts/{contact_id}/contactpersons``; create, update,
delete and "mark as primary" under ``/contacts/contactpersons`` (the contact goes in the body on
create). Every call goes through ``client.request``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from ._base_client import RequestOptions
from ._constants import MAX_PER_PAGE
from ._pagination import AsyncPageIterator, Page, PageIterator
from ._request import build_options
from ._resources import Body, _body, _list_params
from ._resources_taxes import one_of
from .types import ContactPerson

if TYPE_CHECKING:
    from ._client import AsyncZohoInvoice, ZohoInvoice

__all__ = ["AsyncContactPersons", "ContactPersons"]

_BASE = "/contacts/contactpersons"
_KEY = "contact_person"
_LIST_KEY = "contact_persons"


def _list_options(
    contact_id: str, page: int, per_page: int, filters: Mapping[str, Any]
) -> RequestOptions:
    return build_options(
        "GET",
        f"/contacts/{contact_id}/contactpersons",
        params=_list_params(page, per_page, filters),
    )


def _create_body(contact_id: str, body: Body, fields: Mapping[str, Any]) -> dict[str, Any]:
    return {**_body(body, fields), "contact_id": contact_id}


class ContactPersons:
    """Contact persons: ``list(contact_id)``, ``iter_all(contact_id)``, ``get(contact_id, id)``,
    ``create(contact_id, ...)``, ``update(id, ...)``, ``delete(id)``, ``mark_primary(id)``."""

    def __init__(self, client: ZohoInvoice) -> None:
        self._client = client

    def list(
        self, contact_id: str, *, page: int = 1, per_page: int = MAX_PER_PAGE, **filters: Any
    ) -> Page[ContactPerson]:
        options = _list_options(contact_id, page, per_page, filters)
        return self._client._request_page(options, _LIST_KEY, ContactPerson, page, per_page)

    def iter_all(self, contact_id: str, **filters: Any) -> PageIterator[ContactPerson]:
        return PageIterator(lambda number: self.list(contact_id, page=number, **filters))

    def get(self, contact_id: str, contact_person_id: str) -> ContactPerson:
        path = f"/contacts/{contact_id}/contactpersons/{contact_person_id}"
        return one_of(self._client.request("GET", path), _KEY, ContactPerson)

    def create(self, contact_id: str, body: Body = None, **fields: Any) -> ContactPerson:
        """Add a person to a contact; never sent twice blindly (it would add two)."""
        answer = self._client.request("POST", _BASE, json=_create_body(contact_id, body, fields))
        return one_of(answer, _KEY, ContactPerson)

    def update(self, contact_person_id: str, body: Body = None, **fields: Any) -> ContactPerson:
        answer = self._client.request(
            "PUT", f"{_BASE}/{contact_person_id}", json=_body(body, fields)
        )
        return one_of(answer, _KEY, ContactPerson)

    def delete(self, contact_person_id: str) -> None:
        self._client.request("DELETE", f"{_BASE}/{contact_person_id}")

    def mark_primary(self, contact_person_id: str) -> None:
        """Make this person the contact's primary one (safe to repeat)."""
        self._client.request("POST", f"{_BASE}/{contact_person_id}/primary", idempotent=True)


class AsyncContactPersons:
    """Contact persons, async; see :class:`ContactPersons`."""

    def __init__(self, client: AsyncZohoInvoice) -> None:
        self._client = client

    async def list(
        self, contact_id: str, *, page: int = 1, per_page: int = MAX_PER_PAGE, **filters: Any
    ) -> Page[ContactPerson]:
        options = _list_options(contact_id, page, per_page, filters)
        return await self._client._request_page(options, _LIST_KEY, ContactPerson, page, per_page)

    def iter_all(self, contact_id: str, **filters: Any) -> AsyncPageIterator[ContactPerson]:
        async def fetch(number: int) -> Page[ContactPerson]:
            return await self.list(contact_id, page=number, **filters)

        return AsyncPageIterator(fetch)

    async def get(self, contact_id: str, contact_person_id: str) -> ContactPerson:
        path = f"/contacts/{contact_id}/contactpersons/{contact_person_id}"
        return one_of(await self._client.request("GET", path), _KEY, ContactPerson)

    async def create(self, contact_id: str, body: Body = None, **fields: Any) -> ContactPerson:
        """Add a person to a contact; never sent twice blindly (it would add two)."""
        answer = await self._client.request(
            "POST", _BASE, json=_create_body(contact_id, body, fields)
        )
        return one_of(answer, _KEY, ContactPerson)

    async def update(
        self, contact_person_id: str, body: Body = None, **fields: Any
    ) -> ContactPerson:
        answer = await self._client.request(
            "PUT", f"{_BASE}/{contact_person_id}", json=_body(body, fields)
        )
        return one_of(answer, _KEY, ContactPerson)

    async def delete(self, contact_person_id: str) -> None:
        await self._client.request("DELETE", f"{_BASE}/{contact_person_id}")

    async def mark_primary(self, contact_person_id: str) -> None:
        """Make this person the contact's primary one (safe to repeat)."""
        await self._client.request("POST", f"{_BASE}/{contact_person_id}/primary", idempotent=True)
