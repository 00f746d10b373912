"""The publisher: every ``update`` of some topics appended to a sink (Redis Streams), never blocking
BitMart's connections and never growing memory without bound.

The ``update`` handler only appends to a bounded buffer (``max_buffer`` messages; beyond it the oldest
are dropped, counted, logged and reported as a ``dropped`` event); a writer task owned by the publisher
drains it in batches. While the sink is down the entries stay buffered and the writer retries with a
backoff (``sink_down`` / ``sink_up`` events), so a Redis restart shorter than the buffer loses nothing.
For the incremental-book topics it publishes, the publisher keeps local books
(:meth:`WebsocketClient.order_book`) and appends its own snapshot entries every ``snapshot_every``
seconds, so that a consumer joining late builds a valid book from the stream alone.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from itertools import islice
from types import TracebackType
from typing import TYPE_CHECKING, Any, Self

import msgspec

from ..books import book_topic
from ..exceptions import ConfigurationError
from .dedup import Mode, rule_for
from .sink import Entry, EntryKind, Sink, SinkUnavailable

if TYPE_CHECKING:
    from ..books import LocalBook
    from ..client import WebsocketClient

__all__ = ["DEFAULT_MAX_BUFFER", "Publisher", "PublisherStats", "book_params", "snapshot_message", "topic_of"]

log = logging.getLogger("bitmart_ws.fanout")

DEFAULT_MAX_BUFFER = 50_000
"""Messages buffered while the sink is slow or down (a few tens of MB); the oldest are dropped beyond."""

_encode = msgspec.json.Encoder().encode
EventHandler = Callable[[str, dict[str, Any]], None]


@dataclass(frozen=True, slots=True)
class PublisherStats:
    received: int  # updates of the published topics
    written: int  # entries the sink kept (new)
    duplicates: int  # entries the sink already had (another publisher wrote them first)
    dropped: int  # oldest entries dropped from a full buffer
    buffered: int
    high_water: int
    sink_up: bool


class _Topics:
    """Which published topic a pushed message belongs to (futures may add ``@speed``; spot has no topic)."""

    def __init__(self, topics: Iterable[str]) -> None:
        self.exact: dict[tuple[str, str], str] = {}
        by_channel: dict[str, list[str]] = {}
        for topic in topics:
            channel, _, argument = topic.partition(":")
            self.exact[channel, argument.partition("@")[0]] = topic
            by_channel.setdefault(channel, []).append(topic)
        self.only = {c: ts[0] for c, ts in by_channel.items() if len(ts) == 1}

    def of(self, message: dict[str, Any]) -> str | None:
        group = message.get("group")
        if isinstance(group, str):
            channel, _, argument = group.partition(":")
            argument = argument.partition("@")[0]
        else:
            channel = message.get("table") or ""
            data = message.get("data")
            first = data[0] if type(data) is list and data else None
            argument = first.get("symbol", "") if type(first) is dict else ""
        return self.exact.get((channel, argument)) or self.only.get(channel)


def topic_of(message: dict[str, Any], topics: Iterable[str]) -> str | None:
    """The topic of ``topics`` that a pushed ``message`` belongs to, if any."""
    return _Topics(topics).of(message)


def book_params(topic: str) -> tuple[str, str, int | None] | None:
    """``(market, symbol, depth)`` of an incremental-book topic the client can keep a book of, else None."""
    channel, _, symbol = topic.partition(":")
    if channel == "spot/depth/increase100":
        market, depth = "spot", None
    elif channel.startswith("futures/depthIncrease") and channel[21:].isdigit():
        market, depth = "futures", int(channel[21:])
    else:
        return None
    try:
        canonical, _ = book_topic(market, symbol, depth)
    except ConfigurationError:
        return None
    return (market, symbol, depth) if canonical == topic else None


def snapshot_message(topic: str, book: LocalBook) -> dict[str, Any] | None:
    """The book as a snapshot push in the exchange's shape of ``topic`` (None when not valid)."""
    snap = book.snapshot()
    if not snap.valid or snap.version is None:
        return None
    channel, _, symbol = topic.partition(":")
    data: dict[str, Any] = {"symbol": symbol, "type": "snapshot", "version": snap.version, "ms_t": snap.ms_t}
    if topic.startswith("futures/"):
        data["asks"] = [{"price": str(p), "vol": str(s)} for p, s in snap.asks]
        data["bids"] = [{"price": str(p), "vol": str(s)} for p, s in snap.bids]
        return {"group": topic, "data": data}
    data["asks"] = [[str(p), str(s)] for p, s in snap.asks]
    data["bids"] = [[str(p), str(s)] for p, s in snap.bids]
    return {"table": channel, "data": [data]}


