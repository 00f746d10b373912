"""Sharding plan: every topic on exactly one shard, no shard over the limit, compact."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bitmart_ws.exceptions import ConfigurationError
from bitmart_ws.protocol.keys import WsKey
from bitmart_ws.protocol.sharding import ShardPlan, default_max_topics

topics = st.sampled_from([f"spot/ticker:S{i}_USDT" for i in range(60)])
ops = st.lists(st.tuples(st.booleans(), st.lists(topics, max_size=30)), max_size=30)


@given(limit=st.integers(1, 12), steps=ops)
def test_invariants(limit: int, steps: list[tuple[bool, list[str]]]) -> None:
    plan = ShardPlan(limit)
    model: set[str] = set()
    for add, batch in steps:
        if add:
            placed = plan.place(batch)
            assert sorted(t for ts in placed.values() for t in ts) == sorted(set(batch))
            model |= set(batch)
        else:
            plan.release(batch)
            model -= set(batch)
        assert all(0 <= n <= limit for n in plan.counts())
        assert sum(plan.counts()) == len(model)
        assert sorted(t for i in range(plan.shard_count) for t in plan.topics(i)) == sorted(model)
        for t in model:
            assert plan.shard_of(t) is not None


@given(limit=st.integers(1, 30), n=st.integers(0, 200))
def test_fresh_fill_is_compact(limit: int, n: int) -> None:
    plan = ShardPlan(limit)
    plan.place(f"futures/ticker:S{i}USDT" for i in range(n))
    assert plan.shard_count == math.ceil(n / limit)


def test_defaults_and_validation() -> None:
    assert default_max_topics(WsKey.SPOT_PUBLIC_V1) == 115
    assert default_max_topics(WsKey.FUTURES_PRIVATE_V2) == 100
    with pytest.raises(ConfigurationError):
        ShardPlan(0)
    plan = ShardPlan(2)
    assert plan.place(["a", "b", "c", "a"]) == {
        0: ["a", "b"],
        1: ["c"],
    }  # "a" repeated keeps shard 0
    assert plan.release(["b", "zz"]) == {0: ["b"]}
    assert plan.place(["d"]) == {0: ["d"]}
