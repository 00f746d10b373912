"""Fault injection, the server-side view and the command line."""

from __future__ import annotations

import asyncio
import json
import signal
import subprocess
import sys
import time
import zlib

import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from bitmart_ws.simulator import Malformed, Simulator

from .conftest import client, group_of, table_of


async def test_drop_connections_gives_1006(sim: Simulator) -> None:
    async with client(sim, "spotPublicV1") as a, client(sim, "futuresPublicV2") as b:
        await sim.wait_for(lambda: len(sim.sessions) == 2)
        assert await sim.drop_connections(sim.sessions[0].id) == 1
        with pytest.raises(ConnectionClosed):
            await a.recv()
        assert a.ws.close_code == 1006
        await sim.wait_for(lambda: len(sim.sessions) == 1)
        await b.send({"action": "ping"})
        assert (await b.recv())["group"] == "System"
        assert await sim.drop_connections() == 1
        with pytest.raises(ConnectionClosed):
            await b.recv()
        assert b.ws.close_code == 1006


async def test_close_with_code(sim: Simulator) -> None:
    async with client(sim, "spotPublicV1") as c:
        await sim.wait_for(lambda: len(sim.sessions) == 1)
        await sim.close_connections(4001, "maintenance")
        with pytest.raises(ConnectionClosed):
            await c.recv()
        assert (c.ws.close_code, c.ws.close_reason) == (4001, "maintenance")


async def test_pause_and_resume_pongs(sim: Simulator) -> None:
    async with client(sim, "spotPublicV1") as s, client(sim, "futuresPublicV2") as f:
        sim.pause_pongs()
        await s.send("ping")
        await f.send({"action": "ping"})
        waiter = await f.ws.ping()
        with pytest.raises(TimeoutError):
            await s.recv(within=0.2)
        with pytest.raises(TimeoutError):
            await f.recv(within=0.2)
        with pytest.raises(TimeoutError):
            async with asyncio.timeout(0.1):
                await asyncio.shield(waiter)
        sim.resume_pongs()
        await s.send("ping")
        assert await s.recv() == "pong"
        async with asyncio.timeout(2):
            await (await f.ws.ping())
            await waiter  # the later pong acknowledges the earlier ping too


async def test_reject_logins_next_n_and_all(sim: Simulator) -> None:
    sim.reject_logins(1)
    async with client(sim, "spotPrivateV1") as c:
        assert (await c.login_spot())["errorCode"] == "91011"
    async with client(sim, "spotPrivateV1") as c:
        assert await c.login_spot() == {"event": "login"}
    sim.reject_logins()
    for _ in range(2):
        async with client(sim, "futuresPrivateV2") as c:
            assert (await c.access_futures())["success"] is False
    sim.accept_logins()
    async with client(sim, "futuresPrivateV2") as c:
        assert (await c.access_futures())["success"] is True


async def test_refuse_upgrades(sim: Simulator) -> None:
    sim.refuse_upgrades(503, count=2)
    for _ in range(2):
        with pytest.raises(InvalidStatus) as info:
            async with connect(sim.urls["spotPublicV1"]):
                pass
        assert info.value.response.status_code == 503
    async with connect(sim.urls["spotPublicV1"]):
        pass
    sim.refuse_upgrades(401)
    for _ in range(3):
        with pytest.raises(InvalidStatus) as info:
            async with connect(sim.urls["futuresPrivateV2"]):
                pass
        assert info.value.response.status_code == 401
    sim.clear_refusals()
    async with connect(sim.urls["futuresPrivateV2"]):
        pass
    assert sim.stats.connection_attempts == 7
    assert sim.stats.refused_upgrades == 5
    assert sim.stats.accepted_connections == 2


async def test_delay_acks(sim: Simulator) -> None:
    sim.delay_acks(0.3)
    async with client(sim, "futuresPublicV2") as c:
        start = time.monotonic()
        await c.send({"action": "subscribe", "args": ["futures/ticker:BTCUSDT"]})
        assert (await c.recv())["success"] is True
        assert time.monotonic() - start >= 0.3


async def test_inject_gap(sim: Simulator) -> None:
    topic = "spot/depth/increase100:BTC_USDT"
    async with client(sim, "spotPublicV1") as c:
        await c.send({"op": "subscribe", "args": [topic]})
        await c.recv()
        version = (await c.recv())["data"][0]["version"]
        assert sim.inject_gap(topic, size=3) == 1
        while True:
            data = (await c.recv_until(table_of("spot/depth/increase100")))["data"][0]
            if data["version"] != version:
                break
        assert data["version"] == version + 4
        await c.send({"op": "request", "args": [topic]})  # resync: snapshot continues the chain
        snap = (await c.recv_until(lambda m: m.get("data", [{}])[0].get("type") == "snapshot"))["data"][0]
        assert snap["version"] >= data["version"]


