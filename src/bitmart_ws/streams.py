"""Typed ``async for`` streams with bounded memory and an explicit overflow policy.

``async with client.stream(["spot/ticker:BTC_USDT"]) as s: async for update in s: ...`` yields
:class:`~bitmart_ws.models.Update` values (a :class:`~bitmart_ws.models.RawUpdate` for a channel
without a model). Entering subscribes the topics (shared: a topic another stream, book or the user
already holds is not sent again); leaving unsubscribes what nobody else needs.
"""

from __future__ import annotations

import asyncio
from collections import deque
from dataclasses import dataclass
from enum import StrEnum
from types import TracebackType
from typing import TYPE_CHECKING, Any, Self

from .exceptions import ConfigurationError, InvalidState, StreamOverflow

if TYPE_CHECKING:
    from .client import WebsocketClient
    from .models import RawUpdate, Update

__all__ = ["Overflow", "Stream", "StreamStats"]


class Overflow(StrEnum):
    """What a full queue does with the next item.

    - ``FAIL`` (the default): the stream ends with :class:`~bitmart_ws.exceptions.StreamOverflow`
      at the next ``async for`` step; nothing is lost silently.
    - ``BLOCK``: back-pressure: the client stops reading its sockets until the consumer has drained
      half the queue (every topic of the client waits, and the pause is reported as an
      ``exception`` event); the queue may exceed ``maxsize`` by the frames of one socket read.
    - ``DROP_OLDEST``: the oldest queued item is dropped (counted in ``stats.dropped``).
    - ``KEEP_LATEST``: one item per topic: a newer push of a topic replaces the queued one (for
      tickers and full-depth snapshots, never for trades or increments).
    """

    FAIL = "fail"
    BLOCK = "block"
    DROP_OLDEST = "drop_oldest"
    KEEP_LATEST = "keep_latest"


@dataclass(frozen=True, slots=True)
class StreamStats:
    delivered: int
    dropped: int
    high_water: int
    queued: int


class Stream:
    """One consumer's bounded view of some topics. Create it with :meth:`WebsocketClient.stream`."""

    def __init__(
        self, client: WebsocketClient, topics: list[str], *, maxsize: int, overflow: Overflow | str
    ) -> None:
        if not isinstance(maxsize, int) or maxsize < 1:
            raise ConfigurationError(f"maxsize must be a positive int, not {maxsize!r}")
        try:
            self.overflow = Overflow(overflow)
        except ValueError:
            choices = ", ".join(o.value for o in Overflow)
            raise ConfigurationError(f"overflow must be one of {choices}, not {overflow!r}") from None
        self.topics = tuple(topics)
        self.maxsize = maxsize
        self._client = client
        self._items: deque[Update[Any] | RawUpdate] = deque()
        self._latest: dict[str, Update[Any] | RawUpdate] = {}  # KEEP_LATEST only
        self._waiter: asyncio.Future[None] | None = None
        self._error: BaseException | None = None
        self._blocking = False
        self._entered = False
        self._closed = False
        self._delivered = 0
        self._dropped = 0
        self._high = 0

    def __repr__(self) -> str:
        return f"<Stream {len(self.topics)} topic(s) {self.overflow.value} queued={len(self)}>"

    def __len__(self) -> int:
        return len(self._latest) if self.overflow is Overflow.KEEP_LATEST else len(self._items)

    @property
    def stats(self) -> StreamStats:
        return StreamStats(self._delivered, self._dropped, self._high, len(self))

    # -- producer side (the client's update path, synchronous) ----------------------------------
    def feed(self, update: Update[Any] | RawUpdate, now: float) -> None:
        if self._closed or self._error is not None:
            return
        policy = self.overflow
        if policy is Overflow.KEEP_LATEST:
            latest = self._latest
            if update.topic in latest:
                del latest[update.topic]
                self._dropped += 1
            elif len(latest) >= self.maxsize:
                del latest[next(iter(latest))]
                self._dropped += 1
            latest[update.topic] = update
            size = len(latest)
        else:
            items = self._items
            if len(items) >= self.maxsize:
                if policy is Overflow.DROP_OLDEST:
                    items.popleft()
                    self._dropped += 1
                elif policy is Overflow.FAIL:
                    self._fail(
                        StreamOverflow(
                            f"stream of {', '.join(self.topics)}: {self.maxsize} items queued and the "
                            "consumer is not keeping up (overflow=fail)",
                            maxsize=self.maxsize,
                        )
                    )
                    return
                elif not self._blocking:
                    self._blocking = True
                    self._client._pressure(self, True)
            items.append(update)
            size = len(items)
        if size > self._high:
            self._high = size
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def connected(self, now: float) -> None:
        """The topics' subscription is (re)acknowledged: nothing to do for a stream."""

    def disconnected(self, now: float) -> None:
        """The connection dropped: the stream simply waits for the reconnect."""

    def _fail(self, error: BaseException) -> None:
        self._error = error
        self._items.clear()
        self._latest.clear()
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    # -- consumer side -----------------------------------------------------------------------------
    def __aiter__(self) -> Self:
        return self

    async def __anext__(self) -> Update[Any] | RawUpdate:
        while True:
            if self._error is not None:
                raise self._error
            if self.overflow is Overflow.KEEP_LATEST:
                if self._latest:
                    topic = next(iter(self._latest))
                    self._delivered += 1
                    return self._latest.pop(topic)
            elif self._items:
                item = self._items.popleft()
                self._delivered += 1
                if self._blocking and len(self._items) <= self.maxsize // 2:
                    self._blocking = False
                    self._client._pressure(self, False)
                return item
            if self._closed:
                raise StopAsyncIteration
            self._waiter = asyncio.get_running_loop().create_future()
            await self._waiter
            self._waiter = None

    async def __aenter__(self) -> Self:
        if self._entered:
            raise InvalidState("a stream can be entered once")
        self._entered = True
        await self._client._attach(self, self.topics)
        return self

    async def __aexit__(
        self, et: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()

    def _end(self) -> None:
        """The client closed: ``async for`` ends after the queued items."""
        self._closed = True
        self._blocking = False
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    async def aclose(self) -> None:
        """Stop: ``async for`` ends after the queued items; the topics nobody else needs are unsubscribed."""
        if self._closed:
            return
        self._closed = True
        if self._blocking:
            self._blocking = False
            self._client._pressure(self, False)
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)
        if self._entered:
            await self._client._detach(self, self.topics)
