"""Spot channel models: one ``data[i]`` item each, field names as on the wire.

Levels are ``(price, size)`` pairs; asks ascending, bids descending, as sent. Times are int ms.
"""

from __future__ import annotations

from typing import Generic

from .common import (
    ExecType,
    Model,
    MsFromSeconds,
    N,
    Side,
    SpotOrderState,
    SpotOrderType,
)

__all__ = [
    "BalanceDetail",
    "SpotBalanceUpdate",
    "SpotBookTicker",
    "SpotCandle",
    "SpotDepth",
    "SpotDepthIncrease",
    "SpotKline",
    "SpotOrder",
    "SpotTicker",
    "SpotTrade",
]


class SpotTicker(Model, Generic[N], frozen=True):
    """``spot/ticker``: 24 h statistics and the best bid/ask (``s_t``, deprecated seconds, is dropped)."""

    symbol: str
    last_price: N
    open_24h: N
    high_24h: N
    low_24h: N
    base_volume_24h: N
    quote_volume_24h: N
    fluctuation: N  # 24 h relative change: -0.0001 is -0.01 %
    bid_px: N
    bid_sz: N
    ask_px: N
    ask_sz: N
    ms_t: int


class SpotCandle(Model, Generic[N], frozen=True, array_like=True):
    """The ``candle`` array ``[open time, open, high, low, close, volume]``; ``open_time`` in ms."""

    open_time: MsFromSeconds
    open: N
    high: N
    low: N
    close: N
    volume: N


class SpotKline(Model, Generic[N], frozen=True):
    """``spot/kline<interval>``: the current candle."""

    symbol: str
    candle: SpotCandle[N]


class SpotDepth(Model, Generic[N], frozen=True):
    """``spot/depth{5,20,50}``: the whole top of the book; each push replaces the previous one."""

    symbol: str
    ms_t: int
    asks: tuple[tuple[N, N], ...]
    bids: tuple[tuple[N, N], ...]


class SpotDepthIncrease(Model, Generic[N], frozen=True):
    """``spot/depth/increase100``: ``type`` ``snapshot`` or ``update``; sizes absolute, ``0`` deletes.

    A heartbeat is an ``update`` with both sides empty and the previous ``version``.
    """

    symbol: str
    type: str
    version: int
    ms_t: int
    asks: tuple[tuple[N, N], ...]
    bids: tuple[tuple[N, N], ...]


class SpotTrade(Model, Generic[N], frozen=True):
    """``spot/trade``: one taker trade (``side`` is the taker's). No trade id on the wire."""

    symbol: str
    side: Side
    price: N
    size: N
    ms_t: int


class SpotBookTicker(Model, Generic[N], frozen=True):
    """``spot/bookTicker``: best bid and ask."""

    symbol: str
    bid_px: N
    bid_sz: N
    ask_px: N
    ask_sz: N
    ms_t: int


class SpotOrder(Model, Generic[N], frozen=True):
    """``spot/user/order`` (and ``spot/user/orders:ALL_SYMBOLS``): one order's progress.

    Every value is a string on the wire; times become int ms (``last_fill_time`` 0: no fill yet),
    ``notional`` ``""`` becomes ``None``. ``state``, ``order_type`` and ``margin_trading`` are the
    deprecated numeric codes, kept as sent; ``entrust_type`` is lower-cased (its case varies).
    """

    symbol: str
    order_id: str
    client_order_id: str
    side: Side
    type: SpotOrderType
    price: N
    size: N
    notional: N | None
    filled_size: N
    filled_notional: N
    ms_t: int
    create_time: int
    update_time: int
    last_fill_time: int
    last_fill_price: N
    last_fill_count: N
    exec_type: ExecType | None
    detail_id: str
    order_state: SpotOrderState
    entrust_type: str
    order_mode: str
    state: str = ""
    order_type: str = ""
    margin_trading: str = ""
    dealFee: N | None = None
    deal_fee_coin_name: str = ""


class BalanceDetail(Model, Generic[N], frozen=True):
    """One currency of a balance change: balances after the change (absolute)."""

    ccy: str
    av_bal: N
    fz_bal: N


class SpotBalanceUpdate(Model, Generic[N], frozen=True):
    """``spot/user/balance``: ``event_type`` trimmed (a doc sample has trailing spaces)."""

    event_type: str
    event_time: int
    balance_details: tuple[BalanceDetail[N], ...]
