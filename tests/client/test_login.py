"""Login success and each failure: bad signature, unknown key (stop), timestamp out of range (retry)."""

from __future__ import annotations

import asyncio

import pytest

from bitmart_ws import AuthenticationError
from bitmart_ws.protocol.signing import sign

from .conftest import CREDS, Recorder, make_client, sessions_of, topic_sets


async def test_login_sends_a_valid_signature_and_no_secret(sim, rec: Recorder) -> None:
    client = make_client(sim, **CREDS)
    rec.attach(client)
    async with client:
        await client.subscribe("spot/user/order:BTC_USDT", "spot")
        login = next(f.text for f in sim.received if '"login"' in f.text)
        _, ts, signature = __import__("json").loads(login)["args"]
        assert signature == sign("sim-secret", "sim-memo", ts)
        # timestamp is now (+ time_offset), not shifted into the future by recv_window
        assert abs(int(ts) - __import__("time").time() * 1000) < 2000
    for _, payload in rec.events:
        assert "sim-secret" not in repr(payload) and signature not in repr(payload)


async def test_custom_signer_and_time_offset(sim) -> None:
    calls: list[tuple[str, str]] = []

    def signer(message: str, secret: str) -> str:
        calls.append((message, secret))
        ts, memo, _ = message.split("#")
        return sign(secret, memo, ts)

    client = make_client(sim, sign_message=signer, time_offset=30.0, **CREDS)
    async with client:
        await client.subscribe("futures/position", "futures")
    ((message, secret),) = calls
    assert secret == "sim-secret" and message.endswith("#sim-memo#bitmart.WebSocket")
    assert int(message.split("#")[0]) > (__import__("time").time() + 25) * 1000


async def test_bad_signature_backs_off_and_never_emits_authenticated(sim, rec: Recorder) -> None:
    client = make_client(sim, api_key="sim-key", api_secret="wrong", api_memo="sim-memo", ack_timeout=1.0)
    rec.attach(client)
    async with client:
        request = client.subscribe("spot/user/order:BTC_USDT", "spot")
        await rec.wait(lambda: len(rec.of("reconnect")) >= 2, 5)
        with pytest.raises(AuthenticationError):
            await request
        assert not rec.of("authenticated")
        failures = [e for e in rec.of("exception") if isinstance(e.get("error"), AuthenticationError)]
        assert failures and "91011" in failures[0]["message"] and "sim-secret" not in failures[0]["message"]
        # refused logins wait the maximum delay (0.1 s in these tests: [0.05, 0.1])
        assert all(r["delay"] >= 0.05 for r in rec.of("reconnect"))


async def test_unknown_key_stops_the_key_for_good(sim, rec: Recorder) -> None:
    client = make_client(sim, api_key="nobody", api_secret="x", api_memo="y")
    rec.attach(client)
    async with client:
        with pytest.raises(AuthenticationError) as info:
            await client.subscribe("futures/order", "futures", is_private=None)
        with pytest.raises(AuthenticationError) as spot_info:
            await client.subscribe("spot/user/order:BTC_USDT", "spot")
        assert spot_info.value.code == "91002"
        with pytest.raises(AuthenticationError):  # stopped: fails at once
            await client.subscribe("spot/user/balance:BALANCE_UPDATE", "spot")
        attempts = sim.stats.connection_attempts
        stopped = [e for e in rec.of("exception") if e.get("stopped")]
        assert stopped and "will not retry" in stopped[0]["message"]
        await asyncio.sleep(0.3)
        # spot stopped: no retry; the futures key (no code, "access failed") keeps backing off
        spot_attempts = [e for e in rec.of("reconnect") if e["wsKey"] == "spotPrivateV1"]
        assert spot_attempts == []
        assert not sessions_of(sim, "spotPrivateV1")
        assert attempts >= 2
        assert not rec.of("authenticated")
    assert info.value is not None


async def test_timestamp_out_of_range_is_retried_and_recovers(sim, rec: Recorder) -> None:
    sim.set_clock_offset(120_000)
    client = make_client(sim, **CREDS)
    rec.attach(client)
    async with client:
        with pytest.raises(AuthenticationError) as info:
            await client.subscribe("spot/user/balance:BALANCE_UPDATE", "spot")
        assert info.value.code == "91022"
        sim.set_clock_offset(0)
        # the topic stayed desired: the retry (after the maximum delay) logs in and subscribes it
        await sim.wait_for(
            lambda: topic_sets(sim, "spotPrivateV1") == [{"spot/user/balance:BALANCE_UPDATE"}], 3
        )
        assert topic_sets(sim, "spotPrivateV1") == [{"spot/user/balance:BALANCE_UPDATE"}]
        assert [a["wsKey"] for a in rec.of("authenticated")] == ["spotPrivateV1"]


async def test_rejected_login_then_accepted(sim, rec: Recorder) -> None:
    sim.reject_logins(2)
    client = make_client(sim, **CREDS)
    rec.attach(client)
    async with client:
        with pytest.raises(AuthenticationError):
            await client.subscribe(["futures/asset:USDT", "futures/order"], "futures")
        want = [{"futures/asset:USDT", "futures/order"}]
        await sim.wait_for(lambda: topic_sets(sim, "futuresPrivateV2") == want, 3)
        await rec.wait(lambda: len(rec.of("response")) == 2)
        assert len([e for e in rec.of("exception") if isinstance(e.get("error"), AuthenticationError)]) == 2
        assert len(rec.of("authenticated")) == 1
        assert len(sessions_of(sim, "futuresPrivateV2")) == 1
