"""Where the client's time goes: cProfile of one client run per pool (``python -m benchmarks.profile``).

``python -m benchmarks.profile futures_ticker spot_ticker --n 200000`` prints, per pool, the functions
by their own time (``tottime``) while ``WebsocketClient`` reads N pushes with the counting callback. The
floor's share is the sum of the picows, zlib and msgspec rows; everything else is the client's overhead.
cProfile adds a fixed cost per Python call, so it overstates code with many small calls (read the
ordering, not the absolute numbers; py-spy samples without that bias if it is installed).
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import io
import os
import pstats
import sys
from collections.abc import Sequence

from .blaster import Blaster
from .contestants import Market, Tally, counting
from .frames import FUTURES_SYMBOL, SPOT_SYMBOL
from .scenarios import run_side

TOPICS: dict[str, tuple[Market, str]] = {
    "spot_ticker": ("spot", f"spot/ticker:{SPOT_SYMBOL}"),
    "futures_ticker": ("futures", f"futures/ticker:{FUTURES_SYMBOL}"),
    "spot_depth20": ("spot", f"spot/depth20:{SPOT_SYMBOL}"),
    "futures_depth20": ("futures", f"futures/depth20:{FUTURES_SYMBOL}"),
}


async def profile(blaster: Blaster, pool: str, n: int, top: int) -> str:
    market, topic = TOPICS[pool]
    tally = Tally(n, asyncio.Event())
    profiler = cProfile.Profile()
    profiler.enable()
    error = await run_side("client", blaster.url(pool, n), market, [topic], counting(tally), tally.done, 120)
    profiler.disable()
    out = io.StringIO()
    stats = pstats.Stats(profiler, stream=out)
    stats.sort_stats("tottime").print_stats(top)
    return (f"error: {error}\n" if error else "") + out.getvalue()


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("pools", nargs="*", default=["futures_ticker", "spot_ticker"], choices=sorted(TOPICS))
    parser.add_argument("--n", type=int, default=200_000, help="pushes per run (default 200000)")
    parser.add_argument("--top", type=int, default=18, help="functions shown (default 18)")
    args = parser.parse_args(argv)
    cpus = sorted(os.sched_getaffinity(0))
    if len(cpus) >= 2:
        os.sched_setaffinity(0, {cpus[0]})
    with Blaster(cpus[-1] if len(cpus) >= 2 else None) as blaster:
        for pool in args.pools:
            print(f"== {pool}, N = {args.n:,}")
            print(asyncio.run(profile(blaster, pool, args.n, args.top)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
