"""Per-IP connection limits, request size limits, error wordings and the timers of §8."""

from __future__ import annotations

import asyncio
import dataclasses
import time

import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.frames import Opcode

from bitmart_ws.simulator import Simulator

from .conftest import FAST, client, group_of


async def test_connect_rate_limit_error_frame_then_close() -> None:
    config = dataclasses.replace(FAST, connect_rate_limit=2)
    async with Simulator(config) as sim, client(sim, "spotPublicV1"), client(sim, "spotPrivateV1"):
        async with client(sim, "spotPublicV1") as third:
            assert await third.recv() == {
                "event": "error",
                "errorCode": "94001",
                "errorMessage": "Frequently reestablishing connections in a short period of time",
            }
            with pytest.raises(ConnectionClosed):
                await third.recv()
            assert third.ws.close_code == 1008
        assert len(sim.sessions) == 2  # the refused connection never became a session
        assert sim.stats.ip_limited == 1 and sim.stats.refused_upgrades == 0
        async with client(sim, "futuresPublicV2") as fut:  # each server counts its own attempts
            await fut.send({"action": "ping"})
            assert (await fut.recv())["group"] == "System"


async def test_spot_connections_per_ip_by_path_over_http() -> None:
    config = dataclasses.replace(FAST, max_private_connections_per_ip=1, ip_limit_response="http")
    async with Simulator(config) as sim:
        async with client(sim, "spotPrivateV1"):
            with pytest.raises(InvalidStatus) as info:
                async with connect(sim.urls["spotPrivateV1"]):
                    pass
            assert info.value.response.status_code == 429
            assert b"exceeds the upper limit" in info.value.response.body
            async with client(sim, "spotPublicV1"):  # public connections are counted apart
                await sim.wait_for(lambda: len(sim.sessions) == 2)
        await sim.wait_for(lambda: not sim.sessions)
        async with client(sim, "spotPrivateV1"):  # the closed one no longer counts
            await sim.wait_for(lambda: len(sim.sessions) == 1)
        assert sim.stats.ip_limited == 1 and sim.stats.refused_upgrades == 1


async def test_futures_connections_per_ip_frame() -> None:
    config = dataclasses.replace(FAST, futures_max_connections_per_ip=2)
    async with (
        Simulator(config) as sim,
        client(sim, "futuresPublicV2"),
        client(sim, "futuresPrivateV2"),
        client(sim, "futuresPublicV2") as third,
    ):
        reply = await third.recv()
        assert reply["success"] is False and "exceeds the upper limit" in reply["error"]
        with pytest.raises(ConnectionClosed):
            await third.recv()
        assert third.ws.close_code == 1008


async def test_public_connections_per_ip_default_off() -> None:
    async with Simulator(FAST) as sim:
        clients = [connect(sim.urls["spotPublicV1"]) for _ in range(25)]
        opened = [await c.__aenter__() for c in clients]
        try:
            await sim.wait_for(lambda: len(sim.sessions) == 25)
        finally:
            for ws in opened:
                await ws.close()


async def test_spot_args_bytes_limit() -> None:
    config = dataclasses.replace(FAST, max_args_bytes=59)
    async with Simulator(config) as sim, client(sim, "spotPublicV1") as c:
        topics = ["spot/ticker:BTC_USDT", "spot/ticker:ETH_USDT", "spot/depth5:BTC_USDT"]  # 60 bytes
        await c.send({"op": "subscribe", "args": topics})
        assert await c.recv() == {
            "event": "subscribe",
            "errorCode": "90005",
            "errorMessage": "Topic quantity in single subscription exceeds limit",
        }
        assert sim.sessions[0].topics == ()
        await c.send({"op": "subscribe", "args": topics[:2]})  # 40 bytes: fine
        assert (await c.recv_until(lambda m: "event" in m)) == {"event": "subscribe", "topic": topics[0]}


async def test_default_args_limit_is_4096_and_unsubscribe_has_the_same_rules(sim: Simulator) -> None:
    async with client(sim, "spotPublicV1") as c:
        long_topics = [f"spot/ticker:{'A' * 200}{i}_USDT" for i in range(20)]  # 20 topics, > 4096 bytes
        await c.send({"op": "subscribe", "args": long_topics})
        assert (await c.recv())["errorCode"] == "90005"
        await c.send({"op": "unsubscribe", "args": [f"spot/ticker:X{i}_USDT" for i in range(21)]})
        reply = await c.recv()
        assert reply["event"] == "unsubscribe" and reply["errorCode"] == "90005"


