"""What the token manager hands out and announces.

A token goes through four types, one per meaning (one name each):

=======================  ==========================================================================
``oauth.TokenSet``       What Zoho's token endpoint answered once (an exchange or a refresh): the
                         access token, the refresh token (``None`` on a refresh), expiry, scope.
``vault.StoredTokens``   A connection's tokens as the vault keeps them, opened: both tokens, the
                         connection's status and data centre, and ``version``, the write fence.
``tokens.AccessToken``   What ``TokenManager.get_access_token`` hands out: a valid access token
                         of one connection, where to send it, until when.
``api.TokenInfo``        What a ``TokenProvider`` gives the client for one request: token,
                         ``api_domain``, organization; no expiry (a fixed token has none).
                         ``api._auth.AccessTokenLike`` is ``AccessToken`` seen from ``api``,
                         which does not import ``tokens``; not a type of its own.
=======================  ==========================================================================
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

__all__ = ["AccessToken", "ConnectionEvent", "EventType"]

EventType = Literal[
    "connection.created",
    "connection.reconnected",
    "connection.needs_reauth",
    "connection.revoked",
    # The mirror (issue 10): a sync of the connection finished; ``counts`` says what changed.
    "sync.completed",
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
    #: ``sync.completed`` only: records ``added``, ``updated``, ``deleted`` (numbers, no data).
    counts: Mapping[str, int] | None = None
    #: ``sync.completed`` only: resources the sync could not read, and why (a missing scope
    #: names the scope); ``None`` or empty when every resource synced.
    errors: Mapping[str, str] | None = None

    def to_json(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "type": self.type,
            "connection_id": self.connection_id,
            "owner": self.owner,
            "at": self.at.isoformat(),
            "reason": self.reason,
        }
        if self.counts is not None:
            body["counts"] = dict(self.counts)
        if self.errors:
            body["errors"] = dict(self.errors)
        return body
