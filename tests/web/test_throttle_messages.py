"""Unit tests: what the demo tells a person when Zoho throttles, by kind of throttle."""

from __future__ import annotations

from datetime import UTC, datetime

from zoho_invoice import DailyQuotaExceeded, RateLimitError
from zoho_invoice.web._demo_invoices import describe_error


def test_a_spent_daily_quota_says_when_it_is_renewed_not_reload_in_a_minute() -> None:
    spent = DailyQuotaExceeded("daily", resets_at=datetime(2026, 12, 2, tzinfo=UTC))
    text = describe_error(spent)
    assert "2026-12-02 00:00 UTC" in text and "minute" not in text
    assert "minute" in describe_error(RateLimitError("too many", code=44))
