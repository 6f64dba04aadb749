"""The token set a Zoho token endpoint answers with, once parsed."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

__all__ = ["Grant", "TokenSet"]

#: The grant a token request used.
Grant = Literal["authorization_code", "refresh_token"]


@dataclass(frozen=True)
class TokenSet:
    """Tokens from one answer of Zoho's token endpoint.

    ``refresh_token`` is ``None`` on a refresh (Zoho does not rotate it). ``expires_at`` is a
    timezone-aware UTC time. The tokens never show in its ``repr``.
    """

    access_token: str = field(repr=False)
    refresh_token: str | None = field(repr=False)
    expires_at: datetime
    api_domain: str | None
    token_type: str
    scope: str | None
