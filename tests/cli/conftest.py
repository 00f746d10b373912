"""Run the installed ``bitmart-ws`` as a user does: a subprocess, its streams, its exit status."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import pytest

CLI = str(Path(sys.executable).parent / "bitmart-ws")
CREDENTIAL_VARIABLES = ("BITMART_API_KEY", "BITMART_API_SECRET", "BITMART_API_MEMO")


def clean_env(**extra: str) -> dict[str, str]:
    """The environment without credentials (a test sets what it needs)."""
    env = {k: v for k, v in os.environ.items() if k not in CREDENTIAL_VARIABLES}
    return {**env, **extra}


@dataclass
class Result:
    code: int
    out: str
    err: str
    elapsed: float

    def json_lines(self) -> list[dict[str, Any]]:
        return [json.loads(line) for line in self.out.splitlines()]


def run(*args: str, env: dict[str, str] | None = None, timeout: float = 40.0) -> Result:
    started = time.monotonic()
    done = subprocess.run(
        [CLI, *args], env=env or clean_env(), capture_output=True, text=True, timeout=timeout, check=False
    )
    return Result(done.returncode, done.stdout, done.stderr, time.monotonic() - started)


def start(*args: str, env: dict[str, str] | None = None, **popen: Any) -> subprocess.Popen[str]:
    options: dict[str, Any] = {"stdout": subprocess.PIPE, "stderr": subprocess.PIPE}
    options.update(popen)
    return subprocess.Popen([CLI, *args], env=env or clean_env(), text=True, **options)


def wait_for(condition: Callable[[], bool], timeout: float = 10.0, what: str = "condition") -> float:
    """Poll ``condition`` until it holds; returns the seconds it took (fails after ``timeout``)."""
    started = time.monotonic()
    while not condition():
        if time.monotonic() - started > timeout:
            pytest.fail(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.02)
    return time.monotonic() - started


def read_lines(stream: IO[str], count: int) -> list[str]:
    lines: list[str] = []
    for _ in range(count):
        line = stream.readline()
        assert line, f"stream ended after {len(lines)} line(s)"
        lines.append(line)
    return lines


def free_port() -> int:
    """A loopback port nobody listens on (connections to it are refused)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def no_traceback(err: str) -> None:
    assert "Traceback" not in err and "BrokenPipe" not in err, err[-3000:]


@pytest.fixture
def simulator() -> Iterator[dict[str, str]]:
    """``bitmart-ws simulate`` in a subprocess; yields the URL map it prints."""
    proc = start("simulate", "--cadence", "0.05")
    try:
        assert proc.stdout is not None
        urls: dict[str, str] = json.loads(proc.stdout.readline())
        yield urls
    finally:
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=20)
        assert proc.returncode == 0, err  # a signal is how a server ends
