"""The channel table: one entry per BitMart channel saying how a push renders, how often it is pushed
(its cadence) and what a subscribe (or a ``request``) sends first.

A renderer gets a :class:`Push` (the session, the topic, the time and, for private channels, the account
activity of this tick) and returns the frames to push, envelope included. Adding a channel is one entry
in :data:`CHANNEL_TABLE`; ``test_channel_table_covers_the_registry`` keeps it in step with the protocol
core's registry.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from enum import Enum
from functools import partial
from typing import TYPE_CHECKING, Any

from ..protocol.keys import Market
from ..protocol.topics import FUTURES_KLINE_INTERVALS, SPOT_KLINE_INTERVALS, Topic
from .accounts import AccountActivity, ActivityBatch
from .config import SimulatorConfig
from .market import IncrementalStream, SymbolMarket, format_levels, stable_seed

if TYPE_CHECKING:
    from .session import Session
    from .venue import Venue

__all__ = [
    "CHANNEL_TABLE",
    "Cadence",
    "Channel",
    "First",
    "Push",
    "first_frames",
    "new_stream",
    "start_topic",
    "tick_frames",
]

Message = dict[str, Any]


class Cadence(Enum):
    """When a channel pushes."""

    TICK = "tick"  # on every market tick of its dialect (SimulatorConfig.cadence_of)
    ACTIVITY = "activity"  # when the account did something the channel reports
    TIMER = "timer"  # only on the channel's own timer (Channel.every)


class First(Enum):
    """What a subscribe sends right after its ack (and what a ``request`` returns)."""

    NOTHING = "nothing"  # trades, orders, balances: nothing to show before they happen
    CURRENT = "current"  # the current value, rendered as a push
    SNAPSHOT = "snapshot"  # an incremental book's snapshot, starting the version chain


@dataclass(frozen=True, slots=True)
class Push:
    """What a renderer sees. ``batch`` is this tick's account activity; ``None`` asks for the current
    state (after a subscribe, on a channel's timer)."""

    venue: Venue
    session: Session
    topic: Topic
    now_ms: int
    batch: ActivityBatch | None = None

    @property
    def config(self) -> SimulatorConfig:
        return self.venue.config

    @property
    def markets(self) -> dict[str, SymbolMarket]:
        return self.venue.markets[self.session.market]

    @property
    def market(self) -> SymbolMarket:
        assert self.topic.symbol is not None
        return self.markets[self.topic.symbol]

    @property
    def activity(self) -> AccountActivity:
        assert self.session.account is not None
        return self.venue.activity[self.session.account.api_key]


Render = Callable[[Push], list[Message]]


@dataclass(frozen=True, slots=True)
class Channel:
    """One channel of the simulator.

    Attributes:
        render: the frames of one push.
        cadence: when it pushes.
        first: what a subscribe sends first.
        every: a timer (seconds, from the settings): the current state is pushed when the channel
            pushed nothing else for this long (``futures/fundingRate`` every 60 s, ``futures/position``
            every 10 s).
        book_depth: an incremental book keeping this many levels per side (``first`` is ``SNAPSHOT``).
    """

    render: Render
    cadence: Cadence = Cadence.TICK
    first: First = First.CURRENT
    every: Callable[[SimulatorConfig], float] | None = None
    book_depth: int | None = None

    def __post_init__(self) -> None:
        if (self.first is First.SNAPSHOT) != (self.book_depth is not None):
            raise ValueError("a SNAPSHOT channel is an incremental book with a book_depth, and only it")


# -- renderers -------------------------------------------------------------------------------------


def _table(push: Push, data: list[Any], table: str | None = None) -> list[Message]:
    """A spot push (nothing when ``data`` is empty)."""
    return [{"table": table or push.topic.channel, "data": data}] if data else []


def _group(push: Push, data: Any) -> list[Message]:
    """A futures push on the topic as subscribed."""
    return [{"group": push.topic.text, "data": data}]


def _spot_ticker(push: Push) -> list[Message]:
    return _table(push, [push.market.spot_ticker(push.now_ms)])


def _spot_kline(interval: str, push: Push) -> list[Message]:
    return _table(push, [push.market.spot_kline(interval, push.now_ms)])


def _spot_depth(depth: int, push: Push) -> list[Message]:
    return _table(push, [push.market.spot_depth(depth, push.now_ms)])


def _spot_trade(push: Push) -> list[Message]:
    return _table(push, push.market.spot_trades())


def _spot_book_ticker(push: Push) -> list[Message]:
    return _table(push, [push.market.spot_book_ticker(push.now_ms)])


def _spot_order(push: Push) -> list[Message]:
    orders = push.batch.spot_orders if push.batch else []
    return _table(push, [o for o in orders if o["symbol"] == push.topic.argument])


def _spot_all_orders(push: Push) -> list[Message]:
    return _table(push, push.batch.spot_orders if push.batch else [], push.config.all_symbols_table)


def _spot_balance(push: Push) -> list[Message]:
    return _table(push, push.batch.spot_balance if push.batch else [])


def _futures_ticker(push: Push) -> list[Message]:
    if push.topic.symbol is None:  # every contract, one per frame
        return [{"group": "futures/ticker", "data": m.futures_ticker()} for m in push.markets.values()]
    group = push.topic.text + push.config.ticker_group_suffix
    return [{"group": group, "data": push.market.futures_ticker()}]


def _futures_depth(depth: int, push: Push) -> list[Message]:
    return [
        {"group": push.topic.text, "data": push.market.futures_depth_side(depth, way, push.now_ms)}
        for way in (1, 2)
    ]


def _futures_depth_all(depth: int, push: Push) -> list[Message]:
    return _group(push, push.market.futures_depth_all(depth, push.now_ms))


def _futures_book_ticker(push: Push) -> list[Message]:
    return _group(push, push.market.futures_book_ticker(push.now_ms))


def _futures_trade(push: Push) -> list[Message]:
    trades = push.market.futures_trades()
    return _group(push, trades) if trades else []


def _futures_kline(interval: str, mark: bool, push: Push) -> list[Message]:
    return _group(push, push.market.futures_kline(interval, push.now_ms, mark=mark))


def _funding(push: Push) -> list[Message]:
    return _group(push, push.market.futures_funding(push.now_ms))


def _asset(push: Push) -> list[Message]:
    currency = push.topic.argument
    assert currency is not None
    if push.batch is not None and currency not in push.batch.futures_assets:
        return []
    return _group(push, push.activity.asset(currency))


def _position(push: Push) -> list[Message]:
    if push.batch is not None and not push.batch.futures_positions:
        return []
    return _group(push, push.activity.position_list())


def _futures_order(push: Push) -> list[Message]:
    orders = push.batch.futures_orders if push.batch else []
    return _group(push, orders) if orders else []


def _book(
    push: Push, kind: str, version: int, asks: list[tuple[int, int]], bids: list[tuple[int, int]]
) -> Message:
    market = push.market
    futures = push.session.market is Market.FUTURES
    data = {
        "symbol": market.instrument.symbol,
        "type": kind,
        "version": version,
        "ms_t": push.now_ms,
        "asks": format_levels(market.instrument, asks, objects=futures),
        "bids": format_levels(market.instrument, bids, objects=futures),
    }
    if futures:
        return {"group": push.topic.text, "data": data}
    return {"table": push.topic.channel, "data": [data]}


def _book_update(push: Push) -> list[Message]:
    """The next incremental update (after the old one again when ``inject_stale`` asked for it)."""
    session, text = push.session, push.topic.text
    stream = session.streams[text]
    frames = []
    if text in session.stale_pending:
        session.stale_pending.discard(text)
        frames.append(session.last_book[text])
    gap_probability = push.config.gap_probability
    if gap_probability > 0 and session.rng.random() < gap_probability:
        stream.pending_gap += 1
    if stream.advance_on_empty and not _on_venue_clock(push, stream):
        return frames
    message = _book(push, "update", *stream.update(push.market))
    session.last_book[text] = message
    return [*frames, message]


def _on_venue_clock(push: Push, stream: IncrementalStream) -> bool:
    """Futures versions are the venue's, as on BitMart: one per tick of the futures clock, the same on
    every connection (two connections see the same version for the same change). A tick the
    subscription's snapshot already covers pushes nothing (``False``); ticks a slow session did not push
    show as a gap; an injected gap shifts this subscription's chain for good."""
    stream.clock_base += stream.pending_gap
    due = stream.clock_base + push.venue.clocks[push.session.market].ticks
    if stream.version >= due:
        stream.pending_gap = 0
        return False
    stream.pending_gap = due - stream.version - 1
    return True


def _book_snapshot(push: Push) -> list[Message]:
    """A snapshot continuing the subscription's version chain (a fresh chain without a subscription)."""
    stream = push.session.streams.get(push.topic.text) or new_stream(push.venue, push.session, push.topic)
    return [_book(push, "snapshot", *stream.snapshot(push.market))]


def new_stream(venue: Venue, session: Session, topic: Topic) -> IncrementalStream:
    """The server side of one incremental book subscription (futures versions advance on empty updates)."""
    depth = CHANNEL_TABLE[topic.channel].book_depth
    assert depth is not None
    version = 100_000 + stable_seed(venue.config.seed, "version", topic.text) % 900_000
    if session.market is Market.FUTURES:  # the venue's version: where the futures clock is now
        ticks = venue.clocks[Market.FUTURES].ticks
        return IncrementalStream(depth, version + ticks, advance_on_empty=True, clock_base=version)
    return IncrementalStream(depth, version, advance_on_empty=False)


def _funding_interval(config: SimulatorConfig) -> float:
    return config.funding_interval


def _position_interval(config: SimulatorConfig) -> float:
    return config.position_interval


CHANNEL_TABLE: Mapping[str, Channel] = {
    "spot/ticker": Channel(_spot_ticker),
    **{f"spot/kline{i}": Channel(partial(_spot_kline, i)) for i in SPOT_KLINE_INTERVALS},
    **{f"spot/depth{n}": Channel(partial(_spot_depth, n)) for n in (5, 20, 50)},
    "spot/depth/increase100": Channel(_book_update, first=First.SNAPSHOT, book_depth=100),
    "spot/trade": Channel(_spot_trade, first=First.NOTHING),
    "spot/bookTicker": Channel(_spot_book_ticker),
    "spot/user/order": Channel(_spot_order, Cadence.ACTIVITY, First.NOTHING),
    "spot/user/orders": Channel(_spot_all_orders, Cadence.ACTIVITY, First.NOTHING),
    "spot/user/balance": Channel(_spot_balance, Cadence.ACTIVITY, First.NOTHING),
    "futures/ticker": Channel(_futures_ticker),
    **{f"futures/depth{n}": Channel(partial(_futures_depth, n)) for n in (5, 20, 50)},
    **{f"futures/depthAll{n}": Channel(partial(_futures_depth_all, n)) for n in (5, 20, 50)},
    **{
        f"futures/depthIncrease{n}": Channel(_book_update, first=First.SNAPSHOT, book_depth=n)
        for n in (5, 20, 50)
    },
    "futures/bookticker": Channel(_futures_book_ticker),
    "futures/trade": Channel(_futures_trade, first=First.NOTHING),
    **{f"futures/klineBin{i}": Channel(partial(_futures_kline, i, False)) for i in FUTURES_KLINE_INTERVALS},
    **{
        f"futures/markPriceKlineBin{i}": Channel(partial(_futures_kline, i, True))
        for i in FUTURES_KLINE_INTERVALS
    },
    "futures/fundingRate": Channel(_funding, Cadence.TIMER, every=_funding_interval),
    "futures/asset": Channel(_asset, Cadence.ACTIVITY),
    "futures/position": Channel(_position, Cadence.ACTIVITY, every=_position_interval),
    "futures/order": Channel(_futures_order, Cadence.ACTIVITY, First.NOTHING),
}
"""Every channel the simulator serves, by name (the protocol core's ``CHANNELS`` keys)."""


# -- what the push loop and the dialects call ------------------------------------------------------


def _now_ms() -> int:
    return time.time_ns() // 1_000_000


def first_frames(venue: Venue, session: Session, topic: Topic) -> list[Message]:
    """What a subscribe sends after its ack, or a ``request`` returns (the channel's ``first``)."""
    channel = CHANNEL_TABLE[topic.channel]
    push = Push(venue, session, topic, _now_ms())
    if channel.first is First.SNAPSHOT:
        return _book_snapshot(push)
    if channel.first is First.CURRENT:
        return channel.render(push)
    return []


def start_topic(venue: Venue, session: Session, topic: Topic) -> None:
    """Set up the per-subscription state of ``topic``: its book stream, its timer."""
    channel = CHANNEL_TABLE[topic.channel]
    if channel.book_depth is not None:
        session.streams[topic.text] = new_stream(venue, session, topic)
    if channel.every is not None:
        session.due[topic.text] = time.monotonic() + channel.every(venue.config)


def tick_frames(venue: Venue, session: Session, topic: Topic, batch: ActivityBatch | None) -> list[Message]:
    """The frames ``topic`` pushes on this tick of its dialect's clock (``batch``: the account's activity)."""
    channel = CHANNEL_TABLE[topic.channel]
    now_ms = venue.clocks[session.market].now_ms or _now_ms()  # the tick's time: the same on every connection
    frames: list[Message] = []
    if channel.cadence is Cadence.TICK:
        frames = channel.render(Push(venue, session, topic, now_ms))
    elif channel.cadence is Cadence.ACTIVITY and batch is not None:
        frames = channel.render(Push(venue, session, topic, now_ms, batch))
    if channel.every is not None:
        now = time.monotonic()
        if not frames and now >= session.due.get(topic.text, 0.0):
            frames = channel.render(Push(venue, session, topic, now_ms))
        if frames:
            session.due[topic.text] = now + channel.every(venue.config)
    return frames
