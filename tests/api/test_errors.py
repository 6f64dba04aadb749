"""Unit tests: Zoho's answers mapped to error classes, through the client and MockTransport."""

from __future__ import annotations

import pickle

import pytest

from api._fakes import ORG, Recorder, sync_client, zoho
from zoho_invoice import (
    APIConnectionError,
    APIError,
    APIStatusError,
    APITimeoutError,
    AuthenticationError,
    BadRequestError,
    ConflictError,
    DailyQuotaExceeded,
    InternalServerError,
    MissingScopeError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitError,
)
from zoho_invoice._http import httpx
from zoho_invoice.api import TokenBucketBudget
from zoho_invoice.api._errors import make_api_error


@pytest.mark.parametrize(
    ("status", "code", "expected"),
    [
        (400, 2, BadRequestError),
        (400, 6041, BadRequestError),
        (400, 1001, BadRequestError),
        (400, 4001, BadRequestError),
        (400, 12008, BadRequestError),
        (401, 14, AuthenticationError),
        (401, 57, AuthenticationError),
        (403, 9, PermissionDeniedError),
        (404, 1002, NotFoundError),
        (409, 3, ConflictError),
        (429, 44, RateLimitError),
        (429, 45, DailyQuotaExceeded),
        (429, 1070, RateLimitError),
        (400, 1070, RateLimitError),
        (200, 45, DailyQuotaExceeded),
        (200, 1002, NotFoundError),
        (200, 57, AuthenticationError),
        (200, 99, APIStatusError),
        (500, 1, InternalServerError),
        (503, 1, InternalServerError),
        (418, 7, APIStatusError),
    ],
)
def test_status_and_code_map_to_class(status: int, code: int, expected: type[APIError]) -> None:
    error = make_api_error(status, zoho(status, code, "Nope").content)
    assert type(error) is expected
    assert error.status_code == status
    assert error.code == code
    assert error.message == "Nope"
    assert "Nope" in str(error) and str(code) in str(error)


def test_second_57_after_refresh_is_missing_scope() -> None:
    error = make_api_error(401, zoho(401, 57).content, after_refresh=True)
    assert isinstance(error, MissingScopeError)
    assert type(make_api_error(401, zoho(401, 14).content, after_refresh=True)) is (
        AuthenticationError
    )


def test_non_json_error_body_still_maps() -> None:
    error = make_api_error(502, b"<html>Bad gateway</html>")
    assert isinstance(error, InternalServerError)
    assert error.code is None and error.message == "HTTP 502"


def test_s38_message_cr_lf_escaped() -> None:
    error = make_api_error(400, zoho(400, 2, "bad\r\nX-Injected: 1").content)
    assert "\n" not in str(error) and "\r" not in str(error)


def test_200_with_nonzero_code_raises_through_client() -> None:
    recorder = Recorder(zoho(200, 45, "daily limit"))
    with sync_client(recorder) as client, pytest.raises(RateLimitError) as info:
        client.invoices.get("1")
    assert info.value.code == 45
    assert len(recorder.requests) == 1  # the daily quota is not retried


@pytest.mark.parametrize("status", [400, 403, 404, 409])
def test_client_errors_raise_without_retry(status: int) -> None:
    recorder = Recorder(zoho(status, 2, "no"))
    with sync_client(recorder) as client, pytest.raises(APIError) as info:
        client.contacts.get("5")
    assert info.value.status_code == status
    assert len(recorder.requests) == 1


def test_s38_token_not_in_error() -> None:
    recorder = Recorder(httpx.ConnectError("boom"))
    with sync_client(recorder, max_retries=0) as client, pytest.raises(APIError) as info:
        client.invoices.list()
    assert "1000.tok.en" not in str(info.value)
    assert "1000.tok.en" not in repr(info.value.__cause__)


