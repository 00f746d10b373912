"""What every model shares: the number policy, the one timestamp unit, the enums and the base class.

**Timestamps** are ``int`` milliseconds since the Unix epoch, everywhere. The wire mixes integer
milliseconds (``ms_t``), integer seconds (kline open times), millisecond strings (spot orders and
balances) and RFC 3339 strings with nanoseconds (futures trades); each is converted once, while
decoding. Redundant second-resolution copies (spot ``s_t``, deprecated) are not kept.

**Numbers** (prices, sizes, balances, rates arrive as decimal strings) become :class:`~decimal.Decimal`
or ``float``, one policy per :class:`~bitmart_ws.models.Decoder`, decided by :class:`Numbers` and
nowhere else: every model is generic in its number type ``N``.
"""

from __future__ import annotations

import re
from decimal import Decimal
from enum import IntEnum, StrEnum
from typing import Any, TypeVar

import msgspec

__all__ = [
    "DepthWay",
    "ExecType",
    "FuturesOrderAction",
    "FuturesOrderSide",
    "FuturesOrderState",
    "FuturesOrderType",
    "MarginMode",
    "Model",
    "MsFromRfc3339",
    "MsFromSeconds",
    "Numbers",
    "PositionMode",
    "PositionOpenType",
    "PositionType",
    "PriceType",
    "Side",
    "SpotOrderState",
    "SpotOrderType",
    "TradeWay",
]

N = TypeVar("N", Decimal, float)
"""The number type of a model: ``Decimal`` (exact) or ``float`` (fast)."""


class Numbers(StrEnum):
    """The number policy of a decoder (measured costs in ``docs/models.md``)."""

    DECIMAL = "decimal"  # exact: Decimal("0.1") stays 0.1; about 2x the decode time of FLOAT
    FLOAT = "float"  # fast, binary floating point: fine for display, not for exact sums

    @property
    def type(self) -> type[Decimal] | type[float]:
        return Decimal if self is Numbers.DECIMAL else float


class Model(msgspec.Struct, frozen=True, gc=False):
    """Base of every model: immutable, and untracked by the GC (a model never holds a cycle)."""


class MsFromSeconds(int):
    """A timestamp that arrives in integer seconds; it holds milliseconds."""


class MsFromRfc3339(int):
    """A timestamp that arrives as an RFC 3339 string (``2025-03-10T18:17:14.656686827Z``); it holds ms."""


_RFC3339 = re.compile(r"(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(?:\.(\d+))?[Zz]")


def rfc3339_ms(text: str) -> int:
    """Milliseconds since the epoch of a UTC RFC 3339 time with any number of fraction digits.

    Pure arithmetic (no ``time``/``datetime``, which would bring a clock into the sans-I/O core).
    """
    match = _RFC3339.fullmatch(text)
    if match is None:
        raise ValueError(f"not a UTC RFC 3339 time: {text!r}")
    year, month, day, hour, minute, second = (int(g) for g in match.groups()[:6])
    if not (1 <= month <= 12 and 1 <= day <= 31 and hour < 24 and minute < 60 and second <= 60):
        raise ValueError(f"not a UTC RFC 3339 time: {text!r}")
    fraction = match.group(7) or ""
    seconds = _days_from_civil(year, month, day) * 86400 + hour * 3600 + minute * 60 + second
    return seconds * 1000 + int((fraction + "000")[:3])


def _days_from_civil(year: int, month: int, day: int) -> int:
    """Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's algorithm)."""
    year -= month <= 2
    era = year // 400
    year_of_era = year - era * 400
    day_of_year = (153 * (month + (-3 if month > 2 else 9)) + 2) // 5 + day - 1
    day_of_era = year_of_era * 365 + year_of_era // 4 - year_of_era // 100 + day_of_year
    return era * 146097 + day_of_era - 719468


