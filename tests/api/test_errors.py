"""Unit tests: Zoho's answers mapped to error classes, through the client and MockTransport."""

from __future__ import annotations

import pytest

from api._fakes import Recorder, sync_client, zoho
from zoho_invoice import (
    APIError,
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
from zoho_invoice.api import make_api_error


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
        (200, 99, APIError),
        (500, 1, InternalServerError),
        (503, 1, InternalServerError),
        (418, 7, APIError),
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
