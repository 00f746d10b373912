"""Route the client's logs through your own logger: here, JSON lines on stderr at DEBUG."""

from __future__ import annotations

import json
import logging
import sys
from typing import Any

from _common import client_options, run_seconds

from bitmart_ws import WebsocketClient


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        return json.dumps({"level": record.levelname, "logger": record.name, "message": record.getMessage()})


handler = logging.StreamHandler(sys.stderr)
handler.setFormatter(JsonFormatter())
logger = logging.getLogger("my_app.bitmart")
logger.addHandler(handler)
logger.setLevel(logging.DEBUG)
logger.propagate = False

client = WebsocketClient(logger=logger, **client_options())
client.on("update", lambda message: print(json.dumps(message)))


@client.on("reconnect")
def on_reconnect(event: dict[str, Any]) -> None:
    logger.warning("reconnecting %s in %.1fs", event["wsKey"], event["delay"])


client.subscribe("spot/ticker:BTC_USDT", "spot")
client.run_forever(timeout=run_seconds())
