"""Tests of ``client.invoices``' sub-resources: payments, comments and history, reminders,
e-mail content, attachments, bulk PDF, write-off and templates.

Unit tests over ``httpx.MockTransport`` (Zoho's limits refused before anything is sent, the
multipart upload, both readings of "add comment"), then integration tests: the sync client
against the sandbox on a real port, the async client against the sandbox app in process.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from starlette.applications import Starlette

from api._sandbox import ALICE, amint, mint
from zoho_invoice import BadRequestError, InternalServerError, NotFoundError
from zoho_invoice._http import httpx
from zoho_invoice.api import AsyncZohoInvoice, UnlimitedBudget, ZohoInvoice
from zoho_invoice.api.types import (
    BulkReminderInfo,
    EmailContent,
    InvoiceComment,
    InvoicePayment,
)
from zoho_invoice_sandbox import RunningSandbox, create_sandbox_app, running_sandbox
from zoho_invoice_sandbox.invoice import InvoiceSandboxControl

EXAMPLES = Path(__file__).parents[1] / "contract" / "examples" / "invoices"
PDF = b"%PDF-1.4\n" + b"p" * 3000 + b"\n%%EOF\n"


def documented(name: str) -> dict[str, Any]:
    return dict(json.loads((EXAMPLES / f"{name}.json").read_text())["response"]["body"])


# -- unit: the models read Zoho's documented answers --------------------------------------------


def test_documented_payments_read_with_ids_as_text_and_money_exact() -> None:
    (payment,) = [InvoicePayment.model_validate(p) for p in documented("list_payments")["payments"]]
    assert (
        payment.invoice_payment_id == "982000000567192" and payment.invoice_id == "982000000567036"
    )
    assert payment.payment_number == "7" and payment.reference_number == "99782374"
    assert payment.amount == Decimal("10.57") and payment.is_single_invoice_payment is True


def test_documented_history_email_content_and_bulk_report() -> None:
    (entry,) = [InvoiceComment.model_validate(c) for c in documented("list_comments")["comments"]]
    assert entry.is_history and entry.comment_id == "982000000567019"
    content = EmailContent.model_validate(documented("email_content")["data"])
    assert content.file_name == "INV-00001.pdf" and content.to_mail_ids == []
    assert content.to_contacts[0].contact_person_id == "982000000567003"
    info = BulkReminderInfo.model_validate(documented("bulk_payment_reminder")["info"])
    assert info.sent_count == 2 and info.failed_invoice_ids == ["2000000007037"]


# -- unit: limits, uploads, both readings -------------------------------------------------------


class Recorder:
    def __init__(self, *answers: httpx.Response) -> None:
        self.answers = list(answers)
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        request.read()
        self.requests.append(request)
        return self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]


def fake_client(recorder: Recorder) -> ZohoInvoice:
    return ZohoInvoice(
        access_token="1000.tok.en",
        organization_id="10234695",
        http_client=httpx.Client(transport=httpx.MockTransport(recorder)),
        budget=UnlimitedBudget(),
        sleep=lambda _seconds: None,
    )


def ok(**data: Any) -> httpx.Response:
    return httpx.Response(200, json={"code": 0, "message": "success", **data})


def test_zohos_limits_are_refused_before_anything_is_sent(tmp_path: Path) -> None:
    recorder = Recorder(ok())
    invoices = fake_client(recorder).invoices
    with pytest.raises(ValueError, match="at most 25"):
        invoices.bulk_pdf([str(n) for n in range(26)])
    with pytest.raises(ValueError, match="at most 10"):
        invoices.bulk_payment_reminder([str(n) for n in range(11)])
    with pytest.raises(ValueError, match="at least one"):
        invoices.bulk_pdf([])
    with pytest.raises(ValueError, match="only gif, png"):
        invoices.add_attachment("1", b"MZ", file_name="setup.exe")
    with pytest.raises(ValueError, match="file_name"):
        invoices.add_attachment("1", PDF)
    with pytest.raises(ValueError, match="5 MB"):
        invoices.add_attachment("1", b"x" * (5 * 1024 * 1024 + 1), file_name="big.pdf")
    big = tmp_path / "big.pdf"
    with big.open("wb") as handle:
        handle.truncate(6 * 1024 * 1024)
    with pytest.raises(ValueError, match="5 MB"):
        invoices.add_attachment("1", big)
    with pytest.raises(ValueError, match="description"):
        invoices.add_comment("1", "  ")
    with pytest.raises(ValueError):
        invoices.list_comments("../organizations")
    assert recorder.requests == []


def test_an_attachment_goes_as_multipart_and_is_never_sent_twice(tmp_path: Path) -> None:
    recorder = Recorder(httpx.Response(502, json={"code": 1, "message": "bad gateway"}))
    scan = tmp_path / "order.pdf"
    scan.write_bytes(PDF)
    with pytest.raises(InternalServerError):
        fake_client(recorder).invoices.add_attachment("4600", scan, can_send_in_mail=True)
    (request,) = recorder.requests
    assert request.url.path == "/invoice/v3/invoices/4600/attachment"
    assert request.url.params["can_send_in_mail"] == "true"
    assert request.headers["content-type"].startswith("multipart/form-data; boundary=")
    assert b'name="attachment"; filename="order.pdf"' in request.content
    assert b"Content-Type: application/pdf" in request.content and PDF in request.content


def test_a_download_keeps_the_files_name_and_type() -> None:
    answer = httpx.Response(
        200,
        content=b"GIF89a...",
        headers={
            "content-type": "image/gif",
            "content-disposition": 'attachment; filename="a b.gif"',
        },
    )
    attachment = fake_client(Recorder(answer)).invoices.get_attachment("4600")
    assert (attachment.content, attachment.content_type, attachment.file_name) == (
        b"GIF89a...",
        "image/gif",
        "a b.gif",
    )


def test_add_comment_reads_both_of_zohos_answers() -> None:
    # The docs answer "Comments added." alone; the official SDK reads a "comment" object.
    bare = Recorder(httpx.Response(200, json={"code": 0, "message": "Comments added."}))
    assert fake_client(bare).invoices.add_comment("4600", "Call back") is None
    assert json.loads(bare.requests[0].content) == {"description": "Call back"}
    full = Recorder(ok(comment={"comment_id": 982000000567019, "description": "Call back"}))
    comment = fake_client(full).invoices.add_comment("4600", "Call back")
    assert comment is not None and comment.comment_id == "982000000567019"


def test_a_reminder_lost_on_the_way_is_not_sent_again() -> None:
    recorder = Recorder(httpx.Response(503, json={"code": 1, "message": "busy"}))
    with pytest.raises(InternalServerError):
        fake_client(recorder).invoices.send_payment_reminder("4600")
    assert len(recorder.requests) == 1
    written_off = Recorder(httpx.Response(503, json={"code": 1, "message": "busy"}), ok())
    fake_client(written_off).invoices.write_off("4600")  # no harm in twice: retried
    assert len(written_off.requests) == 2


# -- integration: the sync client against the sandbox on a real port --------------------------


@pytest.fixture(scope="module")
def sandbox() -> Iterator[RunningSandbox]:
    with running_sandbox() as running:
        yield running


@pytest.fixture(scope="module")
def connection(sandbox: RunningSandbox) -> tuple[dict[str, Any], str]:
    """One token for the module (Zoho's Accounts give a client 10 codes in 10 minutes)."""
    with httpx.Client(base_url=sandbox.base_url) as http:
        user = sandbox.world.directory.user_by_email(ALICE)
        assert user is not None
        InvoiceSandboxControl(http).set_limits(per_minute=100_000, daily=1_000_000)
        return mint(http, user.user_id), user.organization_ids[0]


def _sync_client(connection: tuple[dict[str, Any], str]) -> ZohoInvoice:
    tokens, organization_id = connection
    return ZohoInvoice(
        access_token=tokens["access_token"],
        api_domain=tokens["api_domain"],
        organization_id=organization_id,
        budget=UnlimitedBudget(),
        timeout=10.0,
    )


@pytest.fixture(scope="module")
def client(connection: tuple[dict[str, Any], str]) -> Iterator[ZohoInvoice]:
    with _sync_client(connection) as client:
        yield client


def _open_invoice(client: ZohoInvoice, name: str, rate: str = "100") -> tuple[str, str]:
    person = {"first_name": "Will", "email": "will@bowman.example", "is_primary_contact": True}
    contact = client.contacts.create(contact_name=name, contact_persons=[person])
    invoice = client.invoices.create(
        customer_id=contact.contact_id, line_items=[{"name": "Work", "rate": rate}]
    )
    client.invoices.mark_sent(invoice.invoice_id)
    return contact.contact_id, invoice.invoice_id


def test_sync_comments_history_payments_and_reminders(
    client: ZohoInvoice, sandbox: RunningSandbox
) -> None:
    customer, invoice_id = _open_invoice(client, "Sync Extras Ltd")
    invoices = client.invoices
    comment = invoices.add_comment(invoice_id, "Promised Friday", show_comment_to_clients=False)
    assert comment is not None and not comment.is_history
    history = [c.description for c in invoices.list_comments(invoice_id) if c.is_history]
    assert history == ["Invoice marked as sent", "Invoice created for USD 100.00"]
    changed = invoices.update_comment(invoice_id, comment.comment_id, "Promised Monday")
    assert changed is not None and changed.description == "Promised Monday"
    invoices.delete_comment(invoice_id, comment.comment_id)

    client.customer_payments.create(
        customer_id=customer,
        amount=Decimal("25.50"),
        invoices=[{"invoice_id": invoice_id, "amount_applied": Decimal("25.50")}],
    )
    (payment,) = invoices.list_payments(invoice_id)
    assert payment.amount == Decimal("25.5") and payment.invoice_payment_id
    invoices.delete_payment(invoice_id, payment.invoice_payment_id)
    assert invoices.list_payments(invoice_id) == []
    assert client.invoices.get(invoice_id).balance == Decimal("100")

    content = invoices.payment_reminder_content(invoice_id)
    assert content.to_mail_ids == ["will@bowman.example"]
    invoices.send_payment_reminder(invoice_id, subject="Friendly nudge")
    info = invoices.bulk_payment_reminder([invoice_id, "4600000000000000999"])
    assert info.sent_count == 1 and info.failed_invoice_ids == ["4600000000000000999"]
    with httpx.Client(base_url=sandbox.base_url) as http:
        emails = InvoiceSandboxControl(http).emails(str(client.organization_id))
    reminders = [e for e in emails if e["invoice_id"] == invoice_id]
    assert reminders[0]["subject"] == "Friendly nudge"
    assert len(reminders) == 2 and reminders[1]["to_mail_ids"] == ["will@bowman.example"]
    email = invoices.email_content(invoice_id)
    assert email.subject and email.file_name and email.file_name.endswith(".pdf")


def test_sync_write_off_templates_attachments_and_bulk_pdf(
    client: ZohoInvoice, tmp_path: Path
) -> None:
    _, invoice_id = _open_invoice(client, "Sync Write-off Ltd", rate="80.40")
    invoices = client.invoices
    invoices.write_off(invoice_id)
    written = invoices.get(invoice_id)
    assert (written.status, written.balance) == ("paid", Decimal("0"))
    assert written.model_extra is not None
    assert Decimal(str(written.model_extra["write_off_amount"])) == Decimal("80.40")
    with pytest.raises(BadRequestError):
        invoices.write_off(invoice_id)
    invoices.cancel_write_off(invoice_id)
    assert invoices.get(invoice_id).balance == Decimal("80.40")

    templates = invoices.list_templates()
    invoices.set_template(invoice_id, templates[-1].template_id)
    assert (invoices.get(invoice_id).model_extra or {})["template_id"] == templates[-1].template_id
    with pytest.raises(NotFoundError):
        invoices.set_template(invoice_id, "4600000000000000999")

    scan = tmp_path / "signed order.pdf"
    scan.write_bytes(PDF)
    invoices.add_attachment(invoice_id, scan, can_send_in_mail=True)
    invoices.add_attachment(invoice_id, b"\x89PNG\r\n\x1a\n" + b"i" * 50, file_name="logo.png")
    latest = invoices.get_attachment(invoice_id)
    assert (latest.file_name, latest.content_type) == ("logo.png", "image/png")
    invoices.update_attachment_preference(invoice_id, False)
    invoices.delete_attachment(invoice_id)
    kept = invoices.get_attachment(invoice_id)
    assert (kept.file_name, kept.content) == ("signed order.pdf", PDF)

    _, second = _open_invoice(client, "Sync Bulk PDF Ltd")
    pdf = invoices.bulk_pdf([invoice_id, second])
    assert pdf.startswith(b"%PDF") and b"/Count 2" in pdf


# -- integration: the async client against the sandbox app in process -------------------------


@pytest.fixture
def app() -> Starlette:
    return create_sandbox_app(base_url="http://sandbox.test")


@pytest.fixture
async def aclient(app: Starlette) -> AsyncIterator[AsyncZohoInvoice]:
    user = app.state.world.directory.user_by_email(ALICE)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://sandbox.test") as http:
        tokens = await amint(http, user.user_id)
    async with AsyncZohoInvoice(
        access_token=tokens["access_token"],
        api_domain=tokens["api_domain"],
        organization_id=user.organization_ids[0],
        http_client=httpx.AsyncClient(transport=httpx.ASGITransport(app=app)),
        budget=UnlimitedBudget(),
    ) as client:
        yield client


@pytest.mark.anyio
async def test_async_comments_write_off_attachment_and_bulk_pdf(
    aclient: AsyncZohoInvoice,
) -> None:
    person = {"first_name": "Ada", "email": "ada@example.com", "is_primary_contact": True}
    contact = await aclient.contacts.create(contact_name="Async Ltd", contact_persons=[person])
    invoice = await aclient.invoices.create(
        customer_id=contact.contact_id, line_items=[{"name": "Work", "rate": 10}]
    )
    invoices = aclient.invoices
    await invoices.mark_sent(invoice.invoice_id)
    assert await invoices.add_comment(invoice.invoice_id, "Async note") is not None
    await invoices.write_off(invoice.invoice_id)
    assert (await invoices.get(invoice.invoice_id)).status == "paid"
    await invoices.cancel_write_off(invoice.invoice_id)
    texts = [c.description for c in await invoices.list_comments(invoice.invoice_id)]
    assert texts[:3] == [
        "Write-off of USD 10.00 cancelled",
        "Invoice written off for USD 10.00",
        "Async note",
    ]
    await invoices.add_attachment(invoice.invoice_id, PDF, file_name="a.pdf")
    assert (await invoices.get_attachment(invoice.invoice_id)).content == PDF
    await invoices.delete_attachment(invoice.invoice_id)
    with pytest.raises(NotFoundError):
        await invoices.get_attachment(invoice.invoice_id)
    assert (await invoices.bulk_pdf([invoice.invoice_id])).startswith(b"%PDF")
    assert (await invoices.bulk_payment_reminder([invoice.invoice_id])).sent_count == 1
    assert [t.template_name for t in await invoices.list_templates()]
    assert (await invoices.email_content(invoice.invoice_id)).to_mail_ids == ["ada@example.com"]
    await invoices.send_payment_reminder(invoice.invoice_id)
    assert await invoices.list_payments(invoice.invoice_id) == []
