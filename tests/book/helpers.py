"""Building depth pushes for the book tests, and the naive reference book (a dict and a sort)."""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal

from bitmart_ws.models import FuturesDepthIncrease, FuturesLevel, SpotDepthIncrease

SPOT_TOPIC = "spot/depth/increase100:BTC_USDT"
FUTURES_TOPIC = "futures/depthIncrease20:BTCUSDT@100ms"

Levels = Iterable[tuple[int | str, int | str]]


def _pairs(levels: Levels) -> tuple[tuple[Decimal, Decimal], ...]:
    return tuple((Decimal(str(p)), Decimal(str(s))) for p, s in levels)


def push(
    topic: str, kind: str, version: int, asks: Levels = (), bids: Levels = ()
) -> SpotDepthIncrease[Decimal] | FuturesDepthIncrease[Decimal]:
    """A decoded depth push of ``topic``'s market."""
    a, b = _pairs(asks), _pairs(bids)
    if topic.startswith("spot/"):
        return SpotDepthIncrease("BTC_USDT", kind, version, 1_700_000_000_000 + version, a, b)
    fa = tuple(FuturesLevel(p, s) for p, s in a)
    fb = tuple(FuturesLevel(p, s) for p, s in b)
    return FuturesDepthIncrease("BTCUSDT", kind, version, 1_700_000_000_000 + version, fa, fb)


class NaiveBook:
    """The obviously right book: one dict per side, sorted when read."""

    def __init__(self) -> None:
        self.asks: dict[Decimal, Decimal] = {}
        self.bids: dict[Decimal, Decimal] = {}

    def apply(self, asks: Levels, bids: Levels) -> None:
        for side, levels in ((self.asks, asks), (self.bids, bids)):
            for price, size in _pairs(levels):
                if size == 0:
                    side.pop(price, None)
                else:
                    side[price] = size

    def copy(self) -> NaiveBook:
        other = NaiveBook()
        other.asks, other.bids = dict(self.asks), dict(self.bids)
        return other

    def view(self, depth: int | None = None) -> tuple[tuple[tuple[Decimal, Decimal], ...], ...]:
        """(bids best first, asks best first), each cut at ``depth``."""
        bids = tuple(sorted(self.bids.items(), reverse=True)[:depth])
        asks = tuple(sorted(self.asks.items())[:depth])
        return bids, asks
