"""Helpers of the vault tests (``from vault._support import TokenFactory``); the fixtures that
use them are in ``conftest.py``."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from support import Clock
from zoho_invoice.oauth._types import TokenSet


class TokenFactory:
    """``tokens(access=..., refresh=...)``: a TokenSet that expires an hour after the clock."""

    def __init__(self, clock: Clock) -> None:
        self.clock = clock

    def __call__(
        self, *, access: str = "1000.access.aaa", refresh: str | None = "1000.refresh.rrr"
    ) -> TokenSet:
        return TokenSet(
            access_token=access,
            refresh_token=refresh,
            expires_at=datetime.fromtimestamp(self.clock.now, UTC) + timedelta(hours=1),
            api_domain="https://www.zohoapis.eu",
            token_type="Bearer",
            scope="ZohoInvoice.invoices.READ",
        )
