"""Integration tests of an invoice's sub-resources in the Invoice API simulator (Starlette's
TestClient; the body limit through the whole sandbox app): payments seen from the invoice,
comments and history, payment reminders, e-mail content, attachments, write-off, templates and
the bulk PDF, with Zoho's rules (docs/zoho/invoice-extras.md)."""

from __future__ import annotations

import re
from typing import Any

import pytest
from starlette.testclient import TestClient

from sandbox_support import NOW, mint
from support import Clock
from zoho_invoice_sandbox import SandboxWorld, create_sandbox_app
from zoho_invoice_sandbox.invoice._extras import add_history

API = "/us/invoice/v3"
PDF = b"%PDF-1.4\n" + b"x" * 2000 + b"\n%%EOF\n"


class Books:
    """Requests of the tests, spelled once."""

    def __init__(self, client: TestClient, headers: dict[str, str]) -> None:
        self.client = client
        self.headers = headers

    def call(self, method: str, path: str, expect: int = 200, **kw: Any) -> dict[str, Any]:
        answer = self.client.request(method, API + path, headers=self.headers, **kw)
        assert answer.status_code == expect, answer.text
        return dict(answer.json())

    def contact(self) -> str:
        person = {"first_name": "Will", "email": "will@bowman.example", "is_primary_contact": True}
        body = {"contact_name": "Bowman & Co", "contact_persons": [person]}
        return str(self.call("POST", "/contacts", 201, json=body)["contact"]["contact_id"])

    def invoice(self, customer_id: str, *, sent: bool = True, rate: int = 100) -> dict[str, Any]:
        body = {"customer_id": customer_id, "line_items": [{"name": "Work", "rate": rate}]}
        invoice = self.call("POST", "/invoices", 201, json=body)["invoice"]
        if sent:
            self.call("POST", f"/invoices/{invoice['invoice_id']}/status/sent")
        return dict(invoice)

    def get(self, invoice_id: str) -> dict[str, Any]:
        return dict(self.call("GET", f"/invoices/{invoice_id}")["invoice"])

    def pay(self, customer_id: str, amount: float, *applied: tuple[str, float]) -> dict[str, Any]:
        body = {
            "customer_id": customer_id,
            "amount": amount,
            "invoices": [{"invoice_id": i, "amount_applied": a} for i, a in applied],
        }
        return dict(self.call("POST", "/customerpayments", 201, json=body)["payment"])

    def comments(self, invoice_id: str) -> list[dict[str, Any]]:
        return list(self.call("GET", f"/invoices/{invoice_id}/comments")["comments"])


@pytest.fixture
def books(client: TestClient, headers: dict[str, str]) -> Books:
    return Books(client, headers)


# -- history and comments ---------------------------------------------------------------------


def test_history_records_what_happens_to_an_invoice_newest_first(
    books: Books, clock: Clock
) -> None:
    customer = books.contact()
    invoice = books.invoice(customer, sent=False)
    invoice_id = invoice["invoice_id"]
    books.call("POST", f"/invoices/{invoice_id}/status/sent")
    clock.now += 90
    books.pay(customer, 40, (invoice_id, 40))
    books.call(
        "POST", f"/invoices/{invoice_id}/email", json={"to_mail_ids": ["will@bowman.example"]}
    )
    history = books.comments(invoice_id)
    texts = [entry["description"] for entry in history]
    assert texts[0] == "Invoice emailed to will@bowman.example"
    assert texts[1] == "Payment of USD 40.00 received and applied for " + invoice["invoice_number"]
    assert texts[2:] == ["Invoice marked as sent", "Invoice created for USD 100.00"]
    assert {entry["comment_type"] for entry in history} == {"system"}
    assert history[1]["transaction_type"] == "customer_payment"
    assert history[-1]["operation_type"] == "Added"
    assert history[0]["commented_by"]  # the token's user
    assert history[0]["date_description"] == "few seconds ago"
    assert history[-1]["date_description"] == "1 minute ago"
    assert re.fullmatch(r"\d{1,2}:\d{2} (AM|PM)", history[0]["time"])


