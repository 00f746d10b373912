"""Turning ``update`` payloads into typed values: the channel table and the :class:`Decoder`.

``CHANNEL_MODELS`` is the one table: a channel family (a channel name, or the prefix of a family such
as ``spot/kline``), the model of one item, where the items sit in ``data``, and an optional step that
normalises a wire quirk before the model sees it. Adding a channel is adding a row.

Two paths give the same values:

* :meth:`Decoder.decode` takes the ``dict`` an ``update`` event delivers (``msgspec.convert``);
* :meth:`Decoder.decode_bytes` takes the JSON text of a push frame (inflated, for spot) and decodes it
  straight into the models (``msgspec.json.Decoder`` of a typed envelope), never building the dicts.
"""

from __future__ import annotations

import types
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from enum import Enum
from typing import Any, Generic, TypeVar

import msgspec

from ..exceptions import DecodeError
from ..protocol.topics import CHANNELS, ArgKind
from .common import Numbers, dec_hook
from .futures import (
    FuturesAsset,
    FuturesBookTicker,
    FuturesDepth,
    FuturesDepthAll,
    FuturesDepthIncrease,
    FuturesFundingRate,
    FuturesKline,
    FuturesOrderEvent,
    FuturesPosition,
    FuturesTicker,
    FuturesTrade,
)
from .spot import (
    SpotBalanceUpdate,
    SpotBookTicker,
    SpotDepth,
    SpotDepthIncrease,
    SpotKline,
    SpotOrder,
    SpotTicker,
    SpotTrade,
)

__all__ = ["CHANNEL_MODELS", "ChannelModel", "Decoder", "RawUpdate", "Shape", "Update", "decode"]

T = TypeVar("T")


class Shape(Enum):
    """Where the items of a push sit in its ``data``."""

    LIST = "list"  # data is an array of items (every spot channel; futures trade, position, order)
    OBJECT = "object"  # data is one item
    KLINE = "kline"  # data is {"symbol", "items": [...]} (also the documented flat form: one item)


Prepare = Callable[[dict[str, Any]], dict[str, Any]]


def _spot_order(item: dict[str, Any]) -> dict[str, Any]:
    out = dict(item)
    for name in ("notional", "exec_type", "dealFee"):
        if out.get(name) == "":
            out[name] = None
    entrust = out.get("entrust_type")
    if isinstance(entrust, str):
        out["entrust_type"] = entrust.lower()
    return out


def _spot_balance(item: dict[str, Any]) -> dict[str, Any]:
    event = item.get("event_type")
    return {**item, "event_type": event.strip()} if isinstance(event, str) else item


_DASHED = (
    "trigger_price",
    "trigger_price_type",
    "execution_price",
    "activation_price_type",
    "activation_price",
    "callback_rate",
)


def _futures_order(item: dict[str, Any]) -> dict[str, Any]:
    order = item.get("order")
    if not isinstance(order, dict):
        return item
    fixed = {k: (None if k in _DASHED and v in ("-", "") else v) for k, v in order.items()}
    return {**item, "order": fixed}


@dataclass(frozen=True, slots=True)
class ChannelModel:
    """One row of the table: ``model`` is generic in the number type; ``prepare`` fixes a quirk."""

    family: str
    model: type[Any]
    shape: Shape
    prepare: Prepare | None = None


