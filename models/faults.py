"""The scenario's fault schedule, as the services and the bus consult it.

Each fault is active from ``at`` (default 0) for ``for`` seconds (no ``for``: to the end).
The kinds (reference section 10):

- ``service_slow``: a service's processing times × ``factor``;
- ``message_delay``: messages to the matching topics take ``extra`` seconds more;
- ``message_loss``: a message to the matching topics is lost with ``probability``
  (a lost call times out in its caller; a lost cast leaves its request stuck);
- ``copy_fail``: a disk copy fails with ``probability``: ``host_key_verification`` before
  the guest is touched (rollback), ``disk_full`` part-way through the copy, after the
  power-off (the guest stays off on the source, vm_state ERROR);
- ``power_off_fail``: the guest hangs with ``probability``: the clean shutdown waits
  its whole timeout, then the destroy fails (``InstancePowerOffFailure``: vm_state
  ERROR, the guest still running on the source);
- ``boot_fail``: ``finish_resize`` cannot start the guest with ``probability`` (vm_state
  ERROR on the destination, the old flavor back);
- ``compute_crash``: a host's nova-compute stops at ``at`` (handlers in progress are
  lost, casts wait in its queue) and restarts ``restart_after`` later (``init_host``
  first); the scheduler sees it down only ``service_down_time`` after its last report;
- ``service_down``: nova-api, nova-conductor or nova-scheduler stops at ``at`` and
  restarts after ``for`` (a down conductor also stops the computes' reports:
  ``models.liveness``);
- ``broker_restart``, ``link_down``: the broker or a link goes down for ``for``.

A fault with a ``rate`` recurs: each occurrence lasts ``for`` (``restart_after``), and
the next strikes an exponential time (mean 1/rate) after it ends; several hosts named
by one fault each have their own occurrences. Recurrences are background events: they
happen while something else is still to happen, and never keep a run going alone.

Every fault that strikes is recorded in the trace (``event: fault``) and counted.
"""
from __future__ import annotations

import random
from collections import Counter
from typing import Any, Callable, Generator

import simpy

from simulator.engine.distributions import make_sampler
from simulator.engine.names import expand_names
from simulator.engine.random_streams import RandomStreams


#: the kinds of fault a scenario's ``faults:`` list may name
FAULT_KINDS = ("compute_crash", "service_down", "service_slow", "broker_restart", "message_delay",
               "message_loss", "link_down", "copy_fail", "power_off_fail", "boot_fail")


