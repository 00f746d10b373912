"""The client suite's fixtures (a simulator, an event recorder, the leaked-task check), shared here."""

from __future__ import annotations

from ..client.conftest import no_leaked_tasks, rec, sim

__all__ = ["no_leaked_tasks", "rec", "sim"]