CHANNEL_MODELS: tuple[ChannelModel, ...] = (
    ChannelModel("spot/ticker", SpotTicker, Shape.LIST),
    ChannelModel("spot/kline", SpotKline, Shape.LIST),
    ChannelModel("spot/depth", SpotDepth, Shape.LIST),
    ChannelModel("spot/depth/increase100", SpotDepthIncrease, Shape.LIST),
    ChannelModel("spot/trade", SpotTrade, Shape.LIST),
    ChannelModel("spot/bookTicker", SpotBookTicker, Shape.LIST),
    ChannelModel("spot/user/order", SpotOrder, Shape.LIST, _spot_order),  # and spot/user/orders
    ChannelModel("spot/user/balance", SpotBalanceUpdate, Shape.LIST, _spot_balance),
    ChannelModel("futures/ticker", FuturesTicker, Shape.OBJECT),
    ChannelModel("futures/depth", FuturesDepth, Shape.OBJECT),
    ChannelModel("futures/depthAll", FuturesDepthAll, Shape.OBJECT),
    ChannelModel("futures/depthIncrease", FuturesDepthIncrease, Shape.OBJECT),
    ChannelModel("futures/bookticker", FuturesBookTicker, Shape.OBJECT),
    ChannelModel("futures/trade", FuturesTrade, Shape.LIST),
    ChannelModel("futures/klineBin", FuturesKline, Shape.KLINE),
    ChannelModel("futures/markPriceKlineBin", FuturesKline, Shape.KLINE),
    ChannelModel("futures/fundingRate", FuturesFundingRate, Shape.OBJECT),
    ChannelModel("futures/asset", FuturesAsset, Shape.OBJECT),
    ChannelModel("futures/position", FuturesPosition, Shape.LIST),
    ChannelModel("futures/order", FuturesOrderEvent, Shape.LIST, _futures_order),
)
"""Every channel family of BitMart (spot and futures) and the model of its items."""


def _resolve() -> dict[str, ChannelModel]:
    """Each registry channel -> the row with the longest matching family."""
    by_channel: dict[str, ChannelModel] = {}
    for channel in CHANNELS:
        rows = [row for row in CHANNEL_MODELS if channel.startswith(row.family)]
        if rows:
            by_channel[channel] = max(rows, key=lambda row: len(row.family))
    return by_channel


_BY_CHANNEL = _resolve()

# A table or group -> (channel, symbol named by a futures group, row or None, item model or None).
_Route = tuple[str, "str | None", "ChannelModel | None", Any]
DecodeFn = Callable[[Mapping[str, Any], "int | None"], "Update[Any] | RawUpdate"]
_ROUTES_KEPT = 4096

_FIXED_ARGUMENT = {"spot/user/balance": "BALANCE_UPDATE", "spot/user/orders": "ALL_SYMBOLS"}


class Update(msgspec.Struct, Generic[T], frozen=True, gc=False):
    """One push of a known channel, typed.

    ``topic``: spot ``table:symbol`` (``table`` alone when the items span several symbols, the fixed
    argument for ``spot/user/balance`` and ``spot/user/orders``); futures the ``group`` as sent (it may
    carry an ``@100ms`` suffix nobody asked for). ``channel``: without argument or speed. ``symbol``:
    the one symbol of the push, else ``None``. ``received_ms``: when it arrived, if the caller knows.
    """

    topic: str
    channel: str
    symbol: str | None
    items: tuple[T, ...]
    ws_key: str | None = None
    received_ms: int | None = None


class RawUpdate(msgspec.Struct, frozen=True, gc=False):
    """A push of a channel this library has no model for: ``data`` as sent."""

    topic: str
    channel: str
    symbol: str | None
    data: Any
    ws_key: str | None = None
    received_ms: int | None = None


class _Head(msgspec.Struct, gc=False):
    table: str | None = None
    group: str | None = None


_NOT_SYMBOL = frozenset(name for name, spec in CHANNELS.items() if spec.arg in (ArgKind.FIXED, ArgKind.NONE))


def _futures_channel(group: str) -> tuple[str, str | None]:
    """``futures/depth20:BTCUSDT@200ms`` -> (``futures/depth20``, ``BTCUSDT``); ``futures/asset:USDT``
    -> (``futures/asset``, ``None``): a fixed argument is no symbol."""
    channel, _, argument = group.partition(":")
    if not argument:
        return channel.partition("@")[0], None
    return channel, None if channel in _NOT_SYMBOL else argument.partition("@")[0]


def _spot_symbol(data: Any) -> str | None:
    if type(data) is not list or not data:
        return None
    first = data[0].get("symbol") if type(data[0]) is dict else None
    if not isinstance(first, str):
        return None
    for item in data[1:]:
        if type(item) is not dict or item.get("symbol") != first:
            return None
    return first


