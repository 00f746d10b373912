"""Login / access, failure codes, private channels and account activity."""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable

import pytest
from websockets.exceptions import ConnectionClosed

from bitmart_ws.protocol.signing import sign
from bitmart_ws.simulator import DEFAULT_ACCOUNT, Account, AccountStatus, Simulator

from .conftest import FAST, client, group_of, table_of


async def test_spot_login_and_private_channels(sim: Simulator) -> None:
    async with client(sim, "spotPrivateV1") as c:
        await c.send({"op": "subscribe", "args": ["spot/user/order:BTC_USDT"]})
        assert await c.recv() == {
            "event": "subscribe",
            "errorCode": "91006",
            "errorMessage": "User not logged in",
        }
        assert await c.login_spot() == {"event": "login"}
        await sim.wait_for(lambda: sim.sessions[0].authenticated)
        assert sim.sessions[0].api_key == "sim-key"
        topics = ["spot/user/orders:ALL_SYMBOLS", "spot/user/balance:BALANCE_UPDATE"]
        await c.send({"op": "subscribe", "args": topics})
        for topic in topics:
            assert await c.recv() == {"event": "subscribe", "topic": topic}
        order = (await c.recv_until(table_of("spot/user/order"), within=3))["data"][0]
        assert all(isinstance(v, str) for v in order.values())
        assert order["order_state"] in ("new", "partially_filled", "filled")
        assert {"dealFee", "deal_fee_coin_name", "client_order_id", "entrust_type"} <= set(order)
        balance = (await c.recv_until(table_of("spot/user/balance"), within=3))["data"][0]
        assert set(balance) == {"event_type", "event_time", "balance_details"}
        assert set(balance["balance_details"][0]) == {"ccy", "av_bal", "fz_bal"}
        assert c.binary_frames > 0
        assert (await c.login_spot())["errorCode"] == "91005"


def stamp(offset_ms: int = 0) -> str:
    return str(int(time.time() * 1000) + offset_ms)


# built when each test runs: a timestamp taken at collection is stale once the suite has run a minute
CASES: list[tuple[Callable[[], list[str]], str]] = [
    (lambda: ["", stamp(), "x"], "91001"),
    (lambda: ["sim-key", "", "x"], "91021"),
    (lambda: ["sim-key", stamp(), ""], "91010"),
    (lambda: ["sim-key", "12ab", "x"], "91023"),
    (lambda: ["nobody", stamp(), "x"], "91002"),
    (lambda: ["sim-key", stamp(-120_000), sign("sim-secret", "sim-memo", stamp(-120_000))], "91022"),
    (lambda: ["sim-key", stamp(), "0" * 64], "91011"),
]


@pytest.mark.parametrize(("make_args", "code"), CASES, ids=[code for _, code in CASES])
async def test_spot_login_failures_close(
    sim: Simulator, make_args: Callable[[], list[str]], code: str
) -> None:
    async with client(sim, "spotPrivateV1") as c:
        await c.send({"op": "login", "args": make_args()})
        reply = await c.recv()
        assert reply["event"] == "login" and reply["errorCode"] == code and reply["errorMessage"]
        with pytest.raises(ConnectionClosed):
            await c.recv()


FROZEN = Account("frozen-key", "frozen-secret", "frozen-memo", AccountStatus.FROZEN)
EXPIRED = Account("expired-key", "expired-secret", "expired-memo", AccountStatus.EXPIRED)


