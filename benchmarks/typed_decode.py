"""Cost of the typed models and of the order book, per message (``python -m benchmarks.typed_decode``).

For one realistic push of every channel family (rendered by the simulator's pure market and account
code), in nanoseconds per message, best of several rounds:

* ``json->dict``: ``msgspec.json.decode`` into dicts, what the client does for every frame today;
* ``dict->typed``: ``Decoder.decode`` of those dicts (the cost on top of ``json->dict``);
* ``json->dict->typed``: the two together (the typed path as an ``update`` handler sees it);
* ``json->typed``: ``Decoder.decode_bytes``, straight from the JSON text to the models;

each with ``numbers="decimal"`` and ``numbers="float"``. Then the order book: microseconds per applied
update at 100 and 1,000 levels a side, for ``OrderBook.apply`` alone and through ``BookSync.push``.
"""

from __future__ import annotations

import argparse
import random
import time
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import msgspec

from bitmart_ws.book import BookSync, OrderBook
from bitmart_ws.models import Decoder, SpotDepthIncrease
from bitmart_ws.protocol import Market
from bitmart_ws.simulator.accounts import DEFAULT_ACCOUNT, AccountActivity
from bitmart_ws.simulator.market import IncrementalStream, SymbolMarket, format_levels, instrument_for

NOW_MS = 1_764_000_000_000


def sample_messages() -> dict[str, dict[str, Any]]:
    """One push per channel family, shaped exactly as the simulator sends it."""
    spot = SymbolMarket(instrument_for("BTC_USDT", Market.SPOT, 7), 7, quiet_probability=0)
    fut = SymbolMarket(instrument_for("BTCUSDT", Market.FUTURES, 7), 7, quiet_probability=0)
    while not spot.trades or len(fut.trades) < 2:
        spot.step(NOW_MS)
        fut.step(NOW_MS)
    activity = AccountActivity(DEFAULT_ACCOUNT, 7, ["BTC_USDT"], ["BTCUSDT"])
    activity.step(NOW_MS)
    batch = activity.step(NOW_MS + 1000)  # a fill: an order update and a balance change
    book = IncrementalStream(100, 500_000, advance_on_empty=False)
    _, asks, bids = book.snapshot(spot)
    inst = spot.instrument

    def depth_push(kind: str, a: Any, b: Any) -> dict[str, Any]:
        data = {"symbol": "BTC_USDT", "type": kind, "version": 500_001, "ms_t": NOW_MS, "asks": a, "bids": b}
        return {"table": "spot/depth/increase100", "data": [data]}

    fut_book = {"symbol": "BTCUSDT", "type": "update", "version": 9, "ms_t": NOW_MS}
    fut_book |= {"asks": fut.futures_levels("asks", 3), "bids": fut.futures_levels("bids", 2)}
    return {
        "spot/ticker": {"table": "spot/ticker", "data": [spot.spot_ticker(NOW_MS)]},
        "spot/kline1m": {"table": "spot/kline1m", "data": [spot.spot_kline("1m", NOW_MS)]},
        "spot/depth20": {"table": "spot/depth20", "data": [spot.spot_depth(20, NOW_MS)]},
        "increase100 snapshot": depth_push(
            "snapshot", format_levels(inst, asks, objects=False), format_levels(inst, bids, objects=False)
        ),
        "increase100 update": depth_push(
            "update",
            format_levels(inst, asks[:2], objects=False),
            format_levels(inst, bids[:1], objects=False),
        ),
        "spot/trade": {"table": "spot/trade", "data": spot.spot_trades()[:1]},
        "spot/bookTicker": {"table": "spot/bookTicker", "data": [spot.spot_book_ticker(NOW_MS)]},
        "spot/user/order": {"table": "spot/user/order", "data": batch.spot_orders},
        "spot/user/balance": {"table": "spot/user/balance", "data": batch.spot_balance},
        "futures/ticker": {"group": "futures/ticker:BTCUSDT@100ms", "data": fut.futures_ticker()},
        "futures/depth20": {
            "group": "futures/depth20:BTCUSDT",
            "data": fut.futures_depth_side(20, 1, NOW_MS),
        },
        "futures/depthAll20": {
            "group": "futures/depthAll20:BTCUSDT",
            "data": fut.futures_depth_all(20, NOW_MS),
        },
        "futures/depthIncrease20": {"group": "futures/depthIncrease20:BTCUSDT", "data": fut_book},
        "futures/bookticker": {
            "group": "futures/bookticker:BTCUSDT",
            "data": fut.futures_book_ticker(NOW_MS),
        },
        "futures/trade": {"group": "futures/trade:BTCUSDT", "data": fut.futures_trades()[:1]},
        "futures/klineBin1m": {
            "group": "futures/klineBin1m:BTCUSDT",
            "data": fut.futures_kline("1m", NOW_MS),
        },
        "futures/fundingRate": {"group": "futures/fundingRate:BTCUSDT", "data": fut.futures_funding(NOW_MS)},
        "futures/asset": {"group": "futures/asset:USDT", "data": activity.asset("USDT")},
        "futures/position": {"group": "futures/position", "data": activity.position_list()},
        "futures/order": {"group": "futures/order", "data": batch.futures_orders},
    }


