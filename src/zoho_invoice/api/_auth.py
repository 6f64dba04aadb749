"""Where the client's access token comes from, and the 401 rule.

A *token provider* hands out ``(access_token, api_domain, organization_id)`` and can be told that
a token failed. ``TokenAuth`` / ``AsyncTokenAuth`` are httpx ``Auth`` flows over one generator,
``_flow``, that both drive: it puts the token on the request, and on a 401 invalidates that very
token, takes a fresh one and sends the request once more, never more (SECURITY 35). The
generator asks its driver for I/O (fetch a token, invalidate one) by yielding small commands, so
the logic stays in one place while the sync twin calls the provider and the async twin awaits it.

Zoho answers code 57 both for a dead token and for a token without the scope. Refreshing on every
57 would spend Zoho's 10 tokens per 10 minutes on an endpoint the connection may never call, and
then lock the whole connection out. So every provider is told *which tokens work*, and for
which operation (``"GET invoices"``: Zoho's scopes go by area and operation):
``confirm(token, operation)`` after an answer that was not a 401 (``operation=None`` after a 57
on a token it just minted: valid, but under-scoped), and ``invalidate(token, code=...,
operation=...)`` answers ``False`` when it keeps the token — a 57 on an operation that token
never did means a missing scope, reported at once as ``MissingScopeError`` with no refresh; a 57
on an operation it did before means the token died, and it is refreshed. A provider that keeps
no such memory answers ``True`` and ignores ``confirm``: the plain rule, one refresh and one
retry per 401. The protocols below declare all of it, so nothing is probed at run time.
"""

from __future__ import annotations

import json
from collections.abc import AsyncGenerator, Awaitable, Callable, Generator
from dataclasses import dataclass
from typing import Any, NamedTuple, Protocol, runtime_checkable

from .._http import httpx
from .._zoho_codes import CODE_UNAUTHORIZED
from ._constants import AUTH_SCHEME

