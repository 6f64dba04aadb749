"""Where the client's access token comes from, and the 401 rule.

A *token provider* hands out ``(access_token, api_domain, organization_id)`` and can be told that
a token failed. ``TokenAuth`` / ``AsyncTokenAuth`` are httpx ``Auth`` flows over one generator,
``_flow``, that both drive: it puts the token on the request, and on a 401 invalidates that very
token, takes a fresh one and sends the request once more, never more (SECURITY 35). The
generator asks its driver for I/O (fetch a token, invalidate one) by yielding small commands, so
the logic stays in one place while the sync twin calls the provider and the async twin awaits it.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, Generator
from dataclasses import dataclass
from typing import Any, NamedTuple, Protocol, runtime_checkable

from .._http import httpx
from ._constants import AUTH_SCHEME

__all__ = [
    "AsyncConnectionTokenProvider",
    "AsyncTokenAuth",
    "AsyncTokenManagerLike",
    "AsyncTokenProvider",
    "ConnectionTokenProvider",
    "StaticTokenProvider",
    "TokenAuth",
    "TokenInfo",
    "TokenManagerLike",
    "TokenProvider",
]


class TokenInfo(NamedTuple):
    """What a provider hands out."""

    token: str
    api_domain: str
    organization_id: str | None


@runtime_checkable
class TokenProvider(Protocol):
    """A source of access tokens for the sync client."""

    def get(self) -> tuple[str, str, str | None]:
        """``(access_token, api_domain, organization_id)``; may refresh."""
        ...

    def invalidate(self, token: str) -> None:
        """That token was refused (401): do not hand it out again."""
        ...


@runtime_checkable
class AsyncTokenProvider(Protocol):
    """A source of access tokens for the async client."""

    async def get(self) -> tuple[str, str, str | None]: ...

    async def invalidate(self, token: str) -> None: ...


class _AccessToken(Protocol):
    # The shape of ``zoho_invoice.tokens.AccessToken`` that the client relies on.
    @property
    def token(self) -> str: ...
    @property
    def api_domain(self) -> str: ...
    @property
    def organization_id(self) -> str | None: ...


class TokenManagerLike(Protocol):
    """What the client needs of ``zoho_invoice.tokens.TokenManager``."""

    def get_access_token(self, connection_id: str) -> _AccessToken: ...

    def invalidate(self, connection_id: str, token: str) -> None: ...


class AsyncTokenManagerLike(Protocol):
    """What the client needs of ``zoho_invoice.tokens.AsyncTokenManager``."""

    async def get_access_token(self, connection_id: str) -> _AccessToken: ...

    async def invalidate(self, connection_id: str, token: str) -> None: ...


class StaticTokenProvider:
    """One fixed token: a 401 cannot be cured by a refresh, so none is tried."""

    refreshable = False

    def __init__(self, token: str, api_domain: str, organization_id: str | None) -> None:
        self._info = TokenInfo(token, api_domain, organization_id)

    def __repr__(self) -> str:
        return f"StaticTokenProvider(api_domain={self._info.api_domain!r})"

    def get(self) -> TokenInfo:
        return self._info

    def invalidate(self, token: str) -> None:
        return None


class ConnectionTokenProvider:
    """Tokens of one connection, from a ``TokenManager``."""

    def __init__(self, manager: TokenManagerLike, connection_id: str) -> None:
        self._manager = manager
        self.connection_id = connection_id

    def get(self) -> TokenInfo:
        access = self._manager.get_access_token(self.connection_id)
        return TokenInfo(access.token, access.api_domain, access.organization_id)

    def invalidate(self, token: str) -> None:
        self._manager.invalidate(self.connection_id, token)


class AsyncConnectionTokenProvider:
    """Tokens of one connection, from an ``AsyncTokenManager``."""

    def __init__(self, manager: AsyncTokenManagerLike, connection_id: str) -> None:
        self._manager = manager
        self.connection_id = connection_id

    async def get(self) -> TokenInfo:
        access = await self._manager.get_access_token(self.connection_id)
        return TokenInfo(access.token, access.api_domain, access.organization_id)

    async def invalidate(self, token: str) -> None:
        await self._manager.invalidate(self.connection_id, token)


class _AsyncStatic:
    """A ``StaticTokenProvider`` seen through the async protocol."""

    refreshable = False

    def __init__(self, static: StaticTokenProvider) -> None:
        self._static = static

    async def get(self) -> TokenInfo:
        return self._static.get()

    async def invalidate(self, token: str) -> None:
        return None


class _Fetch:
    """Command: hand me a token."""


@dataclass(frozen=True)
class _Invalidate:
    """Command: this token was refused."""

    token: str


_FETCH = _Fetch()
_Step = httpx.Request | _Fetch | _Invalidate


def _flow(request: httpx.Request, refreshable: bool) -> Generator[_Step, Any, None]:
    token: str = yield _FETCH
    request.headers["Authorization"] = f"{AUTH_SCHEME} {token}"
    response: httpx.Response = yield request
    if response.status_code != 401 or not refreshable:
        return
    # One refresh and one retry, never more (SECURITY 35). The final answer — a second 401
    # included — goes back to the client, which sees this one in ``response.history``.
    yield _Invalidate(token)
    token = yield _FETCH
    request.headers["Authorization"] = f"{AUTH_SCHEME} {token}"
    yield request


class TokenAuth(httpx.Auth):
    """httpx auth for the sync client."""

    def __init__(self, provider: TokenProvider) -> None:
        self.provider = provider
        self.refreshable = bool(getattr(provider, "refreshable", True))

    def sync_auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response]:
        flow = _flow(request, self.refreshable)
        step = next(flow)
        while True:
            value: Any
            if isinstance(step, httpx.Request):
                value = yield step
            elif isinstance(step, _Invalidate):
                self.provider.invalidate(step.token)
                value = None
            else:
                value = self.provider.get()[0]
            try:
                step = flow.send(value)
            except StopIteration:
                return

    async def async_auth_flow(
        self, request: httpx.Request
    ) -> AsyncGenerator[httpx.Request, httpx.Response]:
        raise RuntimeError("TokenAuth is for the sync client; use AsyncTokenAuth")
        yield request  # pragma: no cover  (makes this an async generator)


class AsyncTokenAuth(httpx.Auth):
    """httpx auth for the async client."""

    def __init__(self, provider: AsyncTokenProvider) -> None:
        self.provider = provider
        self.refreshable = bool(getattr(provider, "refreshable", True))

    def sync_auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response]:
        raise RuntimeError("AsyncTokenAuth is for the async client; use TokenAuth")
        yield request  # pragma: no cover

    async def async_auth_flow(
        self, request: httpx.Request
    ) -> AsyncGenerator[httpx.Request, httpx.Response]:
        flow = _flow(request, self.refreshable)
        step = next(flow)
        while True:
            value: Any
            if isinstance(step, httpx.Request):
                value = yield step
            elif isinstance(step, _Invalidate):
                await self.provider.invalidate(step.token)
                value = None
            else:
                value = (await self.provider.get())[0]
            try:
                step = flow.send(value)
            except StopIteration:
                return
