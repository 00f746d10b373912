"""The docs: every Python block runs against the simulator, the site builds in strict mode, and the
pages name no file that is not in the repository.

Rule for writers: every fenced ``python`` block of README.md and docs/ is a complete program that ends
by itself within seconds (use ``console`` or ``text`` fences for anything else).
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from bitmart_ws.simulator import DEFAULT_ACCOUNT

ROOT = Path(__file__).resolve().parents[2]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]
RUNNER = Path(__file__).with_name("run_block.py")
FENCE = re.compile(r"^```python\n(.*?)^```", re.MULTILINE | re.DOTALL)
BLOCK_TIMEOUT = 30.0
PARALLEL = 4

SIMULATOR = """
import asyncio, json, sys
from bitmart_ws.simulator import Simulator, SimulatorConfig

async def main() -> None:
    config = SimulatorConfig(cadence=0.05, account_interval=0.2, funding_interval=0.5, position_interval=0.5)
    async with Simulator(config) as sim:
        print(json.dumps(sim.urls), flush=True)
        await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)  # until stdin closes

asyncio.run(main())
"""


def python_blocks() -> list[tuple[str, str]]:
    """(``page:line``, code) of every fenced python block."""
    blocks = []
    for page in PAGES:
        text = page.read_text()
        for match in FENCE.finditer(text):
            line = text.count("\n", 0, match.start()) + 1
            blocks.append((f"{page.relative_to(ROOT)}:{line}", match.group(1)))
    return blocks


@pytest.fixture(scope="module")
def simulator_urls() -> Iterator[dict[str, str]]:
    proc = subprocess.Popen(
        [sys.executable, "-c", SIMULATOR], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    try:
        assert proc.stdout is not None
        yield json.loads(proc.stdout.readline())
    finally:
        assert proc.stdin is not None
        proc.stdin.close()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.send_signal(signal.SIGTERM)
            proc.wait(timeout=10)
        assert proc.stdout is not None
        proc.stdout.close()


def test_the_docs_have_examples_of_every_use_case() -> None:
    code = "\n".join(block for _, block in python_blocks())
    for needle in (
        "spot/ticker",
        "futures/depth",
        "spot/user/order",
        "demo_trading=True",
        "order_book(",
        "stream(",
    ):
        assert needle in code, needle


def test_every_python_block_runs_against_the_simulator(
    simulator_urls: dict[str, str], tmp_path: Path
) -> None:
    env = {
        **os.environ,
        "BITMART_WS_URLS": json.dumps(simulator_urls),
        "BITMART_API_KEY": DEFAULT_ACCOUNT.api_key,
        "BITMART_API_SECRET": DEFAULT_ACCOUNT.api_secret,
        "BITMART_API_MEMO": DEFAULT_ACCOUNT.api_memo,
    }
    pending = list(python_blocks())
    assert len(pending) >= 10
    running: list[tuple[str, subprocess.Popen[str], float]] = []
    failures: list[str] = []
    while pending or running:
        while pending and len(running) < PARALLEL:
            where, code = pending.pop(0)
            script = tmp_path / f"{where.replace('/', '_').replace(':', '_')}.py"
            script.write_text(code)
            proc = subprocess.Popen(
                [sys.executable, str(RUNNER), str(script)],
                cwd=tmp_path,
                env=env,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            running.append((where, proc, time.monotonic()))
        where, proc, started = running.pop(0)
        try:
            out, err = proc.communicate(timeout=max(0.1, BLOCK_TIMEOUT - (time.monotonic() - started)))
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.communicate()
            failures.append(f"{where}: still running after {BLOCK_TIMEOUT} s")
            continue
        if proc.returncode != 0 or "Traceback" in err:
            failures.append(f"{where}: exit {proc.returncode}\n{err[-1500:]}")
        elif not out.strip():
            failures.append(f"{where}: printed nothing")
    assert not failures, "\n\n".join(failures)


def test_the_site_builds_in_strict_mode(tmp_path: Path) -> None:
    mkdocs = Path(sys.executable).parent / "mkdocs"
    done = subprocess.run(
        [str(mkdocs), "build", "--strict", "--site-dir", str(tmp_path / "site")],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert (tmp_path / "site" / "api" / "index.html").read_text().count("WebsocketClient") > 5


# Paths the pages cite are relative to one of these folders.
ROOTS = [
    ROOT,
    ROOT / "docs",
    ROOT / "src" / "bitmart_ws",
    ROOT / "src" / "bitmart_ws" / "simulator",
    ROOT / "tests",
]
CITED = re.compile(r"[`(\[]((?:[\w.-]+/)*[\w.-]+\.(?:md|py|toml|yml|txt))(?:::\w+)?[`)\]]")
UNREADABLE = re.compile(
    r"§|\bissue \d|node-reference-client|bitmart-protocol\.md|seed-websocket-client|style-anchors"
)


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(ROOT)))
def test_pages_name_only_files_a_reader_can_open(page: Path) -> None:
    text = page.read_text()
    missing = [
        name
        for name in CITED.findall(text)
        if not any((root / name).exists() for root in [page.parent, *ROOTS])
        and not ("/" not in name and any((ROOT / "tests").rglob(name)))  # a test file cited by its name
    ]
    assert not missing, f"{page.name} names files that are not in the repository: {missing}"
    assert not UNREADABLE.findall(text), f"{page.name} cites documents a reader cannot open"
