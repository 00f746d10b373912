"""``Simulator.push_raw``: arbitrary messages to the sessions subscribed to a topic (what a replay serves)."""

from __future__ import annotations

import pytest

from bitmart_ws.simulator import Simulator, SimulatorConfig

from .conftest import client, group_of, table_of

MANUAL = SimulatorConfig(cadence=0)  # no market ticks: only what the test pushes


async def test_push_raw_reaches_only_subscribers_of_the_topic_in_each_dialect() -> None:
    spot_message = {"table": "spot/ticker", "data": [{"symbol": "BTC_USDT", "last_price": "1.5"}]}
    futures_message = {"group": "futures/ticker:BTCUSDT@100ms", "data": {"symbol": "BTCUSDT"}}
    async with (
        Simulator(MANUAL) as sim,
        client(sim, "spotPublicV1") as spot,
        client(sim, "spotPublicV1") as other,
        client(sim, "futuresPublicV2") as futures,
    ):
        for topic in ("spot/ticker:BTC_USDT", "futures/ticker:BTCUSDT"):
            sim.pause_topic(topic)  # no synthetic first frame: only pushed messages
        await spot.send({"op": "subscribe", "args": ["spot/ticker:BTC_USDT"]})
        await spot.recv_until(lambda m: m.get("event") == "subscribe")
        await futures.send({"action": "subscribe", "args": ["futures/ticker:BTCUSDT"]})
        await futures.recv_until(lambda m: m.get("action") == "subscribe")
        await other.send({"op": "subscribe", "args": ["spot/ticker:ETH_USDT"]})
        await other.recv_until(lambda m: m.get("event") == "subscribe")

        assert await sim.push_raw("spot/ticker:BTC_USDT", spot_message) == 1
        assert await sim.push_raw("futures/ticker:BTCUSDT", futures_message) == 1
        assert await sim.push_raw("spot/ticker:XRP_USDT", spot_message) == 0

        assert await spot.recv_until(table_of("spot/ticker")) == spot_message
        assert spot.binary_frames == 1  # encoded as the spot dialect encodes data pushes
        assert await futures.recv_until(group_of("futures/ticker:BTCUSDT@100ms")) == futures_message
        first = await other.recv_until(table_of("spot/ticker"))  # its own synthetic first frame
        assert first["data"][0]["symbol"] == "ETH_USDT"
        with pytest.raises(TimeoutError):
            await other.recv(within=0.2)
