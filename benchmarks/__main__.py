"""``make bench``: every figure of the client next to its floor, measured in the same run.

``python -m benchmarks --help`` for the options; ``benchmarks/README.md`` for the method.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import sys
import time
from collections.abc import Callable, Sequence
from importlib.metadata import PackageNotFoundError, version
from typing import Any

from .blaster import Blaster
from .scenarios import SCENARIOS, Ctx, Row, Scenario


def _loop_factory(scenario: Scenario) -> Callable[[], asyncio.AbstractEventLoop] | None | str:
    """The scenario's event loop factory (``None``: asyncio's default), or why it cannot run."""
    if scenario.loop == "asyncio":
        return None
    try:
        import uvloop
    except ImportError:
        return "uvloop is not installed (pip install uvloop, or the dev extras)"
    return uvloop.new_event_loop


def _fmt(value: float | None, unit: str) -> str:
    if value is None:
        return "-"
    if unit in ("us", "KiB"):
        return f"{value:,.1f}"
    if unit in ("CPU-s", "share"):
        return f"{value:.3f}"
    return f"{value:,.0f}"


def print_table(rows: list[Row]) -> None:
    head = (
        f"{'scenario':<46} {'metric':<26} {'unit':<11} {'floor':>12} {'ours':>12} {'ratio':>6} "
        f"{'target':>8}  result"
    )
    print(head)
    print("-" * len(head))
    last = None
    for row in rows:
        title = row.scenario if row.scenario != last else ""
        last = row.scenario
        ratio = f"{row.ratio:.2f}" if row.ratio is not None else ""
        target = str(row.target) if row.target is not None else ""
        line = (
            f"{title:<46} {row.metric:<26} {row.unit:<11} {_fmt(row.floor, row.unit):>12} "
            f"{_fmt(row.ours, row.unit):>12} {ratio:>6} {target:>8}  {row.result}"
        )
        print(line + (f"  ({row.note})" if row.note else ""))


def derived_rows(rows: list[Row]) -> list[Row]:
    """uvloop against the default loop: the client's CPU-second rate on each (same run)."""
    out = []
    by = {(r.scenario, r.metric): r for r in rows}
    for title in ("spot ticker", "futures ticker"):
        base, fast = by.get((title, "per CPU-second")), by.get((f"{title} (uvloop)", "per CPU-second"))
        if base is not None and fast is not None:
            out.append(
                Row(f"uvloop gain: {title}", "client uvloop / asyncio", "msg/CPU-s", fast.ours, base.ours)
            )
            out.append(
                Row(f"uvloop gain: {title}", "floor uvloop / asyncio", "msg/CPU-s", fast.floor, base.floor)
            )
    return out


def _versions() -> str:
    out = []
    for name in ("picows", "msgspec", "websockets", "uvloop"):
        try:
            out.append(f"{name} {version(name)}")
        except PackageNotFoundError:
            out.append(f"{name} -")
    return ", ".join(out)


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("scenarios", nargs="*", metavar="SCENARIO", help="run only these (default: all)")
    parser.add_argument("--list", action="store_true", help="list the scenarios and exit")
    parser.add_argument("--rounds", type=int, default=3, help="rounds per throughput scenario (default 3)")
    parser.add_argument("--scale", type=float, default=1.0, help="multiply every N by this (default 1)")
    parser.add_argument("--quick", action="store_true", help="1 round, N/20, short latency runs: a smoke run")
    parser.add_argument("--no-pin", action="store_true", help="do not pin sender and reader to separate CPUs")
    parser.add_argument("--json", metavar="FILE", help="also write the rows as JSON to FILE")
    args = parser.parse_args(argv)
    if args.quick:
        args.rounds = 1
        args.scale = min(args.scale, 0.05)
    unknown = [s for s in args.scenarios if s not in SCENARIOS]
    if unknown:
        parser.error(f"unknown scenario(s) {', '.join(unknown)}; --list shows them")
    if args.rounds < 1 or args.scale <= 0:
        parser.error("--rounds must be >= 1 and --scale > 0")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    if args.list:
        for s in SCENARIOS.values():
            print(f"{s.name:<24} {s.what}")
        return 0
    chosen = [SCENARIOS[name] for name in args.scenarios] or list(SCENARIOS.values())
    cpus = sorted(os.sched_getaffinity(0))
    pin = not args.no_pin and len(cpus) >= 2
    if pin:
        os.sched_setaffinity(0, {cpus[0]})
    print(
        f"{platform.node()}: {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs; python "
        f"{sys.version.split()[0]}; {_versions()}; "
        + (f"reader on CPU {cpus[0]}, sender on CPU {cpus[-1]}" if pin else "no CPU pinning"),
        flush=True,
    )
    rows: list[Row] = []
    started = time.perf_counter()
    with Blaster(cpus[-1] if pin else None) as blaster:
        for scenario in chosen:
            factory = _loop_factory(scenario)
            if isinstance(factory, str):
                print(f"{scenario.name}: skipped: {factory}", flush=True)
                continue
            print(f"{scenario.name}: {scenario.what}", flush=True)
            ctx = Ctx(blaster, args.rounds, args.scale, args.quick, rows)
            with asyncio.Runner(loop_factory=factory) as runner:
                rows += runner.run(scenario.run(ctx))
    rows += derived_rows(rows)
    elapsed = time.perf_counter() - started
    print()
    print(
        f"{len(chosen)} scenarios, {args.rounds} round(s), scale {args.scale:g}, {elapsed:.0f} s; "
        "ratio = ours / floor (scaling: / the 10-topic figure); rate targets apply to CPU-second rates"
    )
    print_table(rows)
    if args.json:
        data: list[dict[str, Any]] = [
            {"scenario": r.scenario, "metric": r.metric, "unit": r.unit, "floor": r.floor, "ours": r.ours,
             "ratio": r.ratio, "target": str(r.target or ""), "result": r.result, "note": r.note}
            for r in rows
        ]  # fmt: skip
        with open(args.json, "w") as f:
            json.dump(data, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
