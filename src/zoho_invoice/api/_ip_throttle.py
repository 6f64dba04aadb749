"""Zoho's per-IP block: one pause for every organization this process serves.

Besides each organization's limits, Zoho blocks an IP address that sends too many requests a
minute, whatever the organization ("For security reasons your IP has been blocked as you have
exceeded the maximum number of requests per minute that can originate from one IP address."). A
service serving many organizations from one address meets it first, and going on with another
organization from the same address only prolongs it: the whole process must slow down.

Zoho publishes neither the number, the block's length, nor the answer's status, code or format
(docs/zoho/limits.md), so the block is recognised by its wording, on any error answer, and the
pause is a guess that grows while blocks repeat: 60 s, doubling, at most 15 minutes; a block more
than 10 minutes after the last one ended starts again at 60 s.

``IPThrottle`` is that pause; ``default_ip_throttle()`` the one every client of the process
shares unless given its own. Before each request a client asks ``wait()`` how long to sleep.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable

__all__ = ["IPThrottle", "default_ip_throttle", "is_ip_block"]

#: "your IP has been blocked", "IP address ... blocked" (Invoice), or "you have been blocked ...
#: requests per minute" (Billing's wording of the same throttle).
_IP_BLOCKED = re.compile(r"\bIP\b(?:\s+address)?\W+(?:\w+\W+){0,8}?blocked\b", re.IGNORECASE)
_BLOCKED_PER_MINUTE = re.compile(r"\bblocked\b.{0,120}\brequests per minute\b", re.I | re.S)

FIRST_PAUSE = 60.0
MAX_PAUSE = 900.0
#: A block this long after the previous one ended is a new episode: the pause starts over.
FORGET_AFTER = 600.0


def is_ip_block(text: str) -> bool:
    """Whether an error answer's message (or its body, when not JSON) is Zoho's IP block."""
    sample = text[:8192]
    return bool(_IP_BLOCKED.search(sample) or _BLOCKED_PER_MINUTE.search(sample))


class IPThrottle:
    """A process-wide pause after Zoho blocked this IP address (see the module docstring)."""

    def __init__(self, *, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._until = 0.0
        self._pause = 0.0

    def blocked(self, at_least: float = 0.0) -> float:
        """Zoho said this IP is blocked: hold every request back. Returns the pause (seconds)."""
        with self._lock:
            now = self._clock()
            if now < self._until:
                return self._until - now  # another caller already started this pause
            repeat = self._pause > 0 and now - self._until < FORGET_AFTER
            self._pause = min(MAX_PAUSE, self._pause * 2) if repeat else FIRST_PAUSE
            self._pause = max(self._pause, min(MAX_PAUSE, at_least))
            self._until = now + self._pause
            return self._pause

    def wait(self) -> float:
        """Seconds to sleep before sending anything from this process (0 when not blocked)."""
        with self._lock:
            return max(0.0, self._until - self._clock())

    def clear(self) -> None:
        """Forget the pause and its back-off (a process starting over, or a test of its own)."""
        with self._lock:
            self._until = 0.0
            self._pause = 0.0


_default_lock = threading.Lock()
_default: IPThrottle | None = None


def default_ip_throttle() -> IPThrottle:
    """The pause every client of this process shares unless given its own."""
    global _default
    with _default_lock:
        if _default is None:
            _default = IPThrottle()
        return _default
