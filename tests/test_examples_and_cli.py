"""The examples, the demo and the replay command, run as a user runs them, against the simulator."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bitmart_ws.simulator import DEFAULT_ACCOUNT, Simulator, SimulatorConfig

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"
CLI = Path(sys.executable).parent / "bitmart-ws"


@pytest.fixture
async def sim() -> AsyncIterator[Simulator]:
    async with Simulator(SimulatorConfig(cadence=0.05, account_interval=0.2)) as simulator:
        yield simulator


def _env(sim: Simulator, seconds: float) -> dict[str, str]:
    return {
        **os.environ,
        "BITMART_WS_URLS": json.dumps(dict(sim.urls)),
        "BITMART_API_KEY": DEFAULT_ACCOUNT.api_key,
        "BITMART_API_SECRET": DEFAULT_ACCOUNT.api_secret,
        "BITMART_API_MEMO": DEFAULT_ACCOUNT.api_memo,
        "BITMART_WS_SECONDS": str(seconds),
    }


async def _run(args: list[str], env: dict[str, str]) -> tuple[int, str, str]:
    proc = await asyncio.create_subprocess_exec(
        *args, env=env, cwd=ROOT, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )
    async with asyncio.timeout(30):
        out, err = await proc.communicate()
    assert proc.returncode is not None
    return proc.returncode, out.decode(), err.decode()


def _updates(stdout: str) -> list[dict[str, object]]:
    lines = [line for line in stdout.splitlines() if line.startswith("{")]
    return [json.loads(line) for line in lines]


@pytest.mark.parametrize(
    ("script", "expected_channels"),
    [
        ("spot_public.py", {"spot/ticker", "spot/depth5", "spot/trade"}),
        ("spot_private.py", {"spot/user/order", "spot/user/balance"}),
        (
            "futures_public.py",
            {"futures/ticker:BTCUSDT@100ms", "futures/depth20:BTCUSDT", "futures/klineBin1m:BTCUSDT"},
        ),
        ("futures_private.py", {"futures/asset:USDT", "futures/position", "futures/order"}),
        ("custom_logger.py", {"spot/ticker"}),
    ],
)
async def test_example_streams_its_topics(sim: Simulator, script: str, expected_channels: set[str]) -> None:
    code, out, err = await _run([sys.executable, str(EXAMPLES / script)], _env(sim, 2.0))
    assert code == 0, err
    seen = {str(m.get("table") or m.get("group")) for m in _updates(out) if "data" in m}
    assert expected_channels <= seen, (seen, err[-2000:])
    if script == "custom_logger.py":
        logs = [json.loads(line) for line in err.splitlines() if line.startswith("{")]
        assert logs and all(entry["logger"].startswith("my_app.bitmart") for entry in logs)


async def test_demo_streams_all_four_connections_and_stops_by_itself() -> None:
    code, out, err = await _run([str(CLI), "demo", "--seconds", "2"], dict(os.environ))
    assert code == 0, err
    keys = {m["wsKey"] for m in _updates(out)}
    assert keys == {"spotPublicV1", "spotPrivateV1", "futuresPublicV2", "futuresPrivateV2"}, err[-2000:]


async def test_record_then_replay_round_trip(tmp_path: Path) -> None:
    recording = tmp_path / "rec.jsonl"
    code, out, err = await _run(
        [str(CLI), "demo", "--seconds", "1.5", "--record", str(recording)], dict(os.environ)
    )
    assert code == 0, err
    streamed = _updates(out)
    assert streamed
    code, replayed_out, err = await _run([str(CLI), "replay", str(recording)], dict(os.environ))
    assert code == 0, err
    assert _updates(replayed_out) == streamed


async def test_replay_reads_old_json_lines_recordings_at_their_pace(tmp_path: Path) -> None:
    old = tmp_path / "old.jsonl"
    old.write_text('{"ts": 1000, "msg": {"a": 1}}\nnot json\n{"ts": 1300, "msg": {"a": 2}}\n\n')
    started = asyncio.get_running_loop().time()
    code, out, err = await _run([str(CLI), "replay", "--speed", "1", str(old)], dict(os.environ))
    assert code == 0, err
    assert asyncio.get_running_loop().time() - started >= 0.3
    assert _updates(out) == [{"a": 1}, {"a": 2}]
