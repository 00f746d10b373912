"""Reading the fan-out back from Redis: raw entries, the same JSON messages as from BitMart, typed
``async for`` streams, order books, and consumer groups.

Every reader filters with the same dedup rules as the publishers (so a batch written twice across a
Redis restart without persistence is still seen once) and survives Redis restarts: it reconnects by
itself and goes on after the last entry it read.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass
from datetime import datetime
from types import TracebackType
from typing import Any, Self

import msgspec
import redis.asyncio as aioredis
from redis.exceptions import RedisError, ResponseError

from ..book import BookSnapshot, BookSync
from ..exceptions import ConfigurationError, Timeout
from ..models import Decoder, Numbers, RawUpdate, Update
from .dedup import RECENT_IDS, DedupId, Mode, rule_for
from .publisher import book_params
from .redis_sink import DEFAULT_PREFIX, redis_client, stream_key
from .sink import EntryKind

__all__ = ["FeedEntry", "GroupWorker", "RedisBook", "RedisFeed", "parse_since"]

log = logging.getLogger("bitmart_ws.fanout")

_MAX_ID = 2**64 - 1


@dataclass(frozen=True, slots=True)
class FeedEntry:
    topic: str
    entry_id: str  # the Redis stream entry id
    payload: bytes  # the message as JSON text
    received_ms: int  # when the publisher received it
    dedup: DedupId
    kind: EntryKind

    def message(self) -> dict[str, Any]:
        value: dict[str, Any] = msgspec.json.decode(self.payload)
        return value


def parse_since(text: str) -> str:
    """``--since``: an entry id (``1700000000000-0``, entries after it), or a time: Unix seconds or ISO
    8601 (entries received at or after it). Returns the id to read after."""
    head, dash, tail = text.partition("-")
    if dash and head.isdigit() and tail.isdigit():
        return text
    try:
        seconds = float(text)
    except ValueError:
        try:
            seconds = datetime.fromisoformat(text).timestamp()
        except ValueError:
            raise ConfigurationError(
                f"--since: not an entry id, Unix seconds or ISO time: {text!r}"
            ) from None
    ms = int(seconds * 1000)
    return f"{ms - 1}-{_MAX_ID}" if ms > 0 else "0-0"


def _entry(topic: str, entry_id: Any, fields: dict[bytes, bytes]) -> FeedEntry:
    return FeedEntry(
        topic,
        entry_id.decode() if isinstance(entry_id, bytes) else str(entry_id),
        fields[b"msg"],
        int(fields.get(b"recv", b"0")),
        DedupId.parse(fields.get(b"id", b"0:").decode()),
        EntryKind(fields.get(b"kind", b"u").decode()),
    )


class _Filter:
    """The consumer side of the dedup rules, per topic."""

    def __init__(self, topic: str) -> None:
        self.mode = rule_for(topic).mode
        self.last: int | None = None
        self.recent: set[DedupId] = set()
        self.order: deque[DedupId] = deque()

    def keep(self, entry: FeedEntry) -> bool:
        if entry.kind is EntryKind.SNAPSHOT:
            return True
        if self.mode is Mode.ORDERED:
            if self.last is not None and entry.dedup.seq <= self.last:
                return False
            self.last = entry.dedup.seq
            return True
        if entry.dedup in self.recent:
            return False
        self.recent.add(entry.dedup)
        self.order.append(entry.dedup)
        if len(self.order) > RECENT_IDS:
            self.recent.discard(self.order.popleft())
        return True


def _raise_if_cancelled() -> None:
    task = asyncio.current_task()
    if task is not None and task.cancelling():
        raise asyncio.CancelledError


class RedisFeed:
    """The entries a publisher wrote, read from Redis: ``async with RedisFeed(url) as feed: ...``.

    Args:
        url: ``redis://host:port/db`` (or ``client``, an existing ``redis.asyncio.Redis``).
        prefix: the publishers' prefix.
        block: seconds one read waits for new entries.
    """

    def __init__(
        self,
        url: str | None = None,
        *,
        client: aioredis.Redis | None = None,
        prefix: str = DEFAULT_PREFIX,
        block: float = 1.0,
        count: int = 1000,
        retry_delay: float = 0.05,
        retry_max_delay: float = 2.0,
    ) -> None:
        if client is None:
            if url is None:
                raise ConfigurationError("RedisFeed needs a url or a client")
            client = redis_client(url)
        self.redis = client
        self.prefix = prefix
        self.block_ms = int(block * 1000)
        self.count = count
        self.retry_delay = retry_delay
        self.retry_max_delay = retry_max_delay

    def key(self, topic: str) -> str:
        return stream_key(self.prefix, topic)

    async def _retrying(self, what: str, delay: float) -> float:
        _raise_if_cancelled()  # redis-py may turn a cancellation into a connection error
        log.warning("redis unavailable while %s; retrying in %.2f s", what, delay)
        await asyncio.sleep(delay)
        return min(delay * 2, self.retry_max_delay)

    async def _last_id(self, topic: str) -> str:
        newest: Any = await self.redis.xrevrange(self.key(topic), count=1)
        return newest[0][0].decode() if newest else "0-0"

    async def entries(
        self,
        topics: Iterable[str],
        *,
        since: str | None = None,
        dedup: bool = True,
        stop: asyncio.Event | None = None,
    ) -> AsyncIterator[FeedEntry]:
        """Every entry of ``topics`` after ``since`` (see :func:`parse_since`; ``None``: from now), in
        each topic's order, until ``stop`` is set (checked at least every ``block`` seconds), Redis
        restarts included."""
        topics = list(dict.fromkeys(topics))
        by_key = {self.key(t): t for t in topics}
        filters = {t: _Filter(t) for t in topics}
        delay = self.retry_delay
        while True:
            try:
                after = {k: since or await self._last_id(t) for k, t in by_key.items()}
                break
            except (RedisError, OSError):
                delay = await self._retrying("starting", delay)
        while stop is None or not stop.is_set():
            try:
                reply: Any = await self.redis.xread(after, count=self.count, block=self.block_ms)  # type: ignore[arg-type]
            except (RedisError, OSError):
                delay = await self._retrying("reading", delay)
                continue
            _raise_if_cancelled()  # a cancellation redis-py swallowed while reconnecting inside xread
            delay = self.retry_delay
            for raw_key, items in reply or ():
                key = raw_key.decode()
                topic = by_key[key]
                for entry_id, fields in items:
                    entry = _entry(topic, entry_id, fields)
                    after[key] = entry.entry_id
                    if not dedup or filters[topic].keep(entry):
                        yield entry

    async def messages(self, topics: Iterable[str], *, since: str | None = None) -> AsyncIterator[FeedEntry]:
        """The pushes only (no publisher snapshots): what ``stream`` from BitMart would have printed."""
        async for entry in self.entries(topics, since=since):
            if entry.kind is EntryKind.UPDATE:
                yield entry

    async def stream(
        self, topics: Iterable[str], *, since: str | None = None, numbers: Numbers | str = Numbers.DECIMAL
    ) -> AsyncIterator[Update[Any] | RawUpdate]:
        """Typed values (:class:`~bitmart_ws.models.Decoder`), like ``client.stream``."""
        decoder = Decoder(numbers)
        async for entry in self.messages(topics, since=since):
            yield decoder.decode_bytes(entry.payload, received_ms=entry.received_ms)

    async def order_book(self, topic: str, *, timeout: float = 10.0) -> RedisBook:  # noqa: ASYNC109
        """A book of an incremental-book ``topic`` built from the stream alone: the latest snapshot entry,
        then the updates after it, with :class:`~bitmart_ws.book.BookSync`'s rules. Returns once valid;
        raises :class:`~bitmart_ws.exceptions.Timeout` when no snapshot arrives within ``timeout``."""
        params = book_params(topic)
        if params is None:
            raise ConfigurationError(f"{topic} is not an incremental-book topic")
        book = RedisBook(self, topic, params[2] or 100)
        await book.start(timeout)
        return book

    def group(self, topic: str, group: str, consumer: str, *, claim_idle: float = 30.0) -> GroupWorker:
        """A worker of consumer group ``group`` on ``topic``'s stream (see :class:`GroupWorker`)."""
        return GroupWorker(self, topic, group, consumer, claim_idle=claim_idle)

    async def close(self) -> None:
        await self.redis.aclose()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self, et: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.close()


