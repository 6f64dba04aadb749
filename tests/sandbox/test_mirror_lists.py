"""Integration tests: the sandbox plays Zoho's lists as a mirror reads them (issue 10,
docs/zoho/mirror-lists.md) - ``last_modified_time`` on every row of the seven lists, the filter
strictly after or inclusive, on every list or invoices only, the sort on contacts only or every
list, no line items in lists, and every change moving ``last_modified_time`` to the second."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

import pytest
from starlette.testclient import TestClient

from support import Clock
from zoho_invoice_sandbox import SandboxWorld
from zoho_invoice_sandbox.invoice import InvoiceLimits, create_invoice_app

API = "/us/invoice/v3"
Headers = dict[str, str]
#: The seven lists a mirror keeps: path, the key of the list, the key of one record, its id.
LISTS = {
    "contacts": ("/contacts", "contacts", "contact", "contact_id"),
    "items": ("/items", "items", "item", "item_id"),
    "invoices": ("/invoices", "invoices", "invoice", "invoice_id"),
    "estimates": ("/estimates", "estimates", "estimate", "estimate_id"),
    "customer_payments": ("/customerpayments", "customerpayments", "payment", "payment_id"),
    "credit_notes": ("/creditnotes", "creditnotes", "creditnote", "creditnote_id"),
    "recurring_invoices": (
        "/recurringinvoices",
        "recurring_invoices",
        "recurring_invoice",
        "recurring_invoice_id",
    ),
}
LINES = [{"name": "Work", "rate": 100, "quantity": 1}]


def ok(answer: Any, status: int = 200) -> dict[str, Any]:
    assert answer.status_code == status, answer.text
    body = dict(answer.json())
    assert body["code"] == 0, body
    return body


def with_limits(client: TestClient, **changes: Any) -> None:
    answer = client.put("/_sandbox/limits", json=changes)
    assert answer.status_code == 200, answer.text


class Books:
    """alice's first organization through the Invoice API, one record of each kind at a time."""

    def __init__(self, client: TestClient, headers: Headers) -> None:
        self.client, self.headers = client, headers
        self._customer = ""
        self._serial = 0

    def call(self, method: str, path: str, status: int = 200, **kw: Any) -> dict[str, Any]:
        return ok(self.client.request(method, f"{API}{path}", headers=self.headers, **kw), status)

    def customer(self) -> str:
        if not self._customer:
            body = self.call("POST", "/contacts", 201, json={"contact_name": "Mirror Customer"})
            self._customer = str(body["contact"]["contact_id"])
        return self._customer

    def create(self, kind: str) -> dict[str, Any]:
        """A new record of ``kind`` (a key of LISTS)."""
        self._serial += 1
        n = self._serial
        path, _, one, _ = LISTS[kind]
        body: dict[str, Any]
        if kind == "contacts":
            body = {"contact_name": f"Contact {n}"}
        elif kind == "items":
            body = {"name": f"Item {n}", "rate": 10}
        elif kind == "customer_payments":
            invoice = self.create("invoices")
            self.call("POST", f"/invoices/{invoice['invoice_id']}/status/sent")
            body = {
                "customer_id": self.customer(),
                "amount": 10,
                "invoices": [{"invoice_id": invoice["invoice_id"], "amount_applied": 10}],
            }
        elif kind == "recurring_invoices":
            body = {
                "recurrence_name": f"Profile {n}",
                "customer_id": self.customer(),
                "start_date": "2027-06-01",
                "recurrence_frequency": "months",
                "repeat_every": 1,
                "line_items": LINES,
            }
        else:  # invoices, estimates, credit notes
            body = {"customer_id": self.customer(), "line_items": LINES}
        return dict(self.call("POST", path, 201, json=body)[one])

    def rows(self, kind: str, **params: Any) -> list[dict[str, Any]]:
        path, plural, _, _ = LISTS[kind]
        return list(self.call("GET", path, params=params)[plural])

    def ids(self, kind: str, **params: Any) -> list[str]:
        return [str(row[LISTS[kind][3]]) for row in self.rows(kind, **params)]


