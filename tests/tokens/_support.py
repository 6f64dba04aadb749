"""Helpers of the token-manager tests (``from tokens._support import Manager``): a fake Zoho
Accounts, a connection saved in the real Vault, and ``Manager``, which builds managers wired
to the fixtures of ``conftest.py``."""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from pydantic import SecretStr

from support import Clock
from zoho_invoice._http import httpx
from zoho_invoice.datacenters import DataCenterTable
from zoho_invoice.oauth import OAuthClient, TokenSet
from zoho_invoice.tokens import Backoff, ConnectionEvent, TokenManager
from zoho_invoice.vault import Vault

START = 1_800_000_000.0
OLD_ACCESS = "1000.00000000000000000000000000000000.11111111111111111111111111111111"
REFRESH = "1000.aaaabbbbccccddddeeeeffff00001111.2222333344445555666677778888999a"


class FakeZoho:
    """Zoho Accounts' token endpoint: answers from a script, counts refreshes."""

    def __init__(self) -> None:
        self.requests: list[httpx.Request] = []
        self.script: list[Callable[[httpx.Request], httpx.Response]] = []
        self.minted: list[str] = []
        self._lock = threading.Lock()
        self.delay: threading.Event | None = None

    def ok(self, request: httpx.Request) -> httpx.Response:
        with self._lock:
            token = f"1000.{len(self.minted) + 1:032x}.{'e' * 32}"
            self.minted.append(token)
        return httpx.Response(
            200,
            json={
                "access_token": token,
                "api_domain": "https://www.zohoapis.eu",
                "token_type": "Bearer",
                "expires_in": 3600,
            },
        )

    def __call__(self, request: httpx.Request) -> httpx.Response:
        request.read()
        with self._lock:
            self.requests.append(request)
            answer = self.script.pop(0) if self.script else self.ok
        return answer(request)

    @property
    def refreshes(self) -> int:
        return len(self.requests)


def error(code: str, **extra: object) -> Callable[[httpx.Request], httpx.Response]:
    return lambda request: httpx.Response(200, json={"error": code, **extra})


def save(
    vault: Vault,
    clock: Clock,
    *,
    expires_in: float,
    owner: str = "tenant-1",
    refresh_token: str = REFRESH,
) -> str:
    tokens = TokenSet(
        access_token=OLD_ACCESS,
        refresh_token=refresh_token,
        expires_at=datetime.fromtimestamp(clock(), UTC) + timedelta(seconds=expires_in),
        api_domain="https://www.zohoapis.eu",
        token_type="Bearer",
        scope=None,
    )
    connection, _ = vault.save_connection(
        owner=owner,
        location="eu",
        api_domain="https://www.zohoapis.eu",
        scopes=["ZohoInvoice.invoices.READ"],
        tokens=tokens,
    )
    return connection.id


def oauth_for(zoho: Callable[[httpx.Request], httpx.Response], clock: Clock) -> OAuthClient:
    return OAuthClient(
        client_id="1000.CLIENTID",
        client_secret=SecretStr("secret"),
        redirect_uri="https://app.example.com/zoho/callback",
        scopes=["ZohoInvoice.invoices.READ"],
        datacenters=DataCenterTable.builtin(),
        http=httpx.Client(transport=httpx.MockTransport(zoho)),
        clock=clock,
    )


class Manager:
    """Builds managers wired to the fixtures; records sleeps and events."""

    def __init__(self, vault: Vault, zoho: FakeZoho, clock: Clock) -> None:
        self.vault, self.zoho, self.clock = vault, zoho, clock
        self.sleeps: list[float] = []
        self.events: list[ConnectionEvent] = []

    old_access = OLD_ACCESS
    refresh_token = REFRESH

    def save(
        self, *, expires_in: float, owner: str = "tenant-1", refresh_token: str = REFRESH
    ) -> str:
        return save(
            self.vault, self.clock, expires_in=expires_in, owner=owner, refresh_token=refresh_token
        )

    @staticmethod
    def error(code: str, **extra: object) -> Callable[[httpx.Request], httpx.Response]:
        return error(code, **extra)

    def oauth(self, handler: Callable[[httpx.Request], httpx.Response]) -> OAuthClient:
        return oauth_for(handler, self.clock)

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.clock.advance(seconds)

    def __call__(self, **kwargs: object) -> TokenManager:
        options: dict[str, object] = {
            "clock": self.clock,
            "sleep": self.sleep,
            "backoff": Backoff(initial=0.5, maximum=8.0, jitter=lambda: 0.0),
            "events": self.events.append,
        }
        options.update(kwargs)
        zoho = options.pop("zoho", self.zoho)
        return TokenManager(self.vault, oauth_for(zoho, self.clock), **options)  # type: ignore[arg-type]