_SNAPSHOT_MARK = b'"type":"snapshot"'


class RedisBook:
    """An order book followed from Redis: :attr:`valid`, :attr:`version`, :meth:`snapshot`, like
    :class:`~bitmart_ws.books.LocalBook`. A gap makes it invalid until the next snapshot entry."""

    def __init__(self, feed: RedisFeed, topic: str, depth: int) -> None:
        self.feed = feed
        self.topic = topic
        self.sync = BookSync(topic, depth=depth)
        self._decoder = Decoder()
        self._task: asyncio.Task[None] | None = None
        self._changed = asyncio.Event()
        self._stop = asyncio.Event()

    def __repr__(self) -> str:
        return f"<RedisBook {self.topic} {'valid' if self.valid else 'invalid'} version={self.version}>"

    @property
    def valid(self) -> bool:
        return self.sync.valid

    @property
    def version(self) -> int | None:
        return self.sync.version

    def snapshot(self, levels: int | None = None) -> BookSnapshot[Any]:
        return self.sync.snapshot(levels)

    async def changed(self) -> None:
        """Wait until the book changes."""
        self._changed.clear()
        await self._changed.wait()

    async def _latest_snapshot(self) -> str:
        """The id right before the newest snapshot entry ("0-0" when none is kept: from the start)."""
        key, end = self.feed.key(self.topic), "+"
        while True:
            items: Any = await self.feed.redis.xrevrange(key, max=end, count=500)
            for entry_id, fields in items:
                if fields.get(b"kind") == b"s" or _SNAPSHOT_MARK in fields[b"msg"]:
                    ms, _, seq = entry_id.decode().partition("-")
                    return f"{ms}-{int(seq) - 1}" if int(seq) else f"{int(ms) - 1}-{_MAX_ID}"
            if len(items) < 500:
                return "0-0"
            end = "(" + items[-1][0].decode()

    async def start(self, timeout: float) -> None:  # noqa: ASYNC109
        self.sync.connected(time.monotonic())
        since = await self._latest_snapshot()
        ready = asyncio.Event()
        self._task = asyncio.get_running_loop().create_task(self._follow(since, ready))
        try:
            async with asyncio.timeout(timeout):
                await ready.wait()
        except TimeoutError:
            await self.close()
            raise Timeout(f"order book {self.topic}: no snapshot in Redis within {timeout:g} s") from None

    async def _follow(self, since: str, ready: asyncio.Event) -> None:
        async for entry in self.feed.entries([self.topic], since=since, dedup=False, stop=self._stop):
            try:
                update = self._decoder.decode_bytes(entry.payload)
            except Exception:
                log.exception("undecodable entry %s of %s", entry.entry_id, self.topic)
                continue
            now = time.monotonic()
            for item in getattr(update, "items", ()):
                self.sync.push(item, now)  # gaps wait for the next snapshot entry (no request to send)
            if self.sync.valid:
                ready.set()
            self._changed.set()

    async def close(self) -> None:
        self._stop.set()  # a cancellation inside redis-py's blocking read may be swallowed: stop by flag too
        if self._task is not None:
            self._task.cancel()
            await asyncio.wait({self._task})
            self._task = None


