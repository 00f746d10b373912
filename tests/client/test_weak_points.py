"""Proofs for the reference client's weak points (docs/weak-points.md) not covered elsewhere."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import socket
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

from bitmart_ws import (
    AuthenticationError,
    ConfigurationError,
    ConnectError,
    ConnectTimeout,
    LoginTimeout,
    WebsocketClient,
)
from bitmart_ws.exceptions import ProtocolError, StaleTopic
from bitmart_ws.protocol.registry import LiveState

from .conftest import (
    CREDS,
    FAST,
    Recorder,
    frames_with,
    make_client,
    sessions_of,
    topic_sets,
    wait_recovered,
)
from .test_lifecycle import scripted_peer

ROOT = Path(__file__).resolve().parents[2]


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# --- W1: a login interrupted by a drop, or never answered, is sent again on the next socket ------
async def test_drop_before_the_login_reply_logs_in_again(sim, rec: Recorder) -> None:
    sim.delay_acks(0.4)  # delays pongs too: a long pong timeout keeps them out of the way
    client = make_client(sim, pong_timeout=5.0, **CREDS)
    rec.attach(client)
    async with client:
        request = client.subscribe("futures/position", "futures")
        await sim.wait_for(lambda: len(frames_with(sim, '"access"')) == 1, 3)
        assert await sim.drop_connections() == 1
        sim.delay_acks(0)
        await request  # acknowledged on the second socket, after a fresh login
        assert len(frames_with(sim, '"access"')) == 2
        await wait_recovered(sim, client, ["futuresPrivateV2"])
        assert [s.authenticated for s in sessions_of(sim, "futuresPrivateV2")] == [True]
    assert rec.names().count("authenticated") == 1
    assert [n for n in rec.names() if n != "update"][:2] == ["open", "reconnect"]
    # `open` was emitted once; the recovery is reported as `reconnected`
    (done,) = rec.of("reconnected")
    assert done["topics"] == ["futures/position"] and done["downtime"] > 0


async def test_unanswered_login_times_out_and_is_retried(sim, rec: Recorder) -> None:
    sim.delay_acks(1.0)
    client = make_client(sim, ack_timeout=0.3, pong_timeout=5.0, **CREDS)
    rec.attach(client)
    async with client:
        client.subscribe("spot/user/order:BTC_USDT", "spot")
        await rec.wait(lambda: any(isinstance(e.get("error"), LoginTimeout) for e in rec.of("exception")))
        sim.delay_acks(0)
        await rec.wait(lambda: bool(rec.of("reconnected")), 5)
        await wait_recovered(sim, client, ["spotPrivateV1"])
    timeout = next(e for e in rec.of("exception") if isinstance(e.get("error"), LoginTimeout))
    assert "no login reply" in timeout["message"] and timeout["wsKey"] == "spotPrivateV1"
    assert len(frames_with(sim, '"login"')) >= 2 and len(rec.of("authenticated")) == 1


# --- W6: transport errors are readable `exception` events, never `response` ----------------------
async def test_refused_tcp_connection_is_a_readable_exception(rec: Recorder) -> None:
    url = f"ws://127.0.0.1:{_closed_port()}/api"
    client = WebsocketClient(ws_urls={"spotPublicV1": url}, **FAST)
    rec.attach(client)
    async with client:
        client.subscribe("spot/ticker:BTC_USDT", "spot")
        await rec.wait(lambda: len(rec.of("reconnect")) >= 2)
    errors = rec.of("exception")
    assert errors and all(isinstance(e["error"], ConnectError) for e in errors)
    assert all(e["message"].startswith(f"cannot connect to {url}") for e in errors)
    assert all(e["wsKey"] == "spotPublicV1" and e["url"] == url for e in errors)
    first = rec.of("reconnect")[0]
    assert (first["code"], first["attempt"]) == (1006, 1) and "cannot connect" in first["reason"]
    assert first["delay"] > 0 and isinstance(first["error"], ConnectError)
    assert not rec.of("response") and not rec.of("open")


# --- W10: a raising handler of any event disturbs nothing ---------------------------------------
async def test_raising_handlers_of_every_lifecycle_event_disturb_nothing(sim, rec: Recorder) -> None:
    client = make_client(sim, **CREDS)
    rec.attach(client)
    names = ("open", "authenticated", "response", "reconnect", "reconnected", "close")

    def boom(name: str) -> Any:
        def handler(payload: dict[str, Any]) -> None:
            raise RuntimeError(f"boom in {name}")

        return handler

    for name in names:
        client.on(name, boom(name))
    async with client:
        await client.subscribe("futures/position", "futures")
        await client.subscribe("spot/user/order:BTC_USDT", "spot")
        await client.subscribe("spot/ticker:BTC_USDT", "spot")
        await sim.drop_connections()
        await rec.wait(lambda: len(rec.of("reconnected")) == 3)
        await wait_recovered(sim, client, ["futuresPrivateV2", "spotPrivateV1", "spotPublicV1"])
        assert all(s.authenticated for s in sim.sessions if s.is_private)
        n = len(rec.of("update"))
        await rec.wait(lambda: len(rec.of("update")) > n + 2)
    await sim.wait_for(lambda: not sim.sessions, 2)
    failed = [e for e in rec.of("exception") if "boom in" in e["message"]]
    assert {e["event"] for e in failed} == set(names)
    assert all(isinstance(e["error"], RuntimeError) for e in failed)
    assert len(rec.of("reconnect")) == 3  # one per drop: no extra reconnect caused by a handler


# --- W8: opt-in per-topic staleness watchdog -----------------------------------------------------
async def test_stale_topic_is_reported_and_resubscribed_on_the_same_connection(sim, rec: Recorder) -> None:
    client = make_client(sim, stale_timeout=0.5)
    rec.attach(client)
    spot = ["spot/ticker:BTC_USDT", "spot/depth5:ETH_USDT"]
    async with client:
        await client.subscribe(spot, "spot")
        # the futures ticker group arrives as "futures/ticker:BTCUSDT@100ms": the suffix is stripped
        await client.subscribe("futures/ticker:BTCUSDT", "futures")
        await asyncio.sleep(1.0)
        assert not rec.of("exception")  # steady pushes keep every topic fresh
        sessions = {s.id for s in sim.sessions}
        sim.pause_topic("spot/ticker:BTC_USDT")
        sim.pause_topic("futures/ticker:BTCUSDT")
        await rec.wait(
            lambda: (
                {e.get("topic") for e in rec.of("exception")}
                >= {"spot/ticker:BTC_USDT", "futures/ticker:BTCUSDT"}
            )
        )
        sim.resume_topic("spot/ticker:BTC_USDT")
        sim.resume_topic("futures/ticker:BTCUSDT")
        await sim.wait_for(lambda: len(frames_with(sim, '"unsubscribe"')) >= 2, 3)
        await wait_recovered(sim, client, ["spotPublicV1", "futuresPublicV2"])
        m = len(rec.of("update"))
        await rec.wait(lambda: any(u.get("table") == "spot/ticker" for u in rec.of("update")[m:]))
        await rec.wait(
            lambda: any(u.get("group", "").startswith("futures/ticker") for u in rec.of("update")[m:])
        )
        assert {s.id for s in sim.sessions} == sessions and not rec.of("reconnect")
        assert topic_sets(sim, "spotPublicV1") == [set(spot)]
    stale = [e for e in rec.of("exception") if e.get("topic")]
    assert {e["topic"] for e in stale} == {"spot/ticker:BTC_USDT", "futures/ticker:BTCUSDT"}
    assert all(
        isinstance(e["error"], StaleTopic) and e["error"].topic == e["topic"] in e["message"] for e in stale
    )
    # unsubscribe then subscribe, for the stale topic only
    spot_frames = [json.loads(t) for t in frames_with(sim, "spot/ticker:BTC_USDT")]
    assert [f["op"] for f in spot_frames][:3] == ["subscribe", "unsubscribe", "subscribe"]
    assert not any("spot/depth5" in t for t in frames_with(sim, '"unsubscribe"'))


async def test_stale_watchdog_is_off_by_default_and_validated(sim) -> None:
    with pytest.raises(ConfigurationError):
        WebsocketClient(stale_timeout=0)
    client = make_client(sim)
    async with client:
        await client.subscribe("spot/ticker:BTC_USDT", "spot")
        conn = client.connections()[0]
        # no per-topic bookkeeping on the hot path: pushes go straight to the emitter
        assert conn.session.fresh is None and conn._stamp is None


# --- W12: re-subscribing while the unsubscribe is in flight ------------------------------------
async def test_subscribe_again_before_the_unsubscribe_ack(sim, rec: Recorder) -> None:
    topic = "spot/ticker:BTC_USDT"
    client = make_client(sim, pong_timeout=5.0)
    rec.attach(client)
    async with client:
        await client.subscribe(topic, "spot")
        sim.delay_acks(0.2)
        unsubscribe = client.unsubscribe(topic, "spot")
        await sim.wait_for(lambda: bool(frames_with(sim, '"unsubscribe"')), 2)
        await client.subscribe(topic, "spot")  # acknowledged although the unsubscribe came first
        await unsubscribe
        assert topic_sets(sim, "spotPublicV1") == [{topic}]
        assert client.connections()[0].registry.live_state(topic) is LiveState.SUBSCRIBED
        assert [json.loads(t)["op"] for t in frames_with(sim, topic)] == [
            "subscribe",
            "unsubscribe",
            "subscribe",
        ]


async def test_unsubscribe_of_never_subscribed_topics_sends_nothing(sim) -> None:
    client = make_client(sim, **CREDS)
    async with client:
        await client.subscribe("spot/ticker:BTC_USDT", "spot")
        n = len(sim.received)
        await client.unsubscribe(["spot/ticker:ETH_USDT", "spot/depth5:BTC_USDT"], "spot")
        await client.unsubscribe_topics(["futures/position", "spot/user/order:BTC_USDT"])
        await asyncio.sleep(0.05)
        assert [f.text for f in sim.received[n:] if f.text != "ping"] == []
        assert {s.path for s in sim.sessions} == {"/api"}  # no connection opened for them


# --- W17: payloads are the message as sent, plus wsKey ----------------------------------------
async def test_unusual_messages_keep_their_content(rec: Recorder) -> None:
    async def script(ws: Any) -> None:
        async for raw in ws:
            msg = json.loads(raw)
            if msg.get("action") == "subscribe":
                for t in msg["args"]:
                    await ws.send(json.dumps({"action": "subscribe", "group": t, "success": True}))
                await ws.send("[1, 2]")
                await ws.send('{"group":"futures/ticker","data":{"symbol":"BTCUSDT"},"action":null}')
                await ws.send('{"foo":"bar"}')
                await ws.send('{"group":"System","data":"pong"}')
                await ws.send('{"success":false,"error":"bad things"}')

    async for url in scripted_peer(script):
        client = WebsocketClient(ws_urls={"futuresPublicV2": url}, **FAST)
        rec.attach(client)
        async with client:
            await client.subscribe("futures/ticker", "futures")
            await rec.wait(lambda: len(rec.of("exception")) == 3)
    # `update` carries data pushes only, exactly as sent plus wsKey
    assert rec.of("update") == [
        {
            "group": "futures/ticker",
            "data": {"symbol": "BTCUSDT"},
            "action": None,
            "wsKey": "futuresPublicV2",
        },
    ]
    # anything else is reported with the message as it arrived, never handed to update handlers
    unknown_list, unknown_dict, server = rec.of("exception")
    assert unknown_list["raw"] == [1, 2] and "unrecognised message" in unknown_list["message"]
    assert unknown_dict["raw"] == {"foo": "bar"} and isinstance(unknown_dict["error"], ProtocolError)
    assert "bad things" in server["message"] and server["error"].raw == {
        "success": False,
        "error": "bad things",
    }


# --- secrets: never in an event, a log line (DEBUG), a repr or an exception message ---------------
async def test_no_secret_in_events_logs_reprs_or_errors(sim, rec: Recorder, caplog: Any) -> None:
    caplog.set_level(logging.DEBUG)
    client = make_client(sim, **CREDS)
    wrong = make_client(sim, api_key="sim-key", api_secret="wrong-secret-42", api_memo="sim-memo")
    rec.attach(client)
    rec.attach(wrong)
    async with client, wrong:
        await client.subscribe_topics(["spot/user/order:BTC_USDT", "futures/position"])
        await sim.drop_connections()
        await rec.wait(lambda: len(rec.of("reconnected")) == 2)
        with pytest.raises(AuthenticationError) as info:
            await wrong.subscribe("spot/user/order:BTC_USDT", "spot")
        reprs = [repr(client), repr(wrong), *map(repr, client.connections() + wrong.connections())]
        reprs += [repr(client._settings), repr(wrong._settings), repr(info.value), str(info.value)]
    signatures = [
        json.loads(t)["args"][2] for t in frames_with(sim, '"login"') + frames_with(sim, '"access"')
    ]
    assert len(signatures) >= 5
    # ours: bitmart_ws.* and picows.bitmart_ws.transport.* (not the simulator's own lines)
    ours = [r for r in caplog.records if "bitmart_ws" in r.name and "simulator" not in r.name]
    assert any(r.levelno <= logging.INFO for r in ours)  # the capture really is verbose
    logs = [
        r.getMessage() + (logging.Formatter().formatException(r.exc_info) if r.exc_info else "") for r in ours
    ]
    texts = logs + reprs
    for _, payload in rec.events:
        texts.append(repr(payload))
        error = payload.get("error")
        if isinstance(error, BaseException):
            texts += [str(error), repr(vars(error))]
    for secret in ("sim-secret", "wrong-secret-42", *signatures):
        leaks = [t for t in texts if secret in t]
        assert not leaks, (secret, leaks[:3])


# --- connect_all: gives up waiting (not connecting) after its limit -----------------------------
async def test_connect_all_times_out_and_keeps_retrying(rec: Recorder) -> None:
    port = _closed_port()
    urls = {k: f"ws://127.0.0.1:{port}/api" for k in ("spotPublicV1", "futuresPublicV2")}
    client = WebsocketClient(ws_urls=urls, **{**FAST, "connect_timeout": 0.1, "ack_timeout": 0.1})
    rec.attach(client)
    loop = asyncio.get_running_loop()
    started = loop.time()
    async with client:
        with pytest.raises(ConnectTimeout):
            await client.connect_all()
        assert loop.time() - started < 1.0
        n = len(rec.of("reconnect"))
        await rec.wait(lambda: len(rec.of("reconnect")) > n)  # still retrying in the background
        assert {c.key.value for c in client.connections()} == {"spotPublicV1", "futuresPublicV2"}
    assert {c["wsKey"] for c in rec.of("close")} == {"spotPublicV1", "futuresPublicV2"}


# --- a process using the client exits promptly: no task, no non-daemon thread, no socket left ---
def test_process_exits_promptly_with_nothing_left(tmp_path: Path) -> None:
    script = tmp_path / "exit.py"
    script.write_text(
        textwrap.dedent(
            """
            import asyncio, gc, threading, time
            from bitmart_ws import WebsocketClient
            from bitmart_ws.simulator import Simulator, SimulatorConfig, DEFAULT_ACCOUNT

            async def main():
                async with Simulator(SimulatorConfig(cadence=0.05)) as sim:
                    before = set(asyncio.all_tasks())
                    client = WebsocketClient(
                        ws_urls=sim.urls, ping_interval=0.1, pong_timeout=0.5,
                        api_key=DEFAULT_ACCOUNT.api_key, api_secret=DEFAULT_ACCOUNT.api_secret,
                        api_memo=DEFAULT_ACCOUNT.api_memo, stale_timeout=1.0,
                    )
                    async def on_update(msg):
                        await asyncio.sleep(0)
                    client.on("update", on_update)
                    await client.subscribe_topics(
                        ["spot/ticker:BTC_USDT", "futures/ticker:BTCUSDT", "futures/position"]
                    )
                    await asyncio.sleep(0.3)
                    await client.close_all()
                    left = [t for t in asyncio.all_tasks() - before if not t.done()]
                    threads = [t.name for t in threading.enumerate()
                               if not t.daemon and t is not threading.main_thread()]
                    print("left", len(left), "threads", threads, flush=True)
                    await sim.wait_for(lambda: not sim.sessions, 2)
                print("closed", time.monotonic(), flush=True)

            asyncio.run(main())
            """
        )
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    started = __import__("time").monotonic()
    result = subprocess.run(
        [sys.executable, "-X", "dev", str(script)],
        capture_output=True,
        text=True,
        timeout=30,
        env=env,
        cwd=tmp_path,
    )
    ended = __import__("time").monotonic()
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == "left 0 threads []", lines
    closed_at = float(lines[1].split()[1])
    assert ended - closed_at < 3.0 and ended - started < 20
    assert "Traceback" not in result.stderr and "ResourceWarning" not in result.stderr
    assert "never retrieved" not in result.stderr and "was destroyed" not in result.stderr
