"""The connection state table."""

from __future__ import annotations

from bitmart_ws.protocol.connection import SENDABLE, TRANSITIONS, ConnState


def test_every_state_can_close_and_closed_is_terminal() -> None:
    for state in ConnState:
        if state not in (ConnState.CLOSING, ConnState.CLOSED):
            assert ConnState.CLOSING in TRANSITIONS[state]
    assert TRANSITIONS[ConnState.CLOSED] == frozenset()
    assert TRANSITIONS[ConnState.CLOSING] == frozenset({ConnState.CLOSED})


def test_live_is_reached_only_through_subscribing_and_only_live_states_send() -> None:
    into_live = {s for s, targets in TRANSITIONS.items() if ConnState.LIVE in targets}
    assert into_live == {ConnState.SUBSCRIBING}
    assert SENDABLE == {ConnState.SUBSCRIBING, ConnState.LIVE}
    # every failure path goes through BACKOFF before connecting again
    into_connecting = {s for s, targets in TRANSITIONS.items() if ConnState.CONNECTING in targets}
    assert into_connecting == {ConnState.IDLE, ConnState.BACKOFF}
