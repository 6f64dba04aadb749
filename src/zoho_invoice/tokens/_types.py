"""What the token manager hands out and announces."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

__all__ = ["AccessToken", "ConnectionEvent", "EventType"]

EventType = Literal[
    "connection.created",
    "connection.reconnected",
    "connection.needs_reauth",
    "connection.revoked",
]


@dataclass(frozen=True)
class AccessToken:
    """A valid access token for one connection. The token never shows in its ``repr``.

    Send it as ``Authorization: Zoho-oauthtoken <token>`` to ``api_domain + "/invoice/v3"``.
    """

    token: str = field(repr=False)
    expires_at: datetime
    api_domain: str
    organization_id: str | None
    connection_id: str


@dataclass(frozen=True)
class ConnectionEvent:
    """Something happened to a connection that the app may want to act on."""

    type: EventType
    connection_id: str
    owner: str
    at: datetime
    reason: str | None = None

    def to_json(self) -> dict[str, str | None]:
        return {
            "type": self.type,
            "connection_id": self.connection_id,
            "owner": self.owner,
            "at": self.at.isoformat(),
            "reason": self.reason,
        }
