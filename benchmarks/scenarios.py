"""Every scenario of ``make bench``: one entry of :data:`SCENARIOS` each.

A scenario is an ``async`` function of a :class:`Ctx` returning :class:`Row` values (each a figure of
ours next to its floor, or a reference figure), run in its own event loop (``asyncio`` or ``uvloop``).
New scenarios (Redis publish against a pipelined redis-py floor) are one more entry: a function in the
pattern of :func:`throughput` and a line in :data:`SCENARIOS`; a typed-stream policy is one line of
:data:`STREAM_SPECS`.
"""

from __future__ import annotations

import asyncio
import base64
import gc
import math
import multiprocessing
import os
import statistics
import struct
import sys
import time
import tracemalloc
import urllib.parse
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from typing import Any, Final, Literal

from .blaster import Blaster, unmask
from .contestants import (
    Callback,
    Latencies,
    Market,
    StreamSpec,
    Tally,
    bare_book_floor,
    book_session,
    client_session,
    counting,
    floor_session,
    stream_session,
    subscribe_frames,
    timing,
)
from .frames import FUTURES_SYMBOL, SPOT_SYMBOL, scaling_symbol

Side = Literal["floor", "client"]
SIDES: Final[tuple[Side, ...]] = ("floor", "client")


@dataclass(frozen=True, slots=True)
class Target:
    """``ratio >= bound`` (ours / floor) or ``value < bound`` (ours alone)."""

    kind: Literal["ratio>=", "ratio<=", "value<"]
    bound: float

    def holds(self, row: Row) -> bool | None:
        if self.kind == "value<":
            return None if row.ours is None else row.ours < self.bound
        ratio = row.ratio
        if ratio is None:
            return None
        return ratio >= self.bound if self.kind == "ratio>=" else ratio <= self.bound

    def __str__(self) -> str:
        return f"{self.kind.removeprefix('ratio').removeprefix('value')} {self.bound:g}"


@dataclass(slots=True)
class Row:
    scenario: str
    metric: str
    unit: str
    ours: float | None
    floor: float | None = None
    target: Target | None = None
    note: str = ""

    @property
    def ratio(self) -> float | None:
        if self.ours is None or not self.floor:
            return None
        return self.ours / self.floor

    @property
    def result(self) -> str:
        if self.target is None:
            return ""
        held = self.target.holds(self)
        return "n/a" if held is None else ("PASS" if held else "MISS")


@dataclass(slots=True)
class Ctx:
    blaster: Blaster
    rounds: int
    scale: float
    quick: bool
    results: list[Row] = field(default_factory=list)  # rows of the scenarios that ran before

    def n(self, default: int, minimum: int = 200) -> int:
        return max(minimum, int(default * self.scale))

    def timeout(self, n: int, slowest: float = 10_000) -> float:
        return 20.0 + n / slowest


@dataclass(frozen=True, slots=True)
class Scenario:
    name: str
    what: str
    run: Callable[[Ctx], Coroutine[Any, Any, list[Row]]]
    loop: Literal["asyncio", "uvloop"] = "asyncio"


# --------------------------------------------------------------------------------------------------
# Helpers
# --------------------------------------------------------------------------------------------------


async def run_side(
    side: Side,
    url: str,
    market: Market,
    topics: list[str],
    callback: Callback,
    done: asyncio.Event,
    within: float,
    after_subscribe: Callable[[], None] | None = None,
) -> str | None:
    """One run of one side; the error text, or ``None``."""
    gc.collect()
    try:
        if side == "floor":
            await floor_session([url], market, [topics], callback, done, within)
        else:
            await client_session(url, market, topics, callback, done, within, after_subscribe=after_subscribe)
    except TimeoutError:
        return "timeout"
    except Exception as exc:  # reported in the table; the other scenarios still run
        return f"{type(exc).__name__}: {exc}"
    return None


def _order(round_no: int) -> tuple[Side, ...]:
    """Alternate which side goes first, so drift on a shared machine hits both."""
    return SIDES if round_no % 2 == 0 else SIDES[::-1]


def _median(values: list[float]) -> float | None:
    return statistics.median(values) if values else None


def rss_kib() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 1024


def _errors(errors: dict[Side, list[str]]) -> str:
    return "; ".join(f"{side}: {len(e)} failed ({e[0]})" for side, e in errors.items() if e)


# --------------------------------------------------------------------------------------------------
# Throughput: update events (and books) per second, wall clock and per CPU-second of this process
# --------------------------------------------------------------------------------------------------


