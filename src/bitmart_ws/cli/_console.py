"""Where the CLI's output goes: JSON lines on stdout, notices and a status line on stderr.

A closed stdout (``bitmart-ws stream ... | head -1``) is not an error: the console notes it, sends
whatever is still buffered to ``/dev/null`` and the command ends quietly with status 0.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass, field
from typing import IO

__all__ = ["Console", "Failures"]


class Console:
    """The CLI's two streams. ``verbosity`` 0 prints notices, 1 also ``info`` lines."""

    def __init__(
        self, verbosity: int = 0, stdout: IO[str] | None = None, stderr: IO[str] | None = None
    ) -> None:
        self.verbosity = verbosity
        self._out = stdout or sys.stdout
        self._err = stderr or sys.stderr
        self.stdout_closed = False
        self.status_enabled = _isatty(self._err)
        self.stdout_is_terminal = _isatty(self._out)
        self._status_shown = False

    def message(self, line: str) -> None:
        """One message line on stdout (flushed: a consumer sees it at once)."""
        if self.stdout_closed:
            return
        try:
            self._out.write(line + "\n")
            self._out.flush()
        except BrokenPipeError:
            self._stdout_gone()

    def _stdout_gone(self) -> None:
        self.stdout_closed = True
        # the interpreter flushes stdout once more at exit: let that go nowhere instead of failing again
        try:
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, self._out.fileno())
            os.close(devnull)
        except (OSError, ValueError):
            pass

    def notice(self, text: str) -> None:
        """One line on stderr, prefixed with ``bitmart-ws:`` (the status line is redrawn after it)."""
        self._write_err(f"bitmart-ws: {text}\n")

    def info(self, text: str) -> None:
        """A notice shown only with ``-v``."""
        if self.verbosity >= 1:
            self.notice(text)

    def status(self, text: str) -> None:
        """Replace the one-line status in place (only when stderr is a terminal)."""
        if self.status_enabled:
            self._write_err(f"\r\x1b[K{text}", keep_status=True)
            self._status_shown = True

    def end_status(self) -> None:
        if self._status_shown:
            self._write_err("\r\x1b[K", keep_status=True)
            self._status_shown = False

    def _write_err(self, text: str, keep_status: bool = False) -> None:
        if self._status_shown and not keep_status:
            text = "\r\x1b[K" + text
            self._status_shown = False
        try:
            self._err.write(text)
            self._err.flush()
        except (BrokenPipeError, ValueError):
            pass  # nowhere left to tell; the exit status still says how it went


def _isatty(stream: IO[str]) -> bool:
    try:
        return stream.isatty()
    except ValueError:
        return False


@dataclass
class _Streak:
    attempts: int = 0
    last_shown: float = 0.0
    cause: str = ""


@dataclass
class Failures:
    """Summarises repeated failures per connection (pure: time is a parameter).

    The first failure of a streak is shown in full; later ones are counted and shown at most once
    per ``every`` seconds as ``still failing (N attempts): <cause>``; a recovery ends the streak.
    """

    every: float = 5.0
    _streaks: dict[str, _Streak] = field(default_factory=dict)

    def failed(
        self, name: str, cause: str, now: float, delay: float | None = None, key: str | None = None
    ) -> str | None:
        """Record a failure of ``name``; returns the line to show, or ``None`` to stay quiet.

        ``key`` (default ``name``) identifies the streak: errors that differ in ``cause`` can each have one.
        """
        retry = "" if delay is None else f"; retrying in {delay:.1f} s"
        key = key or name
        streak = self._streaks.get(key)
        if streak is None:
            self._streaks[key] = _Streak(1, now, cause)
            return f"{name}: {cause}{retry}"
        streak.attempts += 1
        streak.cause = cause
        if now - streak.last_shown < self.every:
            return None
        streak.last_shown = now
        return f"{name}: still failing ({streak.attempts} attempts): {cause}{retry}"

    def recovered(self, name: str) -> str | None:
        """``name`` works again; returns a line when it had failed."""
        streak = self._streaks.pop(name, None)
        if streak is None:
            return None
        return f"{name}: back after {streak.attempts} failed attempt(s)"

    def failing(self) -> list[str]:
        """One line per connection whose streak has not ended."""
        return [f"{k}: still failing ({s.attempts} attempts): {s.cause}" for k, s in self._streaks.items()]
