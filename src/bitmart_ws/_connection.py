"""One connection slot of a key (one shard): the asyncio driver of the sans-I/O lifecycle.

The hot path is ``Connection.on_text`` / :meth:`Connection.on_binary`: called synchronously
by the transport for every data frame, in arrival order; a binary frame is inflated with one
``zlib.decompress`` call, decoded once with msgspec, and a data push goes straight to the sync
``update`` handlers (:meth:`Emitter.emit_update`).
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
import zlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, NoReturn

import msgspec

from . import _transport
from .exceptions import (
    AckTimeout,
    AuthenticationError,
    BitmartWSError,
    ConnectError,
    ConnectionClosed,
    DecodeError,
    InvalidState,
    LoginTimeout,
    MissingCredentials,
    PongTimeout,
    ServerError,
    StaleTopic,
    SubscriptionError,
    Timeout,
)
from .protocol.backoff import Backoff
from .protocol.connection import ConnState, Lifecycle
from .protocol.inbound import (
    ErrorReply,
    LoginReply,
    Pong,
    Push,
    SubscriptionReply,
    classify,
)
from .protocol.keys import Market, WsKey
from .protocol.ratelimit import RateLimiter
from .protocol.registry import Freshness, LiveState, TopicRegistry
from .protocol.requests import Operation, login_frame, ping_frame, subscription_frames
from .protocol.signing import sign_payload

if TYPE_CHECKING:
    from ._events import Emitter
    from .protocol.sharding import ShardPlan
    from .protocol.signing import Credentials

__all__ = ["FATAL_LOGIN_CODES", "Connection", "Reply", "Settings"]

FATAL_LOGIN_CODES = frozenset({"91001", "91002", "91003", "91004"})
"""Spot login codes that mean the key itself is unusable (empty, not found, frozen, expired)."""
DUPLICATE_SUBSCRIPTION = "90008"

_decompress = zlib.decompress
_zlib_error = zlib.error
_decode = msgspec.json.Decoder().decode
_monotonic = time.monotonic
_msgspec_error = msgspec.DecodeError
_SUB = Operation.SUBSCRIBE
_UNSUB = Operation.UNSUBSCRIBE


@dataclass(frozen=True, slots=True)
class Reply:
    """The outcome of one topic's subscribe/unsubscribe. ``error`` is set when it did not succeed."""

    ok: bool
    code: str | None = None
    message: str = ""
    error: BitmartWSError | None = None


_OK = Reply(True)


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


