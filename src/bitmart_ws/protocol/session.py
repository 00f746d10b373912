"""The protocol of one connection slot, as a pure object (sans-I/O).

A :class:`Session` knows everything BitMart-specific about one socket slot (one shard of one key):
the order of steps (connect, login, resubscribe, live), matching replies to requests (duplicate
subscription is success, futures acks with a speed suffix, rejections that name no topic, replies
that match no request), the ping, pong, login, ack and staleness deadlines, outbound pacing, and the
decision after a failure (retry after a jittered delay, wait the maximum, stop the key).

It performs no I/O and reads no clock: every input carries ``now`` (a monotonic time in seconds),
and every output is an :data:`Effect` collected in order and taken with :meth:`Session.effects`.
A driver (the asyncio :class:`~bitmart_ws._connection.Connection`) opens and closes the socket,
sends frames, emits events, settles waiting callers, and calls :meth:`Session.tick` at
:meth:`Session.next_deadline`.

Inputs: :meth:`start`, :meth:`connected`, :meth:`connect_failed`, :meth:`connection_lost`,
:meth:`receive` (a decoded control message), :meth:`pong`, :meth:`subscribe`, :meth:`unsubscribe`,
:meth:`request`, :meth:`tick`, :meth:`close`, :meth:`closed`.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from enum import Enum
from typing import Any

from ..exceptions import (
    AckTimeout,
    AuthenticationError,
    BitmartWSError,
    ConnectError,
    ConnectionClosed,
    InvalidState,
    LoginTimeout,
    MissingCredentials,
    PongTimeout,
    ProtocolError,
    ServerError,
    StaleTopic,
    SubscriptionError,
    UnexpectedReply,
)
from .backoff import Backoff
from .connection import TRANSITIONS, ConnState
from .inbound import ErrorReply, LoginReply, Pong, Push, SubscriptionReply, classify
from .keys import WsKey
from .ratelimit import RateLimiter
from .registry import Freshness, LiveState, TopicRegistry
from .requests import Operation, login_frame, ping_frame, request_frame, subscription_frames
from .signing import Credentials, sign_payload

__all__ = [
    "DUPLICATE_SUBSCRIPTION",
    "FATAL_LOGIN_CODES",
    "Close",
    "Effect",
    "Emit",
    "Open",
    "Release",
    "Reply",
    "Send",
    "Session",
    "SessionConfig",
    "Settle",
]

FATAL_LOGIN_CODES = frozenset({"91001", "91002", "91003", "91004"})
"""Spot login codes that mean the key itself is unusable (empty, not found, frozen, expired)."""
DUPLICATE_SUBSCRIPTION = "90008"
"""Spot "Duplicate subscription": the topic is subscribed, which is what was asked."""

_SUB = Operation.SUBSCRIBE
_UNSUB = Operation.UNSUBSCRIBE
_S = ConnState


@dataclass(frozen=True, slots=True)
class Reply:
    """The outcome of one topic's subscribe/unsubscribe. ``error`` is set when it did not succeed."""

    ok: bool
    code: str | None = None
    message: str = ""
    error: BitmartWSError | None = None


OK = Reply(True)


# --- effects: what the driver must do, in order ------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Open:
    """Open the socket now (the driver reports back with ``connected`` or ``connect_failed``)."""


@dataclass(frozen=True, slots=True)
class Close:
    """Close the socket: with a close handshake (``abort=False``) or by dropping it."""

    code: int
    reason: str
    abort: bool = False


@dataclass(frozen=True, slots=True)
class Send:
    """Send this text frame now."""

    frame: bytes


@dataclass(frozen=True, slots=True)
class Emit:
    """Emit this client event."""

    event: str
    payload: dict[str, Any]


@dataclass(frozen=True, slots=True)
class Settle:
    """The answer for callers awaiting ``operation`` of ``topic``."""

    operation: Operation
    topic: str
    reply: Reply


@dataclass(frozen=True, slots=True)
class Release:
    """These topics are no longer desired here (the server rejected them): free their places."""

    topics: tuple[str, ...]


Effect = Open | Close | Send | Emit | Settle | Release


