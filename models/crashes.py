"""Crashes and restarts of Nova's services (reference section 10).

A crashed service stops: the handlers it was running are lost (oslo.messaging
acknowledges a message before handling it), messages for it wait in its queue, and
calls to it time out in their callers. A nova-compute keeps reporting until it
crashes; the scheduler's ComputeFilter counts it down only ``service_down_time``
after its last report, so it can still be chosen meanwhile (``models.liveness``). On restart a nova-compute
runs ``init_host`` (``_init_instance`` for each instance whose database host it is),
then consumes its queue again, in order, and reports.
"""
from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any, Callable, Generator

import simpy

from models import states
from models.faults import Occurrence, Wait, occurrences
from models.liveness import FIRST_REPORT
from simulator.names import expand_names

if TYPE_CHECKING:
    from models.cloud import Cloud


class Crashes:
    """Schedules the crash faults of a run and carries out their effects."""

    def __init__(self, cloud: "Cloud"):
        self.cloud = cloud
        self.env = cloud.env
        #: claims of abandoned moves a resource audit stopped counting (Kilo)
        self.healed = 0
        #: requests whose resize_prep an init_host cleared
        self.cleared: set[int] = set()
        #: audits a down nova-compute missed: done when it starts again (host → moves)
        self.deferred_audits: dict[int, list[Any]] = {}
        #: for each outage in progress: whether something waits for it to end
        self.waiting: list[Callable[[], bool]] = []

    def start(self) -> None:
        cloud = self.cloud
        for i, f in enumerate(cloud.loaded.model.faults):
            if f.kind == "compute_crash":
                for name in expand_names(f.host):
                    comp = cloud.computes[cloud.hosts.index[name]]
                    self._every(f, f"faults[{i}].{name}", lambda wait, comp=comp, f=f: self._compute(comp, f.lasts, wait))
            elif f.kind == "link_down":
                self._every(f, f"faults[{i}]", lambda wait, f=f: self._link(f.a, f.b, f.duration, wait))
            elif f.kind == "broker_restart":
                self._every(f, f"faults[{i}]", lambda wait, f=f: self._broker(f.duration, wait))
            elif f.kind == "service_down":
                svc = {"api": cloud.api, "conductor": cloud.conductor, "scheduler": cloud.scheduler}[f.service]
                self._every(f, f"faults[{i}]", lambda wait, svc=svc, f=f: self._service(svc, f.duration, wait))

    def _every(self, f: Any, stream: str, occurrence: Occurrence) -> None:
        self.env.process(occurrences(self.env, f, self.cloud.streams.stream(stream), occurrence))

    def _record(self, who: Any, kind: str, **extra: Any) -> None:
        self.cloud.recorder.emit(self.env.now, None, None, who.service, who.host, "fault", kind, **extra)
        self.cloud.faults.struck[kind] += 1

    def _link(self, a: str, b: str, duration: float | None, wait: Wait) -> Generator[simpy.Event, Any, None]:
        """A link goes down: copies across it reroute if they can, else stall."""
        self.cloud.recorder.emit(self.env.now, None, None, "network", None, "fault", "link_down",
                                 phase="down", a=a, b=b)
        self.cloud.faults.struck["link_down"] += 1
        self.cloud.copier.set_link(a, b, up=False)
        if duration is None:
            return
        yield from self._last(wait, duration, self.cloud.copier.stalled)
        self.cloud.recorder.emit(self.env.now, None, None, "network", None, "fault", "link_down",
                                 phase="up", a=a, b=b)
        self.cloud.copier.set_link(a, b, up=True)

    def _broker(self, duration: float, wait: Wait) -> Generator[simpy.Event, Any, None]:
        """RabbitMQ restarts: queued messages are lost; senders wait until it is back."""
        lost = self.cloud.bus.broker_stop()
        self.cloud.liveness.reports_stopped("broker", self.env.now)
        self.cloud.recorder.emit(self.env.now, None, None, "broker", None, "fault", "broker_restart",
                                 phase="stop", messages_lost=lost)
        self.cloud.faults.struck["broker_restart"] += 1
        yield from self._last(wait, duration,
                              lambda: self.cloud.bus.holding() or bool(self.cloud.deferred_confirms))
        self.cloud.recorder.emit(self.env.now, None, None, "broker", None, "fault", "broker_restart",
                                 phase="start")
        self.cloud.bus.broker_start()
        self.cloud.liveness.reports_started("broker", self.env.now)
        self.cloud.rearm_confirms(self.env.now)

    def _service(self, svc: Any, duration: float | None, wait: Wait) -> Generator[simpy.Event, Any, None]:
        conductor = svc is self.cloud.conductor
        self._record(svc, "service_down", phase="stop")
        svc.pool.stop()
        if conductor:  # the computes' reports go through it
            self.cloud.liveness.reports_stopped("conductor", self.env.now)
        if duration is None:
            return
        # (a down conductor makes the computes look down: put-off auto-confirms wait too)
        yield from self._last(wait, duration, lambda: bool(svc.pool.queue) or bool(
            conductor and self.cloud.deferred_confirms))
        self.cloud.recorder.emit(self.env.now, None, None, svc.service, svc.host, "fault", "service_down",
                                 phase="restart")
        if conductor:
            self.cloud.liveness.reports_started("conductor", self.env.now)
            self.cloud.rearm_confirms(self.env.now)
        svc.pool.start()

    def _compute(self, comp: Any, restart_after: float | None, wait: Wait) -> Generator[simpy.Event, Any, None]:
        liveness = self.cloud.liveness
        self._record(comp, "compute_crash", phase="stop")
        comp.pool.stop()
        liveness.compute_stopped(comp.index, self.env.now)
        if restart_after is None:
            return
        yield from self._last(wait, restart_after, lambda: self._awaited(comp))
        self.cloud.recorder.emit(self.env.now, None, None, comp.service, comp.host, "fault", "compute_crash",
                                 phase="restart")
        yield from self._init_host(comp)
        # then the resource audit, which settles what the audits missed while it was down
        for m in self.deferred_audits.pop(comp.index, []):
            self.drop_abandoned(m)
            self.cloud.unhold()
        liveness.compute_started(comp.index, self.env.now)
        comp.pool.start()
        self.cloud.rearm_confirms(self.env.now + FIRST_REPORT)

    def _awaited(self, comp: Any) -> bool:
        """Whether something waits for ``comp``'s nova-compute to restart: messages in
        its queue, audits it missed, auto-confirms put off by it or for its source."""
        return bool(comp.pool.queue) or comp.index in self.deferred_audits or any(
            c is comp or m.source == comp.index for c, m in self.cloud.deferred_confirms)

    def _last(self, wait: Wait, seconds: float, waits: Callable[[], bool]) -> Generator[simpy.Event, Any, None]:
        """Wait out an outage. A recurring one ends with a background event; while it
        lasts, ``waits`` (messages queued for the stopped service, ...) says whether
        something waits for that end, which then makes it happen."""
        self.waiting.append(waits)
        try:
            yield wait(seconds)
        finally:
            self.waiting.remove(waits)

    def _init_host(self, comp: Any) -> Generator[simpy.Event, Any, None]:
        """``_init_instance`` for each instance whose database host is this host."""
        cloud = self.cloud
        for inst in list(cloud.db.instances.values()):
            if inst.host != comp.index or inst.request is None:
                continue
            req = inst.request
            if inst.task_state == states.RESIZE_PREP:
                comp.save(req, task_state=None)
                self.cleared.add(req.request)
                self._audit_later(inst.migration)  # a destination's claim no longer counts
            elif inst.task_state == states.RESIZE_MIGRATING:
                # the source crashed mid-copy: finish_revert_migration puts the guest back
                m = inst.migration
                power_on = inst.old_vm_state != states.STOPPED
                comp.step(req, "finish_revert_migration", "start", power_on=power_on)
                seconds = yield from cloud.driver.finish_migration(inst, power_on)
                inst.power_on = power_on
                comp.step(req, "finish_revert_migration", "end", seconds=round(seconds, 6))
                comp.save(req, vm_state=inst.old_vm_state, task_state=None)
                self._audit_later(m)  # before the request ends, so the run waits for it
                cloud.finish(req, "error", "ResetOnStartup")

    def _audit_later(self, m: Any) -> None:
        """A move ``init_host`` took out of its resize task state: the destination's
        next resource audit drops its claim (Kilo); modern placement keeps it (leaked
        at once). The run waits for the audit."""
        if m is None or m.dest < 0 or m.dest_released:
            return
        if self.cloud.modern:
            self.drop_abandoned(m)
            return
        self.cloud.hold()
        self.env.process(self.audit_release(m))

    def audit_release(self, m: Any) -> Generator[simpy.Event, Any, None]:
        """Wait for the destination's next resource audit, then ``drop_abandoned``.
        The caller has called ``cloud.hold()``, so the run waits for the audit."""
        hosts = self.cloud.hosts
        i = hosts.audit_interval
        off = hosts.audit_offset[m.dest]
        k = max(0, math.floor((self.env.now - off) / i) + 1)
        yield self.env.timeout(off + k * i - self.env.now)
        if self.cloud.computes[m.dest].pool.stopped:  # no audit while it is down
            self.deferred_audits.setdefault(m.dest, []).append(m)
            return
        self.drop_abandoned(m)
        self.cloud.unhold()

    def drop_abandoned(self, m: Any) -> None:
        """What a resource audit (``update_available_resource``) makes of a move whose
        instance is no longer mid-resize (Kilo's ``_instance_in_resize_state``: not
        RESIZED and in no resize task state, after a crash or an operator's reset) or
        has moved on to a newer migration: it stops counting the move, so the books
        hold the instance's flavor where instance.host names. Modern Nova's placement
        allocations are not the audit's to heal: there the move's claim is leaked."""
        cloud = self.cloud
        hosts = cloud.hosts
        inst = m.instance
        stale = inst.migration is not m
        resizing = inst.vm_state == states.RESIZED or inst.task_state in states.RESIZE_TASK_STATES
        if (m.dest < 0 or m.dest_released or m.status not in states.AUDITED_MIGRATION
                or not (stale or not resizing)):
            return
        m.dest_released = True
        host, flavor = (m.dest, m.new_flavor) if stale else hosts.abandoned_claim(inst, m)
        if cloud.modern:
            hosts.leaked.append((host, flavor))
            if not stale and host == m.source != m.dest and inst.flavor is not m.new_flavor:
                hosts.excess.append((m.dest, m.new_flavor, inst.flavor))
            return
        if stale:
            hosts.release(host, flavor, self.env.now)
        else:
            hosts.abandon_move(inst, m, self.env.now)
        self.healed += 1
        cloud.recorder.emit(self.env.now, m.request.request, inst.name, "nova-compute",
                            hosts.names[host], "state", "update_available_resource",
                            vm_state=inst.vm_state, task_state=inst.task_state,
                            migration_status=m.status, instance_host=hosts.names[inst.host],
                            released=hosts.names[host])
