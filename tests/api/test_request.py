"""Unit tests of the public escape hatch ``client.request()`` / ``request_bytes()`` (sync and
async) over ``httpx.MockTransport``: the path stays under the API root, and the call gets the
resources' token, 401 rule, budget, retries and error mapping (the resources go through it)."""

from __future__ import annotations

import pytest

from api._fakes import (
    API,
    ORG,
    AsyncFakeProvider,
    FakeProvider,
    Recorder,
    async_client,
    sync_client,
    zoho,
)
from support import Clock
from zoho_invoice import (
    APIError,
    APITimeoutError,
    BadRequestError,
    InternalServerError,
    InvalidRequestError,
    MissingScopeError,
    NotFoundError,
    RateLimitError,
)
from zoho_invoice._http import httpx
from zoho_invoice.api import TokenBucketBudget

COMMENT = {"comment_id": "982000000567019", "description": "Paid by cheque"}


def test_request_answers_zohos_envelope_under_the_api_root() -> None:
    recorder = Recorder(zoho(201, comment=COMMENT))
    with sync_client(recorder) as client:
        answer = client.request(
            "post",
            "/invoices/982000000567114/comments",
            params={"show_comment_to_clients": True},
            json={"description": "Paid by cheque"},
        )
    assert answer == {"code": 0, "message": "success", "comment": COMMENT}
    request = recorder.requests[0]
    assert request.method == "POST"
    assert str(request.url) == (
        f"{API}/invoice/v3/invoices/982000000567114/comments?show_comment_to_clients=true"
    )
    assert request.headers["Authorization"] == "Zoho-oauthtoken 1000.tok.en"
    assert request.headers["X-com-zoho-invoice-organizationid"] == ORG
    assert recorder.bodies() == [{"description": "Paid by cheque"}]


def test_request_organizations_go_without_organization_header() -> None:
    recorder = Recorder(zoho(organizations=[]))
    with sync_client(recorder, organization_id=None) as client:
        assert client.request("GET", "/organizations")["organizations"] == []
    assert "X-com-zoho-invoice-organizationid" not in recorder.requests[0].headers


@pytest.mark.parametrize(
    "path",
    [
        "https://evil.example/invoice/v3/invoices",
        "//evil.example/invoices",
        "evil.example/invoices",
        "@evil.example/invoices",
        "/invoices/../../../oauth/v2/token",
        "/invoices/./1",
        "/invoices/%2e%2e/x",
        "/invoices//1",
        "/invoices/1?organization_id=2",
        "/invoices/1#x",
        "/invoices\\..\\x",
        "/invoices/1 HTTP/1.1",
        "",
        "/",
    ],
)
def test_request_path_that_could_leave_the_api_root_is_refused_unsent(path: str) -> None:
    recorder = Recorder(zoho())
    with sync_client(recorder) as client, pytest.raises(InvalidRequestError) as refused:
        client.request("GET", path)
    assert recorder.requests == []
    # One of ours (a ZohoError, as callers catch them) and a ValueError, as bad arguments are.
    assert isinstance(refused.value, ValueError) and "1000.tok.en" not in str(refused.value)


def test_resource_ids_cannot_walk_out_of_their_path() -> None:
    # The resources call request(): an id from outside cannot reach another endpoint.
    recorder = Recorder(zoho(invoice={"invoice_id": "1"}))
    with sync_client(recorder) as client:
        with pytest.raises(ValueError):
            client.invoices.get("../organizations")
        with pytest.raises(ValueError):
            client.contacts.delete("1/../../users/me")
    assert recorder.requests == []


def test_request_unknown_method_is_refused() -> None:
    recorder = Recorder(zoho())
    with sync_client(recorder) as client, pytest.raises(ValueError):
        client.request("PATCH", "/invoices/1")
    assert recorder.requests == []


def test_request_code_not_zero_maps_to_the_error_classes() -> None:
    cases = [
        (zoho(200, 1001, "odd"), APIError),
        (zoho(400, 4, "Invalid value passed for tax_id"), BadRequestError),
        (zoho(404, 1002, "Invoice does not exist."), NotFoundError),
        (zoho(400, 45, "daily limit"), RateLimitError),
    ]
    for answer, kind in cases:
        recorder = Recorder(answer)
        with sync_client(recorder) as client, pytest.raises(kind) as info:
            client.request("GET", "/invoices/1")
        assert info.value.code == answer.json()["code"]
        assert len(recorder.requests) == 1


def test_request_answer_that_is_not_a_json_object_is_an_error() -> None:
    recorder = Recorder(httpx.Response(200, content=b"<html>login</html>"))
    with sync_client(recorder) as client, pytest.raises(APIError):
        client.request("GET", "/invoices/1")


def test_request_retries_get_put_delete_on_5xx_but_never_a_plain_post() -> None:
    for method in ("GET", "PUT", "DELETE"):
        recorder = Recorder(zoho(503, 1, "busy"), zoho(message="ok"))
        with sync_client(recorder) as client:
            assert client.request(method, "/invoices/1")["message"] == "ok"
        assert len(recorder.requests) == 2, method

    recorder = Recorder(zoho(500, 1, "oops"))
    with sync_client(recorder) as client, pytest.raises(InternalServerError):
        client.request("POST", "/invoices/1/comments", json={"description": "x"})
    assert len(recorder.requests) == 1

    lost = Recorder(httpx.ReadTimeout("slow"))
    with sync_client(lost) as client, pytest.raises(APITimeoutError):
        client.request("POST", "/invoices", json={"customer_id": "1"})
    assert len(lost.requests) == 1


