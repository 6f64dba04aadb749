"""``AsyncMirror``: the mirror for asyncio code.

The engine is the sync ``Mirror`` (its store is SQLAlchemy's sync engine, like the rest of the
vault); ``AsyncMirror`` runs each call in a worker thread, as ``AsyncTokenManager`` does for the
token manager, so an event loop never blocks on Zoho or the database.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from ._engine import Mirror
from ._types import (
    Change,
    MirroredRecord,
    MirrorSettings,
    ProgressCallback,
    ResourceName,
    SyncReport,
    SyncStatus,
)

__all__ = ["AsyncMirror"]


class AsyncMirror:
    """The same methods as ``Mirror``, awaited.

    >>> mirror = AsyncMirror(Mirror(vault, manager))
    >>> report = await mirror.sync(connection_id, resources=["invoices"])
    """

    def __init__(self, mirror: Mirror) -> None:
        raise NotImplementedError

    @property
    def mirror(self) -> Mirror:
        raise NotImplementedError

    @property
    def settings(self) -> MirrorSettings:
        raise NotImplementedError

    async def sync(
        self,
        connection_id: str,
        *,
        resources: Iterable[ResourceName] | None = None,
        full: bool = False,
        reconcile: bool = False,
        progress: ProgressCallback | None = None,
    ) -> SyncReport:
        """``Mirror.sync`` in a worker thread (``progress`` is called from that thread)."""
        raise NotImplementedError

    async def status(self, connection_id: str) -> SyncStatus:
        raise NotImplementedError

    async def changes(
        self, connection_id: str, *, since: int = 0, limit: int = 1000
    ) -> list[Change]:
        raise NotImplementedError

    async def records(
        self,
        connection_id: str,
        resource: ResourceName,
        *,
        organization_id: str | None = None,
        include_deleted: bool = False,
        limit: int = 100,
        offset: int = 0,
    ) -> list[MirroredRecord]:
        raise NotImplementedError

    async def count(
        self,
        connection_id: str,
        resource: ResourceName,
        *,
        organization_id: str | None = None,
        include_deleted: bool = False,
    ) -> int:
        raise NotImplementedError

    async def purge(self, connection_id: str) -> int:
        raise NotImplementedError

    async def organizations(self, connection_id: str) -> Sequence[str]:
        raise NotImplementedError
