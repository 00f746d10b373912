"""The websockets hook the simulator relies on, determinism by seed, realistic market values, the channel
table and the per-dialect clocks."""

from __future__ import annotations

import dataclasses
import inspect
import re
from typing import Any

import pytest
from websockets.asyncio.server import ServerConnection, serve
from websockets.frames import Frame, Opcode
from websockets.protocol import State
from websockets.server import ServerProtocol

from bitmart_ws.protocol.keys import Market
from bitmart_ws.protocol.topics import CHANNELS
from bitmart_ws.simulator import Simulator, SimulatorConfig
from bitmart_ws.simulator.channels import CHANNEL_TABLE, Cadence, Channel, First
from bitmart_ws.simulator.market import IncrementalStream, SymbolMarket, instrument_for
from bitmart_ws.simulator.wire import SimConnection, SimProtocol

from .conftest import Client, client


def test_sim_protocol_hook() -> None:
    """Fails loudly if websockets changes what the simulator builds on (see ``SimProtocol``)."""
    assert "create_connection" in inspect.signature(serve).parameters
    assert issubclass(SimConnection, ServerConnection)
    assert "recv_frame" in vars(ServerProtocol) or hasattr(ServerProtocol, "recv_frame")
    seen: list[Opcode] = []
    answer = True
    proto = SimProtocol(state=State.OPEN)
    proto.frame_hook = lambda frame: seen.append(frame.opcode)
    proto.answer_ping = lambda _frame: answer
    ping = Frame(Opcode.PING, b"hi").serialize(mask=True)
    proto.receive_data(ping)
    assert b"".join(proto.data_to_send()) == b"\x8a\x02hi"  # the automatic PONG
    answer = False
    proto.receive_data(ping)
    assert proto.data_to_send() == []  # suppressed
    assert seen == [Opcode.PING, Opcode.PING]
    assert [e.opcode for e in proto.events_received()] == [Opcode.PING]  # type: ignore[union-attr]


async def test_sim_connection_keeps_the_settings_serve_gave() -> None:
    given = ServerProtocol(max_size=1234, subprotocols=None, extensions=None)

    class _FakeServer:
        pass

    conn = SimConnection(given, _FakeServer(), ping_interval=None)  # type: ignore[arg-type]
    assert isinstance(conn.protocol, SimProtocol) and conn.protocol is not given
    assert conn.protocol.max_message_size == 1234
    assert conn.protocol.state is State.CONNECTING


_TIME_KEYS = {"ms_t", "s_t", "ts", "created_at", "fundingTime", "nextFundingTime", "event_time"}


def _timeless(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _timeless(v) for k, v in value.items() if k not in _TIME_KEYS}
    if isinstance(value, list):
        if value and isinstance(value[0], int) and len(value) == 6:  # a spot candle
            return ["T", *value[1:]]
        return [_timeless(v) for v in value]
    return value


SPOT = [
    "spot/ticker:BTC_USDT",
    "spot/depth/increase100:ETH_USDT",
    "spot/trade:BTC_USDT",
    "spot/kline1W:BTC_USDT",
]
FUT = [
    "futures/depthIncrease20:BTCUSDT",
    "futures/trade:ETHUSDT",
    "futures/bookticker:BTCUSDT",
    "futures/klineBin1W:ETHUSDT",
    "futures/ticker",
]


async def _drain(c: Client, ping: Any, is_pong: Any) -> list[Any]:
    await c.send(ping)
    frames = []
    while not is_pong(message := await c.recv()):
        frames.append(message)
    return frames


async def _first_frames(seed: int) -> list[Any]:
    config = SimulatorConfig(seed=seed, cadence=0, compress="mixed")
    async with (
        Simulator(config) as sim,
        client(sim, "spotPublicV1") as s,
        client(sim, "futuresPublicV2") as f,
    ):
        await s.send({"op": "subscribe", "args": SPOT})
        await f.send({"action": "subscribe", "args": FUT})
        await sim.wait_for(lambda: sum(len(x.topics) for x in sim.sessions) == len(SPOT) + len(FUT))
        await sim.step(8)
        frames = await _drain(s, "ping", lambda m: m == "pong")
        frames += await _drain(f, {"action": "ping"}, lambda m: m.get("group") == "System")
        assert s.binary_frames and s.text_frames
        return [_timeless(m) for m in frames]


async def test_same_seed_same_frames() -> None:
    first = await _first_frames(5)
    assert len(first) > 8 * (len(SPOT) + len(FUT)) // 2
    assert first == await _first_frames(5)
    assert first != await _first_frames(6)


async def test_manual_clock_moves_only_on_step() -> None:
    async with Simulator(SimulatorConfig(cadence=0)) as sim:
        assert sim.ticks == 0
        await sim.step(3)  # with no session, it does not wait
        assert sim.ticks == 3


