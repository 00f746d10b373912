"""Jittered exponential backoff between reconnect attempts (pure: the random draw is a parameter)."""

from __future__ import annotations

import math
from dataclasses import dataclass

from ..exceptions import ConfigurationError

__all__ = ["Backoff"]


@dataclass(frozen=True, slots=True)
class Backoff:
    """Delays ``base * factor**attempt`` capped at ``maximum``, with "equal jitter".

    The delay of attempt ``n`` (0-based) lies in ``[cap * (1 - jitter), cap]`` where
    ``cap = min(maximum, base * factor**n)``, so attempts never synchronise across clients and the
    delay never exceeds ``maximum``. ``rand`` is a draw from ``[0, 1)`` supplied by the caller.
    """

    base: float = 1.0
    maximum: float = 60.0
    factor: float = 2.0
    jitter: float = 0.5

    def __post_init__(self) -> None:
        if not 0 < self.base <= self.maximum < math.inf:
            raise ConfigurationError(
                f"need 0 < reconnect_delay <= reconnect_max_delay, got {self.base}, {self.maximum}"
            )
        if self.factor < 1 or not 0 <= self.jitter <= 1:
            raise ConfigurationError("backoff factor must be >= 1 and jitter within [0, 1]")

    def cap(self, attempt: int) -> float:
        if attempt <= 0:
            return self.base
        # Avoid float overflow for huge attempt numbers.
        exp = min(attempt, 64)
        return min(self.maximum, self.base * self.factor**exp)

    def delay(self, attempt: int, rand: float) -> float:
        """The delay before retry number ``attempt`` (0 = first retry)."""
        return self._jittered(self.cap(attempt), rand)

    def max_delay(self, rand: float) -> float:
        """The delay used after errors that must not be retried quickly (HTTP 4xx, refused logins)."""
        return self._jittered(self.maximum, rand)

    def _jittered(self, cap: float, rand: float) -> float:
        rand = min(max(rand, 0.0), 1.0)
        return cap * (1.0 - self.jitter * rand)
