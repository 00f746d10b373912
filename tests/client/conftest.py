"""Fixtures: a simulator on 127.0.0.1 and a client pointed at it, with short timings."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

import pytest

from bitmart_ws import WebsocketClient
from bitmart_ws.simulator import DEFAULT_ACCOUNT, Simulator, SimulatorConfig

FAST: dict[str, Any] = {
    "ping_interval": 0.2,
    "pong_timeout": 0.2,
    "reconnect_delay": 0.02,
    "reconnect_max_delay": 0.1,
    "ack_timeout": 2.0,
    "connect_timeout": 2.0,
    "connect_rate": (10_000, 60.0),  # tests reconnect far more often than BitMart allows per minute
}
CREDS: dict[str, Any] = {
    "api_key": DEFAULT_ACCOUNT.api_key,
    "api_secret": DEFAULT_ACCOUNT.api_secret,
    "api_memo": DEFAULT_ACCOUNT.api_memo,
}


@dataclass
class Recorder:
    """Records every event of a client, in order."""

    events: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    changed: asyncio.Event = field(default_factory=asyncio.Event)

    def attach(self, client: WebsocketClient) -> None:
        for name in (
            "open",
            "update",
            "reconnect",
            "reconnected",
            "authenticated",
            "response",
            "exception",
            "close",
        ):
            client.on(name, self._make(name))

    def _make(self, name: str) -> Callable[[dict[str, Any]], None]:
        def handler(payload: dict[str, Any]) -> None:
            self.events.append((name, payload))
            self.changed.set()

        return handler

    def of(self, name: str) -> list[dict[str, Any]]:
        return [p for n, p in self.events if n == name]

    def names(self) -> list[str]:
        return [n for n, _ in self.events]

    async def wait(self, predicate: Callable[[], bool], timeout: float = 5.0) -> None:  # noqa: ASYNC109
        async with asyncio.timeout(timeout):
            while not predicate():
                self.changed.clear()
                await self.changed.wait()


def make_client(sim: Simulator, **options: Any) -> WebsocketClient:
    opts: dict[str, Any] = {**FAST, "ws_urls": sim.urls}
    opts.update(options)
    return WebsocketClient(**opts)


@pytest.fixture
async def sim() -> AsyncIterator[Simulator]:
    async with Simulator(SimulatorConfig(cadence=0.05, account_interval=0.1)) as s:
        yield s


@pytest.fixture
def rec() -> Recorder:
    return Recorder()


@pytest.fixture(autouse=True)
async def no_leaked_tasks() -> AsyncIterator[None]:
    """After each test (and after the simulator fixture closed), no task it created is left."""
    before = set(asyncio.all_tasks())
    yield
    for _ in range(3):
        await asyncio.sleep(0)
    leaked = [t for t in asyncio.all_tasks() - before if t is not asyncio.current_task() and not t.done()]
    assert not leaked, f"leaked tasks: {leaked}"


def sessions_of(sim: Simulator, key: str) -> list[Any]:
    """The simulator's live sessions serving ``key`` (by market and path)."""
    from bitmart_ws import WsKey

    k = WsKey(key)
    return [s for s in sim.sessions if s.market is k.market and s.path == k.path]


def _order(sets: Any) -> list[set[str]]:
    return sorted((set(s) for s in sets), key=lambda s: (-len(s), sorted(s)))


def topic_sets(sim: Simulator, key: str) -> list[set[str]]:
    return _order(s.topics for s in sessions_of(sim, key))


def frames_with(sim: Simulator, needle: str) -> list[str]:
    return [f.text for f in sim.received if needle in f.text]


def expected_sets(client: Any, key: str) -> list[set[str]]:
    return _order(c.registry.desired for c in client.connections(key) if len(c.registry))


async def wait_recovered(sim: Simulator, client: Any, keys: list[str], timeout: float = 5.0) -> None:  # noqa: ASYNC109
    """Until the server holds exactly the desired topics on exactly one session per shard of each key."""

    def ok() -> bool:
        for key in keys:
            conns = client.connections(key)
            if len(sessions_of(sim, key)) != len(conns):
                return False
            if topic_sets(sim, key) != _order(c.registry.desired for c in conns):
                return False
            if any(c.state.value != "live" for c in conns):
                return False
        return True

    await sim.wait_for(ok, timeout)
