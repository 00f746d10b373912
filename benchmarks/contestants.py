"""The two sides of every scenario, and the callbacks both get.

* **floor**: the least code that receives (picows), inflates (spot), decodes (msgspec), tells pushes
  from acks and calls ONE plain callback. Names are bound once (module globals, closure cells); per frame
  there is one ``on_ws_frame`` call, one ``is`` test of the frame type, the inflate and decode calls, one
  ``in`` test, and the callback. Spot pushes carry ``table`` (acks carry ``event``); futures acks carry
  ``action`` (pushes do not). The floor sends no pings, so no pong can arrive.
* **client**: ``bitmart_ws.WebsocketClient`` with the *same* callback object registered with
  ``client.on("update", callback)``; for typed streams an ``async for`` over ``client.stream`` calling
  it with each value; for books ``client.order_book`` (the client's own book path) awaited to the end.

Callbacks are plain closures (``nonlocal`` counters): the cheapest Python callable, identical for both.
"""

from __future__ import annotations

import asyncio
import time
import zlib
from bisect import bisect_left, insort
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, Final, Literal

import msgspec
import picows

from .frames import BOOK_START_VERSION, STAMP_FIELD

Market = Literal["spot", "futures"]
Callback = Callable[[Any], None]

_BINARY: Final = picows.WSMsgType.BINARY
_TEXT: Final = picows.WSMsgType.TEXT
_CLOSE: Final = picows.WSMsgType.CLOSE


def subscribe_frames(market: Market, topics: list[str]) -> list[bytes]:
    """Subscribe requests of at most 20 topics each (BitMart's limit per frame)."""
    field, op = ("op", "subscribe") if market == "spot" else ("action", "subscribe")
    return [msgspec.json.encode({field: op, "args": topics[i : i + 20]}) for i in range(0, len(topics), 20)]


def floor_listener(market: Market, callback: Callback, requests: list[bytes]) -> picows.WSListener:
    """The floor's picows listener for one connection of ``market``."""
    decode = msgspec.json.Decoder().decode
    decompress = zlib.decompress
    binary, text, close = _BINARY, _TEXT, _CLOSE

    class SpotFloor(picows.WSListener):
        def on_ws_connected(self, transport: picows.WSTransport) -> None:
            for request in requests:
                transport.send(text, request)

        def on_ws_frame(self, transport: picows.WSTransport, frame: picows.WSFrame) -> None:
            if frame.msg_type is binary:
                msg = decode(decompress(frame.get_payload_as_memoryview(), -15))
                if "table" in msg:
                    callback(msg)
            elif frame.msg_type is close:
                transport.disconnect()

    class FuturesFloor(SpotFloor):
        def on_ws_frame(self, transport: picows.WSTransport, frame: picows.WSFrame) -> None:
            if frame.msg_type is text:
                msg = decode(frame.get_payload_as_bytes())
                if "action" not in msg:
                    callback(msg)
            elif frame.msg_type is close:
                transport.disconnect()

    return SpotFloor() if market == "spot" else FuturesFloor()


# --------------------------------------------------------------------------------------------------
# Running one side
# --------------------------------------------------------------------------------------------------


async def floor_session(
    urls: Iterable[str],
    market: Market,
    topics: list[list[str]],
    callback: Callback,
    done: asyncio.Event,
    within: float,
) -> None:
    """Open one floor connection per URL (``topics[i]`` subscribed on the i-th), wait for ``done``."""
    transports = []
    try:
        for url, mine in zip(urls, topics, strict=True):
            requests = subscribe_frames(market, mine)
            transport, _ = await picows.ws_connect(
                lambda r=requests: floor_listener(market, callback, r), url
            )
            transports.append(transport)
        await asyncio.wait_for(done.wait(), within)
    finally:
        for transport in transports:
            transport.disconnect()
            await asyncio.wait_for(transport.wait_disconnected(), 5)