class Publisher:
    """Publishes ``topics`` of ``client`` to ``sink``: ``async with Publisher(client, topics, sink): ...``.

    Entering subscribes the topics (and opens local books for the incremental-book topics); leaving
    closes the books, flushes what is buffered (for at most ``flush_timeout`` seconds) and closes the
    sink. The client stays the caller's (its other topics and handlers are left alone).

    Args:
        max_buffer: messages kept while the sink is slow or down; beyond it the oldest are dropped.
        batch_size: entries per write.
        snapshot_every: seconds between the book snapshot entries (0: none).
        on_event: ``(name, payload)`` for ``dropped``, ``sink_down`` and ``sink_up``.
    """

    def __init__(
        self,
        client: WebsocketClient,
        topics: Iterable[str],
        sink: Sink,
        *,
        max_buffer: int = DEFAULT_MAX_BUFFER,
        batch_size: int = 2000,
        snapshot_every: float = 5.0,
        flush_timeout: float = 5.0,
        retry_delay: float = 0.05,
        retry_max_delay: float = 2.0,
        on_event: EventHandler | None = None,
    ) -> None:
        self.topics = list(dict.fromkeys(topics))
        if not self.topics:
            raise ConfigurationError("nothing to publish: no topics")
        if max_buffer < 1 or batch_size < 1:
            raise ConfigurationError("max_buffer and batch_size must be positive")
        self.client = client
        self.sink = sink
        self.max_buffer = max_buffer
        self.batch_size = batch_size
        self.snapshot_every = snapshot_every
        self.flush_timeout = flush_timeout
        self.retry_delay = retry_delay
        self.retry_max_delay = retry_max_delay
        self._on_event = on_event
        self._routes = _Topics(self.topics)
        self._modes = {t: rule_for(t) for t in self.topics}
        # (serial, topic, message or JSON text, received ms, kind); the serial survives left drops
        self._buffer: deque[tuple[int, str, Any, int, EntryKind]] = deque()
        self._serial = 0
        self._wake = asyncio.Event()
        self._drained = asyncio.Event()
        self._drained.set()
        self._tasks: list[asyncio.Task[None]] = []
        self._books: dict[str, LocalBook] = {}
        self._received = self._written = self._duplicates = self._dropped = self._high = 0
        self._sink_up = True
        self._down_since = 0.0
        self._closing = False
        self._last_snapshot: dict[str, int] = {}

    def __repr__(self) -> str:
        return f"<Publisher {len(self.topics)} topic(s) buffered={len(self._buffer)}>"

    @property
    def stats(self) -> PublisherStats:
        return PublisherStats(
            self._received,
            self._written,
            self._duplicates,
            self._dropped,
            len(self._buffer),
            self._high,
            self._sink_up,
        )

    # -- the update path (synchronous, never blocks) -------------------------------------------------
    def _on_update(self, message: dict[str, Any]) -> None:
        topic = self._routes.of(message)
        if topic is not None:
            self._received += 1
            self._append(topic, message, EntryKind.UPDATE)

    def _append(self, topic: str, message: Any, kind: EntryKind) -> None:
        buffer = self._buffer
        if len(buffer) >= self.max_buffer:
            buffer.popleft()
            self._dropped += 1
            if self._dropped == 1 or self._dropped % 1000 == 0:
                log.warning(
                    "publisher buffer full (%d): %d oldest message(s) dropped", self.max_buffer, self._dropped
                )
                self._emit("dropped", {"dropped": self._dropped, "max_buffer": self.max_buffer})
        self._serial += 1
        buffer.append((self._serial, topic, message, time.time_ns() // 1_000_000, kind))
        self._drained.clear()
        if len(buffer) > self._high:
            self._high = len(buffer)
        self._wake.set()

    def _emit(self, name: str, payload: dict[str, Any]) -> None:
        if self._on_event is not None:
            try:
                self._on_event(name, payload)
            except Exception:
                log.exception("publisher event handler failed on %s", name)

    # -- the writer -----------------------------------------------------------------------------------
    def _entries(self, batch: list[tuple[int, str, Any, int, EntryKind]]) -> list[Entry]:
        entries = []
        for _, topic, message, received_ms, kind in batch:
            payload = message if type(message) is bytes else _encode(message)
            rule = self._modes[topic]
            try:
                dedup = rule.key(
                    message["data"] if type(message) is dict else msgspec.json.decode(payload)["data"],
                    payload,
                )
                mode = rule.mode
            except (KeyError, TypeError, ValueError, IndexError):
                dedup, mode = rule_for("").key(None, payload), Mode.HASHED  # malformed: kept, by content
            entries.append(Entry(topic, payload, received_ms, dedup, mode, kind))
        return entries

    async def _writer(self) -> None:
        delay = self.retry_delay
        while not self._closing:
            if not self._buffer:
                self._wake.clear()
                await self._wake.wait()
                continue
            batch = list(islice(self._buffer, self.batch_size))
            entries = self._entries(batch)
            try:
                new = await self.sink.write(entries)
            except SinkUnavailable as exc:
                if self._sink_up:
                    self._sink_up, self._down_since = False, time.monotonic()
                    log.warning("sink unavailable, buffering (%d queued): %s", len(self._buffer), exc)
                    self._emit("sink_down", {"error": exc, "buffered": len(self._buffer)})
                await asyncio.sleep(delay)
                delay = min(delay * 2, self.retry_max_delay)
                continue
            delay = self.retry_delay
            if not self._sink_up:
                self._sink_up = True
                downtime = time.monotonic() - self._down_since
                log.warning("sink back after %.1f s (%d buffered)", downtime, len(self._buffer))
                self._emit("sink_up", {"downtime": downtime, "buffered": len(self._buffer)})
            self._written += new
            self._duplicates += len(entries) - new
            last = batch[-1][0]
            buffer = self._buffer
            while buffer and buffer[0][0] <= last:  # the left may have been dropped meanwhile
                buffer.popleft()
            if not buffer:
                self._drained.set()

    async def _snapshots(self) -> None:
        while True:
            await asyncio.sleep(self.snapshot_every)
            for topic, book in self._books.items():
                message = snapshot_message(topic, book)
                if message is not None and self._last_snapshot.get(topic) != book.version:
                    self._last_snapshot[topic] = message_version = book.version or 0
                    self._append(topic, _encode(message), EntryKind.SNAPSHOT)
                    log.debug("snapshot of %s at version %d queued", topic, message_version)

    async def flush(self, timeout: float | None = None) -> bool:  # noqa: ASYNC109
        """Wait until the buffer is written (True), or ``timeout`` seconds (False)."""
        try:
            async with asyncio.timeout(timeout):
                await self._drained.wait()
        except TimeoutError:
            return False
        return True

    # -- lifecycle ------------------------------------------------------------------------------------
    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        try:
            await self.sink.open()
        except SinkUnavailable as exc:  # the writer retries; the feed is buffered meanwhile
            log.warning("sink unavailable at start, buffering: %s", exc)
        self.client.on("update", self._on_update)
        self._tasks.append(loop.create_task(self._writer(), name="bitmart_ws.fanout.writer"))
        for topic in self.topics:
            params = book_params(topic)
            if params is not None:
                self._books[topic] = await self.client.order_book(*params[:2], depth=params[2])
        await self.client.subscribe_topics(self.topics)
        if self._books and self.snapshot_every > 0:
            self._tasks.append(loop.create_task(self._snapshots(), name="bitmart_ws.fanout.snapshots"))

    async def close(self) -> None:
        self.client.off("update", self._on_update)
        for book in self._books.values():
            await book.close()
        self._books.clear()
        if self._tasks and not await self.flush(self.flush_timeout):
            log.warning("publisher closed with %d message(s) not written", len(self._buffer))
        self._closing = True  # a cancellation inside redis-py may be swallowed: stop by flag too
        self._wake.set()
        for task in self._tasks:
            task.cancel()
        if self._tasks:
            await asyncio.wait(self._tasks)
        self._tasks.clear()
        await self.sink.close()

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(
        self, et: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.close()
