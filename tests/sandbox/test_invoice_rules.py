"""Zoho's own rules, played by the Invoice API simulator (issue 7, docs/zoho/sandbox-rules.md).

Deleting invoices (only money stops it: 4001, 12008), voiding an invoice with payments (they turn
into customer credits) and marking a void invoice as draft, the error code of each resource (3000,
2006, 2049, 1000, 3062, 24016), sorting and filters, custom fields, the PDF's file name and the
list's page_context.
"""

from __future__ import annotations

from typing import Any

import pytest
from starlette.testclient import TestClient

from support import Clock
from zoho_invoice_sandbox import SandboxWorld
from zoho_invoice_sandbox.invoice._resources import INVOICES

API = "/us/invoice/v3"


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
    store = world.invoices
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


# -- 3. error codes per resource --------------------------------------------------------------


def test_unknown_ids_answer_each_resource_code(client: TestClient, headers: dict[str, str]) -> None:
    missing = "4600000000099999999"
    for path, body in (
        ("/items", {"code": 2006, "message": "Item does not exist"}),
        ("/invoices", {"code": 1002, "message": "Invoice does not exist."}),
        ("/contacts", {"code": 1002, "message": "Contact does not exist."}),
        ("/estimates", {"code": 1002, "message": "Estimate does not exist."}),
        ("/customerpayments", {"code": 1002, "message": "Payment does not exist."}),
    ):
        for method in ("GET", "PUT", "DELETE"):
            answer = client.request(method, f"{API}{path}/{missing}", headers=headers, json={})
            assert (answer.status_code, answer.json()) == (404, body), (method, path)


def test_contact_names_are_unique_3062(client: TestClient, headers: dict[str, str]) -> None:
    first = make_contact(client, headers, "Acme Ltd")
    other = make_contact(client, headers, "Other Ltd")
    for answer in (
        client.post(f"{API}/contacts", headers=headers, json={"contact_name": " acme ltd "}),
        client.put(f"{API}/contacts/{other}", headers=headers, json={"contact_name": "ACME LTD"}),
    ):
        assert answer.status_code == 400
        assert answer.json() == {
            "code": 3062,
            "message": 'The customer "acme ltd" already exists. Please specify a different name.'
            if answer.request.method == "POST"
            else 'The customer "ACME LTD" already exists. Please specify a different name.',
        }
    # A contact keeps its own name on update.
    ok(client.put(f"{API}/contacts/{first}", headers=headers, json={"contact_name": "Acme Ltd"}))
    assert get(client, headers, f"/contacts/{other}")["contact"]["contact_name"] == "Other Ltd"


def test_a_contact_with_transactions_is_kept_3000(
    client: TestClient, headers: dict[str, str]
) -> None:
    contact_id = make_contact(client, headers)
    invoice = make_invoice(client, headers, contact_id)
    refused = client.delete(f"{API}/contacts/{contact_id}", headers=headers)
    assert (refused.status_code, refused.json()["code"]) == (400, 3000)
    ok(client.delete(f"{API}/invoices/{invoice['invoice_id']}", headers=headers))
    ok(client.delete(f"{API}/contacts/{contact_id}", headers=headers))


def test_item_names_are_unique_1000_and_used_items_are_kept_2049(
    client: TestClient, headers: dict[str, str]
) -> None:
    item = ok(client.post(f"{API}/items", headers=headers, json={"name": "Audit", "rate": 9}), 201)
    item_id = item["item"]["item_id"]
    spare = ok(client.post(f"{API}/items", headers=headers, json={"name": "Spare", "rate": 1}), 201)
    taken = {"code": 1000, "message": "The item name already exist"}
    again = client.post(f"{API}/items", headers=headers, json={"name": "audit", "rate": 2})
    assert (again.status_code, again.json()) == (400, taken)
    renamed = client.put(
        f"{API}/items/{spare['item']['item_id']}", headers=headers, json={"name": "AUDIT"}
    )
    assert (renamed.status_code, renamed.json()) == (400, taken)

    for kind in ("invoices", "estimates"):
        body = {
            "customer_id": make_contact(client, headers, f"Buyer {kind}"),
            "line_items": [{"item_id": item_id, "quantity": 1}],
        }
        used = ok(client.post(f"{API}/{kind}", headers=headers, json=body), 201)
        refused = client.delete(f"{API}/items/{item_id}", headers=headers)
        assert refused.status_code == 400
        assert refused.json() == {
            "code": 2049,
            "message": "Items which are a part of other transactions cannot be deleted. "
            "Instead, mark them as inactive",
        }
        record_id = used[kind[:-1]][f"{kind[:-1]}_id"]
        ok(client.delete(f"{API}/{kind}/{record_id}", headers=headers))
    ok(client.delete(f"{API}/items/{item_id}", headers=headers))


