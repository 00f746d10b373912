"""The sans-I/O core must not import I/O, clocks or threads, directly or through its own imports."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import bitmart_ws.protocol

FORBIDDEN = ("asyncio", "socket", "time", "threading", "websockets", "picows", "selectors")


def test_protocol_modules_import_nothing_forbidden() -> None:
    package = Path(bitmart_ws.protocol.__file__).parent
    modules = sorted(f"bitmart_ws.protocol.{p.stem}" for p in package.glob("*.py") if p.stem != "__init__")
    assert modules, "no protocol modules found"
    # A bare parent package stands in for bitmart_ws, so that its __init__ (which loads the asyncio
    # client) does not run: only the protocol modules and what they import are measured.
    code = (
        "import sys, types\n"
        "parent = types.ModuleType('bitmart_ws')\n"
        f"parent.__path__ = [{str(package.parent)!r}]\n"
        "sys.modules['bitmart_ws'] = parent\n"
        "before = set(sys.modules)\n"
        f"import {', '.join(modules)}\n"
        "loaded = set(sys.modules) - before\n"
        f"bad = sorted(m for m in loaded if m.split('.')[0] in {FORBIDDEN!r})\n"
        "print(','.join(bad))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "", f"protocol core imports {out.stdout.strip()}"


def test_no_forbidden_import_statements() -> None:
    package = Path(bitmart_ws.protocol.__file__).parent
    for path in package.glob("*.py"):
        for line in path.read_text().splitlines():
            stripped = line.strip()
            if stripped.startswith(("import ", "from ")):
                root = stripped.split()[1].split(".")[0]
                assert root not in FORBIDDEN, f"{path.name}: {stripped}"
