"""At most 20 topics per frame, connection topic limits (sharding) and message pacing."""

from __future__ import annotations

import json

from bitmart_ws.protocol.topics import CHANNELS, ArgKind, parse_topic, route
from bitmart_ws.simulator import Simulator, SimulatorConfig

from .conftest import CREDS, Recorder, make_client, sessions_of, topic_sets, wait_recovered

SYMBOLS = ("BTC_USDT", "ETH_USDT")


def spot_public_topics() -> list[str]:
    out = []
    for name, spec in CHANNELS.items():
        if spec.market.value == "spot" and not spec.is_private:
            out += [f"{name}:{s}" for s in SYMBOLS]
    return out


def subscribe_frames(sim: Simulator) -> list[list[str]]:
    out = []
    for f in sim.received:
        if f.text.startswith("{"):
            msg = json.loads(f.text)
            if msg.get("op", msg.get("action")) == "subscribe":
                out.append(msg["args"])
    return out


async def test_25_topics_go_as_20_plus_5(sim, rec: Recorder) -> None:
    topics = spot_public_topics()[:25]
    assert len(topics) == 25
    client = make_client(sim)
    rec.attach(client)
    async with client:
        await client.subscribe(topics, "spot")
        assert [len(f) for f in subscribe_frames(sim)] == [20, 5]
        assert [t for f in subscribe_frames(sim) for t in f] == topics
        assert topic_sets(sim, "spotPublicV1") == [set(topics)]
        assert len(rec.of("response")) == 25


async def test_sharding_spreads_topics_over_connections(sim, rec: Recorder) -> None:
    topics = spot_public_topics()[:25]
    client = make_client(sim, max_topics={"spotPublicV1": 10})
    rec.attach(client)
    async with client:
        await client.subscribe(topics, "spot")
        sets = topic_sets(sim, "spotPublicV1")
        assert [len(s) for s in sets] == [10, 10, 5]
        assert set().union(*sets) == set(topics)
        assert sorted(o["shard"] for o in rec.of("open")) == [0, 1, 2]
        # each shard recovers its own share after a drop
        await sim.drop_connections()
        await rec.wait(lambda: len(rec.of("reconnected")) == 3)
        await wait_recovered(sim, client, ["spotPublicV1"])
        assert [len(s) for s in topic_sets(sim, "spotPublicV1")] == [10, 10, 5]
        # unsubscribing frees room that the next topics reuse (no fourth connection)
        await client.unsubscribe(topics[:3], "spot")
        await client.subscribe(spot_public_topics()[25:28], "spot")
        assert len(sessions_of(sim, "spotPublicV1")) == 3
        assert sum(len(s) for s in topic_sets(sim, "spotPublicV1")) == 25


async def test_default_limit_is_respected_by_the_server() -> None:
    # the simulator enforces 5 topics per public connection; the client is told the same limit
    async with Simulator(SimulatorConfig(max_public_topics=5, cadence=0.2)) as sim:
        client = make_client(sim, max_topics={"spotPublicV1": 5})
        async with client:
            await client.subscribe(spot_public_topics()[:12], "spot")
            assert [len(s) for s in topic_sets(sim, "spotPublicV1")] == [5, 5, 2]


async def test_rate_limit_paces_frames() -> None:
    # server allows 6 messages per 0.5 s (then closes with 90007); the client budget is 4 per 0.5 s
    # (the same kind of margin the default 90-per-10 s budget keeps under BitMart's 100)
    async with Simulator(
        SimulatorConfig(spot_rate_limit=6, rate_window=0.5, max_topics_per_request=20)
    ) as sim:
        client = make_client(sim, rate_limit=(4, 0.5), ping_interval=0.05, pong_timeout=0.5)
        rec = Recorder()
        rec.attach(client)
        async with client:
            topics = spot_public_topics()[:30]
            await client.subscribe(topics[:2], "spot")
            # 14 separate requests on the live connection, plus pings every 50 ms
            requests = [client.subscribe(topics[i : i + 2], "spot") for i in range(2, 30, 2)]
            for request in requests:
                await request
            assert topic_sets(sim, "spotPublicV1") == [set(topics)]
            times = [f.time for f in sim.received]
            assert not rec.of("reconnect")
            for i, t in enumerate(times):
                assert len([u for u in times[i:] if u < t + 0.5]) <= 6
            assert times[-1] - times[0] >= 1.5  # 15+ messages at 4 per 0.5 s take time


def test_every_registry_channel_routes_to_its_key() -> None:
    for name, spec in CHANNELS.items():
        topic = _example(name, spec)
        parsed, key = route(topic)
        assert key.market is spec.market and key.is_private is spec.is_private, topic
        assert parsed.text == topic


def _example(name: str, spec) -> str:
    symbol = "BTC_USDT" if spec.market.value == "spot" else "BTCUSDT"
    if spec.arg is ArgKind.NONE:
        return name
    if spec.arg is ArgKind.FIXED:
        return f"{name}:{sorted(spec.values)[0]}"
    return f"{name}:{symbol}"


async def test_every_channel_lands_on_its_key_on_the_server(sim) -> None:
    topics = [_example(n, s) for n, s in CHANNELS.items()]
    client = make_client(sim, **CREDS)
    async with client:
        await client.subscribe_topics(topics)
        for topic in topics:
            parsed = parse_topic(topic)
            _, key = route(parsed)
            holders = [s for s in sim.sessions if topic in s.topics]
            assert len(holders) == 1, topic
            assert holders[0].market is key.market and holders[0].is_private is key.is_private, topic
