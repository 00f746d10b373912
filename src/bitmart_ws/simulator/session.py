"""One client connection: its state, its three loops (read, work, push), the idle / lifeless / message-rate
limits, and the :class:`Dialect` interface the spot and futures modules implement.

The reader logs, counts and queues every frame; a worker handles them in order (acks, logins, pongs;
``delay_acks`` sleeps there); a push task sends every subscribed topic on each tick of the dialect's
clock. Closing the connection cancels both helpers at once.
"""

from __future__ import annotations

import abc
import asyncio
import contextlib
import logging
import random
import time
from collections import deque
from collections.abc import Coroutine
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import msgspec
from websockets.exceptions import ConnectionClosed
from websockets.frames import Frame, Opcode

from ..protocol.keys import Market
from ..protocol.topics import Topic
from .accounts import Account
from .channels import first_frames, start_topic, tick_frames
from .config import SimulatorConfig
from .market import IncrementalStream, stable_seed
from .venue import Venue
from .wire import SimConnection

__all__ = [
    "PRIVATE_PATH",
    "PUBLIC_PATH",
    "Close",
    "Dialect",
    "ReceivedFrame",
    "Session",
    "SessionInfo",
    "run_session",
]

logger = logging.getLogger("bitmart_ws.simulator.session")

PUBLIC_PATH = "/api"
PRIVATE_PATH = "/user"
_JSON = msgspec.json.Encoder()


@dataclass(frozen=True, slots=True)
class SessionInfo:
    """A snapshot of one live connection, as the server sees it."""

    id: int
    market: Market
    path: str
    is_private: bool
    authenticated: bool
    api_key: str | None
    topics: tuple[str, ...]
    protocol_pings: int
    pushed: tuple[tuple[str, int], ...] = ()
    """``(topic, pushes sent)`` of every topic this connection pushed (with ``sequence_pushes``)."""


@dataclass(frozen=True, slots=True)
class ReceivedFrame:
    """One data frame a client sent (``time`` is ``time.time()``; binary frames are decoded as UTF-8)."""

    session_id: int
    time: float
    text: str
    is_binary: bool


class Close(Exception):
    """Raised inside a handler to close the connection with ``code`` after the replies are sent."""

    def __init__(self, code: int, reason: str) -> None:
        super().__init__(code, reason)
        self.code, self.reason = code, reason


class Dialect(abc.ABC):
    """What differs between the spot and the futures server."""

    market: Market

    @abc.abstractmethod
    def serve_options(self, config: SimulatorConfig) -> dict[str, Any]:
        """Keyword arguments of ``websockets.serve`` (server pings, frame size, compression)."""

    @abc.abstractmethod
    def rate_limit(self, config: SimulatorConfig) -> int | None:
        """Client messages allowed per ``rate_window`` (``None``: no limit)."""

    @abc.abstractmethod
    def lifeless_timeout(self, config: SimulatorConfig) -> float:
        """Close a connection that subscribed nothing for this long (0: never)."""

    @abc.abstractmethod
    def encode(self, session: Session, body: bytes) -> str | bytes:
        """A data push as it goes on the wire (``body`` is its JSON)."""

    @abc.abstractmethod
    def error_frame(self, code: str, message: str) -> dict[str, Any]:
        """A connection-level error (per-IP limits): spot code and text, futures text only."""

    @abc.abstractmethod
    async def reject_rate(self, session: Session) -> None:
        """Answer a message over the rate limit (the connection is closed after it)."""

    @abc.abstractmethod
    async def handle(self, session: Session, text: str) -> None:
        """Handle one client message."""


