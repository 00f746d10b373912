"""The ``bitmart-ws`` command line (plain argparse, one subparser per command).

Commands:
    demo: stream spot and futures topics, public and private, from the embedded simulator (JSON lines).
    stream: stream the given topics as JSON lines (from the embedded simulator unless ``--live``).
    replay: print the messages of a recording made with ``--record``.
    simulate: run the BitMart simulator in the foreground; prints one JSON line mapping each WsKey
        value to its URL, then serves until SIGINT/SIGTERM.

Messages go to stdout, one JSON object a line; lifecycle notices and logs go to stderr.
Exit status: 0 done, 1 a BitMart or connection error, 2 a usage or configuration error, 130 interrupted.

Credentials for private topics come from ``BITMART_API_KEY``, ``BITMART_API_SECRET`` and
``BITMART_API_MEMO`` (never from the command line, where other users could read them).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import signal
import sys
from collections.abc import Coroutine, Sequence
from pathlib import Path
from typing import IO, Any

from . import streaming
from .exceptions import BitmartWSError, ConfigurationError
from .simulator import DEFAULT_ACCOUNT, Account, Simulator, SimulatorConfig
from .simulator.market import futures_symbol

__all__ = ["build_parser", "main"]


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of ``bitmart-ws``."""
    parser = argparse.ArgumentParser(prog="bitmart-ws", description="BitMart WebSocket client tools.")
    parser.add_argument("-v", "--verbose", action="count", default=0, help="log more (-v info, -vv debug)")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    demo = commands.add_parser("demo", help="stream spot and futures topics from the embedded simulator")
    demo.add_argument("--seconds", type=float, default=5.0, help="stop after this long (default 5)")
    demo.add_argument("--record", type=Path, help="also record the messages to this file (JSON lines)")
    stream = commands.add_parser("stream", help="stream topics as JSON lines")
    stream.add_argument(
        "topics", nargs="+", metavar="TOPIC", help="e.g. spot/ticker:BTC_USDT futures/position"
    )
    stream.add_argument("--seconds", type=float, help="stop after this long (default: until Ctrl-C)")
    stream.add_argument("--record", type=Path, help="also record the messages to this file (JSON lines)")
    source = stream.add_mutually_exclusive_group()
    source.add_argument("--live", action="store_true", help="BitMart's live URLs instead of the simulator")
    source.add_argument("--urls", help="JSON object of URLs per connection key (as `simulate` prints)")
    stream.add_argument("--demo-trading", action="store_true", help="futures v2 demo hosts (with --live)")
    replay = commands.add_parser("replay", help="print the messages of a recording")
    replay.add_argument("file", type=Path, help="a file written with --record")
    replay.add_argument("--speed", type=float, default=0.0, help="1 = recorded pace, 0 = at once (default)")
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
    parser.add_argument(
        "--cadence",
        type=float,
        default=None,
        help="seconds between market ticks of both dialects (default: BitMart's, 0.1 spot and 1.0 futures)",
    )
    parser.add_argument("--seed", type=int, default=7, help="seed of the synthetic data")
    parser.add_argument(
        "--compress",
        choices=("always", "never", "mixed"),
        default="always",
        help="spot data pushes as raw-deflate binary (always, the default), text (never) or a mix",
    )


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
        compress=args.compress,
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


def _out(line: str) -> None:
    print(line, flush=True)


def _notice(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def _credentials_from_env() -> dict[str, str]:
    names = {"api_key": "BITMART_API_KEY", "api_secret": "BITMART_API_SECRET", "api_memo": "BITMART_API_MEMO"}
    return {option: os.environ[var] for option, var in names.items() if os.environ.get(var)}


async def run_stream(args: argparse.Namespace, record: IO[str] | None) -> int:
    """``stream``: from the simulator (default), explicit URLs, or BitMart's live URLs."""
    options: dict[str, Any] = _credentials_from_env()
    if args.urls:
        try:
            options["ws_urls"] = json.loads(args.urls)
        except json.JSONDecodeError as exc:
            raise ConfigurationError(f"--urls is not a JSON object: {exc}") from exc
    if args.live or args.urls:
        options["demo_trading"] = args.demo_trading
        await streaming.stream(
            args.topics, _out, seconds=args.seconds, notice=_notice, record=record, client_options=options
        )
        return 0
    async with streaming.embedded_simulator(notice=_notice) as sim_options:
        await streaming.stream(
            args.topics, _out, seconds=args.seconds, notice=_notice, record=record, client_options=sim_options
        )
    return 0


def _run(work: Coroutine[Any, Any, int]) -> int:
    try:
        return asyncio.run(work)
    except KeyboardInterrupt:
        return 130
    except ConfigurationError as exc:
        _notice(f"bitmart-ws: {exc}")
        return 2
    except (BitmartWSError, OSError) as exc:
        _notice(f"bitmart-ws: {type(exc).__name__}: {exc}")
        return 1


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``bitmart-ws``; returns the exit status."""
    args = build_parser().parse_args(argv)
    level = {0: logging.WARNING, 1: logging.INFO}.get(args.verbose, logging.DEBUG)
    logging.basicConfig(
        level=level, stream=sys.stderr, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    if args.command == "simulate":
        return asyncio.run(run_simulator(simulator_config(args)))
    if args.command == "replay":
        try:
            with args.file.open() as source:
                return _run(_replayed(source, args.speed))
        except OSError as exc:
            _notice(f"bitmart-ws: cannot read {args.file}: {exc.strerror}")
            return 1
    record = args.record.open("w") if args.record else None
    try:
        if args.command == "demo":
            return _run(_demo(args.seconds, record))
        return _run(run_stream(args, record))
    finally:
        if record is not None:
            record.close()


async def _demo(seconds: float, record: IO[str] | None) -> int:
    await streaming.demo(_out, seconds=seconds, notice=_notice, record=record)
    return 0


async def _replayed(source: IO[str], speed: float) -> int:
    await streaming.replay(source, _out, speed=speed)
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
