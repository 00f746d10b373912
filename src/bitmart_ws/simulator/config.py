"""Settings of the simulator; every BitMart limit is one of them so tests can make it small."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Literal

from ..protocol.keys import Market
from .accounts import DEFAULT_ACCOUNT, Account
from .market import futures_symbol

__all__ = ["DEFAULT_CADENCE", "Compress", "IpLimitResponse", "SimulatorConfig"]

DEFAULT_CADENCE: Mapping[Market, float] = MappingProxyType({Market.SPOT: 0.1, Market.FUTURES: 1.0})
"""BitMart's push cadence per dialect (spot increase100 every 100 ms; futures observed at 1 frame/s)."""

Compress = Literal["always", "never", "mixed"]
IpLimitResponse = Literal["frame", "http"]


@dataclass(frozen=True, slots=True)
class SimulatorConfig:
    """Everything the simulator can be told (defaults follow BitMart's documented behaviour).

    Durations are seconds (``float``) unless the name ends in ``_ms``; ``None`` or ``0`` turns a limit off.

    Attributes:
        host: interface to bind.
        spot_port: spot server port (0: a free port).
        futures_port: futures v2 server port (0: a free port).
        symbols: spot symbols (``BTC_USDT``); futures symbols are derived (``BTCUSDT``).
        futures_symbols: explicit futures symbols instead of the derived ones.
        accounts: the credentials table.
        seed: seed of every random choice (market data, activity, ``mixed`` compression).
        cadence: seconds between market ticks of both dialects (each ``TICK`` channel pushes once per
            tick of its dialect); ``0`` stops the clocks: the markets then move only when a test calls
            :meth:`Simulator.step`. ``None``: each dialect's own cadence below.
        spot_cadence: the spot clock, overriding ``cadence`` (BitMart: the incremental book pushes
            every 100 ms, so 0.1 when neither is set).
        futures_cadence: the futures clock, overriding ``cadence`` (BitMart: one frame per second
            observed on every depth, book-ticker and ticker channel, so 1.0 when neither is set).
        account_interval: seconds between account activity steps (orders, balances, positions).
        funding_interval: seconds between ``futures/fundingRate`` pushes.
        position_interval: seconds between ``futures/position`` re-pushes without a change (BitMart: 10).
        quiet_probability: chance a market tick changes nothing (spot book heartbeats).
        gap_probability: chance an incremental-book update skips a version (seeded per connection).
        compress: spot data pushes as raw-deflate binary (``always``), text (``never``) or a seeded mix.
        ticker_group_suffix: suffix the futures per-symbol ticker ``group`` carries (``@100ms``).
        echo_full_request: futures acks echo the whole request instead of the single topic.
        all_symbols_table: ``table`` of ``spot/user/orders:ALL_SYMBOLS`` pushes (doc: ``spot/user/order``).
        ts_window_ms: accepted ``|server time - login timestamp|``.
        clock_offset_ms: added to the server clock when checking login timestamps.
        max_topics_per_request: spot topics per subscribe (90005).
        max_args_bytes: spot: total UTF-8 length of the topics of one request (BitMart: 4096); more is
            refused with 90005 (the reference gives no code: a simulator choice).
        max_public_topics: spot topics per ``/api`` connection (90006).
        max_private_topics: spot topics per ``/user`` connection (90006).
        futures_max_topics: futures topics per connection (undocumented; off).
        spot_rate_limit: spot client messages (pings included) per ``rate_window`` (90007, then close).
        futures_rate_limit: the same for futures (undocumented; off).
        rate_window: the rate-limit window.
        idle_timeout: close a connection that sent no frame for this long (0: off).
        lifeless_timeout: when > 0, overrides both per-dialect lifeless timeouts below.
        spot_lifeless_timeout: close a spot connection that subscribed nothing for this long (0: off).
        futures_lifeless_timeout: the same on futures (doc 5 s; the real server is lenient: off).
        futures_max_frame_bytes: futures frames larger than this close the socket with 1009.
        futures_ping_interval: the futures server's own protocol pings (``None``: off).
        spot_error_topic: spot per-topic errors (90004, 92001, 90006, 90008, 90009, 91006) carry the
            ``topic`` they refuse. BitMart's frames do not (``{"event":"subscribe","errorCode":"90004",
            "errorMessage":"Invalid channel param"}``), so the default is ``False``.
        legacy_error_wording: futures unknown-topic errors in the older doc wording
            (``group [<topic>] not exist``) instead of ``Invalid channel: not found <topic>``.
        connect_rate_limit: spot and futures, each server: upgrade attempts per IP per
            ``connect_rate_window`` (BitMart spot: 30 a minute; 94001). Off by default.
        connect_rate_window: the window of ``connect_rate_limit``.
        max_public_connections_per_ip: spot ``/api`` connections per IP (BitMart: 20; 94002). Off.
        max_private_connections_per_ip: spot ``/user`` connections per IP (BitMart: 10; 94002). Off.
        futures_max_connections_per_ip: futures connections per IP, both paths (BitMart: 500).
        ip_limit_response: how the per-IP limits refuse: ``frame`` accepts the upgrade, sends the error
            frame (spot ``{"event":"error","errorCode":"94001"...}``, futures ``{"success":false,...}``)
            and closes with 1008; ``http`` answers the upgrade with HTTP 429.
        sequence_pushes: every push of a subscription also carries ``"seq": {"session": id, "topic":
            text, "n": n}``, ``n`` counting that topic's pushes on that connection from 1 (not a BitMart
            field: tests use it to prove no update is lost, duplicated or reordered). Off by default.
    """

    host: str = "127.0.0.1"
    spot_port: int = 0
    futures_port: int = 0
    symbols: tuple[str, ...] = ("BTC_USDT", "ETH_USDT")
    futures_symbols: tuple[str, ...] | None = None
    accounts: tuple[Account, ...] = (DEFAULT_ACCOUNT,)
    seed: int = 7
    cadence: float | None = None
    spot_cadence: float | None = None
    futures_cadence: float | None = None
    account_interval: float = 10.0
    funding_interval: float = 60.0
    position_interval: float = 10.0
    quiet_probability: float = 0.2
    gap_probability: float = 0.0
    compress: Compress = "always"
    ticker_group_suffix: str = "@100ms"
    echo_full_request: bool = False
    all_symbols_table: str = "spot/user/order"
    ts_window_ms: int = 60_000
    clock_offset_ms: int = 0
    max_topics_per_request: int | None = 20
    max_args_bytes: int | None = 4096
    max_public_topics: int | None = 115
    max_private_topics: int | None = 100
    futures_max_topics: int | None = None
    spot_rate_limit: int | None = 100
    futures_rate_limit: int | None = None
    rate_window: float = 10.0
    idle_timeout: float = 20.0
    lifeless_timeout: float = 0.0
    spot_lifeless_timeout: float = 300.0
    futures_lifeless_timeout: float = 0.0
    futures_max_frame_bytes: int | None = 2048
    futures_ping_interval: float | None = 55.0
    spot_error_topic: bool = False
    legacy_error_wording: bool = False
    connect_rate_limit: int | None = None
    connect_rate_window: float = 60.0
    max_public_connections_per_ip: int | None = None
    max_private_connections_per_ip: int | None = None
    futures_max_connections_per_ip: int | None = 500
    ip_limit_response: IpLimitResponse = "frame"
    sequence_pushes: bool = False

    def cadence_of(self, market: Market) -> float:
        """Seconds between the market ticks of ``market``'s dialect (0: ticks only on ``step()``)."""
        own = self.spot_cadence if market is Market.SPOT else self.futures_cadence
        if own is not None:
            return own
        if self.cadence is not None:
            return self.cadence
        return DEFAULT_CADENCE[market]

    @property
    def all_futures_symbols(self) -> tuple[str, ...]:
        """The futures symbols served: explicit, or derived from the spot ones."""
        if self.futures_symbols is not None:
            return self.futures_symbols
        return tuple(dict.fromkeys(futures_symbol(s) for s in self.symbols))
