"""Integration tests: what the callback does with each kind of token-endpoint answer (SECURITY
17-20). The service app with a real Vault and the sandbox playing Zoho in process; the sandbox's
token answers are scripted (its fault script) or altered on the way back (the harness's
transport), and every refusal must be a clear 400 page that stores nothing and shows no secret."""

from __future__ import annotations

import json
from typing import Any

import pytest

from zoho_invoice._http import httpx
from zoho_invoice_sandbox import Fault

BOB = "bob@bluebird.example"
THROTTLE = {
    "error": "Access Denied",
    "error_description": "You have made too many requests continuously. Please try again after "
    "some time.",
}


def _finish(harness) -> tuple[Any, dict[str, str]]:
    """Run the flow up to Zoho's redirect, then the callback; returns (answer, its params)."""
    url = harness.consent(harness.start(), BOB)
    return harness.callback(url), harness.params(url)


def _assert_clear_refusal(harness, response, params: dict[str, str], *words: str) -> None:
    assert response.status_code == 400, response.text
    assert "text/html" in response.headers["content-type"]
    assert response.headers["cache-control"] == "no-store"
    assert response.headers["referrer-policy"] == "no-referrer"
    assert "frame-ancestors 'none'" in response.headers["content-security-policy"]
    assert "max-age=0" in response.headers["set-cookie"].lower()  # the binding cookie cleared
    assert harness.vault.list_connections() == []
    for secret in (params["code"], params["state"], harness.client_secret):
        assert secret not in response.text
    text = " ".join(response.text.split())
    for word in words:
        assert word in text, word
    # Exactly one token request: a code is never sent twice (SECURITY 20).
    assert len(harness.token_requests()) == 1


def _rewrite(**changes: object):
    def tamper(request: httpx.Request, response: httpx.Response) -> httpx.Response:
        body = json.loads(response.content)
        for key, value in changes.items():
            if value is None:
                body.pop(key, None)
            else:
                body[key] = value
        _rewrite.original = json.loads(response.content)  # type: ignore[attr-defined]
        return httpx.Response(response.status_code, json=body)

    return tamper


def test_s19_api_domain_of_another_datacenter_is_a_400_and_the_new_token_is_revoked(
    harness,
) -> None:
    eu_api = harness.world.api_domain("eu")
    harness.oauth_transport.tamper = _rewrite(api_domain=eu_api)
    response, params = _finish(harness)
    _assert_clear_refusal(harness, response, params, "API domain", "not the one of data centre")
    minted = _rewrite.original["refresh_token"]  # type: ignore[attr-defined]
    assert minted not in response.text
    # The refresh token Zoho minted was given back: it no longer counts against the user's 20.
    assert harness.world.accounts.stats(minted)["live_refresh_tokens"] == 0
    [revoke] = harness.world.journal.entries("accounts.revoke")
    assert revoke.path.startswith("/accounts/us/")


@pytest.mark.parametrize(
    ("error", "words"),
    [
        ("invalid_code", ["expired or was already used"]),
        ("invalid_client", ["client id", "ZOHO_CLIENT_ID"]),
    ],
)
def test_s17_http_200_error_bodies(harness, error: str, words: list[str]) -> None:
    harness.world.faults.add("accounts.token", Fault(status=200, body={"error": error}))
    response, params = _finish(harness)
    _assert_clear_refusal(harness, response, params, *words)


def test_s18_no_refresh_token_says_what_to_fix(harness) -> None:
    harness.oauth_transport.tamper = _rewrite(refresh_token=None)
    response, params = _finish(harness)
    _assert_clear_refusal(harness, response, params, "access_type=offline", "prompt=consent")


def test_s18_no_access_token(harness) -> None:
    harness.oauth_transport.tamper = _rewrite(access_token=None)
    response, params = _finish(harness)
    _assert_clear_refusal(harness, response, params, "no access_token")


@pytest.mark.parametrize("status", [500, 503])
def test_s20_server_error_says_connect_again_without_a_second_try(harness, status: int) -> None:
    harness.world.faults.add("accounts.token", Fault(status=status, body=None), times=5)
    response, params = _finish(harness)
    _assert_clear_refusal(harness, response, params, "connect again")


def test_s20_timeout_after_zoho_minted_says_connect_again(harness) -> None:
    def timeout(request: httpx.Request, response: httpx.Response) -> httpx.Response:
        raise httpx.ReadTimeout("timed out", request=request)

    harness.oauth_transport.tamper = timeout
    response, params = _finish(harness)
    _assert_clear_refusal(harness, response, params, "connect again")


def test_s20_garbled_content_encoding_is_a_clear_refusal(harness) -> None:
    def garbled(request: httpx.Request, response: httpx.Response) -> httpx.Response:
        return httpx.Response(
            200,
            stream=httpx.ByteStream(b"not gzip at all"),
            headers={"Content-Encoding": "gzip", "Content-Type": "application/json"},
        )

    harness.oauth_transport.tamper = garbled
    response, params = _finish(harness)
    _assert_clear_refusal(harness, response, params, "connect again")


def test_s17_throttle_body_is_a_clear_refusal(harness) -> None:
    harness.world.faults.add("accounts.token", Fault(status=200, body=THROTTLE))
    response, params = _finish(harness)
    _assert_clear_refusal(harness, response, params, "limiting token requests", "Wait a few")