@pytest.fixture
def books(client: TestClient, headers: Headers) -> Books:
    return Books(client, headers)


@pytest.fixture
def client(world: SandboxWorld) -> Any:
    """The Invoice app with its control routes (``/_sandbox/limits``) at the root."""
    with TestClient(create_invoice_app(world, InvoiceLimits())) as client:
        yield client


def test_every_list_row_carries_last_modified_time_and_no_line_items(books: Books) -> None:
    for kind in LISTS:
        record = books.create(kind)
        rows = books.rows(kind)
        row = next(r for r in rows if r[LISTS[kind][3]] == record[LISTS[kind][3]])
        assert row["last_modified_time"] == record["last_modified_time"], kind
        # Zoho's timestamp form, to the second: 2026-09-21T13:33:20+0000.
        datetime.strptime(row["last_modified_time"], "%Y-%m-%dT%H:%M:%S%z")
        assert "line_items" not in row, kind


@pytest.mark.parametrize("kind", list(LISTS))
def test_the_filter_keeps_what_changed_strictly_after_by_default(
    books: Books, clock: Clock, kind: str
) -> None:
    first = books.create(kind)
    clock.now += 5
    second = books.create(kind)
    id_field = LISTS[kind][3]
    since = first["last_modified_time"]
    assert second[id_field] in books.ids(kind, last_modified_time=since)
    assert first[id_field] not in books.ids(kind, last_modified_time=since)


@pytest.mark.parametrize("kind", list(LISTS))
def test_the_inclusive_reading_keeps_the_values_own_second(
    client: TestClient, books: Books, clock: Clock, kind: str
) -> None:
    with_limits(client, modified_filter="inclusive")
    first = books.create(kind)
    clock.now += 5
    books.create(kind)
    id_field = LISTS[kind][3]
    assert first[id_field] in books.ids(kind, last_modified_time=first["last_modified_time"])


def test_when_only_invoices_honour_the_filter_the_other_lists_answer_everything(
    client: TestClient, books: Books, clock: Clock
) -> None:
    with_limits(client, modified_filter_everywhere=False)
    old_contact, old_invoice = books.create("contacts"), books.create("invoices")
    clock.now += 5
    books.create("contacts"), books.create("invoices")
    after = old_invoice["last_modified_time"]
    assert old_invoice["invoice_id"] not in books.ids("invoices", last_modified_time=after)
    assert old_contact["contact_id"] in books.ids("contacts", last_modified_time=after)


def test_sorting_by_last_modified_time_is_documented_for_contacts_only(
    client: TestClient, books: Books
) -> None:
    for kind in LISTS:
        books.create(kind)
    sort = {"sort_column": "last_modified_time", "sort_order": "A"}
    assert books.rows("contacts", **sort)
    for kind in (k for k in LISTS if k != "contacts"):
        answer = client.get(f"{API}{LISTS[kind][0]}", headers=books.headers, params=sort)
        assert answer.status_code == 400, kind
        assert answer.json() == {"code": 2, "message": "Invalid value passed for sort_column"}


@pytest.mark.parametrize("kind", list(LISTS))
def test_with_sort_by_last_modified_every_list_pages_in_that_order_ties_by_id(
    client: TestClient, books: Books, clock: Clock, kind: str
) -> None:
    with_limits(client, sort_by_last_modified=True)
    made = []
    for step in range(6):
        made.append(books.create(kind))
        if step % 2:
            clock.now += 1  # two records a second: ties a page boundary must not break
    first = books.create(kind)  # edited last below, so it must come last
    clock.now += 3
    path, _, _, id_field = LISTS[kind]
    if kind in ("contacts", "items", "invoices", "estimates"):
        books.call("PUT", f"{path}/{first[id_field]}", json={"reference_number": "moved"})
        moved = True
    else:
        moved = False
    seen: list[dict[str, Any]] = []
    for page in (1, 2, 3, 4, 5):
        seen += books.rows(
            kind, sort_column="last_modified_time", sort_order="A", page=page, per_page=2
        )
    stamps = [row["last_modified_time"] for row in seen]
    keys = [(parse(row["last_modified_time"]), int(row[id_field])) for row in seen]
    assert keys == sorted(keys), kind
    assert len({row[id_field] for row in seen}) == len(seen)
    assert len(stamps) >= 7
    if moved:
        assert seen[-1][id_field] == first[id_field]