async def test_pause_topic(sim: Simulator) -> None:
    async with client(sim, "futuresPublicV2") as c:
        await c.send(
            {"action": "subscribe", "args": ["futures/bookticker:BTCUSDT", "futures/bookticker:ETHUSDT"]}
        )
        await c.recv_until(group_of("futures/bookticker:ETHUSDT"))
        sim.pause_topic("futures/bookticker:BTCUSDT")
        await asyncio.sleep(0.05)  # let frames already in flight arrive
        groups: set[str] = set()
        for _ in range(10):
            groups.add((await c.recv_until(lambda m: "data" in m))["group"])
        assert groups == {"futures/bookticker:ETHUSDT"}
        sim.resume_topic("futures/bookticker:BTCUSDT")
        await c.recv_until(group_of("futures/bookticker:BTCUSDT"))


@pytest.mark.parametrize("kind", list(Malformed))
async def test_send_malformed(sim: Simulator, kind: Malformed) -> None:
    async with client(sim, "spotPublicV1") as c:
        await sim.wait_for(lambda: len(sim.sessions) == 1)
        assert await sim.send_malformed(kind) == 1
        raw = await c.recv_raw()
        if kind is Malformed.TEXT:
            with pytest.raises(json.JSONDecodeError):
                json.loads(raw)
        elif kind is Malformed.EMPTY_DATA:
            assert json.loads(raw)["data"] == ""
        elif kind is Malformed.DEEP:
            assert isinstance(raw, bytes) and len(raw) < 100
            assert zlib.decompress(raw, -15) == b"[" * 1000 + b"]" * 1000
        else:
            assert isinstance(raw, bytes)
            with pytest.raises(zlib.error):
                zlib.decompress(raw, -15)


async def test_server_view_and_received_log(sim: Simulator) -> None:
    async with client(sim, "spotPrivateV1") as c:
        await c.send({"op": "subscribe", "args": ["spot/ticker:ETH_USDT", "spot/trade:ETH_USDT"]})
        await sim.wait_for(lambda: len(sim.sessions) == 1 and len(sim.sessions[0].topics) == 2)
        (info,) = sim.sessions
        assert info.path == "/user" and info.is_private and not info.authenticated
        assert info.market.value == "spot"
        assert info.topics == ("spot/ticker:ETH_USDT", "spot/trade:ETH_USDT")
        assert sim.session(info.id) == info
        (frame,) = sim.received
        assert frame.session_id == info.id and not frame.is_binary
        assert json.loads(frame.text)["op"] == "subscribe"
    await sim.wait_for(lambda: not sim.sessions)


async def test_wait_for_times_out(sim: Simulator) -> None:
    with pytest.raises(TimeoutError):
        await sim.wait_for(lambda: False, timeout=0.05)


async def test_urls_cover_every_key(sim: Simulator) -> None:
    assert set(sim.urls) == {
        "spotPublicV1", "spotPrivateV1", "futuresPublicV1", "futuresPrivateV1", "futuresPublicV2",
        "futuresPrivateV2",
    }  # fmt: skip
    assert sim.urls["futuresPublicV1"] == sim.urls["futuresPublicV2"]
    assert sim.urls["spotPrivateV1"] == f"ws://127.0.0.1:{sim.spot_port}/user?protocol=1.1"


@pytest.mark.parametrize("module", [True, False])
async def test_cli_prints_urls_and_stops_on_sigint(module: bool) -> None:
    command = (
        [sys.executable, "-m", "bitmart_ws.simulator"]
        if module
        else [
            sys.executable,
            "-c",
            "import sys; from bitmart_ws.cli import main; sys.exit(main())",
            "simulate",
        ]
    )
    proc = await asyncio.create_subprocess_exec(
        *command,
        "--symbols",
        "SOL_USDT",
        "--cadence",
        "0.05",
        "--api-key",
        "k",
        "--compress",
        "never",
        stdout=subprocess.PIPE,
    )
    try:
        assert proc.stdout is not None
        async with asyncio.timeout(20):
            line = await proc.stdout.readline()
        urls = json.loads(line)
        async with connect(urls["futuresPublicV2"]) as ws:
            await ws.send(json.dumps({"action": "subscribe", "args": ["futures/ticker:SOLUSDT"]}))
            assert json.loads(await ws.recv())["success"] is True
        async with connect(urls["spotPublicV1"]) as ws:  # --compress never: data pushes are text
            await ws.send(json.dumps({"op": "subscribe", "args": ["spot/ticker:SOL_USDT"]}))
            assert json.loads(await ws.recv()) == {"event": "subscribe", "topic": "spot/ticker:SOL_USDT"}
            assert json.loads(await ws.recv())["table"] == "spot/ticker"
        proc.send_signal(signal.SIGINT)
        async with asyncio.timeout(10):
            assert await proc.wait() == 0
            assert await proc.stdout.read() == b""  # exactly one line
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
