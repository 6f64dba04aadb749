"""``AsyncMirror``: the mirror for asyncio code.

The engine is the sync ``Mirror`` (its store is SQLAlchemy's sync engine, like the rest of the
vault); ``AsyncMirror`` runs each call in a worker thread, as ``AsyncTokenManager`` does for the
token manager, so an event loop never blocks on Zoho or the database.
"""

from __future__ import annotations

import asyncio
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
        self._mirror = mirror

    @property
    def mirror(self) -> Mirror:
        return self._mirror

    @property
    def settings(self) -> MirrorSettings:
        return self._mirror.settings

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
        return await asyncio.to_thread(
            self._mirror.sync,
            connection_id,
            resources=resources,
            full=full,
            reconcile=reconcile,
            progress=progress,
        )

    async def status(self, connection_id: str) -> SyncStatus:
        return await asyncio.to_thread(self._mirror.status, connection_id)

    async def changes(
        self, connection_id: str, *, since: int = 0, limit: int = 1000
    ) -> list[Change]:
        return await asyncio.to_thread(
            self._mirror.changes, connection_id, since=since, limit=limit
        )

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
        return await asyncio.to_thread(
            self._mirror.records,
            connection_id,
            resource,
            organization_id=organization_id,
            include_deleted=include_deleted,
            limit=limit,
            offset=offset,
        )

    async def count(
        self,
        connection_id: str,
        resource: ResourceName,
        *,
        organization_id: str | None = None,
        include_deleted: bool = False,
    ) -> int:
        return await asyncio.to_thread(
            self._mirror.count,
            connection_id,
            resource,
            organization_id=organization_id,
            include_deleted=include_deleted,
        )

    async def purge(self, connection_id: str) -> int:
        return await asyncio.to_thread(self._mirror.purge, connection_id)

    async def organizations(self, connection_id: str) -> Sequence[str]:
        return await asyncio.to_thread(self._mirror.organizations, connection_id)
