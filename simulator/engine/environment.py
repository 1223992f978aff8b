"""The SimPy environment we run on: it counts the events it processes, keeps
background events (recurring faults) that never keep a run alive by themselves, and
runs to a goal, to the end of what is to happen, or to a time limit."""
from __future__ import annotations

import itertools
from heapq import heappop, heappush
from typing import Callable

import simpy

INF = float("inf")


class Environment(simpy.Environment):
    """``simpy.Environment`` with a processed-event count and background events.

    A background event fires at its time only if something else is still to happen at
    or after that time, or if something waits for a background event (``waiting``: a
    message queued for a service that a recurring crash took down waits for its
    restart). Otherwise the schedule counts as empty: a fault that recurs for ever
    cannot turn a run whose requests are stuck into one that never ends.
    """

    def __init__(self, initial_time: float = 0):
        super().__init__(initial_time)
        self.events_processed = 0
        self._background: list[tuple[float, int, simpy.Event]] = []
        self._order = itertools.count()
        #: whether something waits for a background event to happen
        self.waiting: Callable[[], bool] = lambda: False

    def background(self, delay: float, at_once: bool = False) -> simpy.Event:
        """An event that fires ``delay`` from now if the run goes on that long.
        ``at_once``: its callbacks run as it is taken from the schedule, leaving nothing
        queued at that instant for another event to see as work still to come (a
        periodic tick; ``next_time`` then says only what the tick itself started)."""
        if delay < 0:
            raise ValueError(f"negative delay {delay}")
        event = self.event()
        heappush(self._background, (self._now + delay, next(self._order), event, at_once))
        return event

    def _background_due(self) -> bool:
        """Whether the next thing to happen is a background event."""
        bg = self._background
        if not bg:
            return False
        t = self.peek()
        return bg[0][0] <= t and (t < INF or self.waiting())

    def next_time(self) -> float:
        """When the next event happens (inf: nothing is left to happen)."""
        return self._background[0][0] if self._background_due() else self.peek()

    def step(self) -> None:
        self.events_processed += 1
        if self._background_due():
            self._now, _, event, at_once = heappop(self._background)
            if at_once:
                event._ok, event._value = True, None
                callbacks, event.callbacks = event.callbacks, None
                for callback in callbacks:
                    callback(event)
            else:
                event.succeed()
            return
        super().step()

    def run_until(self, goal: simpy.Event, limit: float | None = None,
                  after_step: Callable[[], None] | None = None) -> bool:
        """Run until ``goal`` has been processed, nothing is left to happen, or the
        clock would pass ``limit``. Returns whether the limit stopped the run while
        something was still to happen (then the clock reads ``limit``).
        ``after_step`` is called after every event (a test checking an invariant)."""
        while not goal.processed:
            t = self.next_time()
            if t == INF:
                return False
            if limit is not None and t > limit:
                self._now = max(self._now, limit)
                return True
            self.step()
            if after_step is not None:
                after_step()
        return False