class Connection:
    """One socket slot (shard ``shard`` of ``key``), reconnecting until closed.

    It owns one runner task (connect → login → resubscribe → live → on drop: backoff, again), its
    timers (next ping, a rate-limited ping, pong deadline, staleness check) and the short tasks that
    send follow-up requests; :meth:`close` cancels all of them.
    """

    def __init__(
        self,
        key: WsKey,
        shard: int,
        url: Callable[[], str],
        settings: Settings,
        emitter: Emitter,
        plan: ShardPlan,
    ) -> None:
        self.key = key
        self.shard = shard
        self._url = url
        self._s = settings
        self._emitter = emitter
        self._plan = plan
        self._log = settings.logger
        self._debug = self._log.isEnabledFor(logging.DEBUG)
        self._key_s = key.value
        self._market = key.market
        spot = key.market is Market.SPOT
        # The transport calls ``on_text`` for every text frame: the market's parser, bound once.
        self.on_text: Callable[[bytes], None] = self._spot_text if spot else self._futures_text
        # Where a data push goes. Without the staleness watchdog, straight to the handlers; with it,
        # through a wrapper that stamps the push's topic first (no per-topic work when it is off).
        self._deliver: Callable[[dict[str, Any]], None] = emitter.emit_update
        self._fresh: Freshness | None = None
        if settings.stale_timeout is not None:
            self._fresh = Freshness()
            self._deliver = self._watched_spot if spot else self._watched_futures
        self.lifecycle = Lifecycle()
        self.registry = TopicRegistry()
        self._limiter = RateLimiter(*settings.rate_limit)
        self._waiters: dict[tuple[Operation, str], asyncio.Future[Reply]] = {}
        self._transport: _transport.Transport | None = None
        self._generation = 0
        self._closed_fut: asyncio.Future[BaseException] | None = None
        self._login_fut: asyncio.Future[LoginReply] | None = None
        self._runner: asyncio.Task[None] | None = None
        self._tasks: set[asyncio.Task[Any]] = set()
        self._ping_timer: asyncio.TimerHandle | None = None
        self._paced_ping: asyncio.TimerHandle | None = None
        self._pong_timer: asyncio.TimerHandle | None = None
        self._stale_timer: asyncio.TimerHandle | None = None
        self._down_since: float | None = None
        self._stop_error: AuthenticationError | None = None
        self._changed = asyncio.Event()
        self.current_url = ""

    def __repr__(self) -> str:
        state = self.lifecycle.state.value
        return f"<Connection {self._key_s}#{self.shard} {state} topics={len(self.registry)}>"

    @property
    def state(self) -> ConnState:
        return self.lifecycle.state

    def _base(self) -> dict[str, Any]:
        return {"wsKey": self._key_s, "url": self.current_url or self._url(), "shard": self.shard}

    # ------------------------------------------------------------------------------------------------
    # Hot path: called by the transport for every data frame, synchronously, in arrival order.
    # One parser per market (bound to ``on_text`` in __init__) keeps the dialect tests off the path:
    # one inflate (binary), one decode, a cheap push test, then the ``update`` handlers directly.
    def on_binary(self, payload: memoryview) -> None:
        try:
            data = _decompress(payload, -15)
        except _zlib_error as exc:
            self._malformed(
                DecodeError(f"cannot inflate binary frame of {len(payload)} bytes: {exc}"), payload
            )
            return
        self.on_text(data)

    def _spot_text(self, data: bytes) -> None:
        if data == b"pong":
            self._on_pong()
            return
        try:
            msg = _decode(data)
        except _msgspec_error as exc:
            self._malformed(DecodeError(f"frame is not valid JSON: {exc}"), data)
            return
        if type(msg) is dict and "table" in msg:
            msg["wsKey"] = self._key_s
            self._deliver(msg)
        else:
            self._on_control(msg)

    def _futures_text(self, data: bytes) -> None:
        try:
            msg = _decode(data)
        except _msgspec_error as exc:
            if data == b"pong":
                self._on_pong()
            else:
                self._malformed(DecodeError(f"frame is not valid JSON: {exc}"), data)
            return
        if (
            type(msg) is dict
            and "data" in msg
            and "action" not in msg
            and msg.get("group", "System") != "System"
        ):
            msg["wsKey"] = self._key_s
            self._deliver(msg)
        else:
            self._on_control(msg)

    # The instrumented ``_deliver`` used only with ``stale_timeout``.
    def _watched_spot(self, msg: dict[str, Any]) -> None:
        table = msg["table"]
        if type(table) is str and self._fresh is not None:
            self._fresh.spot_push(table, msg.get("data"), _monotonic())
        self._emitter.emit_update(msg)

    def _watched_futures(self, msg: dict[str, Any]) -> None:
        group = msg["group"]
        if type(group) is str and self._fresh is not None:
            self._fresh.futures_push(group, _monotonic())
        self._emitter.emit_update(msg)

    def on_closed(self, code: int, reason: str) -> None:
        """The transport lost the socket (server close, reset...)."""
        self._transport = None
        self._cancel_timers()
        if self._closed_fut is not None and not self._closed_fut.done():
            self._closed_fut.set_result(ConnectionClosed(code, reason))

    # ------------------------------------------------------------------------------------------------
    def _malformed(self, error: DecodeError, payload: Any) -> None:
        preview = bytes(payload[:200])
        self._log.warning("%s: malformed frame: %s", self._key_s, error)
        self._emitter.emit(
            "exception", {**self._base(), "message": str(error), "error": error, "payload": preview}
        )

    def _on_control(self, msg: Any) -> None:
        inbound = classify(self._market, msg)
        if isinstance(inbound, Pong):
            self._on_pong()
        elif isinstance(inbound, SubscriptionReply):
            self._on_subscription_reply(inbound)
        elif isinstance(inbound, LoginReply):
            self._on_login_reply(inbound)
        elif isinstance(inbound, ErrorReply):
            error = ServerError(inbound.message, code=inbound.code, raw=inbound.raw)
            raw = inbound.raw if isinstance(inbound.raw, dict) else {"data": inbound.raw}
            self._emitter.emit(
                "exception",
                {**raw, "wsKey": self._key_s, "message": f"server error: {error}", "error": error},
            )
        elif isinstance(inbound, Push):  # futures pushes with an explicit "action": null
            inbound.raw["wsKey"] = self._key_s
            self._deliver(inbound.raw)
        else:
            if self._debug:
                self._log.debug("%s: unrecognised message %r", self._key_s, msg)
            payload = msg if isinstance(msg, dict) else {"data": msg}
            payload["wsKey"] = self._key_s
            self._emitter.emit("update", payload)

    def _on_subscription_reply(self, reply: SubscriptionReply) -> None:
        op = Operation(reply.operation)
        topic = reply.topic
        if (op, topic) not in self._waiters and topic not in self.registry and "@" in topic:
            # futures may answer with a speed suffix the client never asked for
            base = topic.rsplit("@", 1)[0]
            if (op, base) in self._waiters or base in self.registry:
                topic = base
        ok = reply.ok or (reply.code == DUPLICATE_SUBSCRIPTION and op is _SUB)
        self.registry.on_reply(op, topic, ok)
        if self._fresh is not None:
            live = self.registry.live_state(topic)
            if live is LiveState.SUBSCRIBED and op is _SUB:
                self._fresh.watch(topic, _monotonic())
            elif live is None:
                self._fresh.unwatch(topic)
        waiter = self._waiters.pop((op, topic), None)
        payload = {**reply.raw, "wsKey": self._key_s}
        if ok:
            if waiter is not None and not waiter.done():
                waiter.set_result(_OK)
            self._emitter.emit("response", payload)
            if op is _SUB and topic not in self.registry:
                # unsubscribed while the subscribe was in flight: take it back off the socket
                self._spawn(self._send_requests(_UNSUB, self.registry.to_unsubscribe([topic])))
            return
        if op is _SUB:
            self._plan.release([topic])
        error = SubscriptionError({topic: (reply.code, reply.message or "rejected")}, operation=op.value)
        if waiter is not None and not waiter.done():
            waiter.set_result(Reply(False, reply.code, reply.message, error))
        self._emitter.emit("exception", {**payload, "message": str(error), "error": error})

    def _on_login_reply(self, reply: LoginReply) -> None:
        fut = self._login_fut
        if fut is None or fut.done():
            self._log.warning("%s: unexpected login reply (ok=%s)", self._key_s, reply.ok)
            return
        fut.set_result(reply)
        if reply.ok:
            self._emitter.emit("authenticated", {**reply.raw, "wsKey": self._key_s})

    # ------------------------------------------------------------------------------------------------
    # Heartbeat (timers, no task): ping every ping_interval; no pong within pong_timeout -> reconnect.
    def _start_heartbeat(self) -> None:
        loop = asyncio.get_running_loop()
        self._ping_timer = loop.call_later(self._s.ping_interval, self._ping)
        if self._s.stale_timeout is not None:
            self._stale_timer = loop.call_later(self._s.stale_timeout / 4, self._check_stale)

    def _ping(self) -> None:
        loop = asyncio.get_running_loop()
        self._ping_timer = loop.call_later(self._s.ping_interval, self._ping)
        now = loop.time()
        slot = self._limiter.reserve(now)
        if slot > now:  # the rate limit says later; the timer is cancelled with the others
            if self._paced_ping is not None:
                self._paced_ping.cancel()
            self._paced_ping = loop.call_at(slot, self._send_ping)
        else:
            self._send_ping()

    def _send_ping(self) -> None:
        self._paced_ping = None
        transport = self._transport
        if transport is None:
            return
        transport.send_text(ping_frame(self._market))
        if self._pong_timer is None:
            self._pong_timer = asyncio.get_running_loop().call_later(self._s.pong_timeout, self._pong_missed)

    def _on_pong(self) -> None:
        if self._pong_timer is not None:
            self._pong_timer.cancel()
            self._pong_timer = None

    def _pong_missed(self) -> None:
        self._pong_timer = None
        self._log.warning(
            "%s#%d: no pong within %.3g s, reconnecting", self._key_s, self.shard, self._s.pong_timeout
        )
        transport, self._transport = self._transport, None
        self._cancel_timers()
        if transport is not None:
            transport.abort()
        if self._closed_fut is not None and not self._closed_fut.done():
            self._closed_fut.set_result(PongTimeout(f"no pong within {self._s.pong_timeout:g} s"))

    def _check_stale(self) -> None:
        """Staleness watchdog (``stale_timeout``): report and resubscribe topics without pushes."""
        timeout = self._s.stale_timeout
        assert timeout is not None and self._fresh is not None
        loop = asyncio.get_running_loop()
        self._stale_timer = loop.call_later(timeout / 4, self._check_stale)
        stale = [t for t in self._fresh.stale(_monotonic(), timeout) if self.registry.resubscribe(t)]
        for topic in stale:
            message = f"{self._key_s}#{self.shard}: no push on {topic} for {timeout:g} s; resubscribing"
            self._log.warning("%s", message)
            self._emitter.emit(
                "exception",
                {**self._base(), "message": message, "error": StaleTopic(message, topic), "topic": topic},
            )
        if stale:
            self._spawn(self._resubscribe(stale, self._generation))

    async def _resubscribe(self, topics: list[str], generation: int) -> None:
        if await self._send_frames(_UNSUB, topics, generation):
            await self._send_frames(_SUB, topics, generation)

    def _cancel_timers(self) -> None:
        for timer in (self._ping_timer, self._paced_ping, self._pong_timer, self._stale_timer):
            if timer is not None:
                timer.cancel()
        self._ping_timer = self._paced_ping = self._pong_timer = self._stale_timer = None

    # ------------------------------------------------------------------------------------------------
    # Sending (paced by the rate limiter; a frame for a replaced socket is dropped).
    async def _send(self, frame: bytes, generation: int) -> bool:
        loop = asyncio.get_running_loop()
        now = loop.time()
        slot = self._limiter.reserve(now)
        if slot > now:
            await asyncio.sleep(slot - now)
        transport = self._transport
        if transport is None or generation != self._generation:
            return False
        transport.send_text(frame)
        return True

    def _waiter(self, op: Operation, topic: str) -> asyncio.Future[Reply]:
        fut = self._waiters.get((op, topic))
        if fut is None or fut.done():
            fut = asyncio.get_running_loop().create_future()
            self._waiters[(op, topic)] = fut
        return fut

    async def _send_frames(self, op: Operation, topics: list[str], generation: int) -> bool:
        """Send ``topics`` in batched, paced frames; False once the socket of ``generation`` is gone."""
        for _batch, frame in subscription_frames(self._market, op, topics):
            if not await self._send(frame, generation):
                return False
        return True

    async def _send_requests(self, op: Operation, topics: list[str]) -> list[asyncio.Future[Reply]]:
        """Register a reply waiter per topic, send the requests, and return the waiters."""
        waiters = [self._waiter(op, topic) for topic in topics]
        await self._send_frames(op, topics, self._generation)
        return waiters

    def _spawn(self, coro: Any) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._task_done)

    def _task_done(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            exc = task.exception()
            self._log.error("%s: background send failed: %r", self._key_s, exc)

    # ------------------------------------------------------------------------------------------------
    # Requests from the client.
    async def subscribe(self, topics: list[str]) -> list[tuple[str, asyncio.Future[Reply] | Reply]]:
        """Desire ``topics`` here; returns each topic's pending acknowledgement (or its known outcome)."""
        if self._stop_error is not None:
            raise self._stop_error
        if self.lifecycle.finished:
            raise InvalidState(f"connection {self._key_s}#{self.shard} is closed")
        self.registry.add(topics)
        out: list[tuple[str, asyncio.Future[Reply] | Reply]] = []
        for topic in topics:
            if self.registry.live_state(topic) is LiveState.SUBSCRIBED:
                out.append((topic, _OK))
            else:
                out.append((topic, self._waiter(_SUB, topic)))
        state = self.lifecycle.state
        if state is ConnState.IDLE:
            self.start()
        elif self.lifecycle.sendable:
            await self._send_requests(_SUB, self.registry.to_subscribe())
        return out

    async def unsubscribe(self, topics: list[str]) -> list[tuple[str, asyncio.Future[Reply] | Reply]]:
        removed = self.registry.remove(topics)
        for topic in removed:
            waiter = self._waiters.pop((_SUB, topic), None)
            if waiter is not None and not waiter.done():
                waiter.set_result(
                    Reply(
                        False,
                        None,
                        "unsubscribed before acknowledgement",
                        InvalidState(
                            f"{topic} was unsubscribed before the server acknowledged the subscription"
                        ),
                    )
                )
        todo = self.registry.to_unsubscribe(removed) if self.lifecycle.sendable else []
        waiters = dict(zip(todo, await self._send_requests(_UNSUB, todo), strict=True))
        return [(topic, waiters.get(topic, _OK)) for topic in topics]

    # ------------------------------------------------------------------------------------------------
    # The runner.
    def start(self) -> None:
        if self._runner is None and self.lifecycle.state is ConnState.IDLE:
            self._runner = asyncio.get_running_loop().create_task(
                self._run(), name=f"bitmart_ws {self._key_s}#{self.shard}"
            )

    async def wait_live(self) -> None:
        """Start if needed and wait until the connection is live (used by ``connect_all``)."""
        self.start()
        while self.lifecycle.state is not ConnState.LIVE:
            if self._stop_error is not None:
                raise self._stop_error
            if self.lifecycle.finished:
                raise InvalidState(f"connection {self._key_s}#{self.shard} was closed")
            self._changed.clear()
            await self._changed.wait()

    def _to(self, state: ConnState) -> None:
        self.lifecycle.to(state)
        self._changed.set()

    async def _run(self) -> None:
        lc = self.lifecycle
        while True:
            self._to(ConnState.CONNECTING)
            to_max = False
            cause: BaseException
            try:
                await self._session()  # returns only by raising
            except AuthenticationError as exc:
                if exc.code in FATAL_LOGIN_CODES:
                    self._teardown()
                    self._stop(exc)
                    return
                cause, to_max = exc, True
                # pending subscribes learn why now; their topics stay desired for the next login
                self._fail_waiters(exc)
                self._report(f"login refused on {self._key_s}: {exc}; retrying after the maximum delay", exc)
            except ConnectError as exc:
                cause = exc
                to_max = exc.status is not None and 400 <= exc.status < 500
                suffix = "; backing off to the maximum delay" if to_max else ""
                self._report(f"{exc}{suffix}", exc)
            except ConnectionClosed as exc:
                cause = exc
            except (Timeout, MissingCredentials) as exc:
                cause = exc
                self._report(f"{self._key_s}#{self.shard}: {exc}", exc)
            except Exception as exc:  # task root: anything unexpected is reported, then we reconnect
                cause = exc
                self._log.exception("%s#%d: unexpected error", self._key_s, self.shard)
                self._report(f"{self._key_s}#{self.shard}: unexpected {type(exc).__name__}: {exc}", exc)
            finally:
                self._teardown()
            if lc.opened and self._down_since is None:  # after `open`, recovery is `reconnected`
                self._down_since = time.monotonic()
            self._to(ConnState.BACKOFF)
            rand = random.random()
            backoff = self._s.backoff
            delay = backoff.max_delay(rand) if to_max else backoff.delay(lc.attempt - 1, rand)
            code = cause.code if isinstance(cause, ConnectionClosed) else 1006
            reason = cause.reason if isinstance(cause, ConnectionClosed) else str(cause)
            self._log.info(
                "%s#%d: reconnecting in %.3f s (attempt %d)", self._key_s, self.shard, delay, lc.attempt
            )
            self._emitter.emit(
                "reconnect",
                {
                    **self._base(),
                    "code": code,
                    "reason": reason,
                    "attempt": lc.attempt,
                    "delay": delay,
                    "error": cause,
                },
            )
            await asyncio.sleep(delay)

    def _report(self, message: str, error: BaseException) -> None:
        self._log.warning("%s", message)
        self._emitter.emit("exception", {**self._base(), "message": message, "error": error})

    async def _session(self) -> NoReturn:
        loop = asyncio.get_running_loop()
        self._generation += 1
        self._closed_fut = loop.create_future()
        self._limiter.reset()
        self.registry.reset()
        self.current_url = url = self._url()
        self._transport = await _transport.connect(url, self, within=self._s.connect_timeout)
        self._start_heartbeat()
        lc = self.lifecycle
        if not lc.opened:
            lc.opened = True
            self._emitter.emit("open", self._base())
        if self.key.is_private:
            self._to(ConnState.AUTHENTICATING)
            await self._login()
        self._to(ConnState.SUBSCRIBING)
        topics = self.registry.to_subscribe()
        waiters = await self._send_requests(_SUB, topics)
        await self._wait(
            waiters,
            self._s.ack_timeout,
            lambda: AckTimeout(
                f"{self._key_s}#{self.shard}: resubscription not acknowledged "
                f"within {self._s.ack_timeout:g} s",
                tuple(t for t, w in zip(topics, waiters, strict=True) if not w.done()),
            ),
        )
        self._to(ConnState.LIVE)
        if self._down_since is not None:
            downtime = time.monotonic() - self._down_since
            self._down_since = None
            self._emitter.emit(
                "reconnected",
                {**self._base(), "downtime": downtime, "topics": list(self.registry.subscribed())},
            )
        assert self._closed_fut is not None
        cause = await self._closed_fut
        raise cause

    async def _wait(
        self, futs: Iterable[asyncio.Future[Any]], within: float, on_timeout: Callable[[], Exception]
    ) -> None:
        """Wait for every future unless the socket closes first (raise its cause) or time runs out."""
        closed = self._closed_fut
        assert closed is not None
        pending = {f for f in futs if not f.done()}
        loop = asyncio.get_running_loop()
        deadline = loop.time() + within
        while pending and not closed.done():
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise on_timeout()
            done, _ = await asyncio.wait(
                pending | {closed}, timeout=remaining, return_when=asyncio.FIRST_COMPLETED
            )
            pending -= done
        if pending:  # the socket closed first (a reply that arrived before the close still counts)
            raise closed.result()

    async def _login(self) -> None:
        creds = self._s.credentials
        if creds is None:
            raise MissingCredentials(f"{self._key_s} needs api_key, api_secret and api_memo")
        timestamp = int((time.time() + self._s.time_offset) * 1000)
        if self._s.signer is not None:
            signature = self._s.signer(sign_payload(timestamp, creds.api_memo), creds.api_secret)
        else:
            signature = creds.sign(timestamp)
        fut: asyncio.Future[LoginReply] = asyncio.get_running_loop().create_future()
        self._login_fut = fut
        await self._send(login_frame(self._market, creds.api_key, timestamp, signature), self._generation)
        await self._wait(
            [fut],
            self._s.ack_timeout,
            lambda: LoginTimeout(
                f"{self._key_s}#{self.shard}: no login reply within {self._s.ack_timeout:g} s"
            ),
        )
        reply = fut.result()
        if not reply.ok:
            raise AuthenticationError(reply.message or "login refused", code=reply.code, raw=reply.raw)

    def _teardown(self) -> None:
        self._cancel_timers()
        self._generation += 1
        transport, self._transport = self._transport, None
        if transport is not None:
            transport.close(1000, "")
        if self._login_fut is not None and not self._login_fut.done():
            self._login_fut.cancel()
        self._login_fut = None
        if self._closed_fut is not None and not self._closed_fut.done():
            self._closed_fut.set_result(ConnectionClosed(1000, "closed by client"))
        self.registry.reset()
        if self._fresh is not None:
            self._fresh.clear()

    def _stop(self, exc: AuthenticationError) -> None:
        """The server says the key is invalid: no more retries on this connection."""
        self._to(ConnState.STOPPED)
        self._stop_error = exc
        message = (
            f"{self._key_s}: login refused: {exc}. The server says the API key itself is invalid; "
            "this connection is stopped and will not retry"
        )
        self._log.error("%s", message)
        self._fail_waiters(exc)
        self._emitter.emit("exception", {**self._base(), "message": message, "error": exc, "stopped": True})

    def _fail_waiters(self, error: BitmartWSError) -> None:
        waiters, self._waiters = self._waiters, {}
        for fut in waiters.values():
            if not fut.done():
                fut.set_result(Reply(False, getattr(error, "code", None), str(error), error))

    async def close(self, *, emit: bool = True) -> None:
        """Stop for good: cancel the runner, timers and tasks, close the socket, end waits, emit ``close``."""
        lc = self.lifecycle
        if lc.finished:
            return
        started = self._runner is not None
        self._to(ConnState.CLOSING)
        tasks = [t for t in (self._runner, *self._tasks) if t is not None and t is not asyncio.current_task()]
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.wait(tasks)
        self._runner = None
        self._teardown()
        self._fail_waiters(InvalidState(f"connection {self._key_s}#{self.shard} closed by the client"))
        self.registry.clear()
        self._to(ConnState.CLOSED)
        if started and emit:
            self._emitter.emit("close", {**self._base(), "code": 1000, "reason": "closed by client"})
