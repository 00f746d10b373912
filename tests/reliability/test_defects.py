"""Defects the reliability runs found, each pinned by a test that failed before its fix."""

from __future__ import annotations

import asyncio
import gc
import math
from typing import Any

import pytest

from bitmart_ws import ConfigurationError, DecodeError, Market, WebsocketClient
from bitmart_ws.protocol import Malformed, decode_json, parse_frame
from bitmart_ws.protocol.requests import Operation
from bitmart_ws.simulator import Simulator
from bitmart_ws.simulator.spot import deflate

from ..client.conftest import Recorder, make_client
from ..protocol.session_harness import Harness, sub_ok

T1, T2 = "spot/ticker:BTC_USDT", "spot/depth5:BTC_USDT"


def test_an_unsubscribe_in_flight_when_the_socket_drops_is_settled() -> None:
    # Found by chaos (stalled_acks): the unsubscribe frame is sent, the socket drops before the ack, the
    # new socket never carries the topic, so no ack can ever come: the caller waited forever.
    h = Harness.make()
    h.subscribe(T1, T2)
    h.open_live()
    assert h.unsubscribe(T1) == [(T1, None)]
    assert h.topics_sent("unsubscribe") == [T1]
    h.lose()
    settled = [(op, t, r.ok) for op, t, r in h.settled if op is Operation.UNSUBSCRIBE]
    assert settled == [(Operation.UNSUBSCRIBE, T1, True)]  # the topic is on no socket: done
    h.tick(h.now + 1.0)
    h.connect()
    assert h.topics_sent("subscribe") == [T2]
    h.reply(sub_ok(h.market, T2))
    assert h.session.state.value == "live" and not h.session._awaited


def test_an_unsubscribe_overtaken_by_a_subscribe_is_settled_when_the_socket_drops() -> None:
    h = Harness.make()
    h.subscribe(T1, T2)
    h.open_live()
    h.unsubscribe(T1)
    assert h.subscribe(T1) == [(T1, None)]  # wanted again before the unsubscribe was acknowledged
    h.lose()
    assert [(t, r.ok) for op, t, r in h.settled if op is Operation.UNSUBSCRIBE] == [(T1, True)]
    h.tick(h.now + 1.0)
    h.connect()
    for topic in h.topics_sent("subscribe"):
        h.reply(sub_ok(h.market, topic))
    assert sorted(h.topics_sent("subscribe")) == sorted([T1, T2])
    assert h.session.state.value == "live" and not h.session._awaited


async def test_a_frame_over_the_transport_cap_leaves_no_unretrieved_exception(
    sim: Simulator, rec: Recorder, caplog: pytest.LogCaptureFixture
) -> None:
    # Found by chaos (oversized on futures): picows records the 1009 failure on a future that only
    # wait_disconnected() reads; after a drop nobody awaited it, and asyncio logged "Future exception
    # was never retrieved" when it was collected.
    client = make_client(sim, max_message_size=64 * 1024)
    rec.attach(client)
    async with client:
        await client.subscribe_topics("futures/ticker:BTCUSDT")
        await sim.send_oversized(300 * 1024)  # over 4 x max_message_size: refused by the transport
        await rec.wait(lambda: bool(rec.of("reconnected")))
        assert rec.of("reconnect")[0]["code"] == 1009
        for _ in range(3):
            await asyncio.sleep(0)
        gc.collect()
    assert not [r for r in caplog.records if "never retrieved" in r.getMessage()]


@pytest.mark.parametrize("market", list(Market))
def test_parse_frame_turns_deep_json_into_malformed(market: Market) -> None:
    # Found by the fuzz test: parse_frame promises never to raise, but msgspec's RecursionError on JSON
    # nested too deep escaped decode_json (the driver caught it; the pure API did not).
    deep = b"[" * 5000 + b"]" * 5000
    for frame, binary in ((deep, False), (deflate(deep), True)):
        parsed = parse_frame(market, frame, binary=binary)
        assert isinstance(parsed, Malformed) and isinstance(parsed.error, DecodeError)
    with pytest.raises(DecodeError, match="nested too deep"):
        decode_json(deep)


@pytest.mark.parametrize(
    "options",
    [
        {"ping_interval": math.inf},
        {"ack_timeout": math.inf},
        {"reconnect_delay": math.nan},
        {"reconnect_max_delay": math.nan},
        {"reconnect_max_delay": math.inf},
        {"time_offset": math.nan},
        {"time_offset": math.inf},
        {"stale_timeout": math.inf},
        {"rate_limit": (0, 1.0)},
        {"rate_limit": (5, math.nan)},
        {"rate_limit": (5, -1.0)},
        {"connect_rate": (5, math.nan)},
        {"connect_rate": (5, math.inf)},
    ],
)
def test_unusable_options_are_refused_when_the_client_is_made(options: dict[str, Any]) -> None:
    # Found by the fuzz test: these were accepted, then failed later (a NaN time_offset made every login
    # an "unexpected error", a bad rate_limit failed the first subscribe, a NaN delay broke the timers).
    with pytest.raises(ConfigurationError):
        WebsocketClient(**options)
