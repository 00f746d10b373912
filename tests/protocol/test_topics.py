from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bitmart_ws.exceptions import ConfigurationError, InvalidTopic
from bitmart_ws.protocol import CHANNELS, ArgKind, Market, WsKey, group_by_key, parse_topic, route
from bitmart_ws.protocol.topics import FUTURES_ASSET_CURRENCIES

SPOT_PUB, SPOT_PRIV = WsKey.SPOT_PUBLIC_V1, WsKey.SPOT_PRIVATE_V1
FUT_PUB, FUT_PRIV = WsKey.FUTURES_PUBLIC_V2, WsKey.FUTURES_PRIVATE_V2


def example_topic(name: str) -> str:
    spec = CHANNELS[name]
    if spec.arg is ArgKind.NONE:
        return name
    if spec.arg is ArgKind.FIXED:
        return f"{name}:{sorted(spec.values)[0]}"
    return f"{name}:{'BTC_USDT' if spec.market is Market.SPOT else 'BTCUSDT'}"


@pytest.mark.parametrize("name", sorted(CHANNELS))
def test_every_registered_channel_routes_to_its_key(name: str) -> None:
    spec = CHANNELS[name]
    topic, key = route(example_topic(name))
    assert topic.spec is spec and topic.channel == name
    assert key is WsKey.for_topic(spec.market, spec.is_private)
    assert key.market is spec.market and key.is_private is spec.is_private
    # The explicit market argument agrees; the other market is refused.
    assert route(example_topic(name), spec.market)[1] is key
    other = Market.FUTURES if spec.market is Market.SPOT else Market.SPOT
    with pytest.raises(InvalidTopic, match="topic, not a"):
        route(example_topic(name), other)


def test_registry_covers_the_reference_channels() -> None:
    expected = {
        "spot/ticker", "spot/depth5", "spot/depth20", "spot/depth50", "spot/depth/increase100", "spot/trade",
        "spot/bookTicker", "spot/user/order", "spot/user/orders", "spot/user/balance",
        *(f"spot/kline{i}" for i in ("1m", "5m", "15m", "30m", "1H", "2H", "4H", "1D", "1W", "1M")),
        "futures/ticker", "futures/bookticker", "futures/trade", "futures/fundingRate",
        "futures/asset", "futures/position", "futures/order",
        *(f"futures/{k}{n}" for k in ("depth", "depthAll", "depthIncrease") for n in (5, 20, 50)),
        *(f"futures/{k}{i}" for k in ("klineBin", "markPriceKlineBin")
          for i in ("1m", "5m", "15m", "30m", "1H", "2H", "4H", "1D", "1W")),
    }  # fmt: skip
    assert set(CHANNELS) == expected
    private = {n for n, s in CHANNELS.items() if s.is_private}
    assert private == {
        "spot/user/order", "spot/user/orders", "spot/user/balance",
        "futures/asset", "futures/position", "futures/order",
    }  # fmt: skip


@pytest.mark.parametrize(
    ("text", "key", "argument", "speed"),
    [
        ("spot/ticker:BTC_USDT", SPOT_PUB, "BTC_USDT", None),
        ("spot/kline1M:ETH_USDT", SPOT_PUB, "ETH_USDT", None),
        ("spot/depth/increase100:BTC_USDT", SPOT_PUB, "BTC_USDT", None),
        ("spot/user/order:BTC_USDT", SPOT_PRIV, "BTC_USDT", None),
        ("spot/user/orders:ALL_SYMBOLS", SPOT_PRIV, "ALL_SYMBOLS", None),
        ("spot/user/balance:BALANCE_UPDATE", SPOT_PRIV, "BALANCE_UPDATE", None),
        ("futures/ticker", FUT_PUB, None, None),
        ("futures/ticker:BTCUSDT", FUT_PUB, "BTCUSDT", None),
        ("futures/depth20:BTCUSDT@200ms", FUT_PUB, "BTCUSDT", "200ms"),
        ("futures/depthIncrease50:ETHUSDT@100ms", FUT_PUB, "ETHUSDT", "100ms"),
        ("futures/klineBin1H:BTCUSDT", FUT_PUB, "BTCUSDT", None),
        ("futures/asset:ETH", FUT_PRIV, "ETH", None),
        ("futures/position", FUT_PRIV, None, None),
        ("futures/order", FUT_PRIV, None, None),
        # Unknown channels: the reference heuristic decides privacy.
        ("futures/positionV2", FUT_PRIV, None, None),
        ("futures/Asset:USDT", FUT_PRIV, "USDT", None),
        ("spot/newchannel:BTC_USDT", SPOT_PUB, "BTC_USDT", None),
        ("futures/orderbook:BTCUSDT", FUT_PRIV, "BTCUSDT", None),
    ],
)
def test_route_table(text: str, key: WsKey, argument: str | None, speed: str | None) -> None:
    topic, routed = route(text)
    assert routed is key
    assert topic.text == text and str(topic) == text
    assert (topic.argument, topic.speed) == (argument, speed)


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("", "empty"),
        (" spot/ticker:BTC_USDT", "whitespace"),
        ("spot/ticker: BTC_USDT", "whitespace"),
        ("ticker:BTC_USDT", "must start with 'spot/' or 'futures/'"),
        ("Spot/ticker:BTC_USDT", "must start with"),
        ("user/order:BTC_USDT", "must start with"),
        ("spot/", "missing channel"),
        ("spot//ticker", "missing channel"),
        ("spot/ticker", "needs a symbol"),
        ("spot/ticker:", "empty argument"),
        ("spot/ticker:BTCUSDT", "spot symbols look like 'BTC_USDT'"),
        ("spot/ticker:btc_usdt", "upper-case"),
        ("futures/ticker:BTC_USDT", "futures symbols have no underscore"),
        ("futures/depth5:BTCUSDT@50ms", "does not take speed"),
        ("futures/trade:BTCUSDT@100ms", "does not take speed"),
        ("spot/depth5:BTC_USDT@100ms", "does not take speed"),
        ("futures/position:BTCUSDT", "takes no argument"),
        ("futures/asset:DOGE", "takes one of: BTC, ETH, USDT"),
        ("spot/user/balance:USDT", "takes one of: BALANCE_UPDATE"),
        ("futures/ticker@100ms", "needs a symbol before it"),
        ("spot/unknown:BTC/USDT", "characters"),
        ("futures/unknown:BTCUSDT@fast", "not of the form"),
    ],
)
def test_malformed_topics_are_rejected_clearly(text: str, reason: str) -> None:
    with pytest.raises(InvalidTopic, match=reason) as info:
        parse_topic(text)
    assert isinstance(info.value, ConfigurationError) and isinstance(info.value, ValueError)
    assert info.value.topic == text


