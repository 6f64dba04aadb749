"""Zoho's request limits: per organization per minute, per day, in flight; and per IP address.

- Per minute: a **sliding window** of ``window_seconds`` (a log of accepted requests); over
  ``per_minute`` → 429 code 44. Refused requests do not count.
- Per day: a fixed window per day; over ``daily`` → code 45, with HTTP 429 (Zoho Books lists 429
  for "API usage limit exceeded"), or HTTP 200 when ``daily_error_http_200`` (the other reading
  docs/zoho/limits.md keeps). The day ends at midnight in ``daily_reset_timezone`` (``"UTC"``
  by default): Zoho does not publish the time zone, so the sandbox plays any IANA zone; Zoho
  CRM documents midnight Pacific time (``"America/Los_Angeles"``). ``plan`` presets ``daily``
  and ``concurrent`` by Zoho's plan table (``InvoiceLimits.for_plan("standard")``).
- In flight: more than ``concurrent`` requests of one organization at once → 429 code 1070.
- Per IP address (``ip_per_minute``, off by default): more requests a minute from one client IP,
  whatever the organization, blocks that IP for ``ip_block_seconds``: every request from it is
  answered with Zoho's "your IP has been blocked" message (JSON with HTTP ``ip_block_status``, or
  an HTML page when ``ip_block_answer="html"``: Zoho publishes neither status nor format).

Every answer that went through the per-organization limiter carries the **daily** quota, as real
Zoho answers do (``X-Rate-Limit-Limit: 7500``, ``-Remaining: 6775``, ``-Reset: 34881`` seen on
Books): the organization's daily quota, what is left of it today, and the seconds until it is
renewed. Unless ``rate_limit_headers`` is off (a reading in which Zoho sends none).
"""

from __future__ import annotations

import json
import math
import threading
from collections import deque
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, fields, replace
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from ._errors import ZohoAPIFailure

__all__ = ["PLANS", "IPBlockAnswer", "InvoiceLimits", "RateLimiter"]

#: Zoho Books' daily API quota and in-flight limit per plan (the Invoice API is the same API;
#: docs/zoho/limits.md has the sources). Plans above Professional share the highest quota.
PLANS: dict[str, tuple[int, int]] = {
    "free": (1000, 5),
    "standard": (2000, 10),
    "professional": (5000, 10),
    "premium": (10000, 10),
    "elite": (10000, 10),
    "ultimate": (10000, 10),
}

#: Zoho's wording for a blocked address (quoted by a Zoho Invoice API user; no status or code
#: is published).
IP_BLOCKED_MESSAGE = (
    "For security reasons your IP has been blocked as you have exceeded the maximum number of "
    "requests per minute that can originate from one IP address."
)

_BOOLEANS = (
    "daily_error_http_200",
    "rate_limit_headers",
    "modified_filter_everywhere",
    "sort_by_last_modified",
)
_POSITIVE_INTS = ("per_minute", "daily", "concurrent")
_POSITIVE_FLOATS = ("window_seconds", "ip_block_seconds")


