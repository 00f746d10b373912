"""Topic registry: desired vs live state, against a simple model."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from bitmart_ws.protocol.registry import LiveState, TopicRegistry
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
