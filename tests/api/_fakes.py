"""Helpers for the API client's tests: a scripted Zoho behind ``httpx.MockTransport``."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from zoho_invoice._http import httpx
from zoho_invoice.api import (
    AsyncZohoInvoice,
    InProcessQuotaBlocks,
    IPThrottle,
    TokenInfo,
    UnlimitedBudget,
    ZohoInvoice,
)

API = "https://www.zohoapis.com"
ORG = "10234695"


def zoho(status: int = 200, code: int = 0, message: str = "success", **data: Any) -> httpx.Response:
    return httpx.Response(status, json={"code": code, "message": message, **data})


class Recorder:
    """A MockTransport handler that answers from a script and records every request."""

    def __init__(self, *answers: httpx.Response | Exception | Callable[[httpx.Request], Any]):
        self.answers = list(answers)
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        # A snapshot: the auth flow reuses the request object when it retries.
        self.requests.append(
            httpx.Request(
                request.method, request.url, headers=request.headers.copy(), content=request.read()
            )
        )
        answer = self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]
        if isinstance(answer, Exception):
            raise answer
        if callable(answer) and not isinstance(answer, httpx.Response):
            result = answer(request)
            assert isinstance(result, httpx.Response)
            return result
        return answer

    def bodies(self) -> list[Any]:
        return [json.loads(r.content) if r.content else None for r in self.requests]


def sync_client(handler: Any, **options: Any) -> ZohoInvoice:
    if "token_provider" not in options:
        options.setdefault("access_token", "1000.tok.en")
        options.setdefault("organization_id", ORG)
    options.setdefault("quota_blocks", InProcessQuotaBlocks())
    options.setdefault("ip_throttle", IPThrottle())
    options.setdefault("sleep", lambda _seconds: None)
    return ZohoInvoice(
        http_client=httpx.Client(transport=httpx.MockTransport(handler)),
        budget=options.pop("budget", UnlimitedBudget()),
        **options,
    )


def async_client(handler: Any, **options: Any) -> AsyncZohoInvoice:
    """``sync_client``'s async twin: the scripted Zoho, no budget, sleeps that return at once."""
    if "token_provider" not in options:
        options.setdefault("access_token", "1000.tok.en")
        options.setdefault("organization_id", ORG)

    async def no_sleep(_seconds: float) -> None:
        return None

    options.setdefault("sleep", no_sleep)
    return AsyncZohoInvoice(
        http_client=httpx.AsyncClient(transport=httpx.MockTransport(handler)),
        budget=options.pop("budget", UnlimitedBudget()),
        **options,
    )


class FakeProvider:
    """A token provider that mints t1, t2, … and records invalidations."""

    refreshable = True

    def __init__(self, organization_id: str | None = ORG) -> None:
        self.minted = 0
        self.invalidated: list[str] = []
        self.organization_id = organization_id

    def _current(self) -> TokenInfo:
        if self.minted == 0 or f"t{self.minted}" in self.invalidated:
            self.minted += 1
        return TokenInfo(f"t{self.minted}", API, self.organization_id)

    def get(self) -> TokenInfo:
        return self._current()

    def invalidate(self, token: str, *, code: int | None, operation: str) -> bool:
        self.invalidated.append(token)
        return True

    def confirm(self, token: str, operation: str | None) -> None:
        return None


class AsyncFakeProvider(FakeProvider):
    async def get(self) -> TokenInfo:  # type: ignore[override]
        return self._current()

    async def invalidate(  # type: ignore[override]
        self, token: str, *, code: int | None, operation: str
    ) -> bool:
        self.invalidated.append(token)
        return True

    async def confirm(self, token: str, operation: str | None) -> None:  # type: ignore[override]
        return None
