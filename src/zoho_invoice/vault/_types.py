"""What the vault hands out. None of these carry a secret in their ``repr``."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

Status = Literal["active", "needs_reauth", "revoked"]

__all__ = ["ConnectSession", "Connection", "PendingRevocation", "Status", "StoredTokens"]


@dataclass(frozen=True)
class Connection:
    """A connected Zoho account. It never carries tokens."""

    id: str
    owner: str
    location: str
    api_domain: str
    organization_id: str | None
    scopes: list[str]
    status: Status
    created_at: datetime
    updated_at: datetime
    status_reason: str | None = None
    #: The Zoho user the tokens belong to (their Zoho user id; SECURITY 44). ``None`` only for
    #: a connection made before the vault recorded users, until its owner reconnects.
    zoho_user_id: str | None = None

    def to_json(self) -> dict[str, str | list[str] | None]:
        """The connection as the JSON API and ``zoho-invoice connections list --json`` show it:
        the one place that picks its public fields (times in ISO 8601)."""
        return {
            "id": self.id,
            "owner": self.owner,
            "location": self.location,
            "api_domain": self.api_domain,
            "organization_id": self.organization_id,
            "scopes": list(self.scopes),
            "status": self.status,
            "created_at": self.created_at.isoformat(),
            "updated_at": self.updated_at.isoformat(),
        }


@dataclass(frozen=True)
class StoredTokens:
    """A connection's tokens as stored, opened; ``version`` is the fence for the next write."""

    access_token: str | None = field(repr=False)
    access_expires_at: datetime | None
    refresh_token: str | None = field(repr=False)
    version: int
    status: Status
    location: str
    api_domain: str
    organization_id: str | None = None


@dataclass(frozen=True)
class ConnectSession:
    """A connect session as the flow uses it (started, or consumed by the callback): the owner,
    where to return, the location it started at, and the PKCE verifier to finish with."""

    owner: str
    return_url: str | None
    start_location: str | None
    code_verifier: str = field(repr=False)


@dataclass(frozen=True)
class PendingRevocation:
    """A token Zoho has yet to confirm revoked."""

    id: str
    connection_id: str | None
    location: str
    token: str = field(repr=False)
    attempts: int
    next_attempt_at: datetime
    last_error: str | None
