"""Bad input, fuzzed: every inbound path and the public API's inputs.

Allowed outcomes: the typed value, a typed error (a ``BitmartWSError``) or an ``exception`` event; never a
crashed task, a hang, a dropped connection or a changed subscription set.
"""

from __future__ import annotations

import asyncio
import json
import math
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bitmart_ws import BitmartWSError, Market, WebsocketClient, WsKey
from bitmart_ws.client import Request
from bitmart_ws.protocol import Inbound, classify, parse_frame
from bitmart_ws.protocol.session import Close, Emit
from bitmart_ws.simulator.spot import deflate

from ..client.conftest import FAST
from ..protocol.session_harness import Harness

TOPICS = {
    Market.SPOT: ["spot/ticker:BTC_USDT", "spot/depth5:ETH_USDT"],
    Market.FUTURES: ["futures/ticker:BTCUSDT", "futures/depth5:ETHUSDT"],
}
KEYS = {
    WsKey.SPOT_PUBLIC_V1: TOPICS[Market.SPOT],
    WsKey.SPOT_PRIVATE_V1: ["spot/user/order:BTC_USDT"],
    WsKey.FUTURES_PUBLIC_V2: TOPICS[Market.FUTURES],
    WsKey.FUTURES_PRIVATE_V2: ["futures/position"],
}

# -- strategies ------------------------------------------------------------------------------------
scalars = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20)
json_values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=30,
)
words = st.sampled_from(
    ["subscribe", "unsubscribe", "login", "access", "error", "ping", "pong", "System", "", "request"]
)
topic_like = st.sampled_from(
    [*TOPICS[Market.SPOT], *TOPICS[Market.FUTURES], "spot/ticker", "futures/ticker:BTCUSDT@100ms", "x"]
) | st.text(max_size=30)
codes = st.sampled_from(["90004", "90008", "91001", "91011", "30000", "", None, 0, "0"]) | st.integers()


@st.composite
def replies(draw: st.DrawFn) -> Any:
    """Every reply shape of both dialects, with fuzzed fields (and anything else)."""
    topic = draw(topic_like)
    shape = draw(st.integers(0, 7))
    if shape == 0:  # spot ack / rejection
        msg: dict[str, Any] = {"event": draw(words), "topic": topic}
        if draw(st.booleans()):
            msg |= {"errorCode": draw(codes), "errorMessage": draw(st.text(max_size=20))}
        return msg
    if shape == 1:  # spot rejection naming no topic
        return {"event": draw(words), "errorCode": draw(codes), "errorMessage": "Invalid channel param"}
    if shape == 2:  # futures ack / rejection, with or without the request echo
        msg = {"action": draw(words), "group": topic, "success": draw(st.booleans() | scalars)}
        if draw(st.booleans()):
            msg["request"] = {"action": draw(words), "args": draw(st.lists(topic_like, max_size=3))}
        if draw(st.booleans()):
            msg["error"] = draw(st.text(max_size=30))
        return msg
    if shape == 3:  # login / access replies
        return draw(
            st.sampled_from(
                [
                    {"event": "login"},
                    {"event": "login", "errorCode": "91002", "errorMessage": "x"},
                    {"action": "access", "success": True},
                    {"action": "access", "success": False, "error": "x"},
                ]
            )
        )
    if shape == 4:  # connection-level errors and pongs
        return draw(
            st.sampled_from(
                [
                    {"event": "error", "errorCode": "30000", "errorMessage": "x"},
                    {"success": False, "error": "x"},
                    {"group": "System", "data": "pong"},
                ]
            )
        )
    if shape == 5:  # pushes (table / group with any data)
        return {draw(st.sampled_from(["table", "group"])): draw(topic_like), "data": draw(json_values)}
    if shape == 6:  # dicts with the dialects' keys and fuzzed values
        keys = st.sampled_from(["event", "action", "topic", "group", "errorCode", "success", "data", "table"])
        return draw(st.dictionaries(keys, json_values, max_size=5))
    return draw(json_values)


def nested(depth: int, open_: bytes = b"[", close: bytes = b"]") -> bytes:
    return open_ * depth + close * depth


frames_bytes = (
    st.binary(max_size=200)
    | json_values.map(lambda v: json.dumps(v).encode())
    | replies().map(lambda v: json.dumps(v).encode())
    | st.integers(1, 5000).map(nested)
    | st.integers(1, 3000).map(lambda n: nested(n, b'{"a":', b"}").replace(b"}", b"1}", 1))
)


# -- the pure level ----------------------------------------------------------------------------------
@given(market=st.sampled_from(Market), payload=frames_bytes, binary=st.booleans(), deflated=st.booleans())
@settings(max_examples=300, deadline=None)
def test_parse_frame_never_raises(market: Market, payload: bytes, binary: bool, deflated: bool) -> None:
    data = deflate(payload) if deflated and binary else payload
    assert isinstance(parse_frame(market, data, binary=binary), Inbound)
    assert isinstance(parse_frame(market, data.decode("utf-8", "replace"), binary=False), Inbound)


