"""The short soak of ``make test``: resources flat after warm-up; close and close_all leave nothing behind."""

from __future__ import annotations

import asyncio
import os
from typing import Any

import pytest

from bitmart_ws import InvalidState, WebsocketClient
from bitmart_ws._connection import Connection
from bitmart_ws.simulator import Simulator, SimulatorConfig

from .soak import OPTIONS, TOPICS, live_timers, resources, soak


async def test_short_soak_is_flat_after_warm_up() -> None:
    cycles = int(os.environ.get("SOAK_SHORT_CYCLES", "60"))
    report = await soak(cycles, messages=20_000, samples=6, trace=True)
    assert report.cycles == cycles and report.messages >= 20_000
    reconnecting = [s for s in report.samples if s.messages < report.samples[-1].messages and s.tasks > 3]
    warm, later = reconnecting[:2], reconnecting[2:]
    assert later, report.table()
    for name in ("tasks", "timers", "fds", "threads"):
        # A sample is an instant: a connection may be between a retry timer and its ping timer, say.
        # A leak grows with the ~50 cycles after warm-up; a margin of 3 only absorbs that jitter.
        ceiling = max(getattr(s, name) for s in warm) + 3
        assert all(getattr(s, name) <= ceiling for s in later), (name, report.table())
    traced = [s.traced_kib for s in reconnecting]
    assert max(traced[2:]) - traced[1] < 512, report.table()  # KiB over ~50 reconnect cycles
    objects = [s.objects for s in reconnecting]
    assert max(objects[2:]) < objects[1] * 1.02, report.table()


def _client_leftovers(loop: asyncio.AbstractEventLoop, before: set[asyncio.Task[Any]]) -> dict[str, Any]:
    timers = [
        h
        for h in live_timers(loop)
        if isinstance(getattr(getattr(h, "_callback", None), "__self__", None), Connection)
    ]
    tasks = [t for t in asyncio.all_tasks() - before if t is not asyncio.current_task() and not t.done()]
    return {"timers": timers, "tasks": tasks}


@pytest.mark.parametrize("how", ["close_all", "close_each_key"])
@pytest.mark.parametrize("when", ["live", "mid_request", "reconnecting"])
async def test_close_leaves_no_task_timer_thread_or_socket(how: str, when: str) -> None:
    config = SimulatorConfig(cadence=0.02, account_interval=0.1)
    async with Simulator(config) as sim:
        loop = asyncio.get_running_loop()
        await asyncio.sleep(0)
        before_tasks = set(asyncio.all_tasks())
        before = resources()
        client = WebsocketClient(ws_urls=sim.urls, **OPTIONS)
        await client.subscribe_topics(TOPICS)
        pending = None
        if when == "mid_request":
            sim.delay_acks(5.0)
            pending = client.unsubscribe_topics(TOPICS[:4])  # in flight, frames paced and unanswered
            client.subscribe("spot/ticker:BTC_USDT", "spot", is_private=True)
        elif when == "reconnecting":
            sim.refuse_upgrades(503)
            await sim.drop_connections()
        if how == "close_all":
            await client.close_all()
        else:
            for key in ("spotPublicV1", "spotPrivateV1", "futuresPublicV2", "futuresPrivateV2"):
                await client.close(key)
        if pending is not None:
            with pytest.raises(InvalidState):
                await pending
        sim.delay_acks(0)
        sim.clear_refusals()
        await sim.wait_for(lambda: not sim.sessions)
        for _ in range(3):
            await asyncio.sleep(0)
        assert _client_leftovers(loop, before_tasks) == {"timers": [], "tasks": []}
        assert not client.connections()
        after = resources()
        assert after["fds"] <= before["fds"] and after["threads"] <= before["threads"]
        assert after["tasks"] <= before["tasks"]
