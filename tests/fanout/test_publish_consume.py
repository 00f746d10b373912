"""Publisher and consumers in one process, against the simulator and a real redis-server."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from bitmart_ws import WebsocketClient
from bitmart_ws.fanout import EntryKind, Publisher, RedisFeed, RedisSink, parse_since
from bitmart_ws.simulator import Simulator, SimulatorConfig

from .helpers import BOOK, FAST_CLIENT, assert_contiguous, collect, versions
from .redis_server import RedisServer

TICKER = "spot/ticker:BTC_USDT"


async def test_full_speed_every_version_once_in_order_and_the_same_json_as_the_update_event(
    redis_server: RedisServer,
):
    seen_live: list[dict[str, Any]] = []
    async with (
        Simulator(SimulatorConfig(cadence=0.002)) as sim,
        WebsocketClient(ws_urls=sim.urls, **FAST_CLIENT) as client,
        RedisFeed(redis_server.url) as feed,
    ):
        client.on("update", lambda m: seen_live.append(m) if m.get("group") == BOOK else None)
        reader = asyncio.create_task(collect(feed, [BOOK, TICKER], lambda got: len(versions_of(got)) >= 1500))
        await asyncio.sleep(0)  # the reader starts "from now" before anything is published
        async with Publisher(client, [BOOK, TICKER], RedisSink(redis_server.url), snapshot_every=0) as pub:
            got = await reader
        stats = pub.stats
    vs = versions_of(got)
    assert_contiguous(vs)
    assert stats.dropped == 0 and stats.received >= len(vs)
    by_version = {m["data"]["version"]: m for m in seen_live}
    for entry in got:
        if entry.topic == BOOK:  # the entry is the message exactly as the update event delivered it
            assert entry.message() == by_version[entry.message()["data"]["version"]]
    assert any(e.topic == TICKER for e in got)
    assert all(e.kind is EntryKind.UPDATE and e.received_ms > 0 for e in got)


def versions_of(entries: list[Any]) -> list[int]:
    return versions([e for e in entries if e.topic == BOOK])


async def test_a_consumer_joining_late_builds_the_simulators_book_from_redis_alone(redis_server: RedisServer):
    async with (
        Simulator(SimulatorConfig(cadence=0)) as sim,
        WebsocketClient(ws_urls=sim.urls, **FAST_CLIENT) as client,
        RedisFeed(redis_server.url) as feed,
    ):
        async with Publisher(client, [BOOK], RedisSink(redis_server.url), snapshot_every=0.05) as pub:
            await sim.step(30)
            assert await pub.flush(5)
            # late: the subscription's snapshot is far behind; the publisher's own snapshots are recent
            book = await feed.order_book(BOOK, timeout=5)
            try:
                await sim.step(10)
                target = client.subscribed_topics("futuresPublicV2")  # still subscribed
                assert BOOK in target
                mine = await client.order_book("futures", "BTCUSDT", depth=20)
                async with asyncio.timeout(5):
                    while book.version != mine.version:
                        await book.changed()
                theirs, local = book.snapshot(), mine.snapshot()
                assert theirs.valid and theirs.version == local.version
                assert (theirs.bids, theirs.asks) == (local.bids, local.asks)
                market = sim.market("BTCUSDT", "futures")  # type: ignore[arg-type]
                assert [float(p) for p, _ in theirs.asks] == [
                    float(market.instrument.price(p)) for p, _ in market.top("asks", 20)
                ]
                await mine.close()
            finally:
                await book.close()


@pytest.mark.parametrize(
    ("text", "expected"),
    [("1700000000000-5", "1700000000000-5"), ("1700000000", f"1699999999999-{2**64 - 1}"), ("0", "0-0")],
)
def test_since_takes_an_entry_id_or_a_time(text: str, expected: str):
    assert parse_since(text) == expected
    assert parse_since("2023-11-14T22:13:20+00:00") == f"1699999999999-{2**64 - 1}"
