"""The ``bitmart-ws`` command line (also ``python -m bitmart_ws``).

Commands: ``stream``, ``record``, ``replay``, ``book``, ``export``, ``channels``, ``demo``, ``simulate``
(``bitmart-ws --help``; docs/cli.md). Messages go to stdout as JSON lines; notices go to stderr.
Exit status: 0 done, 1 a BitMart or connection error, 2 a usage or configuration error, 130
interrupted (Ctrl-C or SIGTERM).

Credentials for private topics come from ``BITMART_API_KEY``, ``BITMART_API_SECRET`` and
``BITMART_API_MEMO`` (never from the command line, where other users could read them).
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import sys
from collections.abc import Awaitable, Callable, Sequence

from ..exceptions import BitmartWSError, ConfigurationError
from . import _book, _export, _fanout, _jobs
from ._args import CREDENTIAL_VARIABLES, EXIT_CODES, add_simulate_arguments, build_parser
from ._console import Console

__all__ = ["CREDENTIAL_VARIABLES", "EXIT_CODES", "add_simulate_arguments", "build_parser", "main"]

INTERRUPTED = 130

Job = Callable[[argparse.Namespace, Console], Awaitable[int]]

_JOBS: dict[str, tuple[Job, int]] = {
    # command: (job, exit status when SIGINT/SIGTERM ends it)
    "stream": (_jobs.stream, INTERRUPTED),
    "record": (_jobs.record, INTERRUPTED),
    "replay": (_jobs.replay, INTERRUPTED),
    "book": (_book.book, INTERRUPTED),
    "export": (_export.export, INTERRUPTED),
    "demo": (_jobs.demo, INTERRUPTED),
    "channels": (_jobs.channels, INTERRUPTED),
    "simulate": (_jobs.simulate, 0),  # a server: a signal is how it is meant to end
    "publish": (_fanout.publish, INTERRUPTED),
}


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``bitmart-ws``; returns the exit status."""
    args = build_parser().parse_args(argv)
    verbosity = args.verbose + args.verbose_after
    level = {0: logging.ERROR, 1: logging.INFO}.get(verbosity, logging.DEBUG)
    logging.basicConfig(
        level=level, stream=sys.stderr, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    console = Console(verbosity)
    try:
        job, interrupted = _JOBS[args.command]
        return asyncio.run(_interruptible(job(args, console), interrupted))
    except KeyboardInterrupt:  # before the handlers were installed
        return INTERRUPTED
    except ConfigurationError as exc:
        console.notice(str(exc))
        return 2
    except (BitmartWSError, OSError) as exc:
        console.notice(f"{type(exc).__name__}: {exc}")
        return 1
    finally:
        console.end_status()


async def _interruptible(job: Awaitable[int], interrupted: int) -> int:
    """Run ``job``; SIGINT and SIGTERM cancel it (its cleanup runs: recordings are flushed)."""
    loop = asyncio.get_running_loop()
    task = asyncio.current_task()
    assert task is not None
    signals: list[int] = []

    def interrupt(signum: int) -> None:
        signals.append(signum)
        task.cancel()

    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, interrupt, signum)
    try:
        return await job
    except asyncio.CancelledError:
        if signals:
            return interrupted
        raise
    finally:
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(signum)