def test_request_post_said_idempotent_is_retried_and_a_get_said_not_is_not() -> None:
    recorder = Recorder(httpx.ReadTimeout("slow"), zoho(message="Invoice status changed"))
    with sync_client(recorder) as client:
        client.request("POST", "/invoices/1/status/sent", idempotent=True)
    assert len(recorder.requests) == 2

    recorder = Recorder(zoho(502, 1, "bad gateway"))
    with sync_client(recorder) as client, pytest.raises(InternalServerError):
        client.request("GET", "/invoices/1", idempotent=False)
    assert len(recorder.requests) == 1


def test_request_post_retried_when_throttled_or_never_sent() -> None:
    recorder = Recorder(httpx.ConnectError("refused"), zoho(429, 44, "slow"), zoho(201, comment={}))
    with sync_client(recorder) as client:
        client.request("POST", "/invoices/1/comments", json={"description": "x"})
    assert len(recorder.requests) == 3


def test_s35_request_401_refreshes_once_and_retries_once() -> None:
    provider = FakeProvider()
    recorder = Recorder(zoho(401, 57, "not authorized"), zoho(comments=[]))
    client = sync_client(recorder, token_provider=provider)
    assert client.request("GET", "/invoices/1/comments")["comments"] == []
    assert [r.headers["Authorization"] for r in recorder.requests] == [
        "Zoho-oauthtoken t1",
        "Zoho-oauthtoken t2",
    ]
    assert provider.invalidated == ["t1"]

    # A second 57 after the fresh token: the scope is missing; no third try.
    provider = FakeProvider()
    recorder = Recorder(zoho(401, 57, "You are not authorized to perform this operation"))
    client = sync_client(recorder, token_provider=provider)
    with pytest.raises(MissingScopeError):
        client.request("DELETE", "/invoices/1/comments/2")
    assert len(recorder.requests) == 2


def test_request_takes_a_budget_permit_per_send_the_refresh_resend_included() -> None:
    clock = Clock(1000.0)
    budget = TokenBucketBudget(rate=60, window=60.0, burst=1, clock=clock)
    recorder = Recorder(zoho(401, 57), zoho(comments=[]), zoho(comments=[]))
    slept: list[float] = []
    client = sync_client(recorder, budget=budget, token_provider=FakeProvider(), sleep=slept.append)
    with client:
        client.request("GET", "/invoices/1/comments")
        client.request("GET", "/invoices/1/comments")
    assert len(recorder.requests) == 3
    assert slept == pytest.approx([1.0, 2.0])


def test_request_bytes_answers_the_document_and_maps_a_json_error() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        assert request.headers["Accept"] == "application/pdf"
        assert request.url.params["accept"] == "pdf"
        return httpx.Response(200, content=b"%PDF-1.4", headers={"Content-Type": "application/pdf"})

    with sync_client(Recorder(handler)) as client:
        assert client.request_bytes("GET", "/invoices/1", params={"accept": "pdf"}) == b"%PDF-1.4"

    with sync_client(Recorder(zoho(404, 1002, "Invoice does not exist."))) as client:
        with pytest.raises(NotFoundError):
            client.request_bytes("GET", "/invoices/1", params={"accept": "pdf"})
        with pytest.raises(ValueError):
            client.request_bytes("GET", "https://evil.example/x.pdf")


@pytest.mark.anyio
async def test_async_request_has_the_same_rules() -> None:
    recorder = Recorder(zoho(comment=COMMENT))
    async with async_client(recorder) as client:
        answer = await client.request("PUT", "/invoices/1/comments/2", json={"description": "y"})
        assert answer["comment"] == COMMENT
        with pytest.raises(ValueError):
            await client.request("GET", "/../invoices")
    assert len(recorder.requests) == 1

    recorder = Recorder(zoho(500, 1, "oops"))
    async with async_client(recorder) as client:
        with pytest.raises(InternalServerError):
            await client.request("POST", "/invoices", json={"customer_id": "1"})
    assert len(recorder.requests) == 1

    recorder = Recorder(zoho(503, 1), zoho(404, 1002, "Invoice does not exist."))
    async with async_client(recorder) as client:
        with pytest.raises(NotFoundError):
            await client.request("DELETE", "/invoices/1")
    assert len(recorder.requests) == 2


@pytest.mark.anyio
async def test_s35_async_request_401_refreshes_once() -> None:
    provider = AsyncFakeProvider()
    recorder = Recorder(zoho(401, 57), zoho(comments=[]))
    async with async_client(recorder, token_provider=provider) as client:
        assert (await client.request("GET", "/invoices/1/comments"))["comments"] == []
    assert provider.invalidated == ["t1"]
    assert len(recorder.requests) == 2


@pytest.mark.anyio
async def test_async_request_bytes() -> None:
    recorder = Recorder(httpx.Response(200, content=b"%PDF", headers={"Content-Type": "x/pdf"}))
    async with async_client(recorder) as client:
        assert await client.request_bytes("GET", "/invoices/1", params={"accept": "pdf"}) == b"%PDF"
