"""A local order book: two sorted price lists plus dicts, updated with ``bisect`` (pure, no I/O).

Sizes are absolute (BitMart's rule): a size of zero (``"0"``, ``"0.00000"``... compared numerically)
deletes the level, a new price inserts one, a known price overwrites it. Bids are kept under negated
prices so that both lists are ascending with the best level first.
"""

from __future__ import annotations

from bisect import bisect_left, insort
from collections.abc import Iterable
from decimal import Decimal
from typing import Generic, TypeVar

import msgspec

__all__ = ["BookSnapshot", "OrderBook"]

P = TypeVar("P", Decimal, float)


class BookSnapshot(msgspec.Struct, Generic[P], frozen=True, gc=False):
    """An immutable copy of a book: ``bids``/``asks`` are ``((price, size), ...)``, best first.

    ``version`` is the exchange's version of this state; ``valid`` is False when the book was not in
    sync when the copy was taken (it is then the last state that was, or empty).
    """

    bids: tuple[tuple[P, P], ...]
    asks: tuple[tuple[P, P], ...]
    version: int | None
    valid: bool
    ms_t: int | None = None

    @property
    def best_bid(self) -> tuple[P, P] | None:
        return self.bids[0] if self.bids else None

    @property
    def best_ask(self) -> tuple[P, P] | None:
        return self.asks[0] if self.asks else None

    @property
    def spread(self) -> P | None:
        if not self.bids or not self.asks:
            return None
        return self.asks[0][0] - self.bids[0][0]


class OrderBook(Generic[P]):
    """Price levels of both sides, at most ``depth`` per side (levels beyond it are dropped)."""

    __slots__ = ("_ask_keys", "_asks", "_bid_keys", "_bids", "depth")

    def __init__(self, depth: int | None = None) -> None:
        self.depth = depth
        self._asks: dict[P, P] = {}
        self._bids: dict[P, P] = {}
        self._ask_keys: list[P] = []  # ascending prices
        self._bid_keys: list[P] = []  # ascending negated prices

    def clear(self) -> None:
        self._asks.clear()
        self._bids.clear()
        self._ask_keys.clear()
        self._bid_keys.clear()

    def replace(self, asks: Iterable[tuple[P, P]], bids: Iterable[tuple[P, P]]) -> None:
        """Replace the whole book (a snapshot); zero sizes are ignored."""
        self.clear()
        self.apply(asks, bids)

    def apply(self, asks: Iterable[tuple[P, P]], bids: Iterable[tuple[P, P]]) -> None:
        """Apply absolute levels to each side."""
        depth = self.depth
        levels, keys = self._asks, self._ask_keys
        for price, size in asks:
            if size == 0:
                if levels.pop(price, None) is not None:
                    del keys[bisect_left(keys, price)]
            else:
                if price not in levels:
                    insort(keys, price)
                levels[price] = size
        if depth is not None:
            while len(keys) > depth:
                del levels[keys.pop()]
        levels, keys = self._bids, self._bid_keys
        for price, size in bids:
            if size == 0:
                if levels.pop(price, None) is not None:
                    del keys[bisect_left(keys, -price)]
            else:
                if price not in levels:
                    insort(keys, -price)
                levels[price] = size
        if depth is not None:
            while len(keys) > depth:
                del levels[-keys.pop()]

    @property
    def crossed(self) -> bool:
        """Whether the best bid reaches the best ask (an impossible book)."""
        return bool(self._ask_keys and self._bid_keys) and -self._bid_keys[0] >= self._ask_keys[0]

    def best_bid(self) -> tuple[P, P] | None:
        if not self._bid_keys:
            return None
        price = -self._bid_keys[0]
        return price, self._bids[price]

    def best_ask(self) -> tuple[P, P] | None:
        if not self._ask_keys:
            return None
        price = self._ask_keys[0]
        return price, self._asks[price]

    def bids(self, levels: int | None = None) -> tuple[tuple[P, P], ...]:
        """Bids best (highest) first."""
        book = self._bids
        return tuple((-k, book[-k]) for k in self._bid_keys[:levels])

    def asks(self, levels: int | None = None) -> tuple[tuple[P, P], ...]:
        """Asks best (lowest) first."""
        book = self._asks
        return tuple((k, book[k]) for k in self._ask_keys[:levels])

    def __len__(self) -> int:
        return len(self._ask_keys) + len(self._bid_keys)
