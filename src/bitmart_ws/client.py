"""The public :class:`WebsocketClient`."""

from __future__ import annotations

import asyncio
import logging
import math
import signal
import ssl
from collections.abc import Callable, Generator, Iterable, Mapping
from types import TracebackType
from typing import Any, Self, TypeVar, overload

from . import _transport
from ._connection import Connection, Settings
from ._events import Emitter, Handler
from ._proxy import parse_proxy_url
from ._router import Router
from .books import LocalBook, _BookFeed, book_topic
from .exceptions import (
    AckTimeout,
    BitmartWSError,
    BookInvalidated,
    ConfigurationError,
    ConnectTimeout,
    InvalidState,
    MissingCredentials,
    SubscriptionError,
    Timeout,
)
from .models import Decoder
from .protocol.backoff import Backoff
from .protocol.keys import Market, WsKey
from .protocol.ratelimit import DEFAULT_RATE_LIMIT, RateLimiter
from .protocol.requests import Operation
from .protocol.session import Reply
from .protocol.sharding import ShardPlan, default_max_topics
from .protocol.signing import Credentials
from .protocol.topics import Topic, group_by_key
from .streams import Overflow, Stream

__all__ = ["Request", "WebsocketClient"]

H = TypeVar("H", bound=Handler)

CONNECT_ALL_KEYS = (
    WsKey.SPOT_PUBLIC_V1,
    WsKey.SPOT_PRIVATE_V1,
    WsKey.FUTURES_PUBLIC_V2,
    WsKey.FUTURES_PRIVATE_V2,
)


class Request:
    """The handle returned by :meth:`WebsocketClient.subscribe` and friends.

    The work has already started (or, before any event loop runs, is queued for
    :meth:`WebsocketClient.run_forever`); awaiting the handle waits for the server's
    acknowledgement of every topic and raises :class:`~bitmart_ws.exceptions.SubscriptionError`,
    :class:`~bitmart_ws.exceptions.AckTimeout`, ... on failure. A failure of a handle nobody has
    awaited by the time it finishes is reported as an ``exception`` event instead.
    """

    __slots__ = ("_awaited", "_factory", "_task", "operation", "topics")

    def __init__(self, operation: Operation, topics: tuple[str, ...], factory: Callable[[], Any]) -> None:
        self.operation = operation
        self.topics = topics
        self._factory = factory
        self._task: asyncio.Task[None] | None = None
        self._awaited = False

    def __repr__(self) -> str:
        state = "queued" if self._task is None else "done" if self._task.done() else "running"
        return f"<Request {self.operation.value} {len(self.topics)} topic(s) {state}>"

    def done(self) -> bool:
        return self._task is not None and self._task.done()

    def __await__(self) -> Generator[Any, None, None]:
        self._awaited = True
        if self._task is None:
            raise InvalidState(
                "this request is queued until the client runs (run_forever() or an async call in a loop)"
            )
        return self._task.__await__()


