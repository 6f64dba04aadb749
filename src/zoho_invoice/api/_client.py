"""``ZohoInvoice`` and ``AsyncZohoInvoice``: the Zoho Invoice API v3 client, sync and async.

>>> client = ZohoInvoice.for_connection(manager, connection_id)
>>> for invoice in client.invoices.iter_all(status="unpaid"):
...     print(invoice.invoice_number, invoice.balance)

Each request: a permit from the organization's budget, a slot under its concurrency cap, the
token from the provider (a 401 refreshes once and retries once), then the answer checked —
``code != 0`` is an error whatever the HTTP status. Safe requests are retried on connection
errors, timeouts, 5xx and 429 with jittered exponential back-off; a create is not repeated once
it may have reached Zoho.

Zoho's throttles (docs/zoho/limits.md): a 44 (the organization's minute) waits the budget's
window and pauses the organization for every caller; a 45 (its daily quota) raises
``DailyQuotaExceeded`` and nothing more is sent for it until the reset (``QuotaBlocks``, shared
by processes and hosts); an IP block pauses every organization of the process (``IPThrottle``).
``X-Rate-Limit-*`` count the daily quota and are kept as ``client.rate_limit``.
"""

from __future__ import annotations

import asyncio
import os
import random
import threading
import time
from collections.abc import Awaitable, Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from types import TracebackType
from typing import Any, Self, TypeVar

from pydantic import BaseModel

from .. import _metrics
from .._exceptions import ConfigurationError
from .._http import httpx
from ._auth import (
    AsyncConnectionTokenProvider,
    AsyncTokenAuth,
    AsyncTokenManagerLike,
    AsyncTokenProvider,
    ConnectionTokenProvider,
    StaticTokenProvider,
    TokenAuth,
    TokenManagerLike,
    TokenProvider,
    _AsyncStatic,
)
from ._base_client import BaseClient, Reaction, RequestOptions
from ._budget import (
    AsyncConcurrencyCap,
    AsyncRequestBudget,
    ConcurrencyCap,
    RequestBudget,
    default_async_concurrency_cap,
    default_budget,
    default_concurrency_cap,
)
from ._constants import DEFAULT_MAX_CONCURRENCY, DEFAULT_MAX_RETRIES, DEFAULT_TIMEOUT
from ._ip_throttle import IPThrottle
from ._pagination import Page
from ._quota import AsyncQuotaBlocks, QuotaBlocks, default_quota_blocks
from ._request import build_options
from ._resources import (
    AsyncContacts,
    AsyncCustomerPayments,
    AsyncEstimates,
    AsyncInvoices,
    AsyncItems,
    AsyncOrganizations,
    AsyncUsers,
    Contacts,
    CustomerPayments,
    Estimates,
    Invoices,
    Items,
    Organizations,
    Users,
)
from ._resources_contact_persons import AsyncContactPersons, ContactPersons
from ._resources_credits import AsyncCreditNotes, CreditNotes
from ._resources_recurring import AsyncRecurringInvoices, RecurringInvoices
from ._resources_taxes import AsyncCurrencies, AsyncTaxes, Currencies, Taxes

__all__ = ["AsyncZohoInvoice", "ZohoInvoice"]

M = TypeVar("M", bound=BaseModel)
DEFAULT_API_DOMAIN = "https://www.zohoapis.com"
Timeout = float | httpx.Timeout


#: A list answer this big (some 50 invoices and more) is parsed off the event loop. A page of
#: 200 takes 1.5-2 ms of CPU to become models; on the loop, 50 concurrent pulls queue those
#: parses back to back and every other task waits behind them. In one thread of its own the
#: parse still holds the GIL, but the loop gets it back between pages (and at the
#: interpreter's switch interval), so no loop step runs a whole page.
_PARSE_OFF_LOOP_BYTES = 32 * 1024
_parser_lock = threading.Lock()
_parser_pool: tuple[int, ThreadPoolExecutor] | None = None


