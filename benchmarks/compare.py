"""``make bench-compare``: the same firehose driven by the peers, and our ratio to each, per scenario.

Peers, each installed on first use into an ignored folder and skipped with a message when it cannot be:

* the Node ``bitmart-api`` client (npm, ``benchmarks/.node``; ``wsUrl`` overrides every connection's URL);
* the official ``bitmart-python-sdk-api`` (pip, ``benchmarks/.peers`` venv; ``stream_url``);
* ccxt pro 4.5.70 (same venv; ``urls.api.ws`` overridden, markets given locally so no REST call).

Each peer runs in its own process (pinned to the reader's CPU like ours) and counts its own ``update``
events; rates are from its first update to its N-th (or to the deadline), wall clock and per CPU-second of
that process. Ours is ``WebsocketClient`` with the counting callback of ``make bench``, in this process.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import subprocess
import sys
import venv
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from .blaster import Blaster
from .contestants import Market, Tally, counting
from .frames import FUTURES_SYMBOL, SPOT_SYMBOL
from .scenarios import run_side

HERE: Final = Path(__file__).resolve().parent
NODE_DIR: Final = HERE / ".node"
PEERS_VENV: Final = HERE / ".peers"
NODE_PACKAGE: Final = "bitmart-api@2.5.1"
PY_PACKAGES: Final = ("ccxt==4.5.70", "bitmart-python-sdk-api")


@dataclass(frozen=True, slots=True)
class Case:
    title: str
    pool: str
    market: Market
    topic: str
    n: int


CASES: Final = (
    Case("spot ticker", "spot_ticker", "spot", f"spot/ticker:{SPOT_SYMBOL}", 40_000),
    Case("futures ticker", "futures_ticker", "futures", f"futures/ticker:{FUTURES_SYMBOL}", 150_000),
    Case("spot depth20", "spot_depth20", "spot", f"spot/depth20:{SPOT_SYMBOL}", 20_000),
    Case("futures depth20", "futures_depth20", "futures", f"futures/depth20:{FUTURES_SYMBOL}", 50_000),
)


@dataclass(slots=True)
class Result:
    messages: int = 0
    wall: float = 0.0
    cpu: float = 0.0
    error: str = ""

    @property
    def rate(self) -> float:
        return (self.messages - 1) / self.wall if self.messages > 1 and self.wall > 0 else 0.0

    @property
    def cpu_rate(self) -> float:
        return (self.messages - 1) / self.cpu if self.messages > 1 and self.cpu > 0 else 0.0


def _run(cmd: list[str], cwd: Path | None = None, timeout: float = 600) -> str | None:
    """Run an install step; ``None`` when it worked, else the last line of its output."""
    try:
        done = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=timeout, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return str(exc)
    if done.returncode:
        lines = (done.stderr or done.stdout).strip().splitlines()
        return lines[-1] if lines else f"exit code {done.returncode}"
    return None


def node_peer() -> list[str] | str:
    """The command prefix of the Node peer, installing ``bitmart-api`` on first use; or why not."""
    node, npm = shutil.which("node"), shutil.which("npm")
    if node is None or npm is None:
        return "node/npm not found"
    if not (NODE_DIR / "node_modules" / "bitmart-api").is_dir():
        NODE_DIR.mkdir(exist_ok=True)
        (NODE_DIR / "package.json").write_text('{"private": true}\n')
        print(f"installing {NODE_PACKAGE} into {NODE_DIR} ...", flush=True)
        error = _run([npm, "install", "--no-audit", "--no-fund", NODE_PACKAGE], cwd=NODE_DIR)
        if error:
            return f"npm install {NODE_PACKAGE} failed: {error}"
    return [node, str(HERE / "peers" / "node_peer.js")]


def python_peers() -> Path | str:
    """The peers' venv python, created with ccxt and the official SDK on first use; or why not."""
    python = PEERS_VENV / "bin" / "python"
    if not python.exists():
        print(f"creating {PEERS_VENV} with {', '.join(PY_PACKAGES)} ...", flush=True)
        venv.create(PEERS_VENV, with_pip=True)
        error = _run([str(python), "-m", "pip", "install", "--quiet", *PY_PACKAGES])
        if error:
            return f"pip install {' '.join(PY_PACKAGES)} failed: {error}"
    return python


