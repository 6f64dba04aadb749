"""JSON errors for the API: always ``{"error": code, "message": text}``.

Messages never echo what the client sent: a fuzzed or hostile body could carry a secret, and an
error answer is the easiest place to leak one (SECURITY 38).
"""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel
from starlette.exceptions import HTTPException as StarletteHTTPException

from .._exceptions import DecryptionError, InvalidVaultInputError, VaultUnavailableError

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


def install_error_handlers(app: FastAPI) -> None:
    """The error shape of the whole app (pages keep their own HTML answers)."""

    async def on_problem(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, APIProblem)
        return error_response(exc.status_code, exc.error, exc.message, headers=exc.headers)

    async def on_validation(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, RequestValidationError)
        return error_response(422, "invalid_request", _describe_validation(exc))

    async def on_http(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, StarletteHTTPException)
        code = _STATUS_CODES.get(exc.status_code, "error")
        detail = exc.detail if isinstance(exc.detail, str) else code.replace("_", " ")
        headers = dict(exc.headers) if exc.headers else None
        return error_response(exc.status_code, code, detail, headers=headers)

    async def on_unavailable(request: Request, exc: Exception) -> Response:
        logger.warning("database unavailable while serving %s", request.url.path)
        return error_response(503, "unavailable", UNAVAILABLE_MESSAGE, headers={"Retry-After": "5"})

    async def on_keys(request: Request, exc: Exception) -> Response:
        logger.error("stored tokens could not be opened while serving %s", request.url.path)
        return error_response(500, "encryption_keys", KEYS_MESSAGE)

    async def on_bad_input(request: Request, exc: Exception) -> Response:
        return error_response(400, "invalid_request", str(exc))

    app.add_exception_handler(APIProblem, on_problem)
    app.add_exception_handler(InvalidVaultInputError, on_bad_input)
    app.add_exception_handler(DecryptionError, on_keys)
    app.add_exception_handler(RequestValidationError, on_validation)
    app.add_exception_handler(StarletteHTTPException, on_http)
    app.add_exception_handler(VaultUnavailableError, on_unavailable)
