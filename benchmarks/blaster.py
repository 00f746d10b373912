"""The benchmark sender: a raw asyncio WebSocket server in its own process that speaks enough BitMart.

It performs the handshake itself, answers BitMart's control messages (subscribe acks of both dialects,
``ping``, login/access), and after the first subscribe of a connection sends frames from a pool
(:mod:`benchmarks.frames`), chosen by the URL's query:

=============  =====================================================================================
``pool=NAME``  which pool (``spot_ticker``, ``futures_book``, ``spot_stamped``...; see frames.py)
``n=N``        how many frames (0: none, an idle connection)
``rate=R``     pace at R frames/s, each stamped with ``time.perf_counter_ns()`` as it is written
               (stamped pools); without it, as fast as the socket takes them
``topics=K``   futures tickers cycling over K contracts (the scaling scenario; ``pool`` is ignored)
``close=1``    close the connection after the last frame
=============  =====================================================================================

Static pools are written whole (all 1,000 frames in one ``write``), so per frame the sender does no
Python work; stamped pools cost one concatenation per frame. The ``sink`` reference row shows how far
above the readers the sender is.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import multiprocessing
import os
import struct
import time
import urllib.parse
from dataclasses import dataclass
from multiprocessing.connection import Connection
from typing import Final

import msgspec

from .frames import (
    BOOK_START_VERSION,
    OP_CLOSE,
    OP_PING,
    OP_PONG,
    OP_TEXT,
    FramePool,
    Pool,
    StampedPool,
    build_pools,
    encode_frame,
    topic_pool,
)

WS_GUID: Final = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
MAX_CLIENT_FRAMES: Final = 100_000  # per connection; clients send a handful (1,000 topics: 50 frames)
MAX_HEAD: Final = 16 * 1024
BATCH: Final = 256  # stamped frames per write when not paced

_decode = msgspec.json.Decoder().decode
_encode = msgspec.json.encode


@dataclass(frozen=True, slots=True)
class Plan:
    """What one connection sends after its first subscribe (from the URL query)."""

    pool: str
    n: int
    rate: float | None
    topics: int | None
    close: bool

    @classmethod
    def of(cls, query: str) -> Plan:
        q = urllib.parse.parse_qs(query)
        rate = q.get("rate")
        topics = q.get("topics")
        return cls(
            pool=q.get("pool", ["spot_ticker"])[0],
            n=int(q.get("n", ["0"])[0]),
            rate=float(rate[0]) if rate else None,
            topics=int(topics[0]) if topics else None,
            close=q.get("close") == ["1"],
        )


def unmask(payload: bytes, mask: bytes) -> bytes:
    size = len(payload)
    if not size:
        return payload
    key = (mask * (size // 4 + 1))[:size]
    return (int.from_bytes(payload, "big") ^ int.from_bytes(key, "big")).to_bytes(size, "big")


class _Session:
    """One client connection: answers control messages, sends its plan after the first subscribe."""

    def __init__(self, writer: asyncio.StreamWriter, pools: dict[str, Pool], plan: Plan) -> None:
        self.writer = writer
        self.pools = pools
        self.plan = plan
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
        op, action = msg.get("op"), msg.get("action")
        if op in ("subscribe", "unsubscribe"):
            for topic in topics:
                self.send(OP_TEXT, _encode({"event": op, "topic": topic}))
        elif op == "login":
            self.send(OP_TEXT, b'{"event":"login"}')
        elif action in ("subscribe", "unsubscribe"):
            for topic in topics:
                reply = {"action": action, "group": topic, "success": True, "request": {"action": action}}
                reply["request"]["args"] = [topic]
                self.send(OP_TEXT, _encode(reply))
        elif action == "ping":
            self.send(OP_TEXT, b'{"group":"System","data":"pong"}')
        elif action == "access":
            self.send(OP_TEXT, b'{"action":"access","success":true}')
        if "subscribe" in (op, action) and self.blast is None and self.plan.n > 0:
            self.blast = asyncio.create_task(self._blast())

    async def _blast(self) -> None:
        plan = self.plan
        pool = topic_pool(plan.topics) if plan.topics else self.pools[plan.pool]
        try:
            if isinstance(pool, FramePool):
                await self._static(pool, plan.n)
            elif plan.rate:
                await self._paced(pool, plan.n, plan.rate)
            else:
                await self._stamped(pool, plan.n)
            if plan.close:
                self.writer.close()
        except (ConnectionError, RuntimeError):
            pass  # the client went away early (timeout, error); nothing to report from here

    async def _static(self, pool: FramePool, n: int) -> None:
        rounds, rest = divmod(n, len(pool))
        view = memoryview(pool.data)
        for _ in range(rounds):
            self.writer.write(view)
            await self.writer.drain()
        if rest:
            self.writer.write(view[: pool.ends[rest - 1]])
            await self.writer.drain()

    async def _stamped(self, pool: StampedPool, n: int) -> None:
        """Book pools: frame ``k`` carries version ``BOOK_START_VERSION + k``."""
        frame, entry = pool.frame, pool.entry
        for start in range(0, n, BATCH):
            stop = min(n, start + BATCH)
            self.writer.write(b"".join([frame(entry(k), BOOK_START_VERSION + k) for k in range(start, stop)]))
            await self.writer.drain()

    async def _paced(self, pool: StampedPool, n: int, rate: float) -> None:
        """``rate`` frames/s, each stamped with the monotonic clock right before it is written."""
        clock = time.perf_counter_ns
        interval = 1e9 / rate
        start = clock()
        sent = 0
        while sent < n:
            due = min(n, int((clock() - start) / interval) + 1)
            while sent < due:
                self.writer.write(pool.frame(pool.entry(sent), clock()))
                sent += 1
            await self.writer.drain()
            ahead = start + sent * interval - clock()
            await asyncio.sleep(max(0.0, ahead / 1e9))


async def _serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, pools: dict[str, Pool]) -> None:
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
        if key is None:
            writer.write(b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
            return
        accept = base64.b64encode(hashlib.sha1(key.encode() + WS_GUID).digest())
        writer.write(
            b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            b"Sec-WebSocket-Accept: " + accept + b"\r\n\r\n"
        )
        writer.transport.set_write_buffer_limits(high=1 << 20)
        session = _Session(writer, pools, Plan.of(url.query))
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
                payload = unmask(payload, mask)
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


async def _server_main(conn: Connection) -> None:
    pools = build_pools()
    server = await asyncio.start_server(lambda r, w: _serve(r, w, pools), "127.0.0.1", 0, limit=MAX_HEAD)
    conn.send(server.sockets[0].getsockname()[1])
    try:
        await asyncio.get_running_loop().run_in_executor(None, conn.recv)  # "stop", or EOFError
    except EOFError:
        pass
    finally:
        server.close()


def server_process(conn: Connection, cpu: int | None) -> None:
    """Entry point of the sender process."""
    if cpu is not None:
        os.sched_setaffinity(0, {cpu})
    asyncio.run(_server_main(conn))


class Blaster:
    """The sender in a child process (``spawn``); a context manager that always stops it."""

    def __init__(self, cpu: int | None) -> None:
        ctx = multiprocessing.get_context("spawn")
        self._conn, child = ctx.Pipe()
        self._proc = ctx.Process(target=server_process, args=(child, cpu), daemon=True, name="blaster")
        self.port = 0

    def __enter__(self) -> Blaster:
        self._proc.start()
        if not self._conn.poll(60):
            self._proc.kill()
            raise RuntimeError("the sender process did not start within 60 s")
        try:
            self.port = int(self._conn.recv())
        except EOFError:
            self._proc.join(5)
            raise RuntimeError(
                f"the sender process died at start (exit code {self._proc.exitcode})"
            ) from None
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

    def url(
        self,
        pool: str,
        n: int,
        *,
        rate: float | None = None,
        topics: int | None = None,
        close: bool = False,
        path: str = "/api",
    ) -> str:
        query = f"protocol=1.1&pool={pool}&n={n}"
        if rate:
            query += f"&rate={rate:g}"
        if topics:
            query += f"&topics={topics}"
        if close:
            query += "&close=1"
        return f"ws://127.0.0.1:{self.port}{path}?{query}"
