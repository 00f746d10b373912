"""Keeping one local book in sync with BitMart's incremental depth channel (pure: time is a parameter).

BitMart's book rules, for ``spot/depth/increase100`` and
``futures/depthIncrease{5,20,50}``:

* a ``snapshot`` push replaces the book; ``update`` pushes apply in strict ``version`` order:
  ``version <= local`` is dropped (a duplicate, a stale push, or a spot heartbeat, which repeats the
  version with both sides empty), ``local + 1`` is applied (a futures push advances the version even
  when empty, so it is applied too), anything higher is a **gap**; so is a spot heartbeat at
  ``local + 1``: a heartbeat repeats the version of the last change, so that change was lost;
* a gap, a crossed book after an update, a snapshot older than the book, or no push at all for
  ``stall_timeout`` makes the book invalid (an :class:`Invalidated` event with its :class:`Reason`) and
  resynchronises: a :class:`SendRequest` action (the ``request`` operation; BitMart sends no ack, only
  the snapshot push), buffering the updates meanwhile and replaying those that follow the snapshot;
  if no snapshot arrives within ``snapshot_timeout``, a :class:`Resubscribe` action (the subscribe
  sends a snapshot), repeated at that pace until one arrives;
* a lost connection invalidates the book; once resubscribed (:meth:`BookSync.connected`) the
  subscription's snapshot brings it back.

While invalid, the book keeps the last state that was valid (after a crossed update it is emptied):
no reader ever gets a valid book built across a gap.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from enum import Enum, StrEnum
from operator import attrgetter
from typing import Any

from ..models.futures import FuturesDepthIncrease
from ..models.spot import SpotDepthIncrease
from .orderbook import BookSnapshot, OrderBook

__all__ = [
    "BookState",
    "BookSync",
    "Invalidated",
    "Output",
    "Reason",
    "Resubscribe",
    "Restored",
    "SendRequest",
]

DepthPush = SpotDepthIncrease[Any] | FuturesDepthIncrease[Any]


class BookState(Enum):
    DISCONNECTED = "disconnected"  # no live subscription: nothing arrives
    SYNCING = "syncing"  # waiting for a snapshot (after subscribe, request or resubscribe)
    VALID = "valid"  # the book is the exchange's book at ``version``


class Reason(StrEnum):
    """Why a book became invalid."""

    GAP = "gap"
    CROSSED = "crossed"
    STALE_SNAPSHOT = "stale snapshot"
    STALLED = "stalled"
    DISCONNECTED = "disconnected"


@dataclass(frozen=True, slots=True)
class SendRequest:
    """Action: send the ``request`` operation for ``topic`` (spot ``op``, futures ``action``)."""

    topic: str


@dataclass(frozen=True, slots=True)
class Resubscribe:
    """Action: unsubscribe and subscribe ``topic`` again, then call :meth:`BookSync.connected`."""

    topic: str


@dataclass(frozen=True, slots=True)
class Invalidated:
    """Event: the book stopped being valid (it was valid before)."""

    reason: Reason
    detail: str
    version: int | None


@dataclass(frozen=True, slots=True)
class Restored:
    """Event: the book is valid again (or for the first time), at ``version``."""

    version: int


Output = SendRequest | Resubscribe | Invalidated | Restored

_DISCONNECTED, _SYNCING = BookState.DISCONNECTED, BookState.SYNCING  # bound once: read on every push
_PRICE_VOL = attrgetter("price", "vol")


class BookSync:
    """The synchroniser of one book: feed it inputs, carry out the actions it returns.

    Args:
        topic: the subscribed topic, e.g. ``spot/depth/increase100:BTC_USDT`` or
            ``futures/depthIncrease50:BTCUSDT@100ms`` (used in the actions).
        depth: levels kept per side (100 on spot, N for ``depthIncreaseN``); ``None`` keeps all.
        stall_timeout: seconds without any push (heartbeats count) before a valid book is declared
            stalled. Spot heartbeats come every few seconds on a quiet book; futures pushes every second.
        snapshot_timeout: seconds to wait for a snapshot before asking again (by resubscribing).
        max_buffer: updates kept while waiting for a requested snapshot; the oldest are dropped
            beyond it (the replay then finds a gap and asks again).
    """

    __slots__ = (
        "_buffer",
        "_buffering",
        "_futures",
        "_last_push",
        "_ms_t",
        "_waiting_since",
        "book",
        "reason",
        "snapshot_timeout",
        "stall_timeout",
        "state",
        "topic",
        "version",
    )

    def __init__(
        self,
        topic: str,
        *,
        depth: int | None = None,
        stall_timeout: float = 30.0,
        snapshot_timeout: float = 5.0,
        max_buffer: int = 1000,
    ) -> None:
        self.topic = topic
        self._futures = topic.startswith("futures/")
        self.book: OrderBook[Any] = OrderBook(depth)
        self.stall_timeout = stall_timeout
        self.snapshot_timeout = snapshot_timeout
        self.state = BookState.DISCONNECTED
        self.version: int | None = None
        self.reason: Reason | None = None
        self._ms_t: int | None = None
        self._buffer: deque[DepthPush] = deque(maxlen=max_buffer)
        self._buffering = False
        self._last_push = 0.0
        self._waiting_since = 0.0

    # -- readers ------------------------------------------------------------------------------------

    @property
    def valid(self) -> bool:
        return self.state is BookState.VALID

    @property
    def deadline(self) -> float | None:
        """When :meth:`tick` has work to do (``None``: nothing until the next input)."""
        if self.state is BookState.VALID:
            return self._last_push + self.stall_timeout
        if self.state is BookState.SYNCING:
            return self._waiting_since + self.snapshot_timeout
        return None

    def snapshot(self, levels: int | None = None) -> BookSnapshot[Any]:
        """An immutable copy of the best ``levels`` of each side (all when ``None``)."""
        book = self.book
        return BookSnapshot(book.bids(levels), book.asks(levels), self.version, self.valid, self._ms_t)

    # -- inputs -------------------------------------------------------------------------------------

    def connected(self, now: float) -> list[Output]:
        """The topic is (re)subscribed on a live connection: its snapshot is on the way."""
        self._wait(now, buffering=False)
        return []

    def disconnected(self, now: float) -> list[Output]:
        """The connection carrying the topic is gone."""
        out = self._invalidate(Reason.DISCONNECTED, "the connection was lost")
        self.state = BookState.DISCONNECTED
        self._buffer.clear()
        return out

    def push(self, item: DepthPush, now: float) -> list[Output]:
        """One decoded ``data`` item of the topic (a snapshot or an update)."""
        state = self.state
        if state is _DISCONNECTED:
            return []
        self._last_push = now
        if item.type == "snapshot":
            return self._on_snapshot(item, now)
        if state is _SYNCING:
            if self._buffering:
                self._buffer.append(item)
            return []
        return self._on_update(item, now)

    def tick(self, now: float) -> list[Output]:
        """Time passes: a stalled valid book resynchronises; a missing snapshot is asked for again."""
        if self.state is BookState.VALID and now >= self._last_push + self.stall_timeout:
            silent = now - self._last_push
            return self._invalidate(Reason.STALLED, f"no push for {silent:.1f} s") + self._request(now)
        if self.state is BookState.SYNCING and now >= self._waiting_since + self.snapshot_timeout:
            self._wait(now, buffering=False)
            return [Resubscribe(self.topic)]
        return []

    # -- the rules ----------------------------------------------------------------------------------

    def _sides(self, item: DepthPush) -> tuple[Any, Any]:
        """The (asks, bids) of ``item`` as ``(price, size)`` pairs (futures levels are objects)."""
        asks: Any = item.asks
        bids: Any = item.bids
        if self._futures:  # pairs made in C, no Python frame per side
            return map(_PRICE_VOL, asks), map(_PRICE_VOL, bids)
        return asks, bids

    def _on_snapshot(self, item: DepthPush, now: float) -> list[Output]:
        if self.state is BookState.VALID and self.version is not None and item.version < self.version:
            detail = f"snapshot version {item.version} is older than the book's {self.version}"
            return self._invalidate(Reason.STALE_SNAPSHOT, detail) + self._request(now)
        was_valid = self.valid
        self.book.replace(*self._sides(item))
        self.version, self._ms_t = item.version, item.ms_t
        buffered = list(self._buffer)
        self._buffer.clear()
        for update in buffered:
            version = self.version
            if update.version <= version:
                continue
            if not self._follows(update, version):  # the snapshot does not reach the buffered updates
                return self._request(now)
            self._apply(update)
        if self.book.crossed:
            return self._invalidate(Reason.CROSSED, "the snapshot is crossed", clear=True) + self._request(
                now
            )
        self.state, self.reason = BookState.VALID, None
        return [] if was_valid else [Restored(self.version)]

    def _on_update(self, item: DepthPush, now: float) -> list[Output]:
        local = self.version
        assert local is not None  # a valid book has a version
        version = item.version
        if version <= local:
            return []  # duplicate, stale, or a spot heartbeat
        if version != local + 1 or not (self._futures or item.asks or item.bids):  # not _follows()
            if version == local + 1:
                detail = f"a spot heartbeat carries version {version}: that update was lost"
            else:
                detail = f"expected version {local + 1}, got {version}"
            out = self._invalidate(Reason.GAP, detail) + self._request(now)
            self._buffer.append(item)
            return out
        self._apply(item)
        if self.book.crossed:
            detail = f"best bid reaches best ask at version {version}"
            return self._invalidate(Reason.CROSSED, detail, clear=True) + self._request(now)
        return []

    def _follows(self, item: DepthPush, local: int) -> bool:
        """Whether ``item`` is the update right after version ``local``.

        On spot only a change advances the version: an empty update (a heartbeat) repeats the
        version of the last change, so an empty one at ``local + 1`` means that change was lost.
        """
        if item.version != local + 1:
            return False
        return self._futures or bool(item.asks or item.bids)

    def _apply(self, item: DepthPush) -> None:
        self.book.apply(*self._sides(item))
        self.version, self._ms_t = item.version, item.ms_t

    def _invalidate(self, reason: Reason, detail: str, *, clear: bool = False) -> list[Output]:
        """Leave the valid state (the event carries the version it happened at); ``clear`` empties."""
        version = self.version
        if clear:
            self.book.clear()
            self.version = self._ms_t = None
        if self.state is not BookState.VALID:
            return []
        self.state, self.reason = BookState.SYNCING, reason
        return [Invalidated(reason, detail, version)]

    def _request(self, now: float) -> list[Output]:
        self._wait(now, buffering=True)
        return [SendRequest(self.topic)]

    def _wait(self, now: float, *, buffering: bool) -> None:
        """Wait for a snapshot from ``now``; buffer updates only when the subscription continues."""
        self.state = BookState.SYNCING
        self._waiting_since = now
        self._buffering = buffering
        self._buffer.clear()