def test_market_values_are_realistic() -> None:
    created = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.(\d{3})\d{6}Z")
    for market, symbol in ((Market.SPOT, "BTC_USDT"), (Market.FUTURES, "ETHUSDT")):
        m = SymbolMarket(instrument_for(symbol, market, 3), 3)
        stream = IncrementalStream(20, 100, advance_on_empty=market is Market.FUTURES)
        version, *_ = stream.snapshot(m)
        for step in range(300):
            now = 1_700_000_000_000 + step * 500
            m.step(now)
            assert m.best_bid < m.best_ask
            assert m.low_24h <= m.last_price <= m.high_24h
            new_version, asks, bids = stream.update(m)
            assert new_version - version in ((0, 1) if market is Market.SPOT else (1,))
            version = new_version
            assert all(size >= 0 for _, size in asks + bids)
            if market is Market.SPOT:
                depth = m.spot_depth(20, now)
                asks_px = [float(p) for p, _ in depth["asks"]]
                bids_px = [float(p) for p, _ in depth["bids"]]
                assert asks_px == sorted(asks_px) and bids_px == sorted(bids_px, reverse=True)
                assert all(float(s) > 0 for _, s in depth["asks"] + depth["bids"])
                ts, o, h, low, c, v = m.spot_kline("1m", now)["candle"]
                assert ts % 60 == 0 and float(low) <= min(float(o), float(c)) <= float(h) and float(v) >= 0
                for t in m.spot_trades():
                    assert float(t["size"]) > 0 and t["s_t"] == t["ms_t"] // 1000
            else:
                ticker = m.futures_ticker()
                assert float(ticker["bid_price"]) < float(ticker["ask_price"])
                trades = m.futures_trades()
                assert [t["created_at"] for t in trades] == sorted(
                    (t["created_at"] for t in trades), reverse=True
                )
                for t in trades:
                    match = created.fullmatch(t["created_at"])
                    assert match is not None and int(t["deal_vol"]) > 0
                    assert (t["way"] <= 4) is (not t["m"])  # way 1-4: taker bought, so the buyer is no maker
                item = m.futures_kline("1H", now)["items"][0]
                assert item["ts"] % 3600 == 0 and float(item["l"]) <= float(item["c"]) <= float(item["h"])


def test_config_defaults_follow_the_matrix() -> None:
    cfg = SimulatorConfig()
    assert (cfg.max_topics_per_request, cfg.max_public_topics, cfg.max_private_topics) == (20, 115, 100)
    assert (cfg.spot_rate_limit, cfg.rate_window, cfg.max_args_bytes) == (100, 10.0, 4096)
    assert (cfg.idle_timeout, cfg.spot_lifeless_timeout, cfg.futures_lifeless_timeout) == (20.0, 300.0, 0.0)
    assert (cfg.ts_window_ms, cfg.futures_max_frame_bytes, cfg.futures_ping_interval) == (60_000, 2048, 55.0)
    assert (cfg.position_interval, cfg.funding_interval, cfg.ticker_group_suffix) == (10.0, 60.0, "@100ms")
    assert cfg.futures_max_connections_per_ip == 500 and cfg.connect_rate_limit is None
    assert dataclasses.replace(cfg, compress="never").compress == "never"


def test_channel_table_covers_the_registry() -> None:
    assert set(CHANNEL_TABLE) == set(CHANNELS)
    books = {name for name, ch in CHANNEL_TABLE.items() if ch.first is First.SNAPSHOT}
    assert books == {n for n, spec in CHANNELS.items() if spec.requestable and "epth" in n}
    assert all(
        not spec.is_private for n, spec in CHANNELS.items() if CHANNEL_TABLE[n].cadence is Cadence.TICK
    )
    with pytest.raises(ValueError, match="SNAPSHOT"):
        Channel(CHANNEL_TABLE["spot/ticker"].render, first=First.SNAPSHOT)


def test_cadence_per_dialect() -> None:
    assert [SimulatorConfig().cadence_of(m) for m in Market] == [0.1, 1.0]  # BitMart's
    assert [SimulatorConfig(cadence=0.05).cadence_of(m) for m in Market] == [0.05, 0.05]
    both = SimulatorConfig(cadence=0.05, futures_cadence=0.5)
    assert (both.cadence_of(Market.SPOT), both.cadence_of(Market.FUTURES)) == (0.05, 0.5)
    assert SimulatorConfig(spot_cadence=0).cadence_of(Market.SPOT) == 0


async def test_each_dialect_ticks_on_its_own_clock() -> None:
    config = SimulatorConfig(spot_cadence=0.02, futures_cadence=0)  # futures: only step() ticks
    async with (
        Simulator(config) as sim,
        client(sim, "spotPublicV1") as s,
        client(sim, "futuresPublicV2") as f,
    ):
        await s.send({"op": "subscribe", "args": ["spot/ticker:BTC_USDT"]})
        await f.send({"action": "subscribe", "args": ["futures/bookticker:BTCUSDT"]})
        await f.recv_until(lambda m: m.get("group") == "futures/bookticker:BTCUSDT" and "data" in m)
        for _ in range(5):  # the spot clock runs...
            await s.recv_until(lambda m: m.get("table") == "spot/ticker")
        pushes = await _drain(f, {"action": "ping"}, lambda m: m.get("group") == "System")
        assert pushes == []  # ...while the futures clock stands still
        await sim.step()
        pushes = await _drain(f, {"action": "ping"}, lambda m: m.get("group") == "System")
        assert [m["group"] for m in pushes] == ["futures/bookticker:BTCUSDT"]