def throughput(
    title: str,
    pool: str,
    market: Market,
    topic: str,
    n: int,
    target: float | None,
    *,
    book: bool = False,
    sink: bool = True,
    stream: StreamSpec | None = None,
) -> Callable[[Ctx], Coroutine[Any, Any, list[Row]]]:
    """Floor and client read the same ``pool`` stream, ``ctx.rounds`` times each, back to back.

    With ``stream``, the client side is an ``async for`` over ``client.stream`` (typed values) and
    the rate counts pushes through the stream (a lossy policy delivers fewer: its own row says how many).
    """

    def callback(tally: Tally) -> Callback:
        return bare_book_floor(market == "spot", tally) if book else counting(tally)

    async def once(ctx: Ctx, side: Side, count: int) -> tuple[Tally, str | None]:
        tally = Tally(count, asyncio.Event())
        url = ctx.blaster.url(pool, count)
        within = ctx.timeout(count)
        if side == "floor" or (stream is None and not book):
            error = await run_side(side, url, market, [topic], callback(tally), tally.done, within)
        elif stream is not None:
            error = await run_client(
                stream_session(url, market, topic, callback(tally), tally, within, spec=stream)
            )
        else:
            error = await run_client(book_session(url, market, topic.partition(":")[2], tally, within))
        if error is None and not tally.ok:
            error = f"invalid book at the end {tally.note}".strip()
        return tally, error

    async def run(ctx: Ctx) -> list[Row]:
        count = ctx.n(n)
        for side in SIDES:  # warm-up: imports, first connections, allocator; not recorded
            await once(ctx, side, min(count, 2000))
        wall: dict[Side, list[float]] = {s: [] for s in SIDES}
        cpu: dict[Side, list[float]] = {s: [] for s in SIDES}
        errors: dict[Side, list[str]] = {s: [] for s in SIDES}
        delivered: list[float] = []
        for round_no in range(ctx.rounds):
            line = []
            for side in _order(round_no):
                tally, error = await once(ctx, side, count)
                if error is None:
                    wall[side].append(tally.rate)
                    cpu[side].append(tally.cpu_rate)
                    if stream is not None and side == "client":
                        delivered.append(tally.delivered / count)
                    line.append(f"{side} {tally.rate:,.0f}/s ({tally.cpu_rate:,.0f}/CPU-s)")
                else:
                    errors[side].append(error)
                    line.append(f"{side} [{error}]")
            print(f"  {title} round {round_no + 1}/{ctx.rounds}: " + ", ".join(line), flush=True)
        floor_cpu, ours_cpu = _median(cpu["floor"]), _median(cpu["client"])
        note = _errors(errors)
        ratio_target = Target("ratio>=", target) if target is not None else None
        unit = "books/s" if book else "msg/s"
        rows = [
            Row(
                title, "per CPU-second", unit.replace("/s", "/CPU-s"), ours_cpu, floor_cpu, ratio_target, note
            ),
            Row(title, "wall clock", unit, _median(wall["client"]), _median(wall["floor"])),
            Row(
                title,
                "CPU s per 100k msgs",
                "CPU-s",
                1e5 / ours_cpu if ours_cpu else None,
                1e5 / floor_cpu if floor_cpu else None,
            ),
        ]
        if stream is not None:
            rows.append(Row(title, "values delivered / pushes", "share", _median(delivered)))
        if sink:
            rate = await sink_rate(ctx, pool, market, topic, count * 3)
            rows.append(Row(title, "sender ceiling (byte sink)", "msg/s", rate, _median(wall["floor"])))
        return rows

    return run


async def run_client(session: Coroutine[Any, Any, None]) -> str | None:
    """One run of a client session of its own kind (a typed stream, a book); the error text, or ``None``."""
    gc.collect()
    try:
        await session
    except TimeoutError:
        return "timeout"
    except Exception as exc:  # reported in the table; the other scenarios still run
        return f"{type(exc).__name__}: {exc}"
    return None


