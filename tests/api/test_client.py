"""Unit tests of the sync and async clients over ``httpx.MockTransport``: headers and URLs,
retries (and the never-retried create), the 401 rule, pagination, PDFs."""

from __future__ import annotations

import json
from typing import Any

import pytest

from api._fakes import API, ORG, AsyncFakeProvider, FakeProvider, Recorder, sync_client, zoho
from zoho_invoice import (
    APIConnectionError,
    APITimeoutError,
    AuthenticationError,
    ConfigurationError,
    InternalServerError,
    MissingScopeError,
    RateLimitError,
)
from zoho_invoice._http import httpx
from zoho_invoice.api import AsyncZohoInvoice, UnlimitedBudget, ZohoInvoice
from zoho_invoice.api.types import InvoiceParams, LineItemParams

INVOICE = {"invoice_id": "982000000567114", "invoice_number": "INV-1", "total": 12.5}


def test_url_and_headers() -> None:
    recorder = Recorder(zoho(invoice=INVOICE))
    with sync_client(recorder) as client:
        invoice = client.invoices.get("982000000567114")
    request = recorder.requests[0]
    assert str(request.url) == f"{API}/invoice/v3/invoices/982000000567114"
    assert request.headers["Authorization"] == "Zoho-oauthtoken 1000.tok.en"
    assert request.headers["X-com-zoho-invoice-organizationid"] == ORG
    assert "1000.tok.en" not in str(request.url)
    assert invoice.invoice_number == "INV-1"


def test_organizations_need_no_org_header() -> None:
    recorder = Recorder(zoho(organizations=[{"organization_id": 10234695, "name": "Acme"}]))
    with sync_client(recorder, organization_id=None) as client:
        orgs = client.organizations.list()
    assert orgs[0].organization_id == "10234695"
    assert "X-com-zoho-invoice-organizationid" not in recorder.requests[0].headers


def test_missing_organization_is_a_clear_error() -> None:
    recorder = Recorder(zoho())
    with sync_client(recorder, organization_id=None) as client, pytest.raises(ConfigurationError):
        client.invoices.list()
    assert recorder.requests == []


def test_filters_pass_through_and_body_is_exact_json() -> None:
    recorder = Recorder(zoho(invoices=[], page_context={"page": 2, "has_more_page": False}))
    with sync_client(recorder) as client:
        client.invoices.list(page=2, per_page=50, status="overdue", date_after="2024-01-01")
    params = recorder.requests[0].url.params
    assert params["status"] == "overdue" and params["date_after"] == "2024-01-01"
    assert params["page"] == "2" and params["per_page"] == "50"

    from decimal import Decimal

    created = Recorder(httpx.Response(201, json={"code": 0, "invoice": INVOICE}))
    with sync_client(created) as client:
        params_model = InvoiceParams(
            customer_id="460000000026049",
            line_items=[LineItemParams(item_id="1", quantity=Decimal("2"), rate=Decimal("0.10"))],
            custom_field="kept",
        )
        client.invoices.create(params_model, reference_number="PO-7")
    body = created.bodies()[0]
    assert body["customer_id"] == "460000000026049"
    assert body["line_items"][0]["rate"] == 0.1
    assert body["custom_field"] == "kept" and body["reference_number"] == "PO-7"


def test_retries_5xx_then_succeeds_with_jittered_backoff() -> None:
    recorder = Recorder(zoho(503, 1, "busy"), zoho(502, 1), zoho(invoice=INVOICE))
    sleeps: list[float] = []
    with sync_client(recorder, sleep=sleeps.append, random=lambda: 0.0) as client:
        client.invoices.get("1")
    assert len(recorder.requests) == 3
    assert sleeps == [0.5, 1.0]


def test_retries_stop_at_max_retries() -> None:
    recorder = Recorder(zoho(500, 1, "down"))
    with sync_client(recorder, max_retries=2) as client, pytest.raises(InternalServerError):
        client.invoices.get("1")
    assert len(recorder.requests) == 3


