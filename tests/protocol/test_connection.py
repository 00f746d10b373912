"""Connection lifecycle state machine."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bitmart_ws.exceptions import InvalidState
from bitmart_ws.protocol.connection import TRANSITIONS, ConnState, Lifecycle


@given(st.lists(st.sampled_from(list(ConnState)), max_size=60))
def test_random_walks_follow_the_table(targets: list[ConnState]) -> None:
    lc = Lifecycle()
    failures_since_live = 0
    for target in targets:
        allowed = target in TRANSITIONS[lc.state]
        before = lc.state
        if allowed:
            lc.to(target)
            if target is ConnState.LIVE:
                failures_since_live = 0
            elif target is ConnState.BACKOFF:
                failures_since_live += 1
        else:
            with pytest.raises(InvalidState):
                lc.to(target)
            assert lc.state is before
        assert lc.attempt == failures_since_live
        assert lc.sendable == (lc.state in (ConnState.SUBSCRIBING, ConnState.LIVE))


def test_every_state_can_close_and_closed_is_terminal() -> None:
    for state in ConnState:
        if state not in (ConnState.CLOSING, ConnState.CLOSED):
            assert ConnState.CLOSING in TRANSITIONS[state]
    assert TRANSITIONS[ConnState.CLOSED] == frozenset()
    lc = Lifecycle()
    for s in (ConnState.CONNECTING, ConnState.AUTHENTICATING, ConnState.SUBSCRIBING, ConnState.LIVE):
        lc.to(s)
    assert lc.attempt == 0 and not lc.opened
