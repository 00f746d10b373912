"""The edges the sans-I/O session fixed, end to end against the simulator, scripted peers and proxies."""

from __future__ import annotations

import asyncio
import json
import logging
import socket
import zlib
from typing import Any

import pytest

from bitmart_ws import (
    AckTimeout,
    ConfigurationError,
    ConnectError,
    MessageTooBig,
    SubscriptionError,
    WebsocketClient,
)
from bitmart_ws.simulator import Simulator

from ..transport.proxies import HttpProxy, Socks5Proxy
from .conftest import CREDS, FAST, Recorder, make_client, sessions_of, wait_recovered
from .test_lifecycle import scripted_peer

SPOT = "spot/ticker:BTC_USDT"


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# --- 1. fragmented messages ------------------------------------------------------------------------
async def test_fragmented_pushes_are_reassembled(rec: Recorder) -> None:
    push = json.dumps({"table": "spot/ticker", "data": [{"symbol": "BTC_USDT", "last_price": "1"}]})
    deflated = zlib.compressobj(wbits=-15)
    binary = deflated.compress(push.encode()) + deflated.flush()

    async def script(ws: Any) -> None:
        async for raw in ws:
            msg = json.loads(raw) if raw != "ping" else {}
            if msg.get("op") == "subscribe":
                await ws.send(json.dumps({"event": "subscribe", "topic": SPOT}))
                await ws.send([push[:10], push[10:20], push[20:]])  # one text message, three frames
                await ws.send([binary[:5], binary[5:]])  # one binary message, two frames

    async for url in scripted_peer(script):
        client = WebsocketClient(ws_urls={"spotPublicV1": url}, **FAST)
        rec.attach(client)
        async with client:
            await client.subscribe(SPOT, "spot")
            await rec.wait(lambda: len(rec.of("update")) == 2)
    assert [u["data"][0]["last_price"] for u in rec.of("update")] == ["1", "1"]
    assert not rec.of("exception")


# --- 2. the ack wait starts when the frame is sent; a dead URL fails with its cause ---------------
async def test_a_slow_upgrade_does_not_eat_the_ack_timeout(sim: Simulator) -> None:
    sim.delay_upgrades(0.6)
    client = make_client(sim, ack_timeout=0.4)
    async with client:
        await client.subscribe(SPOT, "spot")  # the upgrade alone takes longer than ack_timeout
        assert sessions_of(sim, "spotPublicV1")[0].topics == (SPOT,)


async def test_a_dead_url_fails_the_subscribe_with_the_connection_error() -> None:
    url = f"ws://127.0.0.1:{_closed_port()}/api"
    client = WebsocketClient(ws_urls={"spotPublicV1": url}, **{**FAST, "ack_timeout": 0.3})
    loop = asyncio.get_running_loop()
    started = loop.time()
    async with client:
        with pytest.raises(ConnectError) as info:
            await client.subscribe(SPOT, "spot")
    assert loop.time() - started < 2.0
    assert f"cannot connect to {url}" in str(info.value) and "not sent" in str(info.value)
    assert isinstance(info.value.__cause__, ConnectError)


# --- 3. BitMart's spot rejections name no topic ---------------------------------------------------
async def test_a_topicless_rejection_fails_promptly_naming_the_topic(sim: Simulator) -> None:
    client = make_client(sim, ack_timeout=5.0)
    loop = asyncio.get_running_loop()
    async with client:
        started = loop.time()
        with pytest.raises(SubscriptionError) as info:
            await client.subscribe([SPOT, "spot/ticker:NOPE_USDT", "spot/depth5:BTC_USDT"], "spot")
        assert loop.time() - started < 2.0
        assert set(info.value.rejected) == {"spot/ticker:NOPE_USDT"}
        assert info.value.rejected["spot/ticker:NOPE_USDT"][0] == "92001"
        assert set(info.value.accepted) == {SPOT, "spot/depth5:BTC_USDT"}
        await wait_recovered(sim, client, ["spotPublicV1"])


# --- 5. an error escaping the driver is reported and the connection restarts ---------------------
async def test_an_unexpected_error_is_reported_and_the_connection_recovers(
    sim: Simulator, rec: Recorder, caplog: Any
) -> None:
    calls: list[int] = []

    def flaky_signer(message: str, secret: str) -> str:
        import hashlib
        import hmac

        calls.append(1)
        if len(calls) == 1:
            raise RuntimeError("signer exploded")
        return hmac.new(secret.encode(), message.encode(), hashlib.sha256).hexdigest()

    client = make_client(sim, sign_message=flaky_signer, **CREDS)
    rec.attach(client)
    caplog.set_level(logging.ERROR, logger="bitmart_ws.client")
    async with client:
        await client.subscribe("spot/user/order:BTC_USDT", "spot")
        await wait_recovered(sim, client, ["spotPrivateV1"])
    (report,) = [e for e in rec.of("exception") if "signer exploded" in e["message"]]
    assert isinstance(report["error"], RuntimeError) and report["wsKey"] == "spotPrivateV1"
    assert any(r.exc_info and "signer exploded" in str(r.exc_info[1]) for r in caplog.records)
    assert rec.of("authenticated") and rec.of("reconnect")


