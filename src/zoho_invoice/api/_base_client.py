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
from datetime import UTC, date, datetime
from decimal import Decimal
from enum import Enum
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from .. import _metrics
from .._exceptions import (
    APIConnectionError,
    APIStatusError,
    APITimeoutError,
    ConfigurationError,
    DailyQuotaExceeded,
    IPBlockedError,
)
from .._http import httpx
from .._tls import is_loopback_http, require_verified_tls
from .._zoho_codes import CODE_CONCURRENCY_LIMIT, CODE_DAILY_QUOTA, CODE_MINUTE_LIMIT, CODE_SUCCESS
from ._auth import MISSING_SCOPE
from ._budget import AsyncRequestBudget, RequestBudget
from ._constants import (
    INITIAL_RETRY_DELAY,
    MAX_RETRY_DELAY,
    MAX_SERVER_WAIT,
    ORG_HEADER,
)
from ._errors import make_api_error, parse_envelope, without_credentials
from ._ip_throttle import IPThrottle, default_ip_throttle
from ._pagination import Page, parse_page
from ._quota import (
    UNKNOWN_RESET_BLOCK,
    RateLimitStatus,
    daily_reset_at,
    parse_rate_limit,
)

M = TypeVar("M", bound=BaseModel)

__all__ = ["BaseClient", "Reaction", "RequestOptions"]

_SAFE_METHODS = frozenset({"GET", "HEAD", "PUT", "DELETE"})
# Errors raised before a single byte of the request left: repeating is always safe.
_NOT_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)
# A 2xx body this small is read for an error ``code`` even when the caller decodes it later:
# Zoho's envelope of a throttle (45 may come with HTTP 200) must be acted on here.
_SMALL_BODY = 4096


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
    #: A multipart upload instead of a JSON body: field name → (file name, bytes, content type).
    files: Mapping[str, tuple[str, bytes, str]] | None = None

    @property
    def repeatable(self) -> bool:
        if self.idempotent is not None:
            return self.idempotent
        return self.method.upper() in _SAFE_METHODS