async def test_legacy_error_wording() -> None:
    config = dataclasses.replace(FAST, legacy_error_wording=True)
    async with Simulator(config) as sim, client(sim, "futuresPublicV2") as c:
        await c.send({"action": "subscribe", "args": ["sfutures/depth50:BTCUSDT"]})
        assert await c.recv() == {
            "action": "subscribe",
            "group": "sfutures/depth50:BTCUSDT",
            "success": False,
            "request": {"action": "subscribe", "args": ["sfutures/depth50:BTCUSDT"]},
            "error": "group [sfutures/depth50:BTCUSDT] not exist",
        }


async def test_echo_full_request() -> None:
    config = dataclasses.replace(FAST, echo_full_request=True)
    topics = ["futures/ticker:BTCUSDT", "futures/trade:BTCUSDT", "futures/depth30:BTCUSDT"]
    async with Simulator(config) as sim, client(sim, "futuresPublicV2") as c:
        await c.send({"action": "subscribe", "args": topics})
        acks = [await c.recv_until(lambda m: "success" in m) for _ in topics]
        assert [a["group"] for a in acks] == topics
        assert [a["success"] for a in acks] == [True, True, False]
        assert all(a["request"] == {"action": "subscribe", "args": topics} for a in acks)


async def test_private_topics_per_connection_limit() -> None:
    config = dataclasses.replace(FAST, max_private_topics=1)
    async with Simulator(config) as sim, client(sim, "spotPrivateV1") as c:
        await c.login_spot()
        await c.send({"op": "subscribe", "args": ["spot/user/order:BTC_USDT", "spot/ticker:BTC_USDT"]})
        replies = [await c.recv_until(lambda m: "event" in m) for _ in range(2)]
        assert [r.get("errorCode") for r in replies] == [None, "90006"]


async def test_lifeless_timeouts_per_dialect() -> None:
    config = dataclasses.replace(FAST, spot_lifeless_timeout=0.2, idle_timeout=0)
    async with Simulator(config) as sim:
        async with client(sim, "spotPublicV1") as idle, client(sim, "futuresPublicV2") as fut:
            with pytest.raises(ConnectionClosed):
                await idle.recv(within=2)
            assert (idle.ws.close_code, idle.ws.close_reason) == (1000, "no subscription")
            await fut.send({"action": "ping"})  # futures: off by default (the real server is lenient)
            assert (await fut.recv())["group"] == "System"
        async with client(sim, "spotPublicV1") as busy:  # a subscription keeps it open
            await busy.send({"op": "subscribe", "args": ["spot/ticker:BTC_USDT"]})
            deadline = time.monotonic() + 0.4
            while time.monotonic() < deadline:  # keep reading: the pushes go on past the timeout
                await busy.recv_until(lambda m: m.get("table") == "spot/ticker")


class _PingCounter(ClientConnection):
    pings = 0

    def process_event(self, event: object) -> None:
        if getattr(event, "opcode", None) is Opcode.PING:
            type(self).pings += 1
        super().process_event(event)  # type: ignore[arg-type]


async def test_futures_server_pings_and_spot_none() -> None:
    config = dataclasses.replace(FAST, futures_ping_interval=0.1, idle_timeout=0)
    async with Simulator(config) as sim:
        _PingCounter.pings = 0
        async with connect(sim.urls["futuresPublicV2"], create_connection=_PingCounter):
            await asyncio.sleep(0.45)
        assert _PingCounter.pings >= 3
        _PingCounter.pings = 0
        async with connect(sim.urls["spotPublicV1"], create_connection=_PingCounter):
            await asyncio.sleep(0.3)
        assert _PingCounter.pings == 0


async def test_position_re_pushed_on_its_timer_without_activity() -> None:
    config = dataclasses.replace(FAST, account_interval=100.0, position_interval=0.1)
    async with Simulator(config) as sim, client(sim, "futuresPrivateV2") as c:
        await c.access_futures()
        await c.send({"action": "subscribe", "args": ["futures/position"]})
        start = time.monotonic()
        pushes = [await c.recv_until(group_of("futures/position")) for _ in range(4)]
        assert time.monotonic() - start >= 0.25  # on the timer, not on every tick
        assert all(p == pushes[0] for p in pushes)  # no change, still re-pushed
