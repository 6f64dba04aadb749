"""Unit tests of how invoices add up, and integration tests of customer payments through the
Invoice API simulator (balances, partially_paid / paid, deleting and editing a payment)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from starlette.testclient import TestClient

from sandbox_support import alice_headers
from zoho_invoice_sandbox import SandboxWorld
from zoho_invoice_sandbox.invoice import create_invoice_app
from zoho_invoice_sandbox.invoice._amounts import compute
from zoho_invoice_sandbox.invoice._errors import ZohoAPIFailure

API = "/us/invoice/v3"


def totals(body: dict[str, Any]) -> dict[str, Any]:
    counter = iter(range(100))
    return compute(body, lookup_item=lambda _: None, new_line_id=lambda: str(next(counter)))


def test_rate_times_quantity_with_line_discount_and_tax() -> None:
    result = totals(
        {
            "line_items": [
                {"name": "A", "rate": 19.99, "quantity": 3, "tax_percentage": 8.25},
                {"name": "B", "rate": 100, "quantity": 1, "discount": "10%"},
                {"name": "C", "rate": 10, "quantity": 2, "discount": 5},
            ]
        }
    )
    assert [line["item_total"] for line in result["line_items"]] == [59.97, 90.0, 15.0]
    assert result["sub_total"] == 164.97
    assert result["tax_total"] == 4.95  # 8.25% of 59.97 = 4.947…
    assert result["total"] == 169.92


def test_document_discount_before_and_after_tax() -> None:
    lines = [{"name": "A", "rate": 200, "quantity": 1, "tax_percentage": 10}]
    before = totals({"line_items": lines, "discount": "25%"})
    assert (before["discount_total"], before["tax_total"], before["total"]) == (50.0, 15.0, 165.0)
    after = totals({"line_items": lines, "discount": "25%", "is_discount_before_tax": False})
    assert (after["tax_total"], after["total"]) == (20.0, 170.0)
    fixed = totals(
        {"line_items": lines, "discount": 20, "shipping_charge": 9.5, "adjustment": -0.5}
    )
    assert fixed["total"] == 200 - 20 + 18 + 9.5 - 0.5


def test_rounding_to_cents() -> None:
    result = totals({"line_items": [{"name": "A", "rate": 0.333, "quantity": 3}]})
    assert result["total"] == 1.0
    result = totals({"line_items": [{"name": "A", "rate": 0.125, "quantity": 1}]})
    assert result["total"] == 0.13


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"line_items": "x"}, "line_items"),
        ({"line_items": [{"name": "A", "rate": 1, "tax_percentage": 101}]}, "tax_percentage"),
        ({"line_items": [{"name": "A", "rate": 10, "discount": 11}]}, "discount"),
        ({"line_items": [{"name": "A", "rate": True}]}, "rate"),
        ({"line_items": [{"name": "A", "rate": "NaN"}]}, "rate"),
        ({"line_items": [{"name": "A", "rate": 1}], "adjustment": -5}, "adjustment"),
    ],
)
def test_bad_amounts_are_refused(body: dict[str, Any], field: str) -> None:
    with pytest.raises(ZohoAPIFailure) as caught:
        totals(body)
    assert (caught.value.code, caught.value.message) == (2, f"Invalid value passed for {field}")


# -- payments through the API ---------------------------------------------------------------


@pytest.fixture
def world() -> Iterator[SandboxWorld]:
    world = SandboxWorld(base_url="http://sandbox.test", clock=lambda: 1_790_000_000.0)
    yield world
    world.close()


@pytest.fixture
def headers(world: SandboxWorld) -> dict[str, str]:
    return alice_headers(
        world,
        scopes=[
            "ZohoInvoice.invoices.ALL",
            "ZohoInvoice.contacts.ALL",
            "ZohoInvoice.customerpayments.ALL",
        ],
    )


@pytest.fixture
def client(world: SandboxWorld) -> Iterator[TestClient]:
    with TestClient(create_invoice_app(world)) as client:
        yield client


@pytest.fixture
def customer(client: TestClient, headers: dict[str, str]) -> str:
    answer = client.post(f"{API}/contacts", headers=headers, json={"contact_name": "Payer"})
    return str(answer.json()["contact"]["contact_id"])


def sent_invoice(client: TestClient, headers: dict[str, str], customer: str, rate: float) -> str:
    body = {"customer_id": customer, "line_items": [{"name": "Work", "rate": rate}]}
    invoice_id = str(
        client.post(f"{API}/invoices", headers=headers, json=body).json()["invoice"]["invoice_id"]
    )
    client.post(f"{API}/invoices/{invoice_id}/status/sent", headers=headers)
    return invoice_id


def invoice(client: TestClient, headers: dict[str, str], invoice_id: str) -> dict[str, Any]:
    return dict(client.get(f"{API}/invoices/{invoice_id}", headers=headers).json()["invoice"])


def test_payment_applies_and_delete_restores(
    client: TestClient, headers: dict[str, str], customer: str
) -> None:
    first = sent_invoice(client, headers, customer, 100)
    second = sent_invoice(client, headers, customer, 50.5)
    answer = client.post(
        f"{API}/customerpayments",
        headers=headers,
        json={
            "customer_id": customer,
            "amount": 130.5,
            "date": "2026-09-20",
            "payment_mode": "banktransfer",
            "invoices": [
                {"invoice_id": first, "amount_applied": 80},
                {"invoice_id": second, "amount_applied": 50.5},
            ],
        },
    )
    assert answer.status_code == 201, answer.text
    payment = answer.json()["payment"]
    assert payment["amount"] == 130.5
    assert [a["balance_amount"] for a in payment["invoices"]] == [20.0, 0.0]
    one, two = invoice(client, headers, first), invoice(client, headers, second)
    assert (one["status"], one["balance"], one["payment_made"]) == ("partially_paid", 20.0, 80.0)
    assert (two["status"], two["balance"]) == ("paid", 0.0)
    assert one["payments"][0]["payment_id"] == payment["payment_id"]
    # A paid invoice cannot be deleted while the payment stands (voiding it would turn the
    # payment into customer credit: test_invoice_rules.py).
    assert client.delete(f"{API}/invoices/{second}", headers=headers).json()["code"] == 4001
    listed = client.get(f"{API}/customerpayments", headers=headers).json()["customerpayments"]
    assert [p["payment_id"] for p in listed] == [payment["payment_id"]]

    assert (
        client.delete(
            f"{API}/customerpayments/{payment['payment_id']}", headers=headers
        ).status_code
        == 200
    )
    one, two = invoice(client, headers, first), invoice(client, headers, second)
    assert (one["status"], one["balance"], one["payments"]) == ("sent", 100.0, [])
    assert (two["status"], two["balance"]) == ("sent", 50.5)
    gone = client.get(f"{API}/customerpayments/{payment['payment_id']}", headers=headers)
    assert gone.json() == {"code": 1002, "message": "Payment does not exist."}


def test_payment_update_moves_the_money(
    client: TestClient, headers: dict[str, str], customer: str
) -> None:
    target = sent_invoice(client, headers, customer, 100)
    body = {
        "customer_id": customer,
        "amount": 100,
        "invoices": [{"invoice_id": target, "amount_applied": 100}],
    }
    payment = client.post(f"{API}/customerpayments", headers=headers, json=body).json()["payment"]
    assert invoice(client, headers, target)["status"] == "paid"
    answer = client.put(
        f"{API}/customerpayments/{payment['payment_id']}",
        headers=headers,
        json={"amount": 40, "invoices": [{"invoice_id": target, "amount_applied": 40}]},
    )
    assert answer.status_code == 200, answer.text
    assert answer.json()["payment"]["amount"] == 40
    after = invoice(client, headers, target)
    assert (after["status"], after["balance"], after["payment_made"]) == (
        "partially_paid",
        60.0,
        40.0,
    )


@pytest.mark.parametrize(
    ("application", "amount", "code", "field"),
    [
        # More than the invoice's balance: Zoho's own code (24016).
        ({"amount_applied": 101}, 200, 24016, None),
        ({"amount_applied": 60}, 50, 2, "amount"),
        ({"amount_applied": 0}, 50, 2, "amount_applied"),
        ({"invoice_id": "4600000000000999999", "amount_applied": 1}, 50, 2, "invoice_id"),
    ],
)
def test_bad_payments_change_nothing(
    client: TestClient,
    headers: dict[str, str],
    customer: str,
    application: dict[str, Any],
    amount: float,
    code: int,
    field: str | None,
) -> None:
    target = sent_invoice(client, headers, customer, 100)
    body = {
        "customer_id": customer,
        "amount": amount,
        "invoices": [{"invoice_id": target, **application}],
    }
    answer = client.post(f"{API}/customerpayments", headers=headers, json=body)
    assert (answer.status_code, answer.json()["code"]) == (400, code)
    if field is not None:
        assert answer.json()["message"] == f"Invalid value passed for {field}"
    assert invoice(client, headers, target)["balance"] == 100
    assert client.get(f"{API}/customerpayments", headers=headers).json()["customerpayments"] == []


def test_payment_on_a_draft_or_another_customers_invoice_is_refused(
    client: TestClient, headers: dict[str, str], customer: str
) -> None:
    draft_body = {"customer_id": customer, "line_items": [{"name": "W", "rate": 10}]}
    draft = client.post(f"{API}/invoices", headers=headers, json=draft_body).json()["invoice"]
    body = {
        "customer_id": customer,
        "amount": 10,
        "invoices": [{"invoice_id": draft["invoice_id"], "amount_applied": 10}],
    }
    assert client.post(f"{API}/customerpayments", headers=headers, json=body).json()["code"] == 2
    other = client.post(f"{API}/contacts", headers=headers, json={"contact_name": "Other"}).json()[
        "contact"
    ]
    theirs = sent_invoice(client, headers, other["contact_id"], 10)
    body["invoices"] = [{"invoice_id": theirs, "amount_applied": 10}]
    answer = client.post(f"{API}/customerpayments", headers=headers, json=body)
    assert answer.json() == {"code": 2, "message": "Invalid value passed for invoice_id"}


def test_invoice_total_cannot_drop_below_payments(
    client: TestClient, headers: dict[str, str], customer: str
) -> None:
    target = sent_invoice(client, headers, customer, 100)
    body = {
        "customer_id": customer,
        "amount": 80,
        "invoices": [{"invoice_id": target, "amount_applied": 80}],
    }
    client.post(f"{API}/customerpayments", headers=headers, json=body)
    lower = client.put(
        f"{API}/invoices/{target}",
        headers=headers,
        json={"line_items": [{"name": "W", "rate": 50}]},
    )
    assert lower.status_code == 400
    exact = client.put(
        f"{API}/invoices/{target}",
        headers=headers,
        json={"line_items": [{"name": "W", "rate": 80}]},
    )
    assert exact.json()["invoice"]["status"] == "paid"
    contact = client.get(f"{API}/contacts/{customer}", headers=headers).json()["contact"]
    assert contact["outstanding_receivable_amount"] == 0
