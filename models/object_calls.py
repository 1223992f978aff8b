"""nova-compute's database traffic through nova-conductor (reference section 12).

nova-compute has no database access: each object save (``instance.save``,
``migration.save``, ``Migration.create``, ``ComputeNode.save``, an instance action
event, ...) is an RPC **call** ``object_action`` to nova-conductor, each read
(``BlockDeviceMappingList.get_by_instance_uuid``, ...) a call ``object_class_action``
(modern ``object_class_action_versions``). The conductor's workers serve them beside
the moves' own calls, so they count in its utilisation and queue, and a conductor
that is down or slow holds a move at its next save. With none within
``rpc_response_timeout`` the compute's handler fails where it stands: the saves Nova's
error handling would make need the conductor too, so the instance is left as it was
last saved (``stuck``, ``MessagingTimeout``).

The calls a step makes one after another are sent as one message carrying their
count (``ObjectCalls``), charged each object's own service time at the conductor: the
load and the queueing are Nova's, each extra call's two bus hops are not (a few
milliseconds per step, docs/assumptions.md). The counts per step are the reference's,
for a success path with one port and no volume, plus a block-device-mapping save per
volume at ``finish_resize`` and at a revert.

The periodic traffic of every running compute goes the same way, as casts: the service
report (one write every ``report_interval``) and the resource audit (two reads and a
``ComputeNode.save`` every ``periodic_interval``), added up per second.
"""
from __future__ import annotations

from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, Generator, Mapping

import simpy

from simulator.engine.bus import MessagingTimeout


@dataclass(frozen=True)
class ObjectCalls:
    """The object calls a step makes one after another: saves and reads."""

    writes: int
    reads: int = 0

    @property
    def method(self) -> str:
        """The conductor method the message is named by (a batch that writes is an
        ``object_action``; one that only reads, an ``object_class_action``)."""
        return "object_action" if self.writes else "object_class_action"

    def plus(self, writes: int) -> "ObjectCalls":
        return ObjectCalls(self.writes + writes, self.reads) if writes else self


#: the object calls of each step of a move, Kilo and modern (reference section 12;
#: ``ev``: the step's instance action event, started and finished, two writes)
KILO_STEPS: Mapping[str, ObjectCalls] = MappingProxyType({
    # ev, instance.save, Migration.create, ComputeNode.save; BandwidthUsageList
    "prep_resize": ObjectCalls(5, 1),
    # ev start, info cache, migration.save, instance.save; the BDMs
    "resize_instance": ObjectCalls(4, 1),
    # migration.save, instance.save, ev finish
    "resize_instance.end": ObjectCalls(3),
    # ev start, info cache, instance.save (resize_finish); the BDMs
    "finish_resize": ObjectCalls(3, 1),
    # migration.save, instance.save, Quotas.commit, ev finish (+ a BDM save per volume)
    "finish_resize.end": ObjectCalls(4),
    # ev, Migration + Instance, instance.save ×2, info cache, migration.save,
    # ComputeNode.save, Quotas.commit
    "confirm_resize": ObjectCalls(8, 2),
    # ev, BDMs + bandwidth, info cache, migration.save, ComputeNode.save (+ BDM per volume)
    "revert_resize": ObjectCalls(5, 2),
    # ev start, info cache, instance.save ×2, migration.save; the BDMs
    "finish_revert_resize": ObjectCalls(5, 1),
    # instance.save, Quotas.commit, ev finish
    "finish_revert_resize.end": ObjectCalls(3),
    # a failed claim: instance.save (resize_prep again) before the reschedule call
    "reschedule": ObjectCalls(1),
    # a handler that fails: the fault, the error states, the event's finish
    "failure": ObjectCalls(3),
    # the auto-confirm: the unconfirmed migrations read, migration.save, the action
    "auto_confirm": ObjectCalls(2, 1),
})

MODERN_STEPS: Mapping[str, ObjectCalls] = MappingProxyType({
    **KILO_STEPS,
    # ev, instance.save ×2 (flavor; migration context), migration.save, ComputeNode.save
    "prep_resize": ObjectCalls(6),
    # migration.save, instance.save, ev finish (no Quotas.commit)
    "finish_resize.end": ObjectCalls(3),
    # ev, Instance, info cache, migration.save, ComputeNode.save, instance.save ×2
    "confirm_resize": ObjectCalls(7, 1),
    # ev, BDMs, info cache, migration.save, ComputeNode.save, instance.save
    "revert_resize": ObjectCalls(6, 1),
    # ev start, the BDMs, info cache, instance.save ×3
    "finish_revert_resize": ObjectCalls(5, 1),
    # instance.save, ev finish
    "finish_revert_resize.end": ObjectCalls(2),
})

