"""Fault injection added for the client's needs: path-scoped refusals, slow upgrades, delayed acks
that do not hold a closed session, RST drops, stale and random gaps, oversized and futures
``data:""`` frames."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import time
import zlib

import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from bitmart_ws.protocol.keys import Market
from bitmart_ws.simulator import Malformed, Simulator

from .conftest import FAST, client, group_of


async def _status(url: str) -> int:
    try:
        async with connect(url):
            return 101
    except InvalidStatus as exc:
        return exc.response.status_code


async def test_refuse_upgrades_on_one_path(sim: Simulator) -> None:
    sim.refuse_upgrades(403, path="/user")
    urls = sim.urls
    assert await _status(urls["spotPrivateV1"]) == 403
    assert await _status(urls["futuresPrivateV2"]) == 403
    assert await _status(urls["spotPublicV1"]) == 101
    assert await _status(urls["futuresPublicV2"]) == 101
    sim.refuse_upgrades(401, count=1, path="/user", market=Market.FUTURES)
    assert await _status(urls["spotPrivateV1"]) == 101  # other server: accepted, not counted
    assert await _status(urls["futuresPrivateV2"]) == 401
    assert await _status(urls["futuresPrivateV2"]) == 101  # the one refusal is used up
    sim.refuse_upgrades(503, market="spot")
    assert await _status(urls["spotPublicV1"]) == 503
    sim.clear_refusals()
    assert await _status(urls["spotPublicV1"]) == 101


async def test_delay_upgrades_gives_a_slow_handshake(sim: Simulator) -> None:
    sim.delay_upgrades(0.3)
    with pytest.raises(TimeoutError):
        async with connect(sim.urls["spotPublicV1"], open_timeout=0.1):
            pass
    start = time.monotonic()
    async with connect(sim.urls["spotPublicV1"]):
        assert time.monotonic() - start >= 0.3
    sim.delay_upgrades(0)
    await sim.wait_for(lambda: not sim.sessions)


async def test_delayed_acks_keep_order(sim: Simulator) -> None:
    sim.delay_acks(0.1)
    async with client(sim, "futuresPublicV2") as c:
        await c.send({"action": "subscribe", "args": ["futures/fundingRate:BTCUSDT"]})
        await c.send({"action": "subscribe", "args": ["futures/fundingRate:ETHUSDT"]})
        await c.send({"action": "ping"})
        frames = [await c.recv() for _ in range(5)]
        assert [f.get("group") for f in frames] == [
            "futures/fundingRate:BTCUSDT",  # ack
            "futures/fundingRate:BTCUSDT",  # current value
            "futures/fundingRate:ETHUSDT",
            "futures/fundingRate:ETHUSDT",
            "System",  # the pong waited behind the delayed acks
        ]


async def test_closed_session_goes_at_once_despite_delayed_acks(sim: Simulator) -> None:
    sim.delay_acks(30)
    async with client(sim, "spotPrivateV1") as c:
        await c.send({"op": "subscribe", "args": ["spot/ticker:BTC_USDT"]})
        await sim.wait_for(lambda: len(sim.received) == 1)
    await sim.wait_for(lambda: not sim.sessions, timeout=1)


async def test_drop_with_reset(sim: Simulator) -> None:
    async with client(sim, "spotPublicV1") as c:
        await sim.wait_for(lambda: len(sim.sessions) == 1)
        assert await sim.drop_connections(reset=True) == 1
        with pytest.raises(ConnectionClosed):
            await c.recv()
        assert c.ws.close_code == 1006
    await sim.wait_for(lambda: not sim.sessions)


async def test_inject_stale_resends_an_old_version(sim: Simulator) -> None:
    topic = "futures/depthIncrease5:BTCUSDT"
    async with client(sim, "futuresPublicV2") as c:
        await c.send({"action": "subscribe", "args": [topic]})
        await c.recv()
        await c.recv_until(group_of(topic))  # snapshot
        first = (await c.recv_until(group_of(topic)))["data"]
        assert sim.inject_stale(topic) == 1
        versions = [first["version"]]
        while len(versions) < 6:
            versions.append((await c.recv_until(group_of(topic)))["data"]["version"])
        steps = [b - a for a, b in zip(versions, versions[1:], strict=False)]
        assert 0 in steps or any(s < 0 for s in steps)  # the stale one (same or older version)
        assert versions[-1] > versions[0]


async def test_gap_probability() -> None:
    config = dataclasses.replace(FAST, gap_probability=1.0)
    topic = "futures/depthIncrease20:ETHUSDT"
    async with Simulator(config) as sim, client(sim, "futuresPublicV2") as c:
        await c.send({"action": "subscribe", "args": [topic]})
        await c.recv()
        version = (await c.recv_until(group_of(topic)))["data"]["version"]
        for _ in range(3):
            data = (await c.recv_until(group_of(topic)))["data"]
            assert data["version"] == version + 2
            version = data["version"]


async def test_send_oversized(sim: Simulator) -> None:
    async with client(sim, "spotPublicV1") as s, connect(sim.urls["futuresPublicV2"], max_size=None) as f:
        await sim.wait_for(lambda: len(sim.sessions) == 2)
        assert await sim.send_oversized(3 * 2**20) == 2
        raw = await s.recv_raw()
        assert isinstance(raw, bytes) and len(raw) < 100_000  # tiny on the wire...
        body = zlib.decompress(raw, -15)
        assert len(body) > 3 * 2**20 and json.loads(body)["table"] == "spot/ticker"  # ...MiB inflated
        text = await f.recv()
        assert isinstance(text, str) and len(text) > 3 * 2**20


async def test_empty_data_on_futures(sim: Simulator) -> None:
    async with client(sim, "futuresPublicV2") as c:
        await sim.wait_for(lambda: len(sim.sessions) == 1)
        assert await sim.send_malformed(Malformed.EMPTY_DATA) == 1
        assert await c.recv() == {"group": "futures/ticker", "data": ""}


async def test_funding_request_returns_exactly_one_push(sim: Simulator) -> None:
    async with client(sim, "futuresPublicV2") as c:
        await c.send({"action": "request", "args": ["futures/fundingRate:ETHUSDT"]})
        await c.send({"action": "ping"})
        push = await c.recv()
        assert push["group"] == "futures/fundingRate:ETHUSDT" and set(push) == {"group", "data"}
        assert (await c.recv())["group"] == "System"  # nothing else came before the pong
        assert sim.sessions[0].topics == ()  # a request is not a subscription
        await asyncio.sleep(0.1)
        await c.send({"action": "ping"})
        assert (await c.recv())["group"] == "System"
