"""Which nova-compute services the scheduler sees up (the servicegroup database driver).

Each nova-compute reports every ``report_interval`` (its first report 5 s after it
starts), and the scheduler's ``ComputeFilter`` counts a host down once its last report
is older than ``service_down_time``. A report is a call to nova-conductor (Kilo's
``conductor_api.service_update``; modern Nova's ``Service.save`` through the
conductor's object indirection), so it gets through only while both the compute and
the conductor run: a down conductor makes every compute look down a minute later.
Reports sent while the conductor is down wait in its queue and are handled when it
restarts, which brings their hosts back at once, even one whose compute has crashed
since it sent its report. While RabbitMQ is down the reports cannot be sent at all;
each compute's blocked report goes through when the broker is back (one whose
compute crashed meanwhile is gone with it).

Reports are not simulated one by one: each host's last report is computed from its
report times when the scheduler asks, which costs nothing until a fault strikes.
"""
from __future__ import annotations

from typing import Any

import numpy as np

#: the first report of a nova-compute comes this long after it starts
FIRST_REPORT = 5.0


class Liveness:
    """The report times of every nova-compute, and what ``ComputeFilter`` makes of them."""

    def __init__(self, hosts: Any, report_interval: float, service_down_time: float):
        self.hosts = hosts
        self.interval = report_interval
        self.down_time = service_down_time
        n = len(hosts)
        #: the scenario's own ``up`` (a host declared down stays down)
        self.declared = hosts.up.copy()
        #: the first report of the nova-compute running now (inf: it is not running)
        self.phase = np.full(n, FIRST_REPORT)
        #: the latest report known handled before the current run of reports (0: the
        #: service record's creation)
        self.floor = np.zeros(n)
        #: what stops the reports now: "conductor", "broker"
        self.blocked_by: set[str] = set()
        self.blocked_at = 0.0
        #: a crashed compute's report waits in the down conductor's queue
        self.queued = np.zeros(n, dtype=bool)
        #: nothing has stopped a report yet: every host is as declared
        self.quiet = True

    def _ticks(self, idx: Any, t: float) -> np.ndarray:
        """The last report the hosts ``idx`` have sent by ``t`` (-inf: none since start)."""
        phase = self.phase[idx]
        with np.errstate(invalid="ignore"):
            k = np.floor((t - phase) / self.interval)
            return np.where(t >= phase, phase + k * self.interval, -np.inf)

    def last_report(self, now: float) -> np.ndarray:
        """When each host's last handled report was, as the database has it at ``now``."""
        if self.blocked_by:
            return self.floor.copy()
        return np.maximum(self.floor, self._ticks(slice(None), now))

    def refresh(self, now: float) -> None:
        """Bring ``hosts.up`` to what ``ComputeFilter`` sees at ``now``."""
        if not self.quiet:
            self.hosts.up[:] = self.declared & (now - self.last_report(now) <= self.down_time)

    def seen_up(self, host: int, now: float) -> bool:
        """Whether Nova's servicegroup API counts ``host``'s nova-compute up at ``now``."""
        self.refresh(now)
        return bool(self.hosts.up[host])

    def will_report(self, host: int) -> bool:
        """Whether ``host``'s reports will get through with nothing else changing (its
        compute runs, the conductor is up, it is not declared down)."""
        return bool(self.declared[host]) and self.phase[host] < np.inf and not self.blocked_by

    # -- what happens -----------------------------------------------------------------
    def compute_stopped(self, host: int, now: float) -> None:
        self.quiet = False
        sent = self._ticks([host], now)[0]
        if not self.blocked_by:
            self.floor[host] = max(self.floor[host], sent)
        elif sent >= self.blocked_at and "broker" not in self.blocked_by:
            self.queued[host] = True  # in the conductor's queue (a held one dies with it)
        self.phase[host] = np.inf

    def compute_started(self, host: int, now: float) -> None:
        self.phase[host] = now + FIRST_REPORT

    def reports_stopped(self, cause: str, now: float) -> None:
        """The conductor (or the broker) stops: no report gets through from now."""
        self.quiet = False
        if not self.blocked_by:
            self.floor = np.maximum(self.floor, self._ticks(slice(None), now))
            self.blocked_at = now
        self.blocked_by.add(cause)

    def reports_started(self, cause: str, now: float) -> None:
        """It is back: once nothing else stops them, the reports sent or held while
        they were stopped are handled now."""
        self.blocked_by.discard(cause)
        if self.blocked_by:
            return
        sent = (self._ticks(slice(None), now) >= self.blocked_at) | self.queued
        self.floor[sent] = now
        self.queued[:] = False
