"""Prometheus metrics, when ``prometheus-client`` is installed (the ``metrics`` extra).

What an operator needs to see that connections stay alive and Zoho's limits are kept: token
refreshes by outcome, connect flows by outcome, Invoice API requests and retries, time spent
waiting for the organization's request budget, revocations. The service serves them at
``GET /metrics`` (behind the API key). Without the package every function here does nothing.
No label ever carries a token or anything a user typed: only fixed outcome names, and for the
daily quota the Zoho organization id (digits Zoho assigns; anything else is labelled ``other``).
"""

from __future__ import annotations

import re
from typing import Any

__all__ = [
    "CONTENT_TYPE",
    "api_request",
    "api_retry",
    "available",
    "budget_wait",
    "connect_outcome",
    "daily_quota",
    "refresh_outcome",
    "render",
    "revocation_outcome",
    "throttled",
]

try:
    import prometheus_client as _prom
except ImportError:  # pragma: no cover - exercised where the extra is absent
    _prom = None  # type: ignore[assignment]

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


def _counter(name: str, doc: str, labels: tuple[str, ...]) -> Any:
    if _prom is None:
        return None
    return _prom.Counter(name, doc, labels)


_REFRESHES = _counter(
    "zoho_invoice_token_refreshes",
    "Access-token refreshes asked of Zoho Accounts, by outcome.",
    ("outcome",),
)
_CONNECTS = _counter(
    "zoho_invoice_connect_callbacks", "Connect-flow callbacks, by outcome.", ("outcome",)
)
_API_REQUESTS = _counter(
    "zoho_invoice_api_requests",
    "Zoho Invoice API answers (or 'error' for none), by HTTP method and status.",
    ("method", "status"),
)
_API_RETRIES = _counter(
    "zoho_invoice_api_retries", "Invoice API requests sent again, by reason.", ("reason",)
)
_REVOCATIONS = _counter(
    "zoho_invoice_revocations", "Refresh-token revocations at Zoho, by outcome.", ("outcome",)
)
_BUDGET_WAIT = (
    None
    if _prom is None
    else _prom.Histogram(
        "zoho_invoice_budget_wait_seconds",
        "Seconds a request waited for its organization's request budget.",
        buckets=(0.0, 0.1, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0),
    )
)


_THROTTLED = _counter(
    "zoho_invoice_api_throttled",
    "Invoice API answers that throttled us, by kind: minute (code 44), daily (45), "
    "concurrency (1070), ip (this address blocked).",
    ("kind",),
)


def _gauge(name: str, doc: str) -> Any:
    if _prom is None:
        return None
    return _prom.Gauge(name, doc, ("organization",))


_QUOTA_LIMIT = _gauge(
    "zoho_invoice_api_daily_quota_limit",
    "The organization's daily Invoice API quota, as Zoho last reported it (X-Rate-Limit-Limit).",
)
_QUOTA_REMAINING = _gauge(
    "zoho_invoice_api_daily_quota_remaining",
    "Requests left today of the organization's daily quota (X-Rate-Limit-Remaining).",
)
_QUOTA_RESET = _gauge(
    "zoho_invoice_api_daily_quota_reset_timestamp_seconds",
    "When the organization's daily quota is renewed, in epoch seconds (X-Rate-Limit-Reset).",
)
_ORGANIZATION_ID = re.compile(r"\d{1,32}")


def available() -> bool:
    return _prom is not None


def refresh_outcome(outcome: str) -> None:
    if _REFRESHES is not None:
        _REFRESHES.labels(outcome).inc()


def connect_outcome(outcome: str) -> None:
    if _CONNECTS is not None:
        _CONNECTS.labels(outcome).inc()


def api_request(method: str, status: int | str) -> None:
    if _API_REQUESTS is not None:
        _API_REQUESTS.labels(method.upper(), str(status)).inc()


def api_retry(reason: str) -> None:
    if _API_RETRIES is not None:
        _API_RETRIES.labels(reason).inc()


def revocation_outcome(outcome: str) -> None:
    if _REVOCATIONS is not None:
        _REVOCATIONS.labels(outcome).inc()


def budget_wait(seconds: float) -> None:
    if _BUDGET_WAIT is not None:
        _BUDGET_WAIT.observe(max(0.0, seconds))


def throttled(kind: str) -> None:
    if _THROTTLED is not None:
        _THROTTLED.labels(kind).inc()


def daily_quota(
    organization_id: str, limit: int, remaining: int, resets_at: float | None = None
) -> None:
    """The daily quota Zoho reported on an answer for ``organization_id``."""
    if _QUOTA_LIMIT is None:
        return
    label = organization_id if _ORGANIZATION_ID.fullmatch(organization_id) else "other"
    _QUOTA_LIMIT.labels(label).set(limit)
    _QUOTA_REMAINING.labels(label).set(remaining)
    if resets_at is not None:
        _QUOTA_RESET.labels(label).set(resets_at)


def render() -> bytes:
    """The metrics of this process in Prometheus' text format."""
    if _prom is None:
        return (
            b"# prometheus-client is not installed (pip install 'zoho-invoice-connect[metrics]')\n"
        )
    return bytes(_prom.generate_latest())
