"""Simulated API accounts: the credentials table, login verification, and plausible account activity.

Pure code: time comes in as ``now_ms``. Signatures are checked with the protocol core's
:func:`bitmart_ws.protocol.signing.sign`, the same function the client signs with.
"""

from __future__ import annotations

import hmac
import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

from ..protocol.keys import Market
from ..protocol.signing import sign
from .market import stable_seed

__all__ = [
    "DEFAULT_ACCOUNT",
    "Account",
    "AccountActivity",
    "AccountStatus",
    "ActivityBatch",
    "LoginFailure",
    "verify_login",
]


class AccountStatus(Enum):
    """The state of an API key: only an ``ACTIVE`` key can log in."""

    ACTIVE = "active"
    FROZEN = "frozen"  # spot 91003 "API KEY has frozen"
    EXPIRED = "expired"  # spot 91004 "API KEY over expire time"


_STATUS_FAILURES: Mapping[AccountStatus, tuple[str, str]] = {
    AccountStatus.FROZEN: ("91003", "API KEY has frozen"),
    AccountStatus.EXPIRED: ("91004", "API KEY over expire time"),
}


@dataclass(frozen=True, slots=True)
class Account:
    """An API key the simulator knows, with its secret and memo (never shown in the repr) and its status
    (a ``FROZEN`` or ``EXPIRED`` key is refused with 91003 / 91004 once its signature checks out)."""

    api_key: str
    api_secret: str = field(repr=False)
    api_memo: str = field(repr=False)
    status: AccountStatus = AccountStatus.ACTIVE


DEFAULT_ACCOUNT = Account(api_key="sim-key", api_secret="sim-secret", api_memo="sim-memo")
"""The account every simulator accepts unless configured otherwise: ``sim-key`` / ``sim-secret`` /
``sim-memo``."""


@dataclass(frozen=True, slots=True)
class LoginFailure:
    """Why a login was refused: the spot error code and message; futures uses only the text."""

    code: str
    message: str


def verify_login(
    args: Sequence[Any],
    accounts: Mapping[str, Account],
    *,
    now_ms: int,
    window_ms: int,
    strict_strings: bool,
) -> Account | LoginFailure:
    """Check the ``args`` of a spot ``login`` (``[key, ts, sign]``) or futures ``access``
    (``[key, ts, sign, dev]``) against the credentials table.

    Args:
        args: the request's args.
        accounts: api key -> account.
        now_ms: the server clock (already shifted by any clock offset).
        window_ms: accepted ``|now_ms - ts|``.
        strict_strings: futures rule: every argument must be a string (spot also accepts a numeric ts).

    Returns:
        The account on success, else the failure with its spot code.
    """
    key = args[0] if len(args) > 0 else None
    stamp = args[1] if len(args) > 1 else None
    signature = args[2] if len(args) > 2 else None
    if key is None or key == "":
        return LoginFailure("91001", "API KEY is empty")
    if stamp is None or stamp == "":
        return LoginFailure("91021", "Param timestamp is empty")
    if signature is None or signature == "":
        return LoginFailure("91010", "Param sign is empty")
    if not isinstance(key, str) or not isinstance(signature, str):
        return LoginFailure("91023", "Param timestamp invalid format")
    stamp_text = _timestamp_text(stamp, strict_strings=strict_strings)
    if stamp_text is None:
        return LoginFailure("91023", "Param timestamp invalid format")
    account = accounts.get(key)
    if account is None:
        return LoginFailure("91002", "API KEY not found")
    if abs(now_ms - int(stamp_text)) > window_ms:
        return LoginFailure("91022", "Param timestamp range. Within a minute")
    expected = sign(account.api_secret, account.api_memo, stamp_text)
    if not hmac.compare_digest(expected, signature):
        return LoginFailure("91011", "Param sign is wrong")
    refused = _STATUS_FAILURES.get(account.status)
    if refused is not None:
        return LoginFailure(*refused)
    return account


def _timestamp_text(stamp: object, *, strict_strings: bool) -> str | None:
    if isinstance(stamp, str):
        return stamp if stamp.isascii() and stamp.isdigit() else None
    if not strict_strings and isinstance(stamp, int) and not isinstance(stamp, bool) and stamp >= 0:
        return str(stamp)
    return None


