from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bitmart_ws.exceptions import ConfigurationError
from bitmart_ws.protocol import (
    MAX_FRAME_BYTES,
    Market,
    Operation,
    login_frame,
    ping_frame,
    request_frame,
    subscription_frames,
)


@pytest.mark.parametrize(
    ("market", "op", "expected"),
    [
        (Market.SPOT, Operation.SUBSCRIBE, b'{"op":"subscribe","args":["spot/ticker:BTC_USDT","spot/trade:BTC_USDT"]}'),
        (Market.SPOT, Operation.UNSUBSCRIBE, b'{"op":"unsubscribe","args":["spot/ticker:BTC_USDT","spot/trade:BTC_USDT"]}'),
        (Market.FUTURES, Operation.SUBSCRIBE, b'{"action":"subscribe","args":["spot/ticker:BTC_USDT","spot/trade:BTC_USDT"]}'),
    ],
)  # fmt: skip
def test_subscription_frame_wire_format(market: Market, op: Operation, expected: bytes) -> None:
    frames = subscription_frames(market, op, ["spot/ticker:BTC_USDT", "spot/trade:BTC_USDT"])
    assert frames == [(("spot/ticker:BTC_USDT", "spot/trade:BTC_USDT"), expected)]


def test_batches_of_twenty() -> None:
    topics = [f"spot/ticker:C{i}_USDT" for i in range(45)]
    frames = subscription_frames(Market.SPOT, Operation.SUBSCRIBE, topics)
    assert [len(batch) for batch, _ in frames] == [20, 20, 5]
    assert [t for batch, _ in frames for t in batch] == topics
    for batch, frame in frames:
        assert json.loads(frame) == {"op": "subscribe", "args": list(batch)}


def test_futures_frames_stay_under_the_byte_cap() -> None:
    topics = [f"futures/depthIncrease50:VERYLONGSYMBOL{i:03d}USDT@200ms" for i in range(60)]
    frames = subscription_frames(Market.FUTURES, Operation.SUBSCRIBE, topics)
    assert all(len(frame) <= MAX_FRAME_BYTES[Market.FUTURES] for _, frame in frames)
    assert all(len(batch) <= 20 for batch, _ in frames)
    assert [t for batch, _ in frames for t in batch] == topics


def test_bad_batch_settings() -> None:
    with pytest.raises(ConfigurationError):
        subscription_frames(Market.SPOT, Operation.SUBSCRIBE, ["spot/ticker:A_B"], per_frame=21)
    with pytest.raises(ConfigurationError, match="alone makes a frame larger"):
        subscription_frames(Market.SPOT, Operation.SUBSCRIBE, ["spot/ticker:A_B"], max_bytes=10)
    assert subscription_frames(Market.SPOT, Operation.SUBSCRIBE, []) == []


@given(
    st.lists(
        st.text(alphabet="abcdefghijklmnopqrstuvwxyz/:_@0123456789", min_size=1, max_size=60), max_size=80
    ),
    st.integers(min_value=1, max_value=20),
    st.sampled_from(list(Market)),
)
def test_batching_properties(topics: list[str], per_frame: int, market: Market) -> None:
    frames = subscription_frames(market, Operation.SUBSCRIBE, topics, per_frame=per_frame)
    assert [t for batch, _ in frames for t in batch] == topics
    for batch, frame in frames:
        assert 1 <= len(batch) <= per_frame
        assert len(frame) <= MAX_FRAME_BYTES[market]
        verb = "op" if market is Market.SPOT else "action"
        assert json.loads(frame) == {verb: "subscribe", "args": list(batch)}


def test_login_frames() -> None:
    assert login_frame(Market.SPOT, "key", 1589267764859, "abc") == (
        b'{"op":"login","args":["key","1589267764859","abc"]}'
    )
    assert login_frame(Market.FUTURES, "key", 1589267764859, "abc") == (
        b'{"action":"access","args":["key","1589267764859","abc","web"]}'
    )


def test_ping_and_request_frames() -> None:
    assert ping_frame(Market.SPOT) == b"ping"
    assert ping_frame(Market.FUTURES) == b'{"action":"ping"}'
    assert request_frame(Market.SPOT, "spot/depth/increase100:BTC_USDT") == (
        b'{"op":"request","args":["spot/depth/increase100:BTC_USDT"]}'
    )
    assert request_frame(Market.FUTURES, "futures/fundingRate:BTCUSDT") == (
        b'{"action":"request","args":["futures/fundingRate:BTCUSDT"]}'
    )
