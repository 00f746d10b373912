"""Wire shape of every public channel (field names and JSON types of the reference samples)."""

from __future__ import annotations

import re
from typing import Any

import pytest

from bitmart_ws.simulator import Simulator

from .conftest import client, group_of, table_of

NUM = re.compile(r"-?\d+(\.\d+)?")


def is_num_str(value: Any) -> bool:
    return isinstance(value, str) and NUM.fullmatch(value) is not None


def check_fields(obj: dict[str, Any], spec: dict[str, type | str]) -> None:
    assert set(obj) == set(spec), sorted(set(obj) ^ set(spec))
    for name, kind in spec.items():
        value = obj[name]
        if kind == "num":
            assert is_num_str(value), (name, value)
        elif kind is int:
            assert isinstance(value, int) and not isinstance(value, bool), (name, value)
        else:
            assert isinstance(value, kind), (name, value)  # type: ignore[arg-type]


SPOT_TICKER: dict[str, type | str] = {
    "symbol": str, "last_price": "num", "open_24h": "num", "high_24h": "num", "low_24h": "num",
    "base_volume_24h": "num", "quote_volume_24h": "num", "fluctuation": "num", "bid_px": "num",
    "bid_sz": "num", "ask_px": "num", "ask_sz": "num", "ms_t": int, "s_t": int,
}  # fmt: skip


async def spot_first_push(sim: Simulator, topic: str) -> dict[str, Any]:
    async with client(sim, "spotPublicV1") as c:
        await c.send({"op": "subscribe", "args": [topic]})
        assert await c.recv() == {"event": "subscribe", "topic": topic}
        table = topic.partition(":")[0]
        push: dict[str, Any] = await c.recv_until(table_of(table))
        assert c.binary_frames >= 1  # data pushes are raw-deflate binary by default
        assert isinstance(push["data"], list) and push["data"]
        return push


async def test_spot_ticker(sim: Simulator) -> None:
    push = await spot_first_push(sim, "spot/ticker:BTC_USDT")
    item = push["data"][0]
    check_fields(item, SPOT_TICKER)
    assert item["symbol"] == "BTC_USDT"
    assert float(item["bid_px"]) < float(item["ask_px"])
    assert item["s_t"] == item["ms_t"] // 1000


@pytest.mark.parametrize("interval", ["1m", "5m", "15m", "30m", "1H", "2H", "4H", "1D", "1W", "1M"])
async def test_spot_kline(sim: Simulator, interval: str) -> None:
    push = await spot_first_push(sim, f"spot/kline{interval}:ETH_USDT")
    assert push["table"] == f"spot/kline{interval}"
    item = push["data"][0]
    assert set(item) == {"symbol", "candle"} and item["symbol"] == "ETH_USDT"
    ts, o, h, low, close, vol = item["candle"]
    assert isinstance(ts, int) and ts < 10**11  # seconds
    assert all(is_num_str(v) for v in (o, h, low, close, vol))
    assert float(low) <= min(float(o), float(close)) <= max(float(o), float(close)) <= float(h)
    if interval == "1m":
        assert ts % 60 == 0


@pytest.mark.parametrize("depth", [5, 20, 50])
async def test_spot_depth(sim: Simulator, depth: int) -> None:
    push = await spot_first_push(sim, f"spot/depth{depth}:BTC_USDT")
    item = push["data"][0]
    assert set(item) == {"symbol", "ms_t", "asks", "bids"}
    assert len(item["asks"]) == depth and len(item["bids"]) == depth
    asks = [float(p) for p, _ in item["asks"]]
    bids = [float(p) for p, _ in item["bids"]]
    assert asks == sorted(asks) and bids == sorted(bids, reverse=True) and bids[0] < asks[0]
    assert all(is_num_str(p) and is_num_str(s) for p, s in item["asks"] + item["bids"])


async def test_spot_trade_and_book_ticker(sim: Simulator) -> None:
    push = await spot_first_push(sim, "spot/trade:BTC_USDT")
    for item in push["data"]:
        check_fields(
            item, {"symbol": str, "side": str, "price": "num", "size": "num", "s_t": int, "ms_t": int}
        )
        assert item["side"] in ("buy", "sell")
    push = await spot_first_push(sim, "spot/bookTicker:BTC_USDT")
    check_fields(
        push["data"][0],
        {"symbol": str, "bid_px": "num", "bid_sz": "num", "ask_px": "num", "ask_sz": "num", "ms_t": int},
    )


async def test_spot_incremental_book_snapshot_then_updates(sim: Simulator) -> None:
    topic = "spot/depth/increase100:BTC_USDT"
    async with client(sim, "spotPublicV1") as c:
        await c.send({"op": "subscribe", "args": [topic]})
        assert await c.recv() == {"event": "subscribe", "topic": topic}
        snap = (await c.recv())["data"][0]
        assert snap["type"] == "snapshot" and isinstance(snap["version"], int)
        assert set(snap) == {"symbol", "type", "version", "ms_t", "asks", "bids"}
        assert len(snap["asks"]) == 100 and len(snap["bids"]) == 100
        book = {"asks": {p: s for p, s in snap["asks"]}, "bids": {p: s for p, s in snap["bids"]}}
        version = snap["version"]
        for _ in range(15):
            upd = (await c.recv_until(table_of("spot/depth/increase100")))["data"][0]
            assert upd["type"] == "update"
            if not upd["asks"] and not upd["bids"]:
                assert upd["version"] == version  # spot heartbeat keeps the version
                continue
            assert upd["version"] == version + 1
            version = upd["version"]
            for side in ("asks", "bids"):
                for price, size in upd[side]:
                    if float(size) == 0:
                        book[side].pop(price)
                    else:
                        book[side][price] = size
        # applying the diffs keeps exactly the 100-level window, never a crossed book
        assert len(book["asks"]) == 100 and len(book["bids"]) == 100
        assert min(map(float, book["asks"])) > max(map(float, book["bids"]))