class WebsocketClient:
    """BitMart spot and futures WebSocket client: one object for every public and private stream.

    Args:
        api_key, api_secret, api_memo: all three are needed for private topics.
        demo_trading: futures v2 keys use BitMart's demo hosts.
        ws_urls: per-key URL overrides (``{WsKey.SPOT_PUBLIC_V1: "ws://..."}`` or by key name);
            used on every connect and reconnect.
        ping_interval: seconds between heartbeats on each connection (spot text ``ping``, futures
            ``{"action":"ping"}``).
        pong_timeout: seconds to wait for the pong; then the connection is closed and reopened.
        reconnect_delay, reconnect_max_delay: jittered exponential backoff between reconnect attempts
            (the delay doubles per failed attempt, up to the maximum; each delay is drawn from
            ``[d/2, d]``). It starts again from ``reconnect_delay`` only once a connection has stayed
            live (logged in and resubscribed) for ``reconnect_max_delay``, so a server that accepts
            and soon drops connections is retried ever more slowly, not in a tight loop.
            HTTP 4xx upgrade refusals and refused logins wait the maximum delay.
        recv_window: accepted for compatibility with the reference client, validated (0..60 s) and
            otherwise unused: the reference signs ``now + recv_window`` (a timestamp in the future),
            which only works because BitMart tolerates +-60 s. We sign ``now + time_offset``, which is
            valid for any server that checks the documented 60 s window.
        time_offset: seconds added to the local clock for the login timestamp (use it when the
            local clock is off: ``server_time - local_time``).
        ack_timeout: seconds to wait for login replies and subscribe/unsubscribe acknowledgements.
        connect_timeout: seconds for TCP + TLS + WebSocket upgrade.
        max_topics: topics per connection per key (default 115 public, 100 private); a key with more
            topics gets more connections.
        rate_limit: ``(messages, seconds)`` budget per connection (default 90 per 10 s, under
            BitMart's 100 per 10 s, pings included).
        sign_message: custom signer ``(message, secret) -> hex HMAC-SHA256`` (like the reference's
            ``customSignMessageFn``).
        logger: a :class:`logging.Logger` (default ``logging.getLogger("bitmart_ws.client")``).
        proxy: ``"http://[user:pass@]host:port"`` (HTTP CONNECT) or ``"socks5://[user:pass@]host:port"``
            for every connection; the proxy resolves BitMart's host names and TLS stays end to end.
            Credentials never appear in logs, reprs, events or errors. A refusing proxy is a
            :class:`~bitmart_ws.exceptions.ProxyError` (a ``ConnectError``).
        ssl_context: for ``wss://``, e.g. ``ssl.create_default_context(cafile=...)`` to trust a
            private CA. Certificate verification cannot be turned off (a context that does not
            verify is a :class:`ConfigurationError`).
        frame_tap: called with ``(ws_key, payload, binary)`` for every frame as received, before it is
            decoded (what ``bitmart-ws record`` writes); ``payload`` is ``bytes``, safe to keep.
        numbers: ``"decimal"`` (exact, the default) or ``"float"`` (about twice as fast): the number
            type of the typed values of :meth:`stream` and :meth:`order_book`.
        handler_queue: ``(maxsize, overflow)`` of the queue feeding ``async def`` handlers (default
            ``(10_000, "block")``). When full: ``"block"`` stops reading the sockets until half of it
            is drained (back-pressure); ``"drop_oldest"`` drops the oldest queued call;
            ``"keep_latest"`` drops the queued call of the same handler for the same topic;
            ``"fail"`` drops the backlog and reports :class:`~bitmart_ws.exceptions.StreamOverflow`.
        connect_rate: ``(attempts, seconds)``: connection attempts of the whole client (every key and
            shard) are paced under this budget (default 24 per 60 s, under BitMart's 30 per minute
            per IP), so a flapping server never causes a reconnect storm.
        max_message_size: the largest message accepted, in bytes (default 4 MiB): a binary frame
            is inflated only up to it, and larger messages are dropped and reported as an
            ``exception`` event (:class:`~bitmart_ws.exceptions.MessageTooBig`); the connection stays.
        stale_timeout: opt-in per-topic watchdog (seconds; default off). An acknowledged topic that
            receives no push for this long is reported as an ``exception`` event (``topic`` names it,
            ``error`` is a :class:`~bitmart_ws.exceptions.Timeout`) and resubscribed on the same
            connection (unsubscribe + subscribe); it is checked every ``stale_timeout / 4``. Only for
            topics that push steadily (tickers, books): private topics push only on account activity.

    Events (``on(event, handler)``): ``open``, ``update``, ``reconnect``, ``reconnected``,
    ``authenticated``, ``response``, ``exception``, ``close``. Handlers are called with one dict;
    sync handlers run inline in arrival order, async handlers run in the same order on one
    dispatcher task owned by the client.
    """

    def __init__(
        self,
        api_key: str | None = None,
        api_secret: str | None = None,
        api_memo: str | None = None,
        demo_trading: bool = False,
        ws_urls: Mapping[WsKey | str, str] | None = None,
        ping_interval: float = 15.0,
        pong_timeout: float = 10.0,
        reconnect_delay: float = 1.0,
        reconnect_max_delay: float = 60.0,
        recv_window: float = 5.0,
        time_offset: float = 0.0,
        *,
        ack_timeout: float = 10.0,
        connect_timeout: float = 10.0,
        max_topics: Mapping[WsKey | str, int] | None = None,
        rate_limit: tuple[int, float] = DEFAULT_RATE_LIMIT,
        sign_message: Callable[[str, str], str] | None = None,
        logger: logging.Logger | None = None,
        stale_timeout: float | None = None,
        connect_rate: tuple[int, float] = (24, 60.0),
        max_message_size: int = _transport.MAX_MESSAGE_SIZE,
        proxy: str | None = None,
        ssl_context: ssl.SSLContext | None = None,
        numbers: str = "decimal",
        frame_tap: Callable[[str, bytes, bool], None] | None = None,
        handler_queue: tuple[int, str] = (10_000, "block"),
    ) -> None:
        if api_key and api_secret and api_memo:
            self._credentials: Credentials | None = Credentials(api_key, api_secret, api_memo)
        elif api_key or api_secret or api_memo:
            raise MissingCredentials("api_key, api_secret and api_memo must be given together")
        else:
            self._credentials = None
        for name, value in (
            ("ping_interval", ping_interval),
            ("pong_timeout", pong_timeout),
            ("ack_timeout", ack_timeout),
            ("connect_timeout", connect_timeout),
        ):
            if not 0 < value < math.inf:
                raise ConfigurationError(f"{name} must be > 0 and finite, not {value!r}")
        if stale_timeout is not None and not 0 < stale_timeout < math.inf:
            raise ConfigurationError(f"stale_timeout must be > 0 and finite, or None, not {stale_timeout!r}")
        if not math.isfinite(time_offset):
            raise ConfigurationError(f"time_offset must be finite, not {time_offset!r}")
        RateLimiter(*rate_limit)  # refused now rather than at the first subscribe
        if not isinstance(max_message_size, int) or max_message_size < 1024:
            raise ConfigurationError(
                f"max_message_size must be an int >= 1024 bytes, not {max_message_size!r}"
            )
        if not 0 <= recv_window <= 60:
            raise ConfigurationError(f"recv_window must be within 0..60 s, not {recv_window!r}")
        self.demo_trading = demo_trading
        self._urls = {_key(k): _url(v) for k, v in (ws_urls or {}).items()}
        self._limits = {_key(k): _limit(v) for k, v in (max_topics or {}).items()}
        self.recv_window = recv_window
        self.logger = logger or logging.getLogger("bitmart_ws.client")
        self._settings = Settings(
            ping_interval=ping_interval,
            pong_timeout=pong_timeout,
            ack_timeout=ack_timeout,
            connect_timeout=connect_timeout,
            time_offset=time_offset,
            backoff=Backoff(reconnect_delay, reconnect_max_delay),
            rate_limit=rate_limit,
            credentials=self._credentials,
            signer=sign_message,
            logger=self.logger,
            stale_timeout=stale_timeout,
            max_message_size=max_message_size,
            proxy=parse_proxy_url(proxy) if proxy is not None else None,
            ssl_context=ssl_context,
            frame_tap=frame_tap,
        )
        _transport.check_ssl_context(ssl_context)
        self._attempts = RateLimiter(*connect_rate)
        self._emitter = Emitter(
            self.logger,
            maxsize=handler_queue[0],
            overflow=handler_queue[1],
            on_pressure=self._handler_pressure,
        )
        self.decoder = Decoder(numbers)
        self._router = Router(self.decoder, self._report_push, self._install_taps)
        self._refs: dict[str, int] = {}  # topics held by streams and books
        self._owned: set[str] = set()  # ... of which they subscribed (the user had not)
        self._books: dict[str, _BookFeed] = {}
        self._streams: set[Stream] = set()
        self._pressing: set[object] = set()  # who asks for back-pressure now
        self._groups: dict[WsKey, _KeyGroup] = {}
        self._tasks: set[asyncio.Task[Any]] = set()
        self._queued: list[Request] = []
        self._stop_event: asyncio.Event | None = None

    def __repr__(self) -> str:
        creds = "with credentials" if self._credentials else "public only"
        return f"<WebsocketClient {creds} keys={[k.value for k in self._groups]}>"

    # ------------------------------------------------------------------------------------------------
    # Events
    @overload
    def on(self, event: str) -> Callable[[H], H]: ...

    @overload
    def on(self, event: str, handler: H) -> H: ...

    def on(self, event: str, handler: H | None = None) -> Any:
        """Register ``handler`` for ``event`` and return it; without a handler, a decorator.

        Raises:
            ConfigurationError: unknown event name or a handler that is not callable.
        """
        if handler is None:
            Emitter.check(event)

            def decorator(fn: H) -> H:
                self._emitter.on(event, fn)
                return fn

            return decorator
        self._emitter.on(event, handler)
        return handler

    def off(self, event: str, handler: Handler | None = None) -> None:
        """Remove ``handler`` (or every handler of ``event`` when ``handler`` is None)."""
        self._emitter.off(event, handler)

    # ------------------------------------------------------------------------------------------------
    # Subscriptions
    def subscribe(
        self, topics: str | Iterable[str], market: Market | str, is_private: bool | None = None
    ) -> Request:
        """Subscribe to ``topics`` of ``market``; returns an awaitable :class:`Request`.

        Validation is synchronous: a topic that cannot be routed (:class:`InvalidTopic`) or a private
        topic without credentials (:class:`MissingCredentials`) raises here, before anything is sent.
        The work then starts at once, owned by the client, whether or not the result is awaited;
        without a running event loop it is queued and performed when :meth:`run_forever` starts.
        Awaiting it returns once the server has acknowledged every topic; it raises
        :class:`SubscriptionError` (rejected topics and their codes; accepted ones stay subscribed),
        :class:`AckTimeout`, :class:`AuthenticationError` (key stopped) or :class:`InvalidState`
        (closed meanwhile). Topics already subscribed are not sent again; a topic rejected by the
        server is dropped from the set restored on reconnect.
        """
        return self._request(Operation.SUBSCRIBE, group_by_key(_topics(topics), market, is_private))

    def unsubscribe(
        self, topics: str | Iterable[str], market: Market | str, is_private: bool | None = None
    ) -> Request:
        """Unsubscribe; same contract as :meth:`subscribe`. Topics never subscribed are not sent."""
        return self._request(Operation.UNSUBSCRIBE, group_by_key(_topics(topics), market, is_private))

    def subscribe_topics(self, topics: str | Iterable[str]) -> Request:
        """Subscribe with the market and privacy of each topic taken from the channel registry."""
        return self._request(Operation.SUBSCRIBE, group_by_key(_topics(topics)))

    def unsubscribe_topics(self, topics: str | Iterable[str]) -> Request:
        """Unsubscribe with the market and privacy of each topic taken from the channel registry."""
        return self._request(Operation.UNSUBSCRIBE, group_by_key(_topics(topics)))

    def _request(self, op: Operation, grouped: dict[WsKey, list[Topic]]) -> Request:
        if op is Operation.SUBSCRIBE:
            self._check_credentials(grouped)
        texts = tuple(t.text for ts in grouped.values() for t in ts)
        request = Request(op, texts, lambda: self._perform(op, self._place(op, grouped)))
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            self._queued.append(request)
        else:
            self._start_queued()
            self._start(request)
        return request

    def _start(self, request: Request) -> None:
        # The factory places the topics on their connections synchronously, here: nothing (a
        # close_all, say) can run between the call and the placement.
        try:
            work = request._factory()
        except BitmartWSError as exc:
            work = _raise(exc)
        task = asyncio.get_running_loop().create_task(work)
        request._task = task
        self._tasks.add(task)

        def done(t: asyncio.Task[Any]) -> None:
            self._tasks.discard(t)
            if t.cancelled():
                return
            exc = t.exception()
            # InvalidState: ended by the user's own close(); the ``close`` event already says so.
            if exc is not None and not request._awaited and not isinstance(exc, InvalidState):
                self._emitter.emit(
                    "exception",
                    {
                        "wsKey": None,
                        "message": f"{request.operation.value} failed: {exc}",
                        "error": exc,
                        "topics": list(request.topics),
                    },
                )

        task.add_done_callback(done)

    def _start_queued(self) -> None:
        queued, self._queued = self._queued, []
        for request in queued:
            self._start(request)

    async def _perform(self, op: Operation, pending: list[tuple[str, asyncio.Future[Reply] | Reply]]) -> None:
        futures = [r for _, r in pending if isinstance(r, asyncio.Future)]
        if futures:
            # Every wait is settled by its connection: acknowledged, rejected, timed out after the
            # frame was sent, failed with the connection error, or ended by close().
            await asyncio.wait(futures)
        replies = [(t, r.result() if isinstance(r, asyncio.Future) else r) for t, r in pending]
        rejected = {
            t: (r.code, r.message) for t, r in replies if not r.ok and isinstance(r.error, SubscriptionError)
        }
        if rejected:
            accepted = tuple(t for t, r in replies if r.ok)
            raise SubscriptionError(rejected, accepted=accepted, operation=op.value)
        errors = [(t, r.error) for t, r in replies if not r.ok and r.error is not None]
        if errors and all(isinstance(e, AckTimeout) for _, e in errors):
            missing = tuple(t for t, _ in errors)
            raise AckTimeout(
                f"{op.value}: no acknowledgement within {self._settings.ack_timeout:g} s of sending for "
                f"{', '.join(missing)}",
                missing,
            )
        for _, error in errors:
            if not isinstance(error, AckTimeout):
                raise error

    def _place(
        self, op: Operation, grouped: dict[WsKey, list[Topic]]
    ) -> list[tuple[str, asyncio.Future[Reply] | Reply]]:
        """Hand each topic to its connection, synchronously: nothing can interleave (``close_all``)."""
        pending: list[tuple[str, asyncio.Future[Reply] | Reply]] = []
        for key, topics in grouped.items():
            texts = [t.text for t in topics]
            if op is Operation.SUBSCRIBE:
                group = self._group(key)
                for shard, shard_topics in group.plan.place(texts).items():
                    pending += group.connection(shard).subscribe(shard_topics)
            else:
                group_or_none = self._groups.get(key)
                if group_or_none is None:
                    continue
                for shard, shard_topics in group_or_none.plan.release(texts).items():
                    pending += group_or_none.connection(shard).unsubscribe(shard_topics)
        return pending

    def _group(self, key: WsKey) -> _KeyGroup:
        group = self._groups.get(key)
        if group is None:
            limit = self._limits.get(key, default_max_topics(key))
            group = self._groups[key] = _KeyGroup(self, key, limit)
        return group

    # ------------------------------------------------------------------------------------------------
    # Typed streams and local order books
    def stream(
        self, topics: str | Iterable[str], *, maxsize: int = 10_000, overflow: Overflow | str = Overflow.FAIL
    ) -> Stream:
        """A bounded ``async for`` stream of typed values of ``topics`` (market and privacy from the
        channel registry): ``async with client.stream([...]) as s: async for update in s: ...``.

        Entering subscribes (a topic already held by the user, another stream or a book is shared:
        the server is subscribed once) and waits for the acknowledgements; leaving unsubscribes what
        nobody else needs. ``maxsize`` bounds the queue; ``overflow`` says what a full queue does (see
        :class:`~bitmart_ws.streams.Overflow`; default ``fail``: nothing is lost silently).

        Raises (synchronously): :class:`InvalidTopic`, :class:`MissingCredentials`,
        :class:`ConfigurationError`.
        """
        texts = _topics(topics)
        self._check_credentials(group_by_key(texts))
        return Stream(self, texts, maxsize=maxsize, overflow=overflow)

    async def order_book(self, market: Market | str, symbol: str, *, depth: int | None = None) -> LocalBook:
        """A local order book of ``symbol`` that is never wrong (``spot/depth/increase100``, or
        ``futures/depthIncrease{5,20,50}`` with ``depth``, default 50).

        Returns once the first snapshot is applied. Raises :class:`SubscriptionError` when the topic
        is rejected, :class:`Timeout` when no snapshot arrives within ``ack_timeout`` plus the book's
        snapshot timeout. Books of the same topic share one subscription and one synchroniser.
        """
        topic, levels = book_topic(market, symbol, depth)
        group_by_key([topic])  # validates the symbol's form before anything is sent
        feed = self._books.get(topic)
        if feed is None:
            feed = self._books[topic] = _BookFeed(self, topic, levels)
            self._router.add([topic], feed)
            try:
                if not await self._acquire([topic]):
                    feed.resync(asyncio.get_running_loop().time())  # already subscribed: ask for a snapshot
            except BaseException:
                self._books.pop(topic, None)
                self._router.remove([topic], feed)
                feed.stop()
                raise
        feed.handles += 1
        limit = self._settings.ack_timeout + feed.sync.snapshot_timeout
        try:
            async with asyncio.timeout(limit):
                await asyncio.shield(feed.ready)
        except TimeoutError:
            await self._release_book(feed)
            raise Timeout(f"order book {topic}: no snapshot within {limit:g} s") from None
        except BaseException:
            await self._release_book(feed)
            raise
        return LocalBook(feed)

    def _check_credentials(self, grouped: dict[WsKey, list[Topic]]) -> None:
        if self._credentials is None:
            private = [t.text for k, ts in grouped.items() if k.is_private for t in ts]
            if private:
                raise MissingCredentials(
                    f"private topic(s) {', '.join(private)} need api_key, api_secret and api_memo"
                )

    async def _attach(self, stream: Stream, topics: tuple[str, ...]) -> None:
        self._streams.add(stream)
        self._router.add(topics, stream)
        try:
            await self._acquire(list(topics))
        except BaseException:
            self._streams.discard(stream)
            self._router.remove(topics, stream)
            raise

    async def _detach(self, stream: Stream, topics: tuple[str, ...]) -> None:
        if stream not in self._streams:
            return  # ended by close_all: nothing is held any more
        self._streams.discard(stream)
        self._router.remove(topics, stream)
        await self._release(list(topics))

    async def _release_book(self, feed: _BookFeed) -> None:
        feed.handles -= 1
        if feed.handles > 0 or self._books.get(feed.topic) is not feed:
            return
        del self._books[feed.topic]
        self._router.remove([feed.topic], feed)
        feed.stop()
        await self._release([feed.topic])

    async def _acquire(self, topics: list[str]) -> list[str]:
        """Hold ``topics`` for a stream or book; subscribe those nobody held. Returns the new ones."""
        new = []
        for topic in topics:
            self._refs[topic] = self._refs.get(topic, 0) + 1
            if self._refs[topic] == 1 and not self._desired(topic):
                self._owned.add(topic)
                new.append(topic)
        if new:
            try:
                await self.subscribe_topics(new)
            except SubscriptionError as exc:
                await self._release(topics)
                raise exc from None
            except BaseException:
                await self._release(topics)
                raise
        return new

    async def _release(self, topics: list[str]) -> None:
        gone = []
        for topic in topics:
            count = self._refs.get(topic, 0) - 1
            if count > 0:
                self._refs[topic] = count
                continue
            self._refs.pop(topic, None)
            if topic in self._owned:
                self._owned.discard(topic)
                gone.append(topic)
        if gone:
            try:
                await self.unsubscribe_topics(gone)
            except BitmartWSError as exc:
                self._emitter.emit(
                    "exception", {"wsKey": None, "message": f"unsubscribe failed: {exc}", "error": exc}
                )

    def _desired(self, topic: str) -> bool:
        return self._holder(topic) is not None

    def _holder(self, topic: str) -> Connection | None:
        """The connection that has ``topic`` in its desired set, if any."""
        (key,) = group_by_key([topic])
        group = self._groups.get(key)
        if group is None:
            return None
        shard = group.plan.shard_of(topic)
        conn = group.connections.get(shard) if shard is not None else None
        return conn if conn is not None and topic in conn.registry else None

    def _book_request(self, topic: str) -> None:
        conn = self._holder(topic)
        if conn is not None:
            conn.request(topic)

    def _book_renew(self, topic: str) -> None:
        conn = self._holder(topic)
        if conn is not None:
            conn.renew([topic])

    def _book_event(self, topic: str, error: BookInvalidated, version: int | None) -> None:
        (key,) = group_by_key([topic])
        self.logger.warning("%s", error)
        self._emitter.emit(
            "exception",
            {"wsKey": key.value, "message": str(error), "error": error, "topic": topic, "version": version},
        )

    def _report_push(self, message: str, error: BaseException, msg: dict[str, Any]) -> None:
        self.logger.warning("%s", message)
        self._emitter.emit("exception", {"wsKey": msg.get("wsKey"), "message": message, "error": error})

    def _install_taps(self, on: bool) -> None:
        self._emitter.tap("update", self._router.on_update if on else None)
        self._emitter.tap("response", self._router.on_response if on else None)
        self._emitter.tap("reconnect", self._on_reconnect_tap if on else None)

    def _on_reconnect_tap(self, payload: dict[str, Any]) -> None:
        now = asyncio.get_running_loop().time()
        for feed in list(self._books.values()):
            conn = self._holder(feed.topic)
            if conn is not None and (conn.key.value, conn.shard) == (payload["wsKey"], payload["shard"]):
                feed.disconnected(now)

    def _pressure(self, who: object, on: bool) -> None:
        """Back-pressure: while anyone asks for it, no connection of the client reads its socket."""
        was = bool(self._pressing)
        if on:
            self._pressing.add(who)
        else:
            self._pressing.discard(who)
        now = bool(self._pressing)
        if now == was:
            return
        conns = self.connections()
        for conn in conns:
            conn.set_paused(now)
        if now:
            message = f"back-pressure: a slow consumer ({who!r}) paused reading of {len(conns)} connection(s)"
            self.logger.warning("%s", message)
            self._emitter.emit("exception", {"wsKey": None, "message": message, "error": None})
        else:
            self.logger.info("back-pressure released: reading resumed")

    def _handler_pressure(self, on: bool) -> None:
        self._pressure(self._emitter, on)

    def url_for(self, key: WsKey | str) -> str:
        """The URL used for ``key`` (override, else demo or live)."""
        k = _key(key)
        return self._urls.get(k) or k.url(demo=self.demo_trading)

    # ------------------------------------------------------------------------------------------------
    # Connections
    async def connect_all(self) -> None:
        """Open spot public/private and futures v2 public/private and wait until each is live.

        Raises :class:`ConnectTimeout` after ``connect_timeout + 2 * ack_timeout`` seconds (the
        connections keep retrying). Private keys are opened only when credentials are configured (a
        private connection without login would be useless and is never left open); without
        credentials only the public ones are.
        """
        self._start_queued()
        keys = [k for k in CONNECT_ALL_KEYS if self._credentials is not None or not k.is_private]
        limit = self._settings.connect_timeout + 2 * self._settings.ack_timeout
        try:
            async with asyncio.timeout(limit):
                await asyncio.gather(*(self._group(k).connection(0).wait_live() for k in keys))
        except TimeoutError:
            raise ConnectTimeout(
                f"not every connection was live within {limit:g} s; they keep retrying in the background"
            ) from None

    async def close(self, ws_key: WsKey | str) -> None:
        """Close every connection of ``ws_key`` and forget its topics (idempotent)."""
        group = self._groups.pop(_key(ws_key), None)
        if group is not None:
            await group.close()

    async def close_all(self) -> None:
        """Close everything: connections, timers, pending requests, the async-handler dispatcher.

        Pending subscribe waits end with :class:`InvalidState`. Idempotent; the client can be used again.
        """
        self._queued.clear()
        for feed in self._books.values():
            feed.stop()
            self._router.remove([feed.topic], feed)
        self._books.clear()
        for stream in self._streams:
            stream._end()
            self._router.remove(stream.topics, stream)
        self._streams.clear()
        self._refs.clear()
        self._owned.clear()
        self._pressing.clear()
        groups, self._groups = list(self._groups.values()), {}
        await asyncio.gather(*(g.close() for g in groups))
        current = asyncio.current_task()
        tasks = [t for t in self._tasks if t is not current]
        if tasks:
            # their waits were just ended with InvalidState: let them finish with it (an awaiting
            # caller sees InvalidState, not a CancelledError), then cancel any straggler
            _, stragglers = await asyncio.wait(tasks, timeout=0.5)
            for task in stragglers:
                task.cancel()
            if stragglers:
                await asyncio.wait(stragglers)
        await self._emitter.stop()
        if self._stop_event is not None:
            self._stop_event.set()

    async def __aenter__(self) -> Self:
        self._start_queued()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.close_all()

    def run_forever(self, timeout: float | None = None) -> None:
        """Run the client in a new event loop until :meth:`close_all`, SIGINT/SIGTERM or ``timeout``.

        For scripts without asyncio: register handlers, call :meth:`subscribe` (without a running
        loop the requests are queued), then call ``run_forever()``: it performs the queued requests
        and blocks. It returns after closing everything, when a handler calls :meth:`stop` (or an
        async handler awaits :meth:`close_all`), on SIGINT/SIGTERM, or after ``timeout`` seconds.

        Raises:
            InvalidState: called from inside a running event loop (use ``async with`` there).
        """
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            pass
        else:
            raise InvalidState(
                "run_forever() starts its own event loop; inside asyncio use `async with client`"
            )
        asyncio.run(self._run_forever(timeout))

    def stop(self) -> None:
        """Make :meth:`run_forever` close everything and return; callable from a sync handler.

        Outside ``run_forever`` there is nothing to stop: use ``await client.close_all()``.

        Raises:
            InvalidState: :meth:`run_forever` is not running.
        """
        if self._stop_event is None:
            raise InvalidState("stop() ends run_forever(), which is not running; use await close_all()")
        self._stop_event.set()

    async def _run_forever(self, seconds: float | None) -> None:
        loop = asyncio.get_running_loop()
        self._stop_event = stop = asyncio.Event()
        installed: list[signal.Signals] = []
        for sig in (signal.SIGINT, signal.SIGTERM):
            try:
                loop.add_signal_handler(sig, stop.set)
                installed.append(sig)
            except (NotImplementedError, RuntimeError, ValueError):
                pass
        try:
            self._start_queued()
            try:
                async with asyncio.timeout(seconds):
                    await stop.wait()
            except TimeoutError:
                self.logger.info("run_forever: %s s elapsed, closing", seconds)
        finally:
            for sig in installed:
                loop.remove_signal_handler(sig)
            await self.close_all()
            self._stop_event = None

    def connections(self, ws_key: WsKey | str | None = None) -> list[Connection]:
        """The connections (shards) currently managed, optionally of one key (for inspection)."""
        keys = [_key(ws_key)] if ws_key is not None else list(self._groups)
        return [c for k in keys if k in self._groups for c in self._groups[k].connections.values()]

    def subscribed_topics(self, ws_key: WsKey | str) -> list[str]:
        """The topics desired on ``ws_key`` (restored after every reconnect)."""
        return [t for c in self.connections(ws_key) for t in c.registry.desired]


