"""``bitmart-ws export FILE --to parquet --out DIR``: typed rows of a recording, one Parquet file per channel.

Each ``update`` message of the recording is decoded by :class:`bitmart_ws.models.Decoder` with the
``float`` number policy, and each item becomes one row of its channel's file
(``DIR/spot_ticker.parquet``, ``DIR/futures_depth20.parquet``...). Columns: ``received_ms`` (int64,
when the message was received), ``ws_key``, ``topic``, then the model's fields as on the wire. A field
holding one nested object is flattened into ``<field>_<name>`` columns (``candle_open``,
``order_price``); lists of levels stay lists. Enums are their wire values; times are int ms.

Numbers are float64: DuckDB, pandas and Polars compute on them natively, and BitMart's decimal strings
(at most 15 significant digits) round-trip exactly (the shortest repr of the float64 is the wire text).
Sums of many values carry binary rounding: cast to DECIMAL in the query when exact totals matter.

A channel without a model is written with a ``data`` column holding its payload as JSON text.
Rows are gathered per channel in memory and each file is written once, at the end.
"""

from __future__ import annotations

import argparse
import enum
import importlib
from pathlib import Path
from typing import Any

import msgspec

from ..exceptions import ConfigurationError, DecodeError
from ..models import Decoder, RawUpdate
from ..recording import Damage, read_recording, updates
from ._console import Console

__all__ = ["export", "item_row"]

_json = msgspec.json.Encoder()


def _plain(value: Any) -> Any:
    """A model value as plain Python data: structs as dicts, tuples as lists, enums as their values."""
    if isinstance(value, msgspec.Struct):
        return {name: _plain(getattr(value, name)) for name in value.__struct_fields__}
    if isinstance(value, tuple | list):
        return [_plain(v) for v in value]
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, int) and not isinstance(value, bool):
        return int(value)  # the timestamp markers are int subclasses
    return value


def item_row(item: Any) -> dict[str, Any]:
    """One model item as a flat row: a nested object's fields become ``<field>_<name>`` columns."""
    row: dict[str, Any] = {}
    for name in item.__struct_fields__:
        value = getattr(item, name)
        if isinstance(value, msgspec.Struct):
            for sub, sub_value in _plain(value).items():
                row[f"{name}_{sub}"] = sub_value
        else:
            row[name] = _plain(value)
    return row


def _pyarrow() -> tuple[Any, Any]:
    try:
        return importlib.import_module("pyarrow"), importlib.import_module("pyarrow.parquet")
    except ImportError:
        raise ConfigurationError(
            "export --to parquet needs pyarrow: pip install 'bitmart-ws[parquet]'"
        ) from None


async def export(args: argparse.Namespace, console: Console) -> int:
    """``export FILE --to parquet --out DIR``: one line of JSON per file written (channel, file, rows)."""
    pa, pq = _pyarrow()
    if args.out.exists() and not args.out.is_dir():
        raise ConfigurationError(f"--out {args.out} exists and is not a folder")
    damaged: list[Damage] = []

    def on_damage(damage: Damage) -> None:
        damaged.append(damage)
        console.notice(f"damaged recording: {damage}")

    decoder = Decoder(numbers="float")
    tables: dict[str, list[dict[str, Any]]] = {}
    undecodable = 0
    for record in updates(read_recording(args.file, on_damage)):
        head = {"received_ms": record.received_ns // 1_000_000, "ws_key": record.ws_key}
        try:
            update = decoder.decode(record.message())
        except (DecodeError, msgspec.DecodeError, AttributeError):
            undecodable += 1
            continue
        rows = tables.setdefault(update.channel, [])
        if isinstance(update, RawUpdate):
            rows.append({**head, "topic": update.topic, "data": _json.encode(update.data).decode()})
            continue
        rows.extend({**head, "topic": update.topic, **item_row(item)} for item in update.items)
    if undecodable:
        console.notice(f"{undecodable} recorded message(s) are no update payload: skipped")
    args.out.mkdir(parents=True, exist_ok=True)
    for channel, rows in sorted(tables.items()):
        path: Path = args.out / f"{channel.replace('/', '_')}.parquet"
        pq.write_table(pa.Table.from_pylist(rows), path)
        console.message(_json.encode({"channel": channel, "file": str(path), "rows": len(rows)}).decode())
    return 1 if damaged else 0
