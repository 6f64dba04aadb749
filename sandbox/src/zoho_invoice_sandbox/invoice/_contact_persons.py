"""A contact's persons: who receives its invoices.

Each person is a row of its own (found by id, as Zoho's ``/contacts/contactpersons/{id}`` paths
need) and is shown in its contact's document too (``contact_persons``), kept in step here. A
contact has at most one primary person; the first person of a contact becomes primary when none
is marked. An invoice records the persons it goes to (``contact_persons``: ids; the primary one
by default) and is e-mailed to their addresses unless the request names others.

Zoho's errors: an unknown contact is 1002 "Contact does not exist", an unknown person 1002
"Contact Person does not exist" (both on Zoho's Invoice API pages).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from ._errors import ZohoAPIFailure, invalid
from ._resources import CONTACT_PERSONS, CONTACTS
from ._store import Doc, InvoiceStore

__all__ = [
    "ContactPersons",
    "invoice_persons",
    "invoice_recipients",
    "sync_contact_persons",
]

_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
#: Zoho's maximum lengths per field (its contact persons page).
_LIMITS = {
    "salutation": 25,
    "first_name": 100,
    "last_name": 100,
    "email": 100,
    "phone": 50,
    "mobile": 50,
    "skype": 50,
    "designation": 50,
    "department": 50,
}


def _contact_missing() -> ZohoAPIFailure:
    return ZohoAPIFailure(404, 1002, "Contact does not exist.")


def _person_missing() -> ZohoAPIFailure:
    return ZohoAPIFailure(404, 1002, "Contact Person does not exist.")


def _person_doc(
    body: Mapping[str, Any],
    contact_id: str,
    person_id: str,
    existing: Doc | None,
    *,
    named: bool = True,
) -> Doc:
    """A person's document; ``named``: ``first_name`` is required (Zoho marks it so for the
    contact person endpoints, not for the persons in a contact's own body)."""
    merged: dict[str, Any] = {**(existing or {}), **body}
    doc: Doc = {"contact_id": contact_id, "contact_person_id": person_id}
    for field, limit in _LIMITS.items():
        value = merged.get(field)
        if value is None:
            value = ""
        if isinstance(value, bool) or not isinstance(value, str | int) or len(str(value)) > limit:
            raise invalid(field)
        doc[field] = str(value).strip()
    if named and not doc["first_name"]:
        raise invalid("first_name")
    if doc["email"] and not _EMAIL.match(doc["email"]):
        raise invalid("email")
    for flag in ("is_primary_contact", "is_added_in_portal"):
        value = merged.get(flag, False)
        if not isinstance(value, bool):
            raise invalid(flag)
        doc[flag] = value
    return doc


def _persons_of(store: InvoiceStore, org: str, contact_id: str) -> list[Doc]:
    return store.select(
        CONTACT_PERSONS, org, where=["contact_id = ?"], params=[contact_id], order_by="id ASC"
    )


def _one_primary(store: InvoiceStore, org: str, persons: list[Doc], primary: str | None) -> None:
    """Exactly one primary person when there are any (``primary``, else the marked, else the
    first); rows rewritten where that changes."""
    if not persons:
        return
    if primary is None:
        marked = [p for p in persons if p["is_primary_contact"]]
        primary = (marked[-1] if marked else persons[0])["contact_person_id"]
    for person in persons:
        want = person["contact_person_id"] == primary
        if person["is_primary_contact"] != want:
            person["is_primary_contact"] = want
            store.replace(CONTACT_PERSONS, org, person)


def _show_on_contact(store: InvoiceStore, org: str, contact_id: str) -> list[Doc]:
    """Copy the persons into their contact's document; the persons as the contact shows them."""
    persons = _persons_of(store, org, contact_id)
    contact = store.get(CONTACTS, org, contact_id)
    if contact is not None:
        contact["contact_persons"] = persons
        store.replace(CONTACTS, org, contact)
    return persons


def sync_contact_persons(
    store: InvoiceStore, org: str, contact_id: str, given: Sequence[Any] | None
) -> list[Doc]:
    """The persons of a contact being saved with ``contact_persons`` in its body (``given``).

    A person with a known ``contact_person_id`` is updated, one without is added, and the
    contact's persons not in the list are removed; ``None`` (no list in the body) keeps them.
    """
    current = {p["contact_person_id"]: p for p in _persons_of(store, org, contact_id)}
    if given is None:
        return list(current.values())
    with store.transaction():
        kept: set[str] = set()
        for raw in given:
            if not isinstance(raw, dict):
                raise invalid("contact_persons")
            person_id = str(raw.get("contact_person_id") or "")
            existing = current.get(person_id)
            if person_id and existing is None:
                raise _person_missing()
            new_id = person_id or store.new_ids()[0]
            doc = _person_doc(raw, contact_id, new_id, existing, named=False)
            if existing is None:
                store.insert(CONTACT_PERSONS, org, doc)
            else:
                store.replace(CONTACT_PERSONS, org, doc)
            kept.add(doc["contact_person_id"])
        for person_id in set(current) - kept:
            store.delete(CONTACT_PERSONS, org, person_id)
        persons = _persons_of(store, org, contact_id)
        _one_primary(store, org, persons, None)
    return persons


