from __future__ import annotations

import json
import zlib
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bitmart_ws.exceptions import DecodeError
from bitmart_ws.protocol import (
    ErrorReply,
    Inbound,
    LoginReply,
    Malformed,
    Market,
    Pong,
    Push,
    SubscriptionReply,
    Unknown,
    inflate,
    parse_frame,
)

SPOT, FUT = Market.SPOT, Market.FUTURES


def deflate(data: bytes) -> bytes:
    c = zlib.compressobj(wbits=-15)
    return c.compress(data) + c.flush()


SPOT_TICKER = {"table": "spot/ticker", "data": [{"symbol": "BTC_USDT", "last_price": "1"}]}
FUT_TICKER = {"group": "futures/ticker:BTCUSDT@100ms", "data": {"symbol": "BTCUSDT"}}

CASES: list[tuple[Market, Any, Inbound]] = [
    (SPOT, SPOT_TICKER, Push("spot/ticker", SPOT_TICKER)),
    (SPOT, {"table": "spot/user/order", "data": ""}, Push("spot/user/order", {"table": "spot/user/order", "data": ""})),
    (SPOT, {"event": "login"}, LoginReply(True, None, "", {"event": "login"})),
    (
        SPOT,
        {"event": "login", "errorCode": "91011", "errorMessage": "Param sign is wrong"},
        LoginReply(False, "91011", "Param sign is wrong",
                   {"event": "login", "errorCode": "91011", "errorMessage": "Param sign is wrong"}),
    ),
    (
        SPOT,
        {"event": "subscribe", "topic": "spot/ticker:BTC_USDT"},
        SubscriptionReply("subscribe", "spot/ticker:BTC_USDT", True, None, "",
                          {"event": "subscribe", "topic": "spot/ticker:BTC_USDT"}),
    ),
    (
        SPOT,
        {"event": "subscribe", "topic": "spot/x:A_B", "errorCode": "90004", "errorMessage": "Invalid channel"},
        SubscriptionReply("subscribe", "spot/x:A_B", False, "90004", "Invalid channel",
                          {"event": "subscribe", "topic": "spot/x:A_B", "errorCode": "90004",
                           "errorMessage": "Invalid channel"}),
    ),
    (
        SPOT,
        {"event": "unsubscribe", "topic": "spot/ticker:BTC_USDT", "errorCode": 90008},
        SubscriptionReply("unsubscribe", "spot/ticker:BTC_USDT", False, "90008", "",
                          {"event": "unsubscribe", "topic": "spot/ticker:BTC_USDT", "errorCode": 90008}),
    ),
    (
        SPOT,
        {"event": "error", "errorCode": "90007", "errorMessage": "too fast"},
        ErrorReply("90007", "too fast", {"event": "error", "errorCode": "90007", "errorMessage": "too fast"}),
    ),
    (SPOT, {"foo": "bar"}, Unknown({"foo": "bar"})),
    (SPOT, [1, 2], Unknown([1, 2])),
    (FUT, FUT_TICKER, Push("futures/ticker:BTCUSDT@100ms", FUT_TICKER)),
    (FUT, {"group": "System", "data": "pong+e0d8adb4"}, Pong()),
    (FUT, {"group": "System", "data": "pong"}, Pong()),
    (FUT, {"group": "System", "data": "hello"}, Unknown({"group": "System", "data": "hello"})),
    (FUT, {"action": "access", "success": True}, LoginReply(True, None, "", {"action": "access", "success": True})),
    (
        FUT,
        {"action": "access", "success": False, "error": "access failed"},
        LoginReply(False, None, "access failed", {"action": "access", "success": False, "error": "access failed"}),
    ),
    (
        FUT,
        {"action": "subscribe", "group": "futures/trade:BTCUSDT", "success": True,
         "request": {"action": "subscribe", "args": ["futures/trade:BTCUSDT"]}},
        SubscriptionReply("subscribe", "futures/trade:BTCUSDT", True, None, "",
                          {"action": "subscribe", "group": "futures/trade:BTCUSDT", "success": True,
                           "request": {"action": "subscribe", "args": ["futures/trade:BTCUSDT"]}}),
    ),
    (
        FUT,
        {"action": "unsubscribe", "success": False, "error": "nope",
         "request": {"action": "unsubscribe", "args": ["futures/order"]}},
        SubscriptionReply("unsubscribe", "futures/order", False, None, "nope",
                          {"action": "unsubscribe", "success": False, "error": "nope",
                           "request": {"action": "unsubscribe", "args": ["futures/order"]}}),
    ),
    (
        FUT,
        {"success": False, "error": "Invalid message: message must be JSON: ping"},
        ErrorReply(None, "Invalid message: message must be JSON: ping",
                   {"success": False, "error": "Invalid message: message must be JSON: ping"}),
    ),
    (FUT, {"action": "subscribe", "success": True}, Unknown({"action": "subscribe", "success": True})),
]  # fmt: skip


