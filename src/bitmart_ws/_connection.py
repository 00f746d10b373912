"""One connection slot of a key (one shard): the asyncio driver of a sans-I/O :class:`Session`.

The driver owns the transport, one timer re-armed at the session's next deadline, the futures of
awaiting callers, and the task that opens the socket. Every protocol decision is the session's.

The hot path is :meth:`Connection.on_binary` / ``Connection.on_text``: called synchronously by the
transport for every data frame, in arrival order; a binary frame is inflated with one
``zlib.decompress`` call, decoded once with msgspec, and a data push (the one predicate of
:mod:`bitmart_ws.protocol.inbound`) goes straight to the sync ``update`` handlers.
"""

from __future__ import annotations

import asyncio
import logging
import random
import ssl
import time
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import msgspec

from . import _transport
from ._proxy import ProxyURL
from .exceptions import BitmartWSError, ConnectError, DecodeError, InvalidState, MessageTooBig
from .protocol.backoff import Backoff
from .protocol.connection import ConnState
from .protocol.inbound import is_futures_push, is_spot_push
from .protocol.keys import Market, WsKey
from .protocol.ratelimit import RateLimiter
from .protocol.requests import Operation
from .protocol.session import Close, Emit, Open, Release, Reply, Send, Session, SessionConfig, Settle

if TYPE_CHECKING:
    from ._events import Emitter
    from .protocol.sharding import ShardPlan
    from .protocol.signing import Credentials

__all__ = ["Connection", "Settings"]

_DEFLATE_MAX_RATIO = 1032
"""Raw DEFLATE expands at most ~1032:1, so a frame below ``limit / 1032`` bytes cannot exceed ``limit``."""

_decompress = zlib.decompress
_zlib_error = zlib.error
_decode = msgspec.json.Decoder().decode
_DECODE_ERRORS = (msgspec.DecodeError, RecursionError)  # JSON nested too deep raises RecursionError


@dataclass(frozen=True, slots=True)
class Settings:
    """The client options a connection needs."""

    ping_interval: float
    pong_timeout: float
    ack_timeout: float
    connect_timeout: float
    time_offset: float
    backoff: Backoff
    rate_limit: tuple[int, float]
    credentials: Credentials | None
    signer: Callable[[str, str], str] | None
    logger: logging.Logger
    stale_timeout: float | None = None
    max_message_size: int = _transport.MAX_MESSAGE_SIZE
    proxy: ProxyURL | None = None
    ssl_context: ssl.SSLContext | None = None
    frame_tap: Callable[[str, bytes, bool], None] | None = None


