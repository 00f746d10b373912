"""The sans-I/O packages (the protocol core, the models, the order-book core) must not import I/O,
clocks or threads, directly or through their own imports."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

import bitmart_ws

FORBIDDEN = ("asyncio", "socket", "time", "threading", "websockets", "picows", "selectors")
PURE = ("protocol", "models", "book")


@pytest.mark.parametrize("package", PURE)
def test_pure_packages_import_nothing_forbidden(package: str) -> None:
    root = Path(bitmart_ws.__file__).parent
    modules = sorted(
        f"bitmart_ws.{package}.{p.stem}" for p in (root / package).glob("*.py") if p.stem != "__init__"
    )
    assert modules, f"no modules found in bitmart_ws.{package}"
    # A bare parent package stands in for bitmart_ws, so that its __init__ (which loads the asyncio
    # client) does not run: only these modules and what they import are measured.
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


@pytest.mark.parametrize("package", PURE)
def test_no_forbidden_import_statements(package: str) -> None:
    for path in (Path(bitmart_ws.__file__).parent / package).glob("*.py"):
        for line in path.read_text().splitlines():
            stripped = line.strip()
            if stripped.startswith(("import ", "from ")):
                root = stripped.split()[1].split(".")[0]
                assert root not in FORBIDDEN, f"{path.name}: {stripped}"