__all__ = [
    "AccessTokenLike",
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
    """What a provider hands out for one request (the token types: ``tokens/_types.py``)."""

    token: str
    api_domain: str
    organization_id: str | None


@runtime_checkable
class TokenProvider(Protocol):
    """A source of access tokens for the sync client.

    The simplest one that refreshes sets ``refreshable = True``, answers ``invalidate`` with
    ``True`` after forgetting the token, and ignores ``confirm``: one refresh per 401.
    """

    @property
    def refreshable(self) -> bool:
        """``False`` for a fixed token: a 401 is final, nothing is invalidated or retried."""
        ...

    def get(self) -> tuple[str, str, str | None]:
        """``(access_token, api_domain, organization_id)``; may refresh."""
        ...

    def invalidate(self, token: str, *, code: int | None, operation: str) -> bool:
        """Zoho refused ``token`` (a 401 with Zoho's ``code``, for ``operation``, e.g.
        ``"GET invoices"``). ``True``: it is dropped, the next ``get`` brings another and the
        request is sent once more; ``False``: it is kept, known to work, so the 401 means a
        missing scope (``MissingScopeError``, no refresh)."""
        ...

    def confirm(self, token: str, operation: str | None) -> None:
        """Zoho accepted ``token`` for ``operation`` (``None``: valid but under-scoped)."""
        ...


@runtime_checkable
class AsyncTokenProvider(Protocol):
    """A source of access tokens for the async client: ``TokenProvider``, awaited."""

    @property
    def refreshable(self) -> bool: ...

    async def get(self) -> tuple[str, str, str | None]: ...

    async def invalidate(self, token: str, *, code: int | None, operation: str) -> bool: ...

    async def confirm(self, token: str, operation: str | None) -> None: ...


class AccessTokenLike(Protocol):
    """``zoho_invoice.tokens.AccessToken`` as the client relies on it (``api`` does not import
    ``tokens``): not a token type of its own (the table in ``tokens/_types.py``)."""

    @property
    def token(self) -> str: ...
    @property
    def api_domain(self) -> str: ...
    @property
    def organization_id(self) -> str | None: ...


class TokenManagerLike(Protocol):
    """What the client needs of ``zoho_invoice.tokens.TokenManager``: ``TokenProvider`` for
    any connection (see there)."""

    def get_access_token(self, connection_id: str) -> AccessTokenLike: ...

    def invalidate(
        self, connection_id: str, token: str, *, code: int | None, operation: str
    ) -> bool: ...

    def confirm(self, connection_id: str, token: str, operation: str | None) -> None: ...


class AsyncTokenManagerLike(Protocol):
    """What the client needs of ``zoho_invoice.tokens.AsyncTokenManager``."""

    async def get_access_token(self, connection_id: str) -> AccessTokenLike: ...

    async def invalidate(
        self, connection_id: str, token: str, *, code: int | None, operation: str
    ) -> bool: ...

    async def confirm(self, connection_id: str, token: str, operation: str | None) -> None: ...


class StaticTokenProvider:
    """One fixed token: a 401 cannot be cured by a refresh, so none is tried."""

    refreshable = False

    def __init__(self, token: str, api_domain: str, organization_id: str | None) -> None:
        self._info = TokenInfo(token, api_domain, organization_id)

    def __repr__(self) -> str:
        return f"StaticTokenProvider(api_domain={self._info.api_domain!r})"

    def get(self) -> TokenInfo:
        return self._info

    def invalidate(self, token: str, *, code: int | None, operation: str) -> bool:
        return True  # never asked: the client does not refresh a token it cannot replace

    def confirm(self, token: str, operation: str | None) -> None:
        return None


class ConnectionTokenProvider:
    """Tokens of one connection, from a ``TokenManager``."""

    refreshable = True

    def __init__(self, manager: TokenManagerLike, connection_id: str) -> None:
        self._manager = manager
        self.connection_id = connection_id

    def get(self) -> TokenInfo:
        access = self._manager.get_access_token(self.connection_id)
        return TokenInfo(access.token, access.api_domain, access.organization_id)

    def invalidate(self, token: str, *, code: int | None, operation: str) -> bool:
        return self._manager.invalidate(self.connection_id, token, code=code, operation=operation)

    def confirm(self, token: str, operation: str | None) -> None:
        self._manager.confirm(self.connection_id, token, operation)


class AsyncConnectionTokenProvider:
    """Tokens of one connection, from an ``AsyncTokenManager``."""

    refreshable = True

    def __init__(self, manager: AsyncTokenManagerLike, connection_id: str) -> None:
        self._manager = manager
        self.connection_id = connection_id

    async def get(self) -> TokenInfo:
        access = await self._manager.get_access_token(self.connection_id)
        return TokenInfo(access.token, access.api_domain, access.organization_id)

    async def invalidate(self, token: str, *, code: int | None, operation: str) -> bool:
        return await self._manager.invalidate(
            self.connection_id, token, code=code, operation=operation
        )

    async def confirm(self, token: str, operation: str | None) -> None:
        await self._manager.confirm(self.connection_id, token, operation)


class _AsyncStatic:
    """A ``StaticTokenProvider`` seen through the async protocol."""

    refreshable = False

    def __init__(self, static: StaticTokenProvider) -> None:
        self._static = static

    async def get(self) -> TokenInfo:
        return self._static.get()

    async def invalidate(self, token: str, *, code: int | None, operation: str) -> bool:
        return self._static.invalidate(token, code=code, operation=operation)

    async def confirm(self, token: str, operation: str | None) -> None:
        return None


class _Fetch:
    """Command: hand me a token."""


@dataclass(frozen=True)
class _Invalidate:
    """Command: this token was refused with Zoho's ``code``; answer whether it was dropped."""

    token: str
    code: int | None
    operation: str


@dataclass(frozen=True)
class _Confirm:
    """Command: this token did ``operation`` (``None``: it is valid but lacks a scope)."""

    token: str
    operation: str | None


@dataclass(frozen=True)
class _Permit:
    """Command: wait for a permit of the request budget before sending again."""


_FETCH = _Fetch()
_PERMIT = _Permit()
_Step = httpx.Request | _Fetch | _Invalidate | _Confirm | _Permit

#: Set on a 401 answer whose token is known to work: the 401 means a missing scope.
MISSING_SCOPE = "zoho_invoice.missing_scope"


def _zoho_code(response: httpx.Response) -> int | None:
    try:
        body = json.loads(response.content) if response.content else None
    except (ValueError, UnicodeDecodeError):
        return None
    code = body.get("code") if isinstance(body, dict) else None
    if isinstance(code, str) and code.isdigit():
        return int(code)
    return code if isinstance(code, int) and not isinstance(code, bool) else None


def operation_of(request: httpx.Request) -> str:
    """``"GET invoices"``: the method and the resource under ``/invoice/v3`` (what a scope
    covers: ``ZohoInvoice.invoices.READ``)."""
    path = request.url.path
    _, found, rest = path.partition("/invoice/v3/")
    resource = (rest if found else path.lstrip("/")).split("/", 1)[0]
    return f"{request.method.upper()} {resource}"


def _flow(request: httpx.Request, refreshable: bool) -> Generator[_Step, Any, None]:
    operation = operation_of(request)
    token: str = yield _FETCH
    request.headers["Authorization"] = f"{AUTH_SCHEME} {token}"
    response: httpx.Response = yield request
    if response.status_code != 401:
        yield _Confirm(token, operation)
        return
    if not refreshable:
        return
    code = _zoho_code(response)
    # One refresh and one retry, never more (SECURITY 35). The final answer — a second 401
    # included — goes back to the client, which sees this one in ``response.history``.
    dropped: bool = yield _Invalidate(token, code, operation)
    if not dropped:
        # The provider knows this token works: the 57 is a missing scope, not a dead token.
        response.extensions[MISSING_SCOPE] = True
        return
    fresh: str = yield _FETCH
    request.headers["Authorization"] = f"{AUTH_SCHEME} {fresh}"
    yield _PERMIT
    response = yield request
    if response.status_code != 401:
        yield _Confirm(fresh, operation)
    elif _zoho_code(response) == CODE_UNAUTHORIZED:
        # A token minted for this very retry that gets a 57 is valid but under-scoped:
        # remember it works so the next 57 does not burn another refresh.
        yield _Confirm(fresh, None)


class TokenAuth(httpx.Auth):
    """httpx auth for the sync client.

    ``before_resend`` runs before the retry that follows a refresh (the client takes a permit of
    its request budget there, so retries count against Zoho's 100 a minute too).
    """

    def __init__(
        self, provider: TokenProvider, before_resend: Callable[[], None] | None = None
    ) -> None:
        self.provider = provider
        self.before_resend = before_resend

    def sync_auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response]:
        flow = _flow(request, self.provider.refreshable)
        step = next(flow)
        while True:
            value: Any = None
            if isinstance(step, httpx.Request):
                value = yield step
                if value.status_code == 401:
                    value.read()  # Zoho's code tells a dead token from a missing scope
            elif isinstance(step, _Invalidate):
                value = self.provider.invalidate(
                    step.token, code=step.code, operation=step.operation
                )
            elif isinstance(step, _Confirm):
                self.provider.confirm(step.token, step.operation)
            elif isinstance(step, _Permit):
                if self.before_resend is not None:
                    self.before_resend()
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

    def __init__(
        self,
        provider: AsyncTokenProvider,
        before_resend: Callable[[], Awaitable[None]] | None = None,
    ) -> None:
        self.provider = provider
        self.before_resend = before_resend

    def sync_auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response]:
        raise RuntimeError("AsyncTokenAuth is for the async client; use TokenAuth")
        yield request  # pragma: no cover

    async def async_auth_flow(
        self, request: httpx.Request
    ) -> AsyncGenerator[httpx.Request, httpx.Response]:
        flow = _flow(request, self.provider.refreshable)
        step = next(flow)
        while True:
            value: Any = None
            if isinstance(step, httpx.Request):
                value = yield step
                if value.status_code == 401:
                    await value.aread()
            elif isinstance(step, _Invalidate):
                value = await self.provider.invalidate(
                    step.token, code=step.code, operation=step.operation
                )
            elif isinstance(step, _Confirm):
                await self.provider.confirm(step.token, step.operation)
            elif isinstance(step, _Permit):
                if self.before_resend is not None:
                    await self.before_resend()
            else:
                value = (await self.provider.get())[0]
            try:
                step = flow.send(value)
            except StopIteration:
                return
