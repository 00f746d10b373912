"""Seeded, deterministic synthetic market data and the wire payloads of every public channel.

Pure code: no asyncio, no clock. The caller passes ``now_ms`` to :meth:`SymbolMarket.step` and to
the renderers. Prices and sizes are kept as integers (ticks and lots) and formatted as strings on the
way out, so every value on the wire is exact.
"""

from __future__ import annotations

import datetime as dt
import random
import zlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from ..protocol.keys import Market

__all__ = [
    "BOOK_LEVELS",
    "IncrementalStream",
    "Instrument",
    "Kline",
    "SymbolMarket",
    "TradePrint",
    "futures_symbol",
    "instrument_for",
    "interval_start",
    "stable_seed",
]

BOOK_LEVELS = 150
"""Price levels kept on each side of every book (spot increase100 shows the best 100)."""

_KNOWN_PRICES: Mapping[str, float] = {"BTC": 65_000.0, "ETH": 3_200.0, "SOL": 150.0, "XRP": 0.6, "BMX": 0.3}

_INTERVAL_SECONDS: Mapping[str, int] = {
    "1m": 60,
    "5m": 300,
    "15m": 900,
    "30m": 1800,
    "1H": 3600,
    "2H": 7200,
    "4H": 14400,
    "1D": 86400,
    "1W": 604800,
}
_MONDAY_OFFSET = 4 * 86400  # 1970-01-01 was a Thursday; weekly candles open on Mondays


def stable_seed(seed: int, *parts: str) -> int:
    """A seed derived from ``seed`` and strings, stable across processes (unlike ``hash``)."""
    return (seed * 1_000_003 + zlib.crc32("|".join(parts).encode())) & 0xFFFFFFFF


def futures_symbol(spot_symbol: str) -> str:
    """The futures form of a spot symbol: ``BTC_USDT`` -> ``BTCUSDT``."""
    return spot_symbol.replace("_", "")


def interval_start(interval: str, now_s: int) -> int:
    """Open time (seconds) of the candle of ``interval`` that contains ``now_s``."""
    if interval == "1M":
        day = dt.datetime.fromtimestamp(now_s, dt.UTC)
        return int(dt.datetime(day.year, day.month, 1, tzinfo=dt.UTC).timestamp())
    width = _INTERVAL_SECONDS[interval]
    if interval == "1W":
        return (now_s - _MONDAY_OFFSET) // width * width + _MONDAY_OFFSET
    return now_s // width * width


@dataclass(frozen=True, slots=True)
class Instrument:
    """Static description of a symbol: how its prices and sizes are quoted."""

    symbol: str
    market: Market
    base: str
    quote: str
    start_price: float
    price_decimals: int
    size_decimals: int  # 0 on futures: sizes are contracts

    @property
    def tick(self) -> float:
        return float(10**-self.price_decimals)

    def price(self, ticks: int) -> str:
        return f"{ticks / 10**self.price_decimals:.{self.price_decimals}f}"

    def size(self, lots: int) -> str:
        if self.size_decimals == 0:
            return str(lots)
        return f"{lots / 10**self.size_decimals:.{self.size_decimals}f}"


def instrument_for(symbol: str, market: Market, seed: int) -> Instrument:
    """Describe ``symbol`` (``BTC_USDT`` on spot, ``BTCUSDT`` on futures) with plausible quoting."""
    if market is Market.SPOT:
        base, _, quote = symbol.partition("_")
    else:
        quote = next((q for q in ("USDT", "USDC", "USD") if symbol.endswith(q)), "USDT")
        base = symbol[: -len(quote)] if symbol.endswith(quote) else symbol
    rng = random.Random(stable_seed(seed, "instrument", base))
    price = _KNOWN_PRICES.get(base, round(rng.uniform(1.0, 500.0), 2))
    price_decimals = 1 if price >= 10_000 else 2 if price >= 10 else 4
    if market is Market.SPOT and price >= 10_000:
        price_decimals = 2
    size_decimals = 5 if market is Market.SPOT else 0
    return Instrument(symbol, market, base, quote, price, price_decimals, size_decimals)