@dataclass
class ActivityBatch:
    """What one account did in one activity step, already shaped as wire ``data`` items."""

    spot_orders: list[dict[str, Any]] = field(default_factory=list)
    spot_balance: list[dict[str, Any]] = field(default_factory=list)
    futures_orders: list[dict[str, Any]] = field(default_factory=list)
    futures_assets: dict[str, dict[str, Any]] = field(default_factory=dict)
    futures_positions: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class _SpotOrder:
    symbol: str
    order_id: int
    side: str
    price: float
    size: float
    filled: float
    created: int
    updated: int
    last_fill: float = 0.0


_SPOT_STATES = {"new": "4", "partially_filled": "5", "filled": "6", "canceled": "8"}


@dataclass
class AccountActivity:
    """Deterministic activity of one account: an order lifecycle per step, the resulting balance
    change, futures orders, asset balances and positions (pushed every step, as BitMart's 10 s
    position timer).
    """

    account: Account
    seed: int
    spot_symbols: Sequence[str]
    futures_symbols: Sequence[str]
    prices: Mapping[str, float] = field(default_factory=dict)
    rng: random.Random = field(init=False)
    balances: dict[str, tuple[float, float]] = field(init=False, default_factory=dict)
    assets: dict[str, tuple[float, float, float]] = field(init=False, default_factory=dict)
    positions: dict[str, dict[str, Any]] = field(init=False, default_factory=dict)
    open_order: _SpotOrder | None = field(init=False, default=None)
    next_id: int = field(init=False)

    def __post_init__(self) -> None:
        self.rng = random.Random(stable_seed(self.seed, "account", self.account.api_key))
        self.next_id = 2_147_000_000 + self.rng.randint(0, 10**6)
        self.balances = {"USDT": (round(self.rng.uniform(5_000, 50_000), 2), 0.0)}
        for symbol in self.spot_symbols:
            self.balances[symbol.partition("_")[0]] = (round(self.rng.uniform(0.1, 20), 5), 0.0)
        self.assets = {
            ccy: (round(self.rng.uniform(10, 1000), 8), round(self.rng.uniform(0, 5), 8), 0.0)
            for ccy in ("USDT", "BTC", "ETH")
        }

    def _price(self, symbol: str) -> float:
        return self.prices.get(symbol, 100.0)

    def step(self, now_ms: int, market: Market | None = None) -> ActivityBatch:
        """Advance one step and return its events (``market`` limits the work to one dialect)."""
        batch = ActivityBatch()
        if market in (None, Market.SPOT) and self.spot_symbols:
            self._spot_step(now_ms, batch)
        if market in (None, Market.FUTURES) and self.futures_symbols:
            self._futures_step(now_ms, batch)
        return batch

    def _spot_step(self, now_ms: int, batch: ActivityBatch) -> None:
        order = self.open_order
        if order is None:
            symbol = self.rng.choice(list(self.spot_symbols))
            order = _SpotOrder(
                symbol,
                self.next_id,
                self.rng.choice(("buy", "sell")),
                round(self._price(symbol) * self.rng.uniform(0.995, 1.005), 2),
                round(self.rng.uniform(0.001, 0.5), 4),
                0.0,
                now_ms,
                now_ms,
            )
            self.next_id += self.rng.randint(1, 1000)
            self.open_order, state = order, "new"
        else:
            fill = round(order.size - order.filled if order.filled else order.size / 2, 4)
            order.filled = round(order.filled + fill, 4)
            order.last_fill, order.updated = fill, now_ms
            state = "filled" if order.filled >= order.size else "partially_filled"
            if state == "filled":
                self.open_order = None
            self._apply_fill(order, fill)
            batch.spot_balance.append(self._balance_event(order.symbol, now_ms))
        batch.spot_orders.append(self._spot_order_item(order, state, now_ms))

    def _apply_fill(self, order: _SpotOrder, fill: float) -> None:
        base = order.symbol.partition("_")[0]
        sign_ = 1 if order.side == "buy" else -1
        av, fz = self.balances.get(base, (0.0, 0.0))
        self.balances[base] = (max(0.0, round(av + sign_ * fill, 5)), fz)
        usdt_av, usdt_fz = self.balances["USDT"]
        self.balances["USDT"] = (max(0.0, round(usdt_av - sign_ * fill * order.price, 2)), usdt_fz)

    def _balance_event(self, symbol: str, now_ms: int) -> dict[str, Any]:
        details = []
        for ccy in (symbol.partition("_")[0], "USDT"):
            av, fz = self.balances[ccy]
            details.append({"ccy": ccy, "av_bal": f"{av:.8f}", "fz_bal": f"{fz:.8f}"})
        return {"event_type": "TRANSACTION_COMPLETED", "event_time": str(now_ms), "balance_details": details}

    def _spot_order_item(self, order: _SpotOrder, state: str, now_ms: int) -> dict[str, Any]:
        filled = order.last_fill > 0
        return {
            "symbol": order.symbol,
            "order_id": str(order.order_id),
            "client_order_id": f"sim{order.order_id}",
            "side": order.side,
            "type": "limit",
            "price": f"{order.price:.10f}",
            "size": f"{order.size:.10f}",
            "notional": "",
            "filled_size": f"{order.filled:.10f}",
            "filled_notional": f"{order.filled * order.price:.10f}",
            "ms_t": str(now_ms),
            "create_time": str(order.created),
            "update_time": str(order.updated),
            "last_fill_time": str(now_ms) if filled else "0",
            "last_fill_price": f"{order.price:.5f}" if filled else "0",
            "last_fill_count": f"{order.last_fill:.5f}" if filled else "0",
            "exec_type": "M",
            "detail_id": str(order.order_id * 10 + 1) if filled else "",
            "margin_trading": "0",
            "order_type": "0",
            "state": _SPOT_STATES[state],
            "order_mode": "spot",
            "entrust_type": "normal",
            "order_state": state,
            "dealFee": f"{order.filled * order.price * 0.001:.8f}",
            "deal_fee_coin_name": "USDT",
        }

    def _futures_step(self, now_ms: int, batch: ActivityBatch) -> None:
        symbol = self.rng.choice(list(self.futures_symbols))
        price = self._price(symbol)
        side = self.rng.choice((1, 4))  # buy_open_long or sell_open_short
        size = self.rng.randint(1, 50)
        order_id = self.next_id
        self.next_id += self.rng.randint(1, 1000)
        fill_price = round(price * self.rng.uniform(0.999, 1.001), 1)
        batch.futures_orders.append(
            {
                "action": 1,
                "order": {
                    "order_id": str(order_id),
                    "client_order_id": f"sim{order_id}",
                    "symbol": symbol,
                    "price": f"{fill_price}",
                    "size": str(size),
                    "state": 4,
                    "side": side,
                    "type": "limit",
                    "leverage": "5",
                    "open_type": "isolated",
                    "deal_avg_price": f"{fill_price}",
                    "deal_size": str(size),
                    "create_time": now_ms,
                    "update_time": now_ms,
                    "plan_order_id": "",
                    "last_trade": {
                        "lastTradeID": order_id + 7,
                        "fillQty": str(size),
                        "fillPrice": f"{fill_price}",
                        "fee": f"{-size * fill_price * 0.0002 / 1000:.5f}",
                        "feeCcy": "USDT",
                    },
                    "trigger_price": "-",
                    "trigger_price_type": "-",
                    "execution_price": "-",
                    "activation_price_type": "-",
                    "activation_price": "-",
                    "callback_rate": "-",
                    "position_mode": "hedge_mode",
                },
            }
        )
        position_type = 1 if side == 1 else 2
        key = f"{symbol}:{position_type}"
        held = self.positions.get(key)
        volume = size + (int(held["hold_volume"]) if held else 0)
        created = int(held["create_time"]) if held else now_ms
        liquidation = fill_price * (0.8 if position_type == 1 else 1.2)
        self.positions[key] = {
            "symbol": symbol,
            "hold_volume": str(volume),
            "position_type": position_type,
            "open_type": 1,
            "frozen_volume": "0",
            "close_volume": "0",
            "hold_avg_price": f"{fill_price}",
            "close_avg_price": "0",
            "open_avg_price": f"{fill_price}",
            "liquidate_price": f"{liquidation:.6f}",
            "create_time": created,
            "update_time": now_ms,
            "position_mode": "hedge_mode",
        }
        available, deposit, frozen = self.assets["USDT"]
        margin = round(size * fill_price / 1000 / 5, 8)
        self.assets["USDT"] = (round(max(0.0, available - margin), 8), round(deposit + margin, 8), frozen)
        batch.futures_assets = {ccy: self.asset(ccy) for ccy in self.assets}
        batch.futures_positions = self.position_list()

    def asset(self, currency: str) -> dict[str, Any]:
        """The ``futures/asset:<CCY>`` data object for ``currency``."""
        available, deposit, frozen = self.assets[currency]
        return {
            "currency": currency,
            "available_balance": f"{available:.8f}",
            "position_deposit": f"{deposit:.8f}",
            "frozen_balance": f"{frozen:.8f}".rstrip("0").rstrip(".") or "0",
        }

    def position_list(self) -> list[dict[str, Any]]:
        """The ``futures/position`` data array (every open position)."""
        return [dict(p) for p in self.positions.values()]
