"""The state every connection of one simulator shares: markets, accounts, the per-dialect market clocks,
the live sessions, the log of received frames, login verification, topic checks, and change notifications.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ..exceptions import InvalidTopic
from ..protocol.keys import Market
from ..protocol.topics import CHANNELS, Topic, parse_topic
from .accounts import Account, AccountActivity, ActivityBatch, LoginFailure, verify_login
from .config import SimulatorConfig
from .faults import FaultState
from .market import SymbolMarket, instrument_for

if TYPE_CHECKING:
    from .session import ReceivedFrame, Session

__all__ = ["DialectClock", "Venue"]


@dataclass
class DialectClock:
    """The market clock of one dialect: each tick moves its markets, maybe steps the accounts' activity
    on that dialect, and wakes the push loop of each of its sessions."""

    market: Market
    cadence: float  # seconds between ticks; 0: only Simulator.step() ticks
    next_activity: float
    ticks: int = 0
    now_ms: int = 0  # the time of the last tick (the exchange timestamp of its pushes)
    tick: asyncio.Event = field(default_factory=asyncio.Event)
    batches: dict[str, ActivityBatch] = field(default_factory=dict)  # api key -> this tick's activity

    @property
    def manual(self) -> bool:
        return self.cadence <= 0


class Venue:
    """Everything the simulator's connections share (one per :class:`~bitmart_ws.simulator.Simulator`)."""

    def __init__(self, config: SimulatorConfig) -> None:
        self.config = config
        self.faults = FaultState()
        self.clock_offset_ms = config.clock_offset_ms
        self.accounts = {a.api_key: a for a in config.accounts}
        self.markets: dict[Market, dict[str, SymbolMarket]] = {
            Market.SPOT: self._build_markets(config.symbols, Market.SPOT),
            Market.FUTURES: self._build_markets(config.all_futures_symbols, Market.FUTURES),
        }
        self.prices: dict[str, float] = {}
        self._update_prices()
        self.activity = {
            key: AccountActivity(
                account, config.seed, config.symbols, config.all_futures_symbols, self.prices
            )
            for key, account in self.accounts.items()
        }
        first_activity = time.monotonic() + config.account_interval
        self.clocks = {m: DialectClock(m, config.cadence_of(m), first_activity) for m in Market}
        self.sessions: dict[int, Session] = {}
        self.received: list[ReceivedFrame] = []
        self.ticks = 0
        self._next_session_id = 1
        self._changed = asyncio.Event()

    def _build_markets(self, symbols: Iterable[str], market: Market) -> dict[str, SymbolMarket]:
        cfg = self.config
        return {
            s: SymbolMarket(instrument_for(s, market, cfg.seed), cfg.seed, cfg.quiet_probability)
            for s in symbols
        }

    def _update_prices(self) -> None:
        for markets in self.markets.values():
            for symbol, m in markets.items():
                self.prices[symbol] = m.last_price / 10**m.instrument.price_decimals

    def new_session_id(self) -> int:
        """A session id never used before by this simulator."""
        session_id, self._next_session_id = self._next_session_id, self._next_session_id + 1
        return session_id

    # -- change notification -----------------------------------------------------------------------

    def notify(self) -> None:
        """Wake every :meth:`wait_for`."""
        self._changed.set()
        self._changed = asyncio.Event()

    async def wait_for(self, predicate: Callable[[], bool], timeout: float) -> None:  # noqa: ASYNC109
        async with asyncio.timeout(timeout):
            while not predicate():
                await self._changed.wait()

    # -- the clocks --------------------------------------------------------------------------------

    def advance(self, markets: Iterable[Market]) -> None:
        """One tick of the clocks of ``markets``: move their markets, maybe step the accounts, wake pushes."""
        now_ms = time.time_ns() // 1_000_000
        now = time.monotonic()
        for market in markets:
            clock = self.clocks[market]
            for symbol_market in self.markets[market].values():
                symbol_market.step(now_ms)
            self._update_prices()
            if now >= clock.next_activity:
                clock.next_activity = now + self.config.account_interval
                clock.batches = {key: act.step(now_ms, market) for key, act in self.activity.items()}
            else:
                clock.batches = {}
            clock.ticks += 1
            clock.now_ms = now_ms
            clock.tick.set()
            clock.tick = asyncio.Event()
        self.ticks += 1

    def all_pushed(self) -> bool:
        """Whether every session pushed every tick of its dialect's clock."""
        return all(s.tick_seen >= self.clocks[s.market].ticks for s in self.sessions.values())

    # -- what both dialects check ------------------------------------------------------------------

    def verify(self, args: list[Any], *, strict_strings: bool) -> Account | LoginFailure:
        """Check a spot ``login`` / futures ``access`` (``reject_logins`` turns a success into 91011)."""
        result = verify_login(
            args,
            self.accounts,
            now_ms=int(time.time() * 1000) + self.clock_offset_ms,
            window_ms=self.config.ts_window_ms,
            strict_strings=strict_strings,
        )
        if isinstance(result, Account) and self.faults.take_login_rejection():
            return LoginFailure("91011", "Param sign is wrong")
        return result

    def check_topic(self, market: Market, is_private_path: bool, text: str) -> Topic | tuple[str, str]:
        """The parsed topic, or ``(spot code, message)`` saying why the ``market`` server refuses it."""
        try:
            topic = parse_topic(text)
        except InvalidTopic:
            spec = CHANNELS.get(text.partition(":")[0])
            if spec is not None and spec.market is market:
                return ("92001", "Invalid symbol param")
            return ("90004", "Invalid channel param")
        if topic.spec is None or topic.market is not market:
            return ("90004", "Invalid channel param")
        if topic.symbol is not None and topic.symbol not in self.markets[market]:
            return ("92001", "Invalid symbol param")
        if topic.is_private and not is_private_path:
            return ("90009", "Invalid subscription")
        return topic

    async def ack_delay(self) -> None:
        """The ``delay_acks`` fault: wait before handling a subscribe, unsubscribe or login."""
        if self.faults.ack_delay_s > 0:
            await asyncio.sleep(self.faults.ack_delay_s)