def _parser() -> ThreadPoolExecutor:
    """One thread per process that parses big pages for every async client.

    Made again in a forked child (a pool's thread does not survive a fork: work given to the
    parent's pool there would never run)."""
    global _parser_pool
    with _parser_lock:
        if _parser_pool is None or _parser_pool[0] != os.getpid():
            pool = ThreadPoolExecutor(1, thread_name_prefix="zoho-invoice-parse")
            _parser_pool = (os.getpid(), pool)
        return _parser_pool[1]


def _check_credentials(access_token: str | None, token_provider: object) -> None:
    if (access_token is None) == (token_provider is None):
        raise ConfigurationError("give exactly one of access_token= or token_provider=")


class ZohoInvoice(BaseClient):
    """The sync client.

    ``ZohoInvoice(access_token=..., organization_id=..., api_domain=...)`` for a token you hold;
    ``ZohoInvoice(token_provider=...)`` or ``ZohoInvoice.for_connection(manager, id)`` for tokens
    that refresh. ``organization_id`` overrides the one bound to the connection. ``sleep`` (every
    wait: budget, back-off, Zoho's minute), ``random`` (the back-off's jitter, in [0, 1)) and
    ``clock`` (epoch seconds: Retry-After dates, the daily reset) are injectable, as in
    ``TokenManager``, so tests neither wait nor guess.
    """

    def __init__(
        self,
        *,
        access_token: str | None = None,
        organization_id: str | None = None,
        api_domain: str | None = None,
        token_provider: TokenProvider | None = None,
        http_client: httpx.Client | None = None,
        max_retries: int = DEFAULT_MAX_RETRIES,
        timeout: Timeout = DEFAULT_TIMEOUT,
        budget: RequestBudget | None = None,
        max_concurrency: int = DEFAULT_MAX_CONCURRENCY,
        quota_blocks: QuotaBlocks | None = None,
        ip_throttle: IPThrottle | None = None,
        sleep: Callable[[float], None] = time.sleep,
        random: Callable[[], float] = random.random,
        clock: Callable[[], float] = time.time,
    ) -> None:
        super().__init__(
            organization_id=organization_id,
            max_retries=max_retries,
            ip_throttle=ip_throttle,
            random=random,
            clock=clock,
        )
        _check_credentials(access_token, token_provider)
        if access_token is not None:
            token_provider = StaticTokenProvider(
                access_token, api_domain or DEFAULT_API_DOMAIN, organization_id
            )
        assert token_provider is not None
        self._provider: TokenProvider = token_provider
        self._api_domain_override = api_domain
        self._owns_http = http_client is None
        self._http = http_client or httpx.Client(timeout=timeout, follow_redirects=False)
        if known_domain := api_domain or (DEFAULT_API_DOMAIN if access_token is not None else None):
            self._check_tls(self._http, known_domain)
        self._budget: RequestBudget = budget if budget is not None else default_budget()
        # Process-wide by default, like the budget: a spent daily quota holds back every client.
        self._quota_blocks: QuotaBlocks = (
            quota_blocks if quota_blocks is not None else default_quota_blocks()
        )
        # Process-wide, like the budget: every client of this process keeps to one cap per org.
        self._cap: ConcurrencyCap = default_concurrency_cap(max_concurrency)
        self._sleep: Callable[[float], None] = sleep
        self._target: tuple[str, str | None] | None = None
        self._target_lock = threading.Lock()

        self.organizations = Organizations(self)
        self.users = Users(self)
        self.contacts = Contacts(self)
        self.items = Items(self)
        self.invoices = Invoices(self)
        self.estimates = Estimates(self)
        self.customer_payments = CustomerPayments(self)
        self.taxes = Taxes(self)
        self.currencies = Currencies(self)
        self.contact_persons = ContactPersons(self)
        self.credit_notes = CreditNotes(self)
        self.recurring_invoices = RecurringInvoices(self)

    @classmethod
    def for_connection(
        cls,
        manager: TokenManagerLike,
        connection_id: str,
        organization_id: str | None = None,
        **options: Any,
    ) -> ZohoInvoice:
        """A client on a stored connection: its tokens, API domain and organization."""
        return cls(
            token_provider=ConnectionTokenProvider(manager, connection_id),
            organization_id=organization_id,
            **options,
        )

    def _resolve(self) -> tuple[str, str | None]:
        # The API domain and organization of a connection do not change: learn them once.
        with self._target_lock:
            if self._target is None:
                _, api_domain, organization_id = self._provider.get()
                domain = self._api_domain_override or api_domain
                self._check_tls(self._http, domain)
                self._target = (domain, self._organization(organization_id))
            return self._target

    @property
    def organization_id(self) -> str | None:
        return self._resolve()[1]

    def _send(self, options: RequestOptions, *, check_body: bool = True) -> httpx.Response:
        api_domain, organization_id = self._resolve()
        key = self._budget_key(api_domain, organization_id, options)
        retries = 0
        while True:
            request = self._build_request(
                self._http, options, api_domain=api_domain, organization_id=organization_id
            )
            self._take_permit(key)
            # The resend after a refresh takes its own permit: retries count against Zoho's 100.
            auth = TokenAuth(self._provider, before_resend=lambda: self._take_permit(key))
            try:
                with self._cap.slot(key):
                    response = self._http.send(request, auth=auth)
            except httpx.TransportError as exc:
                _metrics.api_request(request.method, "error")
                reason = type(exc).__name__
                delay = self._retry_delay_for_exception(exc, options, retries)
                if delay is None:
                    raise self._connection_error(exc, options) from exc
            else:
                _metrics.api_request(request.method, response.status_code)
                reason = str(response.status_code)
                self._note_rate_limit(response, key)
                error = self._error_for(response, check_body=check_body)
                if error is None:
                    return response
                delay = self._react(self._after_error(error, response, options, retries, key), key)
                if delay is None:
                    raise error
            retries += 1
            _metrics.api_retry(reason)
            if delay > 0:
                self._sleep(delay)

    def _react(self, reaction: Reaction, key: str) -> float | None:
        """Record what every sender must learn of an error answer; this caller's wait."""
        if reaction.block_until is not None:
            self._quota_blocks.block(key, reaction.block_until)
        paused = reaction.pause is not None and self._budget.pause(key, reaction.pause)
        return reaction.delay_after(paused)

    def _take_permit(self, key: str) -> None:
        if self._organization_of(key) is not None:
            error = self._quota_error(key, self._quota_blocks.blocked_until(key))
            if error is not None:
                raise error
        wait = self._budget.reserve(key)
        _metrics.budget_wait(wait)
        wait = max(wait, self._ip_throttle.wait())
        if wait > 0:
            self._sleep(wait)

    def _request_json(self, options: RequestOptions) -> dict[str, Any]:
        return self._json(self._send(options, check_body=False))

    def _request_page(
        self, options: RequestOptions, key: str, model: type[M], page: int, per_page: int
    ) -> Page[M]:
        return self._page(self._send(options, check_body=False), key, model, page, per_page)

    def _request_bytes(self, options: RequestOptions) -> bytes:
        return self._send(options).content

    def request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        json: Mapping[str, Any] | None = None,
        idempotent: bool | None = None,
    ) -> dict[str, Any]:
        """Any Invoice API endpoint: Zoho's decoded answer, ``code`` checked.

        >>> client.request("POST", "/invoices/982000000567114/comments",
        ...                json={"description": "Paid by cheque"})["comment"]["comment_id"]

        ``path`` is relative to ``{api_domain}/invoice/v3``; a path that could leave it (a host,
        ``..``, a query) raises ``InvalidRequestError`` (a ``ValueError``) before anything is
        sent. The call gets what the resources get (they go through here): a permit from the
        organization's budget, its concurrency slot, the token (a 401 refreshes once and retries
        once), and an ``APIStatusError`` subclass for any ``code != 0``. GET, PUT and DELETE are
        retried on timeouts and 5xx; a POST only when it never left or was throttled, unless
        ``idempotent=True`` says sending it twice does no harm (a status change does; a create
        never).
        """
        return self._request_json(
            build_options(method, path, params=params, json=json, idempotent=idempotent)
        )

    def request_bytes(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        accept: str = "application/pdf",
    ) -> bytes:
        """A binary answer, such as a PDF, with the same rules as ``request``.

        >>> client.request_bytes("GET", "/invoices/982000000567114", params={"accept": "pdf"})

        A JSON error answer raises its ``APIStatusError``.
        """
        return self._request_bytes(build_options(method, path, params=params, accept=accept))

    def close(self) -> None:
        if self._owns_http:
            self._http.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