# --- 6. max_message_size bounds inflated and reassembled messages ---------------------------------
@pytest.mark.parametrize("key", ["spotPublicV1", "futuresPublicV2"])
async def test_oversized_messages_are_dropped_and_the_connection_stays(
    sim: Simulator, rec: Recorder, key: str
) -> None:
    client = make_client(sim, max_message_size=64 * 1024)
    rec.attach(client)
    topic = SPOT if key.startswith("spot") else "futures/ticker:BTCUSDT"
    async with client:
        await client.subscribe_topics(topic)
        # spot: 8 MiB inflated from a few KiB of deflate; futures: a 200 KiB text frame (a single
        # frame beyond 4 x max_message_size is refused by the transport itself, with close code 1009)
        await sim.send_oversized(8 * 2**20 if key.startswith("spot") else 200 * 1024)
        await rec.wait(lambda: bool(rec.of("exception")))
        (event,) = rec.of("exception")
        assert isinstance(event["error"], MessageTooBig) and event["error"].limit == 64 * 1024
        n = len(rec.of("update"))
        await rec.wait(lambda: len(rec.of("update")) > n + 2)
        assert not rec.of("reconnect")
    with pytest.raises(ConfigurationError):
        WebsocketClient(max_message_size=10)


# --- 7. close reports the code exchanged -----------------------------------------------------------
async def test_close_waits_for_the_servers_close_frame(sim: Simulator, rec: Recorder) -> None:
    client = make_client(sim)
    rec.attach(client)
    async with client:
        await client.subscribe(SPOT, "spot")
    (event,) = rec.of("close")
    assert (event["code"], event["reason"]) == (1000, "closed by client")  # echoed by the server
    await sim.wait_for(lambda: not sim.sessions)


# --- proxies ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("proxy_type", [HttpProxy, Socks5Proxy])
async def test_every_connection_goes_through_the_proxy(
    sim: Simulator, rec: Recorder, proxy_type: type[HttpProxy] | type[Socks5Proxy]
) -> None:
    async with proxy_type(credentials=("alice", "pa:ss@word")) as proxy:
        client = make_client(sim, proxy=proxy.url("alice", "pa%3Ass%40word"), **CREDS)
        rec.attach(client)
        async with client:
            await client.subscribe_topics([SPOT, "futures/position"])
            await rec.wait(lambda: len(rec.of("update")) > 3)
            assert repr(client).find("pa:ss") < 0 and "word" not in repr(client._settings)
        assert len(proxy.seen.targets) == 2 and proxy.seen.auth == ["ok", "ok"]
    texts = [str(payload) for _, payload in rec.events]
    assert not any("pa:ss@word" in t or "pa%3Ass%40word" in t for t in texts)


async def test_a_proxy_that_refuses_fails_the_subscribe_with_a_clear_error(sim: Simulator) -> None:
    async with HttpProxy(credentials=("alice", "right")) as proxy:
        client = make_client(sim, proxy=proxy.url("alice", "wrong"), ack_timeout=0.3)
        async with client:
            with pytest.raises(ConnectError) as info:
                await client.subscribe(SPOT, "spot")
    assert "407" in str(info.value) and "wrong" not in str(info.value)


def test_proxy_and_ssl_options_are_validated() -> None:
    import ssl

    with pytest.raises(ConfigurationError):
        WebsocketClient(proxy="ftp://host:21")
    unverified = ssl.create_default_context()
    unverified.check_hostname = False
    unverified.verify_mode = ssl.CERT_NONE
    with pytest.raises(ConfigurationError):
        WebsocketClient(ssl_context=unverified)


# --- issue 11: close_all during a request spanning several keys leaves nothing behind ------------
async def test_close_all_during_a_paced_multi_key_request_leaves_no_connection(sim: Simulator) -> None:
    client = make_client(sim, rate_limit=(4, 1.0))
    topics = [f"spot/ticker:{s}_USDT" for s in ("BTC", "ETH")] + ["futures/ticker:BTCUSDT"]
    request = client.subscribe_topics(topics * 1)  # no await: the work starts now
    more = [client.subscribe(f"spot/kline{i}:BTC_USDT", "spot") for i in ("1m", "5m", "15m", "30m")]
    await asyncio.sleep(0)
    await client.close_all()
    for r in (request, *more):
        with pytest.raises(Exception):  # noqa: B017 - ended by close_all (InvalidState or a connect error)
            await r
    assert client.connections() == []
    await sim.wait_for(lambda: not sim.sessions)
    await asyncio.sleep(0.3)  # the time under test: nothing may reconnect during it
    assert not sim.sessions and client.connections() == []


async def test_ack_timeout_while_live_names_the_topic(sim: Simulator) -> None:
    client = make_client(sim, ack_timeout=0.3, pong_timeout=5.0)
    async with client:
        await client.subscribe(SPOT, "spot")
        sim.delay_acks(1.0)
        with pytest.raises(AckTimeout) as info:
            await client.subscribe("spot/ticker:ETH_USDT", "spot")
        assert info.value.topics == ("spot/ticker:ETH_USDT",)
        assert "of sending" in str(info.value)
        sim.delay_acks(0)
        await wait_recovered(sim, client, ["spotPublicV1"])


async def test_log_lines_name_the_connection_once(sim: Simulator, caplog: Any) -> None:
    caplog.set_level(logging.INFO, logger="bitmart_ws.client")
    client = make_client(sim, ack_timeout=0.3, pong_timeout=5.0)
    async with client:
        await client.subscribe(SPOT, "spot")
        sim.delay_acks(1.0)
        await sim.drop_connections()
        await sim.wait_for(lambda: any("not acknowledged" in r.getMessage() for r in caplog.records))
        sim.delay_acks(0)
        await wait_recovered(sim, client, ["spotPublicV1"])
    lines = [r.getMessage() for r in caplog.records if "spotPublicV1#0" in r.getMessage()]
    assert any("resubscription not acknowledged" in line for line in lines)
    assert all(line.count("spotPublicV1#0") == 1 for line in lines), lines