def dec_hook(kind: type, value: Any) -> Any:
    """msgspec's hook for the two timestamp markers (everything else msgspec decodes by itself)."""
    if kind is MsFromSeconds and type(value) is int:
        return MsFromSeconds(value * 1000)
    if kind is MsFromRfc3339 and type(value) is str:
        return MsFromRfc3339(rfc3339_ms(value))
    raise NotImplementedError(f"cannot decode {value!r} as {kind.__name__}")


# -- enums ----------------------------------------------------------------------------------------


class Side(StrEnum):
    """Spot trade (taker) side and spot order side."""

    BUY = "buy"
    SELL = "sell"


class SpotOrderState(StrEnum):
    """Spot ``order_state`` (the preferred field; ``state`` is its deprecated numeric twin)."""

    NEW = "new"
    PARTIALLY_FILLED = "partially_filled"
    FILLED = "filled"
    CANCELED = "canceled"
    PARTIALLY_CANCELED = "partially_canceled"


class SpotOrderType(StrEnum):
    LIMIT = "limit"
    MARKET = "market"
    LIMIT_MAKER = "limit_maker"
    IOC = "ioc"


class ExecType(StrEnum):
    """Spot order ``exec_type`` of the last fill."""

    MAKER = "M"
    TAKER = "T"


class DepthWay(IntEnum):
    """Futures ``way`` of a one-side depth frame."""

    BIDS = 1
    ASKS = 2


class TradeWay(IntEnum):
    """Futures trade ``way``: the position effects of the taker and the maker."""

    BUY_OPEN_LONG_SELL_OPEN_SHORT = 1
    BUY_OPEN_LONG_SELL_CLOSE_LONG = 2
    BUY_CLOSE_SHORT_SELL_OPEN_SHORT = 3
    BUY_CLOSE_SHORT_SELL_CLOSE_LONG = 4
    SELL_OPEN_SHORT_BUY_OPEN_LONG = 5
    SELL_OPEN_SHORT_BUY_CLOSE_SHORT = 6
    SELL_CLOSE_LONG_BUY_OPEN_LONG = 7
    SELL_CLOSE_LONG_BUY_CLOSE_SHORT = 8


class FuturesOrderAction(IntEnum):
    MATCH_DEAL = 1
    SUBMIT = 2
    CANCEL = 3
    LIQUIDATE_CANCEL = 4
    ADL_CANCEL = 5
    PARTIAL_LIQUIDATE = 6
    BANKRUPTCY = 7
    PASSIVE_ADL_MATCH = 8
    ACTIVE_ADL_MATCH = 9


class FuturesOrderState(IntEnum):
    APPROVAL = 1
    CHECK = 2
    FINISH = 4


class FuturesOrderSide(IntEnum):
    """Named by hedge mode; in one-way mode 1 = buy, 2 = buy reduce-only, 3 = sell reduce-only, 4 = sell."""

    BUY_OPEN_LONG = 1
    BUY_CLOSE_SHORT = 2
    SELL_CLOSE_LONG = 3
    SELL_OPEN_SHORT = 4


class FuturesOrderType(StrEnum):
    LIMIT = "limit"
    MARKET = "market"
    PLAN_ORDER = "plan_order"
    TRAILING_ORDER = "trailing_order"
    TAKE_PROFIT = "take_profit"
    STOP_LOSS = "stop_loss"
    LIQUIDATE = "liquidate"
    BANKRUPTCY = "bankruptcy"
    ADL = "adl"
    TRAILING = "trailing"
    PLANORDER = "planorder"


class MarginMode(StrEnum):
    """Futures order ``open_type`` (a string on orders)."""

    ISOLATED = "isolated"
    CROSS = "cross"


class PositionOpenType(IntEnum):
    """Futures position ``open_type`` (an integer on positions)."""

    ISOLATED = 1
    CROSS = 2


class PositionType(IntEnum):
    LONG = 1
    SHORT = 2


class PositionMode(StrEnum):
    HEDGE = "hedge_mode"
    ONE_WAY = "one_way_mode"


class PriceType(StrEnum):
    """Futures ``trigger_price_type`` / ``activation_price_type``."""

    LAST_PRICE = "last_price"
    FAIR_PRICE = "fair_price"
