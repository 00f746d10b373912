"""Books fed by the simulator, with injected gaps, stale versions, stalls and reconnects: whenever a
book says it is valid it equals the simulator's own book, level by level.

The simulator runs without a clock (``cadence=0``): each ``sim.step()`` moves the market once and every
connection pushes it, so the simulator's book at that moment is the book at the version just pushed.
"""

from __future__ import annotations

import asyncio
import json
import zlib
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from websockets.asyncio.client import connect

from bitmart_ws import WebsocketClient
from bitmart_ws.book import BookSync, Invalidated, Reason, Restored, Resubscribe, SendRequest
from bitmart_ws.models import Decoder, Update
from bitmart_ws.protocol import Market
from bitmart_ws.simulator import Simulator, SimulatorConfig

SPOT = "spot/depth/increase100:BTC_USDT"
FUTURES = "futures/depthIncrease20:BTCUSDT"
DEPTH = {SPOT: 100, FUTURES: 20}


def sim_view(sim: Simulator, topic: str) -> tuple[Any, Any]:
    """(bids, asks) of the simulator's book for ``topic``'s window, best first, as Decimals."""
    market = sim.market("BTC_USDT") if topic == SPOT else sim.market("BTCUSDT", Market.FUTURES)
    inst = market.instrument

    def side(name: str) -> tuple[tuple[Decimal, Decimal], ...]:
        return tuple(
            (Decimal(inst.price(p)), Decimal(inst.size(s))) for p, s in market.top(name, DEPTH[topic])
        )

    return side("bids"), side("asks")


class Harness:
    """Feeds the client's ``update`` payloads to one BookSync per topic and records what they say."""

    def __init__(self, client: WebsocketClient) -> None:
        self.client = client
        self.decoder = Decoder()
        self.loop = asyncio.get_running_loop()
        self.syncs = {t: BookSync(t, depth=DEPTH[t], stall_timeout=5.0) for t in (SPOT, FUTURES)}
        self.received = dict.fromkeys(self.syncs, 0)
        self.actions: list[tuple[str, Any]] = []
        self.events: list[tuple[str, Any]] = []
        self.changed = asyncio.Event()
        client.on("update", self.on_update)
        client.on("reconnect", self.on_reconnect)

    def topic_of(self, message: dict[str, Any]) -> str:
        return SPOT if message.get("table") == "spot/depth/increase100" else FUTURES

    def on_update(self, message: dict[str, Any]) -> None:
        topic = self.topic_of(message)
        update = self.decoder.decode(message)
        assert isinstance(update, Update)
        for item in update.items:
            self.record(topic, self.syncs[topic].push(item, self.loop.time()))
        self.received[topic] += 1
        self.changed.set()

    def on_reconnect(self, event: dict[str, Any]) -> None:
        # the connection is gone; the client resubscribes by itself, so a new subscription is on its way
        for topic, sync in self.syncs.items():
            if (topic == SPOT) == (event["wsKey"] == "spotPublicV1"):
                self.record(topic, sync.disconnected(self.loop.time()) + sync.connected(self.loop.time()))
        self.changed.set()

    def record(self, topic: str, outputs: list[Any]) -> None:
        for out in outputs:
            if isinstance(out, SendRequest | Resubscribe):
                self.actions.append((topic, out))
            else:
                self.events.append((topic, out))

    async def wait(self, predicate: Callable[[], bool]) -> None:
        async with asyncio.timeout(10):
            while not predicate():
                self.changed.clear()
                await self.changed.wait()

    async def carry_out(self) -> None:
        """The client has no `request` operation yet: resubscribe instead (the snapshot follows)."""
        while self.actions:
            topic, _action = self.actions.pop(0)
            self.syncs[topic].connected(self.loop.time())
            await self.client.unsubscribe_topics(topic)
            await self.client.subscribe_topics(topic)
            await self.wait(lambda t=topic: self.syncs[t].valid)  # type: ignore[misc]