def test_comments_are_added_changed_and_deleted_but_history_stays(books: Books) -> None:
    invoice_id = books.invoice(books.contact())["invoice_id"]
    answer = books.call(
        "POST",
        f"/invoices/{invoice_id}/comments",
        json={"description": "Called them", "show_comment_to_clients": False},
    )
    assert answer["message"] == "Comments added."
    comment = answer["comment"]
    assert comment["comment_type"] == "internal" and comment["description"] == "Called them"
    path = f"/invoices/{invoice_id}/comments/{comment['comment_id']}"
    changed = books.call("PUT", path, json={"description": "Called twice"})["comment"]
    assert changed["description"] == "Called twice"
    assert books.comments(invoice_id)[0]["description"] == "Called twice"
    books.call("DELETE", path)
    assert all(c["comment_id"] != comment["comment_id"] for c in books.comments(invoice_id))
    books.call("DELETE", path, expect=404)
    history_id = books.comments(invoice_id)[0]["comment_id"]
    books.call("DELETE", f"/invoices/{invoice_id}/comments/{history_id}", expect=400)
    assert books.call("POST", f"/invoices/{invoice_id}/comments", 400, json={})["code"] == 2


def test_add_history_is_there_for_other_rules(books: Books, world: SandboxWorld, org: str) -> None:
    invoice_id = books.invoice(books.contact())["invoice_id"]
    add_history(world.invoices, org, invoice_id, "Reminder stopped", now=NOW)
    assert books.comments(invoice_id)[0]["description"] == "Reminder stopped"


def test_a_deleted_invoice_takes_its_comments_and_files(
    books: Books, world: SandboxWorld, org: str
) -> None:
    invoice_id = books.invoice(books.contact(), sent=False)["invoice_id"]
    files = {"attachment": ("note.pdf", PDF, "application/pdf")}
    books.call("POST", f"/invoices/{invoice_id}/attachment", files=files)
    books.call("DELETE", f"/invoices/{invoice_id}")
    store = world.invoices
    for table in ("invoice_comments", "invoice_attachments"):
        rows = store.execute(f"SELECT COUNT(*) FROM {table} WHERE org = ?", (org,))
        assert rows[0][0] == 0


# -- payments seen from the invoice -----------------------------------------------------------


def test_an_invoices_payments_and_deleting_one_of_them(books: Books) -> None:
    customer = books.contact()
    first, second = books.invoice(customer), books.invoice(customer)
    single = books.pay(customer, 30, (first["invoice_id"], 30))
    shared = books.pay(customer, 50, (first["invoice_id"], 20), (second["invoice_id"], 30))
    payments = books.call("GET", f"/invoices/{first['invoice_id']}/payments")["payments"]
    assert [p["payment_id"] for p in payments] == [single["payment_id"], shared["payment_id"]]
    assert [p["is_single_invoice_payment"] for p in payments] == [True, False]
    again = books.call("GET", f"/invoices/{first['invoice_id']}/payments")["payments"]
    assert [p["invoice_payment_id"] for p in again] == [p["invoice_payment_id"] for p in payments]

    base = f"/invoices/{first['invoice_id']}/payments"
    answer = books.call("DELETE", f"{base}/{payments[0]['invoice_payment_id']}")
    assert answer["message"] == "The payment has been deleted."
    books.call("GET", f"/customerpayments/{single['payment_id']}", expect=404)
    # A payment of two invoices loses this one: the amount is the customer's to use.
    books.call("DELETE", f"{base}/{payments[1]['invoice_payment_id']}")
    kept = books.call("GET", f"/customerpayments/{shared['payment_id']}")["payment"]
    assert [a["invoice_id"] for a in kept["invoices"]] == [second["invoice_id"]]
    assert kept["unused_amount"] == 20
    assert books.get(first["invoice_id"])["balance"] == 100
    assert books.get(second["invoice_id"])["balance"] == 70
    assert books.call("DELETE", f"{base}/{payments[1]['invoice_payment_id']}", 404)["code"]


# -- reminders and e-mail content -------------------------------------------------------------


def test_payment_reminders_go_to_open_invoices_only(
    books: Books, client: TestClient, org: str
) -> None:
    customer = books.contact()
    draft = books.invoice(customer, sent=False)["invoice_id"]
    books.call("POST", f"/invoices/{draft}/paymentreminder", 400, json={})
    invoice = books.invoice(customer)
    answer = books.call("POST", f"/invoices/{invoice['invoice_id']}/paymentreminder", json={})
    assert answer["message"] == "Your payment reminder has been sent."
    emails = client.get("/_sandbox/emails", params={"organization_id": org}).json()["emails"]
    assert emails[-1]["type"] == "payment_reminder"
    assert emails[-1]["to_mail_ids"] == ["will@bowman.example"]
    assert invoice["invoice_number"] in emails[-1]["subject"]
    history = books.comments(invoice["invoice_id"])
    assert history[0]["description"] == "Payment reminder sent to will@bowman.example"