async def client_session(
    url: str,
    market: Market,
    topics: list[str],
    callback: Callback,
    done: asyncio.Event,
    within: float,
    *,
    after_subscribe: Callable[[], None] | None = None,
) -> None:
    """``WebsocketClient`` with ``callback`` as its one ``update`` handler; subscribe, wait for ``done``."""
    from bitmart_ws import WebsocketClient, WsKey

    client = WebsocketClient(ws_urls={WsKey.SPOT_PUBLIC_V1: url, WsKey.FUTURES_PUBLIC_V2: url})
    client.on("update", callback)
    try:
        async with asyncio.timeout(within):
            await client.subscribe(topics, market)
            if after_subscribe is not None:
                after_subscribe()
            await done.wait()
    finally:
        await asyncio.wait_for(client.close_all(), 10)


@dataclass(frozen=True, slots=True)
class StreamSpec:
    """The client side reads typed values from ``client.stream`` with this policy (``async for``)."""

    overflow: str
    maxsize: int
    numbers: str = "float"


async def stream_session(
    url: str,
    market: Market,
    topic: str,
    callback: Callback,
    tally: Tally,
    within: float,
    *,
    spec: StreamSpec,
) -> None:
    """``async for`` over ``client.stream([topic])``: ``callback`` gets each typed value.

    Ends when ``tally.n`` pushes went through the stream: for ``fail``/``block`` at the n-th value
    (the callback's count), for the lossy policies when delivered + dropped reach ``n`` (checked each
    time the queue is drained, i.e. once per burst): they deliver fewer than ``n`` values.
    """
    from bitmart_ws import WebsocketClient, WsKey

    urls: dict[WsKey | str, str] = {WsKey.SPOT_PUBLIC_V1: url, WsKey.FUTURES_PUBLIC_V2: url}
    client = WebsocketClient(ws_urls=urls, numbers=spec.numbers)
    n = tally.n
    try:
        stream = client.stream([topic], maxsize=spec.maxsize, overflow=spec.overflow)
        async with asyncio.timeout(within), stream as s:
            if spec.overflow in ("fail", "block"):  # lossless: the callback's count says when
                async for item in s:
                    callback(item)
                    if tally.t_last:
                        break
            else:
                async for item in s:
                    callback(item)
                    if not len(s):
                        stats = s.stats
                        if stats.delivered + stats.dropped >= n:
                            break
            if not tally.t_last:  # lossy: fewer than n values were delivered
                tally.last()
            tally.delivered, tally.high_water = s.stats.delivered, s.stats.high_water
    finally:
        await asyncio.wait_for(client.close_all(), 10)


async def book_session(url: str, market: Market, symbol: str, tally: Tally, within: float) -> None:
    """The product's way: ``await client.order_book(...)`` (float numbers), then await its changes
    until it reaches the last version; the clocks read at the first push and at that version."""
    from bitmart_ws import WebsocketClient, WsKey

    client = WebsocketClient(
        ws_urls={WsKey.SPOT_PUBLIC_V1: url, WsKey.FUTURES_PUBLIC_V2: url}, numbers="float"
    )
    last = BOOK_START_VERSION + tally.n - 1

    def first(msg: Any) -> None:  # the clock starts at the first push, as the floor's does
        tally.first()
        client.off("update", first)

    client.on("update", first)
    try:
        async with asyncio.timeout(within):
            book = await client.order_book(market, symbol)
            while (book.version or 0) < last:
                await book.changed()
            tally.last()
            tally.ok = book.valid and book.version == last
            if not tally.ok:
                tally.note = repr(book)
            await book.close()
    finally:
        await asyncio.wait_for(client.close_all(), 10)


# --------------------------------------------------------------------------------------------------
# Callbacks (each a plain closure; the floor and the client get the same object)
# --------------------------------------------------------------------------------------------------


@dataclass(slots=True)
class Tally:
    """Clock readings at the first and the last counted message, wall and CPU of this process."""

    n: int
    done: asyncio.Event
    t_first: float = 0.0
    t_last: float = 0.0
    cpu_first: float = 0.0
    cpu_last: float = 0.0
    ok: bool = True
    note: str = ""
    delivered: int = 0  # typed streams: values delivered (a lossy policy delivers fewer than n)
    high_water: int = 0

    def first(self) -> None:
        self.t_first, self.cpu_first = time.perf_counter(), time.process_time()

    def last(self) -> None:
        self.t_last, self.cpu_last = time.perf_counter(), time.process_time()
        self.done.set()

    @property
    def rate(self) -> float:
        seconds = self.t_last - self.t_first
        return (self.n - 1) / seconds if self.t_last and seconds > 0 else 0.0

    @property
    def cpu_rate(self) -> float:
        seconds = self.cpu_last - self.cpu_first
        return (self.n - 1) / seconds if self.t_last and seconds > 0 else 0.0