def test_429_honours_retry_after() -> None:
    throttled = httpx.Response(
        429, json={"code": 44, "message": "slow"}, headers={"Retry-After": "7"}
    )
    recorder = Recorder(throttled, zoho(invoice=INVOICE))
    sleeps: list[float] = []
    with sync_client(recorder, sleep=sleeps.append) as client:
        client.invoices.get("1")
    assert sleeps == [7.0]


def test_429_with_retry_after_too_far_is_raised_not_waited() -> None:
    throttled = httpx.Response(
        429, json={"code": 44, "message": "slow"}, headers={"Retry-After": "3000"}
    )
    recorder = Recorder(throttled)
    with sync_client(recorder) as client, pytest.raises(RateLimitError):
        client.invoices.get("1")
    assert len(recorder.requests) == 1


def test_create_not_retried_after_5xx_or_lost_answer() -> None:
    recorder = Recorder(zoho(500, 1, "oops"))
    with sync_client(recorder) as client, pytest.raises(InternalServerError):
        client.invoices.create(customer_id="1")
    assert len(recorder.requests) == 1

    lost = Recorder(httpx.ReadTimeout("read timed out"))
    with sync_client(lost) as client, pytest.raises(APITimeoutError):
        client.invoices.create(customer_id="1")
    assert len(lost.requests) == 1

    reset = Recorder(httpx.RemoteProtocolError("peer closed"))
    with sync_client(reset) as client, pytest.raises(APIConnectionError):
        client.contacts.create(contact_name="Bowman")
    assert len(reset.requests) == 1


def test_create_retried_when_never_sent_or_throttled() -> None:
    created = httpx.Response(201, json={"code": 0, "invoice": INVOICE})
    recorder = Recorder(httpx.ConnectError("refused"), zoho(429, 44, "slow"), created)
    with sync_client(recorder) as client:
        client.invoices.create(customer_id="1")
    assert len(recorder.requests) == 3


def test_status_actions_are_retried_on_timeout() -> None:
    recorder = Recorder(httpx.ReadTimeout("slow"), zoho(message="Invoice status changed"))
    with sync_client(recorder) as client:
        client.invoices.mark_sent("1")
    assert [r.url.path for r in recorder.requests] == ["/invoice/v3/invoices/1/status/sent"] * 2


def test_email_is_not_retried_after_lost_answer() -> None:
    recorder = Recorder(httpx.ReadTimeout("slow"))
    with sync_client(recorder) as client, pytest.raises(APITimeoutError):
        client.invoices.email("1", to_mail_ids=["a@example.com"])
    assert len(recorder.requests) == 1


def _auth_headers(recorder: Recorder) -> list[str]:
    return [r.headers["Authorization"] for r in recorder.requests]


def test_s35_401_refreshes_once_and_retries_once() -> None:
    provider = FakeProvider()
    recorder = Recorder(zoho(401, 57, "not authorized"), zoho(invoice=INVOICE))
    client = sync_client(recorder, token_provider=provider)
    assert client.invoices.get("1").invoice_id == INVOICE["invoice_id"]
    assert _auth_headers(recorder) == ["Zoho-oauthtoken t1", "Zoho-oauthtoken t2"]
    assert provider.invalidated == ["t1"]


def test_s35_second_57_is_missing_scope_never_a_third_try() -> None:
    provider = FakeProvider()
    recorder = Recorder(zoho(401, 57, "You are not authorized to perform this operation"))
    client = sync_client(recorder, token_provider=provider)
    with pytest.raises(MissingScopeError) as info:
        client.invoices.get("1")
    assert len(recorder.requests) == 2
    assert provider.invalidated == ["t1"]
    assert "t1" not in str(info.value) and "t2" not in str(info.value)


def test_s35_static_token_401_is_not_retried() -> None:
    recorder = Recorder(zoho(401, 14, "bad header"))
    with sync_client(recorder) as client, pytest.raises(AuthenticationError) as info:
        client.invoices.get("1")
    assert not isinstance(info.value, MissingScopeError)
    assert len(recorder.requests) == 1