class Decoder:
    """Decodes ``update`` payloads into :class:`Update` values, with one number policy.

    Args:
        numbers: ``"decimal"`` (exact, the default) or ``"float"`` (faster): every price, size,
            balance and rate of every model this decoder returns has that type.
    """

    __slots__ = ("_bytes_decoders", "_futures_routes", "_head", "_item_types", "_spot_routes", "numbers")

    def __init__(self, numbers: Numbers | str = Numbers.DECIMAL) -> None:
        self.numbers = Numbers(numbers)
        n = self.numbers.type
        self._item_types: dict[str, Any] = {
            name: _concrete(row.model, n) for name, row in _BY_CHANNEL.items()
        }
        self._head = msgspec.json.Decoder(_Head)
        self._bytes_decoders: dict[str, msgspec.json.Decoder[Any]] = {}
        self._spot_routes: dict[str, _Route] = {}  # by table
        self._futures_routes: dict[str, _Route] = {}  # by group

    def model(self, channel: str) -> Any:
        """The model class of one item of ``channel`` with this decoder's number type bound, or ``None``."""
        return self._item_types.get(channel)

    def decode(
        self, message: Mapping[str, Any], *, received_ms: int | None = None
    ) -> Update[Any] | RawUpdate:
        """Decode one ``update`` payload (spot ``{"table","data":[...]}``, futures ``{"group","data"}``).

        Raises:
            DecodeError: the payload is no push, or a known channel's data does not fit its model.
        """
        ws_key = message.get("wsKey")
        table = message.get("table")
        data = message.get("data")
        if isinstance(table, str):
            _, _, row, model = self._spot_routes.get(table) or self._route(table, False)
            symbol = _spot_symbol(data)
            topic = self._spot_topic(table, symbol)
            if row is None:
                return RawUpdate(topic, table, symbol, data, ws_key, received_ms)
            if type(data) is not list:
                raise DecodeError(f"malformed {table} push: data is {type(data).__name__}, not a list")
            items = self._convert(row, model, table, data)
            return Update(topic, table, symbol, items, ws_key, received_ms)
        group = message.get("group")
        if not isinstance(group, str):
            raise DecodeError("not an update payload: neither 'table' nor 'group'")
        channel, symbol, row, model = self._futures_routes.get(group) or self._route(group, True)
        if row is None:
            return RawUpdate(group, channel, symbol, data, ws_key, received_ms)
        if row.shape is Shape.OBJECT:
            if type(data) is not dict:
                raise DecodeError(f"malformed {group} push: data is {type(data).__name__}, not an object")
            symbol = symbol or data.get("symbol")
            data = [data]
        elif row.shape is Shape.KLINE:
            if type(data) is not dict:
                raise DecodeError(f"malformed {group} push: data is {type(data).__name__}, not an object")
            data = data.get("items", [data])
        elif type(data) is not list:
            raise DecodeError(f"malformed {group} push: data is {type(data).__name__}, not a list")
        return Update(group, channel, symbol, self._convert(row, model, group, data), ws_key, received_ms)

    def decoder_for(self, message: Mapping[str, Any]) -> DecodeFn:
        """A decode function specialised to the channel and symbol of ``message``: it gives what
        :meth:`decode` gives for every push of the same futures ``group`` or, on spot, of the same
        ``table`` with one item of the same ``symbol`` (the hot case; its topic and model are worked
        out here, once). A push of another shape goes through :meth:`decode`.
        """
        table, group = message.get("table"), message.get("group")
        if isinstance(table, str):
            data = message.get("data")
            _, _, row, model = self._spot_routes.get(table) or self._route(table, False)
            if row is None or row.prepare is not None or not _one_item(data):
                return self._generic
            symbol = _spot_symbol(data)
            return _spot_one(self, table, symbol, self._spot_topic(table, symbol), model)
        if isinstance(group, str):
            channel, symbol, row, model = self._futures_routes.get(group) or self._route(group, True)
            if row is not None and row.shape is Shape.OBJECT and row.prepare is None:
                return _futures_object(self, group, channel, symbol, model)
        return self._generic

    def _generic(self, message: Mapping[str, Any], received_ms: int | None) -> Update[Any] | RawUpdate:
        return self.decode(message, received_ms=received_ms)

    def _route(self, where: str, futures: bool) -> _Route:
        """What a ``table`` (spot) or ``group`` (futures) decodes to, resolved once and remembered."""
        routes = self._futures_routes if futures else self._spot_routes
        channel, symbol = _futures_channel(where) if futures else (where, None)
        row = _BY_CHANNEL.get(channel)
        route = (channel, symbol, row, None if row is None else self._item_types[channel])
        if len(routes) >= _ROUTES_KEPT:  # a server inventing names cannot grow it without bound
            routes.clear()
        routes[where] = route
        return route

    def _spot_topic(self, table: str, symbol: str | None) -> str:
        argument = symbol or _FIXED_ARGUMENT.get(table)
        return f"{table}:{argument}" if argument else table

    def _convert(self, row: ChannelModel, model: Any, where: str, data: list[Any]) -> tuple[Any, ...]:
        convert = msgspec.convert
        try:
            if row.prepare is not None:
                prepare = row.prepare
                data = [prepare(item) if type(item) is dict else item for item in data]
            if len(data) == 1:  # most pushes carry one item
                return (convert(data[0], model, strict=False, dec_hook=dec_hook),)
            return tuple([convert(item, model, strict=False, dec_hook=dec_hook) for item in data])
        except (msgspec.ValidationError, ValueError, TypeError) as exc:
            raise DecodeError(f"malformed {where} push: {exc}") from None

    def decode_bytes(
        self, payload: bytes | str, *, ws_key: str | None = None, received_ms: int | None = None
    ) -> Update[Any] | RawUpdate:
        """Decode the JSON text of one push frame straight into models (no intermediate dicts).

        Channels whose row has a ``prepare`` step (private order and balance pushes) go through the
        dict path. Raises :class:`DecodeError` like :meth:`decode`, and on invalid JSON.
        """
        try:
            head = self._head.decode(payload)
        except msgspec.DecodeError as exc:  # invalid JSON, or not an object
            raise DecodeError(f"undecodable push: {exc}") from None
        if head.table is not None:
            return self._typed(payload, head.table, False, ws_key, received_ms)
        if head.group is not None:
            return self._typed(payload, head.group, True, ws_key, received_ms)
        raise DecodeError("not an update payload: neither 'table' nor 'group'")

    def _typed(
        self, payload: bytes | str, where: str, futures: bool, ws_key: str | None, received_ms: int | None
    ) -> Update[Any] | RawUpdate:
        channel, symbol = _futures_channel(where) if futures else (where, None)
        row = _BY_CHANNEL.get(channel)
        decoder = None if row is None or row.prepare is not None else self._bytes_decoder(row, channel)
        try:
            envelope = decoder.decode(payload) if decoder is not None else None
        except msgspec.ValidationError:
            envelope = None  # a quirk (flat kline) or a malformed push: the dict path says which
        if envelope is None or row is None:
            message = msgspec.json.decode(payload)
            if ws_key is not None:
                message["wsKey"] = ws_key
            return self.decode(message, received_ms=received_ms)
        data = envelope.data
        if row.shape is Shape.LIST:
            items = data
        elif row.shape is Shape.OBJECT:
            items = (data,)
            symbol = symbol or getattr(data, "symbol", None)
        else:
            items = data.items
        if futures:
            return Update(where, channel, symbol, items, ws_key, received_ms)
        symbol = _item_symbol(items)
        return Update(self._spot_topic(where, symbol), channel, symbol, items, ws_key, received_ms)

    def _bytes_decoder(self, row: ChannelModel, channel: str) -> msgspec.json.Decoder[Any]:
        cached = self._bytes_decoders.get(channel)
        if cached is not None:
            return cached
        item = self._item_types[channel]
        body: Any
        if row.shape is Shape.LIST:
            body = _tuple_of(item)
        elif row.shape is Shape.OBJECT:
            body = item
        else:
            body = _KlineBody[item]  # type: ignore[valid-type]
        envelope = _Envelope[body]
        decoder: msgspec.json.Decoder[Any] = msgspec.json.Decoder(envelope, strict=False, dec_hook=dec_hook)
        self._bytes_decoders[channel] = decoder
        return decoder