async def test_books_equal_the_simulators_through_faults() -> None:
    async with Simulator(SimulatorConfig(cadence=0, quiet_probability=0.3)) as sim:
        client = WebsocketClient(ws_urls=sim.urls, reconnect_delay=0.01, reconnect_max_delay=0.05)
        async with client:
            h = Harness(client)
            for sync in h.syncs.values():
                sync.connected(h.loop.time())  # before subscribing: the snapshot follows the ack at once
            await client.subscribe_topics([SPOT, FUTURES])
            await h.wait(lambda: all(s.valid for s in h.syncs.values()))
            checks = 0
            faults: dict[int, Callable[[], Any]] = {
                4: lambda: sim.inject_gap(SPOT),
                8: lambda: sim.inject_stale(FUTURES),
                12: lambda: sim.inject_gap(FUTURES, 3),
                16: lambda: sim.inject_stale(SPOT),
                20: lambda: sim.drop_connections(),
                24: lambda: sim.pause_topic(SPOT),
            }
            for step in range(36):
                fault = faults.get(step)
                result = fault() if fault is not None else None
                if asyncio.iscoroutine(result):
                    await result
                    await h.wait(lambda: all(s.valid for s in h.syncs.values()))  # reconnected
                expected = {t: h.received[t] + 1 for t in h.syncs}
                stale = {8: FUTURES, 16: SPOT}.get(step)
                if stale is not None:
                    assert result == 1
                    expected[stale] += 1  # the old update is re-sent before the new one
                if step >= 24:
                    expected[SPOT] = h.received[SPOT]  # paused
                await sim.step()
                await h.wait(lambda e=expected: all(h.received[t] >= e[t] for t in h.syncs))  # type: ignore[misc]
                if step == 30:  # the paused spot book has been silent: time passes beyond its deadline
                    spot = h.syncs[SPOT]
                    assert spot.deadline is not None
                    h.record(SPOT, spot.tick(spot.deadline))
                    sim.resume_topic(SPOT)
                await h.carry_out()
                for topic, sync in h.syncs.items():
                    if topic == SPOT and 24 <= step < 30:
                        continue  # paused: still valid at its last version, while the market moves on
                    if sync.valid:
                        snap = sync.snapshot()
                        assert (snap.bids, snap.asks) == sim_view(sim, topic), (step, topic)
                        checks += 1
            assert all(s.valid for s in h.syncs.values())
    reasons = [(t, e.reason) for t, e in h.events if isinstance(e, Invalidated)]
    assert reasons == [
        (SPOT, Reason.GAP),
        (FUTURES, Reason.GAP),
        (SPOT, Reason.DISCONNECTED),
        (FUTURES, Reason.DISCONNECTED),
        (SPOT, Reason.STALLED),
    ]
    assert sum(isinstance(e, Restored) for _, e in h.events) == 2 + len(reasons)
    assert checks >= 60


async def test_request_resync_with_buffering_against_the_simulator() -> None:
    """A scripted connection carries out SendRequest with the real `request` operation: the snapshot
    continues the subscription's version chain, the updates buffered meanwhile are replayed."""
    decoder = Decoder()
    async with Simulator(SimulatorConfig(cadence=0, quiet_probability=0)) as sim:
        for topic, key in ((SPOT, "spotPublicV1"), (FUTURES, "futuresPublicV2")):
            verb = "op" if topic == SPOT else "action"
            async with connect(sim.urls[key], compression=None) as ws:

                async def next_push(ws: Any = ws) -> Any:
                    async with asyncio.timeout(5):
                        while True:
                            raw = await ws.recv()
                            text = zlib.decompress(raw, -15).decode() if isinstance(raw, bytes) else raw
                            message = json.loads(text)
                            if "data" in message:
                                update = decoder.decode(message)
                                assert isinstance(update, Update)
                                return update.items[0]

                sync = BookSync(topic, depth=DEPTH[topic])
                sync.connected(0.0)
                await ws.send(json.dumps({verb: "subscribe", "args": [topic]}))
                assert sync.push(await next_push(), 0.0) == [Restored(sync.version or 0)]
                sim.inject_gap(topic, 2)
                await sim.step()
                out = sync.push(await next_push(), 1.0)
                assert isinstance(out[0], Invalidated) and out[0].reason is Reason.GAP
                assert out[1:] == [SendRequest(topic)]
                await sim.step()  # an update arrives before the snapshot: buffered
                assert sync.push(await next_push(), 1.1) == [] and not sync.valid
                await ws.send(json.dumps({verb: "request", "args": [topic]}))
                snapshot = await next_push()
                assert snapshot.type == "snapshot"
                assert sync.push(snapshot, 1.2) == [Restored(snapshot.version)]
                assert (sync.snapshot().bids, sync.snapshot().asks) == sim_view(sim, topic)
                await sim.step(3)
                for _ in range(3):
                    sync.push(await next_push(), 2.0)
                assert sync.valid and (sync.snapshot().bids, sync.snapshot().asks) == sim_view(sim, topic)