#: the conductor's service time of one object call when the scenario names none (an
#: estimate: Nova publishes no figure; docs/assumptions.md)
OBJECT_TIMES: Mapping[str, float] = MappingProxyType({"object_action": 0.005, "object_class_action": 0.003})

#: the steps that save a block device mapping per attached volume
SAVES_BDMS = frozenset({"finish_resize.end", "revert_resize"})


class ConductorUnreachable(MessagingTimeout):
    """An object call got no reply within ``rpc_response_timeout``: the handler
    stops where it stands (nothing more can be saved)."""


class ObjectIndirection:
    """nova-compute's object calls: a mixin of NovaCompute, using its bus, conf,
    trace and ``object_steps`` (None: ``[conductor] use_local``, no calls)."""

    object_steps: Mapping[str, ObjectCalls] | None

    def objects(self, req: Any, step: str, scheduled: Any = None,
                check: bool = True) -> Generator[simpy.Event, Any, bool]:
        """Make the object calls of ``step`` and wait for the conductor's answer;
        raise ConductorUnreachable when none comes in time. Returns whether the request
        still owns its instance (a reset and a newer move may have come meanwhile:
        ``superseded``, giving back ``scheduled``, a claim this handler took; not
        asked when ``check`` is false)."""
        calls = self._calls(req, step)
        if calls is None:
            return True
        t0 = self.env.now
        timeout = self.conf.rpc_response_timeout
        try:
            yield self.bus.call(self.who, "conductor", calls.method, {"calls": calls, "expires": timeout},
                                req, timeout=timeout, traced=False)
        except MessagingTimeout:
            raise ConductorUnreachable(f"Timed out waiting for a reply from nova-conductor "
                                       f"({calls.method}, {step}, {timeout:g} s)") from None
        self.trace.emit(self.env.now, req.request, req.instance, self.service, self.host, "objects", step,
                        writes=calls.writes, reads=calls.reads, seconds=round(self.env.now - t0, 6),
                        attempt=req.attempt)
        return not (check and self.superseded(req, scheduled))

    def objects_sent(self, req: Any, step: str) -> None:
        """The object calls of a step whose answer the simulation does not wait for
        (an error ending): the conductor's load, sent as a cast."""
        calls = self._calls(req, step)
        if calls is not None:
            self.bus.cast(self.who, "conductor", calls.method, {"calls": calls, "expires": None}, req,
                          traced=False)

    def _calls(self, req: Any, step: str) -> ObjectCalls | None:
        steps = self.object_steps
        if steps is None:
            return None
        calls = steps[step]
        if step in SAVES_BDMS:
            calls = calls.plus(len(req.target.disks.volumes))
        return calls


class PeriodicContext:
    """The context of the computes' periodic object traffic (it belongs to no request)."""

    __slots__ = ("request", "instance", "attempt", "target", "queue_wait", "migration", "request_id")

    def __init__(self) -> None:
        self.request = None
        self.instance = None
        self.attempt = None
        self.target = None
        self.queue_wait = 0.0
        self.migration = None
        self.request_id = None


class PeriodicObjectLoad:
    """The object traffic of the computes' periodic tasks: every second, a cast to the
    conductor with the service reports and the resource audits of the computes seen up
    that are due in it (``report_interval``, ``periodic_interval`` apart per host),
    whole calls carried over. The ticks, the casts and their work are background events:
    they never keep a run alive, nor make the operator's policy think work is left."""

    def __init__(self, env: Any, bus: Any, hosts_up: Any, conf: Any):
        self.env = env
        self.bus = bus
        self.hosts_up = hosts_up
        self.report_interval = conf.report_interval
        self.audit_interval = conf.periodic_interval
        #: a report call waits report_interval − 1 s (Kilo's service_update), an audit's
        #: calls rpc_response_timeout: older messages have expired in the queue
        self.expires = (max(conf.report_interval - 1.0, 1.0), conf.rpc_response_timeout)
        self._owed = [0.0, 0.0]
        self.ctx = PeriodicContext()

    def start(self) -> None:
        self.env.process(self._run())

    def _run(self) -> Generator[simpy.Event, Any, None]:
        import numpy as np

        who = ("nova-compute", None)
        while True:
            yield self.env.background(1.0, at_once=True)
            up = int(np.count_nonzero(self.hosts_up))
            self._owed[0] += up / self.report_interval
            self._owed[1] += up / self.audit_interval
            reports, audits = int(self._owed[0]), int(self._owed[1])
            if not reports and not audits:
                continue
            self._owed[0] -= reports
            self._owed[1] -= audits
            self.bus.cast(who, "conductor", "object_action", {"periodic": (reports, audits), "expires": self.expires},
                          self.ctx, traced=False, background=True)
