"""What the benchmark sender writes: BitMart pushes, pre-encoded as WebSocket frames.

Two kinds of pool:

* :class:`FramePool`: 1,000 distinct frames laid end to end, cycled as they are (tickers, depth20);
* :class:`StampedPool`: frames with one integer field left open (a book ``version``, a sender timestamp),
  filled in per frame at send time. Spot frames stay one raw-deflate stream each: the compressed text
  before the field ends on a sync flush, the digits go in a stored block, and the text after it is its
  own final block (RFC 1951 allows any sequence of blocks), so a stamp costs a concatenation, not a
  compression.

Shapes follow ``shared/reference/bitmart-protocol.md``: spot ticker §3.1, spot depth20 §3.3, spot
``depth/increase100`` §3.4, futures ticker §5.1, futures depth20 §5.2 (one side per push, ``way`` 1 = bids,
2 = asks), futures ``depthIncrease50`` §5.4. Everything is seeded: every run sends the same bytes.
"""

from __future__ import annotations

import random
import struct
import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Final

import msgspec

POOL_SIZE: Final = 1000
OP_TEXT: Final = 0x1
OP_BINARY: Final = 0x2
OP_CLOSE: Final = 0x8
OP_PING: Final = 0x9
OP_PONG: Final = 0xA

SPOT_SYMBOL: Final = "BTC_USDT"
FUTURES_SYMBOL: Final = "BTCUSDT"
STAMP_FIELD: Final = "bench_t"
"""The field of a latency push that carries the sender's ``time.perf_counter_ns()`` (CLOCK_MONOTONIC)."""
BOOK_START_VERSION: Final = 1_000_000
SPOT_BOOK_LEVELS: Final = 100
FUTURES_BOOK_LEVELS: Final = 50

_MARK: Final = 987_654_321_987_654_321  # placeholder of the open field while a template is built
_encode = msgspec.json.encode


def encode_frame(opcode: int, payload: bytes) -> bytes:
    """One unmasked, unfragmented server-to-client WebSocket frame."""
    size = len(payload)
    if size < 126:
        head = struct.pack("!BB", 0x80 | opcode, size)
    elif size < 1 << 16:
        head = struct.pack("!BBH", 0x80 | opcode, 126, size)
    else:
        head = struct.pack("!BBQ", 0x80 | opcode, 127, size)
    return head + payload


def deflate(data: bytes) -> bytes:
    """One independent raw-deflate stream, as BitMart compresses every spot frame."""
    deflater = zlib.compressobj(wbits=-15)
    return deflater.compress(data) + deflater.flush()


# --------------------------------------------------------------------------------------------------
# Payloads (JSON messages as dicts)
# --------------------------------------------------------------------------------------------------


def spot_ticker(rng: random.Random, i: int, symbol: str = SPOT_SYMBOL) -> dict[str, Any]:
    price = 35_000.0 + 50 * rng.random() + (i % 100)
    ms = 1_709_024_652_967 + 100 * i
    spread = rng.uniform(0.01, 2.0)
    item = {
        "symbol": symbol,
        "last_price": f"{price:.2f}",
        "open_24h": "35003.03",
        "high_24h": f"{max(price, 35_103.04):.2f}",
        "low_24h": f"{min(price, 34_900.00):.2f}",
        "base_volume_24h": f"{rng.uniform(1_000, 2_000):.5f}",
        "quote_volume_24h": f"{rng.uniform(35e6, 70e6):.2f}",
        "fluctuation": f"{(price - 35_003.03) / 35_003.03:.4f}",
        "bid_px": f"{price - spread:.2f}",
        "bid_sz": f"{rng.uniform(0.001, 12):.5f}",
        "ask_px": f"{price + spread:.2f}",
        "ask_sz": f"{rng.uniform(0.001, 12):.5f}",
        "ms_t": ms,
        "s_t": ms // 1000,
    }
    return {"table": "spot/ticker", "data": [item]}


def futures_ticker(rng: random.Random, i: int, symbol: str = FUTURES_SYMBOL) -> dict[str, Any]:
    price = 97_153.6 + 100 * rng.random() + (i % 50)
    spread = rng.uniform(0.1, 1.0)
    item = {
        "symbol": symbol,
        "last_price": f"{price:.1f}",
        "volume_24": str(rng.randint(25_000_000, 26_000_000)),
        "range": f"{rng.uniform(-0.05, 0.05):.16f}",
        "mark_price": f"{price + rng.uniform(-0.5, 0.5):.1f}",
        "index_price": f"{price + rng.uniform(-40, 40):.3f}",
        "ask_price": f"{price + spread:.1f}",
        "ask_vol": str(rng.randint(1, 500)),
        "bid_price": f"{price - spread:.1f}",
        "bid_vol": str(rng.randint(1, 500)),
    }
    return {"group": f"futures/ticker:{symbol}", "data": item}