def test_applying_more_than_the_balance_is_24016(
    client: TestClient, headers: dict[str, str]
) -> None:
    invoice = make_invoice(client, headers, make_contact(client, headers))
    ok(client.post(f"{API}/invoices/{invoice['invoice_id']}/status/sent", headers=headers))
    pay(client, headers, invoice, 150)
    body = {
        "customer_id": invoice["customer_id"],
        "amount": 60,
        "invoices": [{"invoice_id": invoice["invoice_id"], "amount_applied": 50.01}],
    }
    refused = client.post(f"{API}/customerpayments", headers=headers, json=body)
    assert (refused.status_code, refused.json()["code"]) == (400, 24016)
    assert get(client, headers, f"/invoices/{invoice['invoice_id']}")["invoice"]["balance"] == 50


# -- 6. sorting and filters -------------------------------------------------------------------

INVOICE_SORTS = ("customer_name", "invoice_number", "date", "due_date", "total", "balance")


def listed(client: TestClient, headers: dict[str, str], path: str, **params: Any) -> list[Any]:
    answer = client.get(f"{API}{path}", headers=headers, params=params)
    body = ok(answer)
    return list(body[path.strip("/")])


def test_invoices_sort_only_by_zohos_columns(client: TestClient, headers: dict[str, str]) -> None:
    contact_id = make_contact(client, headers)
    for rate in (30, 10, 20):
        make_invoice(client, headers, contact_id, line_items=[{"name": "W", "rate": rate}])
    for column in (*INVOICE_SORTS, "created_time"):
        for order in ("A", "D"):
            rows = listed(client, headers, "/invoices", sort_column=column, sort_order=order)
            values = [row[column] for row in rows]
            assert values == sorted(values, reverse=order == "D"), column
    for column in ("last_modified_time", "reference_number", "status", "payment_made"):
        refused = client.get(f"{API}/invoices", headers=headers, params={"sort_column": column})
        assert refused.status_code == 400
        assert refused.json() == {"code": 2, "message": "Invalid value passed for sort_column"}
    # Lists whose columns Zoho does not list keep sorting by any of theirs.
    assert listed(client, headers, "/contacts", sort_column="last_modified_time")


def test_last_modified_time_keeps_what_changed_strictly_after(
    client: TestClient, headers: dict[str, str], clock: Clock
) -> None:
    contact_id = make_contact(client, headers)
    first = make_invoice(client, headers, contact_id)
    clock.now += 10
    second = make_invoice(client, headers, contact_id)
    since = first["last_modified_time"]
    assert since < second["last_modified_time"]
    rows = listed(client, headers, "/invoices", last_modified_time=since)
    assert [row["invoice_id"] for row in rows] == [second["invoice_id"]]
    # A change moves an invoice past the cursor again.
    clock.now += 10
    ok(
        client.put(
            f"{API}/invoices/{first['invoice_id']}", headers=headers, json={"reference_number": "x"}
        )
    )
    rows = listed(client, headers, "/invoices", last_modified_time=second["last_modified_time"])
    assert [row["invoice_id"] for row in rows] == [first["invoice_id"]]


def test_filter_by_payment_expected_date(client: TestClient, headers: dict[str, str]) -> None:
    contact_id = make_contact(client, headers)
    expected = make_invoice(client, headers, contact_id, payment_expected_date="2026-10-01")
    make_invoice(client, headers, contact_id)
    assert expected["payment_expected_date"] == "2026-10-01"
    rows = listed(client, headers, "/invoices", filter_by="Date.PaymentExpectedDate")
    assert [row["invoice_id"] for row in rows] == [expected["invoice_id"]]
    assert len(listed(client, headers, "/invoices", filter_by="Status.All")) == 2
    refused = client.get(
        f"{API}/contacts", headers=headers, params={"filter_by": "Date.PaymentExpectedDate"}
    )
    assert (refused.status_code, refused.json()["code"]) == (400, 2)