class _Envelope(msgspec.Struct, Generic[T], gc=False):
    data: T


class _KlineBody(msgspec.Struct, Generic[T], gc=False):
    symbol: str
    items: tuple[T, ...]


_BOUND: dict[tuple[type[Any], type[Any]], type[Any]] = {}


def _concrete(model: type[Any], number: type[Any]) -> type[Any]:
    """``model`` with its number type bound, as a real subclass named like ``model``.

    msgspec resolves a generic alias such as ``SpotTicker[float]`` on every ``convert`` call (about
    twice the cost of the conversion itself); a subclass is resolved once. Kept in ``_BOUND``: every
    decoder of a policy shares the classes, so their values compare equal.
    """
    bound = _BOUND.get((model, number))
    if bound is None:
        bound = types.new_class(model.__name__, (model[number],), {"frozen": True, "gc": False})
        bound.__module__, bound.__qualname__ = model.__module__, model.__qualname__
        _BOUND[model, number] = bound
    return bound


def _tuple_of(item: Any) -> Any:
    return tuple[item, ...]


def _one_item(data: Any) -> bool:
    return type(data) is list and len(data) == 1 and type(data[0]) is dict


def _spot_one(decoder: Decoder, table: str, symbol: str | None, topic: str, model: Any) -> DecodeFn:
    """:meth:`Decoder.decode` of a one-item push of ``table`` and ``symbol`` (a list-shaped channel
    without a ``prepare`` step)."""
    convert = msgspec.convert

    def decode_one(message: Mapping[str, Any], received_ms: int | None) -> Update[Any] | RawUpdate:
        data: Any = message.get("data")
        if (
            type(data) is not list
            or len(data) != 1
            or type(first := data[0]) is not dict
            or first.get("symbol") != symbol
            or message.get("table") != table
        ):
            return decoder.decode(message, received_ms=received_ms)
        try:
            item = convert(first, model, strict=False, dec_hook=dec_hook)
        except (msgspec.ValidationError, ValueError, TypeError) as exc:
            raise DecodeError(f"malformed {table} push: {exc}") from None
        return Update(topic, table, symbol, (item,), message.get("wsKey"), received_ms)

    return decode_one


def _futures_object(decoder: Decoder, group: str, channel: str, symbol: str | None, model: Any) -> DecodeFn:
    """:meth:`Decoder.decode` of a push of ``group`` (an object-shaped channel without ``prepare``)."""
    convert = msgspec.convert

    def decode_one(message: Mapping[str, Any], received_ms: int | None) -> Update[Any] | RawUpdate:
        data = message.get("data")
        if type(data) is not dict or message.get("group") != group or "table" in message:
            return decoder.decode(message, received_ms=received_ms)
        try:
            item = convert(data, model, strict=False, dec_hook=dec_hook)
        except (msgspec.ValidationError, ValueError, TypeError) as exc:
            raise DecodeError(f"malformed {group} push: {exc}") from None
        return Update(
            group, channel, symbol or data.get("symbol"), (item,), message.get("wsKey"), received_ms
        )

    return decode_one


def _item_symbol(items: tuple[Any, ...]) -> str | None:
    if not items:
        return None
    first = getattr(items[0], "symbol", None)
    return first if all(getattr(i, "symbol", None) == first for i in items[1:]) else None


decode = Decoder().decode
"""Decode one ``update`` payload with exact ``Decimal`` numbers (see :class:`Decoder`)."""
