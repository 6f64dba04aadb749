"""The token set a Zoho token endpoint answers with, once parsed."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True)
class TokenSet:
    """Tokens from one answer of Zoho's token endpoint.

    ``refresh_token`` is ``None`` on a refresh (Zoho does not rotate it). ``expires_at`` is a
    timezone-aware UTC time.
    """

    access_token: str
    refresh_token: str | None
    expires_at: datetime
    api_domain: str | None
    token_type: str
    scope: str | None