@dataclass(slots=True)
class Kline:
    """One candle; prices in ticks, volume in lots."""

    open_time: int
    open: int
    high: int
    low: int
    close: int
    volume: int

    def roll(self, start: int, price: int) -> None:
        """Start a new candle at ``start`` opening at ``price``."""
        self.open_time, self.open, self.high, self.low, self.close, self.volume = (
            start,
            price,
            price,
            price,
            price,
            0,
        )

    def trade(self, price: int, lots: int) -> None:
        self.high = max(self.high, price)
        self.low = min(self.low, price)
        self.close = price
        self.volume += lots


@dataclass(frozen=True, slots=True)
class TradePrint:
    """One taker trade."""

    trade_id: int
    price: int
    lots: int
    taker_buys: bool
    ms: int


@dataclass
class SymbolMarket:
    """The evolving market of one symbol: a random-walk mid, a book, trades, klines, 24 h stats.

    Every step is drawn from a private ``random.Random`` seeded from the simulator seed and the symbol,
    so two runs with the same seed and the same sequence of steps produce the same data.
    """

    instrument: Instrument
    seed: int
    quiet_probability: float = 0.2
    rng: random.Random = field(init=False)
    mid: int = field(init=False)
    asks: dict[int, int] = field(init=False, default_factory=dict)
    bids: dict[int, int] = field(init=False, default_factory=dict)
    trades: list[TradePrint] = field(init=False, default_factory=list)
    last_price: int = field(init=False)
    open_24h: int = field(init=False)
    high_24h: int = field(init=False)
    low_24h: int = field(init=False)
    base_volume_24h: int = field(init=False)
    quote_volume_24h: float = field(init=False)
    klines: dict[str, Kline] = field(init=False, default_factory=dict)
    mark_klines: dict[str, Kline] = field(init=False, default_factory=dict)
    funding_rate: float = field(init=False)
    next_trade_id: int = field(init=False)
    steps: int = field(init=False, default=0)
    last_step_ms: int = field(init=False, default=0)

    def __post_init__(self) -> None:
        inst = self.instrument
        self.rng = random.Random(stable_seed(self.seed, "market", inst.market.value, inst.symbol))
        scale = 10**inst.price_decimals
        self.mid = round(inst.start_price * scale * self.rng.uniform(0.98, 1.02))
        self.last_price = self.mid
        self.open_24h = round(self.mid * self.rng.uniform(0.97, 1.03))
        self.high_24h = max(self.open_24h, self.mid) + self.rng.randint(1, max(2, self.mid // 100))
        self.low_24h = min(self.open_24h, self.mid) - self.rng.randint(1, max(2, self.mid // 100))
        self.base_volume_24h = self._lots() * self.rng.randint(5_000, 20_000)
        self.quote_volume_24h = self.base_volume_24h / 10**inst.size_decimals * inst.start_price
        self.funding_rate = self.rng.uniform(-0.0002, 0.0003)
        self.next_trade_id = 3_000_000_000_000_000 + self.rng.randint(0, 10**9)
        for i in range(1, BOOK_LEVELS + 1):
            self.asks[self.mid + i] = self._lots()
            self.bids[self.mid - i] = self._lots()

    # -- evolution ---------------------------------------------------------------------------------

    def _lots(self) -> int:
        scale = 10**self.instrument.size_decimals
        if self.instrument.size_decimals == 0:
            return self.rng.randint(1, 5_000)
        return self.rng.randint(scale // 1000 or 1, 3 * scale)

    def step(self, now_ms: int) -> None:
        """Advance one tick: maybe move the mid, change some levels and print some trades.

        A *quiet* step (probability ``quiet_probability``) changes nothing; it is what makes spot
        incremental-book heartbeats (empty update, same version) appear.
        """
        self.steps += 1
        self.last_step_ms = now_ms
        self.trades = []
        self._roll_klines(now_ms)
        if self.rng.random() < self.quiet_probability:
            return
        move = self.rng.choice((-2, -1, -1, 0, 0, 0, 1, 1, 2))
        self.mid += move
        for price in [p for p in self.asks if p <= self.mid]:
            del self.asks[price]
        for price in [p for p in self.bids if p >= self.mid]:
            del self.bids[price]
        for i in range(1, BOOK_LEVELS + 1):
            self.asks.setdefault(self.mid + i, self._lots())
            self.bids.setdefault(self.mid - i, self._lots())
        for price in [p for p in self.asks if p > self.mid + BOOK_LEVELS]:
            del self.asks[price]
        for price in [p for p in self.bids if p < self.mid - BOOK_LEVELS]:
            del self.bids[price]
        for _ in range(self.rng.randint(1, 6)):
            side = self.asks if self.rng.random() < 0.5 else self.bids
            depth = min(int(self.rng.expovariate(0.15)) + 1, BOOK_LEVELS)
            price = self.mid + depth if side is self.asks else self.mid - depth
            side[price] = self._lots()
        for n in range(self.rng.randint(0, 3)):
            buys = move > 0 or (move == 0 and self.rng.random() < 0.5)
            price = min(self.asks) if buys else max(self.bids)
            self._print(TradePrint(self.next_trade_id, price, max(1, self._lots() // 10), buys, now_ms + n))
            self.next_trade_id += self.rng.randint(1, 50)
        self.funding_rate = min(0.0375, max(-0.0375, self.funding_rate + self.rng.uniform(-1e-5, 1e-5)))

    def _print(self, trade: TradePrint) -> None:
        self.trades.append(trade)
        self.last_price = trade.price
        self.high_24h = max(self.high_24h, trade.price)
        self.low_24h = min(self.low_24h, trade.price)
        self.base_volume_24h += trade.lots
        inst = self.instrument
        self.quote_volume_24h += trade.lots / 10**inst.size_decimals * trade.price / 10**inst.price_decimals
        for kline in self.klines.values():
            kline.trade(trade.price, trade.lots)
        for kline in self.mark_klines.values():
            kline.trade(self.mark_price, trade.lots)

    def _roll_klines(self, now_ms: int) -> None:
        now_s = now_ms // 1000
        for book in (self.klines, self.mark_klines):
            for interval, kline in book.items():
                start = interval_start(interval, now_s)
                if start != kline.open_time:
                    kline.roll(start, kline.close)

    def kline(self, interval: str, now_ms: int, *, mark: bool = False) -> Kline:
        """The current candle of ``interval`` (created on first use)."""
        book = self.mark_klines if mark else self.klines
        kline = book.get(interval)
        start = interval_start(interval, now_ms // 1000)
        if kline is None:
            price = self.mark_price if mark else self.last_price
            spread = max(1, price // 500)
            kline = Kline(
                start, price - spread // 2, price + spread, price - spread, price, self._lots() * 20
            )
            book[interval] = kline
        elif kline.open_time != start:
            kline.roll(start, kline.close)
        return kline

    # -- derived values ----------------------------------------------------------------------------

    @property
    def best_ask(self) -> int:
        return min(self.asks)

    @property
    def best_bid(self) -> int:
        return max(self.bids)

    @property
    def mark_price(self) -> int:
        return self.last_price + (self.steps % 3) - 1

    @property
    def index_price(self) -> int:
        return self.last_price + (self.steps % 5) - 2

    def top(self, side: str, depth: int) -> list[tuple[int, int]]:
        """The best ``depth`` levels of ``side`` (``"asks"`` ascending, ``"bids"`` descending)."""
        if side == "asks":
            return sorted(self.asks.items())[:depth]
        return sorted(self.bids.items(), reverse=True)[:depth]

    # -- spot payloads ------------------------------------------------------------------------

    def spot_ticker(self, now_ms: int) -> dict[str, Any]:
        inst = self.instrument
        ask, bid = self.best_ask, self.best_bid
        change = (self.last_price - self.open_24h) / self.open_24h
        return {
            "symbol": inst.symbol,
            "last_price": inst.price(self.last_price),
            "open_24h": inst.price(self.open_24h),
            "high_24h": inst.price(self.high_24h),
            "low_24h": inst.price(self.low_24h),
            "base_volume_24h": inst.size(self.base_volume_24h),
            "quote_volume_24h": f"{self.quote_volume_24h:.2f}",
            "fluctuation": f"{change:.4f}",
            "bid_px": inst.price(bid),
            "bid_sz": inst.size(self.bids[bid]),
            "ask_px": inst.price(ask),
            "ask_sz": inst.size(self.asks[ask]),
            "ms_t": now_ms,
            "s_t": now_ms // 1000,
        }

    def spot_kline(self, interval: str, now_ms: int) -> dict[str, Any]:
        inst, k = self.instrument, self.kline(interval, now_ms)
        candle = [k.open_time, inst.price(k.open), inst.price(k.high), inst.price(k.low)]
        return {"symbol": inst.symbol, "candle": [*candle, inst.price(k.close), inst.size(k.volume)]}

    def spot_depth(self, depth: int, now_ms: int) -> dict[str, Any]:
        inst = self.instrument
        return {
            "symbol": inst.symbol,
            "ms_t": now_ms,
            "asks": [[inst.price(p), inst.size(s)] for p, s in self.top("asks", depth)],
            "bids": [[inst.price(p), inst.size(s)] for p, s in self.top("bids", depth)],
        }

    def spot_trades(self) -> list[dict[str, Any]]:
        inst = self.instrument
        return [  # oldest first on spot
            {
                "symbol": inst.symbol,
                "side": "buy" if t.taker_buys else "sell",
                "price": inst.price(t.price),
                "size": inst.size(t.lots),
                "s_t": t.ms // 1000,
                "ms_t": t.ms,
            }
            for t in self.trades
        ]

    def spot_book_ticker(self, now_ms: int) -> dict[str, Any]:
        inst = self.instrument
        ask, bid = self.best_ask, self.best_bid
        return {
            "symbol": inst.symbol,
            "bid_px": inst.price(bid),
            "bid_sz": inst.size(self.bids[bid]),
            "ask_px": inst.price(ask),
            "ask_sz": inst.size(self.asks[ask]),
            "ms_t": now_ms,
        }

    # -- futures payloads ---------------------------------------------------------------------

    def futures_ticker(self) -> dict[str, Any]:
        inst = self.instrument
        ask, bid = self.best_ask, self.best_bid
        return {
            "symbol": inst.symbol,
            "last_price": inst.price(self.last_price),
            "volume_24": str(self.base_volume_24h),
            "range": f"{(self.last_price - self.open_24h) / self.open_24h:.16f}",
            "mark_price": inst.price(self.mark_price),
            "index_price": inst.price(self.index_price),
            "ask_price": inst.price(ask),
            "ask_vol": str(self.asks[ask]),
            "bid_price": inst.price(bid),
            "bid_vol": str(self.bids[bid]),
        }

    def futures_levels(self, side: str, depth: int) -> list[dict[str, str]]:
        inst = self.instrument
        return [{"price": inst.price(p), "vol": inst.size(s)} for p, s in self.top(side, depth)]

    def futures_depth_side(self, depth: int, way: int, now_ms: int) -> dict[str, Any]:
        side = "bids" if way == 1 else "asks"
        depths = self.futures_levels(side, depth)
        return {"symbol": self.instrument.symbol, "way": way, "ms_t": now_ms, "depths": depths}

    def futures_depth_all(self, depth: int, now_ms: int) -> dict[str, Any]:
        return {
            "symbol": self.instrument.symbol,
            "ms_t": now_ms,
            "asks": self.futures_levels("asks", depth),
            "bids": self.futures_levels("bids", depth),
        }

    def futures_book_ticker(self, now_ms: int) -> dict[str, Any]:
        inst = self.instrument
        ask, bid = self.best_ask, self.best_bid
        return {
            "symbol": inst.symbol,
            "best_bid_price": inst.price(bid),
            "best_bid_vol": str(self.bids[bid]),
            "best_ask_price": inst.price(ask),
            "best_ask_vol": str(self.asks[ask]),
            "ms_t": now_ms,
        }

    def futures_trades(self) -> list[dict[str, Any]]:
        inst = self.instrument
        out = []
        for t in reversed(self.trades):  # newest first on futures
            stamp = dt.datetime.fromtimestamp(t.ms / 1000, dt.UTC)
            created = stamp.strftime("%Y-%m-%dT%H:%M:%S.") + f"{t.ms % 1000:03d}{t.trade_id % 1_000_000:06d}Z"
            way = t.trade_id % 4 + (1 if t.taker_buys else 5)
            out.append(
                {
                    "trade_id": t.trade_id,
                    "symbol": inst.symbol,
                    "deal_price": inst.price(t.price),
                    "deal_vol": str(t.lots),
                    "way": way,
                    "m": not t.taker_buys,
                    "created_at": created,
                }
            )
        return out

    def futures_kline(self, interval: str, now_ms: int, *, mark: bool = False) -> dict[str, Any]:
        inst, k = self.instrument, self.kline(interval, now_ms, mark=mark)
        item = {
            "o": inst.price(k.open),
            "h": inst.price(k.high),
            "l": inst.price(k.low),
            "c": inst.price(k.close),
            "v": str(k.volume),
            "ts": k.open_time,
        }
        return {"symbol": inst.symbol, "items": [item]}

    def futures_funding(self, now_ms: int) -> dict[str, Any]:
        next_time = (now_ms // 28_800_000 + 1) * 28_800_000
        return {
            "symbol": self.instrument.symbol,
            "fundingRate": f"{self.funding_rate:.12f}",
            "fundingTime": now_ms // 1000 * 1000,
            "nextFundingRate": f"{self.funding_rate * 0.96:.7f}",
            "nextFundingTime": next_time,
            "funding_upper_limit": "0.0375",
            "funding_lower_limit": "-0.0375",
            "ts": now_ms,
        }


@dataclass
class IncrementalStream:
    """One subscriber's view of an incremental book.

    The stream remembers the window it last sent and emits the difference to the current window, so a
    client that applies the updates to the snapshot holds exactly the server's top ``depth`` levels.
    ``advance_on_empty`` is the futures rule (every push is ``version + 1``); spot keeps the version on
    an empty heartbeat. ``clock_base``: futures versions are the venue's, ``clock_base`` + the ticks of
    the futures clock, the same on every connection (see ``channels._on_venue_clock``).
    """

    depth: int
    version: int
    advance_on_empty: bool
    clock_base: int = 0
    sent_asks: dict[int, int] = field(default_factory=dict)
    sent_bids: dict[int, int] = field(default_factory=dict)
    pending_gap: int = 0

    def snapshot(self, market: SymbolMarket) -> tuple[int, list[tuple[int, int]], list[tuple[int, int]]]:
        """Reset the view to the current window; returns ``(version, asks, bids)`` of the snapshot."""
        asks, bids = market.top("asks", self.depth), market.top("bids", self.depth)
        self.sent_asks, self.sent_bids = dict(asks), dict(bids)
        return self.version, asks, bids

    def update(self, market: SymbolMarket) -> tuple[int, list[tuple[int, int]], list[tuple[int, int]]]:
        """The changes since the last push, as absolute sizes (``0`` deletes a level)."""
        asks = _diff(self.sent_asks, dict(market.top("asks", self.depth)), reverse=False)
        bids = _diff(self.sent_bids, dict(market.top("bids", self.depth)), reverse=True)
        self.sent_asks = dict(market.top("asks", self.depth))
        self.sent_bids = dict(market.top("bids", self.depth))
        if asks or bids or self.advance_on_empty:
            self.version += 1 + self.pending_gap
            self.pending_gap = 0
        return self.version, asks, bids


def _diff(old: dict[int, int], new: dict[int, int], *, reverse: bool) -> list[tuple[int, int]]:
    changed = {p: s for p, s in new.items() if old.get(p) != s}
    changed.update({p: 0 for p in old if p not in new})
    return sorted(changed.items(), reverse=reverse)


def format_levels(
    inst: Instrument, levels: Iterable[tuple[int, int]], *, objects: bool
) -> list[list[str]] | list[dict[str, str]]:
    """Levels as spot ``[price, size]`` pairs or futures ``{"price","vol"}`` objects."""
    if objects:
        return [{"price": inst.price(p), "vol": inst.size(s)} for p, s in levels]
    return [[inst.price(p), inst.size(s)] for p, s in levels]
