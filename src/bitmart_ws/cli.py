"""The ``bitmart-ws`` command line (plain argparse, one subparser per command).

Commands:
    simulate: run the BitMart simulator in the foreground; prints one JSON line mapping each WsKey
        value to its URL, then serves until SIGINT/SIGTERM.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import signal
import sys
from collections.abc import Sequence

from .simulator import DEFAULT_ACCOUNT, Account, Simulator, SimulatorConfig
from .simulator.market import futures_symbol

__all__ = ["build_parser", "main"]


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of ``bitmart-ws``."""
    parser = argparse.ArgumentParser(prog="bitmart-ws", description="BitMart WebSocket client tools.")
    parser.add_argument("-v", "--verbose", action="count", default=0, help="log more (-v info, -vv debug)")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    sim = commands.add_parser("simulate", help="run the BitMart simulator until interrupted")
    add_simulate_arguments(sim)
    return parser


def add_simulate_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of ``simulate`` (shared with ``python -m bitmart_ws.simulator``)."""
    parser.add_argument("--host", default="127.0.0.1", help="interface to bind (default 127.0.0.1)")
    parser.add_argument("--spot-port", type=int, default=0, help="spot port (0: a free port)")
    parser.add_argument("--futures-port", type=int, default=0, help="futures v2 port (0: a free port)")
    parser.add_argument(
        "--symbols",
        default="BTC_USDT,ETH_USDT",
        help="comma-separated spot symbols (BTC_USDT); futures symbols are derived (BTCUSDT)",
    )
    parser.add_argument("--api-key", default=DEFAULT_ACCOUNT.api_key, help="accepted API key")
    parser.add_argument("--api-secret", default=DEFAULT_ACCOUNT.api_secret, help="its secret")
    parser.add_argument("--api-memo", default=DEFAULT_ACCOUNT.api_memo, help="its memo")
    parser.add_argument("--cadence", type=float, default=0.5, help="seconds between market ticks")
    parser.add_argument("--seed", type=int, default=7, help="seed of the synthetic data")


def simulator_config(args: argparse.Namespace) -> SimulatorConfig:
    """The simulator settings the parsed ``simulate`` options describe."""
    symbols = tuple(s.strip().upper() for s in args.symbols.split(",") if s.strip())
    if not symbols:
        raise SystemExit("bitmart-ws simulate: --symbols is empty")
    return SimulatorConfig(
        host=args.host,
        spot_port=args.spot_port,
        futures_port=args.futures_port,
        symbols=symbols,
        futures_symbols=tuple(dict.fromkeys(futures_symbol(s) for s in symbols)),
        accounts=(Account(args.api_key, args.api_secret, args.api_memo),),
        cadence=args.cadence,
        seed=args.seed,
    )


async def run_simulator(config: SimulatorConfig) -> int:
    """Serve until SIGINT or SIGTERM, after printing the URLs as one JSON line."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    try:
        async with Simulator(config) as sim:
            print(json.dumps(sim.urls), flush=True)
            await stop.wait()
    finally:
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(signum)
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``bitmart-ws``; returns the exit status."""
    args = build_parser().parse_args(argv)
    level = {0: logging.WARNING, 1: logging.INFO}.get(args.verbose, logging.DEBUG)
    logging.basicConfig(
        level=level, stream=sys.stderr, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    if args.command == "simulate":
        return asyncio.run(run_simulator(simulator_config(args)))
    raise AssertionError(f"unhandled command {args.command!r}")  # pragma: no cover


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