class FaultPlan:
    """When and where each fault applies, and the draws that decide them."""

    def __init__(self, faults: list[Any], streams: RandomStreams, host_names: list[str]):
        self.faults = faults
        self.rng: random.Random = streams.stream("faults")
        self.host_names = host_names
        self.struck: Counter[str] = Counter()
        self.streams = streams
        self.topics: list[set[str] | None] = [set(expand_names(f.topic)) if f.topic else None for f in faults]
        self.hosts: list[set[str] | None] = [set(expand_names(f.host)) if f.host else None for f in faults]
        self.extra = [make_sampler(f.extra) if f.extra is not None else None for f in faults]
        #: recurring window faults: the occurrences in effect now (the host of each, for
        #: one naming hosts; None otherwise)
        self.open: list[set[str | None]] = [set() for _ in faults]

    def __bool__(self) -> bool:
        return bool(self.faults)

    def start(self, env: simpy.Environment, recorder: Any) -> None:
        """Record when the faults that open a window (slow services, late or lost
        messages, failing copies, power-offs and boots) start and end, and run the
        occurrences of the recurring ones. A set window is only marked: whether it
        holds is read from its times, so its marks are background events."""
        background = env.background  # type: ignore[attr-defined]
        for i, f in enumerate(self.faults):
            if f.kind in OUTAGES:
                continue
            if f.rate is not None and self.hosts[i] is not None:  # each host on its own
                for name in expand_names(f.host):
                    env.process(occurrences(env, f, self.streams.stream(f"faults[{i}].{name}"),
                                            lambda wait, i=i, name=name: self._window(env, recorder, i, wait,
                                                                                      name)))
            elif f.rate is not None:
                env.process(occurrences(env, f, self.streams.stream(f"faults[{i}]"),
                                        lambda wait, i=i: self._window(env, recorder, i, wait)))
            else:
                env.process(self._marks(env, recorder, i, background))

    def _marks(self, env: simpy.Environment, recorder: Any, i: int, wait: "Wait") -> Generator[simpy.Event, Any, None]:
        if self.faults[i].at:
            yield wait(self.faults[i].at)
        yield from self._window(env, recorder, i, wait)

    def _window(self, env: simpy.Environment, recorder: Any, i: int, wait: "Wait",
                host: str | None = None) -> Generator[simpy.Event, Any, None]:
        f = self.faults[i]
        self.open[i].add(host)
        recorder.emit(env.now, None, None, "faults", host, "fault", f.kind, phase="start", fault=i)
        if f.duration is None:
            return
        yield wait(f.duration)
        self.open[i].discard(host)
        recorder.emit(env.now, None, None, "faults", host, "fault", f.kind, phase="end", fault=i)

    def _active(self, i: int, f: Any, now: float) -> bool:
        if f.rate is not None:
            return bool(self.open[i])
        start = f.at or 0.0
        return start <= now and (f.duration is None or now < start + f.duration)

    def _matching(self, kind: str, now: float) -> list[int]:
        return [i for i, f in enumerate(self.faults) if f.kind == kind and self._active(i, f, now)]

    def slow_factor(self, service: str, now: float) -> float:
        """service_slow: the factor on ``service``'s processing time now (1: none)."""
        factor = 1.0
        for i in self._matching("service_slow", now):
            if self.faults[i].service == service:
                factor *= self.faults[i].factor
        if factor != 1.0:
            self.struck["service_slow"] += 1
        return factor

    def extra_latency(self, topic: str, now: float) -> float:
        """message_delay: seconds added to a message to ``topic`` now."""
        extra = 0.0
        for i in self._matching("message_delay", now):
            if topic in self.topics[i]:
                extra += self.extra[i](self.rng)
                self.struck["message_delay"] += 1
        return extra

    def lose(self, topic: str, now: float) -> bool:
        """message_loss: whether a message to ``topic`` is lost now."""
        for i in self._matching("message_loss", now):
            if topic in self.topics[i] and self.rng.random() < self.faults[i].probability:
                self.struck["message_loss"] += 1
                return True
        return False

    def copy_failure(self, source: int, now: float) -> str | None:
        """copy_fail: the reason a copy from ``source`` fails now, or None."""
        for i in self._matching("copy_fail", now):
            f = self.faults[i]
            if self._on_host(i, source) and self.rng.random() < f.probability:
                self.struck["copy_fail"] += 1
                return f.reason
        return None

    def power_off_failure(self, source: int, now: float) -> bool:
        """power_off_fail: whether the guest on ``source`` hangs and cannot be destroyed now."""
        return self._strikes("power_off_fail", source, now)

    def boot_failure(self, dest: int, now: float) -> bool:
        """boot_fail: whether the guest fails to start on ``dest`` now."""
        return self._strikes("boot_fail", dest, now)

    def _strikes(self, kind: str, host: int, now: float) -> bool:
        for i in self._matching(kind, now):
            if self._on_host(i, host) and self.rng.random() < self.faults[i].probability:
                self.struck[kind] += 1
                return True
        return False

    def _on_host(self, i: int, host: int) -> bool:
        names = self.hosts[i]
        if names is not None and self.faults[i].rate is not None:
            return self.host_names[host] in self.open[i]  # in its own occurrence
        return names is None or self.host_names[host] in names


#: the kinds that take something down for a while (models.crashes carries them out)
OUTAGES = ("compute_crash", "service_down", "broker_restart", "link_down")


#: how an occurrence waits out its length: a timeout, or for a recurring fault a
#: background event (the fault's end alone never keeps a run going)
Wait = Callable[[float], simpy.Event]
#: one strike of a fault, through to its end
Occurrence = Callable[[Wait], Generator[simpy.Event, Any, None]]


def occurrences(env: simpy.Environment, f: Any, rng: random.Random,
                occurrence: Occurrence) -> Generator[simpy.Event, Any, None]:
    """Run ``occurrence`` at the fault's ``at`` (0 if none), or, for a recurring fault,
    again and again at its ``rate`` from ``at``, each an exponential time after the
    last one ended. A recurring fault's waits are background events."""
    if f.rate is None:
        yield env.timeout(f.at or 0.0)
        yield from occurrence(env.timeout)
        return
    background: Wait = env.background  # type: ignore[attr-defined]
    if f.at:
        yield background(f.at)
    while True:
        yield background(rng.expovariate(f.rate))
        yield from occurrence(background)
