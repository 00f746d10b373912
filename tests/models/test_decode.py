"""Golden tests of the typed models: every sample payload of the protocol reference, conversions,
the number policies, the dict and bytes paths, unknown channels and malformed pushes."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import msgspec
import pytest
from hypothesis import given
from hypothesis import strategies as st

from bitmart_ws.exceptions import DecodeError
from bitmart_ws.models import (
    CHANNEL_MODELS,
    Decoder,
    DepthWay,
    ExecType,
    FuturesOrderAction,
    FuturesOrderSide,
    MarginMode,
    PositionOpenType,
    PositionType,
    RawUpdate,
    Side,
    SpotOrderState,
    TradeWay,
    Update,
    decode,
)
from bitmart_ws.models.common import rfc3339_ms
from bitmart_ws.protocol import CHANNELS

SAMPLES: list[dict[str, Any]] = json.loads((Path(__file__).parent / "reference_samples.json").read_text())
DECODERS = [Decoder("decimal"), Decoder("float")]


def sample(where: str, index: int = 0) -> dict[str, Any]:
    found = [s for s in SAMPLES if (s.get("table") or s.get("group")) == where]
    copy: dict[str, Any] = json.loads(json.dumps(found[index]))  # a fresh copy
    return copy


# where the sample sits -> (channel, symbol, topic, number of items)
EXPECTED = {
    "spot/ticker": ("spot/ticker", "BTC_USDT", "spot/ticker:BTC_USDT", 1),
    "spot/kline1m": ("spot/kline1m", "BTC_USDT", "spot/kline1m:BTC_USDT", 1),
    "spot/depth5": ("spot/depth5", "BTC_USDT", "spot/depth5:BTC_USDT", 1),
    "spot/depth/increase100": ("spot/depth/increase100", "BTC_USDT", "spot/depth/increase100:BTC_USDT", 1),
    "spot/trade": ("spot/trade", "ETH_USDT", "spot/trade:ETH_USDT", 1),
    "spot/bookTicker": ("spot/bookTicker", "BTC_USDT", "spot/bookTicker:BTC_USDT", 1),
    "spot/user/order": ("spot/user/order", "BTC_USDT", "spot/user/order:BTC_USDT", 1),
    "spot/user/balance": ("spot/user/balance", None, "spot/user/balance:BALANCE_UPDATE", 1),
    "futures/ticker:BTCUSDT": ("futures/ticker", "BTCUSDT", "futures/ticker:BTCUSDT", 1),
    "futures/depth20:BTCUSDT@200ms": ("futures/depth20", "BTCUSDT", "futures/depth20:BTCUSDT@200ms", 1),
    "futures/depthAll20:BTCUSDT@200ms": (
        "futures/depthAll20",
        "BTCUSDT",
        "futures/depthAll20:BTCUSDT@200ms",
        1,
    ),
    "futures/depthIncrease20:BTCUSDT@200ms": (
        "futures/depthIncrease20",
        "BTCUSDT",
        "futures/depthIncrease20:BTCUSDT@200ms",
        1,
    ),
    "futures/bookticker:BTCUSDT": ("futures/bookticker", "BTCUSDT", "futures/bookticker:BTCUSDT", 1),
    "futures/trade:BTCUSDT": ("futures/trade", "BTCUSDT", "futures/trade:BTCUSDT", 1),
    "futures/klineBin1m:BTCUSDT": ("futures/klineBin1m", "BTCUSDT", "futures/klineBin1m:BTCUSDT", 1),
    "futures/fundingRate:BTCUSDT": ("futures/fundingRate", "BTCUSDT", "futures/fundingRate:BTCUSDT", 1),
    "futures/asset:USDT": ("futures/asset", None, "futures/asset:USDT", 1),
    "futures/position": ("futures/position", None, "futures/position", 1),
    "futures/order": ("futures/order", None, "futures/order", 1),
}


def test_every_sample_of_the_reference_is_covered() -> None:
    assert {s.get("table") or s.get("group") for s in SAMPLES} == set(EXPECTED)
    assert len(SAMPLES) == 21  # the two depth-increase channels have a snapshot and an update sample


@pytest.mark.parametrize("decoder", DECODERS, ids=["decimal", "float"])
@pytest.mark.parametrize("index", range(21))
def test_reference_sample_decodes_and_both_paths_agree(decoder: Decoder, index: int) -> None:
    message = json.loads(json.dumps(SAMPLES[index]))
    where = message.get("table") or message.get("group")
    update = decoder.decode({**message, "wsKey": "k"}, received_ms=5)
    assert isinstance(update, Update)
    assert (update.channel, update.symbol, update.topic, len(update.items)) == EXPECTED[where]
    assert update.ws_key == "k" and update.received_ms == 5
    assert isinstance(update.items[0], decoder.model(update.channel))
    from_bytes = decoder.decode_bytes(msgspec.json.encode(message), ws_key="k", received_ms=5)
    assert from_bytes == update
    numbers = [v for v in msgspec.structs.asdict(update.items[0]).values() if isinstance(v, Decimal | float)]
    assert all(type(v) is decoder.numbers.type for v in numbers)


def test_spot_values_and_units() -> None:
    ticker = decode(sample("spot/ticker")).items[0]  # type: ignore[union-attr]
    assert ticker.last_price == Decimal("35000.00") and ticker.fluctuation == Decimal("-0.0001")
    assert ticker.ms_t == 1709024652967 and not hasattr(ticker, "s_t")
    candle = decode(sample("spot/kline1m")).items[0].candle  # type: ignore[union-attr]
    assert candle.open_time == 1709025360 * 1000  # seconds on the wire, ms in the model
    assert (candle.open, candle.close, candle.volume) == (
        Decimal("162.01"),
        Decimal("162.04"),
        Decimal("336.452694"),
    )
    depth = decode(sample("spot/depth5")).items[0]  # type: ignore[union-attr]
    assert depth.asks[0] == (Decimal("161.96"), Decimal("7.37567")) and depth.bids[1][0] == Decimal("161.93")
    snap, upd = (decode(sample("spot/depth/increase100", i)).items[0] for i in (0, 1))  # type: ignore[union-attr]
    assert (snap.type, snap.version, upd.type, upd.version, upd.bids) == ("snapshot", 4, "update", 5, ())
    trade = decode(sample("spot/trade")).items[0]  # type: ignore[union-attr]
    assert trade.side is Side.BUY and trade.ms_t == 1542337219120
    order = decode(sample("spot/user/order")).items[0]  # type: ignore[union-attr]
    assert order.order_state is SpotOrderState.PARTIALLY_FILLED and order.side is Side.BUY
    assert order.notional is None  # "" on the wire
    assert (order.create_time, order.update_time, order.last_fill_time) == (
        1609926028000,
        1609926044000,
        1609926039226,
    )
    assert order.exec_type is ExecType.MAKER and order.dealFee == Decimal("10.00") and order.state == "4"
    balance = decode(sample("spot/user/balance")).items[0]  # type: ignore[union-attr]
    assert balance.event_time == 1693364237000 and balance.balance_details[0].av_bal == Decimal("123.22")


def test_spot_quirks_are_normalised() -> None:
    order = sample("spot/user/order")
    order["data"][0].update(entrust_type="NORMAL", exec_type="")
    item = decode(order).items[0]  # type: ignore[union-attr]
    assert item.entrust_type == "normal" and item.exec_type is None
    balance = sample("spot/user/balance")
    balance["data"][0]["event_type"] = "TRANSACTION_COMPLETED  "
    assert decode(balance).items[0].event_type == "TRANSACTION_COMPLETED"  # type: ignore[union-attr]


def test_futures_values_and_units() -> None:
    side = decode(sample("futures/depth20:BTCUSDT@200ms")).items[0]  # type: ignore[union-attr]
    assert (
        side.way is DepthWay.BIDS
        and side.depths[0].price == Decimal("30107.7")
        and side.depths[1].vol == 1587
    )
    trade = decode(sample("futures/trade:BTCUSDT")).items[0]  # type: ignore[union-attr]
    expected = int(dt.datetime(2025, 3, 10, 18, 17, 14, 656000, tzinfo=dt.UTC).timestamp() * 1000)
    assert trade.created_at == expected and trade.way is TradeWay.BUY_OPEN_LONG_SELL_CLOSE_LONG
    assert trade.trade_id == 3000000389425121 and trade.m is True
    kline = decode(sample("futures/klineBin1m:BTCUSDT")).items[0]  # type: ignore[union-attr]
    assert kline.ts == 1701617761000 and kline.c == Decimal("39629.7")
    funding = decode(sample("futures/fundingRate:BTCUSDT")).items[0]  # type: ignore[union-attr]
    assert funding.fundingRate == Decimal("0.000098800809") and funding.nextFundingTime == 1732550400000
    position = decode(sample("futures/position")).items[0]  # type: ignore[union-attr]
    assert position.position_type is PositionType.LONG and position.open_type is PositionOpenType.ISOLATED
    event = decode(sample("futures/order")).items[0]  # type: ignore[union-attr]
    assert event.action is FuturesOrderAction.CANCEL and event.order.side is FuturesOrderSide.BUY_OPEN_LONG
    assert event.order.open_type is MarginMode.ISOLATED and event.order.trigger_price is None  # "-"
    assert event.order.last_trade.fillPrice == Decimal("25667.2")


def test_futures_variants() -> None:
    flat = {
        "group": "futures/markPriceKlineBin5m:BTCUSDT",
        "data": {"symbol": "BTCUSDT", "o": "1", "h": "2", "l": "0.5", "c": "1.5", "v": "10", "ts": 60},
    }
    for update in (decode(flat), Decoder().decode_bytes(msgspec.json.encode(flat))):
        assert isinstance(update, Update) and update.items[0].ts == 60_000 and update.items[0].h == 2
    every = {"group": "futures/ticker", "data": sample("futures/ticker:BTCUSDT")["data"]}
    assert decode(every).symbol == "BTCUSDT" and decode(every).topic == "futures/ticker"
    order = sample("futures/order")
    order["data"][0]["order"].update(
        last_trade=None, trigger_price="70000.5", trigger_price_type="last_price"
    )
    item = decode(order).items[0].order  # type: ignore[union-attr]
    assert (
        item.last_trade is None
        and item.trigger_price == Decimal("70000.5")
        and item.trigger_price_type == "last_price"
    )
    string_id = sample("futures/trade:BTCUSDT")
    string_id["data"][0]["trade_id"] = "3000000389425121"  # ccxt saw it as a string
    assert decode(string_id).items[0].trade_id == 3000000389425121  # type: ignore[union-attr]


def test_spot_multi_symbol_push_has_no_symbol() -> None:
    message = sample("spot/user/order")
    other = {**message["data"][0], "symbol": "ETH_USDT"}
    message["data"].append(other)
    update = decode({**message, "table": "spot/user/orders"})
    assert (update.symbol, update.topic, len(update.items)) == (None, "spot/user/orders:ALL_SYMBOLS", 2)  # type: ignore[union-attr]


def test_every_registry_channel_has_a_model() -> None:
    decoder = Decoder()
    assert all(decoder.model(channel) is not None for channel in CHANNELS)
    assert len({row.family for row in CHANNEL_MODELS}) == len(CHANNEL_MODELS)


@pytest.mark.parametrize(
    "message",
    [
        {"table": "spot/newthing", "data": [{"symbol": "BTC_USDT", "x": 1}]},
        {"group": "futures/v2/depthAll5:BTCUSDT", "data": {"whatever": True}},
        {"group": "futures/unicast", "data": "text"},
    ],
)
def test_unknown_channel_is_a_raw_update(message: dict[str, Any]) -> None:
    for update in (decode(message), Decoder().decode_bytes(msgspec.json.encode(message))):
        assert isinstance(update, RawUpdate) and update.data == message["data"]
    assert decode(message).channel in ("spot/newthing", "futures/v2/depthAll5", "futures/unicast")


@pytest.mark.parametrize(
    ("message", "needle"),
    [
        ({"table": "spot/ticker", "data": ""}, "not a list"),  # ccxt saw data:"" on spot
        ({"table": "spot/ticker", "data": [{"symbol": "BTC_USDT"}]}, "missing required field"),
        (
            {
                "table": "spot/trade",
                "data": [{"symbol": "X", "side": "up", "price": "1", "size": "1", "ms_t": 1}],
            },
            "spot/trade",
        ),
        (
            {
                "table": "spot/trade",
                "data": [{"symbol": "X", "side": "buy", "price": "one", "size": "1", "ms_t": 1}],
            },
            "price",
        ),
        ({"group": "futures/bookticker:BTCUSDT", "data": []}, "not an object"),
        ({"group": "futures/trade:BTCUSDT", "data": {"trade_id": 1}}, "not a list"),
        (
            {
                "group": "futures/trade:BTCUSDT",
                "data": [
                    {
                        "trade_id": 1,
                        "symbol": "X",
                        "deal_price": "1",
                        "deal_vol": "1",
                        "m": True,
                        "created_at": "yesterday",
                    }
                ],
            },
            "created_at",
        ),
        ({"group": "futures/klineBin1m:BTCUSDT", "data": "x"}, "not an object"),
        ({"event": "subscribe", "topic": "spot/ticker:BTC_USDT"}, "not an update payload"),
    ],
)
def test_malformed_known_channel_is_a_decode_error(message: dict[str, Any], needle: str) -> None:
    with pytest.raises(DecodeError, match=needle):
        decode(message)
    with pytest.raises(DecodeError):
        Decoder().decode_bytes(msgspec.json.encode(message))


@pytest.mark.parametrize("decoder", DECODERS, ids=["decimal", "float"])
@pytest.mark.parametrize("index", range(21))
def test_specialised_decoder_agrees_with_decode(decoder: Decoder, index: int) -> None:
    """``decoder_for(key message)`` gives what ``decode`` gives, for that push and for pushes of other
    shapes, symbols or channels handed to it (it falls back to ``decode``), errors included."""
    message = {**json.loads(json.dumps(SAMPLES[index])), "wsKey": "k"}
    fast = decoder.decoder_for(message)
    others: list[dict[str, Any]] = [message, {**message, "wsKey": None}]
    data = message["data"]
    if isinstance(data, list) and data and isinstance(data[0], dict):
        others += [
            {**message, "data": [{**data[0], "symbol": "OTHER_USDT"}]},
            {**message, "data": data * 2},
            {**message, "data": []},
            {**message, "data": ""},
        ]
    if isinstance(data, dict):
        others += [{**message, "data": {**data, "symbol": "OTHER"}}, {**message, "data": []}]
    others += [{**SAMPLES[(index + 1) % 21], "wsKey": "k"}, {**message, "group": 5, "table": 5}]
    for other in others:
        try:
            expected: Any = decoder.decode(other, received_ms=7)
        except DecodeError as exc:
            expected = str(exc)
        try:
            got: Any = fast(other, 7)
        except DecodeError as exc:
            got = str(exc)
        assert got == expected, other


@pytest.mark.parametrize("value", ["1.5", "0", "nan", "x", "1_0", 7, None, [1]])
@pytest.mark.parametrize("market", ["spot", "futures"])
def test_specialised_decoder_agrees_on_bad_numbers(value: Any, market: str) -> None:
    spot = {"table": "spot/depth/increase100", "data": [{"symbol": "BTC_USDT", "type": "update", "version": 2,
            "ms_t": 1, "asks": [[value, "1"]], "bids": []}]}  # fmt: skip
    futures = {"group": "futures/depthIncrease50:BTCUSDT", "data": {"symbol": "BTCUSDT", "type": "update",
               "version": 2, "ms_t": 1, "asks": [{"price": value, "vol": "1"}], "bids": []}}  # fmt: skip
    message = spot if market == "spot" else futures
    decoder = Decoder("float")
    outcomes: list[object] = []
    for fast in (False, True):
        try:
            outcomes.append(decoder.decoder_for(message)(message, None) if fast else decoder.decode(message))
        except DecodeError as exc:
            outcomes.append(str(exc))
    assert repr(outcomes[0]) == repr(outcomes[1])  # the text: nan != nan


@pytest.mark.parametrize("payload", [b"not json", b"[1, 2]", b'{"table": 5, "data": []}'])
def test_undecodable_bytes(payload: bytes) -> None:
    with pytest.raises(DecodeError):
        Decoder().decode_bytes(payload)


@given(
    st.datetimes(min_value=dt.datetime(1971, 1, 1), max_value=dt.datetime(2100, 1, 1)), st.integers(0, 999)
)
def test_rfc3339_nanoseconds_to_ms(moment: dt.datetime, nanos: int) -> None:
    text = moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond:06d}{nanos:03d}Z"
    expected = (
        int(moment.replace(tzinfo=dt.UTC, microsecond=0).timestamp()) * 1000 + moment.microsecond // 1000
    )
    assert rfc3339_ms(text) == expected


@given(st.decimals(allow_nan=False, allow_infinity=False, places=8, min_value=-(10**9), max_value=10**9))
def test_decimal_policy_is_exact_and_float_is_nearest(value: Decimal) -> None:
    text = str(value)
    message = {
        "table": "spot/trade",
        "data": [{"symbol": "X", "side": "sell", "price": text, "size": text, "ms_t": 1}],
    }
    exact = decode(message).items[0]  # type: ignore[union-attr]
    assert exact.price == value and str(exact.size) == text
    assert Decoder("float").decode(message).items[0].price == float(text)  # type: ignore[union-attr]
