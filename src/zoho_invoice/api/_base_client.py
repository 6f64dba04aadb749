"""Everything the sync and async clients share that does no I/O.

URL and header building, request encoding, response decoding and error mapping, the retry
decision and the back-off. ``ZohoInvoice`` and ``AsyncZohoInvoice`` add only the sending,
sleeping and token fetching, each in its own way.
"""

from __future__ import annotations

import email.utils
import json
import random
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from enum import Enum
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from .._exceptions import APIConnectionError, APIError, APITimeoutError, ConfigurationError
from .._http import httpx
from .._tls import is_loopback_http, require_verified_tls
from ._auth import MISSING_SCOPE
from ._constants import (
    DEFAULT_WINDOW,
    INITIAL_RETRY_DELAY,
    MAX_RETRY_DELAY,
    MAX_SERVER_WAIT,
    ORG_HEADER,
)
from ._errors import make_api_error, parse_envelope
from ._pagination import Page, parse_page

M = TypeVar("M", bound=BaseModel)

__all__ = ["BaseClient", "RequestOptions"]

_SAFE_METHODS = frozenset({"GET", "HEAD", "PUT", "DELETE"})
# Errors raised before a single byte of the request left: repeating is always safe.
_NOT_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)


@dataclass(frozen=True)
class RequestOptions:
    """One API call, as the resources describe it."""

    method: str
    path: str
    params: Mapping[str, Any] | None = None
    body: Mapping[str, Any] | None = None
    #: POSTs that may be repeated without harm (status changes); creates are not.
    idempotent: bool | None = None
    #: ``/organizations`` is the one call that needs no organization id.
    needs_org: bool = True
    accept: str = "application/json"
    extra_headers: Mapping[str, str] = field(default_factory=dict)

    @property
    def repeatable(self) -> bool:
        if self.idempotent is not None:
            return self.idempotent
        return self.method.upper() in _SAFE_METHODS


def _json_default(value: object) -> object:
    if isinstance(value, Decimal):
        # Zoho wants numbers; float's repr of a decimal amount is the shortest exact form.
        return float(value)
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%dT%H:%M:%S%z")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, BaseModel):
        return value.model_dump(mode="python", exclude_none=True)
    raise TypeError(f"cannot send a {type(value).__name__} to Zoho")


def encode_body(body: Mapping[str, Any]) -> bytes:
    return json.dumps(body, default=_json_default, separators=(",", ":")).encode()


