"""Unit tests: what ``from_settings`` wires in, as a user would see it."""

from __future__ import annotations

from pathlib import Path

from zoho_invoice import Settings
from zoho_invoice.api import RedisRequestBudget, budget_from_settings
from zoho_invoice.api._budget import default_budget


def test_budget_is_shared_in_redis_when_configured(tmp_path: Path) -> None:
    assert budget_from_settings(Settings(data_dir=tmp_path)) is default_budget()
    shared = budget_from_settings(Settings(data_dir=tmp_path, redis_url="redis://127.0.0.1:6379/0"))
    assert isinstance(shared, RedisRequestBudget)
