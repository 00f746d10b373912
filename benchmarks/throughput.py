"""Throughput of ``update`` events, spot and futures ticker, against the floor measured in the same run.

Run it with ``make bench`` (or ``.venv/bin/python -m benchmarks.throughput --help``).

Method, in short (details in ``benchmarks/README.md``):

- a *blaster* server runs in its own process (pinned to its own CPU when there are two or more); after the
  subscribe acknowledgement it writes N prebuilt, pre-encoded WebSocket frames in large chunks;
- the *floor* is picows + one-shot ``zlib.decompress(payload, -15)`` (binary frames) + msgspec decode + a
  counting callback, i.e. the least any Python client on this stack can do per frame;
- the *client* is ``bitmart_ws.WebsocketClient`` with a counting ``update`` handler;
- both run alternately for several rounds in this process; the medians are compared.

Rates are messages per second from the first to the last data message of a run.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import gc
import hashlib
import importlib
import multiprocessing
import os
import random
import statistics
import struct
import sys
import time
import urllib.parse
import zlib
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from importlib.metadata import version
from multiprocessing.connection import Connection
from typing import Any, Final, Literal

import msgspec
import picows
import websockets.asyncio.client

Kind = Literal["spot", "futures"]
KINDS: Final[tuple[Kind, ...]] = ("spot", "futures")

TOPICS: Final[dict[Kind, str]] = {"spot": "spot/ticker:BTC_USDT", "futures": "futures/ticker:BTCUSDT"}
SUBSCRIBE: Final[dict[Kind, bytes]] = {
    "spot": msgspec.json.encode({"op": "subscribe", "args": [TOPICS["spot"]]}),
    "futures": msgspec.json.encode({"action": "subscribe", "args": [TOPICS["futures"]]}),
}
TARGETS: Final[dict[Kind, float]] = {"spot": 0.85, "futures": 0.80}
# What issue 3 quotes for this machine (picows + zlib + msgspec + callback, one core); shown for context only:
# the ratio always uses the floor measured in the same run.
ISSUE_FLOOR: Final[dict[Kind, int]] = {"spot": 185_000, "futures": 495_000}

POOL_SIZE: Final = 1000
WS_GUID: Final = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
MAX_CLIENT_FRAMES: Final = 10_000  # per connection on the server side; our clients send a handful
MAX_HEAD: Final = 16 * 1024

_decode = msgspec.json.Decoder().decode
_encode = msgspec.json.encode


# --------------------------------------------------------------------------------------------------
# Frames
# --------------------------------------------------------------------------------------------------


def spot_ticker_payloads(count: int, seed: int = 1) -> list[bytes]:
    """``count`` distinct spot ticker pushes, each its own raw-deflate stream (protocol reference §3.1)."""
    rng = random.Random(seed)
    price = 35_000.0
    ms = 1_709_024_652_967
    out: list[bytes] = []
    for _ in range(count):
        price = max(1.0, price + rng.uniform(-5.0, 5.0))
        ms += rng.randint(1, 500)
        spread = rng.uniform(0.01, 2.0)
        msg = {
            "table": "spot/ticker",
            "data": [
                {
                    "symbol": "BTC_USDT",
                    "last_price": f"{price:.2f}",
                    "open_24h": "35003.03",
                    "high_24h": f"{max(price, 35_103.04):.2f}",
                    "low_24h": f"{min(price, 34_900.00):.2f}",
                    "base_volume_24h": f"{rng.uniform(1_000, 2_000):.5f}",
                    "quote_volume_24h": f"{rng.uniform(35e6, 70e6):.2f}",
                    "fluctuation": f"{(price - 35_003.03) / 35_003.03:.4f}",
                    "bid_px": f"{price - spread:.2f}",
                    "bid_sz": f"{rng.uniform(0.001, 12):.5f}",
                    "ask_px": f"{price + spread:.2f}",
                    "ask_sz": f"{rng.uniform(0.001, 12):.5f}",
                    "ms_t": ms,
                    "s_t": ms // 1000,
                }
            ],
        }
        deflater = zlib.compressobj(wbits=-15)  # one independent raw deflate stream per frame
        out.append(deflater.compress(_encode(msg)) + deflater.flush())
    return out


def futures_ticker_payloads(count: int, seed: int = 2) -> list[bytes]:
    """``count`` distinct futures ticker pushes as JSON text (protocol reference §5.1)."""
    rng = random.Random(seed)
    price = 97_153.6
    out: list[bytes] = []
    for _ in range(count):
        price = max(1.0, price + rng.uniform(-10.0, 10.0))
        spread = rng.uniform(0.1, 1.0)
        msg = {
            "group": TOPICS["futures"],
            "data": {
                "symbol": "BTCUSDT",
                "last_price": f"{price:.1f}",
                "volume_24": str(rng.randint(25_000_000, 26_000_000)),
                "range": f"{rng.uniform(-0.05, 0.05):.16f}",
                "mark_price": f"{price + rng.uniform(-0.5, 0.5):.1f}",
                "index_price": f"{price + rng.uniform(-40, 40):.3f}",
                "ask_price": f"{price + spread:.1f}",
                "ask_vol": str(rng.randint(1, 500)),
                "bid_price": f"{price - spread:.1f}",
                "bid_vol": str(rng.randint(1, 500)),
            },
        }
        out.append(_encode(msg))
    return out


def encode_frame(opcode: int, payload: bytes) -> bytes:
    """One unmasked, unfragmented server-to-client WebSocket frame."""
    size = len(payload)
    if size < 126:
        head = struct.pack("!BB", 0x80 | opcode, size)
    elif size < 1 << 16:
        head = struct.pack("!BBH", 0x80 | opcode, 126, size)
    else:
        head = struct.pack("!BBQ", 0x80 | opcode, 127, size)
    return head + payload


OP_TEXT: Final = 0x1
OP_BINARY: Final = 0x2
OP_CLOSE: Final = 0x8
OP_PING: Final = 0x9
OP_PONG: Final = 0xA


@dataclass(frozen=True, slots=True)
class FramePool:
    """A pool of encoded frames laid end to end, and where each frame ends."""

    data: bytes
    ends: tuple[int, ...]  # ends[i] = byte offset just after frame i

    @classmethod
    def build(cls, opcode: int, payloads: Sequence[bytes]) -> FramePool:
        frames = [encode_frame(opcode, p) for p in payloads]
        ends: list[int] = []
        total = 0
        for frame in frames:
            total += len(frame)
            ends.append(total)
        return cls(b"".join(frames), tuple(ends))

    def __len__(self) -> int:
        return len(self.ends)


def build_pools(size: int = POOL_SIZE) -> dict[Kind, FramePool]:
    return {
        "spot": FramePool.build(OP_BINARY, spot_ticker_payloads(size)),
        "futures": FramePool.build(OP_TEXT, futures_ticker_payloads(size)),
    }


# --------------------------------------------------------------------------------------------------
# Blaster server: raw asyncio, hand-made handshake, pre-encoded frames written in pool-sized chunks
# --------------------------------------------------------------------------------------------------


def _unmask(payload: bytes, mask: bytes) -> bytes:
    size = len(payload)
    if not size:
        return payload
    key = (mask * (size // 4 + 1))[:size]
    return (int.from_bytes(payload, "big") ^ int.from_bytes(key, "big")).to_bytes(size, "big")


class _Session:
    """One client connection: answers BitMart's control messages and blasts after the first subscribe."""

    def __init__(self, writer: asyncio.StreamWriter, pools: dict[Kind, FramePool], n: int, close: bool):
        self.writer = writer
        self.pools = pools
        self.n = n
        self.close_after = close
        self.blast: asyncio.Task[None] | None = None

    def send(self, opcode: int, payload: bytes) -> None:
        if not self.writer.is_closing():
            self.writer.write(encode_frame(opcode, payload))

    def on_text(self, payload: bytes) -> None:
        if payload == b"ping":
            self.send(OP_TEXT, b"pong")
            return
        try:
            msg = _decode(payload)
        except msgspec.DecodeError:
            self.send(OP_TEXT, b'{"success":false,"error":"Invalid message: message must be JSON"}')
            return
        if not isinstance(msg, dict):
            return
        args = msg.get("args")
        topics = [a for a in args if isinstance(a, str)] if isinstance(args, list) else []
        op = msg.get("op")
        action = msg.get("action")
        if op in ("subscribe", "unsubscribe"):
            for topic in topics:
                self.send(OP_TEXT, _encode({"event": op, "topic": topic}))
        elif op == "login":
            self.send(OP_TEXT, b'{"event":"login"}')
        elif action in ("subscribe", "unsubscribe"):
            for topic in topics:
                reply = {"action": action, "group": topic, "success": True}
                reply["request"] = {"action": action, "args": [topic]}
                self.send(OP_TEXT, _encode(reply))
        elif action == "ping":
            self.send(OP_TEXT, b'{"group":"System","data":"pong"}')
        elif action == "access":
            self.send(OP_TEXT, b'{"action":"access","success":true}')
        if "subscribe" in (op, action) and self.blast is None:
            kind: Kind | None = None
            if any(t.startswith("spot/") for t in topics):
                kind = "spot"
            elif any(t.startswith("futures/") for t in topics):
                kind = "futures"
            if kind is not None:
                self.blast = asyncio.create_task(self._blast(self.pools[kind]))

    async def _blast(self, pool: FramePool) -> None:
        rounds, rest = divmod(self.n, len(pool))
        view = memoryview(pool.data)
        try:
            for _ in range(rounds):
                self.writer.write(view)
                await self.writer.drain()
            if rest:
                self.writer.write(view[: pool.ends[rest - 1]])
                await self.writer.drain()
            if self.close_after:
                self.writer.close()
        except (ConnectionError, RuntimeError):
            pass  # the client went away early (timeout, error); nothing to report from here