class _KeyGroup:
    """The connections of one key and the plan spreading its topics over them."""

    def __init__(self, client: WebsocketClient, key: WsKey, limit: int) -> None:
        self.client = client
        self.key = key
        self.plan = ShardPlan(limit)
        self.connections: dict[int, Connection] = {}

    def connection(self, shard: int) -> Connection:
        conn = self.connections.get(shard)
        if conn is None:
            client = self.client
            conn = Connection(
                self.key,
                shard,
                lambda: client.url_for(self.key),
                client._settings,
                client._emitter,
                self.plan,
                client._attempts,
            )
            self.connections[shard] = conn
            if client._pressing:
                conn.set_paused(True)
        return conn

    async def close(self) -> None:
        await asyncio.gather(*(c.close() for c in self.connections.values()))


async def _raise(error: BaseException) -> None:
    raise error


def _key(value: WsKey | str) -> WsKey:
    try:
        return WsKey(value)
    except ValueError:
        names = ", ".join(k.value for k in WsKey)
        raise ConfigurationError(f"unknown ws key {value!r}; keys are: {names}") from None


def _url(value: str) -> str:
    if not isinstance(value, str) or not value.startswith(("ws://", "wss://")):
        raise ConfigurationError(f"a WebSocket URL starts with ws:// or wss://, not {value!r}")
    return value


def _limit(value: int) -> int:
    if not isinstance(value, int) or value < 1:
        raise ConfigurationError(f"max topics per connection must be a positive int, not {value!r}")
    return value


def _topics(topics: str | Iterable[str]) -> list[str]:
    if isinstance(topics, str):
        return [topics]
    out = list(topics)
    if not out:
        raise ConfigurationError("no topics given")
    return out
