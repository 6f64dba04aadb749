"""The Zoho Invoice API client: ``ZohoInvoice`` (sync) and ``AsyncZohoInvoice`` (async).

>>> from zoho_invoice.api import ZohoInvoice
>>> with ZohoInvoice(access_token=token, organization_id="10234695") as client:
...     page = client.invoices.list(status="overdue")
...     pdf = client.invoices.pdf(page.items[0].invoice_id)
"""

from ._auth import (
    AsyncConnectionTokenProvider,
    AsyncTokenAuth,
    AsyncTokenProvider,
    ConnectionTokenProvider,
    StaticTokenProvider,
    TokenAuth,
    TokenInfo,
    TokenProvider,
)
from ._budget import (
    AsyncConcurrencyCap,
    ConcurrencyCap,
    RedisRequestBudget,
    RequestBudget,
    TokenBucketBudget,
    UnlimitedBudget,
    budget_from_settings,
    default_budget,
)
from ._client import AsyncZohoInvoice, ZohoInvoice
from ._errors import make_api_error
from ._ip_throttle import IPThrottle, default_ip_throttle
from ._pagination import AsyncPageIterator, Page, PageIterator
from ._quota import (
    InProcessQuotaBlocks,
    LayeredQuotaBlocks,
    QuotaBlocks,
    RateLimitStatus,
    RedisQuotaBlocks,
    default_quota_blocks,
    quota_blocks_from_settings,
)

__all__ = [
    "AsyncConcurrencyCap",
    "AsyncConnectionTokenProvider",
    "AsyncPageIterator",
    "AsyncTokenAuth",
    "AsyncTokenProvider",
    "AsyncZohoInvoice",
    "ConcurrencyCap",
    "ConnectionTokenProvider",
    "IPThrottle",
    "InProcessQuotaBlocks",
    "LayeredQuotaBlocks",
    "Page",
    "PageIterator",
    "QuotaBlocks",
    "RateLimitStatus",
    "RedisQuotaBlocks",
    "RedisRequestBudget",
    "RequestBudget",
    "StaticTokenProvider",
    "TokenAuth",
    "TokenBucketBudget",
    "TokenInfo",
    "TokenProvider",
    "UnlimitedBudget",
    "ZohoInvoice",
    "budget_from_settings",
    "default_budget",
    "default_ip_throttle",
    "default_quota_blocks",
    "make_api_error",
    "quota_blocks_from_settings",
]
