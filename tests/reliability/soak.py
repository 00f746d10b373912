"""Soak: many reconnect cycles and many messages through one client, with the process's resources sampled.

First, each cycle drops every connection of a client holding public and private topics on the four keys (three
shards where ``max_topics`` forces them) and waits until the simulator holds every topic again on live,
authenticated sessions; the simulator's clocks push all the while. At every sample (taken when the client
has just recovered, so that nothing is in flight) it records memory (RSS; traced Python memory with
``tracemalloc`` when asked), live objects, tasks, live timers (``loop._scheduled`` minus cancelled
handles), open file descriptors (``/proc/self/fd``) and threads. Then a peer writes one prebuilt
spot push as fast as it can to a second client until it got ``messages`` updates, sampled likewise.

``python -m tests.reliability.soak`` (``make soak``): ``SOAK_CYCLES`` (default 2000) reconnect cycles and
at least ``SOAK_MESSAGES`` (default 1,000,000) updates, ``SOAK_TRACEMALLOC=1`` to trace memory (slower).
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import os
import sys
import threading
import time
import tracemalloc
from dataclasses import dataclass, field
from typing import Any

from bitmart_ws import WebsocketClient
from bitmart_ws.simulator import DEFAULT_ACCOUNT, Simulator, SimulatorConfig
from bitmart_ws.simulator.spot import deflate

__all__ = ["Sample", "SoakReport", "live_timers", "main", "resources", "soak"]

TOPICS = [
    "spot/ticker:BTC_USDT",
    "spot/ticker:ETH_USDT",
    "spot/depth5:BTC_USDT",
    "spot/bookTicker:BTC_USDT",
    "spot/depth/increase100:ETH_USDT",
    "spot/trade:BTC_USDT",
    "spot/kline1m:ETH_USDT",
    "futures/ticker:BTCUSDT",
    "futures/depth5:BTCUSDT",
    "futures/bookticker:ETHUSDT",
    "futures/depthIncrease5:ETHUSDT",
    "spot/user/order:BTC_USDT",
    "futures/position",
]
OPTIONS: dict[str, Any] = {
    "ping_interval": 0.5,
    "pong_timeout": 0.5,
    "reconnect_delay": 0.005,
    "reconnect_max_delay": 0.02,
    "ack_timeout": 2.0,
    "connect_timeout": 2.0,
    "connect_rate": (10_000, 1.0),  # the soak reconnects as fast as the machine allows
    "max_topics": {"spotPublicV1": 3, "futuresPublicV2": 3},
    "api_key": DEFAULT_ACCOUNT.api_key,
    "api_secret": DEFAULT_ACCOUNT.api_secret,
    "api_memo": DEFAULT_ACCOUNT.api_memo,
}
KEYS = ["spotPublicV1", "spotPrivateV1", "futuresPublicV2", "futuresPrivateV2"]


def live_timers(loop: asyncio.AbstractEventLoop) -> list[asyncio.TimerHandle]:
    """The loop's scheduled timers that are not cancelled (cancelled ones linger until popped)."""
    scheduled: list[asyncio.TimerHandle] = getattr(loop, "_scheduled", [])
    return [h for h in scheduled if not h.cancelled()]


def resources() -> dict[str, int]:
    """Tasks, live timers, open file descriptors and threads of this process, now."""
    loop = asyncio.get_running_loop()
    return {
        "tasks": len(asyncio.all_tasks()),
        "timers": len(live_timers(loop)),
        "fds": len(os.listdir("/proc/self/fd")),
        "threads": threading.active_count(),
    }


def _rss_kib() -> int:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") // 1024


@dataclass(frozen=True, slots=True)
class Sample:
    elapsed_s: float
    cycles: int
    messages: int
    rss_kib: int
    traced_kib: int
    objects: int
    tasks: int
    timers: int
    fds: int
    threads: int


@dataclass
class SoakReport:
    samples: list[Sample] = field(default_factory=list)
    cycles: int = 0
    messages: int = 0
    elapsed_s: float = 0.0

    def table(self) -> str:
        head = f"{'s':>7}{'cycles':>8}{'messages':>11}{'rss KiB':>9}{'traced KiB':>11}{'objects':>9}"
        head += f"{'tasks':>7}{'timers':>8}{'fds':>5}{'threads':>9}"
        rows = [
            f"{s.elapsed_s:>7.1f}{s.cycles:>8}{s.messages:>11}{s.rss_kib:>9}{s.traced_kib:>11}{s.objects:>9}"
            f"{s.tasks:>7}{s.timers:>8}{s.fds:>5}{s.threads:>9}"
            for s in self.samples
        ]
        rate = self.messages / self.elapsed_s if self.elapsed_s else 0.0
        foot = (
            f"{self.cycles} reconnect cycles, {self.messages} updates in {self.elapsed_s:.1f} s "
            f"({rate:,.0f} updates/s, {self.cycles / max(self.elapsed_s, 1e-9):.1f} cycles/s)"
        )
        return "\n".join([head, *rows, foot])


