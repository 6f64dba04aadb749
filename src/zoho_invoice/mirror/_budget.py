"""``SyncShareBudget``: the sync's part of an organization's per-minute budget (rule 4).

The organization has one budget (``RequestBudget``: 90 a minute by default, shared by every
caller of the organization, in process or in Redis). A sync wraps it: every request first takes a
permit of the sync's own share, then one from the shared budget. So a sync never takes more than
its share of a minute, and an interactive call (which draws from the shared budget alone) always
finds the rest there: the sync yields by construction, without knowing who else is calling.

The share is a sliding window, not a slowly refilling bucket: at most ``share * rate`` permits in
any ``window`` seconds, and those may go at once. A small organization's sync (a few dozen
calls) is then paced only by the shared budget, never by its share, while a long sync still
averages its share and never exceeds it in any minute. (A token bucket of that rate with a
burst of the same size would let ``2 * share * rate`` through in the first minute.)
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable

from ..api import RequestBudget

__all__ = ["SyncShareBudget"]


class SyncShareBudget:
    """A ``RequestBudget`` that lets a sync take at most ``share`` of ``rate`` requests in any
    ``window`` seconds for each organization key, on top of the organization's shared ``inner``
    budget. Keep one per process (the mirror's client factory shares it across syncs): a new
    one knows nothing of the minute before.

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
        if rate < 1 or window <= 0:
            raise ValueError("rate and window must be positive")
        self._inner = inner
        self.share = share
        #: permits of the sync in any ``window`` seconds, per key
        self.limit = max(1, int(share * rate))
        self._window = window
        self._clock = clock
        self._lock = threading.Lock()
        # Per key, the send times of the newest ``limit`` permits (some may lie in the future:
        # callers already told to wait for them).
        self._sent: dict[str, deque[float]] = {}

    @property
    def window(self) -> float:
        return self._inner.window

    def _share_wait(self, key: str) -> float:
        """Reserve a permit of the share: the seconds until it may be used."""
        with self._lock:
            now = self._clock()
            sent = self._sent.setdefault(key, deque(maxlen=self.limit))
            at = now
            if len(sent) == self.limit:
                # The permit ``limit`` places back must have left the window first.
                at = max(now, sent[0] + self._window)
            sent.append(at)
            return at - now

    def reserve(self, key: str) -> float:
        """A permit of the sync's share, then one of the shared budget: the longer wait of the
        two (both are reserved now, so neither is over-drawn)."""
        own = self._share_wait(key)
        return max(own, self._inner.reserve(key))

    def pause(self, key: str, seconds: float) -> bool:
        """Zoho's code 44 pauses the shared budget (every caller of the organization)."""
        return self._inner.pause(key, seconds)
