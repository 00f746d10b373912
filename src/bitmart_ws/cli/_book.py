"""``bitmart-ws book MARKET SYMBOL``: a local order book, as a live terminal view or JSON objects.

On a terminal the view is redrawn in place (ANSI) at most :data:`REDRAW_EVERY` times a second;
otherwise each change of the book is one JSON object on stdout (:func:`book_json`), and ``--once``
prints the first valid book and ends.
"""

from __future__ import annotations

import argparse
import asyncio
from typing import Any

import msgspec

from ..book import BookSnapshot
from ..books import LocalBook, book_topic
from ..client import WebsocketClient
from ._console import Console
from ._jobs import Watch, client_options, run_until

__all__ = ["book", "book_json", "render_book"]

REDRAW_EVERY = 0.1
"""Shortest time between two redraws of the terminal view (seconds)."""

CLEAR = "\x1b[H\x1b[2J"
"""Cursor home and clear the screen: the view is redrawn from the top."""


def _text(value: Any) -> str | None:
    return None if value is None else str(value)


def book_json(book: LocalBook, levels: int) -> dict[str, Any]:
    """The book as one JSON-ready object: prices and sizes as decimal strings, best first."""
    snap = book.snapshot(levels)
    return {
        "topic": book.topic,
        "version": snap.version,
        "valid": snap.valid,
        "ms_t": snap.ms_t,
        "resyncs": book.resyncs,
        "spread": _text(snap.spread),
        "bids": [[str(price), str(size)] for price, size in snap.bids],
        "asks": [[str(price), str(size)] for price, size in snap.asks],
    }


def render_book(topic: str, snap: BookSnapshot[Any], resyncs: int) -> list[str]:
    """The terminal view of ``snap``: a header, the asks (best last) above the bids (best first)."""
    state = "valid" if snap.valid else "INVALID (resynchronising)"
    header = [
        f"{topic}  version {snap.version}  {state}  resyncs {resyncs}",
        f"spread {_text(snap.spread) or '-'}",
        f"{'':4}{'PRICE':>20}  {'SIZE':>20}",
    ]
    width = 20
    asks = [f"ask {str(p):>{width}}  {str(s):>{width}}" for p, s in reversed(snap.asks)]
    bids = [f"bid {str(p):>{width}}  {str(s):>{width}}" for p, s in snap.bids]
    return [*header, *asks, "-" * (4 + 2 * width + 2), *bids]


async def _follow(book: LocalBook, args: argparse.Namespace, console: Console) -> None:
    terminal = console.stdout_is_terminal
    loop = asyncio.get_running_loop()
    shown: tuple[int | None, bool] | None = None
    while not console.stdout_closed:
        state = (book.version, book.valid)
        if state != shown:
            shown = state
            if terminal:
                lines = render_book(book.topic, book.snapshot(args.levels), book.resyncs)
                console.message(CLEAR + "\n".join(lines))
            else:
                console.message(msgspec.json.encode(book_json(book, args.levels)).decode())
        if terminal:
            # redraw at a bounded pace: a busy book changes far more often than a person can read
            next_draw = loop.time() + REDRAW_EVERY
            await book.changed()
            await asyncio.sleep(max(0.0, next_draw - loop.time()))
        else:
            await book.changed()


async def book(args: argparse.Namespace, console: Console) -> int:
    """``book MARKET SYMBOL``: the local order book of ``SYMBOL`` until the deadline or Ctrl-C."""
    topic, _ = book_topic(args.market, args.symbol, args.depth)  # a bad market or depth: usage error

    async def work() -> None:
        async with client_options(args, [topic], console) as options, WebsocketClient(**options) as client:
            Watch(console).wire(client)
            local = await client.order_book(args.market, args.symbol, depth=args.depth)
            try:
                if args.once:
                    console.message(msgspec.json.encode(book_json(local, args.levels)).decode())
                    return
                await _follow(local, args, console)
            finally:
                await local.close()

    await run_until(args.seconds, work)
    return 0
