"""Spot public streams: ticker, depth and trades, in the style of the Node client's example.

No asyncio code needed: register handlers, subscribe, then ``run_forever()``.
"""

from __future__ import annotations

import json
from typing import Any

from _common import client_options, run_seconds

from bitmart_ws import WebsocketClient

client = WebsocketClient(**client_options())


@client.on("open")
def on_open(event: dict[str, Any]) -> None:
    print("connection opened:", event["wsKey"])


@client.on("update")
def on_update(message: dict[str, Any]) -> None:
    print(json.dumps(message))


@client.on("response")
def on_response(message: dict[str, Any]) -> None:
    print("server response:", json.dumps(message))


@client.on("exception")
def on_exception(event: dict[str, Any]) -> None:
    print("exception:", event["message"])


client.subscribe(["spot/ticker:BTC_USDT", "spot/depth5:BTC_USDT", "spot/trade:BTC_USDT"], "spot")
client.run_forever(timeout=run_seconds())
