"""The SimPy environment we run on, counting the events it processes."""
from __future__ import annotations

import simpy


class Environment(simpy.Environment):
    """``simpy.Environment`` that counts processed events for the summary."""

    def __init__(self, initial_time: float = 0):
        super().__init__(initial_time)
        self.events_processed = 0

    def step(self) -> None:
        self.events_processed += 1
        super().step()