@dataclass(eq=False)
class Session:
    """The server side of one connection."""

    id: int
    venue: Venue
    dialect: Dialect
    path: str
    ws: SimConnection
    rng: random.Random
    last_frame_at: float
    connected_at: float
    tick_seen: int
    account: Account | None = None
    topics: dict[str, Topic] = field(default_factory=dict)
    streams: dict[str, IncrementalStream] = field(default_factory=dict)
    due: dict[str, float] = field(default_factory=dict)  # topic -> when its timer (Channel.every) fires
    last_book: dict[str, dict[str, Any]] = field(default_factory=dict)
    stale_pending: set[str] = field(default_factory=set)
    sent_at: deque[float] = field(default_factory=deque)
    subscribed_once: bool = False
    protocol_pings: int = 0
    over_rate: bool = False
    pushed: dict[str, int] = field(default_factory=dict)  # topic -> pushes sent (``sequence_pushes``)

    @property
    def market(self) -> Market:
        return self.dialect.market

    @property
    def is_private(self) -> bool:
        return self.path == PRIVATE_PATH

    def info(self) -> SessionInfo:
        return SessionInfo(
            self.id,
            self.market,
            self.path,
            self.is_private,
            self.account is not None,
            self.account.api_key if self.account else None,
            tuple(self.topics),
            self.protocol_pings,
            tuple(self.pushed.items()),
        )

    # -- sending -----------------------------------------------------------------------------------

    async def send(self, message: dict[str, Any]) -> None:
        """A control frame (ack, error, login reply): always JSON text."""
        await self.ws.send(_JSON.encode(message).decode())

    async def push(self, message: dict[str, Any]) -> None:
        """A data push, encoded by the dialect (spot: raw-deflate binary per ``compress``)."""
        await self.ws.send(self.dialect.encode(self, _JSON.encode(message)))

    async def push_all(self, messages: list[dict[str, Any]]) -> None:
        for message in messages:
            await self.push(message)

    async def push_topic(self, topic: str, messages: list[dict[str, Any]]) -> None:
        """The pushes of a subscription, numbered per topic when ``sequence_pushes`` is on."""
        if not self.venue.config.sequence_pushes:
            await self.push_all(messages)
            return
        for message in messages:
            n = self.pushed[topic] = self.pushed.get(topic, 0) + 1
            await self.push({**message, "seq": {"session": self.id, "topic": topic, "n": n}})

    # -- subscriptions -----------------------------------------------------------------------------

    def check_topic(self, text: str) -> Topic | tuple[str, str]:
        """The parsed topic, or ``(spot code, message)`` saying why this connection refuses it."""
        return self.venue.check_topic(self.market, self.is_private, text)

    async def add_topic(self, topic: Topic) -> None:
        """Subscribe ``topic`` (the ack is sent) and send what its channel sends first."""
        self.topics[topic.text] = topic
        self.subscribed_once = True
        start_topic(self.venue, self, topic)
        self.venue.notify()
        if topic.text not in self.venue.faults.paused_topics:
            await self.push_topic(topic.text, first_frames(self.venue, self, topic))

    def remove_topic(self, text: str) -> None:
        if self.topics.pop(text, None) is not None:
            self.streams.pop(text, None)
            self.due.pop(text, None)
            self.last_book.pop(text, None)
            self.stale_pending.discard(text)
            self.venue.notify()

    async def request(self, topic: Topic) -> None:
        """Answer a ``request``: what a subscribe sends first, without subscribing."""
        await self.push_all(first_frames(self.venue, self, topic))

    def set_account(self, account: Account) -> None:
        self.account = account
        self.venue.notify()


async def run_session(venue: Venue, dialect: Dialect, ws: SimConnection) -> None:
    """Serve one accepted connection until it closes."""
    assert ws.request is not None
    session_id = venue.new_session_id()
    now = time.monotonic()
    session = Session(
        session_id,
        venue,
        dialect,
        urlsplit(ws.request.path).path,
        ws,
        random.Random(stable_seed(venue.config.seed, "session", str(session_id))),
        now,
        now,
        tick_seen=venue.clocks[dialect.market].ticks,
    )
    ws.protocol.frame_hook = lambda frame: _frame_seen(session, frame)
    venue.sessions[session.id] = session
    venue.notify()
    logger.info("session %d connected: %s %s", session.id, dialect.market.value, session.path)
    inbox: asyncio.Queue[tuple[str, bool]] = asyncio.Queue()  # unbounded: the reader never waits
    helpers = (
        asyncio.create_task(
            _guarded(session, _work_loop(session, inbox)), name=f"bitmart-sim-work-{session.id}"
        ),
        asyncio.create_task(_guarded(session, _push_loop(session)), name=f"bitmart-sim-push-{session.id}"),
    )
    try:
        await _read_loop(session, inbox)
    except Close as close:
        await ws.close(close.code, close.reason)
    except ConnectionClosed:
        pass
    finally:
        for task in helpers:
            task.cancel()
        for task in helpers:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        del venue.sessions[session.id]
        venue.notify()
        logger.info("session %d gone", session.id)


