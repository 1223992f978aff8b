"""The SimPy environment we run on: it counts the events it processes, and it keeps
background events (recurring faults) that never keep a run alive by themselves."""
from __future__ import annotations

import itertools
from heapq import heappop, heappush

import simpy


class Environment(simpy.Environment):
    """``simpy.Environment`` with a processed-event count and background events.

    A background event fires at its time only if something else is still to happen at
    or after that time. When only background events are left, the schedule counts as
    empty and ``run`` ends as it would without them: a fault that recurs for ever
    cannot turn a run whose requests are stuck into one that never ends.
    """

    def __init__(self, initial_time: float = 0):
        super().__init__(initial_time)
        self.events_processed = 0
        self._background: list[tuple[float, int, simpy.Event]] = []
        self._order = itertools.count()

    def background(self, delay: float) -> simpy.Event:
        """An event that fires ``delay`` from now if the run goes on that long."""
        if delay < 0:
            raise ValueError(f"negative delay {delay}")
        event = self.event()
        heappush(self._background, (self._now + delay, next(self._order), event))
        return event

    def step(self) -> None:
        self.events_processed += 1
        bg = self._background
        if bg and bg[0][0] <= self.peek() < float("inf"):
            self._now, _, event = heappop(bg)
            event.succeed()
            return
        super().step()