@pytest.mark.parametrize(
    "failure",
    [httpx.ConnectError("refused"), httpx.ReadTimeout("slow")],
    ids=["refused", "timeout"],
)
def test_except_apistatuserror_does_not_catch_a_call_without_an_answer(
    failure: Exception,
) -> None:
    """``except APIStatusError`` is for what Zoho said: a call that got no answer passes it by
    (and is still an ``APIError``, with neither status nor code)."""
    recorder = Recorder(failure)
    with sync_client(recorder, max_retries=0) as client, pytest.raises(APIConnectionError) as info:
        try:
            client.invoices.list()
        except APIStatusError:  # pragma: no cover - the assertion is that this is not taken
            pytest.fail("a call without an answer was caught as an error answer")
    assert isinstance(info.value, APIError)
    assert isinstance(info.value, APITimeoutError) == isinstance(failure, httpx.TimeoutException)
    assert info.value.status_code is None and info.value.code is None


@pytest.mark.parametrize(
    "cls",
    [
        BadRequestError,
        AuthenticationError,
        MissingScopeError,
        PermissionDeniedError,
        NotFoundError,
        ConflictError,
        RateLimitError,
        DailyQuotaExceeded,
        InternalServerError,
    ],
)
def test_every_status_class_is_an_apistatuserror_and_no_connection_error(
    cls: type[APIError],
) -> None:
    assert issubclass(cls, APIStatusError)
    assert not issubclass(cls, APIConnectionError)
    assert not issubclass(APIConnectionError, APIStatusError)


def test_s38_an_error_answer_keeps_zohos_response_without_the_token() -> None:
    recorder = Recorder(zoho(400, 4001, "Invalid value passed for customer_id"))
    with sync_client(recorder) as client, pytest.raises(APIStatusError) as info:
        client.invoices.get("1")
    error = info.value
    assert error.response is not None
    assert error.response.status_code == 400
    assert error.response.json()["code"] == 4001
    assert error.response.request.url.path == "/invoice/v3/invoices/1"
    assert "Authorization" not in error.response.request.headers
    assert recorder.requests[0].headers["Authorization"] == "Zoho-oauthtoken 1000.tok.en"
    assert b"1000.tok.en" not in pickle.dumps(error)


def test_retry_after_is_zohos_header_then_the_minute_then_the_reset() -> None:
    """``retry_after`` says how long the same call is not worth trying: Zoho's Retry-After when
    it sends one, the budget's window for a 44 without it, a moment for 1070, the seconds to
    the daily reset for a 45, and nothing for an error that waiting does not cure."""
    told = httpx.Response(
        429, json={"code": 44, "message": "slow"}, headers={"Retry-After": "3000"}
    )
    cases: list[tuple[httpx.Response, float | None]] = [
        (told, 3000.0),
        (zoho(429, 44, "slow"), 30.0),
        (zoho(429, 1070, "too many at once"), 0.5),
        (
            httpx.Response(503, json={"code": 1, "message": "down"}, headers={"Retry-After": "7"}),
            7.0,
        ),
        (zoho(400, 4001, "bad"), None),
    ]
    for answer, expected in cases:
        budget = TokenBucketBudget(rate=90, window=30.0, burst=5)
        client = sync_client(Recorder(answer), budget=budget, max_retries=0)
        with client, pytest.raises(APIStatusError) as info:
            client.contacts.list()
        assert info.value.retry_after == expected, answer.status_code

    daily = httpx.Response(
        429, json={"code": 45, "message": "daily"}, headers={"X-Rate-Limit-Reset": "34881"}
    )
    with sync_client(Recorder(daily)) as client:
        with pytest.raises(DailyQuotaExceeded) as spent:
            client.contacts.list()
        assert spent.value.retry_after == pytest.approx(34881, abs=2)
        with pytest.raises(DailyQuotaExceeded) as blocked:  # refused without sending
            client.contacts.list()
    assert blocked.value.response is None and blocked.value.status_code is None
    assert blocked.value.retry_after is not None and 34_000 < blocked.value.retry_after <= 34_881
    assert blocked.value.organization_id == ORG
