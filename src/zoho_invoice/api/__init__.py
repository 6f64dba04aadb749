"""The Zoho Invoice API client: ``ZohoInvoice`` (sync) and ``AsyncZohoInvoice`` (async).

>>> from zoho_invoice.api import ZohoInvoice
>>> with ZohoInvoice(access_token=token, organization_id="10234695") as client:
...     page = client.invoices.list(status="overdue")
...     pdf = client.invoices.pdf(page.items[0].invoice_id)
"""

from ._auth import (
    AsyncTokenProvider,
    StaticTokenProvider,
    TokenInfo,
    TokenProvider,
)
from ._budget import (
    AsyncRequestBudget,
    RedisRequestBudget,
    RequestBudget,
    TokenBucketBudget,
    UnlimitedBudget,
    budget_from_settings,
    default_budget,
)
from ._client import AsyncZohoInvoice, ZohoInvoice
from ._ip_throttle import IPThrottle
from ._pagination import AsyncPageIterator, Page, PageIterator
from ._quota import (
    AsyncQuotaBlocks,
    InProcessQuotaBlocks,
    QuotaBlocks,
    RateLimitStatus,
    RedisQuotaBlocks,
    quota_blocks_from_settings,
)

__all__ = [
    "AsyncPageIterator",
    "AsyncQuotaBlocks",
    "AsyncRequestBudget",
    "AsyncTokenProvider",
    "AsyncZohoInvoice",
    "IPThrottle",
    "InProcessQuotaBlocks",
    "Page",
    "PageIterator",
    "QuotaBlocks",
    "RateLimitStatus",
    "RedisQuotaBlocks",
    "RedisRequestBudget",
    "RequestBudget",
    "StaticTokenProvider",
    "TokenBucketBudget",
    "TokenInfo",
    "TokenProvider",
    "UnlimitedBudget",
    "ZohoInvoice",
    "budget_from_settings",
    "default_budget",
    "quota_blocks_from_settings",
]