class ContactPersons:
    """The contact persons of one organization, as Zoho's endpoints reach them."""

    def __init__(self, store: InvoiceStore, org: str) -> None:
        self.store = store
        self.org = org

    def _contact(self, contact_id: str) -> Doc:
        contact = self.store.get(CONTACTS, self.org, contact_id)
        if contact is None:
            raise _contact_missing()
        return contact

    def _person(self, person_id: str) -> Doc:
        person = self.store.get(CONTACT_PERSONS, self.org, person_id)
        # A person of a deleted contact is gone with it.
        if person is None or self.store.get(CONTACTS, self.org, person["contact_id"]) is None:
            raise _person_missing()
        return person

    def list(self, contact_id: str, page: int, per_page: int) -> tuple[list[Doc], bool]:
        self._contact(contact_id)
        persons = _persons_of(self.store, self.org, contact_id)
        start = (page - 1) * per_page
        return persons[start : start + per_page], len(persons) > start + per_page

    def get(self, contact_id: str, person_id: str) -> Doc:
        self._contact(contact_id)
        person = self._person(person_id)
        if person["contact_id"] != contact_id:
            raise _person_missing()
        return person

    def create(self, body: Mapping[str, Any]) -> Doc:
        contact_id = body.get("contact_id")
        if contact_id in (None, "") or isinstance(contact_id, bool):
            raise invalid("contact_id")
        with self.store.transaction():
            self._contact(str(contact_id))
            doc = _person_doc(body, str(contact_id), self.store.new_ids()[0], None)
            self.store.insert(CONTACT_PERSONS, self.org, doc)
            persons = _persons_of(self.store, self.org, doc["contact_id"])
            primary = doc["contact_person_id"] if doc["is_primary_contact"] else None
            _one_primary(self.store, self.org, persons, primary)
            _show_on_contact(self.store, self.org, doc["contact_id"])
            return self._person(doc["contact_person_id"])

    def update(self, person_id: str, body: Mapping[str, Any]) -> Doc:
        with self.store.transaction():
            existing = self._person(person_id)
            moved = body.get("contact_id")
            if moved not in (None, "", existing["contact_id"]):
                raise invalid("contact_id")
            doc = _person_doc(body, existing["contact_id"], person_id, existing)
            self.store.replace(CONTACT_PERSONS, self.org, doc)
            persons = _persons_of(self.store, self.org, doc["contact_id"])
            _one_primary(
                self.store, self.org, persons, person_id if doc["is_primary_contact"] else None
            )
            _show_on_contact(self.store, self.org, doc["contact_id"])
            return self._person(person_id)

    def delete(self, person_id: str) -> None:
        with self.store.transaction():
            person = self._person(person_id)
            self.store.delete(CONTACT_PERSONS, self.org, person_id)
            _show_on_contact(self.store, self.org, person["contact_id"])

    def mark_primary(self, person_id: str) -> None:
        with self.store.transaction():
            person = self._person(person_id)
            persons = _persons_of(self.store, self.org, person["contact_id"])
            _one_primary(self.store, self.org, persons, person_id)
            _show_on_contact(self.store, self.org, person["contact_id"])


def invoice_persons(
    store: InvoiceStore, org: str, customer: Mapping[str, Any], body: Mapping[str, Any]
) -> list[str]:
    """The persons an invoice goes to: the ids the body names (each one of the customer's), or
    the customer's primary person."""
    persons = _persons_of(store, org, str(customer["contact_id"]))
    given = body.get("contact_persons")
    if given is None or given == []:
        return [p["contact_person_id"] for p in persons if p["is_primary_contact"]]
    if not isinstance(given, list):
        raise invalid("contact_persons")
    known = {p["contact_person_id"] for p in persons}
    chosen = [str(v.get("contact_person_id") if isinstance(v, dict) else v) for v in given]
    if any(person_id not in known for person_id in chosen):
        raise invalid("contact_persons")
    return list(dict.fromkeys(chosen))


def invoice_recipients(store: InvoiceStore, org: str, invoice: Mapping[str, Any]) -> list[str]:
    """Addresses an invoice e-mail goes to when the request names none: its persons' e-mails,
    else its customer's."""
    addresses = []
    for person_id in invoice.get("contact_persons") or []:
        person = store.get(CONTACT_PERSONS, org, str(person_id))
        if person is not None and person.get("email"):
            addresses.append(str(person["email"]))
    if addresses:
        return list(dict.fromkeys(addresses))
    return [str(invoice["email"])] if invoice.get("email") else []
