"""The short chaos run of ``make test`` (every fault kind at least once) and the sequence numbering it relies on."""

from __future__ import annotations

import asyncio
import os
import random
from typing import Any

from bitmart_ws import WebsocketClient
from bitmart_ws.simulator import Simulator, SimulatorConfig

from .chaos import FAULTS, run_chaos


async def test_chaos_short_run() -> None:
    # A fresh seed each run widens the coverage over time; a failure names the seed (CHAOS_SEED replays it).
    seed = int(os.environ.get("CHAOS_SEED") or random.SystemRandom().randrange(2**32))
    faults = int(os.environ.get("CHAOS_SHORT_FAULTS", str(len(FAULTS) + 3)))
    report = await run_chaos(seed, faults)
    assert set(report.faults) == set(FAULTS)  # the first pass visits every kind
    assert report.recoveries == faults + 1  # the start, then one per fault
    assert report.lost == report.duplicated == report.reordered == 0
    assert report.pushes > 100 and report.churn_requests >= faults


async def test_sequence_pushes_number_each_topic_per_session() -> None:
    config = SimulatorConfig(cadence=0.02, sequence_pushes=True)
    topics = ["spot/ticker:BTC_USDT", "futures/ticker:BTCUSDT", "spot/depth/increase100:BTC_USDT"]
    seen: dict[tuple[int, str], list[int]] = {}
    enough = asyncio.Event()

    def on_update(msg: dict[str, Any]) -> None:
        seq = msg["seq"]
        seen.setdefault((seq["session"], seq["topic"]), []).append(seq["n"])
        if len(seen) == 3 and all(len(ns) >= 5 for ns in seen.values()):
            enough.set()

    async with Simulator(config) as sim, WebsocketClient(ws_urls=sim.urls) as client:
        client.on("update", on_update)
        await client.subscribe_topics(topics)
        async with asyncio.timeout(10):
            await enough.wait()
        pushed = {(s.id, t): n for s in sim.sessions for t, n in s.pushed}
    assert {t for _, t in seen} == set(topics) and set(seen) <= set(pushed)
    for key, ns in seen.items():
        assert ns == list(range(1, len(ns) + 1)) and len(ns) <= pushed[key]
