"""Futures v2 channel models: one ``data`` object (or array element) each.

Field names are the wire's (camelCase and snake_case mixed, as sent). Times are int ms. Levels are
``FuturesLevel(price, vol)`` objects, as on the wire; ``vol`` is in contracts.
"""

from __future__ import annotations

from typing import Generic

from .common import (
    DepthWay,
    FuturesOrderAction,
    FuturesOrderSide,
    FuturesOrderState,
    FuturesOrderType,
    MarginMode,
    Model,
    MsFromRfc3339,
    MsFromSeconds,
    N,
    PositionMode,
    PositionOpenType,
    PositionType,
    PriceType,
    TradeWay,
)

__all__ = [
    "FuturesAsset",
    "FuturesBookTicker",
    "FuturesDepth",
    "FuturesDepthAll",
    "FuturesDepthIncrease",
    "FuturesFundingRate",
    "FuturesKline",
    "FuturesLastTrade",
    "FuturesLevel",
    "FuturesOrder",
    "FuturesOrderEvent",
    "FuturesPosition",
    "FuturesTicker",
    "FuturesTrade",
]


class FuturesTicker(Model, Generic[N], frozen=True):
    """``futures/ticker[:SYMBOL]``: one contract; there is no timestamp on the wire."""

    symbol: str
    last_price: N
    volume_24: N
    range: N  # 24 h relative change
    mark_price: N
    index_price: N
    ask_price: N
    ask_vol: N
    bid_price: N
    bid_vol: N


class FuturesLevel(Model, Generic[N], frozen=True):
    price: N
    vol: N


class FuturesDepth(Model, Generic[N], frozen=True):
    """``futures/depth{5,20,50}``: the complete top-N of **one side** (``way``); replace that side."""

    symbol: str
    way: DepthWay
    ms_t: int
    depths: tuple[FuturesLevel[N], ...]


class FuturesDepthAll(Model, Generic[N], frozen=True):
    """``futures/depthAll{5,20,50}``: both sides, complete each push."""

    symbol: str
    ms_t: int
    asks: tuple[FuturesLevel[N], ...]
    bids: tuple[FuturesLevel[N], ...]


class FuturesDepthIncrease(Model, Generic[N], frozen=True):
    """``futures/depthIncrease{5,20,50}``: ``snapshot`` or ``update``; every push advances ``version``."""

    symbol: str
    type: str
    version: int
    ms_t: int
    asks: tuple[FuturesLevel[N], ...]
    bids: tuple[FuturesLevel[N], ...]


class FuturesBookTicker(Model, Generic[N], frozen=True):
    symbol: str
    best_bid_price: N
    best_bid_vol: N
    best_ask_price: N
    best_ask_vol: N
    ms_t: int


class FuturesTrade(Model, Generic[N], frozen=True):
    """``futures/trade``: ``m`` true = the buyer is the maker (the taker sold). Newest first on the wire."""

    trade_id: int
    symbol: str
    deal_price: N
    deal_vol: N
    m: bool
    created_at: MsFromRfc3339
    way: TradeWay | None = None


class FuturesKline(Model, Generic[N], frozen=True):
    """One ``futures/klineBin*`` or ``futures/markPriceKlineBin*`` candle; ``ts`` (open time) in ms."""

    o: N
    h: N
    l: N  # noqa: E741 - the wire's name
    c: N
    v: N
    ts: MsFromSeconds


class FuturesFundingRate(Model, Generic[N], frozen=True):
    symbol: str
    fundingRate: N  # the wire's camelCase (as every field: the wire's names)
    fundingTime: int
    nextFundingRate: N
    nextFundingTime: int
    funding_upper_limit: N
    funding_lower_limit: N
    ts: int


class FuturesAsset(Model, Generic[N], frozen=True):
    """``futures/asset:<CCY>``."""

    currency: str
    available_balance: N
    position_deposit: N
    frozen_balance: N


class FuturesPosition(Model, Generic[N], frozen=True):
    """One entry of ``futures/position`` (re-pushed every 10 s without change: not a fill)."""

    symbol: str
    hold_volume: N
    position_type: PositionType
    open_type: PositionOpenType
    frozen_volume: N
    close_volume: N
    hold_avg_price: N
    close_avg_price: N
    open_avg_price: N
    liquidate_price: N
    create_time: int
    update_time: int
    position_mode: PositionMode | None = None


class FuturesLastTrade(Model, Generic[N], frozen=True):
    lastTradeID: int
    fillQty: N
    fillPrice: N
    fee: N
    feeCcy: str


class FuturesOrder(Model, Generic[N], frozen=True):
    """The ``order`` of a ``futures/order`` event. Trigger fields sent as ``"-"`` become ``None``."""

    order_id: str
    client_order_id: str
    symbol: str
    price: N
    size: N
    state: FuturesOrderState
    side: FuturesOrderSide
    type: FuturesOrderType
    leverage: N
    open_type: MarginMode
    deal_avg_price: N
    deal_size: N
    create_time: int
    update_time: int
    plan_order_id: str = ""
    last_trade: FuturesLastTrade[N] | None = None
    trigger_price: N | None = None
    trigger_price_type: PriceType | None = None
    execution_price: N | None = None
    activation_price_type: PriceType | None = None
    activation_price: N | None = None
    callback_rate: N | None = None
    position_mode: PositionMode | None = None


class FuturesOrderEvent(Model, Generic[N], frozen=True):
    """One entry of ``futures/order``: what happened (``action``) and the order after it."""

    action: FuturesOrderAction
    order: FuturesOrder[N]