class AsyncZohoInvoice(BaseClient):
    """The async client; the same as ``ZohoInvoice`` with ``await`` (``async for`` to iterate)."""

    def __init__(
        self,
        *,
        access_token: str | None = None,
        organization_id: str | None = None,
        api_domain: str | None = None,
        token_provider: AsyncTokenProvider | None = None,
        http_client: httpx.AsyncClient | None = None,
        max_retries: int = DEFAULT_MAX_RETRIES,
        timeout: Timeout = DEFAULT_TIMEOUT,
        budget: AsyncRequestBudget | None = None,
        max_concurrency: int = DEFAULT_MAX_CONCURRENCY,
        quota_blocks: AsyncQuotaBlocks | None = None,
        ip_throttle: IPThrottle | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        random: Callable[[], float] = random.random,
        clock: Callable[[], float] = time.time,
    ) -> None:
        super().__init__(
            organization_id=organization_id,
            max_retries=max_retries,
            ip_throttle=ip_throttle,
            random=random,
            clock=clock,
        )
        _check_credentials(access_token, token_provider)
        if access_token is not None:
            token_provider = _AsyncStatic(
                StaticTokenProvider(access_token, api_domain or DEFAULT_API_DOMAIN, organization_id)
            )
        assert token_provider is not None
        self._provider: AsyncTokenProvider = token_provider
        self._api_domain_override = api_domain
        self._owns_http = http_client is None
        self._http = http_client or httpx.AsyncClient(timeout=timeout, follow_redirects=False)
        if known_domain := api_domain or (DEFAULT_API_DOMAIN if access_token is not None else None):
            self._check_tls(self._http, known_domain)
        self._budget: AsyncRequestBudget = budget if budget is not None else default_budget()
        self._quota_blocks: AsyncQuotaBlocks = (
            quota_blocks if quota_blocks is not None else default_quota_blocks()
        )
        self._cap: AsyncConcurrencyCap = default_async_concurrency_cap(max_concurrency)
        self._sleep: Callable[[float], Awaitable[None]] = sleep
        self._target: tuple[str, str | None] | None = None
        self._target_lock = asyncio.Lock()

        self.organizations = AsyncOrganizations(self)
        self.users = AsyncUsers(self)
        self.contacts = AsyncContacts(self)
        self.items = AsyncItems(self)
        self.invoices = AsyncInvoices(self)
        self.estimates = AsyncEstimates(self)
        self.customer_payments = AsyncCustomerPayments(self)
        self.taxes = AsyncTaxes(self)
        self.currencies = AsyncCurrencies(self)
        self.contact_persons = AsyncContactPersons(self)
        self.credit_notes = AsyncCreditNotes(self)
        self.recurring_invoices = AsyncRecurringInvoices(self)

    @classmethod
    def for_connection(
        cls,
        manager: AsyncTokenManagerLike,
        connection_id: str,
        organization_id: str | None = None,
        **options: Any,
    ) -> AsyncZohoInvoice:
        """A client on a stored connection: its tokens, API domain and organization."""
        return cls(
            token_provider=AsyncConnectionTokenProvider(manager, connection_id),
            organization_id=organization_id,
            **options,
        )

    async def _resolve(self) -> tuple[str, str | None]:
        async with self._target_lock:
            if self._target is None:
                _, api_domain, organization_id = await self._provider.get()
                domain = self._api_domain_override or api_domain
                self._check_tls(self._http, domain)
                self._target = (domain, self._organization(organization_id))
            return self._target

    async def _send(self, options: RequestOptions, *, check_body: bool = True) -> httpx.Response:
        api_domain, organization_id = await self._resolve()
        key = self._budget_key(api_domain, organization_id, options)
        retries = 0
        while True:
            request = self._build_request(
                self._http, options, api_domain=api_domain, organization_id=organization_id
            )
            await self._take_permit(key)
            auth = AsyncTokenAuth(self._provider, before_resend=lambda: self._take_permit(key))
            try:
                async with self._cap.slot(key):
                    response = await self._http.send(request, auth=auth)
            except httpx.TransportError as exc:
                _metrics.api_request(request.method, "error")
                reason = type(exc).__name__
                delay = self._retry_delay_for_exception(exc, options, retries)
                if delay is None:
                    raise self._connection_error(exc, options) from exc
            else:
                _metrics.api_request(request.method, response.status_code)
                reason = str(response.status_code)
                self._note_rate_limit(response, key)
                error = self._error_for(response, check_body=check_body)
                if error is None:
                    return response
                delay = await self._react(
                    self._after_error(error, response, options, retries, key), key
                )
                if delay is None:
                    raise error
            retries += 1
            _metrics.api_retry(reason)
            if delay > 0:
                await self._sleep(delay)

    async def _react(self, reaction: Reaction, key: str) -> float | None:
        """``ZohoInvoice._react``, with the quota blocks and the budget awaited."""
        if reaction.block_until is not None:
            await self._quota_blocks.ablock(key, reaction.block_until)
        paused = reaction.pause is not None and await self._budget.apause(key, reaction.pause)
        return reaction.delay_after(paused)

    async def _take_permit(self, key: str) -> None:
        # Every step awaits its I/O (Redis, the database): nothing here holds the event loop.
        if self._organization_of(key) is not None:
            error = self._quota_error(key, await self._quota_blocks.ablocked_until(key))
            if error is not None:
                raise error
        wait = await self._budget.areserve(key)
        _metrics.budget_wait(wait)
        wait = max(wait, self._ip_throttle.wait())
        if wait > 0:
            await self._sleep(wait)

    async def _request_json(self, options: RequestOptions) -> dict[str, Any]:
        return self._json(await self._send(options, check_body=False))

    async def _request_page(
        self, options: RequestOptions, key: str, model: type[M], page: int, per_page: int
    ) -> Page[M]:
        response = await self._send(options, check_body=False)
        if len(response.content) < _PARSE_OFF_LOOP_BYTES:
            return self._page(response, key, model, page, per_page)
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(
            _parser(), self._page, response, key, model, page, per_page
        )

    async def _request_bytes(self, options: RequestOptions) -> bytes:
        return (await self._send(options)).content

    async def request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        json: Mapping[str, Any] | None = None,
        idempotent: bool | None = None,
    ) -> dict[str, Any]:
        """Any Invoice API endpoint: Zoho's decoded answer, ``code`` checked.

        The twin of ``ZohoInvoice.request``, with the same rules.
        """
        return await self._request_json(
            build_options(method, path, params=params, json=json, idempotent=idempotent)
        )

    async def request_bytes(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        accept: str = "application/pdf",
    ) -> bytes:
        """A binary answer (a PDF), with the same rules as ``request``."""
        return await self._request_bytes(build_options(method, path, params=params, accept=accept))

    async def aclose(self) -> None:
        if self._owns_http:
            await self._http.aclose()

    async def close(self) -> None:
        await self.aclose()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()
