"""The quick mode of every ``make bench`` scenario runs and produces numbers (never a speed assertion)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from benchmarks.frames import BOOK_START_VERSION, OP_BINARY, StampedPool, book_messages
from benchmarks.scenarios import SCENARIOS, percentile

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.timeout(120)
def test_quick_run_of_every_scenario_yields_figures(tmp_path: Path) -> None:
    out = tmp_path / "rows.json"
    cmd = [sys.executable, "-m", "benchmarks", "--quick", "--scale", "0.01", "--no-pin", "--json", str(out)]
    done = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=110, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    rows = json.loads(out.read_text())
    scenarios = {row["scenario"] for row in rows}
    # every registered scenario contributed rows (uvloop is a dev dependency: installed here)
    assert len(scenarios) >= len(SCENARIOS)
    missing = [f"{r['scenario']} / {r['metric']}" for r in rows if r["ours"] is None]
    assert not missing, missing
    for row in rows:
        if row["metric"] in ("per CPU-second", "wall clock"):
            assert row["ours"] > 0 and row["floor"] > 0, row
            assert not row["note"], row  # no failed run, every book valid at the end
        if row["metric"].startswith("out of order"):
            assert row["ours"] == 0 and row["floor"] == 0, row


def test_spot_stamped_frames_inflate_to_the_stamped_json() -> None:
    """A stored block spliced between two deflate parts is one valid raw-deflate stream per frame."""
    import zlib

    import msgspec

    pool = StampedPool.of(book_messages(True, 5, seed=1), binary=True, first=True)
    assert pool.opcode == OP_BINARY
    for n in range(8):
        frame = pool.frame(pool.entry(n), BOOK_START_VERSION + n)
        size = frame[1] & 0x7F
        payload = frame[4:] if size == 126 else frame[2:]
        msg = msgspec.json.decode(zlib.decompress(payload, -15))
        item = msg["data"][0]
        assert item["version"] == BOOK_START_VERSION + n
        assert item["type"] == ("snapshot" if n == 0 else "update")


def test_percentile_is_nearest_rank() -> None:
    values = [float(v) for v in range(1, 1001)]
    assert percentile(values, 0.5) == 500.0
    assert percentile(values, 0.99) == 990.0
    assert percentile(values, 0.999) == 999.0
    assert percentile([7.0], 0.999) == 7.0