@pytest.mark.parametrize(("market", "message", "expected"), CASES)
@pytest.mark.parametrize("encoding", ["text", "bytes", "deflate"])
def test_classification_table(market: Market, message: Any, expected: Inbound, encoding: str) -> None:
    text = json.dumps(message)
    payload: bytes | str = text if encoding == "text" else text.encode()
    if encoding == "deflate":
        payload = deflate(text.encode())
    assert parse_frame(market, payload, binary=encoding == "deflate") == expected


@pytest.mark.parametrize("market", list(Market))
def test_text_and_compressed_pong(market: Market) -> None:
    assert parse_frame(market, "pong", binary=False) == Pong()
    assert parse_frame(market, b"pong", binary=False) == Pong()
    assert parse_frame(market, deflate(b"pong"), binary=True) == Pong()


@pytest.mark.parametrize(
    ("payload", "binary", "match"),
    [
        ("not json", False, "not valid JSON"),
        (b"\xff\xfe", False, "not valid JSON"),
        ('{"table":"spot/ticker"', False, "not valid JSON"),
        (zlib.compress(b'{"table":"spot/ticker","data":[]}'), True, "cannot inflate"),  # zlib-wrapped: wrong
        (deflate(b'{"table":"spot/ticker","data":[]}')[:-3], True, "cannot inflate"),  # truncated
        (deflate(b"garbage{"), True, "not valid JSON"),
        (b"", True, "cannot inflate"),
    ],
)
def test_malformed_frames_become_values_never_exceptions(
    payload: bytes | str, binary: bool, match: str
) -> None:
    result = parse_frame(SPOT, payload, binary=binary)
    assert isinstance(result, Malformed)
    assert isinstance(result.error, DecodeError)
    assert match in str(result.error)
    assert result.payload == payload


def test_inflate_is_one_independent_stream_per_frame() -> None:
    frames = [deflate(json.dumps({"n": i}).encode()) for i in range(3)]
    assert [json.loads(inflate(f)) for f in reversed(frames)] == [{"n": 2}, {"n": 1}, {"n": 0}]
    assert inflate(memoryview(frames[0])) == b'{"n": 0}'
    with pytest.raises(DecodeError):
        inflate(b"\x00\x01")


@given(st.binary(max_size=200), st.booleans(), st.sampled_from(list(Market)))
def test_parse_frame_never_raises_on_bytes(data: bytes, binary: bool, market: Market) -> None:
    result = parse_frame(market, data, binary=binary)
    assert isinstance(result, Pong | LoginReply | SubscriptionReply | ErrorReply | Push | Unknown | Malformed)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=10),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(
        st.sampled_from(["table", "group", "data", "event", "action", "success", "topic", "errorCode",
                         "errorMessage", "error", "request", "args", "x"]),
        children, max_size=6),
    max_leaves=12,
)  # fmt: skip


@given(json_values, st.sampled_from(list(Market)))
def test_classify_any_json_shape(value: Any, market: Market) -> None:
    result = parse_frame(market, json.dumps(value), binary=False)
    assert not isinstance(result, Malformed)
    if isinstance(result, Push):
        assert result.raw is not None and "data" in result.raw
    if isinstance(result, LoginReply) and result.ok:
        # A success is never inferred from a reply that carries an error.
        assert not (isinstance(value, dict) and value.get("success") is False)