@dataclass(frozen=True, slots=True)
class InvoiceLimits:
    """The limits the sandbox plays; the defaults are Zoho's (paid plans for ``concurrent``).

    >>> InvoiceLimits.for_plan("professional").daily
    5000
    """

    per_minute: int = 100
    window_seconds: float = 60
    daily: int = 1000
    concurrent: int = 10
    daily_error_http_200: bool = False
    rate_limit_headers: bool = True
    #: The plan ``daily`` and ``concurrent`` were preset from (``None``: set by hand).
    plan: str | None = None
    #: The IANA time zone whose midnight renews the daily quota.
    daily_reset_timezone: str = "UTC"
    #: Requests a minute one client IP may send across every organization; ``None``: no limit.
    ip_per_minute: int | None = None
    ip_block_seconds: float = 60
    #: ``"json"`` (Zoho's envelope, code 44) or ``"html"`` (a page, as a security filter answers).
    ip_block_answer: str = "json"
    ip_block_status: int = 429
    #: How lists read ``last_modified_time`` where Zoho's pages are silent or disagree
    #: (docs/zoho/mirror-lists.md): ``"after"`` keeps what changed strictly after the value
    #: (Zoho's "greater than"), ``"inclusive"`` keeps the value's second too.
    modified_filter: str = "after"
    #: Every list honours the ``last_modified_time`` filter; ``False``: only invoices (the one
    #: list Zoho documents it on), the others ignore it as Zoho ignores a parameter it does not
    #: know, and answer everything.
    modified_filter_everywhere: bool = True
    #: ``sort_column=last_modified_time`` on every list; ``False``: only on contacts (the one
    #: list Zoho documents it on), elsewhere 400 code 2 as for any undocumented column.
    sort_by_last_modified: bool = False

    @classmethod
    def for_plan(cls, plan: str, **overrides: Any) -> InvoiceLimits:
        """The limits of a Zoho plan (``free``, ``standard``, ``professional``, ``premium``,
        ``elite``, ``ultimate``); ``overrides`` change any field after."""
        return cls().updated({"plan": plan, **overrides})

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    def updated(self, changes: dict[str, Any]) -> InvoiceLimits:
        """A copy with ``changes`` applied; ValueError for an unknown or ill-typed field.

        ``plan`` presets ``daily`` and ``concurrent``; the same ``changes`` may still set them.
        """
        known = {f.name for f in fields(self)}
        clean: dict[str, Any] = {}
        if "plan" in changes:
            plan = changes["plan"]
            if plan is not None and plan not in PLANS:
                raise ValueError("plan")
            if plan is not None:
                clean["daily"], clean["concurrent"] = PLANS[plan]
            clean["plan"] = plan
        for name, value in changes.items():
            if name not in known:
                raise ValueError(name)
            if name == "plan":
                continue
            clean[name] = _checked(name, value)
        return replace(self, **clean)

    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.daily_reset_timezone)


def _is_number(value: Any) -> bool:
    return not isinstance(value, bool) and isinstance(value, int | float)


def _checked(name: str, value: Any) -> Any:
    """``value`` as the field ``name`` keeps it, or ValueError(name)."""
    if name in _BOOLEANS:
        if not isinstance(value, bool):
            raise ValueError(name)
        return value
    if name in _POSITIVE_INTS or (name == "ip_per_minute" and value is not None):
        if not _is_number(value) or value <= 0 or not float(value).is_integer():
            raise ValueError(name)
        return int(value)
    if name == "ip_per_minute":
        return None
    if name in _POSITIVE_FLOATS:
        if not _is_number(value) or value <= 0:
            raise ValueError(name)
        return value
    if name == "daily_reset_timezone":
        try:
            ZoneInfo(str(value))
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(name) from None
        return str(value)
    if name == "modified_filter":
        if value not in ("after", "inclusive"):
            raise ValueError(name)
        return value
    if name == "ip_block_answer":
        if value not in ("json", "html"):
            raise ValueError(name)
        return value
    if name == "ip_block_status":
        if not _is_number(value) or not float(value).is_integer() or not 400 <= value <= 599:
            raise ValueError(name)
        return int(value)
    raise ValueError(name)


@dataclass(frozen=True, slots=True)
class IPBlockAnswer:
    """Zoho's answer to a request from a blocked IP address, as the app sends it."""

    status: int
    media_type: str
    content: bytes


@dataclass(slots=True)
class _Usage:
    recent: deque[float] = field(default_factory=deque)
    day: int = -1
    today: int = 0
    in_flight: int = 0


@dataclass(slots=True)
class _Address:
    """One client IP: its requests of the last minute, and the end of its block."""

    recent: deque[float] = field(default_factory=deque)
    blocked_until: float = 0.0


@dataclass(frozen=True, slots=True)
class Admission:
    """A request let in; ``headers`` go on its answer. Release it when the answer is done."""

    key: str
    headers: dict[str, str]