async def sink_rate(ctx: Ctx, pool: str, market: Market, topic: str, n: int) -> float | None:
    """Frames/s the sender delivers to a reader that only counts bytes (the server closes after ``n``)."""
    loop = asyncio.get_running_loop()
    parsed = urllib.parse.urlsplit(ctx.blaster.url(pool, n, close=True))
    header: asyncio.Future[None] = loop.create_future()
    closed: asyncio.Future[None] = loop.create_future()
    marks: list[float] = []

    class Sink(asyncio.BufferedProtocol):
        buffer = bytearray(1 << 20)
        head = b""

        def get_buffer(self, sizehint: int) -> bytearray:
            return self.buffer

        def buffer_updated(self, nbytes: int) -> None:
            if not header.done():
                self.head += bytes(self.buffer[:nbytes])
                if b"\r\n\r\n" in self.head:
                    header.set_result(None)
            elif not marks:
                marks.append(time.perf_counter())

        def connection_lost(self, exc: Exception | None) -> None:
            marks.append(time.perf_counter())
            if not closed.done():
                closed.set_result(None)

    transport, _ = await loop.create_connection(Sink, "127.0.0.1", parsed.port or 80)
    try:
        key = base64.b64encode(os.urandom(16))
        transport.write(
            b"GET " + f"{parsed.path}?{parsed.query}".encode() + b" HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            b"Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\n"
            b"Sec-WebSocket-Key: " + key + b"\r\n\r\n"
        )
        await asyncio.wait_for(header, 10)
        mask = os.urandom(4)
        payload = subscribe_frames(market, [topic])[0]
        transport.write(struct.pack("!BB", 0x81, 0x80 | len(payload)) + mask + unmask(payload, mask))
        await asyncio.wait_for(closed, ctx.timeout(n, 100_000))
    except TimeoutError:
        return None
    finally:
        transport.close()
    return n / (marks[-1] - marks[0]) if len(marks) == 2 and marks[-1] > marks[0] else None


# --------------------------------------------------------------------------------------------------
# Latency: sender's clock in the payload -> the handler, at a paced rate
# --------------------------------------------------------------------------------------------------

LATENCY_RATES: Final = ((1_000, 5.0), (10_000, 2.0))  # msg/s, seconds of sending
LATENCY_SKIP: Final = 200  # the first pushes of a run (connection warm-up) are not counted

Samples = tuple[list[float], int] | str  # (sorted latencies in us, pushes out of order), or the error


def percentile(values: list[float], q: float) -> float:
    """The ``q`` quantile of sorted ``values`` (nearest rank)."""
    return values[min(len(values) - 1, max(0, math.ceil(q * len(values)) - 1))]


def _latency_rows(title: str, rate: int, result: dict[Side, Samples]) -> list[Row]:
    def pct(side: Side, q: float) -> float | None:
        r = result[side]
        return None if isinstance(r, str) else percentile(r[0], q)

    def disorder(side: Side) -> int | None:
        r = result[side]
        return None if isinstance(r, str) else r[1]

    at = f"at {rate:,}/s"
    p99, p999 = (Target("value<", 1000), Target("value<", 2000)) if rate == 1_000 else (None, None)
    errors = "; ".join(f"{s}: {r}" for s, r in result.items() if isinstance(r, str))
    ours = result["client"]
    samples = f"{len(ours[0]):,} samples" if not isinstance(ours, str) else ""
    return [
        Row(title, f"p50 {at}", "us", pct("client", 0.5), pct("floor", 0.5), note=errors),
        Row(title, f"p99 {at}", "us", pct("client", 0.99), pct("floor", 0.99), p99),
        Row(title, f"p99.9 {at}", "us", pct("client", 0.999), pct("floor", 0.999), p999, samples),
        Row(title, f"out of order {at}", "msgs", disorder("client"), disorder("floor"), Target("value<", 1)),
    ]


