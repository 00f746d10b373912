"""Redis restarted mid-run; a consumer-group worker killed mid-batch."""

from __future__ import annotations

import asyncio
from typing import Any

from bitmart_ws import WebsocketClient
from bitmart_ws.fanout import FeedEntry, Publisher, RedisFeed, RedisSink
from bitmart_ws.simulator import Simulator, SimulatorConfig

from .helpers import BOOK, FAST_CLIENT, assert_contiguous, versions, wait_until
from .redis_server import RedisServer


async def test_redis_restarted_mid_run_nothing_lost(redis_server: RedisServer):
    events: list[str] = []
    got: list[FeedEntry] = []
    enough = asyncio.Event()
    async with (
        Simulator(SimulatorConfig(cadence=0.005)) as sim,
        WebsocketClient(ws_urls=sim.urls, **FAST_CLIENT) as client,
        RedisFeed(redis_server.url, block=0.2) as feed,
    ):

        async def read() -> None:
            async for entry in feed.messages([BOOK], since="0-0"):
                got.append(entry)
                if len(got) >= 600:
                    enough.set()

        sink = RedisSink(redis_server.url)
        async with Publisher(client, [BOOK], sink, on_event=lambda n, p: events.append(n)) as pub:
            reader = asyncio.create_task(read())
            async with asyncio.timeout(20):
                await wait_until(lambda: len(got) >= 100)
                # writes pause, the reader catches up (entries kept only in a killed redis are not the
                # publisher's to keep), then redis dies while the publisher is still receiving
                await feed.redis.client_pause(60_000, all=False)
                newest: Any = await feed.redis.xrevrange(feed.key(BOOK), count=1)
                last = newest[0][0].decode()
                await wait_until(lambda: got[-1].entry_id == last)
                redis_server.kill()
                await wait_until(lambda: not pub.stats.sink_up and pub.stats.buffered >= 50)
                redis_server.start()
                await enough.wait()
            reader.cancel()
            await asyncio.wait({reader})
            stats = pub.stats
    assert "sink_down" in events and "sink_up" in events
    assert stats.dropped == 0
    assert_contiguous(versions(got))


async def test_consumer_group_a_worker_killed_mid_batch_its_entries_are_claimed(redis_server: RedisServer):
    async with RedisFeed(redis_server.url) as feed:
        key = feed.key(BOOK)
        for v in range(1, 101):
            await feed.redis.xadd(key, {"msg": f'{{"v":{v}}}', "recv": "1", "id": f"{v}:", "kind": "u"})
        w1, w2 = feed.group(BOOK, "g", "w1", claim_idle=0.2), feed.group(BOOK, "g", "w2", claim_idle=0.2)
        await w1.create()
        handled: dict[str, list[Any]] = {"w1": [], "w2": []}
        batch = await w1.read(30)
        assert len(batch) == 30
        await w1.ack(batch[:10])  # handled 10, then dies with 20 pending
        handled["w1"] += [e.message()["v"] for e in batch[:10]]
        async with asyncio.timeout(10):
            while sum(map(len, handled.values())) < 100:
                entries = await w2.read(25, block=0.1)
                handled["w2"] += [e.message()["v"] for e in entries]
                await w2.ack(entries)
        pending: Any = await feed.redis.xpending(key, "g")
    everything = sorted(handled["w1"] + handled["w2"])
    assert everything == list(range(1, 101))  # each entry handled once: the dead worker's 20 re-delivered
    assert pending["pending"] == 0
