"""Futures public streams, written with asyncio: tickers, an order book and klines."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from _common import client_options, run_seconds

from bitmart_ws import WebsocketClient


async def main() -> None:
    async with WebsocketClient(**client_options()) as client:

        @client.on("update")
        def on_update(message: dict[str, Any]) -> None:
            print(json.dumps(message))

        await client.subscribe(
            ["futures/ticker:BTCUSDT", "futures/depth20:BTCUSDT", "futures/klineBin1m:BTCUSDT"], "futures"
        )
        print("subscribed: every topic acknowledged by the server")
        await asyncio.sleep(run_seconds() or float("inf"))


if __name__ == "__main__":
    asyncio.run(main())
