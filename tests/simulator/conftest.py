"""A tiny scripted BitMart client for the simulator tests (deliberately not the library client)."""

from __future__ import annotations

import asyncio
import json
import time
import zlib
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import pytest
from websockets.asyncio.client import ClientConnection, connect

from bitmart_ws.protocol.signing import sign
from bitmart_ws.simulator import DEFAULT_ACCOUNT, Simulator, SimulatorConfig

FAST = SimulatorConfig(cadence=0.02, account_interval=0.05, funding_interval=0.2)


class Client:
    """Scripted client: sends raw frames, decodes replies (inflating binary ones)."""

    def __init__(self, ws: ClientConnection) -> None:
        self.ws = ws
        self.binary_frames = 0
        self.text_frames = 0

    async def send(self, message: Any) -> None:
        await self.ws.send(message if isinstance(message, str) else json.dumps(message))

    async def recv_raw(self, within: float = 2.0) -> str | bytes:
        return await _recv(self.ws, within)

    async def recv(self, within: float = 2.0) -> Any:
        """Next frame decoded: JSON object, or the plain text (``pong``)."""
        raw = await _recv(self.ws, within)
        if isinstance(raw, bytes):
            self.binary_frames += 1
            raw = zlib.decompress(raw, -15).decode()
        else:
            self.text_frames += 1
        if raw == "pong":
            return raw
        return json.loads(raw)

    async def recv_until(self, predicate: Callable[[Any], bool], within: float = 3.0) -> Any:
        """Skip frames until one matches."""
        async with asyncio.timeout(within):
            while True:
                message = await self.recv(within)
                if predicate(message):
                    return message

    async def login_spot(self, account: Any = DEFAULT_ACCOUNT, ts: int | None = None) -> Any:
        stamp = str(ts if ts is not None else int(time.time() * 1000))
        await self.send(
            {
                "op": "login",
                "args": [account.api_key, stamp, sign(account.api_secret, account.api_memo, stamp)],
            }
        )
        return await self.recv_until(lambda m: isinstance(m, dict) and m.get("event") == "login")

    async def access_futures(self, account: Any = DEFAULT_ACCOUNT) -> Any:
        stamp = str(int(time.time() * 1000))
        sig = sign(account.api_secret, account.api_memo, stamp)
        await self.send({"action": "access", "args": [account.api_key, stamp, sig, "web"]})
        return await self.recv_until(lambda m: isinstance(m, dict) and m.get("action") == "access")


async def _recv(ws: ClientConnection, within: float) -> str | bytes:
    async with asyncio.timeout(within):
        return await ws.recv()


def table_of(name: str) -> Callable[[Any], bool]:
    return lambda m: isinstance(m, dict) and m.get("table") == name


def group_of(name: str) -> Callable[[Any], bool]:
    return lambda m: isinstance(m, dict) and m.get("group") == name and "data" in m


@asynccontextmanager
async def client(sim: Simulator, key: str) -> AsyncIterator[Client]:
    async with connect(sim.urls[key], compression=None) as ws:
        yield Client(ws)


@pytest.fixture
async def sim() -> AsyncIterator[Simulator]:
    async with Simulator(FAST) as simulator:
        yield simulator
