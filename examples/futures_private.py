"""Futures private streams on BitMart's demo (simulated trading) environment.

``demo_trading=True`` points the futures v2 connections at the demo hosts; API keys are the same as
production. Positions, orders and the USDT asset stream are subscribed after the ``access`` login.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

from _common import client_options, run_seconds

from bitmart_ws import WebsocketClient, WsKey


async def main() -> None:
    async with WebsocketClient(demo_trading=True, **client_options()) as client:

        @client.on("authenticated")
        def on_authenticated(message: dict[str, Any]) -> None:
            print("access granted on", message["wsKey"])

        @client.on("update")
        async def on_update(message: dict[str, Any]) -> None:  # async handlers run in arrival order
            print(json.dumps(message))

        await client.subscribe_topics(["futures/asset:USDT", "futures/position", "futures/order"])
        await asyncio.sleep(run_seconds() or float("inf"))
        await client.close(WsKey.FUTURES_PRIVATE_V2)


if __name__ == "__main__":
    asyncio.run(main())