@pytest.mark.anyio
async def test_s35_async_401_refreshes_once() -> None:
    provider = AsyncFakeProvider()
    recorder = Recorder(zoho(401, 57), zoho(401, 57), zoho(invoice=INVOICE))
    async with AsyncZohoInvoice(
        token_provider=provider,
        http_client=httpx.AsyncClient(transport=httpx.MockTransport(recorder)),
        budget=UnlimitedBudget(),
    ) as client:
        with pytest.raises(MissingScopeError):
            await client.invoices.get("1")
        assert provider.invalidated == ["t1"]
        # A later call starts over with the current token, again at most one refresh.
        assert (await client.invoices.get("1")).invoice_number == "INV-1"
    assert _auth_headers(recorder)[-1] == "Zoho-oauthtoken t2"
    assert len(recorder.requests) == 3


def test_connection_org_used_unless_overridden() -> None:
    recorder = Recorder(zoho(invoices=[]))
    client = sync_client(recorder, token_provider=FakeProvider("777"))
    client.invoices.list()
    other = sync_client(recorder, token_provider=FakeProvider("777"), organization_id="888")
    other.invoices.list()
    assert [r.headers["X-com-zoho-invoice-organizationid"] for r in recorder.requests] == [
        "777",
        "888",
    ]


class FakeManager:
    def __init__(self) -> None:
        self.invalidated: list[tuple[str, str]] = []

    def get_access_token(self, connection_id: str) -> Any:
        from types import SimpleNamespace

        return SimpleNamespace(
            token="tok-" + connection_id, api_domain="https://www.zohoapis.eu", organization_id="9"
        )

    def invalidate(
        self, connection_id: str, token: str, *, code: int | None, operation: str
    ) -> bool:
        self.invalidated.append((connection_id, token))
        return True

    def confirm(self, connection_id: str, token: str, operation: str | None) -> None:
        return None


def test_for_connection_uses_manager_domain_and_org() -> None:
    recorder = Recorder(zoho(401, 57), zoho(contacts=[]))
    manager = FakeManager()
    client = ZohoInvoice.for_connection(
        manager,
        "c1",
        http_client=httpx.Client(transport=httpx.MockTransport(recorder)),
        budget=UnlimitedBudget(),
    )
    client.contacts.list()
    assert str(recorder.requests[0].url).startswith("https://www.zohoapis.eu/invoice/v3/contacts")
    assert recorder.requests[0].headers["X-com-zoho-invoice-organizationid"] == "9"
    assert manager.invalidated == [("c1", "tok-c1")]


class KeepingManager(FakeManager):
    """A manager written against ``TokenManagerLike`` alone (no marker attribute): it remembers
    the operations a token did and keeps that token on a 57 for another operation."""

    def __init__(self) -> None:
        super().__init__()
        self.confirmed: list[tuple[str, str, str | None]] = []

    def invalidate(
        self, connection_id: str, token: str, *, code: int | None, operation: str
    ) -> bool:
        self.invalidated.append((connection_id, token))
        did = {op for c, t, op in self.confirmed if (c, t) == (connection_id, token)}
        return not (code == 57 and did and operation not in did)

    def confirm(self, connection_id: str, token: str, operation: str | None) -> None:
        self.confirmed.append((connection_id, token, operation))


def test_a_managers_declared_answer_decides_a_57_without_a_marker_attribute() -> None:
    """The client calls ``invalidate(..., code=, operation=)`` and ``confirm`` of any manager
    that declares them (the protocol), not only of one that carries a marker: a token kept as
    working makes the 57 a missing scope at once, without spending a refresh."""
    recorder = Recorder(zoho(contacts=[]), zoho(401, 57, "not authorized"))
    manager = KeepingManager()
    client = ZohoInvoice.for_connection(
        manager,
        "c1",
        http_client=httpx.Client(transport=httpx.MockTransport(recorder)),
        budget=UnlimitedBudget(),
    )
    client.contacts.list()
    assert manager.confirmed == [("c1", "tok-c1", "GET contacts")]
    with pytest.raises(MissingScopeError):
        client.invoices.list()
    assert len(recorder.requests) == 2  # no refresh, no second try


