"""A Python peer on the benchmark firehose (run by ``benchmarks.compare`` with the peers' venv).

``python py_peer.py sdk|ccxt URL MARKET TOPIC N DEADLINE_S`` prints one JSON line ``{messages, wall, cpu}``
(seconds from the first update; ``cpu`` = ``time.process_time()`` of this process, every thread).
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import threading
import time
from typing import Any


class Count:
    def __init__(self, n: int) -> None:
        self.n = n
        self.count = 0
        self.t0 = self.c0 = 0.0
        self.done = threading.Event()

    def hit(self) -> None:
        self.count += 1
        if self.count == 1:
            self.t0, self.c0 = time.perf_counter(), time.process_time()
        elif self.count == self.n:
            self.done.set()

    def report(self) -> None:
        wall = time.perf_counter() - self.t0 if self.t0 else 0.0
        cpu = time.process_time() - self.c0 if self.t0 else 0.0
        print(json.dumps({"messages": self.count, "wall": wall, "cpu": cpu}), flush=True)


def run_sdk(url: str, market: str, topic: str, count: Count, deadline: float) -> None:
    """bitmart-python-sdk-api: a websocket-client thread; ``on_message`` gets each message decoded."""
    from bitmart.websocket.futures_socket_client import FuturesSocketClient
    from bitmart.websocket.spot_socket_client import SpotSocketClient

    def on_message(message: Any) -> None:
        if (
            isinstance(message, dict)
            and "data" in message
            and ("table" in message or "action" not in message)
        ):
            count.hit()

    cls = SpotSocketClient if market == "spot" else FuturesSocketClient
    client = cls(stream_url=url, on_message=on_message, ping_interval=3600)
    client.subscribe(args=topic)
    count.done.wait(deadline)


def run_ccxt(url: str, market: str, topic: str, count: Count, deadline: float) -> None:
    """ccxt pro 4.5.70: ``watch_ticker`` in a loop; markets given locally (no REST call)."""
    import ccxt.pro

    urls = {"public": url, "private": url}
    exchange = ccxt.pro.bitmart({"urls": {"api": {"ws": {"spot": urls, "swap": urls}}}})
    spot = market == "spot"
    base = {"base": "BTC", "quote": "USDT", "baseId": "BTC", "quoteId": "USDT", "active": True}
    if spot:
        markets = [
            base | {"id": "BTC_USDT", "symbol": "BTC/USDT", "type": "spot", "spot": True, "swap": False}
        ]
    else:
        markets = [
            base
            | {
                "id": "BTCUSDT",
                "symbol": "BTC/USDT:USDT",
                "type": "swap",
                "spot": False,
                "swap": True,
                "contract": True,
                "linear": True,
                "settle": "USDT",
                "settleId": "USDT",
            }
        ]
    exchange.set_markets(markets)
    symbol = markets[0]["symbol"]

    async def main() -> None:
        try:
            async with asyncio.timeout(deadline):
                while not count.done.is_set():
                    await exchange.watch_ticker(symbol)
                    count.hit()
        except TimeoutError:
            pass
        finally:
            await exchange.close()

    asyncio.run(main())


def main() -> None:
    peer, url, market, topic, n, deadline = sys.argv[1:7]
    count = Count(int(n))
    try:
        (run_sdk if peer == "sdk" else run_ccxt)(url, market, topic, count, float(deadline))
    finally:
        count.report()
        os._exit(0)  # the SDK's ping timers and reader thread are not daemons


if __name__ == "__main__":
    main()
