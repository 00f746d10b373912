"""Rate limiter: never more than ``limit`` slots in any window, order kept, no needless waiting."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bitmart_ws.exceptions import ConfigurationError
from bitmart_ws.protocol.ratelimit import RateLimiter


@given(
    limit=st.integers(1, 20),
    window=st.floats(min_value=0.1, max_value=10),
    gaps=st.lists(st.floats(min_value=0, max_value=3), min_size=1, max_size=200),
)
def test_window_never_exceeded_and_order_kept(limit: int, window: float, gaps: list[float]) -> None:
    limiter = RateLimiter(limit, window)
    span = window * 1.05
    now = 0.0
    slots: list[float] = []
    for gap in gaps:
        now += gap
        slot = limiter.reserve(now)
        assert slot >= now
        slots.append(slot)
    assert slots == sorted(slots)
    for i, start in enumerate(slots):
        in_window = [s for s in slots[i:] if s < start + span - 1e-9]
        assert len(in_window) <= limit


@given(limit=st.integers(1, 50), n=st.integers(1, 50))
def test_no_wait_under_the_limit(limit: int, n: int) -> None:
    limiter = RateLimiter(limit, 10.0, guard=0.5)
    slots = [limiter.reserve(5.0) for _ in range(n)]
    assert slots[: min(n, limit)] == [5.0] * min(n, limit)
    if n > limit:
        assert slots[limit] == 15.5


def test_reset_and_validation() -> None:
    limiter = RateLimiter(1, 1.0, guard=0)
    assert limiter.reserve(0) == 0 and limiter.reserve(0) == 1.0
    limiter.reset()
    assert limiter.reserve(0) == 0 and len(limiter) == 1
    with pytest.raises(ConfigurationError):
        RateLimiter(0, 1)