def latency(
    title: str, pool: str, market: Market, topic: str
) -> Callable[[Ctx], Coroutine[Any, Any, list[Row]]]:
    async def run(ctx: Ctx) -> list[Row]:
        rows: list[Row] = []
        for rate, seconds in LATENCY_RATES:
            count = max(LATENCY_SKIP + 100, int(rate * seconds * min(1.0, ctx.scale)))
            result: dict[Side, Samples] = {}
            for side in _order(rate // 1000):
                lat = Latencies(count, asyncio.Event(), [])
                url = ctx.blaster.url(pool, count, rate=rate)
                callback = timing(market == "spot", lat)
                within = ctx.timeout(count, rate / 2)
                error = await run_side(side, url, market, [topic], callback, lat.done, within)
                values = sorted(v / 1000 for v in lat.values[LATENCY_SKIP:])
                result[side] = (values, lat.disorder) if error is None and values else (error or "no samples")
            summary = ", ".join(f"{s} {'ok' if not isinstance(r, str) else r}" for s, r in result.items())
            print(f"  {title} at {rate:,} msg/s: {summary}", flush=True)
            rows += _latency_rows(title, rate, result)
        return rows

    return run


class Probe:
    """An ``update`` callback that counts, and reads ``read()`` at the counts in ``at`` (or on demand)."""

    def __init__(self, at: set[int], read: Callable[[], tuple[float, ...]]) -> None:
        self.at = at
        self.last = max(at)
        self.read = read
        self.count = 0
        self.readings: list[tuple[float, ...]] = []
        self.done = asyncio.Event()

    def __call__(self, msg: Any) -> None:
        self.count += 1
        if self.count in self.at:
            self.take()
            if self.count == self.last:
                self.done.set()

    def take(self) -> None:
        self.readings.append((self.count, *self.read()))


# --------------------------------------------------------------------------------------------------
# Memory
# --------------------------------------------------------------------------------------------------


async def _footprint(
    open_side: Callable[[], Awaitable[Callable[[], Awaitable[None]]]],
) -> tuple[float, float]:
    """(tracemalloc KiB, RSS KiB) held by what ``open_side`` opens; it returns its closer."""
    gc.collect()
    tracemalloc.start()
    base, rss0 = tracemalloc.get_traced_memory()[0], rss_kib()
    close = await open_side()
    gc.collect()
    traced, rss1 = tracemalloc.get_traced_memory()[0], rss_kib()
    tracemalloc.stop()
    await close()
    return (traced - base) / 1024, rss1 - rss0


def _opener(
    side: Side, urls: list[str], market: Market, topics: list[list[str]]
) -> Callable[[], Awaitable[Callable[[], Awaitable[None]]]]:
    """Opens the side's connections (one per URL, its topics subscribed); returns the closer."""

    async def open_side() -> Callable[[], Awaitable[None]]:
        done = asyncio.Event()
        if side == "floor":
            task = asyncio.create_task(floor_session(urls, market, topics, lambda m: None, done, 600))
            await asyncio.sleep(1.0)  # the floor does not wait for acks: give them time to arrive
        else:
            subscribed = asyncio.Event()
            flat = [t for mine in topics for t in mine]
            task = asyncio.create_task(
                client_session(
                    urls[0], market, flat, lambda m: None, done, 600, after_subscribe=subscribed.set
                )
            )
            await asyncio.wait_for(subscribed.wait(), 60)
            await asyncio.sleep(0.2)

        async def close() -> None:
            done.set()
            await task

        return close

    return open_side


async def memory_idle(ctx: Ctx) -> list[Row]:
    url = ctx.blaster.url("spot_ticker", 0)
    topics = [[f"spot/ticker:{SPOT_SYMBOL}"]]
    out: dict[Side, tuple[float, float]] = {}
    for side in SIDES:
        await _footprint(_opener(side, [url], "spot", topics))  # warm-up: lazy imports, caches
        out[side] = await _footprint(_opener(side, [url], "spot", topics))
    return [
        Row(
            "memory: one idle connection",
            "tracemalloc",
            "KiB",
            out["client"][0],
            out["floor"][0],
            Target("value<", 100),
        ),
        Row("memory: one idle connection", "RSS delta", "KiB", out["client"][1], out["floor"][1]),
    ]


def _simulator_process(conn: Connection, symbols: tuple[str, ...], cpu: int | None) -> None:
    from bitmart_ws.simulator import Simulator, SimulatorConfig

    if cpu is not None:
        os.sched_setaffinity(0, {cpu})

    async def main() -> None:
        async with Simulator(SimulatorConfig(symbols=symbols, cadence=0)) as sim:
            conn.send(dict(sim.urls))
            try:
                await asyncio.get_running_loop().run_in_executor(None, conn.recv)
            except EOFError:
                pass

    asyncio.run(main())


async def memory_topics(ctx: Ctx) -> list[Row]:
    """1,000 spot ticker topics against the simulator (its own process), sharded as the client does."""
    from bitmart_ws import WsKey
    from bitmart_ws.protocol.sharding import default_max_topics

    count = 1000 if not ctx.quick else 60
    symbols = tuple(f"C{i:04d}_USDT" for i in range(count))
    topics = [f"spot/ticker:{s}" for s in symbols]
    per = default_max_topics(WsKey.SPOT_PUBLIC_V1)
    shards = [topics[i : i + per] for i in range(0, count, per)]
    mp = multiprocessing.get_context("spawn")
    parent, child = mp.Pipe()
    cpus = sorted(os.sched_getaffinity(0))
    proc = mp.Process(
        target=_simulator_process, args=(child, symbols, cpus[-1] if len(cpus) > 1 else None), daemon=True
    )
    proc.start()
    try:
        if not parent.poll(60):
            raise RuntimeError("the simulator process did not start within 60 s")
        url = parent.recv()[WsKey.SPOT_PUBLIC_V1.value]
        out = {side: await _footprint(_opener(side, [url] * len(shards), "spot", shards)) for side in SIDES}
    finally:
        parent.send("stop")
        proc.join(10)
        if proc.is_alive():
            proc.kill()
            proc.join(5)
    title = f"memory: {count:,} topics, {len(shards)} connections (simulator)"
    return [
        Row(title, "tracemalloc", "KiB", out["client"][0], out["floor"][0]),
        Row(title, "RSS delta", "KiB", out["client"][1], out["floor"][1]),
    ]


def _heap() -> tuple[float, float]:
    gc.collect()
    return sys.getallocatedblocks(), rss_kib()


async def memory_growth(ctx: Ctx) -> list[Row]:
    """Allocated blocks and RSS over one million futures ticker pushes after a warm-up of 100,000."""
    warm, count = ctx.n(100_000), ctx.n(1_000_000)
    title = f"memory: growth over {count:,} msgs"
    topic = f"futures/ticker:{FUTURES_SYMBOL}"
    out: dict[Side, tuple[float, float]] = {}
    for side in SIDES:
        probe = Probe({warm, warm + count}, _heap)
        url = ctx.blaster.url("futures_ticker", warm + count)
        error = await run_side(side, url, "futures", [topic], probe, probe.done, ctx.timeout(warm + count))
        if error is None and len(probe.readings) == 2:
            (_, blocks0, rss0), (_, blocks1, rss1) = probe.readings
            out[side] = (blocks1 - blocks0, rss1 - rss0)
        print(f"  growth {side}: {out.get(side, error)}", flush=True)
    client, floor = out.get("client"), out.get("floor")
    blocks = Target("value<", 1000)
    return [
        Row(title, "allocated blocks", "blocks", client and client[0], floor and floor[0], blocks),
        Row(title, "RSS", "KiB", client and client[1], floor and floor[1], Target("value<", 1024)),
    ]


# --------------------------------------------------------------------------------------------------
# Scaling: CPU per message with 10, 100 and 1,000 futures ticker topics (sharded)
# --------------------------------------------------------------------------------------------------


async def scaling(ctx: Ctx) -> list[Row]:
    """Client CPU per push from the end of the subscribe to the last push, 10/100/1,000 topics."""
    from bitmart_ws import WsKey
    from bitmart_ws.protocol.sharding import default_max_topics

    per = default_max_topics(WsKey.FUTURES_PUBLIC_V2)
    total = ctx.n(300_000)
    costs: dict[int, float] = {}
    rows: list[Row] = []
    for k in (10, 100, 1000) if not ctx.quick else (10, 200):
        topics = [f"futures/ticker:{scaling_symbol(i)}" for i in range(k)]
        shards = math.ceil(k / per)
        each = total // shards
        probe = Probe({each * shards}, lambda: (time.process_time(),))
        url = ctx.blaster.url("", each, topics=k)
        error = await run_side(
            "client",
            url,
            "futures",
            topics,
            probe,
            probe.done,
            ctx.timeout(total),
            after_subscribe=probe.take,
        )
        if error is None and len(probe.readings) == 2:
            (n0, cpu0), (n1, cpu1) = probe.readings
            if n1 > n0:
                costs[k] = (cpu1 - cpu0) / (n1 - n0) * 1e6
        print(f"  scaling {k} topics over {shards} connection(s): {costs.get(k, error)}", flush=True)
        base = costs.get(min(costs)) if costs else None
        target = Target("ratio<=", 1.10) if costs and k > min(costs) else None
        metric = f"{k:,} topics, {shards} conn."
        rows.append(Row("scaling: CPU per message", metric, "us", costs.get(k), base, target, error or ""))
    return rows


# --------------------------------------------------------------------------------------------------
# The registry
# --------------------------------------------------------------------------------------------------

SPOT_TICKER: Final = f"spot/ticker:{SPOT_SYMBOL}"
FUTURES_TICKER: Final = f"futures/ticker:{FUTURES_SYMBOL}"


def _registry() -> dict[str, Scenario]:
    spot_depth, fut_depth = f"spot/depth20:{SPOT_SYMBOL}", f"futures/depth20:{FUTURES_SYMBOL}"
    spot_book = f"spot/depth/increase100:{SPOT_SYMBOL}"
    fut_book = f"futures/depthIncrease50:{FUTURES_SYMBOL}"
    scenarios = [
        Scenario("spot-ticker", "update events, spot ticker (binary, raw deflate)",
                 throughput("spot ticker", "spot_ticker", "spot", SPOT_TICKER, 200_000, 0.90)),
        Scenario("futures-ticker", "update events, futures ticker (text)",
                 throughput("futures ticker", "futures_ticker", "futures", FUTURES_TICKER, 400_000, 0.85)),
        Scenario("spot-depth20", "update events, spot depth20 (~1 KB of JSON, deflated)",
                 throughput("spot depth20", "spot_depth20", "spot", spot_depth, 100_000, 0.90)),
        Scenario("futures-depth20", "update events, futures depth20 (one side per push)",
                 throughput("futures depth20", "futures_depth20", "futures", fut_depth, 150_000, 0.85)),
        Scenario("spot-book", "order book end to end: spot depth/increase100 through client.order_book",
                 throughput("spot book increase100", "spot_book", "spot", spot_book, 60_000, 0.80,
                            book=True, sink=False)),
        Scenario("futures-book", "order book end to end: futures depthIncrease50 through client.order_book",
                 throughput("futures book depthIncrease50", "futures_book", "futures", fut_book, 80_000, 0.80,
                            book=True, sink=False)),
        Scenario("latency-spot", "sender -> handler latency, spot ticker, paced",
                 latency("latency spot ticker", "spot_stamped", "spot", SPOT_TICKER)),
        Scenario("latency-futures", "sender -> handler latency, futures ticker, paced",
                 latency("latency futures ticker", "futures_stamped", "futures", FUTURES_TICKER)),
        Scenario("memory-idle", "memory of one idle connection", memory_idle),
        Scenario("memory-topics", "memory of 1,000 subscribed topics (simulator, sharded)", memory_topics),
        Scenario("memory-growth", "growth over one million messages after warm-up", memory_growth),
        Scenario("scaling", "CPU per message with 10, 100, 1,000 topics (sharded)", scaling),
        Scenario("uvloop-spot-ticker", "spot ticker on uvloop (optional dev dependency)",
                 throughput("spot ticker (uvloop)", "spot_ticker", "spot", SPOT_TICKER, 200_000, 0.90,
                            sink=False), "uvloop"),
        Scenario("uvloop-futures-ticker", "futures ticker on uvloop (optional dev dependency)",
                 throughput("futures ticker (uvloop)", "futures_ticker", "futures", FUTURES_TICKER, 400_000,
                            0.85, sink=False), "uvloop"),
        *_stream_scenarios(),
        # Redis publish goes here.
    ]  # fmt: skip
    return {s.name: s for s in scenarios}


# Typed `async for` streams: one spec per overflow policy (fail with a queue no burst fills, block with
# one that bursts do fill, the two lossy ones with the default size), float numbers; plus fail with the
# default exact Decimal numbers, to show what exactness costs.
STREAM_SPECS: Final = (
    ("fail", StreamSpec("fail", 1_000_000)),
    ("block", StreamSpec("block", 1_000)),
    ("drop-oldest", StreamSpec("drop_oldest", 10_000)),
    ("keep-latest", StreamSpec("keep_latest", 10_000)),
    ("fail-decimal", StreamSpec("fail", 1_000_000, "decimal")),
)


def _stream_scenarios() -> list[Scenario]:
    out = []
    tickers: tuple[tuple[Market, str, str, int], ...] = (
        ("spot", "spot_ticker", SPOT_TICKER, 100_000),
        ("futures", "futures_ticker", FUTURES_TICKER, 200_000),
    )
    for market, pool, topic, n in tickers:
        for name, spec in STREAM_SPECS:
            title = f"stream {market} ticker, {spec.overflow} ({spec.numbers}, maxsize {spec.maxsize:,})"
            what = f"typed async for over client.stream, {market} ticker, overflow={spec.overflow}"
            run = throughput(title, pool, market, topic, n, 0.60, sink=False, stream=spec)
            out.append(Scenario(f"stream-{market}-{name}", what, run))
    return out


SCENARIOS: Final = _registry()
