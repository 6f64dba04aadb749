"""Helpers of the web tests (``from web._harness import Harness``): the service app wired to a
real Vault on SQLite and the real sandbox app (in process) playing Zoho for the OAuth client and
the API client. The fixtures that build them are in ``conftest.py``."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from fastapi import FastAPI
from pydantic import SecretStr
from starlette.testclient import TestClient

from zoho_invoice._http import httpx
from zoho_invoice.api import UnlimitedBudget
from zoho_invoice.datacenters import DataCenterTable
from zoho_invoice.oauth import OAuthClient
from zoho_invoice.settings import Settings
from zoho_invoice.tokens import ConnectionEvent, TokenManager
from zoho_invoice.vault import KeyRing, Vault
from zoho_invoice.web import create_app, organizations_reader, users_reader
from zoho_invoice_sandbox import SandboxWorld, create_sandbox_app, datacenters_table

SANDBOX_URL = "http://127.0.0.1:9"  # never dialled: the sandbox is reached in process
PUBLIC_URL = "http://testserver"
API_KEY = "test-api-key-0123456789abcdef-0123456789"
METRICS_KEY = "test-metrics-key-0123456789abcdef-01234"
CLIENT_ID = "1000.WEBTESTCLIENT"
CLIENT_SECRET = "web-test-client-secret-value"
REDIRECT_URI = PUBLIC_URL + "/callback"
#: The prefix of the per-flow binding cookies (``Harness.binding_cookie_for(url)`` names one).
BINDING_COOKIE = "zoho_invoice_binding"


#: Rewrites (or replaces) Zoho's answer to a token request: (request, Zoho's answer) -> answer.
TokenTamper = Callable[[httpx.Request, httpx.Response], httpx.Response]


class TamperingTransport(httpx.BaseTransport):
    """Sends through the sandbox's TestClient (its public ``send``), with a hook on token
    answers: what the network may do after Zoho has acted (a timeout after the mint, a
    rewritten ``api_domain``)."""

    def __init__(self, inner: httpx.Client) -> None:
        self.inner = inner
        self.tamper: TokenTamper | None = None

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        # As a transport answers: one hop (no redirects followed), the body still to be read.
        response = self.inner.send(request, stream=True, follow_redirects=False)
        if self.tamper is not None and request.url.path.endswith("/oauth/v2/token"):
            response.read()
            return self.tamper(request, response)
        return response


@dataclass
class Harness:
    """The service in a TestClient (the "browser") and the sandbox playing Zoho."""

    web: TestClient
    zoho: TestClient
    world: SandboxWorld
    vault: Vault
    app: FastAPI
    events: list[ConnectionEvent]
    tmp_path: Path
    oauth_transport: TamperingTransport

    api_key = API_KEY
    metrics_key = METRICS_KEY
    redirect_uri = REDIRECT_URI
    binding_cookie = BINDING_COOKIE
    client_secret = CLIENT_SECRET

    # -- the JSON API ------------------------------------------------------------------------

    def api(self, method: str, path: str, **kwargs: Any) -> Any:
        headers = {"Authorization": f"Bearer {API_KEY}", **kwargs.pop("headers", {})}
        return self.web.request(method, path, headers=headers, **kwargs)

    def connect_url(self, owner: str = "tenant-1", **extra: Any) -> str:
        response = self.api("POST", "/api/connect-sessions", json={"owner": owner, **extra})
        assert response.status_code == 201, response.text
        return str(response.json()["connect_url"])

    def connect_url_unchecked(self, owner: str = "tenant-1") -> str:
        """A connect URL made while the database may be down (built by hand, never stored)."""
        return "/connect/" + "A" * 43

    def binding_cookie_for(self, url: str) -> str:
        """The name of the binding cookie of the flow whose ``state`` is in ``url`` (SECURITY
        46: one cookie per flow, named after a hash of its state)."""
        from zoho_invoice.web._connect import binding_cookie_name

        return binding_cookie_name(self.params(url)["state"])

    def binding_for(self, url: str, browser: TestClient | None = None) -> str | None:
        """The value of that flow's binding cookie in ``browser`` (default: ``self.web``)."""
        return (browser or self.web).cookies.get(self.binding_cookie_for(url))

    # -- the browser -------------------------------------------------------------------------

    def start(self, owner: str = "tenant-1", **extra: Any) -> str:
        """Open the connect URL; returns the authorize URL at the sandbox (cookie now set)."""
        url = self.connect_url(owner, **extra)
        response = self.web.get(url, follow_redirects=False)
        assert response.status_code == 303, response.text
        return str(response.headers["location"])

    def consent(self, authorize_url: str, email: str, decision: str = "approve") -> str:
        """Approve at the sandbox as ``email``; follows Zoho's hop to the user's own DC.

        Returns the callback URL the sandbox sends the browser to.
        """
        user = self.world.directory.user_by_email(email)
        assert user is not None
        url = authorize_url
        for _ in range(3):
            response = self.zoho.post(
                url, data={"user_id": user.user_id, "decision": decision}, follow_redirects=False
            )
            assert response.status_code in (302, 303), response.text
            url = str(response.headers["location"])
            if url.startswith(REDIRECT_URI):
                return url
        raise AssertionError("the sandbox never sent the browser back")

    def callback(self, callback_url: str) -> Any:
        parts = urlsplit(callback_url)
        return self.web.get(parts.path + "?" + parts.query, follow_redirects=False)

    def connect(self, owner: str = "tenant-1", email: str = "bob@bluebird.example", **extra: Any):
        """The whole happy flow; returns the callback's answer."""
        return self.callback(self.consent(self.start(owner, **extra), email))

    def token_requests(self) -> list[Any]:
        return self.world.journal.entries("accounts.token")

    def zoho_requests(self) -> list[Any]:
        return self.world.journal.entries("accounts.token") + self.world.journal.entries(
            "accounts.revoke"
        )

    @staticmethod
    def params(url: str) -> dict[str, str]:
        return dict(parse_qsl(urlsplit(url).query, keep_blank_values=True))

    def user(self, email: str) -> Any:
        user = self.world.directory.user_by_email(email)
        assert user is not None
        return user