@pytest.mark.parametrize(
    ("account", "code", "message"),
    [(FROZEN, "91003", "API KEY has frozen"), (EXPIRED, "91004", "API KEY over expire time")],
)
async def test_spot_login_of_a_frozen_or_expired_key(account: Account, code: str, message: str) -> None:
    config = dataclasses.replace(FAST, accounts=(DEFAULT_ACCOUNT, account))
    async with Simulator(config) as sim:
        async with client(sim, "spotPrivateV1") as c:
            assert await c.login_spot(account) == {
                "event": "login",
                "errorCode": code,
                "errorMessage": message,
            }
            with pytest.raises(ConnectionClosed):
                await c.recv()
            assert c.ws.close_code == 1000
        async with client(sim, "spotPrivateV1") as c:  # the signature is checked first
            await c.send({"op": "login", "args": [account.api_key, stamp(), "0" * 64]})
            assert (await c.recv())["errorCode"] == "91011"
        async with client(sim, "futuresPrivateV2") as c:  # futures: the generic access failure
            reply = await c.access_futures(account)
            assert reply["success"] is False
            assert reply["error"] == (
                f"access failed: openapi auth: apiKey {account.api_key[:10]}**** failed: openapi auth failed"
            )
        async with client(sim, "spotPrivateV1") as c:  # the other account is unaffected
            assert await c.login_spot() == {"event": "login"}
        assert not any(s.authenticated and s.api_key == account.api_key for s in sim.sessions)


async def test_numeric_spot_timestamp_accepted_and_clock_offset(sim: Simulator) -> None:
    ts = int(time.time() * 1000)
    async with client(sim, "spotPrivateV1") as c:
        await c.send({"op": "login", "args": ["sim-key", ts, sign("sim-secret", "sim-memo", ts)]})
        assert await c.recv() == {"event": "login"}
    sim.set_clock_offset(-90_000)
    async with client(sim, "spotPrivateV1") as c:
        assert (await c.login_spot())["errorCode"] == "91022"


async def test_ts_window_setting() -> None:
    config = dataclasses.replace(FAST, ts_window_ms=1_000)
    async with Simulator(config) as sim, client(sim, "spotPrivateV1") as c:
        assert (await c.login_spot(ts=int(time.time() * 1000) - 5_000))["errorCode"] == "91022"


async def test_futures_access_and_private_channels() -> None:
    other = Account("k2", "s2", "m2")
    config = dataclasses.replace(FAST, accounts=(DEFAULT_ACCOUNT, other))
    async with Simulator(config) as sim, client(sim, "futuresPrivateV2") as c:
        await c.send({"action": "subscribe", "args": ["futures/order"]})
        assert await c.recv() == {
            "action": "subscribe",
            "group": "futures/order",
            "success": False,
            "error": "futures/order need authenication",
        }
        assert await c.access_futures(other) == {"action": "access", "success": True}
        assert sim.sessions[0].api_key == "k2"
        topics = ["futures/asset:USDT", "futures/position", "futures/order"]
        await c.send({"action": "subscribe", "args": topics})
        asset = (await c.recv_until(group_of("futures/asset:USDT")))["data"]
        assert set(asset) == {"currency", "available_balance", "position_deposit", "frozen_balance"}
        positions = (await c.recv_until(lambda m: group_of("futures/position")(m) and m["data"]))["data"]
        assert positions[0]["position_type"] in (1, 2) and positions[0]["open_type"] == 1
        assert isinstance(positions[0]["create_time"], int)
        order = (await c.recv_until(group_of("futures/order")))["data"][0]
        assert order["action"] == 1 and order["order"]["open_type"] == "isolated"
        assert order["order"]["trigger_price"] == "-" and isinstance(order["order"]["state"], int)
        await c.send({"action": "subscribe", "args": ["futures/asset:DOGE"]})
        reply = await c.recv_until(lambda m: "success" in m)
        assert reply["success"] is False and "not found" in reply["error"]


async def test_futures_access_failures(sim: Simulator) -> None:
    async with client(sim, "futuresPrivateV2") as c:
        ts = stamp()
        await c.send({"action": "access", "args": ["sim-key", ts, "f" * 64, "web"]})
        reply = await c.recv()
        assert reply["action"] == "access" and reply["success"] is False
        assert reply["error"].startswith("access failed: ")
        with pytest.raises(ConnectionClosed):
            await c.recv()
        assert c.ws.close_code == 1000
    async with client(sim, "futuresPrivateV2") as c:  # futures insists on string args
        ts_int = int(time.time() * 1000)
        await c.send(
            {"action": "access", "args": ["sim-key", ts_int, sign("sim-secret", "sim-memo", ts_int), "web"]}
        )
        assert (await c.recv())["success"] is False
