"""Close at every phase, subscribe without await, run_forever, ordering, handler errors, leaks."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import textwrap
import zlib
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
import websockets
from picows import WSMsgType
from picows.picows import _make_test_ws_frame

from bitmart_ws import ConnectTimeout, InvalidState, WebsocketClient

from .conftest import CREDS, FAST, Recorder, make_client, sessions_of, topic_sets

ROOT = Path(__file__).resolve().parents[2]


def deflate(text: str) -> bytes:
    c = zlib.compressobj(wbits=-15)
    return c.compress(text.encode()) + c.flush()


Script = Callable[[Any], Awaitable[None]]


async def scripted_peer(script: Script) -> AsyncIterator[str]:
    async def handler(ws: Any) -> None:
        try:
            await script(ws)
        except websockets.ConnectionClosed:
            pass

    async with websockets.serve(handler, "127.0.0.1", 0, compression=None) as server:
        port = next(iter(server.sockets)).getsockname()[1]
        yield f"ws://127.0.0.1:{port}/api?protocol=1.1"


async def _ack_all(ws: Any, market: str = "spot") -> None:
    async for raw in ws:
        if raw == "ping":
            await ws.send("pong")
            continue
        msg = json.loads(raw)
        if msg.get("op") == "subscribe":
            for t in msg["args"]:
                await ws.send(json.dumps({"event": "subscribe", "topic": t}))
            return


async def test_mixed_binary_and_text_frames_keep_arrival_order(rec: Recorder) -> None:
    n = 600

    async def script(ws: Any) -> None:
        await _ack_all(ws)
        for i in range(n):
            pad = "x" * (i % 7) * 300
            text = json.dumps({"table": "spot/depth/increase100", "data": [{"version": i, "pad": pad}]})
            await ws.send(deflate(text) if i % 3 else text)
        await ws.send('{"event":"error","errorCode":"90001","errorMessage":"Invalid message format"}')
        await ws.wait_closed()

    async for url in scripted_peer(script):
        client = WebsocketClient(ws_urls={"spotPublicV1": url}, **FAST)
        rec.attach(client)
        async with client:
            await client.subscribe("spot/depth/increase100:BTC_USDT", "spot")
            await rec.wait(lambda: bool(rec.of("exception")), 5)
        versions = [u["data"][0]["version"] for u in rec.of("update")]
        assert versions == list(range(n))
        err = rec.of("exception")[0]
        assert err["errorCode"] == "90001" and "90001" in err["message"] and err["wsKey"] == "spotPublicV1"


async def test_listener_errors_are_reported_and_everything_goes_on(sim, rec: Recorder) -> None:
    client = make_client(sim)
    rec.attach(client)
    calls: list[str] = []

    @client.on("update")
    def bad_update(payload: dict[str, Any]) -> None:
        calls.append("update")
        raise ValueError("boom")

    @client.on("open")
    def bad_open(payload: dict[str, Any]) -> None:
        raise RuntimeError("open handler broke")

    @client.on("exception")
    def bad_exception(payload: dict[str, Any]) -> None:
        raise RuntimeError("exception handler broke too")  # only logged

    async with client:
        await client.subscribe("spot/ticker:BTC_USDT", "spot")
        await rec.wait(lambda: len(rec.of("update")) >= 3)
    errors = rec.of("exception")
    assert any("open handler broke" in e["message"] and e["event"] == "open" for e in errors)
    assert any(isinstance(e["error"], ValueError) and e["event"] == "update" for e in errors)
    assert not any("exception handler broke" in e["message"] for e in errors)
    await sim.wait_for(lambda: not sim.sessions, 2)  # closed cleanly despite the broken handlers
    assert calls.count("update") >= 3 and not rec.of("reconnect")


async def test_async_handlers_run_in_order_on_one_task(sim) -> None:
    seen: list[tuple[str, Any]] = []
    tasks: set[asyncio.Task[Any] | None] = set()
    client = make_client(sim)

    @client.on("update")
    async def on_update(payload: dict[str, Any]) -> None:
        tasks.add(asyncio.current_task())
        await asyncio.sleep(0)
        seen.append(("update", payload["table"]))

    @client.on("response")
    async def on_response(payload: dict[str, Any]) -> None:
        tasks.add(asyncio.current_task())
        seen.append(("response", payload["topic"]))

    @client.on("exception")
    async def on_exception(payload: dict[str, Any]) -> None:
        seen.append(("exception", payload["message"]))

    async def failing(payload: dict[str, Any]) -> None:
        raise KeyError("async boom")

    client.on("update", failing)
    async with client:
        await client.subscribe("spot/ticker:BTC_USDT", "spot")
        async with asyncio.timeout(3):
            while len([s for s in seen if s[0] == "update"]) < 3:  # noqa: ASYNC110
                await asyncio.sleep(0.01)
    assert seen[0] == ("response", "spot/ticker:BTC_USDT")
    assert len(tasks) == 1
    assert any(s[0] == "exception" and "async boom" in s[1] for s in seen)


async def test_close_during_connect(rec: Recorder) -> None:
    accepted = asyncio.Event()

    async def hang(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        accepted.set()
        try:
            await reader.read()  # never answers the upgrade
        finally:
            writer.close()

    server = await asyncio.start_server(hang, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        client = WebsocketClient(ws_urls={"spotPublicV1": f"ws://127.0.0.1:{port}/api"}, **FAST)
        rec.attach(client)
        request = client.subscribe("spot/ticker:BTC_USDT", "spot")
        async with asyncio.timeout(2):
            await accepted.wait()
        await client.close_all()
        with pytest.raises(InvalidState):
            await request
        assert [c["wsKey"] for c in rec.of("close")] == ["spotPublicV1"]
        assert not rec.of("open")
    finally:
        server.close()
        await server.wait_closed()


async def test_connect_timeout(rec: Recorder) -> None:
    async def hang(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            await reader.read()
        finally:
            writer.close()

    server = await asyncio.start_server(hang, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        client = WebsocketClient(
            ws_urls={"spotPublicV1": f"ws://127.0.0.1:{port}/api"}, **{**FAST, "connect_timeout": 0.1}
        )
        rec.attach(client)
        async with client:
            client.subscribe("spot/ticker:BTC_USDT", "spot")
            await rec.wait(lambda: bool(rec.of("reconnect")), 3)
        assert isinstance(rec.of("exception")[0]["error"], ConnectTimeout)
    finally:
        server.close()
        await server.wait_closed()


async def test_close_during_login(sim, rec: Recorder) -> None:
    sim.delay_acks(0.5)
    client = make_client(sim, **CREDS)
    rec.attach(client)
    request = client.subscribe("futures/position", "futures")
    await sim.wait_for(lambda: any('"access"' in f.text for f in sim.received), 3)
    assert client.connections("futuresPrivateV2")[0].state.value == "authenticating"
    await client.close_all()
    with pytest.raises(InvalidState):
        await request
    assert [n for n in rec.names()] == ["open", "close"]
    assert client.connections() == []
    await asyncio.sleep(0.6)  # the login reply, if any, arrives at a closed socket: no event
    assert [n for n in rec.names()] == ["open", "close"]


async def test_close_during_backoff(sim, rec: Recorder) -> None:
    client = make_client(sim, reconnect_delay=5.0, reconnect_max_delay=10.0)
    rec.attach(client)
    await client.subscribe("spot/ticker:BTC_USDT", "spot")
    await sim.drop_connections()
    await rec.wait(lambda: bool(rec.of("reconnect")))
    assert client.connections()[0].state.value == "backoff"
    loop = asyncio.get_running_loop()
    started = loop.time()
    await client.close_all()
    assert loop.time() - started < 1.0
    assert rec.names()[-1] == "close" and not sim.sessions
    # the client can be used again afterwards, with a fresh topic set
    await client.subscribe("spot/trade:BTC_USDT", "spot")
    assert topic_sets(sim, "spotPublicV1") == [{"spot/trade:BTC_USDT"}]
    await client.close_all()


async def test_subscribe_without_await_still_subscribes(sim, rec: Recorder) -> None:
    client = make_client(sim)
    rec.attach(client)
    async with client:
        client.subscribe("spot/ticker:BTC_USDT", "spot")  # fire and forget
        client.subscribe("spot/ticker:NOPE_USDT", "spot")  # fails: reported as an event
        await rec.wait(
            lambda: any("NOPE_USDT" in e["message"] and e.get("topics") for e in rec.of("exception"))
        )
        assert topic_sets(sim, "spotPublicV1") == [{"spot/ticker:BTC_USDT"}]


async def test_no_tasks_or_sockets_survive_close(sim) -> None:
    before = set(asyncio.all_tasks())
    client = make_client(sim, **CREDS)
    client.on("update", lambda p: None)

    async def async_handler(payload: dict[str, Any]) -> None:
        await asyncio.sleep(0)

    client.on("update", async_handler)
    await client.subscribe_topics(["spot/ticker:BTC_USDT", "futures/ticker:BTCUSDT", "futures/position"])
    await asyncio.sleep(0.1)
    assert len(asyncio.all_tasks() - before) >= 4  # three runners + the dispatcher
    await client.close_all()
    await client.close_all()
    assert asyncio.all_tasks() - before == set()
    await sim.wait_for(lambda: not sim.sessions, 2)


def test_request_queued_without_loop_cannot_be_awaited_but_runs_later() -> None:
    client = WebsocketClient()
    request = client.subscribe("spot/ticker:BTC_USDT", "spot")
    assert "queued" in repr(request)
    with pytest.raises(InvalidState):
        request.__await__()
    with pytest.raises(InvalidState):

        async def inside() -> None:
            client.run_forever()

        asyncio.run(inside())


def test_run_forever_from_a_plain_script(tmp_path: Path) -> None:
    script = tmp_path / "script.py"
    script.write_text(
        textwrap.dedent(
            """
            import asyncio, json, sys, threading
            from bitmart_ws import WebsocketClient
            from bitmart_ws.simulator import Simulator, SimulatorConfig

            # the simulator runs in its own thread and loop; the script itself has no asyncio code
            ready = threading.Event()
            urls = {}
            def serve():
                async def main():
                    async with Simulator(SimulatorConfig(cadence=0.05)) as sim:
                        urls.update(sim.urls)
                        ready.set()
                        await asyncio.sleep(30)
                asyncio.run(main())
            threading.Thread(target=serve, daemon=True).start()
            ready.wait(10)

            client = WebsocketClient(ws_urls=urls, ping_interval=0.2, pong_timeout=0.2)
            count = 0

            @client.on("update")
            def on_update(msg):
                global count
                count += 1
                print(json.dumps({"wsKey": msg["wsKey"]}), flush=True)
                if count == 5:
                    client.stop()

            client.on("close", lambda e: print("closed", e["wsKey"], flush=True))
            client.subscribe("spot/ticker:BTC_USDT", "spot")
            client.subscribe_topics(["futures/ticker:BTCUSDT"])
            client.run_forever()
            print("done", flush=True)
            """
        )
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    result = subprocess.run(
        [sys.executable, str(script)], capture_output=True, text=True, timeout=30, env=env, cwd=tmp_path
    )
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[-1] == "done"
    assert len([line for line in lines if line.startswith("{")]) >= 5
    assert sorted(line for line in lines if line.startswith("closed")) == [
        "closed futuresPublicV2",
        "closed spotPublicV1",
    ]
    assert "Traceback" not in result.stderr and "never retrieved" not in result.stderr


def test_stop_outside_run_forever_is_a_clear_error() -> None:
    client = WebsocketClient()
    with pytest.raises(InvalidState, match="run_forever"):
        client.stop()


def test_run_forever_with_timeout_returns() -> None:
    client = WebsocketClient(ws_urls={"spotPublicV1": "ws://127.0.0.1:9/api"}, **FAST)
    closed: list[str] = []
    client.on("close", lambda e: closed.append(e["wsKey"]))
    client.subscribe("spot/ticker:BTC_USDT", "spot")
    client.run_forever(timeout=0.2)
    assert closed == ["spotPublicV1"]


def test_run_forever_stops_on_sigint(tmp_path: Path) -> None:
    script = tmp_path / "sig.py"
    script.write_text(
        textwrap.dedent(
            """
            import os, signal, threading
            from bitmart_ws import WebsocketClient
            client = WebsocketClient(ws_urls={"spotPublicV1": "ws://127.0.0.1:9/api"}, reconnect_delay=0.05,
                                     reconnect_max_delay=0.1)
            client.on("reconnect", lambda e: os.kill(os.getpid(), signal.SIGINT))
            client.on("close", lambda e: print("closed", flush=True))
            client.subscribe("spot/ticker:BTC_USDT", "spot")
            client.run_forever()
            print("done", flush=True)
            """
        )
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    result = subprocess.run(
        [sys.executable, str(script)], capture_output=True, text=True, timeout=20, env=env, cwd=tmp_path
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == ["closed", "done"]


async def test_events_from_an_old_socket_do_not_reach_the_new_one(sim, rec: Recorder) -> None:
    client = make_client(sim)
    rec.attach(client)
    async with client:
        await client.subscribe("spot/ticker:BTC_USDT", "spot")
        conn = client.connections()[0]
        assert conn._transport is not None
        old_transport = conn._transport
        old_listener = old_transport._listener
        await sim.drop_connections()
        await rec.wait(lambda: bool(rec.of("reconnected")))
        assert conn._transport is not old_transport
        # late callbacks of the old socket (a frame, its disconnect) are ignored: detached listener
        old_listener.on_ws_disconnected(old_transport._ws)
        old_listener.on_ws_frame(old_transport._ws, _make_test_ws_frame(WSMsgType.TEXT, b"pong", True, False))
        await asyncio.sleep(0.05)
        assert len(rec.of("reconnect")) == 1 and conn.state.value == "live"
        assert len(sessions_of(sim, "spotPublicV1")) == 1
        n = len(rec.of("update"))
        await rec.wait(lambda: len(rec.of("update")) > n + 2)


async def test_unsubscribe_while_the_subscribe_is_in_flight(sim, rec: Recorder) -> None:
    client = make_client(sim)
    rec.attach(client)
    async with client:
        await client.subscribe("spot/ticker:BTC_USDT", "spot")
        sim.delay_acks(0.2)
        request = client.subscribe("spot/trade:BTC_USDT", "spot")
        await sim.wait_for(lambda: any("spot/trade" in f.text for f in sim.received), 2)
        await client.unsubscribe("spot/trade:BTC_USDT", "spot")
        with pytest.raises(InvalidState):
            await request
        # once the late ack arrives the topic is taken off the socket again
        await sim.wait_for(
            lambda: (
                topic_sets(sim, "spotPublicV1") == [{"spot/ticker:BTC_USDT"}]
                and any('"unsubscribe"' in f.text for f in sim.received)
            ),
            3,
        )
        assert client.subscribed_topics("spotPublicV1") == ["spot/ticker:BTC_USDT"]


async def test_close_all_from_an_async_handler_and_awaiting_callers_see_invalid_state(sim) -> None:
    client = make_client(sim)
    done = asyncio.Event()
    sim.delay_acks(0.3)

    @client.on("open")
    async def on_open(event: dict[str, Any]) -> None:
        await client.close_all()
        done.set()

    with pytest.raises(InvalidState):
        await client.subscribe("spot/ticker:BTC_USDT", "spot")
    async with asyncio.timeout(2):
        await done.wait()
    await client.close_all()