@given(market=st.sampled_from(Market), msg=replies())
@settings(max_examples=300, deadline=None)
def test_classify_every_shape(market: Market, msg: Any) -> None:
    assert isinstance(classify(market, msg), Inbound)


@given(key=st.sampled_from(list(KEYS)), msgs=st.lists(replies(), min_size=1, max_size=12))
@settings(max_examples=200, deadline=None)
def test_live_session_survives_every_reply(key: WsKey, msgs: list[Any]) -> None:
    """Nothing is in flight: no reply matches a request, so none may drop the socket or change the topics."""
    h = Harness.make(key)
    h.subscribe(*KEYS[key])
    h.open_live()
    desired = set(h.session.registry.desired)
    for msg in msgs:
        h.session.receive(h.now, msg)
        for effect in h.session.effects():
            assert not isinstance(effect, Close)
            if isinstance(effect, Emit) and effect.event == "exception":
                assert isinstance(effect.payload["error"], BitmartWSError)
                assert isinstance(effect.payload["message"], str)
    assert h.session.state.value == "live"
    assert set(h.session.registry.desired) == desired == set(h.session.registry.subscribed())


@given(
    market=st.sampled_from(Market),
    payload=frames_bytes,
    how=st.sampled_from(["text", "deflate", "raw", "cut"]),
)
@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
async def test_driver_frame_handlers(market: Market, payload: bytes, how: str) -> None:
    """``Connection.on_text`` / ``on_binary``: an update, an exception event, or nothing; never a raise."""
    client = WebsocketClient(max_message_size=4096)
    events: list[tuple[str, dict[str, Any]]] = []
    client.on("update", lambda m: events.append(("update", m)))
    client.on("exception", lambda m: events.append(("exception", m)))
    key = WsKey.SPOT_PUBLIC_V1 if market is Market.SPOT else WsKey.FUTURES_PUBLIC_V2
    conn = client._group(key).connection(0)
    if how == "text":
        conn.on_text(payload)
    else:
        data = {"deflate": deflate(payload), "raw": payload, "cut": deflate(payload)[:-3]}[how]
        conn.on_binary(memoryview(data))
    for name, event in events:
        assert name == "update" or isinstance(event["error"], BitmartWSError)
    await client.close_all()


# -- end to end: a scripted peer sends fuzzed frames to a real client -------------------------------
@asynccontextmanager
async def fuzz_peer(frames: list[Any]) -> AsyncIterator[str]:
    """A spot server that acks the subscribe, sends ``frames`` (strings, bytes, or lists: fragments),
    then a sentinel push, and answers pings."""
    import websockets

    sentinel = deflate(json.dumps({"table": "spot/ticker", "data": [{"symbol": "SENTINEL"}]}).encode())

    async def handler(ws: Any) -> None:
        try:
            async for raw in ws:
                if raw == "ping":
                    await ws.send("pong")
                    continue
                msg = json.loads(raw)
                if msg.get("op") == "subscribe":
                    for topic in msg["args"]:
                        await ws.send(json.dumps({"event": "subscribe", "topic": topic}))
                    for frame in frames:
                        await ws.send(frame)
                    await ws.send(sentinel)
        except websockets.ConnectionClosed:
            pass

    async with websockets.serve(handler, "127.0.0.1", 0, compression=None, max_size=None) as server:
        port = next(iter(server.sockets)).getsockname()[1]
        yield f"ws://127.0.0.1:{port}/api?protocol=1.1"