def test_non_string_topic() -> None:
    with pytest.raises(InvalidTopic, match="a topic is a string"):
        parse_topic(123)  # type: ignore[arg-type]


def test_is_private_override() -> None:
    assert route("spot/ticker:BTC_USDT", "spot", is_private=True)[1] is SPOT_PRIV
    assert route("futures/ticker", is_private=False)[1] is FUT_PUB
    with pytest.raises(InvalidTopic, match="private channel cannot be sent on a public connection"):
        route("futures/position", "futures", is_private=False)
    with pytest.raises(InvalidTopic, match="unknown market"):
        route("futures/position", "options")


def test_group_by_key_keeps_order_drops_repeats_and_validates_all_first() -> None:
    grouped = group_by_key(
        ["spot/ticker:BTC_USDT", "futures/ticker", "spot/user/order:BTC_USDT", "spot/ticker:BTC_USDT",
         "spot/trade:BTC_USDT"]
    )  # fmt: skip
    assert {k: [t.text for t in v] for k, v in grouped.items()} == {
        SPOT_PUB: ["spot/ticker:BTC_USDT", "spot/trade:BTC_USDT"],
        FUT_PUB: ["futures/ticker"],
        SPOT_PRIV: ["spot/user/order:BTC_USDT"],
    }
    with pytest.raises(InvalidTopic):
        group_by_key(["spot/ticker:BTC_USDT", "bad"])


# --- property tests -------------------------------------------------------------------------------

_SYM = st.text(alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789", min_size=1, max_size=8)
spot_symbols = st.builds(lambda a, b: f"{a}_{b}", _SYM, _SYM)
futures_symbols = _SYM


@st.composite
def valid_topics(draw: st.DrawFn) -> str:
    name = draw(st.sampled_from(sorted(CHANNELS)))
    spec = CHANNELS[name]
    if spec.arg is ArgKind.NONE:
        return name
    if spec.arg is ArgKind.FIXED:
        return f"{name}:{draw(st.sampled_from(sorted(spec.values)))}"
    if spec.arg is ArgKind.OPTIONAL_SYMBOL and draw(st.booleans()):
        return name
    symbol = draw(spot_symbols if spec.market is Market.SPOT else futures_symbols)
    speed = draw(st.sampled_from([None, *sorted(spec.speeds)]))
    return f"{name}:{symbol}" + (f"@{speed}" if speed else "")


@given(valid_topics())
def test_valid_topics_round_trip_and_route_by_registry(text: str) -> None:
    topic, key = route(text)
    assert topic.text == text
    rebuilt = (
        topic.channel
        + (f":{topic.argument}" if topic.argument else "")
        + (f"@{topic.speed}" if topic.speed else "")
    )
    assert rebuilt == text
    assert topic.spec is CHANNELS[topic.channel]
    assert key.market is topic.market and key.is_private is topic.spec.is_private
    assert topic.symbol is None or topic.symbol == topic.argument


@given(st.text(max_size=40))
def test_any_string_parses_or_raises_invalid_topic(text: str) -> None:
    try:
        topic, key = route(text)
    except InvalidTopic as exc:
        assert exc.topic == text
    else:
        assert key.market is topic.market
        assert text.startswith(("spot/", "futures/"))


@given(valid_topics())
def test_wrong_symbol_form_is_rejected(text: str) -> None:
    topic = parse_topic(text)
    if topic.symbol is None:
        return
    swapped = topic.symbol.replace("_", "") if topic.market is Market.SPOT else topic.symbol + "_USDT"
    wrong = f"{topic.channel}:{swapped}" + (f"@{topic.speed}" if topic.speed else "")
    with pytest.raises(InvalidTopic):
        parse_topic(wrong)


def test_asset_currencies() -> None:
    for ccy in FUTURES_ASSET_CURRENCIES:
        assert route(f"futures/asset:{ccy}")[1] is FUT_PRIV
