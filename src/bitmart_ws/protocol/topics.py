"""Topics: parsing, validation against BitMart's channel registry, and routing to a connection key.

A topic is ``{market}/{channel}[:{argument}][@{speed}]``, for example ``spot/ticker:BTC_USDT``,
``futures/depth20:BTCUSDT@200ms``, ``futures/position``. Every channel of the protocol reference is
listed in :data:`CHANNELS` with its market, its privacy and the argument it takes; channels missing
from the registry fall back to the reference client's prefix heuristic (market from the first segment,
private when the second segment starts with ``user``, ``asset``, ``position`` or ``order``).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import Enum

from ..exceptions import InvalidTopic
from .keys import Market, WsKey

__all__ = [
    "CHANNELS",
    "ArgKind",
    "ChannelSpec",
    "Topic",
    "parse_topic",
    "route",
    "group_by_key",
    "validate_symbol",
]


class ArgKind(Enum):
    """What follows the ``:`` of a topic."""

    NONE = "none"  # no argument: futures/position
    SYMBOL = "symbol"  # a market symbol: spot BTC_USDT, futures BTCUSDT
    OPTIONAL_SYMBOL = "optional symbol"  # futures/ticker (all contracts) or futures/ticker:BTCUSDT
    FIXED = "fixed"  # one of ``values``: spot/user/balance:BALANCE_UPDATE, futures/asset:USDT


@dataclass(frozen=True, slots=True)
class ChannelSpec:
    """One BitMart channel.

    ``speeds`` lists the ``@speed`` suffixes the channel accepts; ``requestable`` says whether a
    ``request`` operation returns a snapshot of it.
    """

    name: str
    market: Market
    is_private: bool
    arg: ArgKind
    values: frozenset[str] = frozenset()
    speeds: frozenset[str] = frozenset()
    requestable: bool = False


@dataclass(frozen=True, slots=True)
class Topic:
    """A parsed and validated topic. ``text`` is exactly what goes on the wire."""

    text: str
    market: Market
    channel: str
    argument: str | None
    speed: str | None
    is_private: bool
    spec: ChannelSpec | None  # None: a channel missing from the registry (heuristic routing)

    @property
    def symbol(self) -> str | None:
        """The symbol of a symbol-filtered topic, else ``None``."""
        if self.spec is not None and self.spec.arg in (ArgKind.SYMBOL, ArgKind.OPTIONAL_SYMBOL):
            return self.argument
        return None

    def __str__(self) -> str:
        return self.text


SPOT_KLINE_INTERVALS = ("1m", "5m", "15m", "30m", "1H", "2H", "4H", "1D", "1W", "1M")
FUTURES_KLINE_INTERVALS = ("1m", "5m", "15m", "30m", "1H", "2H", "4H", "1D", "1W")
FUTURES_DEPTH_SPEEDS = frozenset({"100ms", "200ms"})
FUTURES_ASSET_CURRENCIES = frozenset({"USDT", "BTC", "ETH"})


def _registry() -> dict[str, ChannelSpec]:
    spot, fut = Market.SPOT, Market.FUTURES
    specs: list[ChannelSpec] = [
        ChannelSpec("spot/ticker", spot, False, ArgKind.SYMBOL),
        *(ChannelSpec(f"spot/kline{i}", spot, False, ArgKind.SYMBOL) for i in SPOT_KLINE_INTERVALS),
        *(ChannelSpec(f"spot/depth{n}", spot, False, ArgKind.SYMBOL) for n in (5, 20, 50)),
        ChannelSpec("spot/depth/increase100", spot, False, ArgKind.SYMBOL, requestable=True),
        ChannelSpec("spot/trade", spot, False, ArgKind.SYMBOL),
        ChannelSpec("spot/bookTicker", spot, False, ArgKind.SYMBOL),
        ChannelSpec("spot/user/order", spot, True, ArgKind.SYMBOL),
        ChannelSpec("spot/user/orders", spot, True, ArgKind.FIXED, frozenset({"ALL_SYMBOLS"})),
        ChannelSpec("spot/user/balance", spot, True, ArgKind.FIXED, frozenset({"BALANCE_UPDATE"})),
        ChannelSpec("futures/ticker", fut, False, ArgKind.OPTIONAL_SYMBOL),
        *(
            ChannelSpec(f"futures/{kind}{n}", fut, False, ArgKind.SYMBOL, speeds=FUTURES_DEPTH_SPEEDS)
            for kind in ("depth", "depthAll")
            for n in (5, 20, 50)
        ),
        *(
            ChannelSpec(
                f"futures/depthIncrease{n}",
                fut,
                False,
                ArgKind.SYMBOL,
                speeds=FUTURES_DEPTH_SPEEDS,
                requestable=True,
            )
            for n in (5, 20, 50)
        ),
        ChannelSpec("futures/bookticker", fut, False, ArgKind.SYMBOL),
        ChannelSpec("futures/trade", fut, False, ArgKind.SYMBOL),
        *(ChannelSpec(f"futures/klineBin{i}", fut, False, ArgKind.SYMBOL) for i in FUTURES_KLINE_INTERVALS),
        *(
            ChannelSpec(f"futures/markPriceKlineBin{i}", fut, False, ArgKind.SYMBOL)
            for i in FUTURES_KLINE_INTERVALS
        ),
        ChannelSpec("futures/fundingRate", fut, False, ArgKind.SYMBOL, requestable=True),
        ChannelSpec("futures/asset", fut, True, ArgKind.FIXED, FUTURES_ASSET_CURRENCIES),
        ChannelSpec("futures/position", fut, True, ArgKind.NONE),
        ChannelSpec("futures/order", fut, True, ArgKind.NONE),
    ]
    return {spec.name: spec for spec in specs}


CHANNELS: Mapping[str, ChannelSpec] = _registry()
"""Every channel of the protocol reference, by name (``spot/ticker``, ``futures/depthIncrease20``...)."""

_SYMBOL_RE = {
    Market.SPOT: re.compile(r"[A-Z0-9]+_[A-Z0-9]+"),
    Market.FUTURES: re.compile(r"[A-Z0-9]+"),
}
_UNKNOWN_ARG_RE = re.compile(r"[A-Za-z0-9_\-.]+")
_PRIVATE_PREFIXES = ("user", "asset", "position", "order")


def validate_symbol(symbol: str, market: Market) -> str | None:
    """Return why ``symbol`` is not a valid symbol of ``market``, or ``None`` when it is."""
    if _SYMBOL_RE[market].fullmatch(symbol):
        return None
    if symbol.upper() != symbol:
        return f"symbol {symbol!r} must be upper-case ({symbol.upper()!r})"
    if market is Market.SPOT:
        return f"spot symbols look like 'BTC_USDT', not {symbol!r}"
    if "_" in symbol:
        return f"futures symbols have no underscore: {symbol.replace('_', '')!r}, not {symbol!r}"
    return f"futures symbols look like 'BTCUSDT', not {symbol!r}"


def parse_topic(text: str) -> Topic:
    """Parse and validate one topic string.

    Raises:
        InvalidTopic: the topic is malformed, names no market, or its argument does not fit the channel.
    """
    if not isinstance(text, str):
        raise InvalidTopic(repr(text), f"a topic is a string, not {type(text).__name__}")
    if not text or text != text.strip() or any(c.isspace() for c in text):
        raise InvalidTopic(text, "empty or contains whitespace")
    channel, sep, rest = text.partition(":")
    argument: str | None = None
    speed: str | None = None
    if sep:
        argument, at, speed_text = rest.partition("@")
        if at:
            speed = speed_text
        if not argument:
            raise InvalidTopic(text, "empty argument after ':'")
    elif "@" in channel:
        raise InvalidTopic(text, "a speed suffix '@...' needs a symbol before it")
    market_name, slash, tail = channel.partition("/")
    try:
        market = Market(market_name)
    except ValueError:
        raise InvalidTopic(text, "the topic must start with 'spot/' or 'futures/'") from None
    if not slash or not tail or "" in tail.split("/"):
        raise InvalidTopic(text, "missing channel name after the market")

    spec = CHANNELS.get(channel)
    if spec is None:
        return _parse_unknown(text, market, channel, argument, speed)

    if speed is not None and speed not in spec.speeds:
        allowed = ", ".join(sorted(spec.speeds)) or "none"
        raise InvalidTopic(text, f"channel {channel} does not take speed @{speed} (allowed: {allowed})")
    if spec.arg is ArgKind.NONE and argument is not None:
        raise InvalidTopic(text, f"channel {channel} takes no argument")
    if spec.arg is ArgKind.SYMBOL and argument is None:
        raise InvalidTopic(text, f"channel {channel} needs a symbol, e.g. {channel}:{_example(market)}")
    if spec.arg in (ArgKind.SYMBOL, ArgKind.OPTIONAL_SYMBOL) and argument is not None:
        problem = validate_symbol(argument, market)
        if problem:
            raise InvalidTopic(text, problem)
    if spec.arg is ArgKind.FIXED and argument not in spec.values:
        allowed = ", ".join(sorted(spec.values))
        raise InvalidTopic(text, f"channel {channel} takes one of: {allowed}")
    return Topic(text, market, channel, argument, speed, spec.is_private, spec)


def _parse_unknown(text: str, market: Market, channel: str, argument: str | None, speed: str | None) -> Topic:
    # Forward compatibility: a channel BitMart added after this registry still routes, by the
    # reference client's heuristic on the second segment.
    if argument is not None and not _UNKNOWN_ARG_RE.fullmatch(argument):
        raise InvalidTopic(text, f"argument {argument!r} has characters no BitMart topic uses")
    if speed is not None and not re.fullmatch(r"\d+ms", speed):
        raise InvalidTopic(text, f"speed @{speed} is not of the form '@<n>ms'")
    second = channel.split("/")[1].lower()
    is_private = second.startswith(_PRIVATE_PREFIXES)
    return Topic(text, market, channel, argument, speed, is_private, None)


def _example(market: Market) -> str:
    return "BTC_USDT" if market is Market.SPOT else "BTCUSDT"


def route(
    topic: str | Topic, market: Market | str | None = None, is_private: bool | None = None
) -> tuple[Topic, WsKey]:
    """Parse ``topic`` and choose the connection key that carries it.

    Args:
        topic: a topic string or an already parsed :class:`Topic`.
        market: when given, the topic must belong to this market (no silent cross-market routing).
        is_private: ``True`` sends a public topic over the private (authenticated) connection;
            ``False`` insists on a public connection and is an error for a private channel;
            ``None`` follows the registry.

    Raises:
        InvalidTopic: the topic is invalid or does not fit ``market`` / ``is_private``.
    """
    parsed = topic if isinstance(topic, Topic) else parse_topic(topic)
    if market is not None:
        try:
            wanted = Market(market)
        except ValueError:
            raise InvalidTopic(parsed.text, f"unknown market {market!r}: use 'spot' or 'futures'") from None
        if wanted is not parsed.market:
            raise InvalidTopic(parsed.text, f"this is a {parsed.market} topic, not a {wanted} one")
    private = parsed.is_private
    if is_private is True:
        private = True
    elif is_private is False and parsed.is_private:
        raise InvalidTopic(parsed.text, "a private channel cannot be sent on a public connection")
    return parsed, WsKey.for_topic(parsed.market, private)


def group_by_key(
    topics: Iterable[str | Topic], market: Market | str | None = None, is_private: bool | None = None
) -> dict[WsKey, list[Topic]]:
    """Route every topic (all validated before anything is returned), keeping order and dropping repeats."""
    grouped: dict[WsKey, list[Topic]] = {}
    seen: set[tuple[WsKey, str]] = set()
    for item in topics:
        parsed, key = route(item, market, is_private)
        if (key, parsed.text) not in seen:
            seen.add((key, parsed.text))
            grouped.setdefault(key, []).append(parsed)
    return grouped