def counting(tally: Tally) -> Callback:
    """Counts pushes; reads the clocks at the first and the ``n``-th."""
    n = tally.n
    count = 0

    def on_update(msg: Any) -> None:
        nonlocal count
        count += 1
        if count == 1:
            tally.first()
        elif count == n:
            tally.last()

    return on_update


@dataclass(slots=True)
class Latencies:
    n: int
    done: asyncio.Event
    values: list[int]
    disorder: int = 0


def timing(spot: bool, lat: Latencies) -> Callback:
    """Sender-to-handler latency of each stamped push (same-machine monotonic clock), and its order."""
    values = lat.values
    append = values.append
    clock = time.perf_counter_ns
    n = lat.n
    previous = 0

    def on_update(msg: Any) -> None:
        nonlocal previous
        now = clock()
        data = msg["data"]
        sent = (data[0] if spot else data)[STAMP_FIELD]
        append(now - sent)
        if sent < previous:
            lat.disorder += 1
        previous = sent
        if len(values) == n:
            lat.done.set()

    return on_update


class BareBook:
    """The books' floor: two ``bisect``-sorted price lists plus dicts, floats, consecutive versions."""

    __slots__ = ("ask_keys", "asks", "bid_keys", "bids", "version")

    def __init__(self) -> None:
        self.asks: dict[float, float] = {}
        self.bids: dict[float, float] = {}
        self.ask_keys: list[float] = []
        self.bid_keys: list[float] = []  # negated prices: ascending = best first
        self.version = 0

    def apply(self, asks: Iterable[tuple[str, str]], bids: Iterable[tuple[str, str]]) -> None:
        levels, keys = self.asks, self.ask_keys
        for p, s in asks:
            price, size = float(p), float(s)
            if size == 0:
                if levels.pop(price, None) is not None:
                    del keys[bisect_left(keys, price)]
            else:
                if price not in levels:
                    insort(keys, price)
                levels[price] = size
        levels, keys = self.bids, self.bid_keys
        for p, s in bids:
            price, size = float(p), float(s)
            if size == 0:
                if levels.pop(price, None) is not None:
                    del keys[bisect_left(keys, -price)]
            else:
                if price not in levels:
                    insort(keys, -price)
                levels[price] = size

    def replace(self, asks: Iterable[tuple[str, str]], bids: Iterable[tuple[str, str]], version: int) -> None:
        self.asks.clear()
        self.bids.clear()
        self.ask_keys.clear()
        self.bid_keys.clear()
        self.apply(asks, bids)
        self.version = version

    def valid(self) -> bool:
        return bool(self.ask_keys and self.bid_keys) and -self.bid_keys[0] < self.ask_keys[0]


def bare_book_floor(spot: bool, tally: Tally) -> Callback:
    """Floor of the book scenarios: snapshot replaces, update ``version + 1`` applies, else invalid."""
    book = BareBook()
    n = tally.n
    count = 0

    def on_update(msg: Any) -> None:
        nonlocal count
        item = msg["data"][0] if spot else msg["data"]
        version = item["version"]
        if spot:
            asks, bids = item["asks"], item["bids"]
        else:
            asks = [(lv["price"], lv["vol"]) for lv in item["asks"]]
            bids = [(lv["price"], lv["vol"]) for lv in item["bids"]]
        if item["type"] == "snapshot":
            book.replace(asks, bids, version)
        elif version == book.version + 1:
            book.apply(asks, bids)
            book.version = version
        else:
            tally.ok = False
        count += 1
        if count == 1:
            tally.first()
        elif count == n:
            tally.ok = tally.ok and book.valid() and book.version == BOOK_START_VERSION + n - 1
            tally.last()

    return on_update
