"""Outages: a compute host's nova-compute crashing, a controller service going down,
RabbitMQ restarting, a link going down (reference section 10).

A crashed service stops: the handlers it was running are lost (oslo.messaging
acknowledges a message before handling it), messages for it wait in its queue, and
calls to it time out in their callers. A nova-compute keeps reporting until it
crashes; the scheduler's ComputeFilter counts it down only ``service_down_time``
after its last report, so it can still be chosen meanwhile (``models.liveness``). On
restart a nova-compute runs ``init_host``, the audits it missed, then consumes its
queue again, in order, and reports.

Outages of one target (a host's nova-compute, a controller service, the broker, a
link) that touch or overlap are one longer outage: the target goes down when the first
strikes and comes back when the last ends (``Downs``); each strike is still counted.

An outage that recurs ends with a background event (``simulator.engine.environment``):
while it lasts, ``waiting`` says whether something waits for its end (messages
queued for the stopped service, messages held for the broker, stalled copies,
put-off confirms and audits), which then makes it happen.
"""
from __future__ import annotations

from typing import Any, Callable, Generator

import simpy

from models.auto_confirm import ConfirmBacklog
from models.faults import FaultPlan, Occurrence, Wait, occurrences
from models.liveness import FIRST_REPORT, Liveness
from models.network import DiskCopier
from models.resource_audit import ResourceAudit
from models.service import NovaService
from simulator.engine.bus import MessageBus
from simulator.engine.names import expand_names
from simulator.engine.random_streams import RandomStreams
from simulator.engine.recorder import TraceRecorder


class Downs:
    """How many outages hold each target down now. ``strike`` says whether the target
    was up (it goes down); ``clear`` whether this was the last (it comes back)."""

    def __init__(self) -> None:
        self._held: dict[Any, int] = {}

    def strike(self, target: Any) -> bool:
        self._held[target] = self._held.get(target, 0) + 1
        return self._held[target] == 1

    def clear(self, target: Any) -> bool:
        self._held[target] -= 1
        return self._held[target] == 0

    def down(self, target: Any) -> bool:
        return self._held.get(target, 0) > 0


