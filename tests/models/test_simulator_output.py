"""Every channel of the simulator's live output, received through the client, decodes to its model."""

from __future__ import annotations

import asyncio
from typing import Any

from bitmart_ws import WebsocketClient
from bitmart_ws.models import Decoder, RawUpdate, Update
from bitmart_ws.protocol import CHANNELS, Market
from bitmart_ws.simulator import DEFAULT_ACCOUNT, Simulator, SimulatorConfig


def topic_for(channel: str) -> str:
    spec = CHANNELS[channel]
    if spec.values:
        return f"{channel}:{sorted(spec.values)[-1]}"  # BALANCE_UPDATE, ALL_SYMBOLS, USDT
    if spec.arg.value == "none":
        return channel
    return f"{channel}:{'BTC_USDT' if spec.market is Market.SPOT else 'BTCUSDT'}"


async def test_every_channel_of_the_simulator_decodes() -> None:
    config = SimulatorConfig(
        cadence=0.05, account_interval=0.1, funding_interval=0.2, all_symbols_table="spot/user/orders"
    )
    topics = [topic_for(c) for c in CHANNELS] + ["futures/ticker"]  # the all-contracts form too
    decoders = [Decoder("decimal"), Decoder("float")]
    seen: dict[str, int] = {}
    failures: list[str] = []
    changed = asyncio.Event()

    def on_update(message: dict[str, Any]) -> None:
        for decoder in decoders:
            try:
                update = decoder.decode(message)
            except Exception as exc:  # recorded, asserted below
                failures.append(f"{message.get('table') or message.get('group')}: {exc!r}")
                continue
            if isinstance(update, RawUpdate):
                failures.append(f"generic fallback for {update.channel}")
                continue
            assert isinstance(update, Update) and update.items
            assert all(isinstance(item, decoder.model(update.channel)) for item in update.items)
            seen[update.channel] = seen.get(update.channel, 0) + 1
        changed.set()

    async with Simulator(config) as sim:
        client = WebsocketClient(
            ws_urls=sim.urls,
            api_key=DEFAULT_ACCOUNT.api_key,
            api_secret=DEFAULT_ACCOUNT.api_secret,
            api_memo=DEFAULT_ACCOUNT.api_memo,
            ack_timeout=10.0,
        )
        client.on("update", on_update)
        async with client:
            await client.subscribe_topics(topics)
            async with asyncio.timeout(30):
                while set(CHANNELS) - set(seen) and not failures:
                    changed.clear()
                    await changed.wait()
    assert not failures, failures[:5]
    assert set(seen) == set(CHANNELS)
