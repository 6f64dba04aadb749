"""Helpers for integration tests against the sandbox: mint a real access token through its
Zoho Accounts (consent, code exchange), as an app would."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs, urlsplit

from zoho_invoice._http import httpx

CLIENT = "1000.APITESTS"
SECRET = "api-tests-secret"
REDIRECT = "http://app.test/zoho/callback"
SCOPES = (
    "ZohoInvoice.settings.ALL,ZohoInvoice.contacts.ALL,ZohoInvoice.invoices.ALL,"
    "ZohoInvoice.estimates.ALL,ZohoInvoice.customerpayments.ALL"
)
ALICE = "alice@acme.example"


def _auth_params(scopes: str) -> dict[str, str]:
    return {
        "client_id": CLIENT,
        "response_type": "code",
        "redirect_uri": REDIRECT,
        "scope": scopes,
        "access_type": "offline",
        "prompt": "consent",
        "state": "s",
    }


def _code(location: str) -> str:
    query = parse_qs(urlsplit(location).query)
    return query["code"][0]


#: Tests mint a token for each case, many in one module-scoped sandbox: more codes and refresh
#: tokens in 10 minutes than Zoho issues one client (10 each). The helpers lift those limits on
#: the sandbox they use; tests/sandbox/test_accounts.py tests them.
_NO_ISSUE_LIMITS = {"authorization_code_limit": 0, "refresh_token_limit": 0}


def mint(
    http: httpx.Client, user_id: str, *, scopes: str = SCOPES, location: str = "us"
) -> dict[str, Any]:
    """The token response for ``user_id`` (``access_token``, ``refresh_token``, ``api_domain``)."""
    http.patch("/_sandbox/settings", json=_NO_ISSUE_LIMITS).raise_for_status()
    url = f"/accounts/{location}/oauth/v2/auth"
    answer = http.post(
        url, params=_auth_params(scopes), data={"user_id": user_id, "decision": "approve"}
    )
    assert answer.status_code == 302, answer.text
    body = http.post(
        f"/accounts/{location}/oauth/v2/token",
        data={
            "grant_type": "authorization_code",
            "client_id": CLIENT,
            "client_secret": SECRET,
            "code": _code(answer.headers["location"]),
            "redirect_uri": REDIRECT,
        },
    ).json()
    assert "access_token" in body, body
    return dict(body)


async def amint(
    http: httpx.AsyncClient, user_id: str, *, scopes: str = SCOPES, location: str = "us"
) -> dict[str, Any]:
    (await http.patch("/_sandbox/settings", json=_NO_ISSUE_LIMITS)).raise_for_status()
    url = f"/accounts/{location}/oauth/v2/auth"
    answer = await http.post(
        url, params=_auth_params(scopes), data={"user_id": user_id, "decision": "approve"}
    )
    assert answer.status_code == 302, answer.text
    response = await http.post(
        f"/accounts/{location}/oauth/v2/token",
        data={
            "grant_type": "authorization_code",
            "client_id": CLIENT,
            "client_secret": SECRET,
            "code": _code(answer.headers["location"]),
            "redirect_uri": REDIRECT,
        },
    )
    body = response.json()
    assert "access_token" in body, body
    return dict(body)


class RefreshingProvider:
    """A token provider over the sandbox's refresh grant (a stand-in for the TokenManager)."""

    refreshable = True

    def __init__(self, http: httpx.Client, tokens: dict[str, Any], organization_id: str) -> None:
        self.http = http
        self.refresh_token = tokens["refresh_token"]
        self.access_token: str | None = tokens["access_token"]
        self.api_domain = tokens["api_domain"]
        self.organization_id = organization_id
        self.refreshes = 0

    def get(self) -> tuple[str, str, str | None]:
        if self.access_token is None:
            body = self.http.post(
                "/accounts/us/oauth/v2/token",
                data={
                    "grant_type": "refresh_token",
                    "client_id": CLIENT,
                    "client_secret": SECRET,
                    "refresh_token": self.refresh_token,
                },
            ).json()
            self.access_token = body["access_token"]
            self.refreshes += 1
        assert self.access_token is not None
        return self.access_token, self.api_domain, self.organization_id

    def invalidate(self, token: str, *, code: int | None, operation: str) -> bool:
        if token == self.access_token:
            self.access_token = None
        return True

    def confirm(self, token: str, operation: str | None) -> None:
        return None
