"""The argument parser of ``bitmart-ws``: commands, options, and their validation (usage errors exit 2)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from .. import __version__
from ..exceptions import ConfigurationError
from ..protocol.keys import WsKey
from ..recording import parse_size
from ..simulator import DEFAULT_ACCOUNT

__all__ = ["CREDENTIAL_VARIABLES", "EXIT_CODES", "add_simulate_arguments", "build_parser"]

CREDENTIAL_VARIABLES = ("BITMART_API_KEY", "BITMART_API_SECRET", "BITMART_API_MEMO")
"""The environment variables the CLI reads credentials from (never the command line: others could read it)."""

EXIT_CODES = {
    0: "done",
    1: "a BitMart or connection error (a rejected topic, a connection still failing at the end)",
    2: "a usage or configuration error",
    130: "interrupted (Ctrl-C or SIGTERM); `simulate` ends with 0, a signal is how it stops",
}

EPILOG = "\n".join(
    [
        "exit status:",
        *(f"  {code:<4} {meaning}" for code, meaning in EXIT_CODES.items()),
        "",
        "credentials (private topics with --live or --urls): the environment variables",
        f"  {', '.join(CREDENTIAL_VARIABLES)} (all three).",
        "Messages go to stdout as JSON lines; notices go to stderr.",
    ]
)


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not value > 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"must be > 0, not {text}")
    return value


def _non_negative_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not value >= 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"must be >= 0, not {text}")
    return value


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be > 0, not {text}")
    return value


def _size(text: str) -> int:
    try:
        return parse_size(text)
    except ConfigurationError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _urls(text: str) -> dict[str, str]:
    """A non-empty JSON object of connection key -> ws:// or wss:// URL (what ``simulate`` prints)."""
    try:
        value: Any = json.loads(text)
    except json.JSONDecodeError as exc:
        raise argparse.ArgumentTypeError(
            f"not JSON ({exc.msg}); expected an object of URLs per key"
        ) from None
    if not isinstance(value, dict):
        raise argparse.ArgumentTypeError(
            f"expected a JSON object of URLs per key, such as the line `bitmart-ws simulate` prints, "
            f"not {type(value).__name__ if value is not None else 'null'}"
        )
    if not value:
        raise argparse.ArgumentTypeError(
            "the URL map is empty (it would mean BitMart's live URLs: use --live)"
        )
    keys = {k.value for k in WsKey}
    for key, url in value.items():
        if key not in keys:
            raise argparse.ArgumentTypeError(f"unknown key {key!r}; keys are: {', '.join(sorted(keys))}")
        if not isinstance(url, str) or not url.startswith(("ws://", "wss://")):
            raise argparse.ArgumentTypeError(f"the URL of {key} must start with ws:// or wss://, not {url!r}")
    return value


def _verbose(parser: argparse.ArgumentParser, dest: str) -> None:
    parser.add_argument(
        "-v", "--verbose", dest=dest, action="count", default=0, help="more on stderr (-vv: debug)"
    )


