"""Integration tests of the Invoice API simulator through Starlette's TestClient.

Auth (codes 14, 57, DC and scope), organizations (code 2, 6041), every resource's CRUD, status
changes, e-mail, PDF, errors 1001 / 1002 / 3000, and JSONString bodies (Zoho's delete, void and
error rules in detail: test_invoice_rules.py).
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from starlette.testclient import TestClient

from sandbox_support import mint
from support import Clock
from zoho_invoice_sandbox import Fault, SandboxWorld

API = "/us/invoice/v3"


def make_contact(client: TestClient, headers: dict[str, str], **fields: Any) -> dict[str, Any]:
    answer = client.post(
        f"{API}/contacts", headers=headers, json={"contact_name": "Zed Ltd", **fields}
    )
    assert answer.status_code == 201, answer.text
    return dict(answer.json()["contact"])


def make_invoice(
    client: TestClient, headers: dict[str, str], customer_id: str, **fields: Any
) -> dict[str, Any]:
    body = {
        "customer_id": customer_id,
        "line_items": [{"name": "Work", "rate": 100, "quantity": 2}],
    }
    answer = client.post(f"{API}/invoices", headers=headers, json={**body, **fields})
    assert answer.status_code == 201, answer.text
    return dict(answer.json()["invoice"])


# -- authentication and organizations ---------------------------------------------------------


@pytest.mark.parametrize(
    "authorization",
    [None, "", "Bearer abc", "Zoho-oauthtoken", "Zoho-oauthtoken ", "zoho-oauthtoken x y"],
)
def test_missing_or_malformed_authorization_is_401_code_14(
    client: TestClient, org: str, authorization: str | None
) -> None:
    headers = {"X-com-zoho-invoice-organizationid": org}
    if authorization is not None:
        headers["Authorization"] = authorization
    answer = client.get(f"{API}/invoices", headers=headers)
    assert answer.status_code == 401
    assert answer.json()["code"] == 14


def test_unknown_token_is_401_code_57(client: TestClient, org: str) -> None:
    answer = client.get(
        f"{API}/invoices",
        headers={
            "Authorization": "Zoho-oauthtoken 1000.nope.nope",
            "X-com-zoho-invoice-organizationid": org,
        },
    )
    assert answer.status_code == 401
    assert answer.json() == {
        "code": 57,
        "message": "You are not authorized to perform this operation",
    }


def test_expired_token_is_401_code_57(
    client: TestClient, headers: dict[str, str], clock: Clock
) -> None:
    assert client.get(f"{API}/invoices", headers=headers).status_code == 200
    clock.now += 3601
    answer = client.get(f"{API}/invoices", headers=headers)
    assert (answer.status_code, answer.json()["code"]) == (401, 57)


def test_token_of_another_datacenter_is_401_code_57(
    client: TestClient, headers: dict[str, str]
) -> None:
    answer = client.get("/eu/invoice/v3/invoices", headers=headers)
    assert (answer.status_code, answer.json()["code"]) == (401, 57)


def test_scope_must_cover_the_operation(client: TestClient, world: SandboxWorld, org: str) -> None:
    token = mint(world, "alice@acme.example", ["ZohoInvoice.invoices.READ"])
    headers = {
        "Authorization": f"Zoho-oauthtoken {token}",
        "X-com-zoho-invoice-organizationid": org,
    }
    assert client.get(f"{API}/invoices", headers=headers).status_code == 200
    for method, path in (("POST", "/invoices"), ("GET", "/contacts"), ("GET", "/items")):
        answer = client.request(method, f"{API}{path}", headers=headers, json={})
        assert (answer.status_code, answer.json()["code"]) == (401, 57), path
    # .ALL covers every operation of its area; settings covers organizations and items.
    token = mint(
        world, "alice@acme.example", ["ZohoInvoice.settings.ALL", "ZohoInvoice.contacts.all"]
    )
    headers["Authorization"] = f"Zoho-oauthtoken {token}"
    assert client.get(f"{API}/items", headers=headers).status_code == 200
    assert client.get(f"{API}/organizations", headers=headers).status_code == 200
    assert (
        client.post(f"{API}/contacts", headers=headers, json={"contact_name": "A"}).status_code
        == 201
    )
    assert client.get(f"{API}/invoices", headers=headers).status_code == 401


def test_organizations_need_no_org_id_and_list_only_the_users(
    client: TestClient, world: SandboxWorld, headers: dict[str, str]
) -> None:
    answer = client.get(f"{API}/organizations", headers={"Authorization": headers["Authorization"]})
    assert answer.status_code == 200
    body = answer.json()
    assert body["code"] == 0
    assert [o["name"] for o in body["organizations"]] == ["Acme Corp", "Acme Labs"]
    org_id = body["organizations"][1]["organization_id"]
    assert isinstance(org_id, str) and int(org_id) > 2**53
    one = client.get(
        f"{API}/organizations/{org_id}", headers={"Authorization": headers["Authorization"]}
    )
    assert one.json()["organization"]["name"] == "Acme Labs"
    bob = world.directory.user_by_email("bob@bluebird.example")
    assert bob is not None
    other = client.get(
        f"{API}/organizations/{bob.organization_ids[0]}",
        headers={"Authorization": headers["Authorization"]},
    )
    assert (other.status_code, other.json()["code"]) == (400, 6041)


def test_missing_org_id_is_400_code_2(client: TestClient, headers: dict[str, str]) -> None:
    answer = client.get(f"{API}/invoices", headers={"Authorization": headers["Authorization"]})
    assert answer.status_code == 400
    assert answer.json() == {"code": 2, "message": "Invalid value passed for organization_id"}


def test_org_id_as_query_parameter(client: TestClient, headers: dict[str, str], org: str) -> None:
    answer = client.get(
        f"{API}/invoices",
        params={"organization_id": org},
        headers={"Authorization": headers["Authorization"]},
    )
    assert answer.status_code == 200


def test_org_of_another_user_is_400_code_6041(
    client: TestClient, world: SandboxWorld, headers: dict[str, str]
) -> None:
    bob = world.directory.user_by_email("bob@bluebird.example")
    assert bob is not None
    answer = client.get(
        f"{API}/invoices",
        headers={**headers, "X-com-zoho-invoice-organizationid": bob.organization_ids[0]},
    )
    assert (answer.status_code, answer.json()["code"]) == (400, 6041)


def test_organizations_data_are_separate(
    client: TestClient, world: SandboxWorld, headers: dict[str, str]
) -> None:
    contact = make_contact(client, headers)
    alice = world.directory.user_by_email("alice@acme.example")
    assert alice is not None
    other = {**headers, "X-com-zoho-invoice-organizationid": alice.organization_ids[1]}
    assert client.get(f"{API}/contacts", headers=other).json()["contacts"] == []
    answer = client.get(f"{API}/contacts/{contact['contact_id']}", headers=other)
    assert (answer.status_code, answer.json()["code"]) == (404, 1002)


def test_unknown_url_and_method(client: TestClient, headers: dict[str, str]) -> None:
    answer = client.get(f"{API}/nonsense", headers=headers)
    assert (answer.status_code, answer.json()["code"]) == (404, 5)
    answer = client.patch(f"{API}/invoices", headers=headers)
    assert (answer.status_code, answer.json()["code"]) == (405, 37)


# -- contacts and items -------------------------------------------------------------------


def test_contact_crud_and_active_inactive(client: TestClient, headers: dict[str, str]) -> None:
    contact = make_contact(client, headers, email="zed@zed.example", payment_terms=30)
    contact_id = contact["contact_id"]
    assert isinstance(contact_id, str) and int(contact_id) > 2**53
    assert contact["status"] == "active"
    assert contact["created_time"].endswith("+0000")
    answer = client.put(
        f"{API}/contacts/{contact_id}", headers=headers, json={"company_name": "Zed Holdings"}
    )
    assert answer.status_code == 200
    assert answer.json()["contact"]["company_name"] == "Zed Holdings"
    assert answer.json()["contact"]["email"] == "zed@zed.example"
    assert client.post(f"{API}/contacts/{contact_id}/inactive", headers=headers).json()["code"] == 0
    got = client.get(f"{API}/contacts/{contact_id}", headers=headers).json()["contact"]
    assert got["status"] == "inactive"
    assert got["outstanding_receivable_amount"] == 0
    listed = client.get(f"{API}/contacts", params={"filter_by": "Status.Inactive"}, headers=headers)
    assert [c["contact_id"] for c in listed.json()["contacts"]] == [contact_id]
    client.post(f"{API}/contacts/{contact_id}/active", headers=headers)
    assert (
        client.get(f"{API}/contacts/{contact_id}", headers=headers).json()["contact"]["status"]
        == "active"
    )
    answer = client.delete(f"{API}/contacts/{contact_id}", headers=headers)
    assert answer.status_code == 200
    answer = client.get(f"{API}/contacts/{contact_id}", headers=headers)
    assert answer.status_code == 404
    assert answer.json() == {"code": 1002, "message": "Contact does not exist."}


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "contact_name"),
        ({"contact_name": "  "}, "contact_name"),
        ({"contact_name": "A", "email": "not-an-email"}, "email"),
        ({"contact_name": "A", "payment_terms": "soon"}, "payment_terms"),
        ({"contact_name": ["A"]}, "contact_name"),
    ],
)
def test_contact_bad_input_is_400_code_2(
    client: TestClient, headers: dict[str, str], body: dict[str, Any], field: str
) -> None:
    answer = client.post(f"{API}/contacts", headers=headers, json=body)
    assert answer.status_code == 400
    assert answer.json() == {"code": 2, "message": f"Invalid value passed for {field}"}


def test_contact_with_invoices_cannot_be_deleted(
    client: TestClient, headers: dict[str, str]
) -> None:
    contact = make_contact(client, headers)
    make_invoice(client, headers, contact["contact_id"])
    answer = client.delete(f"{API}/contacts/{contact['contact_id']}", headers=headers)
    assert (answer.status_code, answer.json()["code"]) == (400, 3000)


def test_item_crud(client: TestClient, headers: dict[str, str]) -> None:
    answer = client.post(f"{API}/items", headers=headers, json={"name": "Audit", "rate": 1200.5})
    assert answer.status_code == 201
    item = answer.json()["item"]
    assert item["rate"] == 1200.5
    item_id = item["item_id"]
    changed = client.put(f"{API}/items/{item_id}", headers=headers, json={"rate": 1300})
    assert changed.json()["item"]["rate"] == 1300
    assert client.get(f"{API}/items/{item_id}", headers=headers).json()["item"]["name"] == "Audit"
    assert [i["item_id"] for i in client.get(f"{API}/items", headers=headers).json()["items"]] == [
        item_id
    ]
    bad = client.post(f"{API}/items", headers=headers, json={"name": "X", "rate": -1})
    assert bad.json() == {"code": 2, "message": "Invalid value passed for rate"}
    assert client.delete(f"{API}/items/{item_id}", headers=headers).status_code == 200
    assert client.delete(f"{API}/items/{item_id}", headers=headers).status_code == 404


def test_form_body_jsonstring(client: TestClient, headers: dict[str, str]) -> None:
    answer = client.post(
        f"{API}/contacts",
        headers=headers,
        data={"JSONString": json.dumps({"contact_name": "Form Co"})},
    )
    assert answer.status_code == 201
    assert answer.json()["contact"]["contact_name"] == "Form Co"
    broken = client.post(
        f"{API}/contacts", headers={**headers, "Content-Type": "application/json"}, content=b"{nope"
    )
    assert broken.json() == {"code": 2, "message": "Invalid value passed for JSONString"}


# -- invoices -----------------------------------------------------------------------------


def test_invoice_lifecycle(client: TestClient, headers: dict[str, str]) -> None:
    contact = make_contact(client, headers, payment_terms=15)
    invoice = make_invoice(client, headers, contact["contact_id"], date="2026-09-01")
    assert invoice["status"] == "draft"
    assert invoice["invoice_number"] == "INV-000001"
    assert invoice["due_date"] == "2026-09-16"
    assert (invoice["total"], invoice["balance"]) == (200.0, 200.0)
    invoice_id = invoice["invoice_id"]
    sent = client.post(f"{API}/invoices/{invoice_id}/status/sent", headers=headers)
    assert sent.json()["code"] == 0
    # Due 2026-09-16, today 2026-09-21: an unpaid sent invoice is overdue.
    got = client.get(f"{API}/invoices/{invoice_id}", headers=headers).json()["invoice"]
    assert got["status"] == "overdue"
    client.post(f"{API}/invoices/{invoice_id}/status/void", headers=headers)
    got = client.get(f"{API}/invoices/{invoice_id}", headers=headers).json()["invoice"]
    assert (got["status"], got["balance"]) == ("void", 0)
    client.post(f"{API}/invoices/{invoice_id}/status/draft", headers=headers)
    got = client.get(f"{API}/invoices/{invoice_id}", headers=headers).json()["invoice"]
    assert (got["status"], got["balance"]) == ("draft", 200)
    assert client.delete(f"{API}/invoices/{invoice_id}", headers=headers).status_code == 200
    gone = client.get(f"{API}/invoices/{invoice_id}", headers=headers)
    assert gone.json() == {"code": 1002, "message": "Invoice does not exist."}


def test_invoice_update_recomputes(client: TestClient, headers: dict[str, str]) -> None:
    contact = make_contact(client, headers)
    invoice = make_invoice(client, headers, contact["contact_id"])
    answer = client.put(
        f"{API}/invoices/{invoice['invoice_id']}",
        headers=headers,
        json={
            "line_items": [{"name": "More work", "rate": 50, "quantity": 3}],
            "reference_number": "PO-9",
        },
    )
    assert answer.status_code == 200
    updated = answer.json()["invoice"]
    assert (updated["total"], updated["reference_number"]) == (150.0, "PO-9")
    assert updated["invoice_number"] == invoice["invoice_number"]


def test_invoice_number_must_be_unique_code_1001(
    client: TestClient, headers: dict[str, str]
) -> None:
    contact = make_contact(client, headers)
    make_invoice(client, headers, contact["contact_id"], invoice_number="A-1")
    body = {
        "customer_id": contact["contact_id"],
        "invoice_number": "A-1",
        "line_items": [{"name": "x", "rate": 1}],
    }
    answer = client.post(f"{API}/invoices", headers=headers, json=body)
    assert (answer.status_code, answer.json()["code"]) == (400, 1001)
    # Auto-numbering skips numbers taken by hand.
    make_invoice(client, headers, contact["contact_id"], invoice_number="INV-000001")
    assert make_invoice(client, headers, contact["contact_id"])["invoice_number"] == "INV-000002"


@pytest.mark.parametrize(
    ("patch", "field"),
    [
        ({"customer_id": "4600000000000999999"}, "customer_id"),
        ({"line_items": []}, "line_items"),
        ({"line_items": [{"name": "x", "rate": "ten"}]}, "rate"),
        ({"line_items": [{"name": "x", "rate": 1, "quantity": -2}]}, "quantity"),
        ({"line_items": [{"item_id": "4600000000000999999"}]}, "item_id"),
        ({"date": "21/09/2026"}, "date"),
        ({"date": "2026-09-10", "due_date": "2026-09-01"}, "due_date"),
        ({"discount": "150%"}, "discount"),
        ({"line_items": [{"name": "x", "rate": 1e300}]}, "rate"),
    ],
)
def test_invoice_bad_input_is_400_code_2(
    client: TestClient, headers: dict[str, str], patch: dict[str, Any], field: str
) -> None:
    contact = make_contact(client, headers)
    body = {"customer_id": contact["contact_id"], "line_items": [{"name": "x", "rate": 1}], **patch}
    answer = client.post(f"{API}/invoices", headers=headers, json=body)
    assert answer.status_code == 400
    assert answer.json() == {"code": 2, "message": f"Invalid value passed for {field}"}


def test_invoice_line_from_item(client: TestClient, headers: dict[str, str]) -> None:
    contact = make_contact(client, headers)
    item = client.post(
        f"{API}/items",
        headers=headers,
        json={"name": "Hosting", "rate": 49.99, "description": "Monthly"},
    ).json()["item"]
    invoice = make_invoice(
        client,
        headers,
        contact["contact_id"],
        line_items=[{"item_id": item["item_id"], "quantity": 3}],
    )
    line = invoice["line_items"][0]
    assert (line["name"], line["rate"], line["item_total"]) == ("Hosting", 49.99, 149.97)
    assert invoice["total"] == 149.97


def test_email_is_recorded_not_sent(client: TestClient, headers: dict[str, str], org: str) -> None:
    contact = make_contact(client, headers, email="pay@zed.example")
    invoice = make_invoice(client, headers, contact["contact_id"])
    answer = client.post(
        f"{API}/invoices/{invoice['invoice_id']}/email",
        headers=headers,
        json={"subject": "Your bill"},
    )
    assert answer.status_code == 200
    assert answer.json()["code"] == 0
    emails = client.get("/_sandbox/emails", params={"organization_id": org}).json()["emails"]
    assert len(emails) == 1
    assert emails[0]["to_mail_ids"] == ["pay@zed.example"]
    assert emails[0]["subject"] == "Your bill"
    got = client.get(f"{API}/invoices/{invoice['invoice_id']}", headers=headers).json()["invoice"]
    assert got["is_emailed"] is True
    assert got["status"] in ("sent", "overdue")
    bad = client.post(
        f"{API}/invoices/{invoice['invoice_id']}/email",
        headers=headers,
        json={"to_mail_ids": ["nobody"]},
    )
    assert bad.json()["code"] == 2


@pytest.mark.parametrize("how", ["header", "query"])
def test_invoice_pdf(client: TestClient, headers: dict[str, str], how: str) -> None:
    contact = make_contact(client, headers)
    invoice = make_invoice(client, headers, contact["contact_id"])
    url = f"{API}/invoices/{invoice['invoice_id']}"
    if how == "header":
        answer = client.get(url, headers={**headers, "Accept": "application/pdf"})
    else:
        answer = client.get(url, params={"accept": "pdf"}, headers=headers)
    assert answer.status_code == 200
    assert answer.headers["content-type"] == "application/pdf;charset=UTF-8"
    # Named by the invoice number, as an attachment, as Zoho does.
    assert answer.headers["content-disposition"] == 'attachment; filename="INV-000001.pdf"'
    assert answer.content.startswith(b"%PDF")
    assert answer.content.rstrip().endswith(b"%%EOF")
    assert len(answer.content) > 800
    # Without asking for a PDF, JSON.
    assert client.get(url, headers=headers).json()["invoice"]["invoice_id"] == invoice["invoice_id"]


# -- estimates ------------------------------------------------------------------------------


def test_estimate_crud_and_statuses(client: TestClient, headers: dict[str, str]) -> None:
    contact = make_contact(client, headers)
    answer = client.post(
        f"{API}/estimates",
        headers=headers,
        json={"customer_id": contact["contact_id"], "line_items": [{"name": "Plan", "rate": 500}]},
    )
    assert answer.status_code == 201
    estimate = answer.json()["estimate"]
    assert (estimate["estimate_number"], estimate["status"], estimate["total"]) == (
        "EST-000001",
        "draft",
        500.0,
    )
    estimate_id = estimate["estimate_id"]
    early = client.post(f"{API}/estimates/{estimate_id}/status/accepted", headers=headers)
    assert (early.status_code, early.json()["code"]) == (400, 2)
    for status in ("sent", "declined", "accepted"):
        assert (
            client.post(f"{API}/estimates/{estimate_id}/status/{status}", headers=headers).json()[
                "code"
            ]
            == 0
        )
        got = client.get(f"{API}/estimates/{estimate_id}", headers=headers).json()["estimate"]
        assert got["status"] == status
    updated = client.put(f"{API}/estimates/{estimate_id}", headers=headers, json={"discount": 100})
    assert updated.json()["estimate"]["total"] == 400.0
    listed = client.get(f"{API}/estimates", headers=headers).json()
    assert [e["estimate_id"] for e in listed["estimates"]] == [estimate_id]
    assert "line_items" not in listed["estimates"][0]
    assert client.delete(f"{API}/estimates/{estimate_id}", headers=headers).status_code == 200
    assert client.get(f"{API}/estimates/{estimate_id}", headers=headers).json()["code"] == 1002


# -- faults and journal -----------------------------------------------------------------------


def test_scripted_fault_and_journal(
    client: TestClient, world: SandboxWorld, headers: dict[str, str]
) -> None:
    world.faults.add("invoice.GET /invoices/{invoice_id}", Fault(status=503, body={"code": 9}))
    answer = client.get(f"{API}/invoices/123", headers=headers)
    assert (answer.status_code, answer.json()) == (503, {"code": 9})
    # Consumed: the next one is answered normally.
    assert client.get(f"{API}/invoices/123", headers=headers).json()["code"] == 1002
    entries = world.journal.entries("invoice.GET /invoices/{invoice_id}")
    assert len(entries) == 2
    assert entries[0].path == "/us/invoice/v3/invoices/123"
    assert (
        entries[0].headers["x-com-zoho-invoice-organizationid"]
        == headers["X-com-zoho-invoice-organizationid"]
    )


@pytest.mark.parametrize("odd_id", ["abc", "9999999999999999999", "1" * 40, "-1", "١٢"])
def test_odd_ids_are_404_code_1002(
    client: TestClient, headers: dict[str, str], odd_id: str
) -> None:
    for method in ("GET", "PUT", "DELETE"):
        answer = client.request(method, f"{API}/invoices/{odd_id}", headers=headers, json={})
        assert (answer.status_code, answer.json()["code"]) == (404, 1002), method
