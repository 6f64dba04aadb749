"""Errors, mapped to answers in one place: the JSON API's are always
``{"error": code, "message": text}``; a page gets an HTML problem page.

:func:`problem_for` is the one table from the package's errors (no such connection, needs
reconnecting, no token now, Zoho's limits, the keys, the database) to the API's answers: the API's
route class uses it, so a route raises and never catches, also in an app that mounts
``api_router`` itself; :func:`install_error_handlers` gives a whole app the same answers, and
pages a "No such connection" page.

Messages never echo what the client sent: a fuzzed or hostile body could carry a secret, and an
error answer is the easiest place to leak one (SECURITY 38).
"""

from __future__ import annotations

import logging
import math
from datetime import UTC, datetime

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel
from starlette.exceptions import HTTPException as StarletteHTTPException

from .._exceptions import (
    APIConnectionError,
    APIStatusError,
    ClientSecretRejectedError,
    ConnectionNotFoundError,
    DailyQuotaExceeded,
    DecryptionError,
    InvalidVaultInputError,
    RateLimitError,
    ReauthorizationRequired,
    TokenUnavailableError,
    VaultUnavailableError,
    ZohoError,
)
from .._redact import redact
from ._pages import problem_page

logger = logging.getLogger("zoho_invoice.web")

_STATUS_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "too_large",
    414: "uri_too_long",
    415: "unsupported_media_type",
    422: "invalid_request",
    503: "unavailable",
}


class ErrorBody(BaseModel):
    """Every error of the JSON API."""

    error: str
    message: str


