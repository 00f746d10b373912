"""A real ``redis-server`` (Debian's package) on a free port of 127.0.0.1, stopped by its process id.

Missing ``redis-server`` (or redis-py) skips the fan-out tests with how to install it, unless
``BITMART_WS_REQUIRE_REDIS=1`` (set by ``.ci/run``) turns the skip into a failure.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path

import pytest

REQUIRE = "BITMART_WS_REQUIRE_REDIS"
HOW = "install it with `apt-get install -y redis-server` (`make test` does it when run as root)"


def redis_binary() -> str:
    """The path of ``redis-server``, or a skip (a failure when ``BITMART_WS_REQUIRE_REDIS=1``)."""
    path = shutil.which("redis-server")
    problem = None if path else f"redis-server is not installed: {HOW}"
    if problem is None:
        try:
            import redis  # noqa: F401
        except ImportError:
            problem = "redis-py is missing: pip install 'bitmart-ws[redis]'"
    if problem is not None:
        if os.environ.get(REQUIRE) == "1":
            pytest.fail(f"{problem} ({REQUIRE}=1)", pytrace=False)
        pytest.skip(problem)
    assert path is not None
    return path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


class RedisServer:
    """One ``redis-server`` process; :meth:`kill` and :meth:`start` restart it on the same port."""

    def __init__(self, binary: str, workdir: Path) -> None:
        self.binary = binary
        self.workdir = workdir
        self.port = free_port()
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self, timeout: float = 10.0) -> None:
        self.process = subprocess.Popen(
            [
                self.binary,
                "--port", str(self.port),
                "--bind", "127.0.0.1",
                "--save", "",
                "--appendonly", "no",
                "--dir", str(self.workdir),
                "--loglevel", "warning",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )  # fmt: skip
        deadline = time.monotonic() + timeout
        while not self._answers():
            if self.process.poll() is not None:
                raise RuntimeError(f"redis-server exited with {self.process.returncode}")
            if time.monotonic() > deadline:
                raise TimeoutError(f"redis-server did not answer on port {self.port} within {timeout} s")
            time.sleep(0.01)

    def _answers(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=0.5) as s:
                s.sendall(b"PING\r\n")
                return s.recv(16).startswith(b"+PONG")
        except OSError:
            return False

    def kill(self) -> None:
        """SIGKILL by process id, and wait for it to be gone."""
        if self.process is not None and self.process.poll() is None:
            os.kill(self.process.pid, signal.SIGKILL)
            self.process.wait(10)
        self.process = None

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            os.kill(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(5)
            except subprocess.TimeoutExpired:
                self.kill()
        self.process = None