@dataclass(frozen=True, slots=True)
class Reaction:
    """What an error answer asks for: this caller's wait, and what every sender must learn.

    The I/O it takes (recording a daily-quota block, pausing the budget) is the sync or async
    client's to do, each in its own way, so the decision itself stays in one place.
    """

    #: Seconds this caller sleeps before trying again; ``None``: raise the error.
    delay: float | None
    #: Code 45: nothing is sent for the organization before this epoch time (record the block).
    block_until: float | None = None
    #: Code 44 or a 429: pause the organization's budget this many seconds for every sharer.
    pause: float | None = None

    def delay_after(self, paused: bool) -> float | None:
        """The wait once the pause is recorded: when the budget holds everyone back, the
        retry's permit waits the pause out, so the caller sleeps no more itself."""
        if self.delay is not None and paused:
            return 0.0
        return self.delay


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
    #: Set by the sync and async clients (their default is the process-wide budget); here only
    #: its ``window`` is read.
    _budget: RequestBudget | AsyncRequestBudget

    def __init__(
        self,
        *,
        organization_id: str | None,
        max_retries: int,
        ip_throttle: IPThrottle | None = None,
        random: Callable[[], float] = random.random,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if max_retries < 0:
            raise ValueError("max_retries must be >= 0")
        self.max_retries = max_retries
        self._organization_override = organization_id
        #: Source of jitter in [0, 1); tests pin it.
        self._random: Callable[[], float] = random
        #: Epoch seconds: Retry-After dates, the daily reset, quota blocks.
        self._clock: Callable[[], float] = clock
        # Process-wide by default, like the budget and the quota blocks (the clients' own): a
        # blocked IP holds back every client of the process, not only the one that met it.
        self._ip_throttle: IPThrottle = (
            ip_throttle if ip_throttle is not None else default_ip_throttle()
        )
        self._rate_limit: RateLimitStatus | None = None

    @property
    def rate_limit(self) -> RateLimitStatus | None:
        """The organization's daily quota as Zoho last reported it to this client
        (``X-Rate-Limit-Limit`` / ``-Remaining`` / ``-Reset``), ``None`` before any answer."""
        return self._rate_limit

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
            files=dict(options.files) if options.files else None,
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

    def _api_error(
        self, response: httpx.Response, *, after_refresh: bool = False
    ) -> APIStatusError:
        """The error of an error answer, with Zoho's ``Retry-After`` when it sent one (the
        throttles get theirs in ``_after_error``)."""
        error = make_api_error(
            response.status_code, response.content, after_refresh=after_refresh, response=response
        )
        error.retry_after = _server_wait(response, self._clock())
        return error

    def _error_for(
        self, response: httpx.Response, *, check_body: bool = True
    ) -> APIStatusError | None:
        """The error this answer means, or ``None`` for a success (``code`` 0 or absent).

        ``check_body=False`` leaves a 2xx body unread, for callers that decode it anyway and check
        its ``code`` then (none of the 2xx error codes is worth a retry).
        """
        if response.is_success:
            if not check_body and len(response.content) > _SMALL_BODY:
                return None
            if "json" not in response.headers.get("content-type", "json"):
                return None
            _, code, _ = parse_envelope(response.content)
            if code is None or code == CODE_SUCCESS:
                return None
        return self._api_error(response, after_refresh=self._after_refresh(response))

    def _json(self, response: httpx.Response) -> dict[str, Any]:
        body, code, _ = parse_envelope(response.content)
        if code:
            raise self._api_error(response)
        if body is None:
            raise APIStatusError(
                f"Zoho Invoice API: expected a JSON object (HTTP {response.status_code})",
                status_code=response.status_code,
                response=without_credentials(response),
            )
        return body

    def _page(
        self, response: httpx.Response, key: str, model: type[M], page: int, per_page: int
    ) -> Page[M]:
        try:
            code, result = parse_page(response.content, key, model, page=page, per_page=per_page)
        except ValidationError:
            # Not the shape we expect: an error envelope, or not JSON at all.
            _, code, _ = parse_envelope(response.content)
            if code:
                raise self._api_error(response) from None
            raise
        if code:
            raise self._api_error(response)
        return result

    # -- retries --------------------------------------------------------------------------
    def _backoff(self, retries_done: int) -> float:
        delay = min(MAX_RETRY_DELAY, INITIAL_RETRY_DELAY * (2.0**retries_done))
        # Jitter downwards by up to a quarter so a crowd of clients spreads out.
        return delay * (1.0 - 0.25 * self._random())

    def _retry_delay_for_response(
        self,
        error: APIStatusError,
        response: httpx.Response,
        options: RequestOptions,
        retries_done: int,
    ) -> float | None:
        """Seconds to wait before trying again, or ``None``: do not retry."""
        if retries_done >= self.max_retries:
            return None
        status = response.status_code
        if error.code == CODE_DAILY_QUOTA:
            return None  # the daily quota: waiting seconds will not help (see _after_error)
        # Refused before any work was done: safe to send again, even a create.
        if error.code == CODE_CONCURRENCY_LIMIT:
            return self._backoff(retries_done)  # too many in flight: one ends soon
        if status == 429 or error.code == CODE_MINUTE_LIMIT:
            minute = self._minute_wait(response)
            return minute if minute <= MAX_SERVER_WAIT else None
        if status >= 500 and options.repeatable:
            wait = _server_wait(response, self._clock())
            if wait is not None and wait <= MAX_SERVER_WAIT:
                return wait
            return self._backoff(retries_done)
        return None

    def _minute_wait(self, response: httpx.Response) -> float:
        """How long a refusal for the organization's minute (44, or a 429) is waited out.

        Zoho sends no ``Retry-After`` (a server that does is heeded); the window the budget paces
        by is the honest wait (a short back-off would just be refused again).
        """
        wait = _server_wait(response, self._clock())
        return wait if wait is not None else self._budget.window

    # -- Zoho's limits ----------------------------------------------------------------------
    @staticmethod
    def _organization_of(key: str) -> str | None:
        return key.rpartition("|")[2] or None

    def _quota_error(self, key: str, until: float | None) -> DailyQuotaExceeded | None:
        """The ``DailyQuotaExceeded`` to raise without sending while ``key``'s daily quota is
        spent (``until``: what the quota blocks answered), else ``None``."""
        now = self._clock()
        if until is None or until <= now:
            return None
        organization_id = self._organization_of(key)
        resets_at = datetime.fromtimestamp(until, UTC)
        return DailyQuotaExceeded(
            f"Zoho Invoice API: the daily API quota of organization {organization_id} is "
            f"spent; nothing is sent for it before {resets_at:%Y-%m-%d %H:%M:%S} UTC (code 45)",
            retry_after=until - now,
            resets_at=resets_at,
            organization_id=organization_id,
        )

    def _note_rate_limit(self, response: httpx.Response, key: str) -> None:
        """Keep the daily quota an answer reports (``client.rate_limit``, metrics)."""
        organization_id = self._organization_of(key)
        if organization_id is None:
            return
        status = parse_rate_limit(response.headers, self._clock())
        if status is None:
            return
        self._rate_limit = status
        _metrics.daily_quota(
            organization_id,
            status.limit,
            status.remaining,
            status.resets_at.timestamp() if status.resets_at is not None else None,
        )

    def _after_error(
        self,
        error: APIStatusError,
        response: httpx.Response,
        options: RequestOptions,
        retries_done: int,
        key: str,
    ) -> Reaction:
        """What an error answer means for this and every other caller (see ``Reaction``)."""
        if isinstance(error, DailyQuotaExceeded):
            _metrics.throttled("daily")
            now = self._clock()
            resets_at = daily_reset_at(response.headers, now)
            until = resets_at.timestamp() if resets_at is not None else now + UNKNOWN_RESET_BLOCK
            error.resets_at = datetime.fromtimestamp(until, UTC)
            error.retry_after = max(0.0, until - now)
            error.organization_id = self._organization_of(key)
            blocked = error.organization_id is not None and until > now
            return Reaction(None, block_until=until if blocked else None)
        if isinstance(error, IPBlockedError):
            # Every organization of the process waits: sending for another one from the same
            # address only prolongs the block. The wait happens before the next send.
            _metrics.throttled("ip")
            error.retry_after = self._ip_throttle.blocked(at_least=error.retry_after or 0.0)
            return Reaction(0.0 if retries_done < self.max_retries else None)
        pause: float | None = None
        if error.code == CODE_CONCURRENCY_LIMIT:
            _metrics.throttled("concurrency")
            if error.retry_after is None:
                error.retry_after = INITIAL_RETRY_DELAY  # one of the 5 in flight ends soon
        elif error.code == CODE_MINUTE_LIMIT or response.status_code == 429:
            _metrics.throttled("minute")
            error.retry_after = self._minute_wait(response)
            # Every caller sharing the budget (threads, processes, hosts with Redis) holds back
            # for the minute, whether or not this one tries again: a service that answers its
            # own caller at once must still keep its other workers from adding to Zoho's count.
            pause = min(error.retry_after, MAX_SERVER_WAIT)
        delay = self._retry_delay_for_response(error, response, options, retries_done)
        return Reaction(delay, pause=pause)

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
    def _connection_error(exc: httpx.TransportError, options: RequestOptions) -> APIConnectionError:
        # The message names the call but not the URL's query nor any header.
        where = f"{options.method.upper()} {options.path}"
        if isinstance(exc, httpx.TimeoutException):
            return APITimeoutError(f"Zoho Invoice API: timed out ({where})")
        return APIConnectionError(f"Zoho Invoice API: no answer ({where}): {type(exc).__name__}")