def _paged(total: int, per_page_seen: list[int]) -> Any:
    def handler(request: httpx.Request) -> httpx.Response:
        page = int(request.url.params["page"])
        per_page = int(request.url.params["per_page"])
        per_page_seen.append(per_page)
        start = (page - 1) * per_page
        rows = [{"invoice_id": str(10**17 + n)} for n in range(start, min(total, start + per_page))]
        more = start + per_page < total
        return zoho(
            invoices=rows, page_context={"page": page, "per_page": per_page, "has_more_page": more}
        )

    return handler


def test_iter_all_streams_every_item_across_pages() -> None:
    seen: list[int] = []
    recorder = Recorder(_paged(450, seen))
    with sync_client(recorder) as client:
        ids = [invoice.invoice_id for invoice in client.invoices.iter_all(status="paid")]
    assert len(ids) == 450 and len(set(ids)) == 450
    assert ids[0] == str(10**17)
    assert seen == [200, 200, 200]
    assert all(r.url.params["status"] == "paid" for r in recorder.requests)


def test_list_page_and_iteration_stops_on_empty_page() -> None:
    recorder = Recorder(zoho(invoices=[], page_context={"page": 1, "has_more_page": True}))
    with sync_client(recorder) as client:
        page = client.invoices.list()
        assert page.has_more and len(page) == 0
        assert list(client.invoices.iter_all()) == []
    assert len(recorder.requests) == 2


def test_per_page_bounds_checked() -> None:
    with sync_client(Recorder(zoho())) as client, pytest.raises(ValueError):
        client.invoices.list(per_page=201)


@pytest.mark.anyio
async def test_async_iter_all() -> None:
    seen: list[int] = []
    recorder = Recorder(_paged(201, seen))
    async with AsyncZohoInvoice(
        access_token="x",
        organization_id=ORG,
        http_client=httpx.AsyncClient(transport=httpx.MockTransport(recorder)),
        budget=UnlimitedBudget(),
    ) as client:
        ids = [invoice.invoice_id async for invoice in client.invoices.iter_all()]
    assert len(ids) == 201 and len(recorder.requests) == 2


def test_pdf_returns_bytes() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        assert request.headers["Accept"] == "application/pdf"
        return httpx.Response(
            200, content=b"%PDF-1.4 ...", headers={"Content-Type": "application/pdf"}
        )

    with sync_client(Recorder(handler)) as client:
        assert client.invoices.pdf("1").startswith(b"%PDF")


def test_invoice_actions_hit_zoho_paths() -> None:
    recorder = Recorder(zoho())
    with sync_client(recorder) as client:
        client.invoices.void("1")
        client.invoices.mark_draft("1")
        client.estimates.mark_accepted("2")
        client.estimates.mark_declined("2")
        client.contacts.mark_inactive("3")
        client.customer_payments.delete("4")
    assert [(r.method, r.url.path.removeprefix("/invoice/v3")) for r in recorder.requests] == [
        ("POST", "/invoices/1/status/void"),
        ("POST", "/invoices/1/status/draft"),
        ("POST", "/estimates/2/status/accepted"),
        ("POST", "/estimates/2/status/declined"),
        ("POST", "/contacts/3/inactive"),
        ("DELETE", "/customerpayments/4"),
    ]


def test_client_needs_exactly_one_credential() -> None:
    with pytest.raises(ConfigurationError):
        ZohoInvoice(organization_id=ORG)
    with pytest.raises(ConfigurationError):
        ZohoInvoice(access_token="a", token_provider=FakeProvider())


def test_body_json_is_compact_utf8() -> None:
    recorder = Recorder(zoho(contact={"contact_id": "1", "contact_name": "Zoë"}))
    with sync_client(recorder) as client:
        contact = client.contacts.update("1", {"contact_name": "Zoë"})
    assert json.loads(recorder.requests[0].content) == {"contact_name": "Zoë"}
    assert contact.contact_name == "Zoë"