class Outages:
    """Schedules the outage faults of a run and carries out their effects."""

    def __init__(self, env: simpy.Environment, streams: RandomStreams, faults: FaultPlan, trace: TraceRecorder,
                 *, bus: MessageBus, liveness: Liveness, copier: DiskCopier, controllers: dict[str, NovaService],
                 computes: list[Any], backlog: ConfirmBacklog, audit: ResourceAudit):
        self.env = env
        self.streams = streams
        self.faults = faults
        self.trace = trace
        self.bus = bus
        self.liveness = liveness
        self.copier = copier
        #: nova-api, nova-conductor and nova-scheduler, by the fault's ``service``
        self.controllers = controllers
        #: each host's nova-compute, by host name
        self.computes = {c.host: c for c in computes}
        self.backlog = backlog
        self.audit = audit
        #: for each outage in progress: whether something waits for it to end
        self.waiting: list[Callable[[], bool]] = []
        self.downs = Downs()
        #: the nova-computes running ``init_host`` after an outage
        self._starting: set[Any] = set()

    def start(self) -> None:
        for i, f in enumerate(self.faults.faults):
            if f.kind == "compute_crash":
                for name in expand_names(f.host):
                    comp = self.computes[name]
                    self._every(f, f"faults[{i}].{name}", lambda wait, comp=comp, f=f: self._compute(comp, f.lasts, wait))
            elif f.kind == "link_down":
                self._every(f, f"faults[{i}]", lambda wait, f=f: self._link(f.a, f.b, f.duration, wait))
            elif f.kind == "broker_restart":
                self._every(f, f"faults[{i}]", lambda wait, f=f: self._broker(f.duration, wait))
            elif f.kind == "service_down":
                svc = self.controllers[f.service]
                self._every(f, f"faults[{i}]", lambda wait, svc=svc, f=f: self._service(svc, f.duration, wait))

    def waits_on_outage(self) -> bool:
        """Whether something waits for an outage in progress to end."""
        return any(waits() for waits in self.waiting)

    def _every(self, f: Any, stream: str, occurrence: Occurrence) -> None:
        self.env.process(occurrences(self.env, f, self.streams.stream(stream), occurrence))

    def _record(self, who: Any, kind: str, **extra: Any) -> None:
        self.trace.emit(self.env.now, None, None, who.service, who.host, "fault", kind, **extra)

    def _link(self, a: str, b: str, duration: float | None, wait: Wait) -> Generator[simpy.Event, Any, None]:
        """A link goes down: copies across it reroute if they can, else stall."""
        target = ("link", *sorted((a, b)))
        self.faults.struck["link_down"] += 1
        if self.downs.strike(target):
            self.trace.emit(self.env.now, None, None, "network", None, "fault", "link_down", phase="down", a=a, b=b)
            self.copier.set_link(a, b, up=False)
        if duration is None:
            return
        yield from self._last(wait, duration, self.copier.stalled)
        if not self.downs.clear(target):
            return
        self.trace.emit(self.env.now, None, None, "network", None, "fault", "link_down", phase="up", a=a, b=b)
        self.copier.set_link(a, b, up=True)

    def _broker(self, duration: float, wait: Wait) -> Generator[simpy.Event, Any, None]:
        """RabbitMQ restarts: queued messages are lost; senders wait until it is back."""
        self.faults.struck["broker_restart"] += 1
        if self.downs.strike("broker"):
            lost = self.bus.broker.stop()
            self.liveness.reports_stopped("broker", self.env.now)
            self.trace.emit(self.env.now, None, None, "broker", None, "fault", "broker_restart",
                            phase="stop", messages_lost=lost)
        yield from self._last(wait, duration, lambda: self.bus.broker.holding() or bool(self.backlog))
        if not self.downs.clear("broker"):
            return
        self.trace.emit(self.env.now, None, None, "broker", None, "fault", "broker_restart", phase="start")
        self.bus.broker.start()
        self.liveness.reports_started("broker", self.env.now)
        self.backlog.rearm(self.env.now)

    def _service(self, svc: NovaService, duration: float | None, wait: Wait) -> Generator[simpy.Event, Any, None]:
        conductor = svc is self.controllers["conductor"]
        self.faults.struck["service_down"] += 1
        if self.downs.strike(svc.service):
            self._record(svc, "service_down", phase="stop")
            svc.pool.stop()
            if conductor:  # the computes' reports go through it
                self.liveness.reports_stopped("conductor", self.env.now)
        if duration is None:
            return
        # (a down conductor makes the computes look down: put-off auto-confirms wait too)
        yield from self._last(wait, duration, lambda: bool(svc.pool.queue) or bool(conductor and self.backlog))
        if not self.downs.clear(svc.service):
            return
        self.trace.emit(self.env.now, None, None, svc.service, svc.host, "fault", "service_down", phase="restart")
        if conductor:
            self.liveness.reports_started("conductor", self.env.now)
            self.backlog.rearm(self.env.now)
        svc.pool.start()

    def _compute(self, comp: Any, restart_after: float | None, wait: Wait) -> Generator[simpy.Event, Any, None]:
        """A host's nova-compute crashes, and (after ``restart_after``) starts again."""
        liveness = self.liveness
        target = ("compute", comp.host)
        self.faults.struck["compute_crash"] += 1
        if self.downs.strike(target):
            self._record(comp, "compute_crash", phase="stop")
            comp.pool.stop()
            liveness.compute_stopped(comp.index, self.env.now)
        if restart_after is None:
            return
        yield from self._last(wait, restart_after, lambda: self._awaited(comp))
        if not self.downs.clear(target):
            return
        self.trace.emit(self.env.now, None, None, comp.service, comp.host, "fault", "compute_crash", phase="restart")
        if target in self._starting:
            return  # the init_host in progress starts it when it is done
        self._starting.add(target)
        try:
            yield from comp.init_host()
        finally:
            self._starting.discard(target)
        if self.downs.down(target):
            return  # it crashed again while starting: that outage's end starts it
        # then the resource audit, which settles what the audits missed while it was down
        self.audit.run_missed(comp.index)
        liveness.compute_started(comp.index, self.env.now)
        comp.pool.start()
        self.backlog.rearm(self.env.now + FIRST_REPORT)

    def _awaited(self, comp: Any) -> bool:
        """Whether something waits for ``comp``'s nova-compute to restart: messages in
        its queue, audits it missed, auto-confirms put off by it or for its source."""
        return bool(comp.pool.queue) or self.audit.missed(comp.index) or self.backlog.waits_for(comp)

    def _last(self, wait: Wait, seconds: float, waits: Callable[[], bool]) -> Generator[simpy.Event, Any, None]:
        """Wait out an outage. A recurring one ends with a background event; while it
        lasts, ``waits`` says whether something waits for that end."""
        self.waiting.append(waits)
        try:
            yield wait(seconds)
        finally:
            self.waiting.remove(waits)