def make_settings(tmp_path: Path, **overrides: Any) -> Settings:
    datacenters_file = tmp_path / "datacenters.json"
    if not datacenters_file.exists():
        import json

        datacenters_file.write_text(json.dumps(datacenters_table(SANDBOX_URL)), encoding="utf-8")
    values: dict[str, Any] = {
        "client_id": CLIENT_ID,
        "client_secret": SecretStr(CLIENT_SECRET),
        "redirect_uri": REDIRECT_URI,
        "encryption_keys": SecretStr(KeyRing.generate_entry()),
        "api_key": SecretStr(API_KEY),
        "metrics_key": SecretStr(METRICS_KEY),
        "datacenters": datacenters_file,
        "data_dir": tmp_path,
        "public_url": PUBLIC_URL,
        "allowed_return_urls": ["https://app.example.com"],
        **overrides,
    }
    return Settings(**values)


def build_harness(
    tmp_path: Path,
    *,
    demo: bool = False,
    clock: Callable[[], float] = time.time,
    **settings_overrides: Any,
) -> Iterator[Harness]:
    settings = make_settings(tmp_path, **settings_overrides)
    sandbox_app = create_sandbox_app(base_url=SANDBOX_URL)
    world: SandboxWorld = sandbox_app.state.world
    assert settings.encryption_keys is not None
    keyring = KeyRing.from_string(settings.encryption_keys.get_secret_value())
    vault = Vault.open(settings.resolved_database_url, keyring, upgrade=True, clock=clock)
    events: list[ConnectionEvent] = []

    def record(event: ConnectionEvent) -> None:
        """The event sink: list.append's parameter is positional-only, an EventSink's is not."""
        events.append(event)

    with TestClient(sandbox_app, base_url=SANDBOX_URL) as zoho:
        table = DataCenterTable.from_settings(settings.datacenters)
        oauth_transport = TamperingTransport(zoho)
        oauth_http = httpx.Client(transport=oauth_transport)
        oauth = OAuthClient(
            client_id=CLIENT_ID,
            client_secret=SecretStr(CLIENT_SECRET),
            redirect_uri=REDIRECT_URI,
            scopes=settings.scopes,
            datacenters=table,
            http=oauth_http,
        )
        manager = TokenManager(vault, oauth, events=record)
        app = create_app(
            settings,
            vault=vault,
            oauth=oauth,
            manager=manager,
            demo=demo,
            organizations=organizations_reader(http_client=zoho),
            current_user=users_reader(http_client=zoho),
            events=record,
            api_http_client=zoho,
            api_budget=UnlimitedBudget(),
        )
        with TestClient(app, base_url=PUBLIC_URL) as web:
            yield Harness(web, zoho, world, vault, app, events, tmp_path, oauth_transport)
        oauth_http.close()
    vault.close()