def parse(stamp: str) -> float:
    return datetime.strptime(stamp, "%Y-%m-%dT%H:%M:%S%z").timestamp()


def test_unknown_reading_is_refused(client: TestClient) -> None:
    assert client.put("/_sandbox/limits", json={"modified_filter": "sometimes"}).status_code == 400
    assert client.put("/_sandbox/limits", json={"sort_by_last_modified": 1}).status_code == 400


Change = Callable[[Books, dict[str, Any]], None]


def _edit(books: Books, invoice: dict[str, Any]) -> None:
    books.call("PUT", f"/invoices/{invoice['invoice_id']}", json={"reference_number": "PO-1"})


def _mark_sent(books: Books, invoice: dict[str, Any]) -> None:
    books.call("POST", f"/invoices/{invoice['invoice_id']}/status/sent")


def _pay(books: Books, invoice: dict[str, Any]) -> None:
    books.call("POST", f"/invoices/{invoice['invoice_id']}/status/sent")
    body = {
        "customer_id": invoice["customer_id"],
        "amount": 10,
        "invoices": [{"invoice_id": invoice["invoice_id"], "amount_applied": 10}],
    }
    books.call("POST", "/customerpayments", 201, json=body)


def _void(books: Books, invoice: dict[str, Any]) -> None:
    books.call("POST", f"/invoices/{invoice['invoice_id']}/status/void")


@pytest.mark.parametrize("change", [_edit, _mark_sent, _pay, _void])
def test_every_change_moves_last_modified_time_to_the_second(
    books: Books, clock: Clock, change: Change
) -> None:
    invoice = books.create("invoices")
    clock.now += 61.75  # a change 61.75 s later shows 61 s later: Zoho keeps whole seconds
    change(books, invoice)
    after = books.call("GET", f"/invoices/{invoice['invoice_id']}")["invoice"]
    moved = parse(after["last_modified_time"]) - parse(invoice["last_modified_time"])
    assert moved == 61
    ids = books.ids("invoices", last_modified_time=invoice["last_modified_time"])
    assert invoice["invoice_id"] in ids


def test_deleting_a_payment_moves_its_invoice(books: Books, clock: Clock) -> None:
    payment = books.create("customer_payments")
    invoice_id = payment["invoices"][0]["invoice_id"]
    before = books.call("GET", f"/invoices/{invoice_id}")["invoice"]["last_modified_time"]
    clock.now += 2
    books.call("DELETE", f"/customerpayments/{payment['payment_id']}")
    assert invoice_id in books.ids("invoices", last_modified_time=before)
    assert payment["payment_id"] not in books.ids("customer_payments")


def test_two_changes_in_one_second_share_a_stamp(books: Books, clock: Clock) -> None:
    """The one-second resolution a mirror's cursor must live with: the strict filter at the
    first change's stamp misses the second change made in the same second."""
    invoice = books.create("invoices")
    clock.now += 1.1
    _edit(books, invoice)
    stamp = books.call("GET", f"/invoices/{invoice['invoice_id']}")["invoice"]
    clock.now += 0.5
    books.call("PUT", f"/invoices/{invoice['invoice_id']}", json={"reference_number": "PO-2"})
    again = books.call("GET", f"/invoices/{invoice['invoice_id']}")["invoice"]
    assert again["last_modified_time"] == stamp["last_modified_time"]
    assert again["reference_number"] == "PO-2"
    assert invoice["invoice_id"] not in books.ids(
        "invoices", last_modified_time=stamp["last_modified_time"]
    )