def _spot_levels(rng: random.Random, mid: float, count: int, side: int) -> list[list[str]]:
    return [[f"{mid + side * (k + 1) * 0.01:.2f}", f"{rng.uniform(0.0001, 5):.5f}"] for k in range(count)]


def _futures_levels(rng: random.Random, mid: float, count: int, side: int) -> list[dict[str, str]]:
    return [
        {"price": f"{mid + side * (k + 1) * 0.1:.1f}", "vol": str(rng.randint(1, 20_000))}
        for k in range(count)
    ]


def spot_depth20(rng: random.Random, i: int) -> dict[str, Any]:
    """Both sides, 20 levels each: ~1 KB of JSON (§3.3)."""
    mid = 35_000.0 + 20 * rng.random()
    item = {
        "symbol": SPOT_SYMBOL,
        "ms_t": 1_709_024_652_967 + 100 * i,
        "asks": _spot_levels(rng, mid, 20, 1),
        "bids": _spot_levels(rng, mid, 20, -1),
    }
    return {"table": "spot/depth20", "data": [item]}


def futures_depth20(rng: random.Random, i: int) -> dict[str, Any]:
    """One side per push, alternating bids (way 1) and asks (way 2), as BitMart sends it (§5.2)."""
    mid = 97_153.6 + 20 * rng.random()
    way = 1 + i % 2
    item = {
        "symbol": FUTURES_SYMBOL,
        "way": way,
        "ms_t": 1_709_024_652_967 + 100 * (i // 2),
        "depths": _futures_levels(rng, mid, 20, -1 if way == 1 else 1),
    }
    return {"group": f"futures/depth20:{FUTURES_SYMBOL}", "data": item}


def _book_changes(rng: random.Random, levels: int, spot: bool) -> tuple[list[Any], list[Any]]:
    """1-4 absolute levels inside the snapshot's price range (a quarter deletions): never crossed."""
    asks: list[Any] = []
    bids: list[Any] = []
    for _ in range(rng.randint(1, 4)):
        side = rng.choice((1, -1))
        depth = min(int(rng.expovariate(0.1)), levels - 1) + 1
        zero = rng.random() < 0.25
        if spot:
            price = f"{35_000.0 + side * depth * 0.01:.2f}"
            level: Any = [price, "0" if zero else f"{rng.uniform(0.0001, 5):.5f}"]
        else:
            price = f"{97_000.0 + side * depth * 0.1:.1f}"
            level = {"price": price, "vol": "0" if zero else str(rng.randint(1, 20_000))}
        (asks if side == 1 else bids).append(level)
    return asks, bids


def book_messages(spot: bool, count: int, seed: int) -> list[dict[str, Any]]:
    """A snapshot, then ``count - 1`` updates; ``version`` is the open field (stamped by the sender)."""
    rng = random.Random(seed)
    levels = SPOT_BOOK_LEVELS if spot else FUTURES_BOOK_LEVELS
    mid = 35_000.0 if spot else 97_000.0
    out: list[dict[str, Any]] = []
    for i in range(count):
        kind = "snapshot" if i == 0 else "update"
        if i == 0:
            side_levels = _spot_levels if spot else _futures_levels
            asks, bids = side_levels(rng, mid, levels, 1), side_levels(rng, mid, levels, -1)
        else:
            asks, bids = _book_changes(rng, levels, spot)
        symbol = SPOT_SYMBOL if spot else FUTURES_SYMBOL
        item = {"symbol": symbol, "type": kind, "version": _MARK, "ms_t": 1_709_024_652_967 + i}
        item |= {"asks": asks, "bids": bids}
        if spot:
            out.append({"table": "spot/depth/increase100", "data": [item]})
        else:
            out.append({"group": f"futures/depthIncrease50:{symbol}", "data": item})
    return out


def stamped_ticker(spot: bool, count: int, seed: int) -> list[dict[str, Any]]:
    """Ticker pushes carrying the sender's clock in :data:`STAMP_FIELD` (the open field)."""
    rng = random.Random(seed)
    out = []
    for i in range(count):
        msg = spot_ticker(rng, i) if spot else futures_ticker(rng, i)
        item = msg["data"][0] if spot else msg["data"]
        item[STAMP_FIELD] = _MARK
        out.append(msg)
    return out


# --------------------------------------------------------------------------------------------------
# Pools
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class FramePool:
    """Frames laid end to end, and where each one ends (a prefix of whole frames is ``data[:ends[i]]``)."""

    data: bytes
    ends: tuple[int, ...]

    @classmethod
    def of(cls, frames: Sequence[bytes]) -> FramePool:
        ends: list[int] = []
        total = 0
        for frame in frames:
            total += len(frame)
            ends.append(total)
        return cls(b"".join(frames), tuple(ends))

    def __len__(self) -> int:
        return len(self.ends)


@dataclass(frozen=True, slots=True)
class StampedPool:
    """Frames with one open integer field: ``frame(i, value)`` is entry ``i`` with ``value`` filled in.

    With ``first`` set, entry 0 is sent once (a book snapshot) and entries 1.. are cycled after it.
    """

    opcode: int
    heads: tuple[bytes, ...]  # per entry: the bytes before the field (deflated up to a sync flush on spot)
    tails: tuple[bytes, ...]  # per entry: the bytes after it (its own final deflate block on spot)
    first: bool = False

    def frame(self, i: int, value: int) -> bytes:
        digits = b"%d" % value
        if self.opcode == OP_BINARY:
            stored = b"\x00" + struct.pack("<HH", len(digits), len(digits) ^ 0xFFFF)  # a stored block
            payload = self.heads[i] + stored + digits + self.tails[i]
        else:
            payload = self.heads[i] + digits + self.tails[i]
        return encode_frame(self.opcode, payload)

    def entry(self, n: int) -> int:
        """The entry of the ``n``-th frame sent (0-based)."""
        if not self.first:
            return n % len(self.heads)
        return 0 if n == 0 else 1 + (n - 1) % (len(self.heads) - 1)

    @classmethod
    def of(cls, messages: Sequence[dict[str, Any]], *, binary: bool, first: bool = False) -> StampedPool:
        mark = b"%d" % _MARK
        heads: list[bytes] = []
        tails: list[bytes] = []
        for message in messages:
            head, sep, tail = _encode(message).partition(mark)
            assert sep, "the message has no open field"
            if binary:
                deflater = zlib.compressobj(wbits=-15)
                head = deflater.compress(head) + deflater.flush(zlib.Z_SYNC_FLUSH)
                tail = deflate(tail)
            heads.append(head)
            tails.append(tail)
        return cls(OP_BINARY if binary else OP_TEXT, tuple(heads), tuple(tails), first)


def _static(make: Callable[[random.Random, int], dict[str, Any]], binary: bool, seed: int) -> FramePool:
    rng = random.Random(seed)
    frames = []
    for i in range(POOL_SIZE):
        raw = _encode(make(rng, i))
        frames.append(encode_frame(OP_BINARY, deflate(raw)) if binary else encode_frame(OP_TEXT, raw))
    return FramePool.of(frames)


def topic_pool(topics: int) -> FramePool:
    """Futures ticker frames cycling over ``topics`` contracts (``S0000USDT``...): the scaling scenario."""
    rng = random.Random(topics)
    frames = [
        encode_frame(OP_TEXT, _encode(futures_ticker(rng, i, scaling_symbol(i % topics))))
        for i in range(max(POOL_SIZE, topics))
    ]
    return FramePool.of(frames)


def scaling_symbol(i: int) -> str:
    return f"S{i:04d}USDT"


Pool = FramePool | StampedPool

STATIC_POOLS: Final[dict[str, Callable[[], FramePool]]] = {
    "spot_ticker": lambda: _static(spot_ticker, True, 1),
    "futures_ticker": lambda: _static(futures_ticker, False, 2),
    "spot_depth20": lambda: _static(spot_depth20, True, 3),
    "futures_depth20": lambda: _static(futures_depth20, False, 4),
}
STAMPED_POOLS: Final[dict[str, Callable[[], StampedPool]]] = {
    "spot_book": lambda: StampedPool.of(book_messages(True, POOL_SIZE, 5), binary=True, first=True),
    "futures_book": lambda: StampedPool.of(book_messages(False, POOL_SIZE, 6), binary=False, first=True),
    "spot_stamped": lambda: StampedPool.of(stamped_ticker(True, POOL_SIZE, 7), binary=True),
    "futures_stamped": lambda: StampedPool.of(stamped_ticker(False, POOL_SIZE, 8), binary=False),
}


def build_pools() -> dict[str, Pool]:
    pools: dict[str, Pool] = {name: make() for name, make in STATIC_POOLS.items()}
    pools.update({name: make() for name, make in STAMPED_POOLS.items()})
    return pools