def per_call_ns(fn: Callable[[], object], rounds: int, target_s: float) -> float:
    """Best-of-``rounds`` nanoseconds per call, each round running about ``target_s``."""
    loops = 1
    while True:
        start = time.perf_counter_ns()
        for _ in range(loops):
            fn()
        elapsed = time.perf_counter_ns() - start
        if elapsed >= target_s * 1e9 / 4 or loops >= 1 << 22:
            break
        loops *= 4
    best = elapsed / loops
    for _ in range(rounds - 1):
        start = time.perf_counter_ns()
        for _ in range(loops):
            fn()
        best = min(best, (time.perf_counter_ns() - start) / loops)
    return best


def decode_table(rounds: int, target_s: float) -> None:
    decode_json = msgspec.json.Decoder().decode
    decoders = {"decimal": Decoder("decimal"), "float": Decoder("float")}
    columns = ("dict->typed", "json->dict->typed", "json->typed")
    head = f"{'channel':24} {'json->dict':>10} | " + " | ".join(f"{c:>19}" for c in columns)
    print("ns per message; typed columns: decimal / float")
    print(head)
    print("-" * len(head))
    totals = [0.0] * 7
    for name, message in sample_messages().items():
        raw = msgspec.json.encode(message)
        as_dict = decode_json(raw)
        row = [per_call_ns(lambda r=raw: decode_json(r), rounds, target_s)]  # type: ignore[misc]
        for d in decoders.values():
            row.append(per_call_ns(lambda d=d, m=as_dict: d.decode(m), rounds, target_s))  # type: ignore[misc]
        row += [row[0] + row[1], row[0] + row[2]]
        for d in decoders.values():
            row.append(per_call_ns(lambda d=d, r=raw: d.decode_bytes(r), rounds, target_s))  # type: ignore[misc]
        totals = [t + v for t, v in zip(totals, row, strict=True)]
        print(f"{name:24} {row[0]:10.0f} | {row[1]:8.0f} / {row[2]:8.0f} | {row[3]:8.0f} / {row[4]:8.0f} | "
              f"{row[5]:8.0f} / {row[6]:8.0f}")  # fmt: skip
    n = len(sample_messages())
    m = [t / n for t in totals]
    print(f"{'mean':24} {m[0]:10.0f} | {m[1]:8.0f} / {m[2]:8.0f} | {m[3]:8.0f} / {m[4]:8.0f} | "
          f"{m[5]:8.0f} / {m[6]:8.0f}")  # fmt: skip


def book_updates(levels: int, count: int, seed: int) -> list[SpotDepthIncrease[Decimal]]:
    """A snapshot of ``levels`` a side around 1000.00, then ``count`` updates of 1-4 levels each."""
    rng = random.Random(seed)
    tick = Decimal("0.01")
    asks = [(Decimal(1000) + i * tick, Decimal(rng.randint(1, 999)) / 100) for i in range(1, levels + 1)]
    bids = [(Decimal(1000) - i * tick, Decimal(rng.randint(1, 999)) / 100) for i in range(levels)]
    out = [SpotDepthIncrease("X_Y", "snapshot", 1, 0, tuple(asks), tuple(bids))]
    for version in range(2, count + 2):
        changes: dict[str, list[tuple[Decimal, Decimal]]] = {"asks": [], "bids": []}
        for _ in range(rng.randint(1, 4)):
            side = rng.choice(("asks", "bids"))
            depth = min(int(rng.expovariate(0.1)), levels - 1)
            price = Decimal(1000) + (depth + 1) * tick if side == "asks" else Decimal(1000) - depth * tick
            size = Decimal(0) if rng.random() < 0.25 else Decimal(rng.randint(1, 999)) / 100
            changes[side].append((price, size))
        out.append(
            SpotDepthIncrease("X_Y", "update", version, 0, tuple(changes["asks"]), tuple(changes["bids"]))
        )
    return out


def book_table(rounds: int) -> None:
    print("\norder book, microseconds per update (1-4 levels each, a quarter of them deletions)")
    for levels in (100, 1000):
        for numbers in ("decimal", "float"):
            pushes: list[Any] = book_updates(levels, 20_000, seed=levels)
            if numbers == "float":
                pushes = [
                    SpotDepthIncrease(
                        p.symbol, p.type, p.version, 0,
                        tuple((float(a), float(b)) for a, b in p.asks),
                        tuple((float(a), float(b)) for a, b in p.bids),
                    )
                    for p in pushes
                ]  # fmt: skip
            best_apply = best_sync = float("inf")
            for _ in range(rounds):
                book: OrderBook[Any] = OrderBook()
                book.replace(pushes[0].asks, pushes[0].bids)
                start = time.perf_counter_ns()
                for p in pushes[1:]:
                    book.apply(p.asks, p.bids)
                best_apply = min(best_apply, (time.perf_counter_ns() - start) / (len(pushes) - 1))
                sync = BookSync("spot/depth/increase100:X_Y")
                sync.connected(0.0)
                sync.push(pushes[0], 0.0)
                start = time.perf_counter_ns()
                for p in pushes[1:]:
                    sync.push(p, 1.0)
                best_sync = min(best_sync, (time.perf_counter_ns() - start) / (len(pushes) - 1))
                assert sync.valid
            print(f"{levels:5} levels, {numbers:7}: OrderBook.apply {best_apply / 1000:5.2f} us, "
                  f"BookSync.push {best_sync / 1000:5.2f} us")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="fewer, shorter rounds (a smoke run)")
    args = parser.parse_args()
    rounds, target = (2, 0.01) if args.quick else (5, 0.05)
    decode_table(rounds, target)
    book_table(1 if args.quick else 3)


if __name__ == "__main__":
    main()