@dataclass(frozen=True, slots=True)
class SessionConfig:
    """The options one session needs (times in seconds)."""

    key: WsKey
    shard: int = 0
    ping_interval: float = 15.0
    pong_timeout: float = 10.0
    ack_timeout: float = 10.0
    backoff: Backoff = Backoff()
    rate_limit: tuple[int, float] = (90, 10.0)
    credentials: Credentials | None = None
    signer: Callable[[str, str], str] | None = None
    time_offset: float = 0.0
    stale_timeout: float | None = None
    stable_after: float = 10.0
    """A connection must stay live this long before its backoff starts again from the shortest delay."""


class _Kind(Enum):
    PING = "ping"
    LOGIN = "login"
    TOPICS = "topics"
    REQUEST = "request"


@dataclass(slots=True)
class _Outgoing:
    slot: float
    frame: bytes
    kind: _Kind
    operation: Operation | None = None
    topics: tuple[str, ...] = ()


class Session:
    """One connection slot's protocol state. See the module docstring for the contract.

    Invariants (checked by the property tests): a private topic is never sent before the login
    reply; at most one login is in flight; a topic is not sent twice on one socket without an
    unsubscribe or a reconnect between; every awaited ``(operation, topic)`` is settled exactly once
    (acknowledged, rejected, timed out, connection failure, or closed).
    """

    def __init__(
        self,
        config: SessionConfig,
        *,
        rand: Callable[[], float],
        attempts: RateLimiter | None = None,
    ) -> None:
        self.config = c = config
        self.key = c.key
        self.market = c.key.market
        self.label = f"{c.key.value}#{c.shard}"
        self.url = ""
        self._rand = rand
        self._attempts = attempts  # shared by every session of a client: connection attempts per window
        self.state = _S.IDLE
        self.attempt = 0  # consecutive failures since the connection was last stable
        self._started = False
        self.opened = False  # the `open` event was emitted; later recoveries are `reconnected`
        self.stop_error: BitmartWSError | None = None
        self.registry = TopicRegistry()
        self.fresh: Freshness | None = Freshness() if c.stale_timeout is not None else None
        self._limiter = RateLimiter(*c.rate_limit)
        self._effects: list[Effect] = []
        self._socket = False
        self._outbox: deque[_Outgoing] = deque()
        # (operation, topic) sent and not yet answered, in send order, with its deadline once sent
        # (None while still queued). BitMart answers in order, so the first entry of an operation is
        # the one a reply naming no topic belongs to.
        self._inflight: dict[tuple[Operation, str], float | None] = {}
        # (operation, topic) some caller awaits, with the time it was asked for
        self._awaited: dict[tuple[Operation, str], float] = {}
        self._resubscribing: set[str] = set()  # the batch that must be answered before LIVE
        self._open_at: float | None = None
        self._retry_at: float | None = None
        self._ping_at: float | None = None
        self._pong_at: float | None = None
        self._login_at: float | None = None
        self._login_pending = False
        self._paused = False
        self._pong_pending = False  # a ping is unanswered (its deadline is suspended while paused)
        self._stale_at: float | None = None
        self._live_since: float | None = None
        self._down_since: float | None = None

    def __repr__(self) -> str:
        return f"<Session {self.label} {self.state.value} topics={len(self.registry)}>"

    # ------------------------------------------------------------------------------------------------
    # Outputs
    def effects(self) -> list[Effect]:
        """Take the effects produced so far, in order."""
        out, self._effects = self._effects, []
        return out

    def next_deadline(self) -> float | None:
        """When :meth:`tick` must be called next (None: nothing is scheduled)."""
        times = [
            t
            for t in (
                self._open_at,
                self._retry_at,
                self._ping_at,
                self._pong_at,
                self._login_at,
                self._stale_at,
            )
            if t is not None
        ]
        if self._outbox:
            times.append(self._outbox[0].slot)
        for deadline in self._inflight.values():  # send order: the first sent is the earliest
            if deadline is not None:
                times.append(deadline)
                break
        return min(times) if times else None

    @property
    def finished(self) -> bool:
        return self.state in (_S.CLOSING, _S.CLOSED)

    def base(self) -> dict[str, Any]:
        return {"wsKey": self.key.value, "url": self.url, "shard": self.config.shard}

    # ------------------------------------------------------------------------------------------------
    # Inputs: the user
    def subscribe(self, now: float, topics: Iterable[str]) -> list[tuple[str, Reply | None]]:
        """Desire ``topics`` here. Returns each topic's known outcome, or None: await its :class:`Settle`.

        Raises:
            InvalidState: the session is closed.
            AuthenticationError: the key was stopped (the server called it invalid).
        """
        self._check_usable()
        topics = list(dict.fromkeys(topics))
        self.registry.add(topics)
        out: list[tuple[str, Reply | None]] = []
        for topic in topics:
            if self.registry.live_state(topic) is LiveState.SUBSCRIBED:
                out.append((topic, OK))
            else:
                self._awaited.setdefault((_SUB, topic), now)
                out.append((topic, None))
        if self.state is _S.IDLE:
            self.start(now)
        elif self.state in (_S.SUBSCRIBING, _S.LIVE):
            self._send_topics(now, _SUB, self.registry.to_subscribe())
        return out

    def unsubscribe(self, now: float, topics: Iterable[str]) -> list[tuple[str, Reply | None]]:
        """Stop desiring ``topics``; like :meth:`subscribe`, None means: await its :class:`Settle`."""
        topics = list(dict.fromkeys(topics))
        removed = self.registry.remove(topics)
        for topic in removed:
            if (_SUB, topic) in self._awaited:
                error = InvalidState(
                    f"{topic} was unsubscribed before the server acknowledged the subscription"
                )
                self._settle(_SUB, topic, Reply(False, None, "unsubscribed before acknowledgement", error))
            if self.fresh is not None:
                self.fresh.unwatch(topic)
        todo = self.registry.to_unsubscribe(removed) if self.state in (_S.SUBSCRIBING, _S.LIVE) else []
        self._send_topics(now, _UNSUB, todo)
        for topic in todo:
            self._awaited.setdefault((_UNSUB, topic), now)
        pending = set(todo)
        return [(t, None if t in pending else OK) for t in topics]

    def request(self, now: float, topic: str) -> bool:
        """Send a one-shot ``request`` (a fresh snapshot of an incremental book; no ack exists).

        Returns whether it was queued (only on a socket that is subscribing or live).
        """
        if self.state not in (_S.SUBSCRIBING, _S.LIVE):
            return False
        self._enqueue(now, request_frame(self.market, topic), _Kind.REQUEST)
        self._flush(now)
        return True

    def renew(self, now: float, topics: Iterable[str]) -> list[str]:
        """Unsubscribe and subscribe again acknowledged ``topics`` (a stale stream, a book that wants a
        fresh snapshot). Returns those renewed: topics not acknowledged on this socket are skipped."""
        renewed = [t for t in topics if self.registry.resubscribe(t)]
        if renewed:
            self._send_topics(now, _UNSUB, renewed)
            self._send_topics(now, _SUB, renewed)
        return renewed

    def set_paused(self, now: float, paused: bool) -> None:
        """The driver stopped (or resumed) reading the socket for back-pressure: a pong cannot be
        read while paused, so its deadline is suspended (and restarts in full on resume)."""
        if paused == self._paused:
            return
        self._paused = paused
        if paused:
            self._pong_at = None
        elif self._pong_pending:
            self._pong_at = now + self.config.pong_timeout

    def start(self, now: float) -> None:
        """Begin connecting (idle sessions only; later connects are scheduled by the session itself)."""
        if self.state is not _S.IDLE:
            return
        self._started = True
        self._to(_S.CONNECTING)
        self._schedule_open(now)

    def close(self, now: float) -> None:
        """Stop for good: close the socket, settle every wait with :class:`InvalidState`.

        The driver closes the socket and then calls :meth:`closed`.
        """
        if self.finished:
            return
        had_socket = self._socket
        self._to(_S.CLOSING)
        self._teardown()
        if had_socket:
            self._effects.append(Close(1000, "closed by client"))
        self._settle_all(InvalidState(f"connection {self.label} closed by the client"))
        self.registry.clear()

    def closed(self, code: int = 1000, reason: str = "closed by client", *, emit: bool = True) -> None:
        """The driver finished closing after :meth:`close` (``code``/``reason``: what was exchanged).

        ``close`` is emitted for a connection that was started (an idle one never existed for the user).
        """
        if self.state is not _S.CLOSING:
            return
        self._to(_S.CLOSED)
        if emit and self._started:
            self._emit("close", {**self.base(), "code": code, "reason": reason})

    # ------------------------------------------------------------------------------------------------
    # Inputs: the transport
    def connected(self, now: float, wall: float) -> None:
        """The socket is open (``wall``: the wall-clock time in seconds, for the login timestamp)."""
        if self.state is not _S.CONNECTING:
            return
        self._socket = True
        self._limiter.reset()
        self._ping_at = now + self.config.ping_interval
        if not self.opened:
            self.opened = True
            self._emit("open", self.base())
        if self.key.is_private:
            self._login(now, wall)
        else:
            self._resubscribe(now)

    def connect_failed(self, now: float, error: BitmartWSError) -> None:
        """The socket could not be opened (refused, DNS, TLS, HTTP status, timeout)."""
        if self.state is not _S.CONNECTING:
            return
        status = error.status if isinstance(error, ConnectError) else None
        to_max = status is not None and 400 <= status < 500
        suffix = "; backing off to the maximum delay" if to_max else ""
        self._report(f"{error}{suffix}", error)
        # Callers that have waited ack_timeout learn why no acknowledgement came: the connection
        # cannot be opened (their topics stay desired and are subscribed once a connection opens).
        # A caller asked for less than ack_timeout ago waits for the next attempt.
        waited = [k for k, since in self._awaited.items() if now - since >= self.config.ack_timeout]
        for op, topic in waited:
            failure = ConnectError(f"{op.value} {topic} not sent: {error}", url=self.url, status=status)
            failure.__cause__ = error
            self._settle(op, topic, Reply(False, None, str(failure), failure))
        self._fail(now, error, to_max=to_max)

    def connection_lost(self, now: float, code: int, reason: str) -> None:
        """The transport lost the socket (server close, reset...)."""
        if not self._socket or self.finished:
            return
        self._socket = False
        self._fail(now, ConnectionClosed(code, reason or ""))

    def failed(self, now: float, error: Exception) -> None:
        """An unexpected error escaped the driver's handling of this connection: report and reconnect."""
        if self.finished or self.state is _S.STOPPED:
            return
        self._report(f"{self.label}: unexpected {type(error).__name__}: {error}; reconnecting", error)
        if self.state in (_S.IDLE, _S.BACKOFF):
            return
        if self._socket:
            self._drop(now, ConnectionClosed(1011, f"unexpected {type(error).__name__}"), abort=True)
        else:
            self._fail(now, error)

    def pong(self, now: float) -> None:
        self._pong_at = None
        self._pong_pending = False

    def receive(self, now: float, msg: Any) -> None:
        """A decoded message that is not a data push (a reply, an error, a pong, or unknown)."""
        if not self._socket:
            return
        inbound = classify(self.market, msg)
        if isinstance(inbound, Pong):
            self.pong(now)
        elif isinstance(inbound, SubscriptionReply):
            self._on_topic_reply(now, inbound)
        elif isinstance(inbound, LoginReply):
            self._on_login_reply(now, inbound)
        elif isinstance(inbound, ErrorReply):
            error = ServerError(inbound.message, code=inbound.code, raw=inbound.raw)
            raw = inbound.raw if isinstance(inbound.raw, dict) else {"data": inbound.raw}
            self._emit(
                "exception", {**raw, **self.base(), "message": f"server error: {error}", "error": error}
            )
        elif isinstance(inbound, Push):  # the driver hands pushes to `update` before they get here
            self._emit("update", {**inbound.raw, "wsKey": self.key.value})
        else:
            unknown = ProtocolError(f"{self.label}: unrecognised message")
            self._emit("exception", {**self.base(), "message": str(unknown), "error": unknown, "raw": msg})

    def tick(self, now: float) -> None:
        """Act on every deadline that has passed."""
        if self._open_at is not None and now >= self._open_at:
            self._open_at = None
            self._effects.append(Open())
        if self._retry_at is not None and now >= self._retry_at:
            self._retry_at = None
            self._to(_S.CONNECTING)
            self._schedule_open(now)
        if not self._socket:
            return
        if self._pong_at is not None and now >= self._pong_at:
            timeout = self.config.pong_timeout
            self._pong_at = None
            pong = PongTimeout(f"{self.label}: no pong within {timeout:g} s, reconnecting")
            self._report(str(pong), pong)
            self._drop(now, pong, abort=True)
            return
        if self._login_at is not None and now >= self._login_at:
            error = LoginTimeout(f"{self.label}: no login reply within {self.config.ack_timeout:g} s")
            self._report(str(error), error)
            self._drop(now, error)
            return
        late = [k for k, d in self._inflight.items() if d is not None and now >= d]
        if late:
            self._ack_timeout(now, late)
            return
        if self._ping_at is not None and now >= self._ping_at:
            self._ping_at = now + self.config.ping_interval
            self._enqueue(now, ping_frame(self.market), _Kind.PING)
        if self._stale_at is not None and now >= self._stale_at:
            self._check_stale(now)
        self._flush(now)

    # ------------------------------------------------------------------------------------------------
    # Internals
    def _to(self, state: ConnState) -> None:
        if state not in TRANSITIONS[self.state]:
            raise InvalidState(f"connection cannot go from {self.state.value} to {state.value}")
        self.state = state

    def _check_usable(self) -> None:
        if self.stop_error is not None:
            raise self.stop_error
        if self.finished:
            raise InvalidState(f"connection {self.label} is closed")

    def _emit(self, event: str, payload: dict[str, Any]) -> None:
        self._effects.append(Emit(event, payload))

    def _report(self, message: str, error: BaseException, **extra: Any) -> None:
        self._emit("exception", {**self.base(), "message": message, "error": error, **extra})

    def _settle(self, op: Operation, topic: str, reply: Reply) -> None:
        if self._awaited.pop((op, topic), None) is not None:
            self._effects.append(Settle(op, topic, reply))

    def _settle_all(self, error: BitmartWSError) -> None:
        for op, topic in list(self._awaited):
            self._settle(op, topic, Reply(False, getattr(error, "code", None), str(error), error))

    def _schedule_open(self, now: float) -> None:
        slot = self._attempts.reserve(now) if self._attempts is not None else now
        if slot <= now:
            self._effects.append(Open())
        else:
            self._open_at = slot

    def _enqueue(
        self, now: float, frame: bytes, kind: _Kind, op: Operation | None = None, topics: tuple[str, ...] = ()
    ) -> None:
        self._outbox.append(_Outgoing(self._limiter.reserve(now), frame, kind, op, topics))

    def _send_topics(self, now: float, op: Operation, topics: list[str]) -> None:
        if not topics:
            return
        for batch, frame in subscription_frames(self.market, op, topics):
            self._enqueue(now, frame, _Kind.TOPICS, op, batch)
            for topic in batch:
                self._inflight.pop((op, topic), None)  # a re-send goes to the back of the order
                self._inflight[(op, topic)] = None
        self._flush(now)

    def _flush(self, now: float) -> None:
        """Send every queued frame whose rate-limit slot has come; deadlines start when a frame leaves."""
        outbox = self._outbox
        while outbox and outbox[0].slot <= now:
            out = outbox.popleft()
            self._effects.append(Send(out.frame))
            if out.kind is _Kind.TOPICS:
                deadline = now + self.config.ack_timeout
                assert out.operation is not None
                for topic in out.topics:
                    if (out.operation, topic) in self._inflight:
                        self._inflight[(out.operation, topic)] = deadline
            elif out.kind is _Kind.LOGIN:
                self._login_at = now + self.config.ack_timeout
            elif out.kind is _Kind.PING and not self._pong_pending:
                self._pong_pending = True
                self._pong_at = None if self._paused else now + self.config.pong_timeout

    def _login(self, now: float, wall: float) -> None:
        creds = self.config.credentials
        if creds is None:
            error = MissingCredentials(f"{self.key.value} needs api_key, api_secret and api_memo")
            self._stop(error, f"{self.key.value}: {error}; this connection is stopped")
            return
        self._to(_S.AUTHENTICATING)
        timestamp = int((wall + self.config.time_offset) * 1000)
        signer = self.config.signer
        if signer is not None:
            signature = signer(sign_payload(timestamp, creds.api_memo), creds.api_secret)
        else:
            signature = creds.sign(timestamp)
        self._login_pending = True
        self._enqueue(now, login_frame(self.market, creds.api_key, timestamp, signature), _Kind.LOGIN)
        self._flush(now)

    def _on_login_reply(self, now: float, reply: LoginReply) -> None:
        if not self._login_pending:
            unexpected = UnexpectedReply(
                f"{self.label}: login reply without a login in flight (ok={reply.ok})"
            )
            self._report(str(unexpected), unexpected, raw=reply.raw)
            return
        self._login_pending = False
        self._login_at = None
        if reply.ok:
            self._emit("authenticated", {**reply.raw, "wsKey": self.key.value})
            self._resubscribe(now)
            return
        error = AuthenticationError(reply.message or "login refused", code=reply.code, raw=reply.raw)
        if reply.code in FATAL_LOGIN_CODES:
            self._stop(
                error,
                f"{self.key.value}: login refused: {error}. The server says the API key itself is invalid; "
                "this connection is stopped and will not retry",
            )
            return
        # pending subscribes learn why now; their topics stay desired for the next login
        self._settle_all(error)
        self._report(f"login refused on {self.label}: {error}; retrying after the maximum delay", error)
        self._drop(now, error, to_max=True)

    def _resubscribe(self, now: float) -> None:
        self._to(_S.SUBSCRIBING)
        topics = self.registry.to_subscribe()
        self._resubscribing = set(topics)
        if self.config.stale_timeout is not None:
            self._stale_at = now + self.config.stale_timeout / 4
        self._send_topics(now, _SUB, topics)
        self._maybe_live(now)

    def _maybe_live(self, now: float) -> None:
        if self.state is not _S.SUBSCRIBING or self._resubscribing:
            return
        self._to(_S.LIVE)
        self._live_since = now
        if self._down_since is not None:
            downtime = now - self._down_since
            self._down_since = None
            self._emit(
                "reconnected",
                {**self.base(), "downtime": downtime, "topics": list(self.registry.subscribed())},
            )

    def _match(self, op: Operation, topic: str | None) -> str | None:
        """The sent, unanswered topic a reply answers, or None when no request explains it."""
        inflight = self._inflight
        if topic is None:  # a rejection naming no topic: the oldest of that operation still waiting
            return next((t for (o, t), sent in inflight.items() if o is op and sent is not None), None)
        for candidate in (topic, topic.rpartition("@")[0] if "@" in topic else None):
            # futures may answer with a speed suffix the client never asked for
            if candidate and inflight.get((op, candidate)) is not None:
                return candidate
        return None

    def _on_topic_reply(self, now: float, reply: SubscriptionReply) -> None:
        op = Operation(reply.operation)
        topic = self._match(op, reply.topic)
        payload = {**reply.raw, "wsKey": self.key.value}
        if topic is None:
            # Nothing we sent explains it: report it, and change neither the desired nor the live set.
            what = reply.topic or "no topic"
            detail = "" if reply.ok else f" ({' '.join(filter(None, (reply.code, reply.message)))})"
            unexpected = UnexpectedReply(
                f"{self.label}: {op.value} reply for {what} matches no request{detail}"
            )
            self._emit(
                "exception", {**payload, **self.base(), "message": str(unexpected), "error": unexpected}
            )
            return
        del self._inflight[(op, topic)]
        ok = reply.ok or (op is _SUB and reply.code == DUPLICATE_SUBSCRIPTION)
        self.registry.on_reply(op, topic, ok)
        if op is _SUB:
            self._resubscribing.discard(topic)
        if self.fresh is not None:
            live = self.registry.live_state(topic)
            if live is LiveState.SUBSCRIBED and op is _SUB:
                self.fresh.watch(topic, now)
            elif live is None:
                self.fresh.unwatch(topic)
        if ok:
            self._settle(op, topic, OK)
            self._emit("response", payload)
            if op is _SUB and topic not in self.registry:
                # unsubscribed while the subscribe was in flight: take it back off the socket
                self._send_topics(now, _UNSUB, self.registry.to_unsubscribe([topic]))
        else:
            if op is _SUB:
                self._effects.append(Release((topic,)))
            error = SubscriptionError({topic: (reply.code, reply.message or "rejected")}, operation=op.value)
            self._settle(op, topic, Reply(False, reply.code, reply.message, error))
            self._emit("exception", {**payload, "topic": topic, "message": str(error), "error": error})
        self._maybe_live(now)

    def _ack_timeout(self, now: float, late: list[tuple[Operation, str]]) -> None:
        timeout = self.config.ack_timeout
        topics = tuple(t for _, t in late)
        if self.state is _S.SUBSCRIBING:
            message = f"{self.label}: resubscription not acknowledged within {timeout:g} s"
        else:
            message = f"{self.label}: {late[0][0].value} not acknowledged within {timeout:g} s"
        error = AckTimeout(f"{message} for {', '.join(topics)}; reconnecting", topics)
        for op, topic in late:
            single = AckTimeout(f"{op.value} {topic}: no acknowledgement within {timeout:g} s", (topic,))
            self._settle(op, topic, Reply(False, None, str(single), single))
        self._report(str(error), error)
        # The server's view is unknown now: a fresh socket restores a known state.
        self._drop(now, error)

    def _check_stale(self, now: float) -> None:
        timeout = self.config.stale_timeout
        assert timeout is not None and self.fresh is not None
        self._stale_at = now + timeout / 4
        silent = [
            t for t in self.fresh.stale(now, timeout) if self.registry.live_state(t) is LiveState.SUBSCRIBED
        ]
        for topic in silent:
            message = f"{self.label}: no push on {topic} for {timeout:g} s; resubscribing"
            self._report(message, StaleTopic(message, topic), topic=topic)
        self.renew(now, silent)

    def _teardown(self) -> None:
        """Forget everything about the current socket (the desired set stays)."""
        self._socket = False
        self._outbox.clear()
        self._inflight.clear()
        self._resubscribing.clear()
        self._open_at = self._retry_at = self._ping_at = self._pong_at = self._login_at = None
        self._stale_at = None
        self._login_pending = False
        self._pong_pending = False
        self.registry.reset()
        if self.fresh is not None:
            self.fresh.clear()

    def _drop(self, now: float, error: BitmartWSError, *, abort: bool = False, to_max: bool = False) -> None:
        """End the current socket because of ``error`` and schedule the next attempt."""
        if self._socket:
            self._effects.append(Close(1000 if not abort else 1006, str(error)[:100], abort=abort))
        self._socket = False
        self._fail(now, error, to_max=to_max)

    def _fail(self, now: float, cause: BaseException, *, to_max: bool = False) -> None:
        self._teardown()
        # An unsubscribe awaiting its ack is done: the socket that carried the topic is gone and no ack
        # can come (the next socket carries only what is desired then, a later subscribe included).
        for op, topic in [k for k in self._awaited if k[0] is _UNSUB]:
            self._settle(op, topic, OK)
        if self.opened and self._down_since is None:  # after `open`, recovery is `reconnected`
            self._down_since = now
        if self._live_since is not None and now - self._live_since >= self.config.stable_after:
            self.attempt = 0  # it was stable: start again from the shortest delay
        self._live_since = None
        self.attempt += 1
        self._to(_S.BACKOFF)
        rand = self._rand()
        backoff = self.config.backoff
        delay = backoff.max_delay(rand) if to_max else backoff.delay(self.attempt - 1, rand)
        self._retry_at = now + delay
        code = cause.code if isinstance(cause, ConnectionClosed) else 1006
        reason = cause.reason if isinstance(cause, ConnectionClosed) else str(cause)
        self._emit(
            "reconnect",
            {
                **self.base(),
                "code": code,
                "reason": reason,
                "attempt": self.attempt,
                "delay": delay,
                "error": cause,
            },
        )

    def _stop(self, error: BitmartWSError, message: str) -> None:
        """The key itself is unusable: no more retries on this connection."""
        if self._socket:
            self._effects.append(Close(1000, "key stopped"))
        self._teardown()
        self._to(_S.STOPPED)
        self.stop_error = error
        self._settle_all(error)
        self._report(message, error, stopped=True)
