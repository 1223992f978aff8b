"""Crashes and restarts of Nova's services (reference section 10).

A crashed service stops: the handlers it was running are lost (oslo.messaging
acknowledges a message before handling it), messages for it wait in its queue, and
calls to it time out in their callers. A nova-compute keeps reporting until it
crashes; the scheduler's ComputeFilter counts it down only ``service_down_time``
after its last report, so it can still be chosen meanwhile. On restart a nova-compute
runs ``init_host`` (``_init_instance`` for each instance whose database host it is),
then consumes its queue again, in order, and reports.
"""
from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any, Generator

import simpy

from models import states

if TYPE_CHECKING:
    from models.cloud import Cloud


class Crashes:
    """Schedules the crash faults of a run and carries out their effects."""

    def __init__(self, cloud: "Cloud"):
        self.cloud = cloud
        self.env = cloud.env
        self.down: set[str] = set()

    def start(self) -> None:
        for f in self.cloud.loaded.model.faults:
            if f.kind == "compute_crash":
                comp = self.cloud.computes[self.cloud.hosts.index[f.host]]
                self.env.process(self._compute(comp, f.at, f.restart_after))
            elif f.kind == "link_down":
                self.env.process(self._link(f.a, f.b, f.at, f.duration))
            elif f.kind == "broker_restart":
                self.env.process(self._broker(f.at, f.duration))
            elif f.kind == "service_down":
                svc = {"api": self.cloud.api, "conductor": self.cloud.conductor,
                       "scheduler": self.cloud.scheduler}[f.service]
                self.env.process(self._service(svc, f.at, f.duration))

    def _record(self, who: Any, kind: str, **extra: Any) -> None:
        self.cloud.recorder.emit(self.env.now, None, None, who.service, who.host, "fault", kind, **extra)
        self.cloud.faults.struck[kind] += 1

    def _link(self, a: str, b: str, at: float, duration: float | None) -> Generator[simpy.Event, Any, None]:
        """A link goes down: copies across it reroute if they can, else stall."""
        yield self.env.timeout(at)
        self.cloud.recorder.emit(self.env.now, None, None, "network", None, "fault", "link_down",
                                 phase="down", a=a, b=b)
        self.cloud.faults.struck["link_down"] += 1
        self.cloud.copier.set_link(a, b, up=False)
        if duration is None:
            return
        yield self.env.timeout(duration)
        self.cloud.recorder.emit(self.env.now, None, None, "network", None, "fault", "link_down",
                                 phase="up", a=a, b=b)
        self.cloud.copier.set_link(a, b, up=True)

    def _broker(self, at: float, duration: float) -> Generator[simpy.Event, Any, None]:
        """RabbitMQ restarts: queued messages are lost; senders wait until it is back."""
        yield self.env.timeout(at)
        lost = self.cloud.bus.broker_stop()
        self.cloud.recorder.emit(self.env.now, None, None, "broker", None, "fault", "broker_restart",
                                 phase="stop", messages_lost=lost)
        self.cloud.faults.struck["broker_restart"] += 1
        yield self.env.timeout(duration)
        self.cloud.recorder.emit(self.env.now, None, None, "broker", None, "fault", "broker_restart",
                                 phase="start")
        self.cloud.bus.broker_start()

    def _service(self, svc: Any, at: float, duration: float | None) -> Generator[simpy.Event, Any, None]:
        yield self.env.timeout(at)
        self._record(svc, "service_down", phase="stop")
        svc.pool.stop()
        if duration is None:
            return
        yield self.env.timeout(duration)
        self.cloud.recorder.emit(self.env.now, None, None, svc.service, svc.host, "fault", "service_down",
                                 phase="restart")
        svc.pool.start()

    def _compute(self, comp: Any, at: float, restart_after: float | None) -> Generator[simpy.Event, Any, None]:
        nova = self.cloud.nova
        hosts = self.cloud.hosts
        yield self.env.timeout(at)
        self._record(comp, "compute_crash", phase="stop")
        comp.pool.stop()
        # the last report was sent at 5 s after start, then every report_interval
        first = 5.0
        last = first + nova.report_interval * math.floor((at - first) / nova.report_interval) if at >= first else 0.0
        seen_down_at = last + nova.service_down_time
        restart_at = math.inf if restart_after is None else at + restart_after
        if seen_down_at < restart_at:
            self.env.process(self._mark_down(comp.index, seen_down_at, restart_at))
        if restart_after is None:
            return
        yield self.env.timeout(restart_after)
        self.cloud.recorder.emit(self.env.now, None, None, comp.service, comp.host, "fault", "compute_crash",
                                 phase="restart")
        yield from self._init_host(comp)
        hosts.up[comp.index] = True
        comp.pool.start()

    def _mark_down(self, host: int, when: float, until: float) -> Generator[simpy.Event, Any, None]:
        yield self.env.timeout(when - self.env.now)
        if self.env.now < until:
            self.cloud.hosts.up[host] = False

    def _init_host(self, comp: Any) -> Generator[simpy.Event, Any, None]:
        """``_init_instance`` for each instance whose database host is this host."""
        cloud = self.cloud
        for inst in list(cloud.db.instances.values()):
            if inst.host != comp.index or inst.request is None:
                continue
            req = inst.request
            if inst.task_state == states.RESIZE_PREP:
                comp.save(req, task_state=None)
            elif inst.task_state == states.RESIZE_MIGRATING:
                # the source crashed mid-copy: finish_revert_migration puts the guest back
                m = inst.migration
                power_on = inst.old_vm_state != states.STOPPED
                comp.step(req, "finish_revert_migration", "start", power_on=power_on)
                seconds = yield from cloud.driver.finish_migration(inst, power_on)
                inst.power_on = power_on
                comp.step(req, "finish_revert_migration", "end", seconds=round(seconds, 6))
                comp.save(req, vm_state=inst.old_vm_state, task_state=None)
                if m is not None and m.dest >= 0:
                    cloud.hold()  # before the request ends, so the run waits for the audit
                    self.env.process(self.audit_release(m))
                cloud.finish(req, "error", "ResetOnStartup")

    def audit_release(self, m: Any) -> Generator[simpy.Event, Any, None]:
        """Wait for the destination's next resource audit, then ``drop_abandoned``.
        The caller has called ``cloud.hold()``, so the run waits for the audit."""
        hosts = self.cloud.hosts
        i = hosts.audit_interval
        off = hosts.audit_offset[m.dest]
        k = max(0, math.floor((self.env.now - off) / i) + 1)
        yield self.env.timeout(off + k * i - self.env.now)
        self.drop_abandoned(m)
        self.cloud.unhold()

    def drop_abandoned(self, m: Any) -> None:
        """What a resource audit (``update_available_resource``) makes of a move whose
        instance is no longer in a resize task state (a crash or an operator reset it)
        or has moved on to a newer migration: it stops counting the move, so the books
        hold the instance's flavor where instance.host names."""
        hosts = self.cloud.hosts
        inst = m.instance
        stale = inst.migration is not m
        if (m.dest < 0 or m.dest_released or m.status not in states.PENDING_MIGRATION
                or not (stale or inst.task_state not in states.RESIZE_TASK_STATES)):
            return
        m.dest_released = True
        if stale:
            hosts.release(m.dest, m.new_flavor, self.env.now)
        else:
            hosts.abandon_move(inst, m, self.env.now)
        self.cloud.recorder.emit(self.env.now, m.request.request, inst.name, "nova-compute",
                                 hosts.names[m.dest], "state", "update_available_resource",
                                 vm_state=inst.vm_state, task_state=inst.task_state,
                                 migration_status=m.status, instance_host=hosts.names[inst.host],
                                 released=hosts.names[m.dest])
