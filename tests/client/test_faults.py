"""Every simulator fault, each followed by full recovery seen from the server side."""

from __future__ import annotations

import asyncio

import pytest

from bitmart_ws import ConnectError, DecodeError, PongTimeout
from bitmart_ws.simulator import Malformed

from .conftest import CREDS, Recorder, make_client, sessions_of, topic_sets, wait_recovered

SPOT = ["spot/ticker:BTC_USDT", "spot/depth5:ETH_USDT"]
FUT = ["futures/ticker:BTCUSDT", "futures/trade:ETHUSDT"]
SPOT_PRIV = ["spot/user/order:BTC_USDT"]
FUT_PRIV = ["futures/position", "futures/asset:USDT"]
ALL_KEYS = ["spotPublicV1", "futuresPublicV2", "spotPrivateV1", "futuresPrivateV2"]


async def _subscribe_everything(client) -> None:
    await client.subscribe_topics(SPOT + FUT + SPOT_PRIV + FUT_PRIV)


async def test_drop_all_connections_recovers(sim, rec: Recorder) -> None:
    client = make_client(sim, **CREDS)
    rec.attach(client)
    async with client:
        await _subscribe_everything(client)
        old = {s.id for s in sim.sessions}
        assert await sim.drop_connections() == 4
        await rec.wait(lambda: len(rec.of("reconnected")) == 4)
        await wait_recovered(sim, client, ALL_KEYS)
        assert not old & {s.id for s in sim.sessions}
        reconnects = rec.of("reconnect")
        assert {r["wsKey"] for r in reconnects} == set(ALL_KEYS)
        assert all(r["code"] == 1006 and r["attempt"] == 1 and 0 < r["delay"] <= 0.02 for r in reconnects)
        done = {r["wsKey"]: r for r in rec.of("reconnected")}
        assert sorted(done["futuresPrivateV2"]["topics"]) == sorted(FUT_PRIV)
        assert all(r["downtime"] > 0 for r in done.values())
        # re-login on every reconnect
        assert len(rec.of("authenticated")) == 4
        # updates flow again on the new sockets
        n = len(rec.of("update"))
        await rec.wait(lambda: len(rec.of("update")) > n + 4)
    assert len(rec.of("open")) == 4  # open once per connection, never again on reconnect


async def test_server_close_with_code(sim, rec: Recorder) -> None:
    client = make_client(sim)
    rec.attach(client)
    async with client:
        await client.subscribe(SPOT, "spot")
        await sim.close_connections(4001, "bye")
        await rec.wait(lambda: bool(rec.of("reconnected")))
        r = rec.of("reconnect")[0]
        assert (r["wsKey"], r["code"], r["reason"], r["attempt"]) == ("spotPublicV1", 4001, "bye", 1)
        await wait_recovered(sim, client, ["spotPublicV1"])


async def test_pong_timeout_reconnects(sim, rec: Recorder) -> None:
    client = make_client(sim, ping_interval=0.05, pong_timeout=0.1)
    rec.attach(client)
    async with client:
        await client.subscribe(SPOT, "spot")
        await client.subscribe(FUT, "futures")
        await asyncio.sleep(0.2)
        assert not rec.of("reconnect")  # pongs answered: no false alarm
        assert any(f.text == "ping" for f in sim.received)
        assert any(f.text == '{"action":"ping"}' for f in sim.received)
        sim.pause_pongs()
        await rec.wait(
            lambda: {r["wsKey"] for r in rec.of("reconnect")} == {"spotPublicV1", "futuresPublicV2"}
        )
        assert all(isinstance(r["error"], PongTimeout) for r in rec.of("reconnect"))
        sim.resume_pongs()
        await wait_recovered(sim, client, ["spotPublicV1", "futuresPublicV2"])


async def test_refused_upgrade_4xx_backs_off_to_max_and_recovers(sim, rec: Recorder) -> None:
    sim.refuse_upgrades(403, count=2)
    client = make_client(sim)
    rec.attach(client)
    async with client:
        await client.subscribe(SPOT, "spot")
        errors = [e for e in rec.of("exception") if isinstance(e.get("error"), ConnectError)]
        assert len(errors) == 2 and errors[0]["error"].status == 403 and "403" in errors[0]["message"]
        assert all("backing off to the maximum delay" in e["message"] for e in errors)
        assert all(r["delay"] >= 0.05 for r in rec.of("reconnect"))  # max delay 0.1, jitter down to 0.05
        assert rec.names().count("open") == 1 and not rec.of("reconnected")
        await wait_recovered(sim, client, ["spotPublicV1"])


async def test_refused_upgrade_5xx_uses_normal_backoff(sim, rec: Recorder) -> None:
    sim.refuse_upgrades(503, count=3)
    client = make_client(sim, reconnect_delay=0.01, reconnect_max_delay=1.0)
    rec.attach(client)
    async with client:
        await client.subscribe(SPOT, "spot")
        delays = [r["delay"] for r in rec.of("reconnect")]
        assert [r["attempt"] for r in rec.of("reconnect")] == [1, 2, 3]
        assert delays[0] <= 0.01 and delays[2] <= 0.04


