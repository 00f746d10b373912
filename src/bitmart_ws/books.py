"""Local order books kept by the client: :class:`LocalBook`, from :meth:`WebsocketClient.order_book`.

The rules live in the pure :class:`~bitmart_ws.book.BookSync`; this module carries out its actions
(a ``request`` for a fresh snapshot, a resubscribe), runs its one timer, and turns its transitions
into events. One feed per topic is shared by every handle of that topic.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

from .book import BookSnapshot, BookState, BookSync, Invalidated, Output, Restored, Resubscribe, SendRequest
from .exceptions import BookInvalidated, ConfigurationError, InvalidState
from .protocol.keys import Market

if TYPE_CHECKING:
    from .client import WebsocketClient
    from .models import RawUpdate, Update

__all__ = ["LocalBook", "book_topic"]

FUTURES_DEPTHS = (5, 20, 50)


def book_topic(market: Market | str, symbol: str, depth: int | None) -> tuple[str, int]:
    """The incremental depth topic of ``symbol`` and the levels it keeps per side."""
    try:
        m = Market(market)
    except ValueError:
        raise ConfigurationError(f"market must be 'spot' or 'futures', not {market!r}") from None
    if m is Market.SPOT:
        if depth not in (None, 100):
            raise ConfigurationError("spot books are spot/depth/increase100: depth is 100")
        return f"spot/depth/increase100:{symbol}", 100
    depth = 50 if depth is None else depth
    if depth not in FUTURES_DEPTHS:
        raise ConfigurationError(f"futures book depth must be one of {FUTURES_DEPTHS}, not {depth!r}")
    return f"futures/depthIncrease{depth}:{symbol}", depth


class _BookFeed:
    """The shared state of one topic's book: the synchroniser, its timer, the readers' wake-up."""

    def __init__(self, client: WebsocketClient, topic: str, depth: int) -> None:
        self.client = client
        self.topic = topic
        self.sync = BookSync(topic, depth=depth)
        self.handles = 0
        self.resyncs = 0
        self.ready: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._change: asyncio.Future[None] | None = None
        self._timer: asyncio.TimerHandle | None = None
        self._timer_at: float | None = None

    # inputs from the client's router
    def feed(self, update: Update[Any] | RawUpdate, now: float) -> None:
        sync = self.sync
        version, state = sync.version, sync.state
        for item in getattr(update, "items", ()):
            outputs = sync.push(item, now)
            if outputs:
                self._carry_out(outputs)
        if sync.version != version or sync.valid != (state is BookState.VALID):
            self._changed()
        if self._timer is None or sync.state is not state:  # else the deadline only moved later
            self._arm()

    def connected(self, now: float) -> None:
        self._carry_out(self.sync.connected(now))
        self._arm()

    def disconnected(self, now: float) -> None:
        was_valid = self.sync.valid
        self._carry_out(self.sync.disconnected(now))
        if was_valid:
            self._changed()
        self._arm()

    def resync(self, now: float) -> None:
        """Ask for a fresh snapshot now (the topic was already subscribed: no snapshot is coming)."""
        self._carry_out(self.sync.connected(now))
        self.client._book_request(self.topic)
        self._arm()

    def _tick(self) -> None:
        self._timer = None
        loop = asyncio.get_running_loop()
        now = max(loop.time(), self._timer_at or 0.0)
        was_valid = self.sync.valid
        self._carry_out(self.sync.tick(now))
        if was_valid != self.sync.valid:
            self._changed()
        self._arm()

    def _carry_out(self, outputs: list[Output]) -> None:
        for out in outputs:
            if isinstance(out, SendRequest):
                self.client._book_request(out.topic)
            elif isinstance(out, Resubscribe):
                self.client._book_renew(out.topic)
            elif isinstance(out, Invalidated):
                self.resyncs += 1
                error = BookInvalidated(
                    f"order book {self.topic} invalid ({out.reason.value}: {out.detail}); resynchronising",
                    topic=self.topic,
                    reason=out.reason.value,
                )
                self.client._book_event(self.topic, error, out.version)
            elif isinstance(out, Restored):
                if not self.ready.done():
                    self.ready.set_result(None)
                self.client.logger.info("order book %s valid at version %d", self.topic, out.version)

    def _arm(self) -> None:
        """Keep the timer at or before the synchroniser's deadline. Every push moves the stall deadline
        later: a timer that fires early finds nothing to do in :meth:`_tick` and re-arms itself there,
        so a busy book re-arms about once per ``stall_timeout``, not once per push."""
        deadline = self.sync.deadline
        timer = self._timer
        if timer is not None:
            if deadline is not None and self._timer_at is not None and self._timer_at <= deadline:
                return
            timer.cancel()
            self._timer = None
        self._timer_at = deadline
        if deadline is not None:
            self._timer = asyncio.get_running_loop().call_at(deadline, self._tick)

    def _changed(self) -> None:
        change, self._change = self._change, None
        if change is not None and not change.done():
            change.set_result(None)

    async def next_change(self) -> None:
        if self._change is None:
            self._change = asyncio.get_running_loop().create_future()
        await asyncio.shield(self._change)

    def stop(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if not self.ready.done():
            self.ready.cancel()
        self._changed()


class LocalBook:
    """A local order book that is never wrong: when :attr:`valid`, it is the exchange's book at
    :attr:`version`. A gap, a crossed book, an older snapshot, a stalled stream or a dropped
    connection makes it invalid (reported as an ``exception`` event with
    :class:`~bitmart_ws.exceptions.BookInvalidated`) until it has resynchronised by itself.
    """

    def __init__(self, feed: _BookFeed) -> None:
        self._feed = feed
        self._closed = False

    def __repr__(self) -> str:
        state = "closed" if self._closed else "valid" if self.valid else "invalid"
        return f"<LocalBook {self.topic} {state} version={self.version}>"

    @property
    def topic(self) -> str:
        return self._feed.topic

    @property
    def valid(self) -> bool:
        """False while resynchronising or while its connection is down."""
        return not self._closed and self._feed.sync.valid

    @property
    def version(self) -> int | None:
        """The exchange's version of the state :meth:`snapshot` shows."""
        return self._feed.sync.version

    @property
    def resyncs(self) -> int:
        """How many times the book became invalid and resynchronised."""
        return self._feed.resyncs

    def snapshot(self, levels: int | None = None) -> BookSnapshot[Any]:
        """An immutable copy: ``.bids``/``.asks`` = ``((price, size), ...)`` best first, ``.version``,
        ``.valid``, ``.best_bid``, ``.best_ask``, ``.spread``."""
        return self._feed.sync.snapshot(levels)

    async def changed(self) -> None:
        """Wait until the book changes (a new version, or its validity)."""
        if self._closed:
            raise InvalidState(f"order book {self.topic} is closed")
        await self._feed.next_change()

    async def close(self) -> None:
        """Stop using the book; its topic is unsubscribed when no one else needs it."""
        if self._closed:
            return
        self._closed = True
        await self._feed.client._release_book(self._feed)
