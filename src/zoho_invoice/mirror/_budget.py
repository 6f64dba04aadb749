"""``SyncShareBudget``: the sync's part of an organization's per-minute budget (rule 4).

The organization has one budget (``RequestBudget``: 90 a minute by default, shared by every
caller of the organization, in process or in Redis). A sync wraps it: every request first takes a
permit from the sync's own token bucket, which refills only ``share`` of the organization's rate,
then one from the shared budget. So a sync never takes more than its share of a minute, and an
interactive call (which draws from the shared budget alone) always finds the rest there: the sync
yields by construction, without knowing who else is calling.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from ..api import RequestBudget, TokenBucketBudget

__all__ = ["SyncShareBudget"]


class SyncShareBudget:
    """A ``RequestBudget`` that lets a sync take at most ``share`` of ``rate`` requests per
    ``window`` for each organization key, on top of the organization's shared ``inner`` budget.

    >>> budget = SyncShareBudget(default_budget(), share=0.5, rate=90, window=60)
    >>> ZohoInvoice.for_connection(manager, connection_id, budget=budget)
    """

    def __init__(
        self,
        inner: RequestBudget,
        *,
        share: float = 0.5,
        rate: int = 90,
        window: float = 60.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if not 0 < share <= 1:
            raise ValueError("share must be in (0, 1]")
        self._inner = inner
        self.share = share
        # The sync's own bucket: share * rate a window, one at a time (no burst beyond it).
        self._own = TokenBucketBudget(
            rate=max(1, int(share * rate)), window=window, burst=1, clock=clock
        )

    @property
    def window(self) -> float:
        return self._inner.window

    def reserve(self, key: str) -> float:
        """A permit of the sync's share, then one of the shared budget: the longer wait of the
        two (both are reserved now, so neither bucket is over-drawn)."""
        own = self._own.reserve(key)
        return max(own, self._inner.reserve(key))

    def pause(self, key: str, seconds: float) -> bool:
        """Zoho's code 44 pauses the shared budget (every caller of the organization)."""
        return self._inner.pause(key, seconds)