class Connection:
    """One socket slot (shard ``shard`` of ``key``), reconnecting until closed."""

    def __init__(
        self,
        key: WsKey,
        shard: int,
        url: Callable[[], str],
        settings: Settings,
        emitter: Emitter,
        plan: ShardPlan,
        attempts: RateLimiter | None = None,
    ) -> None:
        self.key = key
        self.shard = shard
        self._url = url
        self._s = settings
        self._emitter = emitter
        self._plan = plan
        self._log = settings.logger
        self._key_s = key.value
        self.session = Session(
            SessionConfig(
                key=key,
                shard=shard,
                ping_interval=settings.ping_interval,
                pong_timeout=settings.pong_timeout,
                ack_timeout=settings.ack_timeout,
                backoff=settings.backoff,
                rate_limit=settings.rate_limit,
                credentials=settings.credentials,
                signer=settings.signer,
                time_offset=settings.time_offset,
                stale_timeout=settings.stale_timeout,
                stable_after=settings.backoff.maximum,
            ),
            rand=random.random,
            attempts=attempts,
        )
        self.registry = self.session.registry
        self._max_message = settings.max_message_size
        self._max_compressed = settings.max_message_size // _DEFLATE_MAX_RATIO
        spot = key.market is Market.SPOT
        # The one "data push" predicate of the market (the classifier uses the same one), bound once.
        self._is_push: Callable[[Any], bool] = is_spot_push if spot else is_futures_push
        # The staleness watchdog (``stale_timeout``) stamps each push's topic; None: no per-topic work.
        self._stamp: Callable[[dict[str, Any], float], None] | None = None
        if self.session.fresh is not None:
            self._stamp = self._stamp_spot if spot else self._stamp_futures
        self._loop: asyncio.AbstractEventLoop | None = None
        self._transport: _transport.Transport | None = None
        self._opening: asyncio.Task[None] | None = None
        self._timer: asyncio.TimerHandle | None = None
        self._timer_at: float | None = None
        self._waiters: dict[tuple[Operation, str], asyncio.Future[Reply]] = {}
        self._changed = asyncio.Event()
        self._state = self.session.state
        self._paused = False

    def __repr__(self) -> str:
        return f"<Connection {self.session.label} {self.state.value} topics={len(self.registry)}>"

    @property
    def state(self) -> ConnState:
        return self.session.state

    # ------------------------------------------------------------------------------------------------
    # Hot path: called by the transport for every data frame, synchronously, in arrival order.
    def on_binary(self, payload: memoryview) -> None:
        if len(payload) > self._max_compressed:
            data = self._bounded_inflate(payload)
            if data is None:
                return
        else:
            try:
                data = _decompress(payload, -15)
            except _zlib_error as exc:
                self._malformed(
                    DecodeError(f"cannot inflate binary frame of {len(payload)} bytes: {exc}"), payload
                )
                return
        self.on_text(data)

    def on_text(self, data: bytes) -> None:
        if data == b"pong":  # spot's pong is bare text, not JSON
            self._input(self.session.pong)
            return
        try:
            msg = _decode(data)
        except _DECODE_ERRORS as exc:
            self._malformed(DecodeError(f"frame is not valid JSON: {exc}"), data)
            return
        if not self._is_push(msg):
            self._input(self.session.receive, msg)
            return
        msg["wsKey"] = self._key_s
        if self._stamp is not None and self._loop is not None:
            self._stamp(msg, self._loop.time())
        # Emitter.emit for `update`, inlined: the hot path saves a call per push (measured: ~5% of
        # the instructions per futures ticker push, `make bench` / callgrind).
        emitter = self._emitter
        for handler in emitter.update_sync:
            try:
                result = handler(msg)
            except Exception as exc:
                emitter.handler_failed("update", handler, exc, msg)
            else:
                if result is not None:
                    emitter.returned("update", handler, result, msg)
        if emitter.update_async:
            emitter.enqueue_async("update", msg)

    # Used only with ``stale_timeout``: which topic(s) a push serves.
    def _stamp_spot(self, msg: dict[str, Any], now: float) -> None:
        fresh = self.session.fresh
        if fresh is not None:
            fresh.spot_push(msg["table"], msg.get("data"), now)

    def _stamp_futures(self, msg: dict[str, Any], now: float) -> None:
        fresh = self.session.fresh
        if fresh is not None:
            fresh.futures_push(msg["group"], now)

    def _bounded_inflate(self, payload: memoryview) -> bytes | None:
        """Inflate a frame that could exceed ``max_message_size``, stopping at the bound."""
        limit = self._max_message
        inflater = zlib.decompressobj(-15)
        try:
            data = inflater.decompress(payload, limit + 1)
        except _zlib_error as exc:
            self._malformed(
                DecodeError(f"cannot inflate binary frame of {len(payload)} bytes: {exc}"), payload
            )
            return None
        if len(data) > limit:
            self.on_oversized(len(data), limit)
            return None
        if not inflater.eof:
            error = DecodeError(f"cannot inflate binary frame of {len(payload)} bytes: truncated stream")
            self._malformed(error, payload)
            return None
        return data

    def on_oversized(self, size: int, limit: int) -> None:
        """A message over ``max_message_size`` (the transport's reassembly or an inflated frame): dropped."""
        error = MessageTooBig(
            f"{self.session.label}: message of {size if size <= limit else 'more than ' + str(limit)} bytes "
            f"exceeds max_message_size ({limit} bytes); dropped",
            size=size,
            limit=limit,
        )
        self._log.warning("%s", error)
        self._emitter.emit("exception", {**self.session.base(), "message": str(error), "error": error})

    def _malformed(self, error: DecodeError, payload: Any) -> None:
        preview = bytes(payload[:200])
        self._log.warning("%s: malformed frame: %s", self.session.label, error)
        self._emitter.emit(
            "exception", {**self.session.base(), "message": str(error), "error": error, "payload": preview}
        )

    def on_closed(self, code: int, reason: str) -> None:
        """The transport lost the socket (server close, reset...)."""
        self._transport = None
        self._input(self.session.connection_lost, code, reason)

    # ------------------------------------------------------------------------------------------------
    # Driving the session
    def _input(self, handler: Callable[..., None], *args: Any) -> None:
        """Feed one input to the session at the loop's time and carry out its effects.

        An unexpected error is logged with its traceback, reported, and the connection restarts
        through the normal reconnect path: it never ends the connection silently.
        """
        loop = self._loop or asyncio.get_running_loop()
        self._loop = loop
        try:
            handler(loop.time(), *args)
            self._apply()
        except Exception as exc:
            self._log.exception("%s: unexpected error", self.session.label)
            self.session.failed(loop.time(), exc)
            self._apply()

    def _apply(self) -> None:
        session = self.session
        for effect in session.effects():
            kind = type(effect)
            if kind is Send:
                assert isinstance(effect, Send)
                if self._transport is not None:
                    self._transport.send_text(effect.frame)
            elif kind is Emit:
                assert isinstance(effect, Emit)
                self._log_event(effect)
                self._emitter.emit(effect.event, effect.payload)
            elif kind is Settle:
                assert isinstance(effect, Settle)
                fut = self._waiters.pop((effect.operation, effect.topic), None)
                if fut is not None and not fut.done():
                    fut.set_result(effect.reply)
            elif kind is Open:
                self._open()
            elif kind is Close:
                assert isinstance(effect, Close)
                transport, self._transport = self._transport, None
                if transport is not None:
                    if effect.abort:
                        transport.abort()
                    else:
                        transport.close(effect.code, effect.reason)
            elif kind is Release:
                assert isinstance(effect, Release)
                self._plan.release(effect.topics)
        if session.state is not self._state:
            self._state = session.state
            self._changed.set()
        self._arm()

    def _log_event(self, effect: Emit) -> None:
        payload = effect.payload
        if effect.event == "exception":
            self._log.warning("%s", payload["message"])
        elif effect.event == "reconnect":
            self._log.info(
                "%s: reconnecting in %.2f s (attempt %d) after %s (code %d)",
                self.session.label,
                payload["delay"],
                payload["attempt"],
                type(payload["error"]).__name__,
                payload["code"],
            )
        elif effect.event in ("open", "reconnected", "authenticated"):
            self._log.info("%s: %s", self.session.label, effect.event)

    def _arm(self) -> None:
        deadline = self.session.next_deadline()
        if deadline == self._timer_at and self._timer is not None:
            return
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self._timer_at = deadline
        if deadline is not None and self._loop is not None:
            self._timer = self._loop.call_at(deadline, self._on_timer)

    def _on_timer(self) -> None:
        self._timer = None
        due = self._timer_at
        loop = self._loop
        assert loop is not None and due is not None
        # The loop may run a timer up to its clock resolution early: it is due, so tick at the deadline.
        self._input(lambda now: self.session.tick(max(now, due)))

    def _open(self) -> None:
        loop = self._loop
        assert loop is not None
        url = self.session.url = self._url()
        self._opening = loop.create_task(self._connect(url), name=f"bitmart_ws connect {self.session.label}")

    async def _connect(self, url: str) -> None:
        try:
            transport = await _transport.connect(
                url,
                self if self._s.frame_tap is None else _Tapped(self, self._s.frame_tap),
                within=self._s.connect_timeout,
                max_message_size=self._max_message,
                proxy=self._s.proxy,
                ssl_context=self._s.ssl_context,
            )
        except BitmartWSError as exc:
            self._input(self.session.connect_failed, exc)
            return
        except Exception as exc:  # an unexpected failure still ends in the normal retry path
            self._log.exception("%s: unexpected error while connecting", self.session.label)
            error = ConnectError(f"cannot connect to {url}: {type(exc).__name__}: {exc}", url=url)
            error.__cause__ = exc
            self._input(self.session.connect_failed, error)
            return
        finally:
            self._opening = None
        if self.session.state is not ConnState.CONNECTING:  # closed meanwhile
            transport.close(1000, "closed by client")
            return
        self._transport = transport
        if self._paused:
            transport.pause_reading()
        self._input(self.session.connected, time.time())

    # ------------------------------------------------------------------------------------------------
    # Requests from the client (synchronous: validated, placed and sent before they return).
    def subscribe(self, topics: list[str]) -> list[tuple[str, asyncio.Future[Reply] | Reply]]:
        """Desire ``topics`` here; each topic's pending acknowledgement (a future) or known outcome."""
        return self._request(self.session.subscribe, Operation.SUBSCRIBE, topics)

    def unsubscribe(self, topics: list[str]) -> list[tuple[str, asyncio.Future[Reply] | Reply]]:
        return self._request(self.session.unsubscribe, Operation.UNSUBSCRIBE, topics)

    def request(self, topic: str) -> bool:
        """Send a one-shot ``request`` (a fresh book snapshot); False when no socket can carry it now."""
        sent: list[bool] = []
        self._input(lambda now: sent.append(self.session.request(now, topic)))
        return bool(sent and sent[0])

    def _request(
        self,
        handler: Callable[[float, list[str]], list[tuple[str, Reply | None]]],
        op: Operation,
        topics: list[str],
    ) -> list[tuple[str, asyncio.Future[Reply] | Reply]]:
        loop = self._loop = self._loop or asyncio.get_running_loop()
        outcomes = handler(loop.time(), topics)  # raises InvalidState / the stop error before anything
        out: list[tuple[str, asyncio.Future[Reply] | Reply]] = []
        for topic, reply in outcomes:
            if reply is not None:
                out.append((topic, reply))
                continue
            fut = self._waiters.get((op, topic))
            if fut is None or fut.done():
                fut = self._waiters[(op, topic)] = loop.create_future()
            out.append((topic, fut))
        self._apply()
        return out

    def renew(self, topics: list[str]) -> list[str]:
        """Unsubscribe and subscribe ``topics`` again on this socket (those acknowledged here)."""
        renewed: list[str] = []
        self._input(lambda now: renewed.extend(self.session.renew(now, topics)))
        return renewed

    def set_paused(self, paused: bool) -> None:
        """Back-pressure: stop (or resume) reading the socket; the session suspends its pong deadline."""
        if paused == self._paused:
            return
        self._paused = paused
        transport = self._transport
        if transport is not None:
            if paused:
                transport.pause_reading()
            else:
                transport.resume_reading()
        self._input(self.session.set_paused, paused)

    def start(self) -> None:
        self._input(self.session.start)

    async def wait_live(self) -> None:
        """Start if needed and wait until the connection is live (used by ``connect_all``)."""
        self.start()
        while self.state is not ConnState.LIVE:
            if self.session.stop_error is not None:
                raise self.session.stop_error
            if self.session.finished:
                raise InvalidState(f"connection {self.session.label} was closed")
            self._changed.clear()
            await self._changed.wait()

    async def close(self, *, emit: bool = True) -> None:
        """Stop for good: cancel the timer and the opening task, close the socket, settle every wait,
        emit ``close``."""
        session = self.session
        if session.finished:
            return
        loop = self._loop = self._loop or asyncio.get_running_loop()
        opening, self._opening = self._opening, None
        if opening is not None and opening is not asyncio.current_task():
            opening.cancel()
            await asyncio.wait([opening])
        # The close handshake is ours to await: take the socket before the session's Close effect.
        transport, self._transport = self._transport, None
        session.close(loop.time())
        self._apply()
        code, reason = 1000, "closed by client"
        if transport is not None:
            code, reason = await transport.aclose(1000, "closed by client")
        session.closed(code, reason, emit=emit)
        self._apply()
        for fut in self._waiters.values():  # settled above; nothing may wait on a closed connection
            if not fut.done():
                fut.cancel()
        self._waiters.clear()
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None


class _Tapped:
    """The sink of a connection whose frames are also handed, as received, to ``frame_tap``
    (``ws_key, payload, binary``) first. Only used with the option: no cost on the plain path."""

    __slots__ = ("_conn", "_key", "_tap", "on_closed", "on_oversized")

    def __init__(self, conn: Connection, tap: Callable[[str, bytes, bool], None]) -> None:
        self._conn = conn
        self._tap = tap
        self._key = conn.key.value
        self.on_closed = conn.on_closed
        self.on_oversized = conn.on_oversized

    def on_text(self, data: bytes) -> None:
        self._tap(self._key, data, False)
        self._conn.on_text(data)

    def on_binary(self, payload: memoryview) -> None:
        self._tap(self._key, bytes(payload), True)
        self._conn.on_binary(payload)