def test_ignore_auto_number_generation_needs_and_keeps_the_number(
    client: TestClient, headers: dict[str, str]
) -> None:
    contact_id = make_contact(client, headers)
    body = {"customer_id": contact_id, "line_items": [{"name": "W", "rate": 1}]}
    flag = {"ignore_auto_number_generation": "true"}
    refused = client.post(f"{API}/invoices", headers=headers, params=flag, json=body)
    assert refused.status_code == 400
    assert refused.json() == {"code": 2, "message": "Invalid value passed for invoice_number"}
    made = client.post(
        f"{API}/invoices", headers=headers, params=flag, json={**body, "invoice_number": "A/7"}
    )
    assert ok(made, 201)["invoice"]["invoice_number"] == "A/7"


# -- 7. custom fields -------------------------------------------------------------------------


def fields_by_label(doc: dict[str, Any]) -> dict[str, Any]:
    return {f["label"]: f for f in doc["custom_fields"]}


def test_invoices_keep_and_answer_custom_fields(
    client: TestClient, headers: dict[str, str]
) -> None:
    contact_id = make_contact(client, headers)
    invoice = make_invoice(
        client,
        headers,
        contact_id,
        custom_fields=[
            {"label": "PO Ref", "value": "A-1"},
            {"customfield_id": "46000000012845", "value": "Normal"},
            {"api_name": "cf_hours", "value": 12.5},
        ],
    )
    got = fields_by_label(get(client, headers, f"/invoices/{invoice['invoice_id']}")["invoice"])
    assert got["PO Ref"]["api_name"] == "cf_po_ref"
    assert (got["PO Ref"]["value"], got["PO Ref"]["value_formatted"]) == ("A-1", "A-1")
    normal = next(f for f in got.values() if f["customfield_id"] == "46000000012845")
    assert normal["value"] == "Normal"
    assert (got["Hours"]["value"], got["Hours"]["data_type"]) == (12.5, "decimal")
    assert [f["index"] for f in invoice["custom_fields"]] == [1, 2, 3]
    assert invoice["custom_field_hash"]["cf_po_ref"] == "A-1"
    assert invoice["custom_field_hash"]["cf_hours_unformatted"] == 12.5
    # Lists carry them too, as Zoho's list example does.
    (row,) = listed(client, headers, "/invoices")
    assert fields_by_label(row)["PO Ref"]["value"] == "A-1"

    # An update sets the fields it names and keeps the others; the id stays the same.
    answer = client.put(
        f"{API}/invoices/{invoice['invoice_id']}",
        headers=headers,
        json={"custom_fields": [{"api_name": "cf_po_ref", "value": "B-2"}]},
    )
    after = fields_by_label(ok(answer)["invoice"])
    assert after["PO Ref"]["value"] == "B-2"
    assert after["PO Ref"]["customfield_id"] == got["PO Ref"]["customfield_id"]
    assert after["Hours"]["value"] == 12.5
    # An update that does not mention custom fields keeps them all.
    answer = client.put(
        f"{API}/invoices/{invoice['invoice_id']}", headers=headers, json={"reference_number": "R"}
    )
    assert len(ok(answer)["invoice"]["custom_fields"]) == 3


def test_contacts_items_and_estimates_keep_custom_fields(
    client: TestClient, headers: dict[str, str]
) -> None:
    contact = ok(
        client.post(
            f"{API}/contacts",
            headers=headers,
            json={
                "contact_name": "Bowman and Co",
                "custom_fields": [{"value": "GBGD078", "index": 1, "label": "VAT ID"}],
            },
        ),
        201,
    )["contact"]
    vat = get(client, headers, f"/contacts/{contact['contact_id']}")["contact"]["custom_fields"]
    assert (vat[0]["label"], vat[0]["index"], vat[0]["value"]) == ("VAT ID", 1, "GBGD078")
    assert contact["custom_field_hash"] == {
        "cf_vat_id": "GBGD078",
        "cf_vat_id_unformatted": "GBGD078",
    }
    item = ok(
        client.post(
            f"{API}/items",
            headers=headers,
            json={"name": "Disk", "rate": 120, "custom_fields": [{"label": "Bin", "value": 7}]},
        ),
        201,
    )["item"]
    stored = get(client, headers, f"/items/{item['item_id']}")["item"]["custom_fields"]
    assert (stored[0]["value"], stored[0]["data_type"]) == (7, "number")
    estimate = ok(
        client.post(
            f"{API}/estimates",
            headers=headers,
            json={
                "customer_id": contact["contact_id"],
                "line_items": [{"name": "W", "rate": 1}],
                "custom_fields": [{"label": "Approved", "value": True}],
            },
        ),
        201,
    )["estimate"]
    kept = get(client, headers, f"/estimates/{estimate['estimate_id']}")["estimate"]
    assert fields_by_label(kept)["Approved"]["value_formatted"] == "true"
    # The same label is the same field across the organization's records.
    again = make_invoice(
        client, headers, contact["contact_id"], custom_fields=[{"label": "vat id", "value": "X"}]
    )
    assert again["custom_fields"][0]["api_name"] == "cf_vat_id"


