"""Spot private streams: order progress and balance changes (needs key, secret and memo)."""

from __future__ import annotations

import json
from typing import Any

from _common import client_options, run_seconds

from bitmart_ws import WebsocketClient

client = WebsocketClient(**client_options())


@client.on("authenticated")
def on_authenticated(message: dict[str, Any]) -> None:
    print("logged in on", message["wsKey"])


@client.on("update")
def on_update(message: dict[str, Any]) -> None:
    print(json.dumps(message))


@client.on("exception")
def on_exception(event: dict[str, Any]) -> None:
    print("exception:", event["message"])


client.subscribe(
    ["spot/user/order:BTC_USDT", "spot/user/orders:ALL_SYMBOLS", "spot/user/balance:BALANCE_UPDATE"], "spot"
)
client.run_forever(timeout=run_seconds())