async def _guarded(session: Session, work: Coroutine[Any, Any, None]) -> None:
    """Run a session helper; turn its ``Close`` into a close, and log a bug as a 1011 close."""
    try:
        await work
    except Close as close:
        await session.ws.close(close.code, close.reason)
    except ConnectionClosed:
        pass
    except Exception:
        logger.exception("session %d: simulator error", session.id)
        await session.ws.close(1011, "simulator error")


def _frame_seen(session: Session, frame: Frame) -> None:
    session.last_frame_at = time.monotonic()
    if frame.opcode is Opcode.PING:
        session.protocol_pings += 1
        _count_message(session)
        session.venue.notify()


def _count_message(session: Session) -> None:
    """Count a client message (protocol pings included) against the dialect's rate limit."""
    config = session.venue.config
    limit = session.dialect.rate_limit(config)
    if not limit:
        return
    now = time.monotonic()
    window = session.sent_at
    window.append(now)
    while window and window[0] <= now - config.rate_window:
        window.popleft()
    if len(window) > limit:
        session.over_rate = True


def _deadline(session: Session) -> float | None:
    """When the idle or the lifeless timeout closes the connection, if one applies."""
    config = session.venue.config
    deadlines = []
    if config.idle_timeout > 0:
        deadlines.append(session.last_frame_at + config.idle_timeout)
    lifeless = session.dialect.lifeless_timeout(config)
    if lifeless > 0 and not session.subscribed_once:
        deadlines.append(session.connected_at + lifeless)
    return min(deadlines) if deadlines else None


async def _read_loop(session: Session, inbox: asyncio.Queue[tuple[str, bool]]) -> None:
    """Read frames, log and count them, and queue them for :func:`_work_loop` (never blocks on it)."""
    venue, config = session.venue, session.venue.config
    while True:
        deadline = _deadline(session)
        try:
            async with asyncio.timeout(None if deadline is None else deadline - time.monotonic()):
                message = await session.ws.recv()
        except TimeoutError:
            now = time.monotonic()
            if config.idle_timeout > 0 and now - session.last_frame_at >= config.idle_timeout:
                raise Close(1000, "idle timeout") from None
            lifeless = session.dialect.lifeless_timeout(config)
            if lifeless > 0 and not session.subscribed_once and now - session.connected_at >= lifeless:
                raise Close(1000, "no subscription") from None
            continue
        is_binary = isinstance(message, bytes)
        text = message.decode("utf-8", "replace") if isinstance(message, bytes) else message
        venue.received.append(ReceivedFrame(session.id, time.time(), text, is_binary))
        _count_message(session)
        venue.notify()
        inbox.put_nowait((text, session.over_rate))


async def _work_loop(session: Session, inbox: asyncio.Queue[tuple[str, bool]]) -> None:
    """Handle the client's messages one at a time, in order (acks may be delayed here)."""
    while True:
        text, over_rate = await inbox.get()
        if over_rate:
            await session.dialect.reject_rate(session)
            raise Close(1008, "message rate limit")
        await session.dialect.handle(session, text)


async def _push_loop(session: Session) -> None:
    """Push every subscribed topic on each tick of the dialect's clock."""
    venue = session.venue
    clock = venue.clocks[session.market]
    while True:
        while session.tick_seen >= clock.ticks:
            await clock.tick.wait()
        tick = clock.ticks
        batch = clock.batches.get(session.account.api_key) if session.account else None
        for topic in list(session.topics.values()):
            if topic.text in venue.faults.paused_topics or topic.text not in session.topics:
                continue
            await session.push_topic(topic.text, tick_frames(venue, session, topic, batch))
        session.tick_seen = tick
        if clock.manual:
            venue.notify()
