"""Jittered exponential back-off, with the randomness isolated so tests can pin it."""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field

__all__ = ["Backoff"]


@dataclass(frozen=True)
class Backoff:
    """``delay(n)``: the wait after the n-th failed attempt (n from 1).

    Half of the exponential step is fixed, half random ("equal jitter"), so workers that failed
    together do not retry together. Pass ``jitter=lambda: 0.0`` (or ``1.0``) in tests.
    """

    initial: float = 0.5
    maximum: float = 8.0
    jitter: Callable[[], float] = field(default=random.random)

    def delay(self, attempt: int) -> float:
        step = min(self.maximum, self.initial * 2.0 ** max(attempt - 1, 0))
        return step / 2 + step / 2 * min(max(self.jitter(), 0.0), 1.0)
