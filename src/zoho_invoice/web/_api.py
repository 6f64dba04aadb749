"""The JSON API: connect sessions, connections, fresh access tokens, disconnect.

Every route checks ``Authorization: Bearer <ZOHO_API_KEY>`` before anything else, even before
the body is parsed, so a missing key is a 401 for an unknown id or a malformed body too
(SECURITY 37). Keys are compared as fixed-length digests, so neither their content nor their
length shows in the timing; a key under 32 characters stops the start-up; every answer under
``/api`` (errors and 401 included) carries ``Cache-Control: no-store`` (SECURITY 47).
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import secrets
from collections.abc import Callable, Coroutine
from datetime import datetime
from typing import Any, Literal
from urllib.parse import urlsplit

from fastapi import APIRouter, BackgroundTasks, Depends, Query, Request, Response
from fastapi.routing import APIRoute
from fastapi.security import HTTPBearer
from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator
from starlette.concurrency import run_in_threadpool
from starlette.routing import Match
from starlette.types import Message, Receive, Scope, Send

from .._exceptions import (
    ConfigurationError,
    ConnectionNotFoundError,
    DataCenterError,
    MissingScopeError,
    ZohoError,
)
from .._serving import MAX_BODY_BYTES
from ..settings import Settings
from ..tokens import AsyncTokenManager
from ..vault import Connection
from ._context import WebContext
from ._errors import APIProblem, ErrorBody, error_response, problem_for, problem_response

__all__ = [
    "MIN_KEY_LENGTH",
    "api_router",
    "is_allowed_return_url",
    "keys_match",
    "read_organizations_or_problem",
    "require_api_key",
    "require_metrics_key",
    "set_organization_or_problem",
]

MAX_OWNER = 200
#: A longer id is no connection's: refused before the database is asked.
MAX_CONNECTION_ID = 200
MAX_URL = 2000

# Only for the OpenAPI document: the check itself is done by _AuthRoute, before validation.
_bearer_scheme = HTTPBearer(
    scheme_name="apiKey", description="Authorization: Bearer $ZOHO_API_KEY", auto_error=False
)


#: The shortest ZOHO_API_KEY / ZOHO_METRICS_KEY accepted: 32 characters of
#: ``secrets.token_urlsafe`` carry 192 bits.
MIN_KEY_LENGTH = 32
KEY_HINT = "python -c 'import secrets; print(secrets.token_urlsafe(32))'"

#: Both sides of a key comparison are HMACs under this per-process key: equal-length digests, so
#: ``compare_digest`` leaks neither the content nor the length of the configured key.
_DIGEST_KEY = secrets.token_bytes(32)


def _digest(value: str) -> bytes:
    return hmac.new(_DIGEST_KEY, value.encode("utf-8", "surrogatepass"), hashlib.sha256).digest()


def keys_match(given: str, expected: str) -> bool:
    """``given == expected`` in time that depends on neither key's content nor ``expected``'s
    length (only on ``given``'s, which the caller knows anyway)."""
    return hmac.compare_digest(_digest(given), _digest(expected)) and bool(expected)


def _require_key(name: str, key: SecretStr | None, *, purpose: str) -> SecretStr:
    if key is None or not key.get_secret_value():
        raise ConfigurationError(f"{name} is not set: {purpose}; generate one with {KEY_HINT}")
    if len(key.get_secret_value()) < MIN_KEY_LENGTH:
        raise ConfigurationError(
            f"{name} is shorter than {MIN_KEY_LENGTH} characters, too short to resist guessing; "
            f"generate one with {KEY_HINT}"
        )
    return key


def require_api_key(settings: Settings) -> SecretStr:
    """``ZOHO_API_KEY``, or ``ConfigurationError`` when it is missing or under 32 characters
    (the JSON API refuses to start with a guessable key: SECURITY 47)."""
    return _require_key(
        "ZOHO_API_KEY", settings.api_key, purpose="the JSON API needs it (Authorization: Bearer)"
    )


def require_metrics_key(settings: Settings) -> SecretStr | None:
    """``ZOHO_METRICS_KEY``, or ``None`` when unset (``/metrics`` is then off).

    It must be 32 characters or more and differ from ``ZOHO_API_KEY``: a metrics scraper must
    not hold the key that mints every user's access tokens (SECURITY 47).
    """
    key = settings.metrics_key
    if key is None or not key.get_secret_value():
        return None
    _require_key("ZOHO_METRICS_KEY", key, purpose="/metrics needs it")
    api_key = settings.api_key.get_secret_value() if settings.api_key else ""
    if keys_match(key.get_secret_value(), api_key):
        raise ConfigurationError(
            "ZOHO_METRICS_KEY must differ from ZOHO_API_KEY: the metrics key must not be able "
            f"to mint tokens; generate one with {KEY_HINT}"
        )
    return key


def check_bearer(request: Request, expected: str, *, name: str) -> Response | None:
    """``None`` when the request carries ``Authorization: Bearer <expected>``; else the 401."""
    header = request.headers.get("authorization", "")
    scheme, _, given = header.partition(" ")
    # Compare even when the scheme is wrong, so timing says nothing either way.
    same = keys_match(given.strip(), expected)
    if same and scheme.lower() == "bearer":
        return None
    message = (
        f"the service has no {name} configured"
        if not expected
        else f"missing or wrong key: send Authorization: Bearer <{name}>"
    )
    return error_response(
        401,
        "unauthorized",
        message,
        headers={"WWW-Authenticate": "Bearer", "Cache-Control": "no-store"},
    )


def _check_api_key(ctx: WebContext, request: Request) -> Response | None:
    expected = ctx.settings.api_key.get_secret_value() if ctx.settings.api_key else ""
    return check_bearer(request, expected, name="ZOHO_API_KEY")


def _no_store(send: Send) -> Send:
    """``send`` that marks the answer ``Cache-Control: no-store``: tokens, ids and errors alike
    must not be kept by a proxy or a client cache (SECURITY 47)."""

    async def send_no_store(message: Message) -> None:
        if message["type"] == "http.response.start":
            headers = [
                (name, value)
                for name, value in message.get("headers", [])
                if name.lower() != b"cache-control"
            ]
            headers.append((b"cache-control", b"no-store"))
            message = {**message, "headers": headers}
        await send(message)

    return send_no_store


#: Endpoints called with their path parameters alone: no dependency solving, no validation.
_DIRECT: set[Callable[..., Coroutine[Any, Any, Response]]] = set()


def _direct(
    endpoint: Callable[..., Coroutine[Any, Any, Response]],
) -> Callable[..., Coroutine[Any, Any, Response]]:
    """Mark a hot endpoint to be called as ``await endpoint(**path_params)``.

    FastAPI's request handling (solving the documentation-only bearer dependency, validating
    parameters, serialising) is most of what a request costs once the endpoint itself answers
    from memory. Such an endpoint takes only ``str`` path parameters (what the path gives) and
    returns a ``Response`` itself; the key check, the no-store header and the one table of
    errors apply to it as to every route, and its OpenAPI entry is as declared.
    """
    _DIRECT.add(endpoint)
    return endpoint


def _call_with_path_params(
    endpoint: Callable[..., Coroutine[Any, Any, Response]],
) -> Callable[[Request], Coroutine[Any, Any, Response]]:
    async def handler(request: Request) -> Response:
        return await endpoint(**request.path_params)

    return handler


def _auth_route_class(ctx: WebContext) -> type[APIRoute]:
    class _AuthRoute(APIRoute):
        async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
            # Around the route's whole ASGI app, so what the exception handlers answer (404,
            # 422, 503...) carries the header too.
            await super().handle(scope, receive, _no_store(send))

        def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
            handler = (
                _call_with_path_params(self.endpoint)
                if self.endpoint in _DIRECT
                else super().get_route_handler()
            )

            async def checked(request: Request) -> Response:
                refused = _check_api_key(ctx, request)
                if refused is not None:
                    return refused
                # The one table of answers, here too when another app mounts the router.
                try:
                    return await handler(request)
                except APIProblem as problem:
                    return problem.response()
                except ZohoError as exc:
                    answer = problem_response(request, exc)
                    if answer is None:
                        raise
                    return answer

            return checked

    return _AuthRoute


def is_allowed_return_url(ctx: WebContext, url: str) -> bool:
    """Exact allow-listed URLs, or anything below an allow-listed origin (SECURITY 15)."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname or parts.username is not None:
        return False
    if parts.password is not None or "\\" in url or any(ord(c) < 33 for c in url):
        return False
    origin = f"{parts.scheme}://{parts.netloc}"
    allowed = [*ctx.settings.allowed_return_urls, ctx.settings.public_url]
    for entry in allowed:
        entry = entry.rstrip("/") if urlsplit(entry).path in ("", "/") else entry
        entry_parts = urlsplit(entry)
        if entry_parts.path in ("", "/") and not entry_parts.query:
            if origin == f"{entry_parts.scheme}://{entry_parts.netloc}":
                return True
        elif url == entry:
            return True
    return False


class ConnectSessionIn(BaseModel):
    owner: str = Field(min_length=1, max_length=MAX_OWNER, description="Your user or tenant id")
    return_url: str | None = Field(
        default=None,
        max_length=MAX_URL,
        description="Where the browser goes after connecting; must be allow-listed",
    )
    location: str | None = Field(
        default=None, max_length=8, description="Start at this DC's accounts server (cn)"
    )

    @field_validator("owner")
    @classmethod
    def _printable_owner(cls, owner: str) -> str:
        if not owner.isprintable():
            raise ValueError("owner must be printable: no control characters")
        return owner


class ConnectSessionOut(BaseModel):
    connect_url: str
    expires_at: datetime


class ConnectionOut(BaseModel):
    """A connection as the API shows it (never its tokens); built from ``Connection.to_json``."""

    # A field the vault's view adds and this model lacks is an error, not silently dropped.
    model_config = ConfigDict(extra="forbid")

    id: str
    owner: str
    location: str
    api_domain: str
    organization_id: str | None
    scopes: list[str]
    status: Literal["active", "needs_reauth", "revoked"]
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, connection: Connection) -> ConnectionOut:
        return cls.model_validate(connection.to_json())


class OrganizationOut(BaseModel):
    organization_id: str
    name: str
    currency_code: str | None = None
    is_default_org: bool | None = None
    time_zone: str | None = None


class OrganizationList(BaseModel):
    organizations: list[OrganizationOut]


class SetOrganizationIn(BaseModel):
    organization_id: str = Field(
        min_length=1,
        max_length=64,
        pattern=r"^[0-9]+$",
        description="One of the connection's organizations (GET .../organizations)",
    )


class ConnectionList(BaseModel):
    connections: list[ConnectionOut]


class AccessTokenOut(BaseModel):
    access_token: str
    token_type: Literal["Zoho-oauthtoken"] = "Zoho-oauthtoken"
    expires_at: datetime
    api_domain: str


def _err(description: str) -> dict[str, Any]:
    return {"model": ErrorBody, "description": description}


_COMMON: dict[int | str, dict[str, Any]] = {
    401: _err("Missing or wrong API key"),
    422: _err("The request is not valid"),
    503: _err("The database is not answering"),
}
_NOT_FOUND: dict[int | str, dict[str, Any]] = {404: _err("No such connection")}
_ZOHO_CALL: dict[int | str, dict[str, Any]] = {
    **_NOT_FOUND,
    409: _err("The connection needs reconnecting (needs_reauth or revoked)"),
    429: _err("Zoho's request limit for the organization; retry after Retry-After seconds"),
    502: _err(
        "Zoho answered an error (zoho_error, its message passed on) or none (zoho_unreachable)"
    ),
    503: _err("No valid token right now; retry after the Retry-After seconds"),
}


class ConnectionLocations:
    """The API domain the access-token route names: the connection's data centre's, from the
    table (so a table moved to new URLs is followed), else the one stored with its token.

    The route needs the connection's location only for that. A location is set when the
    connection is made and never changes (a connection is revoked, never deleted nor moved), so
    it is read once per id and kept: a fresh token then costs no database read at all. Whether
    the connection may have a token (active, known) is still the manager's to say on every call.
    At most ``limit`` ids are kept (then the map starts again), bounding the memory.
    """

    def __init__(self, ctx: WebContext, *, limit: int = 100_000) -> None:
        self._ctx = ctx
        self._limit = limit
        self._known: dict[str, str] = {}
        # id -> the one read in flight: concurrent first requests for an id share it.
        self._reading: dict[str, asyncio.Future[str]] = {}

    async def _read_location(self, connection_id: str) -> str:
        connection = await run_in_threadpool(self._ctx.vault.get_connection, connection_id)
        if len(self._known) >= self._limit:
            self._known.clear()
        self._known[connection_id] = connection.location
        return connection.location

    async def api_domain(self, connection_id: str, stored: str) -> str:
        location = self._known.get(connection_id)
        if location is None:
            reading = self._reading.get(connection_id)
            if reading is None:
                reading = asyncio.ensure_future(self._read_location(connection_id))
                self._reading[connection_id] = reading
                reading.add_done_callback(lambda _: self._reading.pop(connection_id, None))
            location = await asyncio.shield(reading)
        try:
            return self._ctx.datacenters.get(location).api_domain
        except DataCenterError:
            return stored


def read_organizations_or_problem(ctx: WebContext, connection_id: str) -> list[OrganizationOut]:
    """The connection's organizations from Zoho, or an ``APIProblem`` saying why not (the
    demo's chooser shows it as a page)."""
    try:
        orgs = ctx.connection_organizations(connection_id)
    except MissingScopeError:
        raise APIProblem(
            403,
            "missing_scope",
            "the connection was not granted ZohoInvoice.settings.READ, which reading "
            "organizations needs: add it to ZOHO_SCOPES and reconnect",
        ) from None
    except ZohoError as exc:
        problem = problem_for(exc)
        if problem is None:
            raise
        raise problem from None
    return [
        OrganizationOut(
            organization_id=o.organization_id,
            name=o.name or o.organization_id,
            currency_code=o.currency_code,
            is_default_org=o.is_default_org,
            time_zone=o.time_zone,
        )
        for o in orgs
    ]


def set_organization_or_problem(
    ctx: WebContext, connection_id: str, organization_id: str
) -> Connection:
    """Bind ``organization_id`` only if Zoho lists it for the connection; the updated connection.

    One code path for the JSON API and the demo's chooser.
    """
    known = {o.organization_id for o in read_organizations_or_problem(ctx, connection_id)}
    if organization_id not in known:
        raise APIProblem(
            400,
            "unknown_organization",
            "organization_id is not one of this connection's organizations "
            "(GET /api/connections/{id}/organizations lists them)",
        )
    ctx.vault.set_organization(connection_id, organization_id)
    return ctx.vault.get_connection(connection_id)


def api_router(ctx: WebContext) -> APIRouter:
    """The JSON API, to mount in your own FastAPI app (``app.include_router(...)``).

    ``ConfigurationError`` when ``ZOHO_API_KEY`` is missing or under 32 characters. Bodies over
    1 MB are refused with 413 (``create_app`` refuses them before any route, too).
    """
    require_api_key(ctx.settings)
    router = APIRouter(
        prefix="/api",
        max_body_size=MAX_BODY_BYTES,
        route_class=_auth_route_class(ctx),
        dependencies=[Depends(_bearer_scheme)],
        responses=_COMMON,
        tags=["connections"],
    )

    tokens = AsyncTokenManager(ctx.manager)
    locations = ConnectionLocations(ctx)

    def _get(connection_id: str) -> Connection:
        if len(connection_id) > MAX_CONNECTION_ID:
            raise ConnectionNotFoundError("no connection with that id")
        return ctx.vault.get_connection(connection_id)

    @router.post(
        "/connect-sessions",
        status_code=201,
        response_model=ConnectSessionOut,
        responses={400: _err("return_url not allow-listed, or unknown location")},
    )
    def create_connect_session(body: ConnectSessionIn) -> ConnectSessionOut:
        """Start connecting a Zoho account: send the person's browser to ``connect_url``."""
        if body.return_url is not None and not is_allowed_return_url(ctx, body.return_url):
            raise APIProblem(
                400,
                "return_url_not_allowed",
                "return_url is not allow-listed: add it (or its origin) to "
                "ZOHO_ALLOWED_RETURN_URLS",
            )
        if body.location is not None and body.location not in ctx.datacenters:
            raise APIProblem(
                400,
                "unknown_location",
                "location must be one of: " + ", ".join(ctx.datacenters.locations),
            )
        token, expires_at = ctx.vault.create_connect_session(
            owner=body.owner, return_url=body.return_url, location=body.location
        )
        return ConnectSessionOut(
            connect_url=f"{ctx.settings.public_url}/connect/{token}", expires_at=expires_at
        )

    @router.get(
        "/connections",
        response_model=ConnectionList,
    )
    def list_connections(
        owner: str | None = Query(default=None, max_length=MAX_OWNER),
    ) -> ConnectionList:
        """The connections, optionally only those of one owner."""
        return ConnectionList(
            connections=[ConnectionOut.of(c) for c in ctx.vault.list_connections(owner=owner)]
        )

    @router.get(
        "/connections/{connection_id}",
        response_model=ConnectionOut,
        responses=_NOT_FOUND,
    )
    def get_connection(connection_id: str) -> ConnectionOut:
        """One connection (never its tokens)."""
        return ConnectionOut.of(_get(connection_id))

    @router.post(
        "/connections/{connection_id}/access-token",
        response_model=AccessTokenOut,
        responses={
            **_NOT_FOUND,
            409: _err("The connection needs reconnecting (needs_reauth or revoked)"),
            500: _err("The stored tokens cannot be opened with ZOHO_ENCRYPTION_KEYS"),
            503: _err("No valid token right now; retry after the Retry-After seconds"),
        },
    )
    @_direct
    async def access_token(connection_id: str) -> Response:
        """A valid access token for the connection, refreshed ahead of expiry when needed."""
        # The service's hot route (issue 9): no thread and no database when the manager has the
        # token in memory; the connection row is not read again (the manager's answer carries
        # the API domain, its data centre's is kept by id); the JSON is written by pydantic once.
        if len(connection_id) > MAX_CONNECTION_ID:
            raise ConnectionNotFoundError("no connection with that id")
        token = await tokens.get_access_token(connection_id)
        api_domain = await locations.api_domain(connection_id, token.api_domain)
        body = AccessTokenOut(
            access_token=token.token, expires_at=token.expires_at, api_domain=api_domain
        )
        return Response(body.model_dump_json(), media_type="application/json")

    @router.get(
        "/connections/{connection_id}/organizations",
        response_model=OrganizationList,
        responses=_ZOHO_CALL,
    )
    def list_organizations(connection_id: str) -> OrganizationList:
        """The Zoho organizations of the connection's user, read from Zoho now."""
        conn = _get(connection_id)
        return OrganizationList(organizations=read_organizations_or_problem(ctx, conn.id))

    @router.patch(
        "/connections/{connection_id}",
        response_model=ConnectionOut,
        responses={**_ZOHO_CALL, 400: _err("Not one of the connection's organizations")},
    )
    def update_connection(connection_id: str, body: SetOrganizationIn) -> ConnectionOut:
        """Bind one of the user's organizations: API calls on the connection then use it."""
        conn = _get(connection_id)
        return ConnectionOut.of(set_organization_or_problem(ctx, conn.id, body.organization_id))

    @router.delete(
        "/connections/{connection_id}",
        status_code=204,
        response_class=Response,
        responses=_NOT_FOUND,
    )
    def disconnect(
        connection_id: str,
        background: BackgroundTasks,
        purge: bool = Query(default=False, description="Also delete the connection's mirror"),
    ) -> Response:
        """Forget the connection's tokens now; revoke them at Zoho in the background. Its mirror
        is kept (the connection shows as revoked) unless ``purge=true``."""
        from ._sync_api import forget_mirror  # it imports this module

        conn = _get(connection_id)
        ctx.disconnect(conn.id)  # and its connection.revoked event, in one transaction
        forget_mirror(ctx, conn.id, purge=purge)
        background.add_task(ctx.process_revocations)
        return Response(status_code=204)

    _add_catch_all(router)
    return router


_ALL_METHODS = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]


def _add_catch_all(router: APIRouter) -> None:
    """Last routes: any other path under ``/api`` still needs the key (SECURITY 37).

    The route class checks the key first, so without one every path is a 401 (not a 404 or
    405 that would tell routes apart); with it, the 404 or 405 a router would have given.
    """
    known = [route for route in router.routes if isinstance(route, APIRoute)]

    def unmatched(request: Request) -> Response:
        rest = request.path_params.get("unmatched", "")
        scope = {**request.scope, "path": f"{router.prefix}/{rest}".rstrip("/") or "/"}
        allowed = sorted(
            {
                method
                for route in known
                if route.matches(scope)[0] == Match.PARTIAL
                for method in route.methods or ()
            }
        )
        if allowed:
            return error_response(
                405,
                "method_not_allowed",
                f"{request.method} is not allowed here; use {', '.join(allowed)}",
                headers={"Allow": ", ".join(allowed)},
            )
        return error_response(404, "not_found", "no such API route")

    for path in ("", "/{unmatched:path}"):
        router.add_api_route(
            path, unmatched, methods=_ALL_METHODS, include_in_schema=False, response_model=None
        )