@pytest.mark.parametrize(
    "custom_fields",
    [
        "PO Ref",
        [{"label": "No value"}],
        [{"value": "no name"}],
        [{"label": "Deep", "value": {"a": 1}}],
        [{"index": "first", "value": 1}],
        ["flat"],
    ],
)
def test_bad_custom_fields_are_code_2(
    client: TestClient, headers: dict[str, str], custom_fields: Any
) -> None:
    body = {"contact_name": "Bad Fields", "custom_fields": custom_fields}
    answer = client.post(f"{API}/contacts", headers=headers, json=body)
    assert answer.status_code == 400
    assert answer.json() == {"code": 2, "message": "Invalid value passed for custom_fields"}


def test_custom_field_filters(client: TestClient, headers: dict[str, str]) -> None:
    contact_id = make_contact(client, headers)
    first = make_invoice(
        client, headers, contact_id, custom_fields=[{"label": "Project", "value": "Apollo 11"}]
    )
    second = make_invoice(
        client, headers, contact_id, custom_fields=[{"label": "Project", "value": "Gemini_14"}]
    )
    make_invoice(client, headers, contact_id)

    def ids(**params: Any) -> set[str]:
        return {row["invoice_id"] for row in listed(client, headers, "/invoices", **params)}

    assert ids(custom_field="apollo 11") == {first["invoice_id"]}
    assert ids(custom_field_startswith="gem") == {second["invoice_id"]}
    assert ids(custom_field_contains="1") == {first["invoice_id"], second["invoice_id"]}
    # LIKE wildcards are plain characters.
    assert ids(custom_field_contains="_") == {second["invoice_id"]}
    assert ids(custom_field_contains="%") == set()


# -- 8. PDF and page_context ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("number", "file_name"),
    [
        ("INV-000384", "INV-000384.pdf"),
        ('A"B/C\\D\r\nE', "A_B_C_D__E.pdf"),
        ("Fäktura 7", "F_ktura 7.pdf"),
    ],
)
def test_the_pdf_is_an_attachment_named_by_the_number(
    client: TestClient, headers: dict[str, str], number: str, file_name: str
) -> None:
    invoice = make_invoice(client, headers, make_contact(client, headers), invoice_number=number)
    answer = client.get(
        f"{API}/invoices/{invoice['invoice_id']}", headers=headers, params={"accept": "pdf"}
    )
    assert answer.status_code == 200
    assert answer.headers["content-disposition"] == f'attachment; filename="{file_name}"'
    assert answer.headers["content-type"] == "application/pdf;charset=UTF-8"
    assert answer.content.startswith(b"%PDF")


def test_page_context_names_the_report_filter_sort_and_criteria(
    client: TestClient, headers: dict[str, str]
) -> None:
    contact_id = make_contact(client, headers, "Bowman & Co")
    make_invoice(client, headers, contact_id)
    answer = client.get(
        f"{API}/invoices",
        headers=headers,
        params={
            "filter_by": "Status.Draft",
            "sort_column": "total",
            "sort_order": "A",
            "customer_name_startswith": "Bow",
            "total_greater_than": "10",
            "per_page": "5",
        },
    )
    context = ok(answer)["page_context"]
    assert context == {
        "page": 1,
        "per_page": 5,
        "has_more_page": False,
        "report_name": "Invoices",
        "applied_filter": "Status.Draft",
        "sort_column": "total",
        "sort_order": "A",
        "search_criteria": [
            {"column_name": "customer_name", "search_text": "Bow", "comparator": "starts_with"},
            {"column_name": "total", "search_text": "10", "comparator": "greater_than"},
        ],
    }
    contacts = ok(client.get(f"{API}/contacts", headers=headers))["page_context"]
    assert (contacts["report_name"], contacts["applied_filter"]) == ("Contacts", "Status.All")
    assert (contacts["sort_column"], contacts["sort_order"]) == ("contact_name", "A")
