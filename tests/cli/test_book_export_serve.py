"""``book``, ``export`` and ``replay --serve``, run as a user runs them, against the simulator."""

from __future__ import annotations

import asyncio
import json
import os
import pty
import select
import signal
import subprocess
import sys
from decimal import Decimal
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from bitmart_ws import WebsocketClient
from bitmart_ws.models import decode
from bitmart_ws.simulator import DEFAULT_ACCOUNT

from .conftest import CLI, clean_env, no_traceback, run, wait_for

RECORDED = [
    "spot/ticker:BTC_USDT",
    "spot/trade:BTC_USDT",
    "spot/kline1m:BTC_USDT",
    "spot/user/order:BTC_USDT",
    "futures/ticker:BTCUSDT",
    "futures/depth20:BTCUSDT",
    "futures/order",
]


@pytest.fixture(scope="module")
def recording(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Spot and futures, public and private, recorded from the embedded simulator."""
    path = tmp_path_factory.mktemp("rec") / "rec"
    result = run("record", *RECORDED, "--out", str(path), "--seconds", "2")
    assert result.code == 0, result.err
    return path


def _recorded_messages(path: Path) -> list[dict[str, Any]]:
    result = run("replay", str(path))
    assert result.code == 0, result.err
    return result.json_lines()


# -- book ---------------------------------------------------------------------------------------------


def _check_book(book: dict[str, Any], levels: int) -> None:
    assert book["valid"] is True and isinstance(book["version"], int)
    for side in ("bids", "asks"):
        assert 0 < len(book[side]) <= levels
        assert all(isinstance(p, str) and isinstance(s, str) for p, s in book[side])
    bids = [Decimal(p) for p, _ in book["bids"]]
    asks = [Decimal(p) for p, _ in book["asks"]]
    assert bids == sorted(bids, reverse=True) and asks == sorted(asks)  # best first
    assert bids[0] < asks[0]
    assert Decimal(book["spread"]) == asks[0] - bids[0]


def test_book_once_prints_one_valid_book_and_exits() -> None:
    result = run("book", "spot", "BTC_USDT", "--once", "--levels", "5")
    assert result.code == 0, result.err
    (book,) = result.json_lines()
    assert book["topic"] == "spot/depth/increase100:BTC_USDT"
    _check_book(book, 5)
    no_traceback(result.err)


def test_book_without_a_terminal_prints_one_object_per_change() -> None:
    result = run("book", "futures", "BTCUSDT", "--depth", "20", "--levels", "3", "--seconds", "1.5")
    assert result.code == 0, result.err
    books = result.json_lines()
    assert len(books) >= 2
    versions = [b["version"] for b in books]
    assert versions == sorted(set(versions))  # every line is a new version
    for book in books:
        assert book["topic"] == "futures/depthIncrease20:BTCUSDT"
        _check_book(book, 3)


@pytest.mark.parametrize(
    ("args", "problem"),
    [
        (["spot", "BTC_USDT", "--depth", "20"], "depth is 100"),
        (["futures", "BTCUSDT", "--depth", "7"], "5, 20"),
    ],
)
def test_book_usage_errors_exit_2(args: list[str], problem: str) -> None:
    result = run("book", *args, "--once")
    assert result.code == 2 and problem in result.err, result.err
    no_traceback(result.err)


def test_book_on_a_terminal_redraws_in_place() -> None:
    main, secondary = pty.openpty()
    proc = subprocess.Popen(
        [CLI, "book", "spot", "BTC_USDT", "--levels", "3"],
        stdin=subprocess.DEVNULL,
        stdout=secondary,
        stderr=subprocess.PIPE,
        env=clean_env(),
    )
    os.close(secondary)
    screen = b""

    def two_redraws() -> bool:
        nonlocal screen
        while select.select([main], [], [], 0)[0]:
            screen += os.read(main, 65536)
        return screen.count(b"\x1b[H\x1b[2J") >= 2

    try:
        wait_for(two_redraws, timeout=20, what="two redraws of the book view")
    finally:
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=20)
        os.close(main)
    assert proc.returncode == 130, err
    frames = [f.decode() for f in screen.split(b"\x1b[H\x1b[2J")[1:]]
    versions = set()
    for frame in frames[:2]:
        lines = frame.replace("\r", "").splitlines()
        assert lines[0].startswith("spot/depth/increase100:BTC_USDT  version ") and " valid " in lines[0]
        versions.add(lines[0].split()[2])
        assert lines[1].startswith("spread ")
        assert sum(line.startswith("ask ") for line in lines) == 3
        assert sum(line.startswith("bid ") for line in lines) == 3
    assert len(versions) == 2  # redrawn because the book changed
    assert b"{" not in screen  # a view, not JSON


# -- export -------------------------------------------------------------------------------------------


def test_export_writes_typed_rows_per_channel(recording: Path, tmp_path: Path) -> None:
    messages = _recorded_messages(recording)
    expected: dict[str, int] = {}
    for message in messages:
        update = decode(message)
        expected[update.channel] = expected.get(update.channel, 0) + len(getattr(update, "items", ()))
    out = tmp_path / "parquet"
    result = run("export", str(recording), "--to", "parquet", "--out", str(out))
    assert result.code == 0, result.err
    written = {line["channel"]: line for line in result.json_lines()}
    assert {c: w["rows"] for c, w in written.items()} == expected
    assert {"spot/ticker", "spot/user/order", "futures/depth20", "futures/order"} <= set(written)

    ticker = pq.read_table(out / "spot_ticker.parquet")
    assert ticker.num_rows == expected["spot/ticker"]
    assert ticker.schema.field("received_ms").type == pa.int64()
    assert ticker.schema.field("last_price").type == pa.float64()
    assert ticker.schema.field("ms_t").type == pa.int64()
    assert set(ticker.column("symbol").to_pylist()) == {"BTC_USDT"}
    kline = pq.read_table(out / "spot_kline1m.parquet").schema
    assert (
        kline.field("candle_open").type == pa.float64() and kline.field("candle_open_time").type == pa.int64()
    )
    depth = pq.read_table(out / "futures_depth20.parquet").schema
    assert depth.field("depths").type == pa.list_(pa.struct([("price", pa.float64()), ("vol", pa.float64())]))
    orders = pq.read_table(out / "futures_order.parquet").schema
    assert orders.field("order_price").type == pa.float64() and orders.field("action").type == pa.int64()

    # the README's query
    query = f"SELECT symbol, count(*) AS n, avg(last_price) AS avg_price FROM '{out}/spot_ticker.parquet' GROUP BY symbol"
    relation = duckdb.sql(query)
    assert relation is not None
    rows = relation.fetchall()
    assert rows and rows[0][0] == "BTC_USDT" and rows[0][1] == expected["spot/ticker"]


def test_export_without_pyarrow_is_one_clear_line_and_exit_2(recording: Path, tmp_path: Path) -> None:
    code = (
        "import sys; sys.modules['pyarrow'] = None; sys.modules['pyarrow.parquet'] = None\n"
        "from bitmart_ws.cli import main\n"
        f"sys.exit(main(['export', {str(recording)!r}, '--to', 'parquet', '--out', {str(tmp_path)!r}]))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=30, check=False
    )
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [
        "bitmart-ws: export --to parquet needs pyarrow: pip install 'bitmart-ws[parquet]'"
    ]


# -- replay --serve -------------------------------------------------------------------------------------


async def test_replay_serve_pushes_the_recording_to_any_client(recording: Path) -> None:
    recorded = _recorded_messages(recording)
    proc = await asyncio.create_subprocess_exec(
        CLI,
        "replay",
        str(recording),
        "--serve",
        "--speed",
        "0",
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=clean_env(),
    )
    assert proc.stdout is not None and proc.stderr is not None
    async with asyncio.timeout(30):
        urls = json.loads(await proc.stdout.readline())
        got: list[dict[str, Any]] = []
        account = DEFAULT_ACCOUNT
        async with WebsocketClient(
            ws_urls=urls, api_key=account.api_key, api_secret=account.api_secret, api_memo=account.api_memo
        ) as client:
            client.on("update", got.append)
            await client.subscribe_topics(RECORDED)
            await proc.wait()  # the replay ends after the last message
        err = (await proc.stderr.read()).decode()
    assert proc.returncode == 0, err
    assert f"replayed {len(recorded)} message(s); 0 had no subscriber" in err

    def per_key(messages: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
        keys: dict[str, list[dict[str, Any]]] = {}
        for m in messages:
            keys.setdefault(m["wsKey"], []).append(m)
        return keys

    assert per_key(got) == per_key(recorded)  # the same messages, in order on each connection
