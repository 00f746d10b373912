"""The simulator: two ``websockets`` servers (spot and futures v2 dialects), fault injection, and a
server-side view for tests.

Wire formats follow ``bitmart-protocol.md`` (§2 spot, §4 futures, §8 behaviour matrix). Topics are
validated with the protocol core's channel registry and signatures checked with the core's ``sign``,
so the client and the simulator share one definition of the venue.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import socket
import struct
import time
import uuid
import zlib
from collections import deque
from collections.abc import Callable, Coroutine, Iterable
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any, Self, cast
from urllib.parse import parse_qs, urlsplit

import msgspec
from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.exceptions import ConnectionClosed
from websockets.frames import Frame, Opcode
from websockets.http11 import Request, Response

from ..exceptions import InvalidTopic
from ..protocol.keys import Market, WsKey
from ..protocol.topics import CHANNELS, Topic, parse_topic
from .accounts import Account, AccountActivity, ActivityBatch, LoginFailure, verify_login
from .config import SimulatorConfig
from .faults import FaultState, Malformed
from .market import IncrementalStream, SymbolMarket, format_levels, instrument_for, stable_seed
from .wire import WIRE_LOGGER, SimConnection

__all__ = ["ReceivedFrame", "SessionInfo", "Simulator", "SimulatorStats"]

logger = logging.getLogger("bitmart_ws.simulator.server")

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


@dataclass(frozen=True, slots=True)
class ReceivedFrame:
    """One data frame a client sent (``time`` is ``time.time()``; binary frames are decoded as UTF-8)."""

    session_id: int
    time: float
    text: str
    is_binary: bool


@dataclass(slots=True)
class SimulatorStats:
    """Counters of HTTP upgrade attempts.

    Attributes:
        connection_attempts: upgrade requests received.
        refused_upgrades: upgrades answered with an HTTP error (404, a ``refuse_upgrades`` status, or
            429 for a per-IP limit with ``ip_limit_response="http"``).
        accepted_connections: connections that became sessions.
        ip_limited: connections refused by a per-IP limit (94001/94002), either way.
    """

    connection_attempts: int = 0
    refused_upgrades: int = 0
    accepted_connections: int = 0
    ip_limited: int = 0


@dataclass(eq=False)
class _Session:
    id: int
    market: Market
    path: str
    ws: ServerConnection
    rng: random.Random
    last_frame_at: float
    connected_at: float
    account: Account | None = None
    topics: dict[str, Topic] = field(default_factory=dict)
    streams: dict[str, IncrementalStream] = field(default_factory=dict)
    sent_at: deque[float] = field(default_factory=deque)
    subscribed_once: bool = False
    protocol_pings: int = 0
    funding_due: dict[str, float] = field(default_factory=dict)
    position_due: dict[str, float] = field(default_factory=dict)
    last_book: dict[str, dict[str, Any]] = field(default_factory=dict)
    stale_pending: set[str] = field(default_factory=set)
    over_rate: bool = False
    tick_seen: int = 0

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
        )


class _Close(Exception):
    """Raised inside a handler to close the connection with ``code`` after the replies are sent."""

    def __init__(self, code: int, reason: str) -> None:
        super().__init__(code, reason)
        self.code, self.reason = code, reason


class Simulator:
    """A faithful BitMart WebSocket server for tests and demos.

    Use as ``async with Simulator(SimulatorConfig(cadence=0.05)) as sim:``; ``sim.urls`` maps every
    :class:`~bitmart_ws.protocol.keys.WsKey` value to the URL serving it. Fault-injection methods
    (``drop_connections``, ``pause_pongs``, ``reject_logins``...) may be called while it runs.
    """

    def __init__(self, config: SimulatorConfig | None = None) -> None:
        self.config = config or SimulatorConfig()
        cfg = self.config
        self.faults = FaultState()
        self.stats = SimulatorStats()
        self.clock_offset_ms = cfg.clock_offset_ms
        self._accounts = {a.api_key: a for a in cfg.accounts}
        self._markets: dict[Market, dict[str, SymbolMarket]] = {
            Market.SPOT: self._build_markets(cfg.symbols, Market.SPOT),
            Market.FUTURES: self._build_markets(cfg.all_futures_symbols, Market.FUTURES),
        }
        self._prices: dict[str, float] = {}
        self._update_prices()
        self._activity = {
            key: AccountActivity(account, cfg.seed, cfg.symbols, cfg.all_futures_symbols, self._prices)
            for key, account in self._accounts.items()
        }
        self._batches: dict[str, ActivityBatch] = {}
        self._next_activity = 0.0
        self._sessions: dict[int, _Session] = {}
        self._received: list[ReceivedFrame] = []
        self._next_session_id = 1
        self._changed = asyncio.Event()
        self._tick = asyncio.Event()
        self._tick_count = 0
        self._servers: dict[Market, Server] = {}
        self._clock_task: asyncio.Task[None] | None = None
        self._attempts: dict[tuple[Market, str], deque[float]] = {}
        self._live: dict[tuple[Market, str, str], set[SimConnection]] = {}
        self.spot_port = 0
        self.futures_port = 0
        self.urls: dict[str, str] = {}

    def _build_markets(self, symbols: Iterable[str], market: Market) -> dict[str, SymbolMarket]:
        cfg = self.config
        return {
            s: SymbolMarket(instrument_for(s, market, cfg.seed), cfg.seed, cfg.quiet_probability)
            for s in symbols
        }

    def _update_prices(self) -> None:
        for markets in self._markets.values():
            for symbol, m in markets.items():
                self._prices[symbol] = m.last_price / 10**m.instrument.price_decimals

    # -- lifecycle ---------------------------------------------------------------------------------

    async def start(self) -> None:
        """Bind both servers and start the market clock."""
        if self._servers:
            return
        cfg = self.config
        self._servers[Market.SPOT] = await serve(
            self._handle_spot,
            cfg.host,
            cfg.spot_port,
            process_request=self._process_spot_request,
            create_connection=SimConnection,
            logger=WIRE_LOGGER,
            ping_interval=None,
            max_size=2**20,
            compression=None,
        )
        self._servers[Market.FUTURES] = await serve(
            self._handle_futures,
            cfg.host,
            cfg.futures_port,
            process_request=self._process_futures_request,
            create_connection=SimConnection,
            logger=WIRE_LOGGER,
            ping_interval=cfg.futures_ping_interval,
            ping_timeout=None,
            max_size=cfg.futures_max_frame_bytes,
        )
        self.spot_port = self._port(self._servers[Market.SPOT])
        self.futures_port = self._port(self._servers[Market.FUTURES])
        self.urls = self._make_urls()
        self._next_activity = time.monotonic() + cfg.account_interval
        if cfg.cadence > 0:
            self._clock_task = asyncio.create_task(self._clock(), name="bitmart-sim-clock")
        logger.info("simulator serving spot on %s and futures on %s", self.spot_port, self.futures_port)

    async def close(self) -> None:
        """Stop the clock, close every connection (1001) and both servers."""
        if self._clock_task is not None:
            self._clock_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._clock_task
            self._clock_task = None
        for server in self._servers.values():
            server.close()
        for server in self._servers.values():
            await server.wait_closed()
        self._servers.clear()
        self._notify()

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.close()

    @staticmethod
    def _port(server: Server) -> int:
        return int(next(iter(server.sockets)).getsockname()[1])

    def _make_urls(self) -> dict[str, str]:
        host = self.config.host
        urls = {}
        for key in WsKey:
            port = self.spot_port if key.market is Market.SPOT else self.futures_port
            urls[key.value] = f"ws://{host}:{port}{key.path}?protocol=1.1"
        return urls

    # -- server-side view --------------------------------------------------------------------------

    @property
    def sessions(self) -> list[SessionInfo]:
        """Every live connection, oldest first."""
        return [s.info() for s in self._sessions.values()]

    def session(self, session_id: int) -> SessionInfo:
        """One live connection (``KeyError`` when it is gone)."""
        return self._sessions[session_id].info()

    @property
    def received(self) -> list[ReceivedFrame]:
        """Every data frame received from any client, in order."""
        return list(self._received)

    def market(self, symbol: str, market: Market = Market.SPOT) -> SymbolMarket:
        """The live market state of ``symbol``."""
        return self._markets[market][symbol]

    @property
    def ticks(self) -> int:
        """Market ticks so far."""
        return self._tick_count

    async def wait_for(self, predicate: Callable[[], bool], timeout: float = 5.0) -> None:  # noqa: ASYNC109
        """Wait until ``predicate()`` is true, re-checking on every state change of the simulator.

        Raises:
            TimeoutError: it did not become true within ``timeout`` seconds.
        """
        async with asyncio.timeout(timeout):
            while not predicate():
                await self._changed.wait()

    def _notify(self) -> None:
        self._changed.set()
        self._changed = asyncio.Event()

    # -- fault injection ---------------------------------------------------------------------------

    def _targets(self, session_id: int | None) -> list[_Session]:
        if session_id is None:
            return list(self._sessions.values())
        session = self._sessions.get(session_id)
        return [session] if session else []

    async def drop_connections(self, session_id: int | None = None, *, reset: bool = False) -> int:
        """Abort the TCP connection of every session (or one) without a close frame: clients see 1006.

        With ``reset`` the socket is closed with ``SO_LINGER`` 0, so the client gets a TCP RST
        (connection reset) instead of an orderly FIN.

        Returns the number of connections dropped.
        """
        targets = self._targets(session_id)
        for session in targets:
            if reset:
                sock = session.ws.transport.get_extra_info("socket")
                if sock is not None:
                    with contextlib.suppress(OSError):
                        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            session.ws.transport.abort()
        await asyncio.sleep(0)
        return len(targets)

    async def close_connections(
        self, code: int = 1000, reason: str = "", session_id: int | None = None
    ) -> int:
        """Close every session (or one) with a close frame carrying ``code`` and ``reason``."""
        targets = self._targets(session_id)
        await asyncio.gather(*(s.ws.close(code, reason) for s in targets), return_exceptions=True)
        return len(targets)

    def pause_pongs(self) -> None:
        """Stop answering pings: text ``ping``, futures ``{"action":"ping"}`` and protocol pings."""
        self.faults.pongs_paused = True

    def resume_pongs(self) -> None:
        """Answer pings again."""
        self.faults.pongs_paused = False

    def reject_logins(self, count: int | None = None) -> None:
        """Refuse the next ``count`` logins (``None``: every login until :meth:`accept_logins`)."""
        if count is None:
            self.faults.reject_all_logins = True
        else:
            self.faults.logins_to_reject = count

    def accept_logins(self) -> None:
        """Undo :meth:`reject_logins`."""
        self.faults.reject_all_logins = False
        self.faults.logins_to_reject = 0

    def refuse_upgrades(
        self,
        status: int = 503,
        count: int | None = None,
        *,
        path: str | None = None,
        market: Market | str | None = None,
    ) -> None:
        """Answer the next ``count`` upgrade requests (``None``: all until cleared) with HTTP ``status``.

        Args:
            status: the HTTP status (401, 403, 503...).
            count: how many upgrades to refuse; ``None`` until :meth:`clear_refusals`.
            path: refuse only this path (``"/user"`` or ``"/api"``); others are accepted and not counted.
            market: refuse only on this server (``Market.SPOT``/``"spot"`` or ``Market.FUTURES``).
        """
        self.faults.refuse_status = status
        self.faults.refusals_left = count
        self.faults.refuse_path = path
        self.faults.refuse_market = Market(market).value if market is not None else None

    def clear_refusals(self) -> None:
        """Accept upgrades again."""
        self.faults.clear_refusals()

    def delay_upgrades(self, seconds: float) -> None:
        """Hold every HTTP upgrade this long before answering it (a slow handshake; 0: no delay)."""
        self.faults.upgrade_delay_s = seconds

    def delay_acks(self, seconds: float) -> None:
        """Delay the handling of every subscribe/unsubscribe and login by ``seconds`` (0: no delay).

        Each connection handles its messages in order in its own task, so later messages (pings
        included) wait behind a delayed one, while a connection the client closes still disappears
        from :attr:`sessions` at once.
        """
        self.faults.ack_delay_s = seconds

    def set_clock_offset(self, offset_ms: int) -> None:
        """Shift the server clock used to check login timestamps."""
        self.clock_offset_ms = offset_ms

    def inject_gap(self, topic: str, size: int = 1, session_id: int | None = None) -> int:
        """Make the next incremental-book update of ``topic`` skip ``size`` versions.

        Returns the number of subscriptions affected.
        """
        count = 0
        for session in self._targets(session_id):
            stream = session.streams.get(topic)
            if stream is not None:
                stream.pending_gap += size
                count += 1
        return count

    def inject_stale(self, topic: str, session_id: int | None = None) -> int:
        """Re-send the last incremental-book update of ``topic`` (an old version) before the next one.

        Returns the number of subscriptions affected (those that already had an update).
        """
        count = 0
        for session in self._targets(session_id):
            if topic in session.last_book:
                session.stale_pending.add(topic)
                count += 1
        return count

    def pause_topic(self, topic: str) -> None:
        """Stop pushing ``topic`` (exactly as subscribed) while everything else flows."""
        self.faults.paused_topics.add(topic)

    def resume_topic(self, topic: str) -> None:
        """Push ``topic`` again."""
        self.faults.paused_topics.discard(topic)

    async def send_malformed(self, kind: Malformed = Malformed.TEXT, session_id: int | None = None) -> int:
        """Send one broken frame of ``kind`` to every session (or one). Returns how many got it."""
        targets = self._targets(session_id)
        for session in targets:
            payload = _JSON.encode({"table": "spot/ticker", "data": [{"symbol": "BTC_USDT"}]})
            frame: str | bytes
            if kind is Malformed.TEXT:
                frame = '{"table":"spot/ticker","data":[{"symbol"'
            elif kind is Malformed.TRUNCATED:
                whole = _deflate(payload)
                frame = whole[: len(whole) // 2]
            elif kind is Malformed.ZLIB:
                frame = zlib.compress(payload)
            elif session.market is Market.SPOT:
                frame = '{"table":"spot/ticker","data":""}'
            else:
                frame = '{"group":"futures/ticker","data":""}'
            with contextlib.suppress(ConnectionClosed):
                await session.ws.send(frame)
        return len(targets)

    async def send_oversized(self, size: int = 4 * 2**20, session_id: int | None = None) -> int:
        """Send every session (or one) a valid ticker push padded to about ``size`` bytes of JSON.

        On spot (with ``compress`` ``always``) it is a raw-deflate binary frame only a few KiB long
        that inflates to ``size`` bytes; on futures a text frame of ``size`` bytes. Returns how many
        sessions got it.
        """
        targets = self._targets(session_id)
        pad = "x" * size
        for session in targets:
            message: dict[str, Any]
            if session.market is Market.SPOT:
                message = {"table": "spot/ticker", "data": [{"symbol": "BTC_USDT", "pad": pad}]}
            else:
                message = {"group": "futures/ticker", "data": {"symbol": "BTCUSDT", "pad": pad}}
            with contextlib.suppress(ConnectionClosed):
                await self._push(session, message)
        return len(targets)

    # -- HTTP upgrade ------------------------------------------------------------------------------

    async def _process_spot_request(self, connection: ServerConnection, request: Request) -> Response | None:
        return await self._process_request(connection, request, Market.SPOT)

    async def _process_futures_request(
        self, connection: ServerConnection, request: Request
    ) -> Response | None:
        return await self._process_request(connection, request, Market.FUTURES)

    async def _process_request(
        self, connection: ServerConnection, request: Request, market: Market
    ) -> Response | None:
        assert isinstance(connection, SimConnection)
        self.stats.connection_attempts += 1
        if self.faults.upgrade_delay_s > 0:
            await asyncio.sleep(self.faults.upgrade_delay_s)
        url = urlsplit(request.path)
        path = url.path
        response: Response | None = None
        if path not in (PUBLIC_PATH, PRIVATE_PATH):
            response = connection.respond(404, "Not Found\n")
        else:
            if "protocol" not in parse_qs(url.query):
                logger.debug("upgrade of %s without ?protocol=1.1 (accepted)", request.path)
            status = self.faults.take_upgrade_refusal(path, market.value)
            if status is not None:
                response = connection.respond(status, "Refused by the simulator\n")
            else:
                refusal = self._ip_limit(connection, market, path)
                if refusal is not None:
                    self.stats.ip_limited += 1
                    logger.info("per-IP limit %s on %s %s", refusal[0], market.value, path)
                    if self.config.ip_limit_response == "http":
                        response = connection.respond(429, f"{refusal[1]}\n")
                    else:
                        connection.ip_refusal = refusal
        if response is not None:
            self.stats.refused_upgrades += 1
            logger.debug("refused upgrade of %s with %d", request.path, response.status_code)
        else:
            connection.protocol.answer_ping = lambda _frame: not self.faults.pongs_paused
        self._notify()
        return response

    def _ip_limit(self, connection: SimConnection, market: Market, path: str) -> tuple[str, str] | None:
        """Record this attempt; the spot ``(code, message)`` of the per-IP limit it breaks, if any.

        An admitted connection is counted until its TCP connection is lost.
        """
        cfg = self.config
        ip = str(connection.remote_address[0]) if connection.remote_address else ""
        if cfg.connect_rate_limit:
            now = time.monotonic()
            window = self._attempts.setdefault((market, ip), deque())
            window.append(now)
            while window and window[0] <= now - cfg.connect_rate_window:
                window.popleft()
            if len(window) > cfg.connect_rate_limit:
                return ("94001", "Frequently reestablishing connections in a short period of time")
        if market is Market.FUTURES:
            kind, limit = "", cfg.futures_max_connections_per_ip
        elif path == PRIVATE_PATH:
            kind, limit = path, cfg.max_private_connections_per_ip
        else:
            kind, limit = path, cfg.max_public_connections_per_ip
        live = self._live.setdefault((market, ip, kind), set())
        if limit and len(live) >= limit:
            return (
                "94002",
                "The number of connections established between a single IP and the server exceeds "
                "the upper limit",
            )
        live.add(connection)
        connection.on_lost = lambda: live.discard(connection)
        return None

    async def _refuse_ip(self, ws: SimConnection, market: Market, refusal: tuple[str, str]) -> None:
        """``ip_limit_response="frame"``: the error frame, then close 1008 (no session is created)."""
        code, message = refusal
        body: dict[str, Any] = (
            {"event": "error", "errorCode": code, "errorMessage": message}
            if market is Market.SPOT
            else {"success": False, "error": message}
        )
        with contextlib.suppress(ConnectionClosed):
            await ws.send(_JSON.encode(body).decode())
            await ws.close(1008, "connection limit")

    # -- connection handlers -----------------------------------------------------------------------

    async def _handle_spot(self, ws: ServerConnection) -> None:
        await self._handle(ws, Market.SPOT)

    async def _handle_futures(self, ws: ServerConnection) -> None:
        await self._handle(ws, Market.FUTURES)

    async def _handle(self, ws: ServerConnection, market: Market) -> None:
        assert ws.request is not None and isinstance(ws, SimConnection)
        if ws.ip_refusal is not None:
            await self._refuse_ip(ws, market, ws.ip_refusal)
            return
        session_id = self._next_session_id
        self._next_session_id += 1
        session = _Session(
            session_id,
            market,
            urlsplit(ws.request.path).path,
            ws,
            random.Random(stable_seed(self.config.seed, "session", str(session_id))),
            time.monotonic(),
            time.monotonic(),
            tick_seen=self._tick_count,
        )
        ws.protocol.frame_hook = lambda frame: self._frame_seen(session, frame)
        self._sessions[session_id] = session
        self.stats.accepted_connections += 1
        self._notify()
        logger.info("session %d connected: %s %s", session_id, market.value, session.path)
        inbox: asyncio.Queue[tuple[str, bool]] = asyncio.Queue()
        helpers = (
            asyncio.create_task(
                self._guarded(session, self._work_loop(session, inbox)), name=f"bitmart-sim-work-{session_id}"
            ),
            asyncio.create_task(
                self._guarded(session, self._push_loop(session)), name=f"bitmart-sim-push-{session_id}"
            ),
        )
        try:
            await self._read_loop(session, inbox)
        except _Close as close:
            await ws.close(close.code, close.reason)
        except ConnectionClosed:
            pass
        finally:
            for task in helpers:
                task.cancel()
            for task in helpers:
                with contextlib.suppress(asyncio.CancelledError):
                    await task
            del self._sessions[session_id]
            self._notify()
            logger.info("session %d gone", session_id)

    @staticmethod
    async def _guarded(session: _Session, work: Coroutine[Any, Any, None]) -> None:
        """Run a session helper; turn its ``_Close`` into a close, and log a bug as a 1011 close."""
        try:
            await work
        except _Close as close:
            await session.ws.close(close.code, close.reason)
        except ConnectionClosed:
            pass
        except Exception:
            logger.exception("session %d: simulator error", session.id)
            await session.ws.close(1011, "simulator error")

    def _frame_seen(self, session: _Session, frame: Frame) -> None:
        session.last_frame_at = time.monotonic()
        if frame.opcode is Opcode.PING:
            session.protocol_pings += 1
            self._count_message(session)
            self._notify()

    def _count_message(self, session: _Session) -> None:
        limit = (
            self.config.spot_rate_limit if session.market is Market.SPOT else self.config.futures_rate_limit
        )
        if not limit:
            return
        now = time.monotonic()
        window = session.sent_at
        window.append(now)
        while window and window[0] <= now - self.config.rate_window:
            window.popleft()
        if len(window) > limit:
            session.over_rate = True

    def _lifeless_timeout(self, market: Market) -> float:
        cfg = self.config
        if cfg.lifeless_timeout > 0:
            return cfg.lifeless_timeout
        return cfg.spot_lifeless_timeout if market is Market.SPOT else cfg.futures_lifeless_timeout

    def _deadline(self, session: _Session) -> float | None:
        cfg = self.config
        deadlines = []
        if cfg.idle_timeout > 0:
            deadlines.append(session.last_frame_at + cfg.idle_timeout)
        lifeless = self._lifeless_timeout(session.market)
        if lifeless > 0 and not session.subscribed_once:
            deadlines.append(session.connected_at + lifeless)
        return min(deadlines) if deadlines else None

    async def _read_loop(self, session: _Session, inbox: asyncio.Queue[tuple[str, bool]]) -> None:
        """Read frames, log and count them, and queue them for :meth:`_work_loop` (never blocks on it)."""
        ws = session.ws
        while True:
            deadline = self._deadline(session)
            try:
                async with asyncio.timeout(None if deadline is None else deadline - time.monotonic()):
                    message = await ws.recv()
            except TimeoutError:
                now = time.monotonic()
                if self.config.idle_timeout > 0 and now - session.last_frame_at >= self.config.idle_timeout:
                    raise _Close(1000, "idle timeout") from None
                lifeless = self._lifeless_timeout(session.market)
                if lifeless > 0 and not session.subscribed_once and now - session.connected_at >= lifeless:
                    raise _Close(1000, "no subscription") from None
                continue
            is_binary = isinstance(message, bytes)
            text = message.decode("utf-8", "replace") if isinstance(message, bytes) else message
            self._received.append(ReceivedFrame(session.id, time.time(), text, is_binary))
            self._count_message(session)
            self._notify()
            inbox.put_nowait((text, session.over_rate))

    async def _work_loop(self, session: _Session, inbox: asyncio.Queue[tuple[str, bool]]) -> None:
        """Handle the client's messages one at a time, in order (acks may be delayed here)."""
        while True:
            text, over_rate = await inbox.get()
            if over_rate:
                await self._reject_rate(session)
            if session.market is Market.SPOT:
                await self._spot_message(session, text)
            else:
                await self._futures_message(session, text)

    async def _reject_rate(self, session: _Session) -> None:
        if session.market is Market.SPOT:
            await self._send(
                session,
                {
                    "event": "error",
                    "errorCode": "90007",
                    "errorMessage": "Subscribed message frequency exceeds limit, please try later",
                },
            )
        else:
            await self._send(session, {"success": False, "error": "message frequency exceeds limit"})
        raise _Close(1008, "message rate limit")

    # -- sending -----------------------------------------------------------------------------------

    async def _send(self, session: _Session, message: dict[str, Any]) -> None:
        """A control frame (ack, error, login reply): always JSON text."""
        await session.ws.send(_JSON.encode(message).decode())

    async def _push(self, session: _Session, message: dict[str, Any]) -> None:
        """A data push: raw-deflate binary on spot per the ``compress`` setting, text on futures."""
        body = _JSON.encode(message)
        if session.market is Market.SPOT and self._compress_next(session):
            await session.ws.send(_deflate(body))
        else:
            await session.ws.send(body.decode())

    def _compress_next(self, session: _Session) -> bool:
        mode = self.config.compress
        if mode == "mixed":
            return session.rng.random() < 0.5
        return mode == "always"

    async def _ack_delay(self) -> None:
        if self.faults.ack_delay_s > 0:
            await asyncio.sleep(self.faults.ack_delay_s)

    # -- spot dialect (§2) -------------------------------------------------------------------------

    async def _spot_error(self, session: _Session, event: str, code: str, message: str) -> None:
        await self._send(session, {"event": event, "errorCode": code, "errorMessage": message})

    async def _spot_message(self, session: _Session, text: str) -> None:
        if text == "ping":
            if not self.faults.pongs_paused:
                await session.ws.send("pong")
            return
        try:
            request = msgspec.json.decode(text)
        except msgspec.DecodeError:
            await self._spot_error(session, "error", "90001", "Invalid message format")
            return
        if not isinstance(request, dict):
            await self._spot_error(session, "error", "90001", "Invalid message format")
            return
        op = request.get("op")
        args = request.get("args")
        if op not in ("subscribe", "unsubscribe", "login", "request"):
            await self._spot_error(session, "error", "90002", "Invalid op param")
            return
        if not isinstance(args, list) or not args:
            await self._spot_error(session, str(op), "90003", "Invalid args param")
            return
        if op == "login":
            await self._spot_login(session, args)
            return
        if not all(isinstance(a, str) for a in args):
            await self._spot_error(session, str(op), "90003", "Invalid args param")
            return
        topics = cast(list[str], args)
        if op != "request":
            await self._ack_delay()
        cfg = self.config
        too_many = cfg.max_topics_per_request and op != "request" and len(topics) > cfg.max_topics_per_request
        too_long = cfg.max_args_bytes and sum(len(t.encode()) for t in topics) > cfg.max_args_bytes
        if too_many or too_long:
            message = "Topic quantity in single subscription exceeds limit"
            await self._spot_error(session, op, "90005", message)
            return
        if op == "subscribe":
            await self._spot_subscribe(session, topics)
        elif op == "unsubscribe":
            await self._spot_unsubscribe(session, topics)
        else:
            await self._spot_request(session, topics)

    async def _spot_login(self, session: _Session, args: list[Any]) -> None:
        await self._ack_delay()
        if session.account is not None:
            await self._spot_error(session, "login", "91005", "Already logged in")
            return
        result = self._verify(args, strict_strings=False)
        if isinstance(result, LoginFailure):
            logger.info("session %d login refused: %s", session.id, result.code)
            await self._spot_error(session, "login", result.code, result.message)
            raise _Close(1000, "login failed")
        session.account = result
        self._notify()
        logger.info("session %d logged in", session.id)
        await self._send(session, {"event": "login"})

    def _verify(self, args: list[Any], *, strict_strings: bool) -> Account | LoginFailure:
        result = verify_login(
            args,
            self._accounts,
            now_ms=int(time.time() * 1000) + self.clock_offset_ms,
            window_ms=self.config.ts_window_ms,
            strict_strings=strict_strings,
        )
        if isinstance(result, Account) and self.faults.take_login_rejection():
            return LoginFailure("91011", "Param sign is wrong")
        return result

    def _check_topic(self, session: _Session, text: str) -> Topic | tuple[str, str]:
        """The parsed topic, or ``(spot code, message)`` saying why this server refuses it."""
        try:
            topic = parse_topic(text)
        except InvalidTopic:
            channel = text.partition(":")[0]
            spec = CHANNELS.get(channel)
            if spec is not None and spec.market is session.market:
                return ("92001", "Invalid symbol param")
            return ("90004", "Invalid channel param")
        if topic.spec is None or topic.market is not session.market:
            return ("90004", "Invalid channel param")
        symbol = topic.symbol
        if symbol is not None and symbol not in self._markets[session.market]:
            return ("92001", "Invalid symbol param")
        if topic.is_private and not session.is_private:
            return ("90009", "Invalid subscription")
        return topic

    async def _spot_subscribe(self, session: _Session, topics: list[str]) -> None:
        cfg = self.config
        limit = cfg.max_private_topics if session.is_private else cfg.max_public_topics
        for text in topics:
            checked = self._check_topic(session, text)
            if isinstance(checked, tuple):
                await self._send_topic_error(session, "subscribe", text, *checked)
            elif checked.is_private and session.account is None:
                await self._send_topic_error(session, "subscribe", text, "91006", "User not logged in")
            elif text in session.topics:
                await self._send_topic_error(session, "subscribe", text, "90008", "Duplicate subscription")
            elif limit and len(session.topics) >= limit:
                await self._send_topic_error(
                    session, "subscribe", text, "90006", "Subscribed total topic quantity exceeds limit"
                )
            else:
                await self._send(session, {"event": "subscribe", "topic": text})
                await self._add_topic(session, checked)

    async def _send_topic_error(self, session: _Session, event: str, topic: str, code: str, msg: str) -> None:
        """A refused topic: BitMart's frame names no topic; ``spot_error_topic`` adds it."""
        reply: dict[str, Any] = {"event": event, "errorCode": code, "errorMessage": msg}
        if self.config.spot_error_topic:
            reply = {"event": event, "topic": topic, "errorCode": code, "errorMessage": msg}
        await self._send(session, reply)

    async def _spot_unsubscribe(self, session: _Session, topics: list[str]) -> None:
        for text in topics:
            checked = self._check_topic(session, text)
            if isinstance(checked, tuple):
                await self._send_topic_error(session, "unsubscribe", text, *checked)
                continue
            self._remove_topic(session, text)
            await self._send(session, {"event": "unsubscribe", "topic": text})

    async def _spot_request(self, session: _Session, topics: list[str]) -> None:
        for text in topics:
            checked = self._check_topic(session, text)
            if isinstance(checked, tuple):
                await self._send_topic_error(session, "request", text, *checked)
            elif checked.spec is None or not checked.spec.requestable:
                await self._send_topic_error(session, "request", text, "90004", "Invalid channel param")
            else:
                await self._push_snapshot(session, checked)

    # -- futures dialect (§4) ----------------------------------------------------------------------

    async def _futures_message(self, session: _Session, text: str) -> None:
        try:
            request = msgspec.json.decode(text)
        except msgspec.DecodeError:
            await self._send(
                session, {"success": False, "error": f"Invalid message: message must be JSON: {text}"}
            )
            return
        if not isinstance(request, dict):
            await self._send(session, {"success": False, "error": f"Invalid message: {text}"})
            return
        action = request.get("action")
        args = request.get("args")
        if action == "ping":
            if not self.faults.pongs_paused:
                await self._send(session, {"group": "System", "data": f"pong+{uuid.uuid4()}"})
            return
        arg_list: list[Any] = args if isinstance(args, list) else []
        if action == "access":
            await self._futures_access(session, arg_list)
            return
        topics = [a for a in arg_list if isinstance(a, str)]
        if action not in ("subscribe", "unsubscribe", "request") or not topics:
            name = action if isinstance(action, str) else ""
            if not topics:
                await self._send(
                    session, {"action": name, "success": False, "error": f"Invalid action [{name}]"}
                )
            for topic in topics:
                await self._send(
                    session,
                    {
                        "action": name,
                        "group": topic,
                        "success": False,
                        "request": {"action": name, "args": [topic]},
                        "error": f"Invalid action [{name}] for group [{topic}]",
                    },
                )
            return
        if action == "request":
            await self._futures_request(session, topics)
        else:
            await self._futures_subscribe(session, str(action), topics)

    async def _futures_access(self, session: _Session, args: list[Any]) -> None:
        await self._ack_delay()
        result = self._verify(args, strict_strings=True)
        if isinstance(result, LoginFailure):
            key = args[0] if args and isinstance(args[0], str) else ""
            error = f"access failed: openapi auth: apiKey {key[:10]}**** failed: openapi auth failed"
            if result.code in ("91021", "91022", "91023"):
                error = f"access failed: {result.message}"
            logger.info("session %d access refused: %s", session.id, result.code)
            await self._send(session, {"action": "access", "success": False, "error": error})
            raise _Close(1000, "access failed")
        session.account = result
        self._notify()
        await self._send(session, {"action": "access", "success": True})

    def _not_found(self, topic: str) -> str:
        """The futures error text for an unknown channel or symbol (current or older doc wording)."""
        if self.config.legacy_error_wording:
            return f"group [{topic}] not exist"
        return f"Invalid channel: not found {topic}"

    def _futures_ack(self, action: str, topic: str, topics: list[str], error: str | None) -> dict[str, Any]:
        echo = topics if self.config.echo_full_request else [topic]
        ack: dict[str, Any] = {"action": action, "group": topic, "success": error is None}
        ack["request"] = {"action": action, "args": echo}
        if error is not None:
            ack["error"] = error
        return ack

    async def _futures_subscribe(self, session: _Session, action: str, topics: list[str]) -> None:
        await self._ack_delay()
        limit = self.config.futures_max_topics
        for text in topics:
            checked = self._check_topic(session, text)
            if isinstance(checked, tuple):
                await self._send(session, self._futures_ack(action, text, topics, self._not_found(text)))
            elif action == "unsubscribe":
                self._remove_topic(session, text)
                await self._send(session, self._futures_ack(action, text, topics, None))
            elif checked.is_private and session.account is None:
                await self._send(
                    session,
                    {
                        "action": action,
                        "group": text,
                        "success": False,
                        "error": f"{text} need authenication",
                    },
                )
            elif text in session.topics:
                await self._send(session, self._futures_ack(action, text, topics, None))
            elif limit and len(session.topics) >= limit:
                await self._send(session, self._futures_ack(action, text, topics, "topic limit exceeded"))
            else:
                await self._send(session, self._futures_ack(action, text, topics, None))
                await self._add_topic(session, checked)

    async def _futures_request(self, session: _Session, topics: list[str]) -> None:
        for text in topics:
            checked = self._check_topic(session, text)
            if isinstance(checked, tuple) or checked.spec is None or not checked.spec.requestable:
                await self._send(session, self._futures_ack("request", text, topics, self._not_found(text)))
            else:
                await self._push_snapshot(session, checked)

    # -- subscriptions -----------------------------------------------------------------------------

    async def _add_topic(self, session: _Session, topic: Topic) -> None:
        session.topics[topic.text] = topic
        session.subscribed_once = True
        if _is_incremental(topic):
            session.streams[topic.text] = self._new_stream(session, topic)
        self._notify()
        await self._push_initial(session, topic)

    def _remove_topic(self, session: _Session, text: str) -> None:
        if session.topics.pop(text, None) is not None:
            session.streams.pop(text, None)
            session.funding_due.pop(text, None)
            session.position_due.pop(text, None)
            session.last_book.pop(text, None)
            session.stale_pending.discard(text)
            self._notify()

    def _new_stream(self, session: _Session, topic: Topic) -> IncrementalStream:
        depth = (
            100 if session.market is Market.SPOT else int(topic.channel.removeprefix("futures/depthIncrease"))
        )
        version = 100_000 + stable_seed(self.config.seed, "version", topic.text) % 900_000
        return IncrementalStream(depth, version, advance_on_empty=session.market is Market.FUTURES)

    async def _push_snapshot(self, session: _Session, topic: Topic) -> None:
        """Answer a ``request``: a fresh snapshot (continuing the subscription's version chain)."""
        if topic.channel == "futures/fundingRate":
            await self._push_frames(session, topic, self._render(session, topic, time.time_ns() // 1_000_000))
            return
        stream = session.streams.get(topic.text) or self._new_stream(session, topic)
        await self._push(session, self._snapshot_message(session, topic, stream))

    async def _push_initial(self, session: _Session, topic: Topic) -> None:
        """The current value right after the subscribe ack, where BitMart sends one."""
        if topic.text in self.faults.paused_topics:
            return
        now_ms = time.time_ns() // 1_000_000
        stream = session.streams.get(topic.text)
        if stream is not None:
            await self._push(session, self._snapshot_message(session, topic, stream))
            return
        channel = topic.channel
        if channel.endswith(("/trade", "/order", "/orders", "/balance")):
            return
        if channel == "futures/fundingRate":
            session.funding_due[topic.text] = time.monotonic() + self.config.funding_interval
        if channel == "futures/position":
            session.position_due[topic.text] = time.monotonic() + self.config.position_interval
        if channel in ("futures/asset", "futures/position"):
            await self._push_frames(session, topic, self._render_private(session, topic, None))
            return
        await self._push_frames(session, topic, self._render(session, topic, now_ms))

    def _snapshot_message(self, session: _Session, topic: Topic, stream: IncrementalStream) -> dict[str, Any]:
        assert topic.symbol is not None
        market = self._markets[session.market][topic.symbol]
        version, asks, bids = stream.snapshot(market)
        return self._book_message(session, topic, market, "snapshot", version, asks, bids)

    def _book_message(
        self,
        session: _Session,
        topic: Topic,
        market: SymbolMarket,
        kind: str,
        version: int,
        asks: list[tuple[int, int]],
        bids: list[tuple[int, int]],
    ) -> dict[str, Any]:
        futures = session.market is Market.FUTURES
        data = {
            "symbol": market.instrument.symbol,
            "type": kind,
            "version": version,
            "ms_t": time.time_ns() // 1_000_000,
            "asks": format_levels(market.instrument, asks, objects=futures),
            "bids": format_levels(market.instrument, bids, objects=futures),
        }
        if futures:
            return {"group": topic.text, "data": data}
        return {"table": topic.channel, "data": [data]}

    # -- the clock and the pushes ------------------------------------------------------------------

    def _advance(self) -> None:
        """One market tick: move every market, maybe step the accounts, wake every push loop."""
        cfg = self.config
        now_ms = time.time_ns() // 1_000_000
        for markets in self._markets.values():
            for market in markets.values():
                market.step(now_ms)
        self._update_prices()
        if time.monotonic() >= self._next_activity:
            self._next_activity = time.monotonic() + cfg.account_interval
            self._batches = {key: act.step(now_ms) for key, act in self._activity.items()}
        else:
            self._batches = {}
        self._tick_count += 1
        self._tick.set()
        self._tick = asyncio.Event()

    async def _clock(self) -> None:
        while True:
            await asyncio.sleep(self.config.cadence)
            self._advance()

    async def step(self, count: int = 1, timeout: float = 5.0) -> None:  # noqa: ASYNC109
        """Advance the market ``count`` ticks by hand and wait until every connection pushed each one.

        Meant for ``cadence=0`` (no clock), where it makes the pushes depend only on the seed and the
        calls: the same script against the same seed gets the same frames (timestamps aside).
        """
        for _ in range(count):
            self._advance()
            await self.wait_for(self._all_pushed(self._tick_count), timeout=timeout)

    def _all_pushed(self, tick: int) -> Callable[[], bool]:
        return lambda: all(s.tick_seen >= tick for s in self._sessions.values())

    async def _push_loop(self, session: _Session) -> None:
        manual = self.config.cadence <= 0
        while True:
            while session.tick_seen >= self._tick_count:
                await self._tick.wait()
            tick = self._tick_count
            await self._push_tick(session)
            session.tick_seen = tick
            if manual:
                self._notify()

    async def _push_tick(self, session: _Session) -> None:
        now_ms = time.time_ns() // 1_000_000
        now = time.monotonic()
        cfg = self.config
        batch = self._batches.get(session.account.api_key) if session.account else None
        for topic in list(session.topics.values()):
            if topic.text in self.faults.paused_topics or topic.text not in session.topics:
                continue
            if topic.is_private:
                frames = self._render_private(session, topic, batch) if batch is not None else []
                if topic.channel == "futures/position":
                    if not frames and now >= session.position_due.get(topic.text, 0.0):
                        frames = self._render_private(session, topic, None)  # the 10 s re-push
                    if frames:
                        session.position_due[topic.text] = now + cfg.position_interval
                await self._push_frames(session, topic, frames)
                continue
            stream = session.streams.get(topic.text)
            if stream is not None:
                assert topic.symbol is not None
                market = self._markets[session.market][topic.symbol]
                if topic.text in session.stale_pending:
                    session.stale_pending.discard(topic.text)
                    await self._push(session, session.last_book[topic.text])
                if cfg.gap_probability > 0 and session.rng.random() < cfg.gap_probability:
                    stream.pending_gap += 1
                version, asks, bids = stream.update(market)
                message = self._book_message(session, topic, market, "update", version, asks, bids)
                session.last_book[topic.text] = message
                await self._push(session, message)
                continue
            if topic.channel == "futures/fundingRate":
                due = session.funding_due.get(topic.text, 0.0)
                if now < due:
                    continue
                session.funding_due[topic.text] = now + cfg.funding_interval
            await self._push_frames(session, topic, self._render(session, topic, now_ms))

    async def _push_frames(self, session: _Session, topic: Topic, frames: list[dict[str, Any]]) -> None:
        for message in frames:
            await self._push(session, message)

    def _render(self, session: _Session, topic: Topic, now_ms: int) -> list[dict[str, Any]]:
        """The push frames of a public topic for the current market state."""
        markets = self._markets[session.market]
        channel, text = topic.channel, topic.text
        if channel == "futures/ticker":
            if topic.symbol is None:
                return [{"group": "futures/ticker", "data": m.futures_ticker()} for m in markets.values()]
            suffix = self.config.ticker_group_suffix
            return [{"group": text + suffix, "data": markets[topic.symbol].futures_ticker()}]
        assert topic.symbol is not None
        m = markets[topic.symbol]
        if session.market is Market.SPOT:
            data: list[dict[str, Any]]
            if channel == "spot/ticker":
                data = [m.spot_ticker(now_ms)]
            elif channel.startswith("spot/kline"):
                data = [m.spot_kline(channel.removeprefix("spot/kline"), now_ms)]
            elif channel.startswith("spot/depth"):
                data = [m.spot_depth(int(channel.removeprefix("spot/depth")), now_ms)]
            elif channel == "spot/trade":
                data = m.spot_trades()
            else:  # spot/bookTicker
                data = [m.spot_book_ticker(now_ms)]
            return [{"table": channel, "data": data}] if data else []
        name = channel.removeprefix("futures/")
        if name.startswith("depthAll"):
            return [{"group": text, "data": m.futures_depth_all(int(name.removeprefix("depthAll")), now_ms)}]
        if name.startswith("depth"):
            depth = int(name.removeprefix("depth"))
            return [{"group": text, "data": m.futures_depth_side(depth, way, now_ms)} for way in (1, 2)]
        if name == "bookticker":
            return [{"group": text, "data": m.futures_book_ticker(now_ms)}]
        if name == "trade":
            trades = m.futures_trades()
            return [{"group": text, "data": trades}] if trades else []
        if name.startswith("klineBin"):
            return [{"group": text, "data": m.futures_kline(name.removeprefix("klineBin"), now_ms)}]
        if name.startswith("markPriceKlineBin"):
            interval = name.removeprefix("markPriceKlineBin")
            return [{"group": text, "data": m.futures_kline(interval, now_ms, mark=True)}]
        return [{"group": text, "data": m.futures_funding(now_ms)}]  # fundingRate

    def _render_private(
        self, session: _Session, topic: Topic, batch: ActivityBatch | None
    ) -> list[dict[str, Any]]:
        """The push frames of a private topic; ``batch`` ``None`` means "current state" (after subscribe)."""
        assert session.account is not None
        activity = self._activity[session.account.api_key]
        channel = topic.channel
        if channel == "futures/asset":
            assert topic.argument is not None
            if batch is not None and topic.argument not in batch.futures_assets:
                return []
            return [{"group": topic.text, "data": activity.asset(topic.argument)}]
        if channel == "futures/position":
            if batch is not None and not batch.futures_positions:
                return []
            return [{"group": topic.text, "data": activity.position_list()}]
        if batch is None:
            return []
        if channel == "futures/order":
            return [{"group": topic.text, "data": batch.futures_orders}] if batch.futures_orders else []
        if channel == "spot/user/balance":
            return [{"table": channel, "data": batch.spot_balance}] if batch.spot_balance else []
        if channel == "spot/user/orders":
            orders = batch.spot_orders
            table = self.config.all_symbols_table
        else:  # spot/user/order:<SYMBOL>
            orders = [o for o in batch.spot_orders if o["symbol"] == topic.argument]
            table = channel
        return [{"table": table, "data": orders}] if orders else []


def _is_incremental(topic: Topic) -> bool:
    return topic.channel == "spot/depth/increase100" or topic.channel.startswith("futures/depthIncrease")


def _deflate(body: bytes) -> bytes:
    """One independent raw-deflate stream (no zlib header), as BitMart's spot binary frames."""
    compressor = zlib.compressobj(wbits=-15)
    return compressor.compress(body) + compressor.flush()
