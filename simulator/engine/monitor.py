"""Statistics gathered while the simulation runs.

``Level`` integrates a piecewise-constant quantity over time (queue length, busy
workers) so its time average is exact; ``Tally`` summarises per-event values (waits).
Both cost O(1) per update and keep no history.
"""
from __future__ import annotations


class Level:
    """A time-weighted level: its integral, current value and maximum."""

    __slots__ = ("value", "area", "max", "_last")

    def __init__(self, start: float = 0.0):
        self.value = 0
        self.area = 0.0
        self.max = 0
        self._last = start

    def set(self, now: float, value: int) -> None:
        self.area += self.value * (now - self._last)
        self._last = now
        self.value = value
        if value > self.max:
            self.max = value

    def add(self, now: float, delta: int) -> None:
        self.set(now, self.value + delta)

    def integral(self, now: float) -> float:
        """The area under the level from the start to ``now``."""
        return self.area + self.value * (now - self._last)


class Tally:
    """Count, sum and maximum of observed values."""

    __slots__ = ("n", "total", "max")

    def __init__(self) -> None:
        self.n = 0
        self.total = 0.0
        self.max = 0.0

    def add(self, x: float) -> None:
        self.n += 1
        self.total += x
        if x > self.max:
            self.max = x

    @property
    def mean(self) -> float:
        return self.total / self.n if self.n else 0.0
