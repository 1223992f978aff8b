"""The resource tracker's audit (``update_available_resource``) of moves that were
abandoned: what it makes of their claims.

Kilo's audit runs on each compute every ``periodic_interval`` (from the host's fuzzy
offset) and counts a move's claims only while its instance is mid-resize
(``_instance_in_resize_state``: RESIZED, or in a resize task state). After a crash or
an operator's reset it stops counting the move, so the books hold the instance's
flavor where instance.host names. Placement's allocations (modern Nova) are no
audit's to heal: there the move's claim leaks (``nova-manage placement audit`` exists
for it).
"""
from __future__ import annotations

import math
from typing import Callable, Generator, Any

import simpy

from models import states
from models.hosts import HostTable
from models.lifecycle import RequestBook
from models.objects import Migration
from models.release import Release
from simulator.engine.recorder import TraceRecorder


class ResourceAudit:
    """The audits of abandoned moves, and how many claims they healed."""

    def __init__(self, env: simpy.Environment, hosts: HostTable, release: Release, trace: TraceRecorder,
                 book: RequestBook, compute_down: Callable[[int], bool]):
        self.env = env
        self.hosts = hosts
        self.release = release
        self.trace = trace
        self.book = book
        #: whether a host's nova-compute is down (it runs no audit then)
        self.compute_down = compute_down
        #: claims of abandoned moves an audit stopped counting (Kilo)
        self.healed = 0
        #: audits a down nova-compute missed: run when it starts again (host → moves)
        self.deferred: dict[int, list[Migration]] = {}

    def later(self, m: Migration | None) -> None:
        """A move ``init_host`` took out of its resize task state: the destination's
        next resource audit drops its claim (Kilo); modern placement keeps it (leaked
        at once). The run waits for the audit."""
        if m is None or m.dest < 0 or m.dest_released:
            return
        if not self.release.audit_heals_claims:
            self.drop_abandoned(m)
            return
        self.book.hold()
        self.env.process(self._at_next_audit(m))

    def _at_next_audit(self, m: Migration) -> Generator[simpy.Event, Any, None]:
        """Wait for the destination's next resource audit, then ``drop_abandoned``
        (the caller has called ``book.hold()``, so the run waits for the audit)."""
        hosts = self.hosts
        i = hosts.audit_interval
        off = hosts.audit_offset[m.dest]
        k = max(0, math.floor((self.env.now - off) / i) + 1)
        yield self.env.timeout(off + k * i - self.env.now)
        if self.compute_down(m.dest):  # no audit while it is down
            self.deferred.setdefault(m.dest, []).append(m)
            return
        self.drop_abandoned(m)
        self.book.unhold()

    def run_missed(self, host: int) -> None:
        """A restarted compute's first audit settles what its missed audits would have."""
        for m in self.deferred.pop(host, []):
            self.drop_abandoned(m)
            self.book.unhold()

    def missed(self, host: int) -> bool:
        """Whether ``host`` has audits still to run when it starts again."""
        return host in self.deferred

    def drop_abandoned(self, m: Migration) -> None:
        """What a resource audit makes of a move whose instance is no longer
        mid-resize (not RESIZED and in no resize task state, after a crash or an
        operator's reset) or has moved on to a newer migration: it stops counting the
        move, so the books hold the instance's flavor where instance.host names.
        Modern Nova's placement allocations are not the audit's to heal: there the
        move's claim is leaked."""
        hosts = self.hosts
        inst = m.instance
        stale = inst.migration is not m
        resizing = inst.vm_state == states.RESIZED or inst.task_state in states.RESIZE_TASK_STATES
        if (m.dest < 0 or m.dest_released or m.status not in states.AUDITED_MIGRATION
                or not (stale or not resizing)):
            return
        m.dest_released = True
        host, flavor = (m.dest, m.new_flavor) if stale else hosts.abandoned_claim(inst, m)
        if not self.release.audit_heals_claims:
            hosts.leaked.append((host, flavor))
            if not stale and host == m.source != m.dest and inst.flavor is not m.new_flavor:
                hosts.excess.append((m.dest, m.new_flavor, inst.flavor))
            return
        if stale:
            hosts.release(host, flavor, self.env.now)
        else:
            hosts.abandon_move(inst, m, self.env.now)
        self.healed += 1
        self.trace.emit(self.env.now, m.request.request, inst.name, "nova-compute",
                        hosts.names[host], "state", "update_available_resource",
                        vm_state=inst.vm_state, task_state=inst.task_state,
                        migration_status=m.status, instance_host=hosts.names[inst.host],
                        released=hosts.names[host])