def test_bulk_reminder_reports_what_it_could_not_send(
    books: Books, client: TestClient, org: str
) -> None:
    customer = books.contact()
    open_ids = [books.invoice(customer)["invoice_id"] for _ in range(2)]
    draft = books.invoice(customer, sent=False)["invoice_id"]
    answer = books.call(
        "POST",
        "/invoices/paymentreminder",
        201,
        params={"invoice_ids": ",".join([*open_ids, draft])},
    )
    info = answer["info"]
    assert info["email_success_info"]["sent_count"] == 2
    assert info["email_errors_info"][0]["ids"] == draft
    emails = client.get("/_sandbox/emails", params={"organization_id": org}).json()["emails"]
    assert sorted(e["invoice_id"] for e in emails) == sorted(open_ids)
    too_many = ",".join(str(10**18 + n) for n in range(11))
    books.call("POST", "/invoices/paymentreminder", 400, params={"invoice_ids": too_many})


def test_email_content_is_what_an_email_would_carry(books: Books) -> None:
    invoice = books.invoice(books.contact())
    content = books.call("GET", f"/invoices/{invoice['invoice_id']}/email")["data"]
    number = invoice["invoice_number"]
    assert content["file_name"] == f"{number}.pdf"
    assert content["subject"].endswith(f"(Invoice#: {number})")
    assert [c["email"] for c in content["to_contacts"] if c["selected"]] == ["will@bowman.example"]
    assert content["emailtemplates"][0]["selected"] is True
    reminder = books.call("GET", f"/invoices/{invoice['invoice_id']}/paymentreminder")["data"]
    assert number in reminder["body"] and reminder["to_mails_str"] == "will@bowman.example"


# -- write-off --------------------------------------------------------------------------------


def test_write_off_pays_the_balance_and_cancel_brings_it_back(books: Books) -> None:
    customer = books.contact()
    invoice_id = books.invoice(customer)["invoice_id"]
    books.pay(customer, 30, (invoice_id, 30))
    assert books.call("POST", f"/invoices/{invoice_id}/writeoff")["message"] == (
        "Invoice has been written off"
    )
    written = books.get(invoice_id)
    assert (written["status"], written["balance"], written["write_off_amount"]) == ("paid", 0, 70)
    paid = books.call("GET", "/invoices", params={"status": "paid"})["invoices"]
    assert invoice_id in [i["invoice_id"] for i in paid]
    # Nothing is left to pay, and an edit keeps the write-off.
    body = {"customer_id": customer, "invoices": [{"invoice_id": invoice_id, "amount_applied": 1}]}
    refused = books.call("POST", "/customerpayments", 400, json={**body, "amount": 1})
    assert refused["code"] == 24016
    books.call("PUT", f"/invoices/{invoice_id}", json={"reference_number": "PO-9"})
    assert books.get(invoice_id)["write_off_amount"] == 70
    assert books.get(invoice_id)["balance"] == 0
    books.call("POST", f"/invoices/{invoice_id}/writeoff", 400)

    books.call("POST", f"/invoices/{invoice_id}/writeoff/cancel")
    back = books.get(invoice_id)
    assert (back["status"], back["balance"], back["write_off_amount"]) == (
        "partially_paid",
        70,
        0,
    )
    books.call("POST", f"/invoices/{invoice_id}/writeoff/cancel", 400)
    texts = [c["description"] for c in books.comments(invoice_id)]
    assert "Invoice written off for USD 70.00" in texts
    assert "Write-off of USD 70.00 cancelled" in texts


def test_a_draft_cannot_be_written_off(books: Books) -> None:
    draft = books.invoice(books.contact(), sent=False)["invoice_id"]
    books.call("POST", f"/invoices/{draft}/writeoff", 400)


# -- templates --------------------------------------------------------------------------------


def test_templates_are_listed_and_chosen_per_invoice(books: Books) -> None:
    templates = books.call("GET", "/invoices/templates")["templates"]
    assert len(templates) == 3 and {"template_id", "template_name"} <= set(templates[0])
    invoice_id = books.invoice(books.contact())["invoice_id"]
    assert books.get(invoice_id)["template_id"] == templates[0]["template_id"]
    chosen = templates[2]["template_id"]
    books.call("PUT", f"/invoices/{invoice_id}/templates/{chosen}")
    books.call("PUT", f"/invoices/{invoice_id}", json={"notes": "Thanks"})
    assert books.get(invoice_id)["template_name"] == templates[2]["template_name"]
    books.call("PUT", f"/invoices/{invoice_id}/templates/4600000000000999", 404)


# -- attachments ------------------------------------------------------------------------------