class _Sampler:
    def __init__(self, report: SoakReport, trace: bool) -> None:
        self.report = report
        self.trace = trace
        self.started = time.monotonic()

    def take(self) -> None:
        gc.collect()
        traced = tracemalloc.get_traced_memory()[0] // 1024 if self.trace else 0
        report = self.report
        report.samples.append(
            Sample(
                time.monotonic() - self.started,
                report.cycles,
                report.messages,
                _rss_kib(),
                traced,
                len(gc.get_objects()),
                **resources(),
            )
        )


async def _cycles(report: SoakReport, sampler: _Sampler, cycles: int, samples: int) -> None:
    """Drop every connection ``cycles`` times, each time until the client holds every topic again."""
    config = SimulatorConfig(cadence=0.01, account_interval=0.05)
    async with Simulator(config) as sim, WebsocketClient(ws_urls=sim.urls, **OPTIONS) as client:

        def on_update(_msg: dict[str, Any]) -> None:
            report.messages += 1

        client.on("update", on_update)
        await client.subscribe_topics(TOPICS)
        every = max(1, cycles // samples)
        while report.cycles < cycles:
            old = {s.id for s in sim.sessions}

            def recovered(old: set[int] = old) -> bool:
                conns = client.connections()
                sessions = sim.sessions
                return (
                    len(sessions) == len(conns)
                    and not old & {s.id for s in sessions}
                    and all(c.state.value == "live" for c in conns)
                    and sum(len(s.topics) for s in sessions) == len(TOPICS)
                )

            await sim.drop_connections()
            async with asyncio.timeout(10.0):
                while not recovered():  # simulator changes wake the wait; client-side ones are polled
                    with contextlib.suppress(TimeoutError):
                        await sim.wait_for(recovered, 0.005)
            report.cycles += 1
            if report.cycles % every == 0:
                sim._venue.received.clear()  # the simulator's record of client frames, a test aid
                sampler.take()


async def _messages(report: SoakReport, sampler: _Sampler, messages: int, samples: int) -> None:
    """``messages`` spot pushes from a peer that writes one prebuilt deflated frame as fast as it can."""
    import websockets

    frame = deflate(b'{"table":"spot/ticker","data":[{"symbol":"BTC_USDT","last_price":"1.0"}]}')
    start = report.messages
    every = max(1, messages // samples)
    due = asyncio.Event()
    done = asyncio.Event()

    def on_update(_msg: dict[str, Any]) -> None:
        report.messages += 1
        n = report.messages - start
        if n % every == 0:
            due.set()
        if n >= messages:
            done.set()

    async def blast(ws: Any) -> None:
        try:
            async for raw in ws:
                if raw == "ping":
                    await ws.send("pong")
                elif '"subscribe"' in raw:
                    await ws.send('{"event":"subscribe","topic":"spot/ticker:BTC_USDT"}')
                    for _ in range(messages):
                        await ws.send(frame)
        except websockets.ConnectionClosed:
            pass

    async with websockets.serve(blast, "127.0.0.1", 0, compression=None) as server:
        port = next(iter(server.sockets)).getsockname()[1]
        options = {**OPTIONS, "ping_interval": 5.0, "pong_timeout": 5.0}
        url = f"ws://127.0.0.1:{port}/api?protocol=1.1"
        async with WebsocketClient(ws_urls={"spotPublicV1": url}, **options) as client:
            client.on("update", on_update)
            await client.subscribe("spot/ticker:BTC_USDT", "spot")
            while not done.is_set():
                await due.wait()
                due.clear()
                sampler.take()


async def soak(cycles: int, messages: int, samples: int = 10, *, trace: bool = False) -> SoakReport:
    """``cycles`` reconnect cycles against the simulator, then ``messages`` updates at full speed."""
    report = SoakReport()
    if trace:
        tracemalloc.start()
    sampler = _Sampler(report, trace)
    try:
        await _cycles(report, sampler, cycles, samples)
        await _messages(report, sampler, messages, samples)
    finally:
        if trace:
            tracemalloc.stop()
    report.elapsed_s = time.monotonic() - sampler.started
    return report


def main() -> None:
    cycles = int(os.environ.get("SOAK_CYCLES", "2000"))
    messages = int(os.environ.get("SOAK_MESSAGES", "1000000"))
    trace = os.environ.get("SOAK_TRACEMALLOC", "") not in ("", "0")
    sys.stderr.write(f"soak: {cycles} reconnect cycles, {messages} updates\n")
    report = asyncio.run(soak(cycles, messages, trace=trace))
    sys.stdout.write(report.table() + "\n")


if __name__ == "__main__":
    main()