def _wire(payload: bytes, how: str) -> Any:
    if how == "text":
        return payload.decode("utf-8", "replace")
    if how == "deflate":
        return deflate(payload)
    if how == "raw":
        return payload or b"\x00"
    text = payload.decode("utf-8", "replace") or "{}"
    return [text[: len(text) // 2], text[len(text) // 2 :]]  # one message in two fragments


wire_frames = st.lists(
    st.tuples(frames_bytes, st.sampled_from(["text", "deflate", "raw", "fragments"])).map(
        lambda t: _wire(*t)
    ),
    min_size=1,
    max_size=25,
)


@given(frames=wire_frames)
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
async def test_fuzzed_frames_end_to_end(frames: list[Any]) -> None:
    topics = TOPICS[Market.SPOT]
    updates: list[dict[str, Any]] = []
    events: list[tuple[str, dict[str, Any]]] = []
    got_sentinel = asyncio.Event()

    def on_update(msg: dict[str, Any]) -> None:
        updates.append(msg)
        data = msg.get("data")
        if (
            isinstance(data, list)
            and data
            and isinstance(data[0], dict)
            and data[0].get("symbol") == "SENTINEL"
        ):
            got_sentinel.set()

    async with fuzz_peer(frames) as url:
        client = WebsocketClient(ws_urls={"spotPublicV1": url}, **FAST)
        client.on("update", on_update)
        for name in ("exception", "reconnect", "close"):
            client.on(name, lambda m, name=name: events.append((name, m)))
        async with client:
            await client.subscribe(topics, "spot")
            async with asyncio.timeout(10):
                await got_sentinel.wait()  # no hang: everything after the fuzz still arrives
            assert sorted(client.subscribed_topics("spotPublicV1")) == sorted(topics)
            assert [c.state.value for c in client.connections()] == ["live"]
    assert [n for n, _ in events if n != "exception"] == ["close"]  # never dropped
    assert all(isinstance(e["error"], BitmartWSError) for n, e in events if n == "exception")


# -- the public API's inputs -------------------------------------------------------------------------
floats = st.floats(allow_nan=True, allow_infinity=True) | st.integers(-5, 100)
option_values: dict[str, st.SearchStrategy[Any]] = {
    "ping_interval": floats,
    "pong_timeout": floats,
    "reconnect_delay": floats,
    "reconnect_max_delay": floats,
    "recv_window": floats,
    "time_offset": floats,
    "ack_timeout": floats,
    "connect_timeout": floats,
    "stale_timeout": st.none() | floats,
    "max_message_size": st.integers(-10, 10**7),
    "rate_limit": st.tuples(st.integers(-2, 200), floats),
    "connect_rate": st.tuples(st.integers(-2, 200), floats),
    "max_topics": st.dictionaries(st.sampled_from([*WsKey, "nope"]), st.integers(-2, 300), max_size=3),
    "ws_urls": st.dictionaries(
        st.sampled_from([*WsKey, "nope"]),
        st.sampled_from(["ws://h/x", "wss://h", "http://h", "", "ws:"]),
        max_size=3,
    ),
    "proxy": st.none()
    | st.sampled_from(
        ["http://u:p@h:1", "socks5://h:2", "ftp://h", "http://", "socks5://u@h", "http://h:99999"]
    )
    | st.text(max_size=20),
    "api_key": st.none() | st.text(max_size=5),
    "api_secret": st.none() | st.text(max_size=5),
    "api_memo": st.none() | st.text(max_size=5),
}


@given(options=st.fixed_dictionaries({}, optional=option_values))
@settings(max_examples=400, deadline=None)
def test_client_options_give_a_client_or_a_typed_error(options: dict[str, Any]) -> None:
    try:
        client = WebsocketClient(**options)
    except BitmartWSError:
        return
    # an accepted option is a usable one: finite, positive times; limits of at least one
    for name in ("ping_interval", "pong_timeout", "ack_timeout", "connect_timeout", "reconnect_delay"):
        if name in options:
            assert math.isfinite(options[name]) and options[name] > 0, name
    for name in ("reconnect_max_delay", "time_offset", "recv_window"):
        if name in options:
            assert math.isfinite(options[name]), name
    for name in ("rate_limit", "connect_rate"):
        if name in options:
            count, window = options[name]
            assert count >= 1 and math.isfinite(window) and window > 0, name
    assert repr(client)


markets = st.sampled_from(["spot", "futures", "SPOT", "", "margin", Market.SPOT, Market.FUTURES])
topic_inputs = st.one_of(topic_like, st.lists(topic_like, max_size=4))


@given(topics=topic_inputs, market=markets, private=st.none() | st.booleans(), creds=st.booleans())
@settings(max_examples=400, deadline=None)
def test_subscribe_inputs_give_a_request_or_a_typed_error(
    topics: Any, market: Any, private: bool | None, creds: bool
) -> None:
    auth: dict[str, Any] = {"api_key": "k", "api_secret": "s", "api_memo": "m"} if creds else {}
    client = WebsocketClient(**auth)
    calls: list[Callable[[], Request]] = [
        lambda: client.subscribe(topics, market, private),
        lambda: client.unsubscribe(topics, market, private),
        lambda: client.subscribe_topics(topics),
        lambda: client.unsubscribe_topics(topics),
    ]
    for call in calls:
        try:
            request = call()
        except BitmartWSError:
            continue
        given_topics = [topics] if isinstance(topics, str) else topics
        assert request.topics and len(request.topics) <= len(given_topics)  # validated, deduplicated


@given(key=st.sampled_from([*WsKey, "nope", "", "spotpublicv1"]))
@settings(max_examples=30, deadline=None)
def test_keys_give_a_value_or_a_typed_error(key: Any) -> None:
    client = WebsocketClient()
    try:
        url = client.url_for(key)
    except BitmartWSError:
        assert key not in set(WsKey)
        return
    assert url.startswith("wss://")
    with pytest.raises(BitmartWSError):
        client.subscribed_topics("nope")
