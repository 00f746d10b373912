"""Typed ``async for`` streams with overflow policies, bounded async handlers, and local order books
kept equal to the simulator's own book through gaps, stale versions and reconnects."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from decimal import Decimal
from typing import Any

import pytest

from bitmart_ws import (
    BookInvalidated,
    ConfigurationError,
    StreamOverflow,
    SubscriptionError,
    WebsocketClient,
)
from bitmart_ws.models import Update
from bitmart_ws.models.spot import SpotTicker
from bitmart_ws.simulator import Simulator, SimulatorConfig
from bitmart_ws.streams import Overflow

from ..book.test_simulator_books import sim_view
from .conftest import CREDS, Recorder, make_client, sessions_of

SPOT = "spot/ticker:BTC_USDT"
FUT = "futures/ticker:BTCUSDT"
SPOT_BOOK = "spot/depth/increase100:BTC_USDT"
FUT_BOOK = "futures/depthIncrease20:BTCUSDT"


@pytest.fixture
async def stepped() -> AsyncIterator[Simulator]:
    """No clock: every ``sim.step()`` moves the market once and pushes it to every connection."""
    async with Simulator(SimulatorConfig(cadence=0)) as s:
        yield s


def server_topics(sim: Simulator) -> set[str]:
    return {t for s in sim.sessions for t in s.topics}


# --- streams -------------------------------------------------------------------------------------
async def test_a_stream_yields_typed_values_and_shares_its_subscription(sim: Simulator) -> None:
    client = make_client(sim)
    async with client:
        async with client.stream([SPOT, FUT]) as s1, client.stream([SPOT]) as s2:
            got: dict[str, Any] = {}
            async for update in s1:
                assert isinstance(update, Update)
                got.setdefault(update.topic.partition("@")[0], update)
                if len(got) == 2:
                    break
            ticker = got[SPOT].items[0]
            assert isinstance(ticker, SpotTicker) and isinstance(ticker.last_price, Decimal)
            assert (await anext(s2)).topic == SPOT
            # one subscription per topic on the server, although two streams want SPOT
            assert sorted(t for s in sim.sessions for t in s.topics) == [FUT, SPOT]
            assert s1.stats.delivered >= 2
        await sim.wait_for(lambda: server_topics(sim) == set())  # leaving unsubscribed both


async def test_a_stream_leaves_the_users_own_subscriptions_alone(sim: Simulator) -> None:
    client = make_client(sim)
    async with client:
        await client.subscribe(SPOT, "spot")
        async with client.stream([SPOT]) as s:
            await anext(s)
        assert client.subscribed_topics("spotPublicV1") == [SPOT]
        assert server_topics(sim) == {SPOT}


async def test_a_rejected_topic_fails_entering_and_holds_nothing(sim: Simulator) -> None:
    client = make_client(sim)
    async with client:
        with pytest.raises(SubscriptionError):
            async with client.stream([SPOT, "spot/ticker:NOPE_USDT"]):
                pass
        await sim.wait_for(lambda: server_topics(sim) == set())
        assert client._refs == {} and len(client._router) == 0


async def _fill(sim: Simulator, stream: Any, pushes: int) -> None:
    """Until ``pushes`` pushes have reached the stream while nobody consumes (each push is queued or
    dropped; with overflow=fail the stream has failed)."""
    await sim.wait_for(
        lambda: stream.stats.queued + stream.stats.dropped >= pushes or stream._error is not None, 10
    )


@pytest.mark.parametrize("overflow", [Overflow.DROP_OLDEST, Overflow.KEEP_LATEST])
async def test_dropping_policies_bound_the_queue_and_count(sim: Simulator, overflow: Overflow) -> None:
    client = make_client(sim)
    async with client:
        async with client.stream([SPOT, "spot/ticker:ETH_USDT"], maxsize=3, overflow=overflow) as s:
            await _fill(sim, s, 12)
            stats = s.stats
            assert stats.dropped > 0 and stats.delivered == 0
            limit = 2 if overflow is Overflow.KEEP_LATEST else 3  # one per topic, or maxsize
            assert stats.queued <= limit and stats.high_water <= limit
            first = await anext(s)
            assert s.stats.delivered == 1 and isinstance(first, Update)
            if overflow is Overflow.KEEP_LATEST:
                second = await anext(s)
                assert {first.topic, second.topic} == {SPOT, "spot/ticker:ETH_USDT"}


async def test_fail_policy_ends_the_stream_loudly(sim: Simulator) -> None:
    client = make_client(sim)
    async with client:
        async with client.stream([SPOT], maxsize=2) as s:  # overflow=fail is the default
            await _fill(sim, s, 6)
            with pytest.raises(StreamOverflow) as info:
                async for _ in s:
                    pass
            assert info.value.maxsize == 2


async def test_block_policy_pauses_reading_and_loses_nothing(stepped: Simulator, rec: Recorder) -> None:
    sim = stepped
    client = make_client(sim, pong_timeout=0.2, ping_interval=0.1)
    rec.attach(client)
    async with client:
        # futures increments: every push advances the version by one, a sequence number
        async with client.stream([FUT_BOOK], maxsize=4, overflow="block") as s:
            await sim.step()
            await sim.wait_for(lambda: len(s) >= 1)
            versions: list[int] = []
            steps = 20
            stepper = asyncio.create_task(sim.step(steps, timeout=30))
            await sim.wait_for(lambda: bool(client._pressing), 5)  # the queue filled: reading paused
            assert any("back-pressure" in e["message"] for e in rec.of("exception"))
            async for update in s:
                assert isinstance(update, Update)
                versions.extend(item.version for item in update.items)
                if len(versions) >= steps:
                    break
            await stepper
            assert s.stats.dropped == 0 and s.stats.high_water < 4 + 8  # maxsize + one socket read
            assert versions == sorted(versions) and len(set(versions)) == len(versions)
            assert versions[-1] - versions[0] == len(versions) - 1  # nothing lost, nothing repeated
        assert not rec.of("reconnect")  # the pong deadline waits while reading is paused
        assert not client._pressing


async def test_async_handlers_queue_is_bounded(sim: Simulator) -> None:
    gate = asyncio.Event()
    seen: list[int] = []

    async def slow(update: dict[str, Any]) -> None:
        await gate.wait()
        seen.append(1)

    client = make_client(sim, handler_queue=(5, "drop_oldest"))
    client.on("update", slow)
    async with client:
        await client.subscribe(SPOT, "spot")
        await sim.wait_for(lambda: client._emitter.dropped > 3)
        assert client._emitter.queued <= 5
        gate.set()
        await sim.wait_for(lambda: len(seen) >= 5)
    with pytest.raises(ConfigurationError):
        WebsocketClient(handler_queue=(0, "block"))
    with pytest.raises(ConfigurationError):
        WebsocketClient(handler_queue=(5, "explode"))


async def test_stream_arguments_are_validated() -> None:
    client = WebsocketClient()
    with pytest.raises(ConfigurationError):
        client.stream([SPOT], maxsize=0)
    with pytest.raises(ConfigurationError):
        client.stream([SPOT], overflow="sometimes")
    with pytest.raises(ConfigurationError):
        client.stream(["spot/user/order:BTC_USDT"])  # private without credentials


# --- order books ---------------------------------------------------------------------------------
def assert_equal_to_sim(book: Any, sim: Simulator, topic: str) -> None:
    snap = book.snapshot()
    assert snap.valid
    bids, asks = sim_view(sim, topic)
    assert (snap.bids, snap.asks) == (bids, asks)


async def step_and_settle(sim: Simulator, rec: Recorder) -> None:
    """One market step, and its push has reached the client (a spot heartbeat changes no version)."""
    n = len(rec.of("update"))
    await sim.step()
    await rec.wait(lambda: len(rec.of("update")) > n)


@pytest.mark.parametrize(
    ("market", "symbol", "depth", "topic"),
    [
        ("spot", "BTC_USDT", None, SPOT_BOOK),
        ("futures", "BTCUSDT", 20, FUT_BOOK),
    ],
)
async def test_books_equal_the_simulators_through_faults(
    stepped: Simulator, rec: Recorder, market: str, symbol: str, depth: int | None, topic: str
) -> None:
    sim = stepped
    client = make_client(sim, pong_timeout=5.0)
    rec.attach(client)
    async with client:
        first = asyncio.create_task(client.order_book(market, symbol, depth=depth))
        await sim.wait_for(lambda: topic in server_topics(sim))
        book = await first
        assert book.valid and book.topic == topic
        assert_equal_to_sim(book, sim, topic)
        for _ in range(5):
            await step_and_settle(sim, rec)
            assert_equal_to_sim(book, sim, topic)
        version = book.version
        change = asyncio.create_task(book.changed())
        while book.version == version:
            await step_and_settle(sim, rec)
        await asyncio.wait_for(change, 1)  # readers can await the next change
        # a gap: invalid at once, resynchronised by the real `request`, equal again
        assert sim.inject_gap(topic, 3) == 1
        for _ in range(10):  # the gap shows at the next update that changes the book
            await step_and_settle(sim, rec)
            if not book.valid:
                break
        assert not book.valid
        invalid = [e for e in rec.of("exception") if isinstance(e.get("error"), BookInvalidated)]
        assert invalid[-1]["error"].reason == "gap" and invalid[-1]["topic"] == topic
        while not book.valid:
            await step_and_settle(sim, rec)
        assert_equal_to_sim(book, sim, topic)
        assert any('"request"' in f.text for f in sim.received)
        # a stale version is dropped: the book stays valid and equal
        if sim.inject_stale(topic) == 1:
            await step_and_settle(sim, rec)
            assert_equal_to_sim(book, sim, topic)
        # a reconnect: invalid while down, valid again after the new subscription's snapshot
        await sim.drop_connections()
        await sim.wait_for(lambda: not book.valid)
        await sim.wait_for(lambda: book.valid, 5)
        assert_equal_to_sim(book, sim, topic)
        for _ in range(3):
            await step_and_settle(sim, rec)
            assert_equal_to_sim(book, sim, topic)
        assert book.resyncs >= 2
        await book.close()
        await sim.wait_for(lambda: topic not in server_topics(sim))
        assert not book.valid


async def test_books_of_one_topic_share_one_subscription(sim: Simulator) -> None:
    client = make_client(sim)
    async with client:
        a = await client.order_book("spot", "BTC_USDT")
        b = await client.order_book("spot", "BTC_USDT")
        assert a.version is not None and len(sessions_of(sim, "spotPublicV1")) == 1
        await a.close()
        await a.close()  # idempotent
        assert SPOT_BOOK in server_topics(sim) and b.valid
        await b.close()
        await sim.wait_for(lambda: SPOT_BOOK not in server_topics(sim))


async def test_a_book_of_a_topic_the_user_holds_asks_for_a_snapshot(sim: Simulator) -> None:
    client = make_client(sim)
    async with client:
        await client.subscribe(SPOT_BOOK, "spot")
        book = await client.order_book("spot", "BTC_USDT")  # no new subscribe: a `request` instead
        assert book.valid
        await book.close()
        assert server_topics(sim) == {SPOT_BOOK}  # the user's subscription stays


async def test_book_arguments_and_rejections(sim: Simulator) -> None:
    client = make_client(sim, **CREDS)
    async with client:
        with pytest.raises(ConfigurationError):
            await client.order_book("futures", "BTCUSDT", depth=30)
        with pytest.raises(ConfigurationError):
            await client.order_book("options", "BTCUSDT")
        with pytest.raises(SubscriptionError):
            await client.order_book("spot", "NOPE_USDT")
        assert client._books == {} and client._refs == {}


# --- the router (pure routing and decoding of the update tap) --------------------------------------


class _Taker:
    def __init__(self) -> None:
        self.got: list[Any] = []

    def feed(self, update: Any, now: float) -> None:
        self.got.append(update)

    def connected(self, now: float) -> None: ...

    def disconnected(self, now: float) -> None: ...


async def test_router_memo_follows_consumers_and_decodes_like_the_decoder() -> None:
    from bitmart_ws._router import Router
    from bitmart_ws.models import Decoder

    def ticker(symbol: str) -> dict[str, Any]:
        return {"symbol": symbol, "last_price": "1.5", "open_24h": "1", "high_24h": "2", "low_24h": "1",
                "base_volume_24h": "5", "quote_volume_24h": "5", "fluctuation": "0.1", "bid_px": "1",
                "bid_sz": "1", "ask_px": "2", "ask_sz": "1", "ms_t": 1_700_000_000_000}  # fmt: skip

    decoder = Decoder("float")
    installed: list[bool] = []
    errors: list[str] = []
    router = Router(decoder, lambda text, exc, msg: errors.append(text), installed.append)
    btc, eth, later = _Taker(), _Taker(), _Taker()
    router.add(["spot/ticker:BTC_USDT"], btc)
    router.add(["spot/ticker:ETH_USDT"], eth)
    one = {"table": "spot/ticker", "data": [ticker("BTC_USDT")], "wsKey": "k"}
    both = {"table": "spot/ticker", "data": [ticker("BTC_USDT"), ticker("ETH_USDT")]}
    for msg in (one, one, both):
        router.on_update(msg)
    assert [len(btc.got), len(eth.got)] == [3, 1]
    expected = decoder.decode(one)
    assert [u.topic for u in btc.got] == ["spot/ticker:BTC_USDT"] * 2 + ["spot/ticker"]
    assert btc.got[0].items == expected.items and btc.got[0].ws_key == "k"  # type: ignore[union-attr]
    assert eth.got[0] is btc.got[2]  # one decode per push, shared
    router.remove(["spot/ticker:BTC_USDT"], btc)
    router.on_update(one)  # the memo was forgotten: nobody wants BTC now
    assert len(btc.got) == 3
    router.add(["futures/depth20:BTCUSDT", "spot/ticker:BTC_USDT"], later)
    router.on_update(one)
    router.on_update({"group": "futures/depth20:BTCUSDT@200ms", "data": {"symbol": "BTCUSDT", "way": 1,
                      "ms_t": 1, "depths": [{"price": "1", "vol": "2"}]}})  # fmt: skip
    assert [u.channel for u in later.got] == ["spot/ticker", "futures/depth20"]
    router.on_update({"table": "spot/ticker", "data": [{"symbol": "BTC_USDT"}]})  # malformed: reported
    assert len(errors) == 1 and "spot/ticker" in errors[0] and len(later.got) == 2
    router.remove(["futures/depth20:BTCUSDT", "spot/ticker:BTC_USDT"], later)
    router.remove(["spot/ticker:ETH_USDT"], eth)
    assert installed == [True, False]


async def test_async_handler_queue_keep_latest_and_fail(sim: Simulator, rec: Recorder) -> None:
    gate = asyncio.Event()
    seen: list[str] = []

    async def slow(update: dict[str, Any]) -> None:
        await gate.wait()
        seen.append(update["data"][0]["symbol"])

    client = make_client(sim, handler_queue=(2, "keep_latest"))
    client.on("update", slow)
    async with client:
        await client.subscribe([SPOT, "spot/ticker:ETH_USDT"], "spot")
        await sim.wait_for(lambda: client._emitter.dropped > 4)
        # at most one queued call per topic of that handler (plus the one running)
        assert client._emitter.queued <= 2
        queued_topics = {item[3]["data"][0]["symbol"] for item in client._emitter._items if item is not None}
        assert len(queued_topics) == client._emitter.queued
        gate.set()
        await sim.wait_for(lambda: len(seen) >= 3)

    gate = asyncio.Event()
    failing = make_client(sim, handler_queue=(3, "fail"))
    failing.on("update", slow)
    rec.attach(failing)
    async with failing:
        await failing.subscribe(SPOT, "spot")
        await rec.wait(lambda: any(isinstance(e.get("error"), StreamOverflow) for e in rec.of("exception")))
        assert failing._emitter.dropped >= 3 and failing._emitter.queued <= 3
        gate.set()