def test_attachments_are_kept_served_and_deleted(books: Books, client: TestClient) -> None:
    invoice_id = books.invoice(books.contact())["invoice_id"]
    path = f"/invoices/{invoice_id}/attachment"
    books.call("GET", path, 404)
    first = {"attachment": ("scan.png", b"\x89PNG\r\n" + b"p" * 100, "image/png")}
    books.call("POST", path, files=first, params={"can_send_in_mail": "true"})
    books.call("POST", path, files={"attachment": ("order.pdf", PDF, "application/pdf")})
    answer = client.get(API + path, headers=books.headers)
    assert answer.status_code == 200 and answer.content == PDF
    assert answer.headers["content-type"] == "application/pdf"
    assert answer.headers["content-disposition"] == 'attachment; filename="order.pdf"'
    books.call("PUT", path, params={"can_send_in_mail": "false"})
    books.call("DELETE", path)
    assert client.get(API + path, headers=books.headers).headers["content-type"] == "image/png"
    assert books.call("POST", path, 400, files={"attachment": ("run.exe", b"MZ", "x")})["code"]
    books.call("POST", path, 400, json={})  # no file at all


def test_an_invoice_holds_at_most_three_files(books: Books) -> None:
    invoice_id = books.invoice(books.contact())["invoice_id"]
    path = f"/invoices/{invoice_id}/attachment"
    for number in range(3):
        books.call("POST", path, files={"attachment": (f"{number}.pdf", PDF, "application/pdf")})
    books.call("POST", path, 400, files={"attachment": ("3.pdf", PDF, "application/pdf")})


def test_five_megabytes_pass_the_sandboxs_body_limit_and_more_is_refused() -> None:
    """Through the whole sandbox app: its 1 MB body limit makes room for one 5 MB file."""
    app = create_sandbox_app(base_url="http://sandbox.test")
    world = app.state.world
    alice = world.directory.user_by_email("alice@acme.example")
    assert alice is not None
    token = mint(world, "alice@acme.example", ["ZohoInvoice.fullaccess.all"])
    with TestClient(app) as client:
        org = alice.organization_ids[0]
        headers = {"Authorization": f"Zoho-oauthtoken {token}"}
        books = Books(client, {**headers, "X-com-zoho-invoice-organizationid": org})
        invoice_id = _invoice_via(client, books.headers)
        path = f"/api{API}/invoices/{invoice_id}/attachment"
        five = b"%PDF" + b"5" * (5 * 1024 * 1024 - 4)
        answer = client.post(path, headers=books.headers, files={"attachment": ("big.pdf", five)})
        assert answer.status_code == 200, answer.text
        over = five + b"!"
        answer = client.post(path, headers=books.headers, files={"attachment": ("big.pdf", over)})
        assert answer.status_code == 400 and answer.json()["code"] == 2
        far_over = five * 2
        answer = client.post(path, headers=books.headers, files={"attachment": ("h.pdf", far_over)})
        assert answer.status_code == 413
        # Elsewhere the 1 MB limit holds.
        answer = client.post(f"/api{API}/contacts", headers=books.headers, content=b"{" * 2_000_000)
        assert answer.status_code == 413


def _invoice_via(client: TestClient, headers: dict[str, str]) -> str:
    base = f"/api{API}"
    contact = client.post(f"{base}/contacts", headers=headers, json={"contact_name": "Big Files"})
    body = {
        "customer_id": contact.json()["contact"]["contact_id"],
        "line_items": [{"name": "Disk", "rate": 5}],
    }
    answer = client.post(f"{base}/invoices", headers=headers, json=body)
    assert answer.status_code == 201, answer.text
    return str(answer.json()["invoice"]["invoice_id"])


# -- bulk PDF ---------------------------------------------------------------------------------


def test_bulk_pdf_is_one_document_of_at_most_25_invoices(books: Books, client: TestClient) -> None:
    customer = books.contact()
    ids = [books.invoice(customer, sent=False)["invoice_id"] for _ in range(2)]
    answer = client.get(
        f"{API}/invoices/pdf", headers=books.headers, params={"invoice_ids": ",".join(ids)}
    )
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"] == "application/pdf"
    assert answer.content.startswith(b"%PDF") and b"/Count 2" in answer.content
    too_many = ",".join(str(4_600_000_000_000_000_000 + n) for n in range(26))
    assert books.call("GET", "/invoices/pdf", 400, params={"invoice_ids": too_many})["code"] == 2
    books.call("GET", "/invoices/pdf", 404, params={"invoice_ids": f"{ids[0]},4600000000000000999"})
    books.call("GET", "/invoices/pdf", 400, params={"invoice_ids": ""})