def _command(
    commands: Any, name: str, help_text: str, description: str | None = None
) -> argparse.ArgumentParser:
    parser: argparse.ArgumentParser = commands.add_parser(
        name,
        help=help_text,
        description=description or help_text,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    _verbose(parser, "verbose_after")
    return parser


def _add_limits(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--seconds", type=_positive_float, help="stop this long after the start (default: until Ctrl-C)"
    )
    parser.add_argument("--count", type=_positive_int, help="stop after this many messages")


def _add_source(parser: argparse.ArgumentParser) -> None:
    source = parser.add_mutually_exclusive_group()
    source.add_argument(
        "--simulator",
        action="store_true",
        help="the embedded simulator on loopback (the default while neither --live nor --urls is given)",
    )
    source.add_argument("--live", action="store_true", help="BitMart's live URLs")
    source.add_argument(
        "--urls",
        type=_urls,
        help="JSON object of URLs per connection key (the line `bitmart-ws simulate` prints)",
    )
    parser.add_argument("--demo-trading", action="store_true", help="futures v2 demo hosts (with --live)")
    parser.add_argument(
        "--symbols", help="comma-separated spot symbols of the embedded simulator (default BTC_USDT,ETH_USDT)"
    )


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of ``bitmart-ws``."""
    parser = argparse.ArgumentParser(
        prog="bitmart-ws",
        description="BitMart WebSocket tools: stream, record, replay and export topics; watch an order book; "
        "run the BitMart simulator.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    _verbose(parser, "verbose")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    demo = _command(
        commands, "demo", "stream spot and futures topics, public and private, from the simulator"
    )
    demo.add_argument("--seconds", type=_positive_float, default=5.0, help="stop after this long (default 5)")
    demo.add_argument("--record", type=Path, metavar="FILE", help="also record the messages to FILE")

    stream = _command(commands, "stream", "stream topics as JSON lines")
    stream.add_argument(
        "topics", nargs="+", metavar="TOPIC", help="e.g. spot/ticker:BTC_USDT futures/position"
    )
    _add_limits(stream)
    _add_source(stream)
    stream.add_argument("--record", type=Path, metavar="FILE", help="also record the messages to FILE")
    stream.add_argument(
        "--format", choices=("json", "pretty"), default="json", help="one JSON line per message, or indented"
    )
    stream.add_argument(
        "--from",
        dest="from_url",
        metavar="REDIS_URL",
        help="read what `publish` wrote to Redis (redis://host:port/db) instead of BitMart",
    )
    stream.add_argument(
        "--since", help="with --from: after an entry id, or from a time (Unix seconds, ISO 8601)"
    )
    stream.add_argument("--prefix", default="bitmart:", help="with --from: the key prefix (default bitmart:)")

    publish = _command(commands, "publish", "publish topics to Redis Streams (one stream per topic)")
    publish.add_argument("topics", nargs="+", metavar="TOPIC")
    publish.add_argument("--redis", required=True, metavar="URL", help="redis://host:port/db")
    publish.add_argument("--prefix", default="bitmart:", help="key prefix: the stream of T is PREFIX+T")
    publish.add_argument("--maxlen", type=_positive_int, default=100_000, help="approximate cap per stream")
    publish.add_argument(
        "--buffer",
        type=_positive_int,
        default=50_000,
        help="messages kept while Redis is down (oldest dropped)",
    )
    publish.add_argument(
        "--seconds", type=_positive_float, help="stop this long after the start (default: until Ctrl-C)"
    )
    _add_source(publish)

    record = _command(commands, "record", "record topics to a crash-safe, rotating, compressed file")
    record.add_argument("topics", nargs="+", metavar="TOPIC")
    record.add_argument("--out", type=Path, required=True, metavar="FILE", help="the first file of the set")
    record.add_argument(
        "--rotate-size", type=_size, metavar="SIZE", help="start FILE.1, FILE.2... past this size (100M, 64k)"
    )
    record.add_argument(
        "--rotate-seconds", type=_positive_float, metavar="S", help="start the next file after S seconds"
    )
    _add_limits(record)
    _add_source(record)

    replay = _command(
        commands,
        "replay",
        "print the messages of a recording as JSON lines, or serve them through the simulator",
    )
    replay.add_argument("file", type=Path, metavar="FILE", help="the first file of a recording set")
    replay.add_argument(
        "--speed",
        type=_non_negative_float,
        default=None,
        help="1 = recorded pace, 2 = twice as fast, 0 = at once (default 0; with --serve, 1)",
    )
    replay.add_argument(
        "--serve",
        action="store_true",
        help="serve the recording through the simulator (prints its URLs like `simulate`); the replay "
        "starts at the first subscription to a recorded topic and the command ends after the last message",
    )
    replay.add_argument("--host", default="127.0.0.1", help="with --serve: interface to bind")
    replay.add_argument("--spot-port", type=int, default=0, help="with --serve: spot port (0: a free port)")
    replay.add_argument(
        "--futures-port", type=int, default=0, help="with --serve: futures port (0: a free port)"
    )

    book = _command(
        commands,
        "book",
        "a live view of the local order book of SYMBOL (JSON objects when stdout is not a terminal)",
    )
    book.add_argument("market", choices=("spot", "futures"), help="spot or futures")
    book.add_argument("symbol", metavar="SYMBOL", help="BTC_USDT (spot) or BTCUSDT (futures)")
    book.add_argument(
        "--depth", type=int, help="futures: 5, 20 or 50 levels kept (default 50); spot books keep 100"
    )
    book.add_argument("--levels", type=_positive_int, default=10, help="levels shown per side (default 10)")
    book.add_argument(
        "--once", action="store_true", help="print the first valid book as one JSON object and exit"
    )
    book.add_argument(
        "--seconds", type=_positive_float, help="stop this long after the start (default: until Ctrl-C)"
    )
    _add_source(book)

    export = _command(
        commands, "export", "typed rows of a recording, one Parquet file per channel (needs pyarrow)"
    )
    export.add_argument("file", type=Path, metavar="FILE", help="the first file of a recording set")
    export.add_argument("--to", choices=("parquet",), required=True, help="the output format")
    export.add_argument(
        "--out", type=Path, required=True, metavar="DIR", help="folder of the files (created if missing)"
    )

    _command(commands, "channels", "list every known channel with an example topic")

    sim = _command(
        commands, "simulate", "run the BitMart simulator until interrupted (prints one JSON line of URLs)"
    )
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
        type=_positive_float,
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
