"""Zoho's own rules, played by the Invoice API simulator (issue 7, docs/zoho/sandbox-rules.md).

Deleting invoices (only money stops it: 4001, 12008), voiding an invoice with payments (they turn
into customer credits) and marking a void invoice as draft, the error code of each resource (3000,
2006, 2049, 1000, 3062, 24016), sorting and filters, custom fields, the PDF's file name and the
list's page_context.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from starlette.testclient import TestClient

from sandbox_support import mint
from zoho_invoice.sandbox import SandboxWorld
from zoho_invoice.sandbox.invoice import create_invoice_app, store_for_world
from zoho_invoice.sandbox.invoice._resources import INVOICES

NOW = 1_790_000_000.0  # 2026-09-21T13:33:20Z
API = "/us/invoice/v3"


@pytest.fixture
def world() -> Iterator[SandboxWorld]:
    world = SandboxWorld(base_url="http://sandbox.test", clock=lambda: NOW)
    yield world
    world.close()


@pytest.fixture
def client(world: SandboxWorld) -> Iterator[TestClient]:
    with TestClient(create_invoice_app(world)) as client:
        yield client


@pytest.fixture
def org(world: SandboxWorld) -> str:
    alice = world.directory.user_by_email("alice@acme.example")
    assert alice is not None
    return alice.organization_ids[0]


@pytest.fixture
def headers(world: SandboxWorld, org: str) -> dict[str, str]:
    token = mint(world, "alice@acme.example", ["ZohoInvoice.fullaccess.all"])
    return {
        "Authorization": f"Zoho-oauthtoken {token}",
        "X-com-zoho-invoice-organizationid": org,
    }


def ok(answer: Any, status: int = 200) -> dict[str, Any]:
    assert answer.status_code == status, answer.text
    body = answer.json()
    assert body["code"] == 0, body
    return dict(body)


def make_contact(client: TestClient, headers: dict[str, str], name: str = "Zed Ltd") -> str:
    body = ok(client.post(f"{API}/contacts", headers=headers, json={"contact_name": name}), 201)
    return str(body["contact"]["contact_id"])


def make_invoice(
    client: TestClient, headers: dict[str, str], customer_id: str, **fields: Any
) -> dict[str, Any]:
    body = {
        "customer_id": customer_id,
        "line_items": [{"name": "Work", "rate": 100, "quantity": 2}],
        **fields,
    }
    return dict(ok(client.post(f"{API}/invoices", headers=headers, json=body), 201)["invoice"])


def pay(
    client: TestClient, headers: dict[str, str], invoice: dict[str, Any], amount: float
) -> dict[str, Any]:
    body = {
        "customer_id": invoice["customer_id"],
        "amount": amount,
        "invoices": [{"invoice_id": invoice["invoice_id"], "amount_applied": amount}],
    }
    answer = client.post(f"{API}/customerpayments", headers=headers, json=body)
    return dict(ok(answer, 201)["payment"])


def get(client: TestClient, headers: dict[str, str], path: str) -> dict[str, Any]:
    return ok(client.get(f"{API}{path}", headers=headers))


# -- 1. deleting invoices ---------------------------------------------------------------------


@pytest.mark.parametrize("state", ["sent", "void"])
def test_an_invoice_without_money_is_deleted_whatever_its_status(
    client: TestClient, headers: dict[str, str], state: str
) -> None:
    invoice = make_invoice(client, headers, make_contact(client, headers))
    invoice_id = invoice["invoice_id"]
    ok(client.post(f"{API}/invoices/{invoice_id}/status/sent", headers=headers))
    if state == "void":
        ok(client.post(f"{API}/invoices/{invoice_id}/status/void", headers=headers))
    ok(client.delete(f"{API}/invoices/{invoice_id}", headers=headers))
    gone = client.get(f"{API}/invoices/{invoice_id}", headers=headers)
    assert (gone.status_code, gone.json()["code"]) == (404, 1002)


def test_an_invoice_with_payments_is_not_deleted_4001(
    client: TestClient, headers: dict[str, str]
) -> None:
    invoice = make_invoice(client, headers, make_contact(client, headers))
    invoice_id = invoice["invoice_id"]
    ok(client.post(f"{API}/invoices/{invoice_id}/status/sent", headers=headers))
    payment = pay(client, headers, invoice, 50)
    refused = client.delete(f"{API}/invoices/{invoice_id}", headers=headers)
    assert refused.status_code == 400
    assert refused.json()["code"] == 4001
    assert refused.json()["message"].startswith("Payments have been recorded")
    assert get(client, headers, f"/invoices/{invoice_id}")["invoice"]["payment_made"] == 50
    # Without its payment the invoice goes.
    ok(client.delete(f"{API}/customerpayments/{payment['payment_id']}", headers=headers))
    ok(client.delete(f"{API}/invoices/{invoice_id}", headers=headers))


def test_an_invoice_with_applied_credits_is_not_deleted_12008(
    client: TestClient, headers: dict[str, str], world: SandboxWorld, org: str
) -> None:
    invoice = make_invoice(client, headers, make_contact(client, headers))
    # Credit notes are played by their own module; here the stored invoice carries the credit.
    store = store_for_world(world)
    doc = store.get(INVOICES, org, invoice["invoice_id"])
    assert doc is not None
    store.replace(INVOICES, org, {**doc, "credits_applied": 20.0})
    refused = client.delete(f"{API}/invoices/{invoice['invoice_id']}", headers=headers)
    assert (refused.status_code, refused.json()["code"]) == (400, 12008)
    assert store.get(INVOICES, org, invoice["invoice_id"]) is not None


# -- 2. void and draft ------------------------------------------------------------------------


def test_voiding_an_invoice_with_payments_turns_them_into_customer_credit(
    client: TestClient, headers: dict[str, str]
) -> None:
    contact_id = make_contact(client, headers)
    invoice = make_invoice(client, headers, contact_id)
    invoice_id = invoice["invoice_id"]
    ok(client.post(f"{API}/invoices/{invoice_id}/status/sent", headers=headers))
    payment = pay(client, headers, invoice, 50)
    assert (
        get(client, headers, f"/contacts/{contact_id}")["contact"][
            "unused_credits_receivable_amount"
        ]
        == 0
    )

    voided = ok(client.post(f"{API}/invoices/{invoice_id}/status/void", headers=headers))
    assert voided["message"] == "Invoice status has been changed to Void."
    got = get(client, headers, f"/invoices/{invoice_id}")["invoice"]
    assert (got["status"], got["balance"], got["payment_made"], got["payments"]) == (
        "void",
        0,
        0,
        [],
    )
    # The payment record stays, unapplied: its money is the customer's credit now.
    kept = get(client, headers, f"/customerpayments/{payment['payment_id']}")["payment"]
    assert (kept["amount"], kept["unused_amount"], kept["invoices"]) == (50, 50, [])
    contact = get(client, headers, f"/contacts/{contact_id}")["contact"]
    assert contact["unused_credits_receivable_amount"] == 50
    assert contact["outstanding_receivable_amount"] == 0

    # A voided invoice goes back to draft with its whole amount due, and no money on it.
    drafted = ok(client.post(f"{API}/invoices/{invoice_id}/status/draft", headers=headers))
    assert drafted["message"] == "Status of invoice changed from void to draft"
    got = get(client, headers, f"/invoices/{invoice_id}")["invoice"]
    assert (got["status"], got["balance"], got["payment_made"]) == ("draft", 200, 0)
    # Nothing holds it any more.
    ok(client.delete(f"{API}/invoices/{invoice_id}", headers=headers))


@pytest.mark.parametrize("state", ["draft", "sent", "paid"])
def test_only_a_void_invoice_is_marked_as_draft(
    client: TestClient, headers: dict[str, str], state: str
) -> None:
    invoice = make_invoice(client, headers, make_contact(client, headers))
    invoice_id = invoice["invoice_id"]
    if state != "draft":
        ok(client.post(f"{API}/invoices/{invoice_id}/status/sent", headers=headers))
    if state == "paid":
        pay(client, headers, invoice, 200)
    refused = client.post(f"{API}/invoices/{invoice_id}/status/draft", headers=headers)
    assert (refused.status_code, refused.json()["code"]) == (400, 2)
    got = get(client, headers, f"/invoices/{invoice_id}")["invoice"]
    assert got["status"] == state
