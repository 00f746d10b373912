"""The simulator hook the fan-out relies on: futures book versions are the venue's, as on BitMart."""

from __future__ import annotations

import asyncio
from typing import Any

from bitmart_ws import WebsocketClient
from bitmart_ws.simulator import Simulator, SimulatorConfig

TOPIC = "futures/depthIncrease20:BTCUSDT"


async def test_two_connections_subscribed_at_different_ticks_see_the_same_versions():
    async with Simulator(SimulatorConfig(cadence=0)) as sim:
        seen: list[dict[int, Any]] = [{}, {}]
        caught_up = asyncio.Event()

        def on_update(i: int, message: dict[str, Any]) -> None:
            seen[i][message["data"]["version"]] = message["data"]
            if seen[0] and max(seen[1], default=0) >= max(seen[0]):
                caught_up.set()

        async with WebsocketClient(ws_urls=sim.urls) as a, WebsocketClient(ws_urls=sim.urls) as b:
            for i, client in enumerate((a, b)):
                client.on("update", lambda m, i=i: on_update(i, m))
            await a.subscribe_topics([TOPIC])
            await sim.step(3)
            await b.subscribe_topics([TOPIC])
            caught_up.clear()
            await sim.step(5)
            async with asyncio.timeout(5):
                await caught_up.wait()
        first_b = min(seen[1])
        assert seen[1][first_b]["type"] == "snapshot"
        common = [v for v in seen[1] if v > first_b]
        assert len(common) == 5
        for version in common:  # the same change, the same version, the same timestamp on both
            assert seen[0][version] == seen[1][version]
        versions = sorted(seen[0])
        assert versions == list(range(versions[0], versions[0] + len(versions)))
