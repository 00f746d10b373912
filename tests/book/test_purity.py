"""The models and the order-book core are sans-I/O too: importing them loads no I/O, clock or thread
module (the same check as tests/protocol/test_purity.py, for these two packages)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

import bitmart_ws

FORBIDDEN = ("asyncio", "socket", "time", "threading", "websockets", "picows", "selectors")


@pytest.mark.parametrize("package", ["models", "book"])
def test_imports_nothing_forbidden(package: str) -> None:
    root = Path(bitmart_ws.__file__).parent
    modules = sorted(f"bitmart_ws.{package}.{p.stem}" for p in (root / package).glob("*.py"))
    code = (
        "import sys, types\n"
        "parent = types.ModuleType('bitmart_ws')\n"
        f"parent.__path__ = [{str(root)!r}]\n"
        "sys.modules['bitmart_ws'] = parent\n"
        "before = set(sys.modules)\n"
        f"import {', '.join(modules)}\n"
        "loaded = set(sys.modules) - before\n"
        f"bad = sorted(m for m in loaded if m.split('.')[0] in {FORBIDDEN!r})\n"
        "print(','.join(bad))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "", f"bitmart_ws.{package} imports {out.stdout.strip()}"
