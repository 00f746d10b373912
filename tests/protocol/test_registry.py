"""Topic registry: desired vs live state, against a simple model."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from bitmart_ws.protocol.registry import Freshness, LiveState, TopicRegistry
from bitmart_ws.protocol.requests import Operation

T = st.sampled_from(["a", "b", "c", "d", "e"])
actions = st.lists(
    st.one_of(
        st.tuples(st.just("add"), st.lists(T, max_size=3)),
        st.tuples(st.just("remove"), st.lists(T, max_size=3)),
        st.tuples(st.just("send_sub"), st.just([])),
        st.tuples(st.just("send_unsub"), st.lists(T, max_size=3)),
        st.tuples(st.just("ack_sub"), st.lists(T, max_size=2), st.booleans()),
        st.tuples(st.just("ack_unsub"), st.lists(T, max_size=2), st.booleans()),
        st.tuples(st.just("reset"), st.just([])),
    ),
    max_size=40,
)


@given(steps=actions)
def test_registry_invariants(steps: list[tuple]) -> None:  # type: ignore[type-arg]
    reg = TopicRegistry()
    for step in steps:
        kind, topics = step[0], step[1]
        if kind == "add":
            before = set(reg.desired)
            assert reg.add(topics) == list(dict.fromkeys(t for t in topics if t not in before))
        elif kind == "remove":
            reg.remove(topics)
            assert not set(topics) & set(reg.desired)
        elif kind == "send_sub":
            sent = reg.to_subscribe()
            assert all(reg.live_state(t) is LiveState.PENDING_SUBSCRIBE for t in sent)
            assert reg.to_subscribe() == []  # nothing is ever sent twice
        elif kind == "send_unsub":
            sent = reg.to_unsubscribe(topics)
            assert all(t not in reg and reg.live_state(t) is LiveState.PENDING_UNSUBSCRIBE for t in sent)
        elif kind == "ack_sub":
            for t in topics:
                reg.on_reply(Operation.SUBSCRIBE, t, step[2])
                if not step[2]:
                    assert t not in reg  # rejected topics leave the desired set
        elif kind == "ack_unsub":
            for t in topics:
                reg.on_reply(Operation.UNSUBSCRIBE, t, step[2])
        else:
            reg.reset()
            assert reg.subscribed() == ()
        # every desired topic is either live on the socket or will be sent by to_subscribe
        assert len(reg.desired) == len(set(reg.desired))


def test_resubscribe_after_reset_sends_current_set_in_order() -> None:
    reg = TopicRegistry()
    reg.add(["x", "y", "z"])
    assert reg.to_subscribe() == ["x", "y", "z"]
    for t in "xyz":
        assert reg.on_reply(Operation.SUBSCRIBE, t, True)
    reg.remove(["y"])
    assert reg.to_unsubscribe(["y", "never"]) == ["y"]
    reg.reset()
    assert reg.to_subscribe() == ["x", "z"]
    assert not reg.on_reply(Operation.SUBSCRIBE, "unknown", True)


def test_subscribe_again_while_the_unsubscribe_is_in_flight() -> None:
    reg = TopicRegistry()
    reg.add(["x"])
    reg.to_subscribe()
    reg.on_reply(Operation.SUBSCRIBE, "x", True)
    reg.remove(["x"])
    assert reg.to_unsubscribe(["x"]) == ["x"]
    reg.add(["x"])
    assert reg.to_subscribe() == ["x"]  # sent again, after the unsubscribe
    assert not reg.on_reply(Operation.UNSUBSCRIBE, "x", True)  # the old unsubscribe is ignored
    assert reg.live_state("x") is LiveState.PENDING_SUBSCRIBE
    reg.on_reply(Operation.SUBSCRIBE, "x", True)
    assert reg.subscribed() == ("x",)


def test_resubscribe_marks_only_acknowledged_topics() -> None:
    reg = TopicRegistry()
    reg.add(["x", "y"])
    reg.to_subscribe()
    reg.on_reply(Operation.SUBSCRIBE, "x", True)
    assert reg.resubscribe("x") and not reg.resubscribe("y") and not reg.resubscribe("z")
    assert reg.live_state("x") is LiveState.PENDING_SUBSCRIBE
    reg.on_reply(Operation.UNSUBSCRIBE, "x", True)
    assert reg.live_state("x") is LiveState.PENDING_SUBSCRIBE and reg.to_subscribe() == []
    reg.on_reply(Operation.SUBSCRIBE, "x", True)
    assert reg.subscribed() == ("x",)


def test_freshness_maps_pushes_to_topics() -> None:
    fresh = Freshness()
    topics = [
        "spot/ticker:BTC_USDT",
        "spot/user/balance:BALANCE_UPDATE",
        "spot/user/orders:ALL_SYMBOLS",
        "spot/user/order:ETH_USDT",
        "futures/ticker:BTCUSDT",
        "futures/depth20:BTCUSDT@200ms",
        "futures/position",
    ]
    for t in topics:
        fresh.watch(t, 0.0)
    fresh.spot_push("spot/ticker", [{"symbol": "BTC_USDT"}, {"symbol": "ETH_USDT"}, "junk"], 5.0)
    fresh.spot_push("spot/user/balance", [{"event_type": "TRANSACTION_COMPLETED"}], 5.0)
    fresh.spot_push("spot/user/order", [{"symbol": "BTC_USDT"}], 5.0)  # ALL_SYMBOLS, not ETH_USDT
    fresh.futures_push("futures/ticker:BTCUSDT@100ms", 5.0)  # suffix the subscription did not have
    fresh.futures_push("futures/depth20:BTCUSDT@200ms", 5.0)
    fresh.futures_push("futures/depth20:BTCUSDT", 5.0)  # no such subscription: ignored
    fresh.spot_push("spot/ticker", "not a list", 5.0)
    assert fresh.stale(6.0, 3.0) == ["spot/user/order:ETH_USDT", "futures/position"]
    assert fresh.stale(6.0, 3.0) == []  # clocks restarted: reported once per period
    # at 9.0, everything pushed at 5.0 is 4 s old; the two restarted at 6.0 are 3 s old
    assert sorted(fresh.stale(9.0, 3.0)) == sorted(topics)
    fresh.unwatch("spot/user/orders:ALL_SYMBOLS")
    fresh.unwatch("never")
    assert "spot/user/orders:ALL_SYMBOLS" not in fresh and "spot/ticker:BTC_USDT" in fresh
    fresh.spot_push("spot/user/order", [{"symbol": "XRP_USDT"}], 20.0)
    fresh.clear()
    assert fresh.stale(100.0, 1.0) == []
