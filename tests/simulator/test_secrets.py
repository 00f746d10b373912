"""Secrets never reach the simulator's logs, even at DEBUG (where websockets dumps every frame)."""

from __future__ import annotations

import dataclasses
import logging
import time

import pytest
from websockets.asyncio.client import connect

from bitmart_ws.protocol.signing import sign
from bitmart_ws.simulator import Account, Simulator

from .conftest import FAST, Client

CANARY = Account("canary-key", "canary-secret-5f1e2d3c", "canary-memo-9a8b7c")


async def test_no_secret_memo_or_signature_in_debug_logs(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    quiet = logging.getLogger("tests.scripted_client")  # the test's own client must not log the frames
    quiet.setLevel(logging.WARNING)
    stamp = str(int(time.time() * 1000))
    signature = sign(CANARY.api_secret, CANARY.api_memo, stamp)
    async with Simulator(dataclasses.replace(FAST, accounts=(CANARY,))) as sim:
        async with connect(sim.urls["spotPrivateV1"], compression=None, logger=quiet) as ws:
            spot = Client(ws)
            await spot.send({"op": "login", "args": [CANARY.api_key, stamp, signature]})
            assert await spot.recv() == {"event": "login"}
            await spot.send({"op": "subscribe", "args": ["spot/user/balance:BALANCE_UPDATE"]})
            await spot.recv()
        async with connect(sim.urls["futuresPrivateV2"], compression=None, logger=quiet) as ws:
            futures = Client(ws)
            await futures.send({"action": "access", "args": [CANARY.api_key, stamp, signature, "web"]})
            assert await futures.recv() == {"action": "access", "success": True}
        async with connect(sim.urls["spotPrivateV1"], compression=None, logger=quiet) as ws:
            refused = Client(ws)  # a failed login (wrong signature) is logged too
            await refused.send({"op": "login", "args": [CANARY.api_key, stamp, signature[::-1]]})
            assert (await refused.recv())["errorCode"] == "91011"
        await sim.wait_for(lambda: not sim.sessions)
    ours = [r for r in caplog.records if r.name.startswith("bitmart_ws.simulator")]
    assert any(r.levelno == logging.DEBUG and "TEXT" in r.getMessage() for r in ours), "frames logged"
    logged = caplog.text + "\n".join(r.getMessage() for r in caplog.records)
    for secret in (CANARY.api_secret, CANARY.api_memo, signature, signature[::-1]):
        assert secret not in logged
        for start in range(len(secret) - 7):
            assert secret[start : start + 8] not in logged, "a piece of a secret was logged"