class APIProblem(Exception):
    """Raised by API handlers: becomes an error answer with that status, code and message."""

    def __init__(
        self,
        status_code: int,
        error: str,
        message: str,
        *,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status_code = status_code
        self.error = error
        self.message = message
        self.headers = headers

    def response(self) -> JSONResponse:
        return error_response(self.status_code, self.error, self.message, headers=self.headers)


def error_response(
    status_code: int, error: str, message: str, *, headers: dict[str, str] | None = None
) -> JSONResponse:
    return JSONResponse({"error": error, "message": message}, status_code, headers=headers)


UNAVAILABLE_MESSAGE = (
    "The database is not answering right now. Nothing was changed; try again in a few seconds."
)


KEYS_MESSAGE = (
    "The stored tokens of this connection cannot be opened with the configured "
    "ZOHO_ENCRYPTION_KEYS: the key that sealed them was removed or changed. Restore that key "
    "(keys can be listed side by side), or have the user connect again."
)


def _describe_validation(exc: RequestValidationError) -> str:
    parts = []
    for err in exc.errors()[:5]:
        loc = ".".join(str(p) for p in err.get("loc", ()) if p not in ("body", "query", "path"))
        msg = str(err.get("msg", "invalid value"))
        parts.append(f"{loc}: {msg}" if loc else msg)
    return "; ".join(parts) or "the request is not valid"


NOT_FOUND_MESSAGE = "no connection with that id"


#: Zoho's window for an organization's requests: the wait when an error does not name one.
_MINUTE = 60.0


def _rate_limited(exc: RateLimitError) -> APIProblem:
    """429 with a ``Retry-After`` that means it: the daily quota's reset, else the wait the
    client took from Zoho's answer (its ``Retry-After``, the minute of a 44, an IP block)."""
    if isinstance(exc, DailyQuotaExceeded) and exc.resets_at is not None:
        wait = max(1, math.ceil((exc.resets_at - datetime.now(UTC)).total_seconds()))
        return APIProblem(
            429,
            "daily_quota_exceeded",
            "Zoho's daily API quota for this organization is spent; it is renewed at "
            f"{exc.resets_at:%Y-%m-%d %H:%M} UTC",
            headers={"Retry-After": str(wait)},
        )
    return APIProblem(
        429,
        "rate_limited",
        "Zoho's request limit for this organization was reached: " + redact(exc.message)[:300],
        headers={"Retry-After": str(max(1, math.ceil(exc.retry_after or _MINUTE)))},
    )


def _token_unavailable(exc: TokenUnavailableError) -> APIProblem:
    retry = max(1, round(exc.retry_after)) if exc.retry_after else 30
    if isinstance(exc, ClientSecretRejectedError):
        # The service's configuration, not the connection: say what the operator must fix.
        return APIProblem(
            503,
            "client_secret_rejected",
            "Zoho Accounts rejects this service's client secret (invalid_client_secret): fix "
            "ZOHO_CLIENT_SECRET; the connection itself is fine",
            headers={"Retry-After": str(retry)},
        )
    return APIProblem(
        503,
        "token_unavailable",
        f"no valid access token right now; retry in about {retry} seconds",
        headers={"Retry-After": str(retry)},
    )


def problem_for(exc: ZohoError) -> APIProblem | None:
    """The JSON API's answer to one of the package's errors; ``None`` for one it does not
    answer (a bug: the server's 500)."""
    if isinstance(exc, ConnectionNotFoundError):
        return APIProblem(404, "not_found", NOT_FOUND_MESSAGE)
    if isinstance(exc, ReauthorizationRequired):
        return APIProblem(
            409,
            "needs_reauth",
            f"the connection is {exc.status}: send its user through a new connect session",
        )
    if isinstance(exc, TokenUnavailableError):
        return _token_unavailable(exc)
    if isinstance(exc, RateLimitError):
        return _rate_limited(exc)
    if isinstance(exc, APIStatusError):
        return APIProblem(502, "zoho_error", "Zoho answered an error: " + redact(exc.message)[:300])
    if isinstance(exc, APIConnectionError):
        # No answer at all: nothing of Zoho's to pass on, and a write may or may not have landed.
        return APIProblem(
            502,
            "zoho_unreachable",
            "Zoho did not answer (no connection, or it timed out); try again shortly",
            headers={"Retry-After": "5"},
        )
    if isinstance(exc, DecryptionError):
        # Not the caller's fault and not transient: say which setting to look at.
        return APIProblem(500, "encryption_keys", KEYS_MESSAGE)
    if isinstance(exc, VaultUnavailableError):
        return APIProblem(503, "unavailable", UNAVAILABLE_MESSAGE, headers={"Retry-After": "5"})
    if isinstance(exc, InvalidVaultInputError):
        return APIProblem(400, "invalid_request", str(exc))
    return None


def problem_response(request: Request, exc: ZohoError) -> Response | None:
    """:func:`problem_for` as a JSON answer (logged where the operator must act)."""
    problem = problem_for(exc)
    if problem is None:
        return None
    if isinstance(exc, VaultUnavailableError):
        logger.warning("database unavailable while serving %s", request.url.path)
    elif isinstance(exc, DecryptionError):
        logger.error("stored tokens could not be opened while serving %s", request.url.path)
    return problem.response()


def _is_api(request: Request) -> bool:
    return request.url.path.startswith(str(request.scope.get("root_path", "")).rstrip("/") + "/api")


def install_error_handlers(app: FastAPI) -> None:
    """The error answers of the whole app: JSON under ``/api`` and for the errors every route
    may meet (keys, database); a page for a connection a page route does not find."""

    async def on_problem(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, APIProblem)
        return exc.response()

    async def on_validation(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, RequestValidationError)
        return error_response(422, "invalid_request", _describe_validation(exc))

    async def on_http(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, StarletteHTTPException)
        code = _STATUS_CODES.get(exc.status_code, "error")
        detail = exc.detail if isinstance(exc.detail, str) else code.replace("_", " ")
        headers = dict(exc.headers) if exc.headers else None
        return error_response(exc.status_code, code, detail, headers=headers)

    async def on_domain(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, ZohoError)
        if isinstance(exc, ConnectionNotFoundError) and not _is_api(request):
            return problem_page(
                request.app.state.context,
                request,
                title="No such connection",
                message="It may have been disconnected or removed already.",
                hint="Go back to the dashboard.",
                status_code=404,
            )
        answer = problem_response(request, exc)
        assert answer is not None  # every class registered below has its answer
        return answer

    app.add_exception_handler(APIProblem, on_problem)
    app.add_exception_handler(RequestValidationError, on_validation)
    app.add_exception_handler(StarletteHTTPException, on_http)
    for mapped in (
        ConnectionNotFoundError,
        DecryptionError,
        InvalidVaultInputError,
        VaultUnavailableError,
    ):
        app.add_exception_handler(mapped, on_domain)
