"""Outbound message pacing: at most ``limit`` messages in any ``window`` seconds per connection.

BitMart allows 100 messages per 10 s after connecting, pings included (spot error 90007, then the
connection is dropped). The limiter hands out send slots; time is a parameter.
"""

from __future__ import annotations

import math
from collections import deque

from ..exceptions import ConfigurationError

__all__ = ["DEFAULT_RATE_LIMIT", "RateLimiter"]

DEFAULT_RATE_LIMIT = (90, 10.0)
"""Our budget: 90 messages per 10 s, a 10% margin under BitMart's 100 for clock and latency jitter."""


class RateLimiter:
    """A sliding-window scheduler: :meth:`reserve` returns the time of the next free send slot.

    Slots are handed out in call order and never move backwards, so frames keep their order.
    In every half-open interval of length ``window + guard`` there are at most ``limit`` slots.
    The guard (default 5% of the window) absorbs scheduling and network jitter: without it a
    full burst at a window's end and the next one exactly a window later can meet in one window of
    the server's clock.
    """

    __slots__ = ("_slots", "guard", "limit", "window")

    def __init__(
        self,
        limit: int = DEFAULT_RATE_LIMIT[0],
        window: float = DEFAULT_RATE_LIMIT[1],
        guard: float | None = None,
    ) -> None:
        if limit < 1 or not 0 < window < math.inf:
            raise ConfigurationError(f"rate limit must be >= 1 message per > 0 s, got {limit}/{window}")
        self.limit = limit
        self.window = window
        self.guard = window * 0.05 if guard is None else guard
        if self.guard < 0:
            raise ConfigurationError("rate limit guard must be >= 0")
        self._slots: deque[float] = deque()

    def reserve(self, now: float) -> float:
        """Reserve the earliest slot at or after ``now`` and return it (``>= now``)."""
        slots = self._slots
        span = self.window + self.guard
        while slots and slots[0] <= now - span:
            slots.popleft()
        slot = now
        if slots:
            slot = max(slot, slots[-1])
        if len(slots) >= self.limit:
            slot = max(slot, slots[-self.limit] + span)
        slots.append(slot)
        return slot

    def reset(self) -> None:
        """Forget every slot (a new connection starts a new budget)."""
        self._slots.clear()

    def __len__(self) -> int:
        return len(self._slots)
