"""Backoff policy: bounded, growing, jittered."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bitmart_ws.exceptions import ConfigurationError
from bitmart_ws.protocol.backoff import Backoff

bases = st.floats(min_value=0.001, max_value=10)
rand = st.floats(min_value=0, max_value=1, exclude_max=True)


@given(base=bases, extra=st.floats(min_value=0, max_value=100), attempt=st.integers(0, 10_000), r=rand)
def test_delay_within_bounds(base: float, extra: float, attempt: int, r: float) -> None:
    policy = Backoff(base, base + extra)
    delay = policy.delay(attempt, r)
    cap = policy.cap(attempt)
    assert base <= cap <= base + extra
    assert cap * 0.5 <= delay <= cap
    assert (base + extra) * 0.5 <= policy.max_delay(r) <= base + extra


@given(base=bases, attempt=st.integers(0, 60))
def test_cap_is_monotonic(base: float, attempt: int) -> None:
    policy = Backoff(base, base * 1000)
    assert policy.cap(attempt) <= policy.cap(attempt + 1)


def test_doubling_and_validation() -> None:
    policy = Backoff(1.0, 60.0)
    assert [policy.cap(n) for n in range(8)] == [1, 2, 4, 8, 16, 32, 60, 60]
    assert policy.delay(3, 0.0) == 8 and policy.delay(3, 0.999999) == pytest.approx(4, rel=1e-5)
    with pytest.raises(ConfigurationError):
        Backoff(0, 1)
    with pytest.raises(ConfigurationError):
        Backoff(2, 1)