FUT_TICKER: dict[str, type | str] = {
    "symbol": str, "last_price": "num", "volume_24": "num", "range": "num", "mark_price": "num",
    "index_price": "num", "ask_price": "num", "ask_vol": "num", "bid_price": "num", "bid_vol": "num",
}  # fmt: skip


async def futures_first_push(sim: Simulator, topic: str, group: str | None = None) -> dict[str, Any]:
    async with client(sim, "futuresPublicV2") as c:
        await c.send({"action": "subscribe", "args": [topic]})
        ack = await c.recv()
        assert ack == {
            "action": "subscribe",
            "group": topic,
            "success": True,
            "request": {"action": "subscribe", "args": [topic]},
        }
        push: dict[str, Any] = await c.recv_until(group_of(group or topic))
        assert c.binary_frames == 0
        return push


async def test_futures_tickers(sim: Simulator) -> None:
    push = await futures_first_push(sim, "futures/ticker:BTCUSDT", "futures/ticker:BTCUSDT@100ms")
    check_fields(push["data"], FUT_TICKER)
    async with client(sim, "futuresPublicV2") as c:
        await c.send({"action": "subscribe", "args": ["futures/ticker"]})
        await c.recv()
        seen: set[str] = set()
        while len(seen) < 2:
            push = await c.recv_until(group_of("futures/ticker"))
            check_fields(push["data"], FUT_TICKER)
            seen.add(push["data"]["symbol"])
        assert seen == {"BTCUSDT", "ETHUSDT"}


@pytest.mark.parametrize("suffix", ["", "@100ms", "@200ms"])
async def test_futures_depth_sides(sim: Simulator, suffix: str) -> None:
    topic = f"futures/depth20:BTCUSDT{suffix}"
    async with client(sim, "futuresPublicV2") as c:
        await c.send({"action": "subscribe", "args": [topic]})
        assert (await c.recv())["success"] is True
        ways: set[int] = set()
        while len(ways) < 2:
            data = (await c.recv_until(group_of(topic)))["data"]
            assert set(data) == {"symbol", "way", "ms_t", "depths"}
            assert len(data["depths"]) == 20
            assert all(set(level) == {"price", "vol"} for level in data["depths"])
            ways.add(data["way"])
        assert ways == {1, 2}


@pytest.mark.parametrize("depth", [5, 20, 50])
async def test_futures_depth_all(sim: Simulator, depth: int) -> None:
    push = await futures_first_push(sim, f"futures/depthAll{depth}:ETHUSDT")
    data = push["data"]
    assert set(data) == {"symbol", "ms_t", "asks", "bids"} and len(data["asks"]) == depth
    assert all(is_num_str(lv["price"]) and is_num_str(lv["vol"]) for lv in data["asks"] + data["bids"])


@pytest.mark.parametrize("depth", [5, 20, 50])
async def test_futures_depth_increase_versions_advance_on_empty(sim: Simulator, depth: int) -> None:
    topic = f"futures/depthIncrease{depth}:BTCUSDT@200ms"
    async with client(sim, "futuresPublicV2") as c:
        await c.send({"action": "subscribe", "args": [topic]})
        assert (await c.recv())["success"] is True
        snap = (await c.recv())["data"]
        assert snap["type"] == "snapshot" and len(snap["asks"]) == depth
        version = snap["version"]
        for _ in range(8):
            data = (await c.recv_until(group_of(topic)))["data"]
            assert data["type"] == "update" and data["version"] == version + 1  # every push +1, even empty
            version = data["version"]
        await c.send({"action": "request", "args": [topic]})
        data = (await c.recv_until(lambda m: group_of(topic)(m) and m["data"]["type"] == "snapshot"))["data"]
        assert data["version"] >= version


async def test_futures_other_channels(sim: Simulator) -> None:
    push = await futures_first_push(sim, "futures/bookticker:BTCUSDT")
    check_fields(
        push["data"],
        {
            "symbol": str, "best_bid_price": "num", "best_bid_vol": "num", "best_ask_price": "num",
            "best_ask_vol": "num", "ms_t": int,
        },
    )  # fmt: skip
    push = await futures_first_push(sim, "futures/trade:BTCUSDT")
    assert isinstance(push["data"], list)
    for trade in push["data"]:
        check_fields(
            trade,
            {"trade_id": int, "symbol": str, "deal_price": "num", "deal_vol": "num", "way": int, "m": bool,
             "created_at": str},
        )  # fmt: skip
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z", trade["created_at"])
    push = await futures_first_push(sim, "futures/fundingRate:ETHUSDT")
    check_fields(
        push["data"],
        {
            "symbol": str, "fundingRate": "num", "fundingTime": int, "nextFundingRate": "num",
            "nextFundingTime": int, "funding_upper_limit": "num", "funding_lower_limit": "num", "ts": int,
        },
    )  # fmt: skip


@pytest.mark.parametrize("interval", ["1m", "5m", "15m", "30m", "1H", "2H", "4H", "1D", "1W"])
@pytest.mark.parametrize("kind", ["klineBin", "markPriceKlineBin"])
async def test_futures_klines(sim: Simulator, kind: str, interval: str) -> None:
    push = await futures_first_push(sim, f"futures/{kind}{interval}:BTCUSDT")
    assert set(push["data"]) == {"symbol", "items"}
    (item,) = push["data"]["items"]
    check_fields(item, {"o": "num", "h": "num", "l": "num", "c": "num", "v": "num", "ts": int})
    assert item["ts"] < 10**11