async def run_peer(cmd: list[str], url: str, case: Case, deadline: float) -> Result:
    env = dict(os.environ, NODE_PATH=str(NODE_DIR / "node_modules"))
    args = [*cmd, url, case.market, case.topic, str(case.n), str(deadline)]
    proc = await asyncio.create_subprocess_exec(
        *args, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, env=env
    )
    try:
        out, err = await asyncio.wait_for(proc.communicate(), deadline + 30)
    except TimeoutError:
        proc.kill()
        await proc.wait()
        return Result(error="did not finish")
    for line in reversed(out.decode().splitlines()):
        if line.startswith("{"):
            data = json.loads(line)
            result = Result(data["messages"], data["wall"], data["cpu"])
            if result.messages < case.n:
                result.error = f"{result.messages:,} of {case.n:,} updates by the deadline"
            return result
    tail = err.decode().strip().splitlines()
    return Result(error=f"no result (exit {proc.returncode}): {tail[-1] if tail else ''}")


async def run_ours(blaster: Blaster, case: Case) -> Result:
    tally = Tally(case.n, asyncio.Event())
    url = blaster.url(case.pool, case.n)
    error = await run_side("client", url, case.market, [case.topic], counting(tally), tally.done, 60)
    if error is not None:
        return Result(error=error)
    return Result(case.n, tally.t_last - tally.t_first, tally.cpu_last - tally.cpu_first)


async def compare(blaster: Blaster, peers: dict[str, list[str] | str], deadline: float, scale: float) -> None:
    for case in CASES:
        case = Case(case.title, case.pool, case.market, case.topic, max(200, int(case.n * scale)))
        await run_ours(blaster, Case(case.title, case.pool, case.market, case.topic, 2000))  # warm-up
        ours = await run_ours(blaster, case)
        print(f"\n{case.title} (N = {case.n:,})")
        print(f"  {'contestant':<26} {'msg/s':>12} {'msg/CPU-s':>12}   ours/peer (wall, CPU)")
        print(f"  {'bitmart_ws (ours)':<26} {ours.rate:>12,.0f} {ours.cpu_rate:>12,.0f}   {ours.error}")
        for name, cmd in peers.items():
            if isinstance(cmd, str):
                print(f"  {name:<26} skipped: {cmd}")
                continue
            peer = await run_peer(cmd, blaster.url(case.pool, case.n), case, deadline)
            ratio = ""
            if peer.rate and peer.cpu_rate and ours.rate and not peer.error:
                ratio = f"{ours.rate / peer.rate:6.2f}x {ours.cpu_rate / peer.cpu_rate:6.2f}x"
            note = f"  ({peer.error})" if peer.error else ""
            print(f"  {name:<26} {peer.rate:>12,.0f} {peer.cpu_rate:>12,.0f}   {ratio}{note}", flush=True)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--deadline", type=float, default=30.0, help="seconds each peer run may take (30)")
    parser.add_argument("--scale", type=float, default=1.0, help="multiply every N by this (default 1)")
    args = parser.parse_args(argv)
    python = python_peers()
    sdk: list[str] | str = (
        python if isinstance(python, str) else [str(python), str(HERE / "peers" / "py_peer.py")]
    )
    peers: dict[str, list[str] | str] = {
        "node bitmart-api 2.5.1": node_peer(),
        "bitmart-python-sdk-api": sdk if isinstance(sdk, str) else [*sdk, "sdk"],
        "ccxt pro 4.5.70": sdk if isinstance(sdk, str) else [*sdk, "ccxt"],
    }
    cpus = sorted(os.sched_getaffinity(0))
    pin = len(cpus) >= 2
    if pin:
        os.sched_setaffinity(0, {cpus[0]})  # peers inherit the reader's CPU
    print(f"sender on CPU {cpus[-1]}, readers on CPU {cpus[0]}" if pin else "no CPU pinning", flush=True)
    with Blaster(cpus[-1] if pin else None) as blaster:
        asyncio.run(compare(blaster, peers, args.deadline, args.scale))
    return 0


if __name__ == "__main__":
    sys.exit(main())