async def _serve_connection(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, pools: dict[Kind, FramePool]
) -> None:
    session: _Session | None = None
    try:
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 10)
        request_line, *header_lines = head.decode("latin-1").split("\r\n")
        _method, target, _version = request_line.split(" ", 2)
        url = urllib.parse.urlsplit(target)
        headers = {}
        for line in header_lines:
            name, sep, value = line.partition(":")
            if sep:
                headers[name.strip().lower()] = value.strip()
        key = headers.get("sec-websocket-key")
        if url.path not in ("/api", "/user") or key is None:
            writer.write(b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
            return
        query = urllib.parse.parse_qs(url.query)
        n = int(query.get("n", ["100000"])[0])
        accept = base64.b64encode(hashlib.sha1(key.encode() + WS_GUID).digest())
        writer.write(
            b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            b"Sec-WebSocket-Accept: " + accept + b"\r\n\r\n"
        )
        writer.transport.set_write_buffer_limits(high=1 << 20)
        session = _Session(writer, pools, n, close=query.get("close") == ["1"])
        for _ in range(MAX_CLIENT_FRAMES):
            b0, b1 = await reader.readexactly(2)
            opcode, size = b0 & 0x0F, b1 & 0x7F
            if size == 126:
                (size,) = struct.unpack("!H", await reader.readexactly(2))
            elif size == 127:
                (size,) = struct.unpack("!Q", await reader.readexactly(8))
            mask = await reader.readexactly(4) if b1 & 0x80 else b""
            payload = await reader.readexactly(size)
            if mask:
                payload = _unmask(payload, mask)
            if opcode == OP_TEXT:
                session.on_text(payload)
            elif opcode == OP_PING:
                session.send(OP_PONG, payload)
            elif opcode == OP_CLOSE:
                session.send(OP_CLOSE, payload[:2])
                return
    except (
        asyncio.IncompleteReadError,
        asyncio.LimitOverrunError,
        ConnectionError,
        TimeoutError,
        ValueError,
    ):
        return
    finally:
        if session is not None and session.blast is not None:
            session.blast.cancel()
        writer.close()


async def _server_main(conn: Connection, pools: dict[Kind, FramePool]) -> None:
    server = await asyncio.start_server(
        lambda r, w: _serve_connection(r, w, pools), "127.0.0.1", 0, limit=MAX_HEAD
    )
    port = server.sockets[0].getsockname()[1]
    conn.send(port)
    loop = asyncio.get_running_loop()
    try:
        await loop.run_in_executor(None, conn.recv)  # "stop", or EOFError when the parent is gone
    except EOFError:
        pass
    finally:
        server.close()


def server_process(conn: Connection, cpu: int | None) -> None:
    """Entry point of the blaster process."""
    if cpu is not None:
        os.sched_setaffinity(0, {cpu})
    asyncio.run(_server_main(conn, build_pools()))


class Blaster:
    """The blaster server in a child process; a context manager that always stops it."""

    def __init__(self, cpu: int | None) -> None:
        ctx = multiprocessing.get_context("spawn")
        self._conn, child = ctx.Pipe()
        self._proc = ctx.Process(target=server_process, args=(child, cpu), daemon=True, name="blaster")
        self.port = 0

    def __enter__(self) -> Blaster:
        self._proc.start()
        if not self._conn.poll(30):
            self._proc.kill()
            raise RuntimeError("the blaster process did not start within 30 s")
        try:
            self.port = int(self._conn.recv())
        except EOFError:
            self._proc.join(5)
            code = self._proc.exitcode
            raise RuntimeError(f"the blaster process died at start (exit code {code})") from None
        return self

    def __exit__(self, *exc: object) -> None:
        try:
            self._conn.send("stop")
        except OSError:
            pass
        self._proc.join(5)
        if self._proc.is_alive():
            self._proc.kill()
            self._proc.join(5)
        self._conn.close()

    def url(self, n: int, *, path: str = "/api", close: bool = False) -> str:
        extra = "&close=1" if close else ""
        return f"ws://127.0.0.1:{self.port}{path}?protocol=1.1&n={n}{extra}"


# --------------------------------------------------------------------------------------------------
# Measurement
# --------------------------------------------------------------------------------------------------


class Counter:
    """The trivial callback every contestant calls once per decoded message; notes the first and last."""

    __slots__ = ("count", "done", "first_at", "last_at", "t_first", "t_last")

    def __init__(self, first_at: int, last_at: int) -> None:
        self.count = 0
        self.first_at = first_at
        self.last_at = last_at
        self.t_first = 0.0
        self.t_last = 0.0
        self.done = asyncio.Event()

    def __call__(self, msg: Any) -> None:
        self.count += 1
        count = self.count
        if count == self.first_at:
            self.t_first = time.perf_counter()
        elif count == self.last_at:
            self.t_last = time.perf_counter()
            self.done.set()


@dataclass(slots=True)
class Run:
    messages: int  # data messages counted
    seconds: float  # from the first data message to the last one
    error: str | None = None

    @property
    def rate(self) -> float:
        return (self.messages - 1) / self.seconds if self.messages > 1 and self.seconds > 0 else 0.0

    @classmethod
    def of(cls, counter: Counter, error: str | None = None) -> Run:
        data = max(0, counter.count - counter.first_at + 1)
        end = counter.t_last if counter.t_last else time.perf_counter()
        seconds = end - counter.t_first if counter.t_first else 0.0
        return cls(data, seconds, error)


def _timeout(n: int) -> float:
    return 15.0 + n / 20_000  # generous: even a 20k msg/s contestant finishes


class FloorListener(picows.WSListener):
    """The floor: inflate binary frames in one call, decode JSON, call back. Nothing else."""

    def __init__(self, subscribe: bytes, callback: Callable[[Any], None]) -> None:
        self.subscribe = subscribe
        self.callback = callback

    def on_ws_connected(self, transport: picows.WSTransport) -> None:
        transport.send(picows.WSMsgType.TEXT, self.subscribe)

    def on_ws_frame(self, transport: picows.WSTransport, frame: picows.WSFrame) -> None:
        msg_type = frame.msg_type
        if msg_type == picows.WSMsgType.BINARY:
            self.callback(_decode(zlib.decompress(frame.get_payload_as_memoryview(), -15)))
        elif msg_type == picows.WSMsgType.TEXT:
            self.callback(_decode(frame.get_payload_as_bytes()))
        elif msg_type == picows.WSMsgType.CLOSE:
            transport.disconnect()


async def run_floor(url: str, kind: Kind, n: int) -> Run:
    # The floor's callback also sees the one subscribe acknowledgement: data messages are 2..n+1.
    counter = Counter(first_at=2, last_at=n + 1)
    transport, _ = await picows.ws_connect(lambda: FloorListener(SUBSCRIBE[kind], counter), url)
    error = None
    try:
        await asyncio.wait_for(counter.done.wait(), _timeout(n))
    except TimeoutError:
        error = "timeout"
    finally:
        transport.disconnect()
        await asyncio.wait_for(transport.wait_disconnected(), 5)
    return Run.of(counter, error)


async def run_websockets(url: str, kind: Kind, n: int) -> Run:
    """Reference: the same decode loop on the ``websockets`` library (asyncio implementation)."""
    counter = Counter(first_at=2, last_at=n + 1)
    error = None
    async with websockets.asyncio.client.connect(
        url, compression=None, ping_interval=None, max_size=1 << 20
    ) as ws:
        await ws.send(SUBSCRIBE[kind].decode())
        try:
            async with asyncio.timeout(_timeout(n)):
                for _ in range(n + 1):
                    message = await ws.recv()
                    if isinstance(message, bytes):
                        counter(_decode(zlib.decompress(message, -15)))
                    else:
                        counter(_decode(message))
        except TimeoutError:
            error = "timeout"
    return Run.of(counter, error)


async def run_client(url: str, kind: Kind, n: int) -> Run:
    """The product: ``bitmart_ws.WebsocketClient`` with a counting ``update`` handler."""
    from bitmart_ws import WebsocketClient, WsKey

    counter = Counter(first_at=1, last_at=n)
    client = WebsocketClient(ws_urls={WsKey.SPOT_PUBLIC_V1: url, WsKey.FUTURES_PUBLIC_V2: url})
    client.on("update", counter)
    error = None
    try:
        async with asyncio.timeout(_timeout(n)):
            await client.subscribe(TOPICS[kind], kind)
            await counter.done.wait()
    except TimeoutError:
        error = "timeout"
    finally:
        await asyncio.wait_for(client.close_all(), 10)
    return Run.of(counter, error)


class _Sink(asyncio.BufferedProtocol):
    """Counts bytes and nothing else: how fast the blaster and loopback deliver, with no parsing at all."""

    def __init__(self) -> None:
        self.buffer = bytearray(1 << 20)
        self.received = 0
        self.t_first = 0.0
        self.t_end = 0.0
        self.header = asyncio.get_running_loop().create_future()
        self.closed = asyncio.get_running_loop().create_future()
        self.head = b""

    def get_buffer(self, sizehint: int) -> bytearray:
        return self.buffer

    def buffer_updated(self, nbytes: int) -> None:
        if not self.header.done():
            self.head += bytes(self.buffer[:nbytes])
            if b"\r\n\r\n" in self.head:
                self.header.set_result(None)
            return
        if not self.received:
            self.t_first = time.perf_counter()
        self.received += nbytes

    def eof_received(self) -> bool:
        self.t_end = time.perf_counter()
        return False

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.t_end:
            self.t_end = time.perf_counter()
        if not self.closed.done():
            self.closed.set_result(None)


async def run_sink(url: str, kind: Kind, n: int) -> Run:
    """Sender ceiling: frames/s delivered to a reader that only counts bytes (the server closes after N)."""
    parsed = urllib.parse.urlsplit(url)
    loop = asyncio.get_running_loop()
    host, port = parsed.hostname or "127.0.0.1", parsed.port or 80
    transport, sink = await loop.create_connection(_Sink, host, port)
    try:
        key = base64.b64encode(os.urandom(16))
        transport.write(
            b"GET " + f"{parsed.path}?{parsed.query}".encode() + b" HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            b"Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\n"
            b"Sec-WebSocket-Key: " + key + b"\r\n\r\n"
        )
        await asyncio.wait_for(sink.header, 10)
        mask = os.urandom(4)
        payload = SUBSCRIBE[kind]
        transport.write(struct.pack("!BB", 0x81, 0x80 | len(payload)) + mask + _unmask(payload, mask))
        await asyncio.wait_for(sink.closed, _timeout(n))
    finally:
        transport.close()
    return Run(n, sink.t_end - sink.t_first)


# --------------------------------------------------------------------------------------------------
# Orchestration and report
# --------------------------------------------------------------------------------------------------

Contestant = Callable[[str, Kind, int], Awaitable[Run]]


@dataclass(slots=True)
class Series:
    runs: list[Run] = field(default_factory=list)

    @property
    def rates(self) -> list[float]:
        return [r.rate for r in self.runs if r.error is None and r.rate > 0]

    @property
    def median(self) -> float:
        return statistics.median(self.rates) if self.rates else 0.0

    @property
    def best(self) -> float:
        return max(self.rates, default=0.0)

    @property
    def errors(self) -> list[str]:
        return [r.error for r in self.runs if r.error is not None]


def client_available() -> str | None:
    """``None`` when ``bitmart_ws.WebsocketClient`` can be imported, else why not."""
    try:
        package = importlib.import_module("bitmart_ws")
    except ImportError as exc:
        return f"bitmart_ws cannot be imported ({exc})"
    if not hasattr(package, "WebsocketClient") or not hasattr(package, "WsKey"):
        return "bitmart_ws does not export WebsocketClient and WsKey yet"
    return None


async def measure_once(contestant: Contestant, url: str, kind: Kind, n: int) -> Run:
    gc.collect()
    try:
        return await contestant(url, kind, n)
    except Exception as exc:  # a failing contestant is reported in the table, the others still run
        return Run(0, 0.0, f"{type(exc).__name__}: {exc}")


def _fmt(rate: float) -> str:
    return f"{rate:,.0f}" if rate else "-"


async def bench(args: argparse.Namespace, blaster: Blaster) -> int:
    n_of: dict[Kind, int] = {"spot": args.spot_n, "futures": args.futures_n}
    missing = None if args.skip_client else client_available()
    contestants: dict[str, Contestant] = {"floor": run_floor}
    if not args.skip_client and missing is None:
        contestants["client"] = run_client
    if not args.skip_reference:
        contestants["websockets"] = run_websockets
    contestants["sink"] = run_sink
    # The reference library is several times slower: give it fewer frames to keep the run short.
    scale = {"floor": 1.0, "client": 1.0, "websockets": args.reference_fraction, "sink": 3.0}

    def n_for(name: str, kind: Kind) -> int:
        return max(1000, int(n_of[kind] * scale[name]))

    # Warm-up: imports, first connections, allocator; not recorded.
    for kind in KINDS:
        for name, contestant in contestants.items():
            await measure_once(contestant, blaster.url(5000, close=name == "sink"), kind, 5000)

    results: dict[tuple[Kind, str], Series] = {(k, c): Series() for k in KINDS for c in contestants}
    started = time.perf_counter()
    for round_no in range(args.rounds):
        line = [f"round {round_no + 1}/{args.rounds}:"]
        for kind in KINDS:
            names = list(contestants)
            if round_no % 2 and "client" in names:  # alternate floor and client: drift hits both
                names[0], names[1] = names[1], names[0]
            for name in names:
                n = n_for(name, kind)
                run = await measure_once(contestants[name], blaster.url(n, close=name == "sink"), kind, n)
                results[kind, name].runs.append(run)
                line.append(f"{kind}/{name}={_fmt(run.rate)}" + (f" [{run.error}]" if run.error else ""))
        print(" ".join(line), flush=True)
    elapsed = time.perf_counter() - started

    print()
    print(
        f"update events per second, median of {args.rounds} rounds "
        f"(N = {n_of['spot']:,} spot / {n_of['futures']:,} futures frames per run, {elapsed:.0f} s)"
    )
    header = f"{'scenario':<16} {'floor msg/s':>12} {'client msg/s':>13} {'ratio':>6} {'target':>7}  result"
    print(header)
    print("-" * len(header))
    failed = False
    for kind in KINDS:
        floor = results[kind, "floor"]
        if "client" in contestants:
            client = results[kind, "client"]
            ratio = client.median / floor.median if floor.median else 0.0
            passed = ratio >= TARGETS[kind] and not client.errors
            failed |= not passed
            verdict = "PASS" if passed else "FAIL"
            if client.errors:
                verdict += f" ({len(client.errors)} failed runs: {client.errors[0]})"
            print(
                f"{kind + ' ticker':<16} {_fmt(floor.median):>12} {_fmt(client.median):>13} "
                f"{ratio:>6.2f} {'>= ' + format(TARGETS[kind], '.2f'):>7}  {verdict}"
            )
        else:
            failed = True
            print(f"{kind + ' ticker':<16} {_fmt(floor.median):>12} {'n/a':>13} {'':>6} {'':>7}  NOT RUN")
    print()
    print("reference rows (same rounds)")
    for kind in KINDS:
        floor = results[kind, "floor"]
        rows: list[tuple[str, float, list[str]]] = [("floor (best run)", floor.best, [])]
        if "client" in contestants:
            rows.append(("client (best run)", results[kind, "client"].best, []))
        if "websockets" in contestants:
            ws = results[kind, "websockets"]
            rows.append(("websockets lib, same decode loop", ws.median, ws.errors))
        sink = results[kind, "sink"]
        rows.append(("sender ceiling (byte-counting reader)", sink.median, sink.errors))
        for label, rate, errors in rows:
            vs = f"{rate / floor.median:6.2f}x floor" if floor.median and rate else ""
            err = f"  ({len(errors)} failed: {errors[0]})" if errors else ""
            print(f"  {kind + ' ' + label:<46} {_fmt(rate):>12} msg/s  {vs}{err}")
        print(f"  {kind + ' floor quoted in issue 3':<46} {ISSUE_FLOOR[kind]:>12,} msg/s")
        if "client" in contestants:
            pairs = [
                c.rate / f.rate
                for f, c in zip(floor.runs, results[kind, "client"].runs, strict=True)
                if f.rate and c.rate and f.error is None and c.error is None
            ]
            if pairs:
                print(
                    f"  {kind + ' client/floor, round by round':<46} "
                    + " ".join(f"{p:.2f}" for p in pairs)
                    + f"  (median {statistics.median(pairs):.2f})"
                )
    if missing is not None:
        print()
        print(f"client rows not run: {missing}")
    if floor_errors := [e for k in KINDS for e in results[k, "floor"].errors]:
        print(f"floor errors: {floor_errors}")
        return 2
    return 1 if (failed and args.check) else 0


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rounds", type=int, default=5, help="rounds of floor/client runs (default 5)")
    parser.add_argument("--spot-n", type=int, default=200_000, help="spot frames per run (default 200000)")
    parser.add_argument(
        "--futures-n", type=int, default=500_000, help="futures frames per run (default 500000)"
    )
    parser.add_argument(
        "--reference-fraction",
        type=float,
        default=0.2,
        help="the websockets reference run gets this fraction of N (default 0.2)",
    )
    parser.add_argument("--quick", action="store_true", help="3 rounds, N/4: a fast smoke run")
    parser.add_argument("--skip-client", action="store_true", help="only the floor and the references")
    parser.add_argument("--skip-reference", action="store_true", help="no websockets reference row")
    parser.add_argument("--no-pin", action="store_true", help="do not pin sender and reader to separate CPUs")
    parser.add_argument("--check", action="store_true", help="exit 1 when a ratio is below its target")
    args = parser.parse_args(argv)
    if args.quick:
        args.rounds = 3
        args.spot_n //= 4
        args.futures_n //= 4
    if args.rounds < 1 or args.spot_n < 2 or args.futures_n < 2:
        parser.error("--rounds must be >= 1 and N >= 2")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    cpus = sorted(os.sched_getaffinity(0))
    pin = not args.no_pin and len(cpus) >= 2
    server_cpu = cpus[-1] if pin else None
    if pin:
        os.sched_setaffinity(0, {cpus[0]})
    print(
        f"python {sys.version.split()[0]}, picows {version('picows')}, msgspec {version('msgspec')}, "
        f"websockets {version('websockets')}; {len(cpus)} CPUs; "
        + (f"reader on CPU {cpus[0]}, sender on CPU {server_cpu}" if pin else "no CPU pinning"),
        flush=True,
    )
    with Blaster(server_cpu) as blaster:
        return asyncio.run(bench(args, blaster))


if __name__ == "__main__":
    sys.exit(main())
