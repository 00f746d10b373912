"""Fault-injection state shared by every connection of a simulator.

The :class:`~bitmart_ws.simulator.Simulator` methods (``pause_pongs``, ``reject_logins``,
``refuse_upgrades``...) set these fields; the connection handlers read them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum

__all__ = ["FaultState", "Malformed"]


class Malformed(Enum):
    """Kinds of broken frames :meth:`Simulator.send_malformed` can send."""

    TEXT = "text"  # a text frame that is not JSON
    TRUNCATED = "truncated"  # a binary raw-deflate frame cut in half
    ZLIB = "zlib"  # a binary frame zlib-wrapped (with header) instead of raw deflate
    EMPTY_DATA = "empty_data"  # a push whose ``data`` is "" (ccxt saw this on spot)
    DEEP = "deep"  # valid JSON nested 1,000 levels deep (64 bytes deflated): beyond any decoder's recursion


@dataclass
class FaultState:
    """Every switch the fault-injection API flips."""

    pongs_paused: bool = False
    reject_all_logins: bool = False
    logins_to_reject: int = 0
    refuse_status: int | None = None
    refusals_left: int | None = None  # None: until cleared
    refuse_path: str | None = None  # None: every path
    refuse_market: str | None = None  # None: both servers
    upgrade_delay_s: float = 0.0
    ack_delay_s: float = 0.0
    paused_topics: set[str] = field(default_factory=set)

    def take_login_rejection(self) -> bool:
        """Whether the login being processed must be rejected (consumes one of the next N)."""
        if self.reject_all_logins:
            return True
        if self.logins_to_reject > 0:
            self.logins_to_reject -= 1
            return True
        return False

    def take_upgrade_refusal(self, path: str | None = None, market: str | None = None) -> int | None:
        """The HTTP status to refuse the upgrade of ``path`` on ``market`` with, or ``None`` to accept it.

        Only upgrades that match the refusal's path and market filters are refused (and counted).
        """
        status = self.refuse_status
        if status is None:
            return None
        if self.refuse_path is not None and path != self.refuse_path:
            return None
        if self.refuse_market is not None and market != self.refuse_market:
            return None
        if self.refusals_left is not None:
            self.refusals_left -= 1
            if self.refusals_left <= 0:
                self.clear_refusals()
        return status

    def clear_refusals(self) -> None:
        """Accept every upgrade again."""
        self.refuse_status, self.refusals_left = None, None
        self.refuse_path, self.refuse_market = None, None
