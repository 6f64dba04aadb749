"""Unit tests of Zoho token-response parsing (SECURITY 17, 18)."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from zoho_invoice import (
    AuthorizationDenied,
    InvalidClientError,
    InvalidGrantError,
    InvalidRedirectURIError,
    OAuthError,
    OAuthTransientError,
    TokenResponseError,
    TokenThrottledError,
)
from zoho_invoice._exceptions import ConfigurationError, InvalidClientSecretError
from zoho_invoice.oauth._parse import parse_token_response

NOW = 1_800_000_000.0
ACCESS = "1000.0123456789abcdef0123456789abcdef.fedcba9876543210fedcba9876543210"
REFRESH = "1000.aaaabbbbccccddddeeeeffff00001111.2222333344445555666677778888999a"


def body(**fields: object) -> bytes:
    return json.dumps(fields).encode()


def success(**extra: object) -> bytes:
    fields: dict[str, object] = {
        "access_token": ACCESS,
        "refresh_token": REFRESH,
        "api_domain": "https://www.zohoapis.com",
        "token_type": "Bearer",
        "expires_in": 3600,
    }
    fields.update(extra)
    return body(**{k: v for k, v in fields.items() if v is not None})


def test_first_exchange_success() -> None:
    tokens = parse_token_response(200, success(), now=NOW, grant="authorization_code")
    assert tokens.access_token == ACCESS and tokens.refresh_token == REFRESH
    assert tokens.api_domain == "https://www.zohoapis.com" and tokens.token_type == "Bearer"
    assert tokens.expires_at == datetime.fromtimestamp(NOW + 3600, UTC)
    assert ACCESS not in repr(tokens) and REFRESH not in repr(tokens)


def test_refresh_without_refresh_token_is_fine() -> None:
    tokens = parse_token_response(200, success(refresh_token=None), now=NOW, grant="refresh_token")
    assert tokens.refresh_token is None


def test_expires_in_sec_wins_and_expires_in_is_then_milliseconds() -> None:
    tokens = parse_token_response(
        200, success(expires_in=3_600_000, expires_in_sec=3600), now=NOW, grant="refresh_token"
    )
    assert tokens.expires_at == datetime.fromtimestamp(NOW + 3600, UTC)


@pytest.mark.parametrize(
    ("error", "description", "cls"),
    [
        ("invalid_code", None, InvalidGrantError),
        ("invalid_client", None, InvalidClientError),
        ("invalid_client_secret", None, InvalidClientSecretError),
        ("invalid_redirect_uri", None, InvalidRedirectURIError),
        ("access_denied", None, AuthorizationDenied),
        (
            "Access Denied",
            "You have made too many requests continuously. Please try again after some time.",
            TokenThrottledError,
        ),
        (
            "invalid_request",
            "Token creation throttle limit reached. Please reuse the valid tokens you "
            "currently have.",
            TokenThrottledError,
        ),
        ("server_error", None, OAuthTransientError),
        ("something_new", None, OAuthError),
    ],
)
def test_s17_error_in_a_200_body_is_a_failure(
    error: str, description: str | None, cls: type[OAuthError]
) -> None:
    payload = {"error": error, "status": "failure"}
    if description:
        payload["error_description"] = description
    with pytest.raises(cls) as info:
        parse_token_response(200, body(**payload), now=NOW, grant="refresh_token")
    assert type(info.value) is cls
    assert info.value.error == error


def test_invalid_client_secret_is_a_configuration_fault_not_a_dead_connection() -> None:
    with pytest.raises(ConfigurationError) as info:
        parse_token_response(
            200, body(error="invalid_client_secret"), now=NOW, grant="refresh_token"
        )
    # Still an InvalidClientError for code that catches that (the connect flow's page).
    assert isinstance(info.value, InvalidClientError)
    assert "ZOHO_CLIENT_SECRET" in str(info.value)


def test_s17_error_beside_an_access_token_still_fails() -> None:
    with pytest.raises(InvalidGrantError):
        parse_token_response(200, success(error="invalid_code"), now=NOW, grant="refresh_token")


def test_s38_error_description_cannot_smuggle_tokens_or_lines_into_the_message() -> None:
    payload = body(error="weird", error_description=f"token {ACCESS}\r\nrefresh_token=abcdefgh")
    with pytest.raises(OAuthError) as info:
        parse_token_response(200, payload, now=NOW, grant="refresh_token")
    message = str(info.value)
    assert ACCESS not in message and "abcdefgh" not in message and "\n" not in message


def test_s18_no_access_token_says_what_to_fix() -> None:
    with pytest.raises(TokenResponseError, match="no access_token"):
        parse_token_response(200, success(access_token=None), now=NOW, grant="refresh_token")


def test_s18_first_exchange_without_refresh_token_names_the_fix() -> None:
    with pytest.raises(TokenResponseError) as info:
        parse_token_response(200, success(refresh_token=None), now=NOW, grant="authorization_code")
    message = str(info.value)
    assert "access_type=offline" in message and "prompt=consent" in message
    assert ACCESS not in message


@pytest.mark.parametrize(
    ("status", "payload"),
    [(200, b"<html>gateway</html>"), (502, b"Bad gateway"), (503, b"{}"), (200, b"[1, 2]")],
)
def test_garbage_and_5xx_are_transient(status: int, payload: bytes) -> None:
    with pytest.raises(OAuthTransientError):
        parse_token_response(status, payload, now=NOW, grant="refresh_token")


@pytest.mark.parametrize("lifetime", [0, -5, "soon"])
def test_impossible_lifetime_is_refused_or_defaulted(lifetime: object) -> None:
    if lifetime == "soon":
        tokens = parse_token_response(
            200, success(expires_in=lifetime), now=NOW, grant="refresh_token"
        )
        assert tokens.expires_at == datetime.fromtimestamp(NOW + 3600, UTC)
    else:
        with pytest.raises(TokenResponseError):
            parse_token_response(200, success(expires_in=lifetime), now=NOW, grant="refresh_token")
