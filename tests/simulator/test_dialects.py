"""Envelopes, keepalive, compression, errors and limits of both dialects."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import re
import zlib

import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from bitmart_ws.simulator import Simulator, SimulatorConfig

from .conftest import FAST, client


async def test_spot_text_ping_pong_is_text(sim: Simulator) -> None:
    async with client(sim, "spotPublicV1") as c:
        await c.send("ping")
        assert await c.recv_raw() == "pong"


async def test_futures_ping_and_text_ping_rejected(sim: Simulator) -> None:
    async with client(sim, "futuresPublicV2") as c:
        await c.send({"action": "ping"})
        reply = await c.recv()
        assert reply["group"] == "System" and re.fullmatch(r"pong\+[0-9a-f-]{36}", reply["data"])
        await c.send("ping")
        assert await c.recv() == {"success": False, "error": "Invalid message: message must be JSON: ping"}
        pong_waiter = await c.ws.ping()  # protocol pings are answered
        async with asyncio.timeout(2):
            await pong_waiter


@pytest.mark.parametrize(("mode", "binary", "text"), [("always", True, False), ("never", False, True)])
async def test_compress_modes(mode: str, binary: bool, text: bool) -> None:
    config = dataclasses.replace(FAST, compress=mode)  # type: ignore[arg-type]
    async with Simulator(config) as sim, client(sim, "spotPublicV1") as c:
        await c.send({"op": "subscribe", "args": ["spot/ticker:BTC_USDT"]})
        assert isinstance(await c.recv_raw(), str)  # the ack is text
        kinds = {type(await c.recv_raw()) for _ in range(6)}
        assert (bytes in kinds) is binary and (str in kinds) is text


async def test_compress_mixed_is_seeded_and_raw_deflate() -> None:
    async def pattern() -> list[bool]:
        config = dataclasses.replace(FAST, compress="mixed", seed=3)
        async with Simulator(config) as sim, client(sim, "spotPublicV1") as c:
            await c.send({"op": "subscribe", "args": ["spot/ticker:BTC_USDT"]})
            await c.recv()
            out = []
            for _ in range(16):
                raw = await c.recv_raw()
                if isinstance(raw, bytes):
                    assert json.loads(zlib.decompress(raw, -15))["table"] == "spot/ticker"
                out.append(isinstance(raw, bytes))
            return out

    first = await pattern()
    assert any(first) and not all(first)
    assert first == await pattern()


async def test_spot_envelope_errors(sim: Simulator) -> None:
    async with client(sim, "spotPublicV1") as c:
        await c.send("hello")
        assert await c.recv() == {
            "event": "error",
            "errorCode": "90001",
            "errorMessage": "Invalid message format",
        }
        await c.send({"op": "dance", "args": ["x"]})
        assert (await c.recv())["errorCode"] == "90002"
        await c.send({"op": "subscribe", "args": []})
        assert await c.recv() == {
            "event": "subscribe",
            "errorCode": "90003",
            "errorMessage": "Invalid args param",
        }


async def test_spot_topic_errors_and_duplicates(sim: Simulator) -> None:
    async with client(sim, "spotPublicV1") as c:
        topics = [
            "spot/nope:BTC_USDT",
            "spot/ticker:DOGE_USDT",
            "spot/ticker:btcusdt",
            "spot/ticker:BTC_USDT",
        ]
        await c.send({"op": "subscribe", "args": topics})
        replies = [await c.recv_until(lambda m: "event" in m) for _ in topics]
        assert replies == [  # BitMart's error frames name no topic
            {"event": "subscribe", "errorCode": "90004", "errorMessage": "Invalid channel param"},
            {"event": "subscribe", "errorCode": "92001", "errorMessage": "Invalid symbol param"},
            {"event": "subscribe", "errorCode": "92001", "errorMessage": "Invalid symbol param"},
            {"event": "subscribe", "topic": "spot/ticker:BTC_USDT"},
        ]
        await c.send({"op": "subscribe", "args": ["spot/ticker:BTC_USDT"]})
        dup = await c.recv_until(lambda m: "event" in m)
        assert dup == {"event": "subscribe", "errorCode": "90008", "errorMessage": "Duplicate subscription"}
        await c.send({"op": "unsubscribe", "args": ["spot/ticker:BTC_USDT"]})
        ack = await c.recv_until(lambda m: "event" in m)
        assert ack == {"event": "unsubscribe", "topic": "spot/ticker:BTC_USDT"}
        await sim.wait_for(lambda: sim.sessions[0].topics == ())


async def test_spot_error_topic_setting_names_the_refused_topic() -> None:
    config = dataclasses.replace(FAST, spot_error_topic=True)
    async with Simulator(config) as sim, client(sim, "spotPublicV1") as c:
        topics = [
            "spot/nope:BTC_USDT",
            "spot/ticker:DOGE_USDT",
            "spot/ticker:BTC_USDT",
            "spot/ticker:BTC_USDT",
        ]
        await c.send({"op": "subscribe", "args": topics})
        replies = [await c.recv_until(lambda m: "event" in m) for _ in topics]
        assert [(r["topic"], r.get("errorCode")) for r in replies] == [
            ("spot/nope:BTC_USDT", "90004"),
            ("spot/ticker:DOGE_USDT", "92001"),
            ("spot/ticker:BTC_USDT", None),
            ("spot/ticker:BTC_USDT", "90008"),
        ]
        await c.send({"op": "unsubscribe", "args": ["spot/nope:BTC_USDT"]})
        assert await c.recv_until(lambda m: "event" in m) == {
            "event": "unsubscribe",
            "topic": "spot/nope:BTC_USDT",
            "errorCode": "90004",
            "errorMessage": "Invalid channel param",
        }


async def test_spot_request_snapshot(sim: Simulator) -> None:
    async with client(sim, "spotPublicV1") as c:
        await c.send({"op": "request", "args": ["spot/depth/increase100:ETH_USDT"]})
        push = await c.recv()
        assert push["table"] == "spot/depth/increase100" and push["data"][0]["type"] == "snapshot"
        await c.send({"op": "request", "args": ["spot/ticker:ETH_USDT"]})
        assert (await c.recv())["errorCode"] == "90004"


async def test_futures_topic_errors_and_duplicate_success(sim: Simulator) -> None:
    async with client(sim, "futuresPublicV2") as c:
        bad = "futures/depthIncrease50:NOPEUSDT@100ms"
        await c.send(
            {"action": "subscribe", "args": [bad, "futures/depth30:BTCUSDT", "futures/depth5:BTCUSDT@50ms"]}
        )
        for topic in (bad, "futures/depth30:BTCUSDT", "futures/depth5:BTCUSDT@50ms"):
            reply = await c.recv_until(lambda m: "success" in m)
            assert reply == {
                "action": "subscribe",
                "group": topic,
                "success": False,
                "request": {"action": "subscribe", "args": [topic]},
                "error": f"Invalid channel: not found {topic}",
            }
        for _ in range(2):  # a duplicate subscribe succeeds again
            await c.send({"action": "subscribe", "args": ["futures/trade:BTCUSDT"]})
            assert (await c.recv_until(lambda m: "success" in m))["success"] is True
        assert sim.sessions[0].topics == ("futures/trade:BTCUSDT",)
        await c.send({"action": "unsubscribe", "args": ["futures/trade:BTCUSDT"]})
        ack = await c.recv_until(lambda m: "success" in m)
        assert ack["action"] == "unsubscribe" and ack["success"] is True
        await c.send({"action": "", "args": ["futures/trade:BTCUSDT"]})
        reply = await c.recv_until(lambda m: "success" in m)
        assert reply["error"] == "Invalid action [] for group [futures/trade:BTCUSDT]"


async def test_unknown_path_is_404(sim: Simulator) -> None:
    url = sim.urls["spotPublicV1"].replace("/api", "/nope")
    with pytest.raises(InvalidStatus) as info:
        async with connect(url):
            pass
    assert info.value.response.status_code == 404
    assert sim.stats.refused_upgrades == 1


async def test_url_without_protocol_query_is_accepted(sim: Simulator) -> None:
    async with connect(sim.urls["futuresPublicV2"].split("?")[0]) as ws:
        await ws.send('{"action":"ping"}')
        assert "pong" in str(await ws.recv())


async def test_topics_per_request_and_per_connection_limits() -> None:
    config = dataclasses.replace(FAST, max_topics_per_request=3, max_public_topics=4)
    async with Simulator(config) as sim, client(sim, "spotPublicV1") as c:
        topics = [f"spot/kline{i}:BTC_USDT" for i in ("1m", "5m", "15m", "30m")]
        await c.send({"op": "subscribe", "args": topics})
        assert (await c.recv())["errorCode"] == "90005"
        assert sim.sessions[0].topics == ()
        await c.send({"op": "subscribe", "args": topics[:3]})
        await c.send({"op": "subscribe", "args": [topics[3], "spot/ticker:BTC_USDT"]})
        replies = [await c.recv_until(lambda m: "event" in m) for _ in range(5)]
        assert [r.get("errorCode") for r in replies] == [None, None, None, None, "90006"]


async def test_message_rate_limit_closes() -> None:
    config = dataclasses.replace(FAST, spot_rate_limit=5, rate_window=5.0)
    async with Simulator(config) as sim, client(sim, "spotPublicV1") as c:
        for _ in range(5):
            await c.send("ping")
            assert await c.recv() == "pong"
        await c.send("ping")
        assert (await c.recv())["errorCode"] == "90007"
        with pytest.raises(ConnectionClosed):
            await c.recv()
        assert c.ws.close_code == 1008


async def test_idle_timeout_and_off() -> None:
    config = dataclasses.replace(FAST, idle_timeout=0.2)
    async with Simulator(config) as sim, client(sim, "spotPublicV1") as c:
        with pytest.raises(ConnectionClosed):
            await c.recv(within=2)
        assert c.ws.close_code == 1000


async def test_idle_timer_reset_by_client_frames() -> None:
    config = dataclasses.replace(FAST, idle_timeout=0.3)
    async with Simulator(config) as sim, client(sim, "futuresPublicV2") as c:
        for _ in range(4):
            await asyncio.sleep(0.15)
            pong = await c.ws.ping()  # protocol pings count as client frames
            await pong
        assert len(sim.sessions) == 1 and sim.sessions[0].protocol_pings == 4


async def test_lifeless_timeout() -> None:
    config = dataclasses.replace(FAST, lifeless_timeout=0.2, idle_timeout=0)
    async with Simulator(config) as sim, client(sim, "futuresPublicV2") as c:
        await c.send({"action": "ping"})
        await c.recv()
        with pytest.raises(ConnectionClosed):
            await c.recv(within=2)


async def test_futures_big_frame_closes_1009(sim: Simulator) -> None:
    async with client(sim, "futuresPublicV2") as c:
        topics = [f"futures/klineBin1m:BTCUSDT{'X' * 40}{i}" for i in range(60)]
        await c.send({"action": "subscribe", "args": topics})
        with pytest.raises(ConnectionClosed):
            await c.recv()
        assert c.ws.close_code == 1009


async def test_private_topic_on_public_path(sim: Simulator) -> None:
    async with client(sim, "spotPublicV1") as c:
        await c.send({"op": "subscribe", "args": ["spot/user/balance:BALANCE_UPDATE"]})
        assert (await c.recv())["errorCode"] == "90009"


async def test_seeded_market_is_deterministic() -> None:
    config = SimulatorConfig(seed=11)
    one, two = Simulator(config), Simulator(config)
    for step in range(20):
        for s in (one, two):
            s.market("BTC_USDT").step(1_700_000_000_000 + step)
    assert one.market("BTC_USDT").spot_depth(5, 1) == two.market("BTC_USDT").spot_depth(5, 1)
    assert one.market("BTC_USDT").spot_ticker(1) == two.market("BTC_USDT").spot_ticker(1)


async def test_spot_heartbeat_keeps_version_when_market_is_quiet() -> None:
    config = dataclasses.replace(FAST, quiet_probability=1.0)
    topic = "spot/depth/increase100:BTC_USDT"
    async with Simulator(config) as sim, client(sim, "spotPublicV1") as c:
        await c.send({"op": "subscribe", "args": [topic]})
        await c.recv()
        version = (await c.recv())["data"][0]["version"]
        for _ in range(3):
            beat = (await c.recv())["data"][0]
            assert (beat["type"], beat["version"], beat["asks"], beat["bids"]) == ("update", version, [], [])


async def test_futures_funding_request(sim: Simulator) -> None:
    async with client(sim, "futuresPublicV2") as c:
        await c.send({"action": "request", "args": ["futures/fundingRate:BTCUSDT"]})
        push = await c.recv()
        assert push["group"] == "futures/fundingRate:BTCUSDT" and push["data"]["symbol"] == "BTCUSDT"
        await c.send({"action": "request", "args": ["futures/trade:BTCUSDT"]})
        assert (await c.recv())["success"] is False
