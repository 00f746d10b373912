"""Subscribe / acknowledge / update, spot and futures, public and private, against the simulator."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest

from bitmart_ws import (
    AckTimeout,
    ConfigurationError,
    InvalidTopic,
    MissingCredentials,
    SubscriptionError,
    WebsocketClient,
    WsKey,
)

from .conftest import CREDS, Recorder, frames_with, make_client, sessions_of, topic_sets


async def test_spot_public_subscribe_ack_update(sim, rec: Recorder) -> None:
    client = make_client(sim)
    rec.attach(client)
    async with client:
        await client.subscribe(["spot/ticker:BTC_USDT", "spot/depth5:ETH_USDT"], "spot")
        # resolved only once acknowledged: the server already holds both topics
        assert topic_sets(sim, "spotPublicV1") == [{"spot/ticker:BTC_USDT", "spot/depth5:ETH_USDT"}]
        assert {r["topic"] for r in rec.of("response")} == {"spot/ticker:BTC_USDT", "spot/depth5:ETH_USDT"}
        assert all(r["event"] == "subscribe" and r["wsKey"] == "spotPublicV1" for r in rec.of("response"))
        await rec.wait(lambda: {u["table"] for u in rec.of("update")} == {"spot/ticker", "spot/depth5"})
    update = next(u for u in rec.of("update") if u["table"] == "spot/ticker")
    assert set(update) == {"table", "data", "wsKey"}
    assert isinstance(update["data"], list) and update["data"][0]["symbol"] == "BTC_USDT"
    assert rec.of("open") == [{"wsKey": "spotPublicV1", "url": sim.urls["spotPublicV1"], "shard": 0}]
    assert rec.names()[0] == "open" and rec.names()[-1] == "close"
    assert rec.of("close")[0]["wsKey"] == "spotPublicV1"
    assert not rec.of("exception")
    assert not rec.of("reconnect")


async def test_futures_public_subscribe_ack_update(sim, rec: Recorder) -> None:
    client = make_client(sim)
    rec.attach(client)
    async with client:
        await client.subscribe(["futures/ticker:BTCUSDT", "futures/depth5:ETHUSDT"], "futures")
        assert topic_sets(sim, "futuresPublicV2") == [{"futures/ticker:BTCUSDT", "futures/depth5:ETHUSDT"}]
        responses = rec.of("response")
        assert {r["group"] for r in responses} == {"futures/ticker:BTCUSDT", "futures/depth5:ETHUSDT"}
        assert all(r["success"] is True and r["wsKey"] == "futuresPublicV2" for r in responses)
        await rec.wait(lambda: len({u["group"] for u in rec.of("update")}) == 2)
    update = rec.of("update")[0]
    assert set(update) == {"group", "data", "wsKey"} and isinstance(update["data"], dict)


async def test_private_spot_and_futures(sim, rec: Recorder) -> None:
    client = make_client(sim, **CREDS)
    rec.attach(client)
    async with client:
        await client.subscribe("spot/user/balance:BALANCE_UPDATE", "spot")
        await client.subscribe(["futures/asset:USDT", "futures/position"], "futures")
        assert [s.authenticated for s in sessions_of(sim, "spotPrivateV1")] == [True]
        assert topic_sets(sim, "futuresPrivateV2") == [{"futures/asset:USDT", "futures/position"}]
        await rec.wait(
            lambda: {u["wsKey"] for u in rec.of("update")} == {"spotPrivateV1", "futuresPrivateV2"}
        )
    auth = {a["wsKey"]: a for a in rec.of("authenticated")}
    assert auth["spotPrivateV1"] == {"event": "login", "wsKey": "spotPrivateV1"}
    assert auth["futuresPrivateV2"] == {"action": "access", "success": True, "wsKey": "futuresPrivateV2"}
    # per connection: open, then authenticated, then the responses
    names = [n for n, p in rec.events if p.get("wsKey") == "futuresPrivateV2" and n != "update"]
    assert names[:3] == ["open", "authenticated", "response"]
    assert not rec.of("exception")


async def test_public_topic_forced_private(sim) -> None:
    client = make_client(sim, **CREDS)
    async with client:
        await client.subscribe("futures/ticker:BTCUSDT", "futures", is_private=True)
        assert topic_sets(sim, "futuresPrivateV2") == [{"futures/ticker:BTCUSDT"}]
        assert not sessions_of(sim, "futuresPublicV2")


async def test_duplicate_and_concurrent_subscribes_send_once(sim) -> None:
    client = make_client(sim)
    async with client:
        await asyncio.gather(
            client.subscribe("spot/ticker:BTC_USDT", "spot"),
            client.subscribe(["spot/ticker:BTC_USDT", "spot/ticker:BTC_USDT"], "spot"),
        )
        await client.subscribe("spot/ticker:BTC_USDT", "spot")
        assert len(frames_with(sim, "spot/ticker:BTC_USDT")) == 1


async def test_unsubscribe(sim, rec: Recorder) -> None:
    client = make_client(sim)
    rec.attach(client)
    async with client:
        await client.subscribe(["spot/ticker:BTC_USDT", "spot/trade:BTC_USDT"], "spot")
        await client.unsubscribe("spot/trade:BTC_USDT", "spot")
        assert topic_sets(sim, "spotPublicV1") == [{"spot/ticker:BTC_USDT"}]
        assert [r["topic"] for r in rec.of("response") if r["event"] == "unsubscribe"] == [
            "spot/trade:BTC_USDT"
        ]
        # never subscribed: nothing is sent
        await client.unsubscribe("spot/trade:ETH_USDT", "spot")
        await client.unsubscribe_topics(["futures/ticker"])
        assert not frames_with(sim, "spot/trade:ETH_USDT")
        assert not sessions_of(sim, "futuresPublicV2")
        assert client.subscribed_topics("spotPublicV1") == ["spot/ticker:BTC_USDT"]


async def test_rejected_topics_raise_and_accepted_stay(sim, rec: Recorder) -> None:
    client = make_client(sim)
    rec.attach(client)
    async with client:
        with pytest.raises(SubscriptionError) as info:
            await client.subscribe(["spot/ticker:BTC_USDT", "spot/ticker:NOPE_USDT"], "spot")
        assert info.value.rejected == {"spot/ticker:NOPE_USDT": ("92001", "Invalid symbol param")}
        assert "spot/ticker:NOPE_USDT" in str(info.value) and "92001" in str(info.value)
        assert info.value.accepted == ("spot/ticker:BTC_USDT",)
        assert client.subscribed_topics("spotPublicV1") == ["spot/ticker:BTC_USDT"]
        exc = [e for e in rec.of("exception") if e.get("topic") == "spot/ticker:NOPE_USDT"]
        assert exc and isinstance(exc[0]["error"], SubscriptionError) and "92001" in exc[0]["message"]
        with pytest.raises(SubscriptionError) as finfo:
            await client.subscribe("futures/ticker:NOPEUSDT", "futures")
        assert list(finfo.value.rejected) == ["futures/ticker:NOPEUSDT"]


async def test_invalid_topics_fail_before_anything_is_sent(sim) -> None:
    client = make_client(sim)
    async with client:
        with pytest.raises(InvalidTopic):
            client.subscribe(["spot/ticker:BTC_USDT", "spot/ticker:btc_usdt"], "spot")
        with pytest.raises(InvalidTopic):
            client.subscribe("futures/ticker:BTC_USDT", "futures")
        with pytest.raises(InvalidTopic):
            client.subscribe("spot/ticker:BTC_USDT", "futures")
        with pytest.raises(InvalidTopic):
            client.subscribe_topics(["nope/ticker"])
        with pytest.raises(MissingCredentials):
            client.subscribe("spot/user/order:BTC_USDT", "spot")
        with pytest.raises(MissingCredentials):
            client.subscribe_topics(["futures/ticker", "futures/position"])
        with pytest.raises(InvalidTopic):
            client.subscribe("futures/position", "futures", is_private=False)
        await asyncio.sleep(0.05)
        assert sim.sessions == [] and sim.received == []


async def test_ack_timeout(sim) -> None:
    client = make_client(sim, ack_timeout=0.3)
    async with client:
        await client.subscribe("spot/ticker:BTC_USDT", "spot")
        sim.delay_acks(1.0)
        with pytest.raises(AckTimeout) as info:
            await client.subscribe("spot/ticker:ETH_USDT", "spot")
        assert info.value.topics == ("spot/ticker:ETH_USDT",)


def test_constructor_validation() -> None:
    with pytest.raises(MissingCredentials):
        WebsocketClient(api_key="k")
    with pytest.raises(ConfigurationError):
        WebsocketClient(ws_urls={"nope": "ws://x"})
    with pytest.raises(ConfigurationError):
        WebsocketClient(ws_urls={WsKey.SPOT_PUBLIC_V1: "http://x"})
    with pytest.raises(ConfigurationError):
        WebsocketClient(reconnect_delay=5, reconnect_max_delay=1)
    with pytest.raises(ConfigurationError):
        WebsocketClient(recv_window=120)
    client = WebsocketClient(ws_urls={"spotPublicV1": "ws://h/api"}, demo_trading=True)
    assert client.url_for("spotPublicV1") == "ws://h/api"
    assert client.url_for(WsKey.FUTURES_PUBLIC_V2).startswith("wss://openapi-wsdemo-v2")
    assert "secret" not in repr(WebsocketClient(**CREDS)) and "sim-secret" not in repr(
        WebsocketClient(**CREDS)
    )


def test_on_off_and_unknown_events() -> None:
    client = WebsocketClient()
    seen: list[object] = []

    @client.on("update")
    def handler(payload: object) -> None:
        seen.append(payload)

    assert handler.__name__ == "handler"
    assert client.on("open", handler) is handler
    with pytest.raises(ConfigurationError):
        client.on("message", handler)
    with pytest.raises(ConfigurationError):
        client.on("bogus")
    client.off("update", handler)
    client._emitter.emit("update", {"x": 1})
    client._emitter.emit("open", {"y": 1})
    assert seen == [{"y": 1}]


async def test_connect_all(sim, rec: Recorder) -> None:
    client = make_client(sim, **CREDS)
    rec.attach(client)
    async with client:
        await client.connect_all()
        keys = {"spotPublicV1", "spotPrivateV1", "futuresPublicV2", "futuresPrivateV2"}
        assert {o["wsKey"] for o in rec.of("open")} == keys
        assert {a["wsKey"] for a in rec.of("authenticated")} == {"spotPrivateV1", "futuresPrivateV2"}
        assert len(sim.sessions) == 4
    assert {c["wsKey"] for c in rec.of("close")} == keys


async def test_connect_all_without_credentials_opens_public_only(sim) -> None:
    client = make_client(sim)
    async with client:
        await client.connect_all()
        assert sorted(s.path for s in sim.sessions) == ["/api", "/api"]


async def test_close_one_key_forgets_topics(sim, rec: Recorder) -> None:
    client = make_client(sim)
    rec.attach(client)
    async with client:
        await client.subscribe("spot/ticker:BTC_USDT", "spot")
        await client.subscribe("futures/ticker:BTCUSDT", "futures")
        await client.close("spotPublicV1")
        await client.close(WsKey.SPOT_PUBLIC_V1)  # idempotent
        await sim.wait_for(lambda: not sessions_of(sim, "spotPublicV1"), 2)
        assert client.subscribed_topics("spotPublicV1") == []
        assert [c["wsKey"] for c in rec.of("close")] == ["spotPublicV1"]
        await client.subscribe("spot/trade:BTC_USDT", "spot")
        assert topic_sets(sim, "spotPublicV1") == [{"spot/trade:BTC_USDT"}]
        assert topic_sets(sim, "futuresPublicV2") == [{"futures/ticker:BTCUSDT"}]
        assert len(rec.of("open")) == 3
    await client.close_all()  # idempotent


async def test_update_payload_is_the_message_as_sent(sim) -> None:
    seen: list[dict[str, Any]] = []
    client = make_client(sim)
    client.on("update", seen.append)
    async with client:
        await client.subscribe("futures/ticker:BTCUSDT", "futures")
        async with asyncio.timeout(3):
            while not seen:  # noqa: ASYNC110
                await asyncio.sleep(0.01)
    # futures per-symbol ticker group comes back with the server's @100ms suffix, untouched
    assert seen[0]["group"].startswith("futures/ticker:BTCUSDT")
    json.dumps({k: v for k, v in seen[0].items()})
