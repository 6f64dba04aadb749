"""Zoho's request limits per organization: per minute, per day, and in flight at once.

- Per minute: a **sliding window** of ``window_seconds`` (a log of accepted requests); over
  ``per_minute`` → 429 code 44. Refused requests do not count.
- Per day: a fixed window per UTC day of the world's clock; over ``daily`` → code 45, with HTTP
  429, or HTTP 200 when ``daily_error_http_200`` (ZOHO.md marks the real status uncertain).
- In flight: more than ``concurrent`` requests of one organization at once → 429 code 1070.

Every answer that went through the limiter carries ``X-Rate-Limit-Limit`` (the per-window
budget), ``X-Rate-Limit-Remaining`` and ``X-Rate-Limit-Reset`` (seconds until a slot frees) —
unless ``rate_limit_headers`` is off: ZOHO.md says no source shows them on Invoice, so the
sandbox can play that reading too.
"""

from __future__ import annotations

import math
import threading
from collections import deque
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, fields, replace
from typing import Any

from ._errors import ZohoAPIFailure

__all__ = ["InvoiceLimits", "RateLimiter"]


@dataclass(frozen=True, slots=True)
class InvoiceLimits:
    """The budget of each organization; the defaults are Zoho's (paid plans for ``concurrent``)."""

    per_minute: int = 100
    window_seconds: float = 60
    daily: int = 1000
    concurrent: int = 10
    daily_error_http_200: bool = False
    rate_limit_headers: bool = True

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    def updated(self, changes: dict[str, Any]) -> InvoiceLimits:
        """A copy with ``changes`` applied; ValueError for an unknown or ill-typed field."""
        known = {f.name: f.type for f in fields(self)}
        clean: dict[str, Any] = {}
        for name, value in changes.items():
            if name not in known:
                raise ValueError(name)
            if name in ("daily_error_http_200", "rate_limit_headers"):
                if not isinstance(value, bool):
                    raise ValueError(name)
            elif (
                isinstance(value, bool)
                or not isinstance(value, int | float)
                or value <= 0
                or (name != "window_seconds" and not float(value).is_integer())
            ):
                raise ValueError(name)
            clean[name] = (
                value
                if name in ("window_seconds", "daily_error_http_200", "rate_limit_headers")
                else int(value)
            )
        return replace(self, **clean)


@dataclass(slots=True)
class _Usage:
    recent: deque[float] = field(default_factory=deque)
    day: int = -1
    today: int = 0
    in_flight: int = 0


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
        self._lock = threading.Lock()

    def reset(self) -> None:
        with self._lock:
            self._usage.clear()

    def _headers(self, usage: _Usage, now: float) -> dict[str, str]:
        limits = self.limits
        if not limits.rate_limit_headers:
            return {}
        remaining = max(0, limits.per_minute - len(usage.recent))
        reset = usage.recent[0] + limits.window_seconds - now if usage.recent else 0.0
        return {
            "X-Rate-Limit-Limit": str(limits.per_minute),
            "X-Rate-Limit-Remaining": str(remaining),
            "X-Rate-Limit-Reset": str(max(0, math.ceil(reset))),
        }

    def admit(self, key: str) -> Admission:
        """Let one request of ``key`` (an organization) in, or raise Zoho's 429 answer."""
        now = self._clock()
        limits = self.limits
        with self._lock:
            usage = self._usage.setdefault(key, _Usage())
            while usage.recent and usage.recent[0] <= now - limits.window_seconds:
                usage.recent.popleft()
            day = int(now // 86400)
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
                failure.headers = self._headers(usage, now)
                raise failure
            usage.recent.append(now)
            usage.today += 1
            usage.in_flight += 1
            return Admission(key, self._headers(usage, now))

    def release(self, admission: Admission) -> None:
        with self._lock:
            usage = self._usage.get(admission.key)
            if usage is not None and usage.in_flight > 0:
                usage.in_flight -= 1