async def test_backoff_grows_while_down_and_resets_when_live(sim, rec: Recorder) -> None:
    client = make_client(sim, reconnect_delay=0.01, reconnect_max_delay=0.04)
    rec.attach(client)
    async with client:
        await client.subscribe(SPOT, "spot")
        sim.refuse_upgrades(503)
        await sim.drop_connections()
        await rec.wait(lambda: len(rec.of("reconnect")) >= 5)
        caps = [min(0.04, 0.01 * 2 ** (r["attempt"] - 1)) for r in rec.of("reconnect")]
        assert all(c / 2 <= r["delay"] <= c for c, r in zip(caps, rec.of("reconnect"), strict=True))
        sim.clear_refusals()
        await rec.wait(lambda: bool(rec.of("reconnected")))
        await wait_recovered(sim, client, ["spotPublicV1"])
        # A drop soon after recovery keeps backing off: the connection was not stable yet.
        n = len(rec.of("reconnect"))
        await sim.drop_connections()
        await rec.wait(lambda: len(rec.of("reconnect")) > n)
        assert rec.of("reconnect")[n]["attempt"] > 5
        await wait_recovered(sim, client, ["spotPublicV1"])
        # The time under test, not a wait for an event: live for longer than reconnect_max_delay.
        await asyncio.sleep(0.1)
        n = len(rec.of("reconnect"))
        await sim.drop_connections()
        await rec.wait(lambda: len(rec.of("reconnect")) > n)
        assert rec.of("reconnect")[n]["attempt"] == 1  # reset once live and stable again


async def test_rejected_login_on_reconnect_then_recovers(sim, rec: Recorder) -> None:
    client = make_client(sim, **CREDS)
    rec.attach(client)
    async with client:
        await client.subscribe(SPOT_PRIV, "spot")
        sim.reject_logins(1)
        await sim.drop_connections()
        await rec.wait(lambda: bool(rec.of("reconnected")), 5)
        assert len(rec.of("authenticated")) == 2
        await wait_recovered(sim, client, ["spotPrivateV1"])


async def test_delayed_acks_on_resubscribe_close_and_retry(sim, rec: Recorder) -> None:
    client = make_client(sim, ack_timeout=0.3)
    rec.attach(client)
    async with client:
        await client.subscribe(SPOT, "spot")
        sim.delay_acks(1.0)
        await sim.drop_connections()
        await rec.wait(
            lambda: any("resubscription not acknowledged" in e["message"] for e in rec.of("exception"))
        )
        sim.delay_acks(0)
        await rec.wait(lambda: bool(rec.of("reconnected")), 5)
        await wait_recovered(sim, client, ["spotPublicV1"])


@pytest.mark.parametrize("kind", list(Malformed))
async def test_malformed_frames_are_reported_and_the_stream_goes_on(
    sim, rec: Recorder, kind: Malformed
) -> None:
    client = make_client(sim)
    rec.attach(client)
    async with client:
        await client.subscribe(SPOT, "spot")
        await sim.send_malformed(kind)
        if kind is Malformed.EMPTY_DATA:
            await rec.wait(lambda: any(u["data"] == "" for u in rec.of("update")))
        else:
            await rec.wait(lambda: bool(rec.of("exception")))
            exc = rec.of("exception")[0]
            assert isinstance(exc["error"], DecodeError) and exc["message"] and exc["wsKey"] == "spotPublicV1"
        n = len(rec.of("update"))
        await rec.wait(lambda: len(rec.of("update")) > n + 2)
        assert not rec.of("reconnect")


async def test_version_gap_is_delivered_in_order(sim, rec: Recorder) -> None:
    client = make_client(sim)
    rec.attach(client)
    async with client:
        await client.subscribe("spot/depth/increase100:BTC_USDT", "spot")
        await rec.wait(lambda: len(rec.of("update")) >= 3)
        assert sim.inject_gap("spot/depth/increase100:BTC_USDT", 5) == 1
        n = len(rec.of("update"))
        await rec.wait(lambda: len(rec.of("update")) >= n + 3)
    versions = [int(u["data"][0]["version"]) for u in rec.of("update")]
    steps = [b - a for a, b in zip(versions, versions[1:], strict=False)]
    assert any(s >= 6 for s in steps) and all(s >= 0 for s in steps)


async def test_paused_topic_keeps_connection(sim, rec: Recorder) -> None:
    client = make_client(sim)
    rec.attach(client)
    async with client:
        await client.subscribe(SPOT, "spot")
        sim.pause_topic("spot/ticker:BTC_USDT")
        await asyncio.sleep(0.05)
        n = len(rec.of("update"))
        await rec.wait(lambda: len(rec.of("update")) > n + 3)
        assert all(u["table"] != "spot/ticker" for u in rec.of("update")[n + 1 :])
        sim.resume_topic("spot/ticker:BTC_USDT")
        m = len(rec.of("update"))
        await rec.wait(lambda: any(u["table"] == "spot/ticker" for u in rec.of("update")[m:]))
        assert len(sessions_of(sim, "spotPublicV1")) == 1 and not rec.of("reconnect")
        assert topic_sets(sim, "spotPublicV1") == [set(SPOT)]


async def test_mixed_compression_from_the_simulator_keeps_book_versions_in_order(rec: Recorder) -> None:
    from bitmart_ws.simulator import Simulator, SimulatorConfig

    async with Simulator(SimulatorConfig(compress="mixed", cadence=0.01, quiet_probability=0.0)) as sim:
        client = make_client(sim)
        rec.attach(client)
        async with client:
            await client.subscribe(["spot/depth/increase100:BTC_USDT", "spot/ticker:BTC_USDT"], "spot")
            await rec.wait(lambda: len(rec.of("update")) >= 60, 10)
    versions = [
        int(u["data"][0]["version"]) for u in rec.of("update") if u["table"] == "spot/depth/increase100"
    ]
    assert len(versions) > 10
    assert all(b - a in (0, 1) for a, b in zip(versions, versions[1:], strict=False))
