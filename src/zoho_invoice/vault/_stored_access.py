"""What the token hot path reads of a connection: the access token alone, and the row's stamp.

``StoredTokens`` opens both sealed tokens; the hot path needs only the access token, so it reads
a ``StoredAccess`` (the refresh token is never opened outside a refresh, SECURITY 26), and a
cache of it re-validates with a ``RowStamp`` (one small primary-key SELECT, nothing opened).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from ._types import Status

__all__ = ["RowStamp", "StoredAccess"]


@dataclass(frozen=True)
class RowStamp:
    """What changes whenever anything a cached access token depends on changes.

    ``version`` moves with every token write (a refresh, a reconnect, a disconnect); ``status``
    with ``set_status`` (which keeps the version); ``organization_id`` with ``set_organization``;
    the access token's ciphertext and ``key_id`` with a key rotation re-sealing the row (which
    keeps the version, so no refresher is fenced out). Two equal stamps: the same token, status
    and organization. The ciphertext is sealed, yet still kept out of ``repr``.
    """

    version: int
    status: Status
    organization_id: str | None
    key_id: str | None
    access_token_sealed: str | None = field(repr=False)


@dataclass(frozen=True)
class StoredAccess:
    """A connection's access token, opened, with what handing it out needs; no refresh token."""

    access_token: str | None = field(repr=False)
    access_expires_at: datetime | None
    version: int
    status: Status
    location: str
    api_domain: str
    organization_id: str | None
    #: The row as this read saw it: a later ``access_stamp`` equal to it means nothing changed.
    stamp: RowStamp