class RateLimiter:
    def __init__(self, limits: InvoiceLimits, clock: Callable[[], float]) -> None:
        self.limits = limits
        self._clock = clock
        self._usage: dict[str, _Usage] = {}
        self._addresses: dict[str, _Address] = {}
        self._lock = threading.Lock()

    def reset(self) -> None:
        with self._lock:
            self._usage.clear()
            self._addresses.clear()

    def _day(self, now: float) -> tuple[int, float]:
        """Today's number in the reset zone, and the seconds until the next day begins there."""
        zone = self.limits.zone()
        local = datetime.fromtimestamp(now, zone)
        midnight = datetime.combine(local.date() + timedelta(days=1), datetime.min.time(), zone)
        return local.date().toordinal(), max(0.0, midnight.timestamp() - now)

    def _headers(self, usage: _Usage, to_reset: float) -> dict[str, str]:
        """The daily quota, as Zoho reports it on every answer."""
        limits = self.limits
        if not limits.rate_limit_headers:
            return {}
        return {
            "X-Rate-Limit-Limit": str(limits.daily),
            "X-Rate-Limit-Remaining": str(max(0, limits.daily - usage.today)),
            "X-Rate-Limit-Reset": str(max(0, math.ceil(to_reset))),
        }

    def check_address(self, address: str) -> IPBlockAnswer | None:
        """Count one request from ``address`` (any organization, any endpoint); the answer to
        send instead of serving it when the address is over ``ip_per_minute`` or still blocked.
        """
        limits = self.limits
        if limits.ip_per_minute is None:
            return None
        now = self._clock()
        with self._lock:
            state = self._addresses.setdefault(address, _Address())
            if now < state.blocked_until:
                return self._ip_answer()
            while state.recent and state.recent[0] <= now - 60.0:
                state.recent.popleft()
            if len(state.recent) >= limits.ip_per_minute:
                state.blocked_until = now + limits.ip_block_seconds
                state.recent.clear()
                return self._ip_answer()
            state.recent.append(now)
            return None

    def _ip_answer(self) -> IPBlockAnswer:
        limits = self.limits
        if limits.ip_block_answer == "html":
            page = (
                "<!DOCTYPE html><html><head><title>Access Denied</title></head><body>"
                f"<p>{IP_BLOCKED_MESSAGE}</p></body></html>"
            )
            return IPBlockAnswer(limits.ip_block_status, "text/html", page.encode())
        body = json.dumps({"code": 44, "message": IP_BLOCKED_MESSAGE}).encode()
        return IPBlockAnswer(limits.ip_block_status, "application/json", body)

    def admit(self, key: str) -> Admission:
        """Let one request of ``key`` (an organization) in, or raise Zoho's 429 answer."""
        now = self._clock()
        limits = self.limits
        with self._lock:
            usage = self._usage.setdefault(key, _Usage())
            while usage.recent and usage.recent[0] <= now - limits.window_seconds:
                usage.recent.popleft()
            day, to_reset = self._day(now)
            if usage.day != day:
                usage.day, usage.today = day, 0
            failure: ZohoAPIFailure | None = None
            if usage.in_flight >= limits.concurrent:
                failure = ZohoAPIFailure(
                    429,
                    1070,
                    "You have exceeded the maximum number of concurrent requests allowed for "
                    "your organization. Please try again after some time.",
                )
            elif usage.today >= limits.daily:
                failure = ZohoAPIFailure(
                    200 if limits.daily_error_http_200 else 429,
                    45,
                    "You have made too many requests today. Your organization's daily API "
                    "limit has been exceeded.",
                )
            elif len(usage.recent) >= limits.per_minute:
                failure = ZohoAPIFailure(
                    429,
                    44,
                    "You have made too many requests continuously. Please try again after "
                    "some time.",
                )
            if failure is not None:
                failure.headers = self._headers(usage, to_reset)
                raise failure
            usage.recent.append(now)
            usage.today += 1
            usage.in_flight += 1
            return Admission(key, self._headers(usage, to_reset))

    def release(self, admission: Admission) -> None:
        with self._lock:
            usage = self._usage.get(admission.key)
            if usage is not None and usage.in_flight > 0:
                usage.in_flight -= 1
