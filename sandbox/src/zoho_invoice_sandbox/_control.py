"""The control API (``{base_url}/_sandbox/...``) and its Python wrappers for tests.

>>> control = SandboxControl(httpx.Client(base_url=sandbox_url))   # doctest: +SKIP
>>> control.script("accounts.token", body={"error": "invalid_code"})   # doctest: +SKIP
>>> control.journal("accounts.token")[-1]["form"]   # doctest: +SKIP
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Awaitable, Callable
from dataclasses import fields
from typing import Any, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from ._http import httpx
from ._world import Fault, SandboxWorld

__all__ = ["CONTROL_KEY_HEADER", "AsyncSandboxControl", "SandboxControl", "control_routes"]


M = TypeVar("M", bound=BaseModel)
Handler = Callable[[Request], Awaitable[Response]]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class _ClientIn(_Strict):
    client_id: str = Field(min_length=1)
    client_secret: str = Field(min_length=1)
    redirect_uris: list[str] | None = None


class _FaultIn(_Strict):
    endpoint: str = Field(min_length=1)
    times: int = Field(default=1, ge=1)
    status: int | None = Field(default=None, ge=100, le=599)
    body: Any = None
    delay: float = Field(default=0.0, ge=0.0, le=300.0)
    headers: dict[str, str] = Field(default_factory=dict)
    #: ``accounts.token`` with no status: mint, then hold the answer this long (SECURITY 41).
    delay_after: float = Field(default=0.0, ge=0.0, le=300.0)


class _SettingsIn(_Strict):
    access_token_lifetime: float | None = Field(default=None, gt=0)
    token_format: Literal["current", "legacy"] | None = None
    auto_register_clients: bool | None = None
    throttle_wording: Literal["classic", "new"] | None = None
    throttle_window: Literal["sliding", "fixed"] | None = None
    live_access_tokens: Literal[10, 15, 30] | None = None
    refresh_token_limit: int | None = Field(default=None, ge=0, le=1000)
    authorization_code_limit: int | None = Field(default=None, ge=0, le=1000)


class _RevokeIn(_Strict):
    refresh_token: str = Field(min_length=1)


async def _parse(model: type[M], request: Request) -> M | JSONResponse:
    try:
        return model.model_validate_json(await request.body())
    except ValidationError as exc:
        return JSONResponse(
            {"error": "invalid_request", "detail": exc.errors(include_url=False)}, status_code=422
        )


#: The header that carries the sandbox's control key.
CONTROL_KEY_HEADER = "X-Sandbox-Key"
_DIGEST_KEY = secrets.token_bytes(32)


def _digest(value: str) -> bytes:
    return hmac.new(_DIGEST_KEY, value.encode("utf-8", "surrogatepass"), hashlib.sha256).digest()


def _keyed(world: SandboxWorld, handler: Handler) -> Handler:
    """``handler`` behind the world's control key, when it has one (SECURITY 51).

    The journal shows codes, verifiers, tokens and client secrets, and the other routes can
    revoke or reset everything: a sandbox on a port answers them only to its key holder.
    """

    async def checked(request: Request) -> Response:
        key = world.control_key
        given = request.headers.get(CONTROL_KEY_HEADER, "")
        if key is not None and not hmac.compare_digest(_digest(given), _digest(key)):
            return JSONResponse(
                {
                    "error": "unauthorized",
                    "message": f"this sandbox's control routes need the header "
                    f"{CONTROL_KEY_HEADER}: <its control key> (ZOHO_SANDBOX_CONTROL_KEY, or the "
                    "key printed when it started)",
                },
                status_code=401,
                headers={"Cache-Control": "no-store"},
            )
        return await handler(request)

    return checked


def control_routes(world: SandboxWorld) -> list[Route]:
    async def clients(request: Request) -> Response:
        data = await _parse(_ClientIn, request)
        if isinstance(data, JSONResponse):
            return data
        world.accounts.register_client(data.client_id, data.client_secret, data.redirect_uris)
        return JSONResponse({"client_id": data.client_id}, status_code=201)

    async def faults(request: Request) -> Response:
        if request.method == "GET":
            return JSONResponse({"faults": world.faults.pending()})
        if request.method == "DELETE":
            world.faults.clear()
            return Response(status_code=204)
        data = await _parse(_FaultIn, request)
        if isinstance(data, JSONResponse):
            return data
        fault = Fault(
            status=data.status,
            body=data.body,
            delay=data.delay,
            headers=data.headers,
            delay_after=data.delay_after,
        )
        world.faults.add(data.endpoint, fault, times=data.times)
        return JSONResponse({"faults": world.faults.pending()}, status_code=201)

    async def settings(request: Request) -> Response:
        if request.method == "PATCH":
            data = await _parse(_SettingsIn, request)
            if isinstance(data, JSONResponse):
                return data
            for name, value in data.model_dump(exclude_none=True).items():
                setattr(world.settings, name, value)
        return JSONResponse(world.settings.to_json())

    async def revoke(request: Request) -> Response:
        data = await _parse(_RevokeIn, request)
        if isinstance(data, JSONResponse):
            return data
        if not world.accounts.revoke_refresh_token(data.refresh_token):
            return JSONResponse({"error": "unknown_token"}, status_code=404)
        return JSONResponse({"status": "success"})

    async def journal(request: Request) -> Response:
        endpoint = request.query_params.get("endpoint")
        entries = [entry.to_json() for entry in world.journal.entries(endpoint)]
        return JSONResponse({"entries": entries})

    async def stats(request: Request) -> Response:
        return JSONResponse(world.accounts.stats(request.query_params.get("refresh_token")))

    async def users(request: Request) -> Response:
        directory = world.directory
        return JSONResponse(
            {
                "users": [
                    {f.name: getattr(user, f.name) for f in fields(user)}
                    for user in directory.users
                ],
                "organizations": [
                    {f.name: getattr(org, f.name) for f in fields(org)}
                    for org in directory.organizations
                ],
            }
        )

    async def reset(request: Request) -> Response:
        world.reset()
        return Response(status_code=204)

    def keyed(handler: Handler) -> Handler:
        return _keyed(world, handler)

    return [
        Route("/_sandbox/clients", keyed(clients), methods=["POST"]),
        Route("/_sandbox/faults", keyed(faults), methods=["GET", "POST", "DELETE"]),
        Route("/_sandbox/settings", keyed(settings), methods=["GET", "PATCH"]),
        Route("/_sandbox/revoke", keyed(revoke), methods=["POST"]),
        Route("/_sandbox/journal", keyed(journal), methods=["GET"]),
        Route("/_sandbox/stats", keyed(stats), methods=["GET"]),
        # The simulated people and organizations: nothing secret, and seeding needs them.
        Route("/_sandbox/users", users, methods=["GET"]),
        Route("/_sandbox/reset", keyed(reset), methods=["POST"]),
    ]


def _fault_json(
    endpoint: str,
    *,
    status: int | None,
    body: Any,
    delay: float,
    times: int,
    headers: dict[str, str] | None,
    delay_after: float = 0.0,
) -> dict[str, Any]:
    return {
        "endpoint": endpoint,
        "status": status,
        "body": body,
        "delay": delay,
        "times": times,
        "headers": headers or {},
        "delay_after": delay_after,
    }


def _settings_json(
    access_token_lifetime: float | None,
    token_format: Literal["current", "legacy"] | None,
    auto_register_clients: bool | None,
    throttle_wording: Literal["classic", "new"] | None = None,
    throttle_window: Literal["sliding", "fixed"] | None = None,
    live_access_tokens: Literal[10, 15, 30] | None = None,
    refresh_token_limit: int | None = None,
    authorization_code_limit: int | None = None,
) -> dict[str, Any]:
    values = {
        "access_token_lifetime": access_token_lifetime,
        "token_format": token_format,
        "auto_register_clients": auto_register_clients,
        "throttle_wording": throttle_wording,
        "throttle_window": throttle_window,
        "live_access_tokens": live_access_tokens,
        "refresh_token_limit": refresh_token_limit,
        "authorization_code_limit": authorization_code_limit,
    }
    return {k: v for k, v in values.items() if v is not None}


def _checked(response: httpx.Response) -> Any:
    if response.status_code >= 400:
        raise RuntimeError(
            f"sandbox control call {response.request.url.path} failed: "
            f"HTTP {response.status_code} {response.text[:500]}"
        )
    return response.json() if response.content else None


def _key_headers(key: str | None) -> dict[str, str]:
    return {CONTROL_KEY_HEADER: key} if key else {}


class SandboxControl:
    """Drive a running sandbox from tests; ``client.base_url`` must be the sandbox's base URL.

    ``key``: the sandbox's control key, when it has one (``zoho-invoice sandbox`` always does).
    """

    def __init__(self, client: httpx.Client, *, key: str | None = None) -> None:
        self._client = client
        self._headers = _key_headers(key)

    def register_client(
        self, client_id: str, client_secret: str, redirect_uris: list[str] | None = None
    ) -> None:
        """A client with a fixed secret (and, when given, exact redirect URIs)."""
        payload = {
            "client_id": client_id,
            "client_secret": client_secret,
            "redirect_uris": redirect_uris,
        }
        _checked(self._client.post("/_sandbox/clients", headers=self._headers, json=payload))

    def script(
        self,
        endpoint: str,
        *,
        status: int | None = 200,
        body: Any = None,
        delay: float = 0.0,
        times: int = 1,
        headers: dict[str, str] | None = None,
        delay_after: float = 0.0,
    ) -> None:
        """The next ``times`` answers of ``endpoint``; ``status=None`` only delays them
        (``delay`` before Zoho acts; ``delay_after``, for ``accounts.token``, after it minted)."""
        payload = _fault_json(
            endpoint,
            status=status,
            body=body,
            delay=delay,
            times=times,
            headers=headers,
            delay_after=delay_after,
        )
        _checked(self._client.post("/_sandbox/faults", headers=self._headers, json=payload))

    def clear_faults(self) -> None:
        _checked(self._client.delete("/_sandbox/faults", headers=self._headers))

    def configure(
        self,
        *,
        access_token_lifetime: float | None = None,
        token_format: Literal["current", "legacy"] | None = None,
        auto_register_clients: bool | None = None,
        throttle_wording: Literal["classic", "new"] | None = None,
        throttle_window: Literal["sliding", "fixed"] | None = None,
        live_access_tokens: Literal[10, 15, 30] | None = None,
        refresh_token_limit: int | None = None,
        authorization_code_limit: int | None = None,
    ) -> dict[str, Any]:
        """Change settings (see :class:`SandboxSettings`); a limit of ``0`` lifts it."""
        payload = _settings_json(
            access_token_lifetime,
            token_format,
            auto_register_clients,
            throttle_wording,
            throttle_window,
            live_access_tokens,
            refresh_token_limit,
            authorization_code_limit,
        )
        result: dict[str, Any] = _checked(
            self._client.patch("/_sandbox/settings", headers=self._headers, json=payload)
        )
        return result

    def set_access_token_lifetime(self, seconds: float) -> None:
        self.configure(access_token_lifetime=seconds)

    def revoke_refresh_token(self, refresh_token: str) -> None:
        payload = {"refresh_token": refresh_token}
        _checked(self._client.post("/_sandbox/revoke", headers=self._headers, json=payload))

    def journal(self, endpoint: str | None = None) -> list[dict[str, Any]]:
        params = {"endpoint": endpoint} if endpoint else None
        entries: list[dict[str, Any]] = _checked(
            self._client.get("/_sandbox/journal", headers=self._headers, params=params)
        )["entries"]
        return entries

    def stats(self, refresh_token: str | None = None) -> dict[str, int]:
        params = {"refresh_token": refresh_token} if refresh_token else None
        result: dict[str, int] = _checked(
            self._client.get("/_sandbox/stats", headers=self._headers, params=params)
        )
        return result

    def tokens_minted(self, refresh_token: str | None = None) -> int:
        return self.stats(refresh_token)["access_tokens_minted"]

    def users(self) -> dict[str, list[dict[str, Any]]]:
        result: dict[str, list[dict[str, Any]]] = _checked(
            self._client.get("/_sandbox/users", headers=self._headers)
        )
        return result

    def reset(self) -> None:
        _checked(self._client.post("/_sandbox/reset", headers=self._headers))


class AsyncSandboxControl:
    """:class:`SandboxControl` for an ``httpx.AsyncClient`` (e.g. over ``ASGITransport``)."""

    def __init__(self, client: httpx.AsyncClient, *, key: str | None = None) -> None:
        self._client = client
        self._headers = _key_headers(key)

    async def register_client(
        self, client_id: str, client_secret: str, redirect_uris: list[str] | None = None
    ) -> None:
        payload = {
            "client_id": client_id,
            "client_secret": client_secret,
            "redirect_uris": redirect_uris,
        }
        _checked(await self._client.post("/_sandbox/clients", headers=self._headers, json=payload))

    async def script(
        self,
        endpoint: str,
        *,
        status: int | None = 200,
        body: Any = None,
        delay: float = 0.0,
        times: int = 1,
        headers: dict[str, str] | None = None,
        delay_after: float = 0.0,
    ) -> None:
        payload = _fault_json(
            endpoint,
            status=status,
            body=body,
            delay=delay,
            times=times,
            headers=headers,
            delay_after=delay_after,
        )
        _checked(await self._client.post("/_sandbox/faults", headers=self._headers, json=payload))

    async def clear_faults(self) -> None:
        _checked(await self._client.delete("/_sandbox/faults", headers=self._headers))

    async def configure(
        self,
        *,
        access_token_lifetime: float | None = None,
        token_format: Literal["current", "legacy"] | None = None,
        auto_register_clients: bool | None = None,
        throttle_wording: Literal["classic", "new"] | None = None,
        throttle_window: Literal["sliding", "fixed"] | None = None,
        live_access_tokens: Literal[10, 15, 30] | None = None,
        refresh_token_limit: int | None = None,
        authorization_code_limit: int | None = None,
    ) -> dict[str, Any]:
        """Change settings (see :class:`SandboxSettings`); a limit of ``0`` lifts it."""
        payload = _settings_json(
            access_token_lifetime,
            token_format,
            auto_register_clients,
            throttle_wording,
            throttle_window,
            live_access_tokens,
            refresh_token_limit,
            authorization_code_limit,
        )
        result: dict[str, Any] = _checked(
            await self._client.patch("/_sandbox/settings", headers=self._headers, json=payload)
        )
        return result

    async def set_access_token_lifetime(self, seconds: float) -> None:
        await self.configure(access_token_lifetime=seconds)

    async def revoke_refresh_token(self, refresh_token: str) -> None:
        payload = {"refresh_token": refresh_token}
        _checked(await self._client.post("/_sandbox/revoke", headers=self._headers, json=payload))

    async def journal(self, endpoint: str | None = None) -> list[dict[str, Any]]:
        params = {"endpoint": endpoint} if endpoint else None
        entries: list[dict[str, Any]] = _checked(
            await self._client.get("/_sandbox/journal", headers=self._headers, params=params)
        )["entries"]
        return entries

    async def stats(self, refresh_token: str | None = None) -> dict[str, int]:
        params = {"refresh_token": refresh_token} if refresh_token else None
        result: dict[str, int] = _checked(
            await self._client.get("/_sandbox/stats", headers=self._headers, params=params)
        )
        return result

    async def tokens_minted(self, refresh_token: str | None = None) -> int:
        return (await self.stats(refresh_token))["access_tokens_minted"]

    async def users(self) -> dict[str, list[dict[str, Any]]]:
        result: dict[str, list[dict[str, Any]]] = _checked(
            await self._client.get("/_sandbox/users", headers=self._headers)
        )
        return result

    async def reset(self) -> None:
        _checked(await self._client.post("/_sandbox/reset", headers=self._headers))
