"""The simulator: two ``websockets`` servers (the spot and futures v2 dialects), their market clocks, the
HTTP upgrade (paths, refusals, per-IP limits), fault injection and the server-side view for tests.

Wire formats are BitMart's (spot and futures v2 dialects, limits, error codes). The pieces:
``session.py`` (one connection: loops and limits), ``spot.py`` and ``futures.py`` (the dialects),
``channels.py`` (the channel table), ``venue.py`` (the shared state), ``wire.py`` (websockets hooks).
Topics are validated with the protocol core's channel registry and signatures checked with the core's
``sign``, so the client and the simulator share one definition of the venue.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import struct
import time
import zlib
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Self
from urllib.parse import parse_qs, urlsplit

import msgspec
from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response

from ..protocol.keys import Market, WsKey
from .config import SimulatorConfig
from .faults import Malformed
from .futures import FuturesDialect
from .market import SymbolMarket
from .session import PRIVATE_PATH, PUBLIC_PATH, Dialect, ReceivedFrame, Session, SessionInfo, run_session
from .spot import SpotDialect, deflate
from .venue import Venue
from .wire import WIRE_LOGGER, SimConnection

__all__ = ["ReceivedFrame", "SessionInfo", "Simulator", "SimulatorStats"]

logger = logging.getLogger("bitmart_ws.simulator.server")

_JSON = msgspec.json.Encoder()
_TICKER = _JSON.encode({"table": "spot/ticker", "data": [{"symbol": "BTC_USDT"}]})
_DEFLATED_TICKER = deflate(_TICKER)

MALFORMED: Mapping[Malformed, Callable[[Market], str | bytes]] = {
    Malformed.TEXT: lambda _market: '{"table":"spot/ticker","data":[{"symbol"',
    Malformed.TRUNCATED: lambda _market: _DEFLATED_TICKER[: len(_DEFLATED_TICKER) // 2],
    Malformed.ZLIB: lambda _market: zlib.compress(_TICKER),
    Malformed.EMPTY_DATA: lambda market: (
        '{"table":"spot/ticker","data":""}'
        if market is Market.SPOT
        else '{"group":"futures/ticker","data":""}'
    ),
    Malformed.DEEP: lambda market: (
        deflate(b"[" * 1000 + b"]" * 1000) if market is Market.SPOT else "[" * 1000 + "]" * 1000
    ),
}
"""The broken frame of every :class:`Malformed` kind, for a session of the given dialect."""


def _oversized(market: Market, pad: str) -> dict[str, Any]:
    if market is Market.SPOT:
        return {"table": "spot/ticker", "data": [{"symbol": "BTC_USDT", "pad": pad}]}
    return {"group": "futures/ticker", "data": {"symbol": "BTCUSDT", "pad": pad}}


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


class Simulator:
    """A faithful BitMart WebSocket server for tests and demos.

    Use as ``async with Simulator(SimulatorConfig(cadence=0.05)) as sim:``; ``sim.urls`` maps every
    :class:`~bitmart_ws.protocol.keys.WsKey` value to the URL serving it. Fault-injection methods
    (``drop_connections``, ``pause_pongs``, ``reject_logins``...) may be called while it runs.
    """

    def __init__(self, config: SimulatorConfig | None = None) -> None:
        self.config = config or SimulatorConfig()
        self._venue = Venue(self.config)
        self.faults = self._venue.faults
        self.stats = SimulatorStats()
        self._dialects: dict[Market, Dialect] = {Market.SPOT: SpotDialect(), Market.FUTURES: FuturesDialect()}
        self._servers: dict[Market, Server] = {}
        self._clock_tasks: list[asyncio.Task[None]] = []
        self._attempts: dict[tuple[Market, str], deque[float]] = {}
        self._live: dict[tuple[Market, str, str], set[SimConnection]] = {}
        self.spot_port = 0
        self.futures_port = 0
        self.urls: dict[str, str] = {}

    # -- lifecycle ---------------------------------------------------------------------------------

    async def start(self) -> None:
        """Bind both servers and start the market clock of each dialect (unless its cadence is 0)."""
        if self._servers:
            return
        cfg = self.config
        ports = {Market.SPOT: cfg.spot_port, Market.FUTURES: cfg.futures_port}
        for market, dialect in self._dialects.items():
            self._servers[market] = await serve(
                self._handler(dialect),
                cfg.host,
                ports[market],
                process_request=self._upgrade_check(market),
                create_connection=SimConnection,
                logger=WIRE_LOGGER,
                **dialect.serve_options(cfg),
            )
        self.spot_port = self._port(self._servers[Market.SPOT])
        self.futures_port = self._port(self._servers[Market.FUTURES])
        self.urls = self._make_urls()
        for clock in self._venue.clocks.values():
            clock.next_activity = time.monotonic() + cfg.account_interval
            if not clock.manual:
                name = f"bitmart-sim-clock-{clock.market.value}"
                self._clock_tasks.append(
                    asyncio.create_task(self._clock(clock.market, clock.cadence), name=name)
                )
        logger.info("simulator serving spot on %s and futures on %s", self.spot_port, self.futures_port)

    async def close(self) -> None:
        """Stop the clocks, close every connection (1001) and both servers."""
        for task in self._clock_tasks:
            task.cancel()
        for task in self._clock_tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._clock_tasks.clear()
        for server in self._servers.values():
            server.close()
        for server in self._servers.values():
            await server.wait_closed()
        self._servers.clear()
        self._venue.notify()

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

    # -- the market clocks -------------------------------------------------------------------------

    async def _clock(self, market: Market, cadence: float) -> None:
        while True:
            await asyncio.sleep(cadence)
            self._venue.advance((market,))

    async def step(self, count: int = 1, timeout: float = 5.0) -> None:  # noqa: ASYNC109
        """Advance both dialects' markets ``count`` ticks by hand and wait until every connection pushed
        each one.

        Meant for ``cadence=0`` (no clocks), where it makes the pushes depend only on the seed and the
        calls: the same script against the same seed gets the same frames (timestamps aside).
        """
        for _ in range(count):
            self._venue.advance(Market)
            await self._venue.wait_for(self._venue.all_pushed, timeout)

    # -- server-side view --------------------------------------------------------------------------

    @property
    def sessions(self) -> list[SessionInfo]:
        """Every live connection, oldest first."""
        return [s.info() for s in self._venue.sessions.values()]

    def session(self, session_id: int) -> SessionInfo:
        """One live connection (``KeyError`` when it is gone)."""
        return self._venue.sessions[session_id].info()

    @property
    def received(self) -> list[ReceivedFrame]:
        """Every data frame received from any client, in order."""
        return list(self._venue.received)

    def market(self, symbol: str, market: Market = Market.SPOT) -> SymbolMarket:
        """The live market state of ``symbol``."""
        return self._venue.markets[market][symbol]

    @property
    def ticks(self) -> int:
        """Clock ticks so far: one per tick of either dialect's clock, one per :meth:`step` tick."""
        return self._venue.ticks

    @property
    def clock_offset_ms(self) -> int:
        """The shift of the server clock used to check login timestamps (see :meth:`set_clock_offset`)."""
        return self._venue.clock_offset_ms

    async def wait_for(self, predicate: Callable[[], bool], timeout: float = 5.0) -> None:  # noqa: ASYNC109
        """Wait until ``predicate()`` is true, re-checking on every state change of the simulator.

        Raises:
            TimeoutError: it did not become true within ``timeout`` seconds.
        """
        await self._venue.wait_for(predicate, timeout)

    # -- fault injection ---------------------------------------------------------------------------

    def _targets(self, session_id: int | None) -> list[Session]:
        sessions = self._venue.sessions
        if session_id is None:
            return list(sessions.values())
        session = sessions.get(session_id)
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
        self._venue.clock_offset_ms = offset_ms

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

    async def push_raw(self, topic: str, message: dict[str, Any]) -> int:
        """Push ``message`` as a data frame to every session subscribed to ``topic`` (exactly as
        subscribed), encoded by its dialect (spot: raw-deflate binary per ``compress``).

        It is sent as given, whatever the market state says, and also while ``topic`` is paused: a
        replay pauses the topics it serves so that only recorded messages reach them. Returns how
        many sessions got it.
        """
        targets = [s for s in self._venue.sessions.values() if topic in s.topics]
        for session in targets:
            with contextlib.suppress(ConnectionClosed):
                await session.push(message)
        return len(targets)

    async def send_malformed(self, kind: Malformed = Malformed.TEXT, session_id: int | None = None) -> int:
        """Send one broken frame of ``kind`` (see :data:`MALFORMED`) to every session (or one).

        Returns how many got it.
        """
        targets = self._targets(session_id)
        for session in targets:
            with contextlib.suppress(ConnectionClosed):
                await session.ws.send(MALFORMED[kind](session.market))
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
            with contextlib.suppress(ConnectionClosed):
                await session.push(_oversized(session.market, pad))
        return len(targets)

    # -- HTTP upgrade ------------------------------------------------------------------------------

    def _upgrade_check(self, market: Market) -> Callable[[ServerConnection, Request], Any]:
        async def check(connection: ServerConnection, request: Request) -> Response | None:
            return await self._process_request(connection, request, market)

        return check

    def _handler(self, dialect: Dialect) -> Callable[[ServerConnection], Any]:
        async def handle(ws: ServerConnection) -> None:
            assert isinstance(ws, SimConnection)
            if ws.ip_refusal is not None:
                await self._refuse_ip(ws, dialect, ws.ip_refusal)
                return
            self.stats.accepted_connections += 1
            await run_session(self._venue, dialect, ws)

        return handle

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
        self._venue.notify()
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

    async def _refuse_ip(self, ws: SimConnection, dialect: Dialect, refusal: tuple[str, str]) -> None:
        """``ip_limit_response="frame"``: the error frame, then close 1008 (no session is created)."""
        with contextlib.suppress(ConnectionClosed):
            await ws.send(_JSON.encode(dialect.error_frame(*refusal)).decode())
            await ws.close(1008, "connection limit")