def _param_value(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%dT%H:%M:%S%z")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Enum):
        return str(value.value)
    return str(value)


def encode_params(params: Mapping[str, Any] | None) -> dict[str, str]:
    """Query parameters as Zoho reads them; ``None`` values are left out."""
    if not params:
        return {}
    return {key: _param_value(value) for key, value in params.items() if value is not None}


def _server_wait(response: httpx.Response, now: float) -> float | None:
    """Seconds the server asked us to wait (``Retry-After``), if it did.

    ``X-Rate-Limit-Reset`` is no wait: on Zoho it counts the seconds until the organization's
    *daily* quota is renewed (34881 seen on Books), so a minute's refusal must not wait for it.
    """
    retry_after = response.headers.get("retry-after")
    if retry_after:
        try:
            return max(0.0, float(retry_after))
        except ValueError:
            try:
                parsed = email.utils.parsedate_to_datetime(retry_after)
            except (TypeError, ValueError):
                return None
            return max(0.0, parsed.timestamp() - now)
    return None


class BaseClient:
    """The I/O-free half of the clients."""

    max_retries: int

    def __init__(
        self,
        *,
        organization_id: str | None,
        max_retries: int,
    ) -> None:
        if max_retries < 0:
            raise ValueError("max_retries must be >= 0")
        self.max_retries = max_retries
        self._organization_override = organization_id
        #: Source of jitter in [0, 1); tests pin it.
        self._random: Callable[[], float] = random.random
        self._clock: Callable[[], float] = time.time

    # -- building -------------------------------------------------------------------------
    @staticmethod
    def api_root(api_domain: str) -> str:
        return api_domain.rstrip("/") + "/invoice/v3"

    def _organization(self, provided: str | None) -> str | None:
        return self._organization_override or provided

    @staticmethod
    def _check_tls(http: object, api_domain: str) -> None:
        """SECURITY 50: an HTTP client that does not verify TLS reaches no https API domain.

        Called as soon as the domain is known: at construction when it is given, else when
        the token provider first names it, before the first request. Only plain http on a
        loopback IP (the sandbox) may go without verification.
        """
        if not is_loopback_http(api_domain):
            require_verified_tls(
                http, user="the Invoice API client", where=f"the API domain {api_domain}"
            )

    def _build_request(
        self,
        http: httpx.Client | httpx.AsyncClient,
        options: RequestOptions,
        *,
        api_domain: str,
        organization_id: str | None,
    ) -> httpx.Request:
        headers = {"Accept": options.accept, **options.extra_headers}
        if options.needs_org:
            if not organization_id:
                raise ConfigurationError(
                    "no Zoho organization id: pass organization_id=, or bind one to the connection"
                )
            headers[ORG_HEADER] = organization_id
        content: bytes | None = None
        if options.body is not None:
            content = encode_body(options.body)
            headers["Content-Type"] = "application/json"
        path = options.path if options.path.startswith("/") else "/" + options.path
        return http.build_request(
            options.method,
            self.api_root(api_domain) + path,
            params=encode_params(options.params),
            headers=headers,
            content=content,
        )

    @staticmethod
    def _budget_key(api_domain: str, organization_id: str | None, options: RequestOptions) -> str:
        return f"{api_domain}|{organization_id if options.needs_org else ''}"

    # -- answers --------------------------------------------------------------------------
    @staticmethod
    def _after_refresh(response: httpx.Response) -> bool:
        # A 57 after a fresh token, or on a token known to work: the scope is missing.
        if response.extensions.get(MISSING_SCOPE):
            return True
        return any(previous.status_code == 401 for previous in response.history)

    def _error_for(self, response: httpx.Response, *, check_body: bool = True) -> APIError | None:
        """The error this answer means, or ``None`` for a success (``code`` 0 or absent).

        ``check_body=False`` leaves a 2xx body unread, for callers that decode it anyway and check
        its ``code`` then (none of the 2xx error codes is worth a retry).
        """
        if response.is_success:
            if not check_body:
                return None
            if "json" not in response.headers.get("content-type", "json"):
                return None
            _, code, _ = parse_envelope(response.content)
            if code is None or code == 0:
                return None
        return make_api_error(
            response.status_code, response.content, after_refresh=self._after_refresh(response)
        )

    @staticmethod
    def _json(response: httpx.Response) -> dict[str, Any]:
        body, code, _ = parse_envelope(response.content)
        if code:
            raise make_api_error(response.status_code, response.content)
        if body is None:
            raise APIError(
                f"Zoho Invoice API: expected a JSON object (HTTP {response.status_code})",
                status_code=response.status_code,
            )
        return body

    @staticmethod
    def _page(
        response: httpx.Response, key: str, model: type[M], page: int, per_page: int
    ) -> Page[M]:
        try:
            code, result = parse_page(response.content, key, model, page=page, per_page=per_page)
        except ValidationError:
            # Not the shape we expect: an error envelope, or not JSON at all.
            _, code, _ = parse_envelope(response.content)
            if code:
                raise make_api_error(response.status_code, response.content) from None
            raise
        if code:
            raise make_api_error(response.status_code, response.content)
        return result

    # -- retries --------------------------------------------------------------------------
    def _backoff(self, retries_done: int) -> float:
        delay = min(MAX_RETRY_DELAY, INITIAL_RETRY_DELAY * (2.0**retries_done))
        # Jitter downwards by up to a quarter so a crowd of clients spreads out.
        return delay * (1.0 - 0.25 * self._random())

    def _retry_delay_for_response(
        self, error: APIError, response: httpx.Response, options: RequestOptions, retries_done: int
    ) -> float | None:
        """Seconds to wait before trying again, or ``None``: do not retry."""
        if retries_done >= self.max_retries:
            return None
        status = response.status_code
        if error.code == 45:
            return None  # the daily quota: waiting seconds will not help
        # Refused before any work was done: safe to send again, even a create.
        if error.code == 1070:
            return self._backoff(retries_done)  # too many in flight: one ends soon
        if status == 429 or error.code == 44:
            # Over the organization's minute: the minute must pass. Zoho sends no Retry-After
            # (a server that does is heeded); the window we pace ourselves by is the honest
            # wait (a short back-off would just be refused again).
            wait = _server_wait(response, self._clock())
            if wait is None:
                wait = self._rate_window()
            return wait if wait <= MAX_SERVER_WAIT else None
        if status >= 500 and options.repeatable:
            wait = _server_wait(response, self._clock())
            if wait is not None and wait <= MAX_SERVER_WAIT:
                return wait
            return self._backoff(retries_done)
        return None

    def _rate_window(self) -> float:
        """The length of the window the budget paces requests by (Zoho's minute by default)."""
        window = getattr(getattr(self, "_budget", None), "window", None)
        return float(window) if isinstance(window, int | float) and window > 0 else DEFAULT_WINDOW

    def _pause_budget(self, key: str, seconds: float) -> float:
        """After a 429, hold every caller of this organization back for ``seconds``.

        Returns the part of the wait this caller must still sleep itself: 0 when the budget
        took the pause over (its next permit for ``key`` waits it out), else ``seconds``.
        """
        pause = getattr(getattr(self, "_budget", None), "pause", None)
        if callable(pause):
            pause(key, seconds)
            return 0.0
        return seconds

    def _retry_delay_for_exception(
        self, exc: httpx.TransportError, options: RequestOptions, retries_done: int
    ) -> float | None:
        if retries_done >= self.max_retries:
            return None
        if isinstance(exc, _NOT_SENT) or options.repeatable:
            return self._backoff(retries_done)
        # A create that may have reached Zoho: sending it again could make a duplicate.
        return None

    @staticmethod
    def _connection_error(exc: httpx.TransportError, options: RequestOptions) -> APIError:
        # The message names the call but not the URL's query nor any header.
        where = f"{options.method.upper()} {options.path}"
        if isinstance(exc, httpx.TimeoutException):
            return APITimeoutError(f"Zoho Invoice API: timed out ({where})")
        return APIConnectionError(f"Zoho Invoice API: no answer ({where}): {type(exc).__name__}")