class GroupWorker:
    """One worker of a consumer group: several workers share a topic's entries, each entry delivered to
    one of them; :meth:`ack` it once handled. Entries a dead worker left pending longer than
    ``claim_idle`` seconds are claimed (``XAUTOCLAIM``) and delivered again by :meth:`read`: delivery
    is at least once, an entry handled but not acknowledged when its worker died is handled again."""

    def __init__(self, feed: RedisFeed, topic: str, group: str, consumer: str, *, claim_idle: float) -> None:
        self.feed = feed
        self.topic = topic
        self.group = group
        self.consumer = consumer
        self.claim_idle_ms = int(claim_idle * 1000)
        self._key = feed.key(topic)
        self._own_pending = True  # first deliver what this consumer name left pending

    async def create(self, start: str = "0") -> None:
        """Create the group (at ``start``: ``0`` every kept entry, ``$`` from now) unless it exists."""
        try:
            await self.feed.redis.xgroup_create(self._key, self.group, id=start, mkstream=True)
        except ResponseError as exc:
            if "BUSYGROUP" not in str(exc):
                raise

    async def read(self, count: int = 100, *, block: float = 1.0) -> list[FeedEntry]:
        """The next entries for this worker: claimed from dead workers first, then new ones."""
        redis = self.feed.redis
        claimed: Any = await redis.xautoclaim(
            self._key, self.group, self.consumer, self.claim_idle_ms, count=count
        )
        items: Any = claimed[1]
        if not items and self._own_pending:
            reply: Any = await redis.xreadgroup(self.group, self.consumer, {self._key: "0"}, count=count)
            items = reply[0][1] if reply else []
            self._own_pending = bool(items)
        if not items:
            reply = await redis.xreadgroup(
                self.group, self.consumer, {self._key: ">"}, count=count, block=int(block * 1000)
            )
            items = reply[0][1] if reply else []
        return [_entry(self.topic, entry_id, fields) for entry_id, fields in items if fields]

    async def ack(self, entries: Iterable[FeedEntry]) -> int:
        ids = [e.entry_id for e in entries]
        return int(await self.feed.redis.xack(self._key, self.group, *ids)) if ids else 0
