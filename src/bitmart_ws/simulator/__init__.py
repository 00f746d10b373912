"""A faithful BitMart WebSocket server (spot and futures v2 dialects) for tests, demos and the CLI.

Start it with ``async with Simulator(SimulatorConfig(...)) as sim:``, ``python -m bitmart_ws.simulator``
or ``bitmart-ws simulate``. The default account is :data:`DEFAULT_ACCOUNT` (key ``sim-key``, secret
``sim-secret``, memo ``sim-memo``). ``docs/simulator.md`` lists every setting, fault and the behaviour matrix.
"""

from __future__ import annotations

from .accounts import DEFAULT_ACCOUNT, Account, AccountStatus
from .config import Compress, SimulatorConfig
from .faults import Malformed
from .server import ReceivedFrame, SessionInfo, Simulator, SimulatorStats

__all__ = [
    "DEFAULT_ACCOUNT",
    "Account",
    "AccountStatus",
    "Compress",
    "Malformed",
    "ReceivedFrame",
    "SessionInfo",
    "Simulator",
    "SimulatorConfig",
    "SimulatorStats",
]
