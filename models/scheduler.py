"""nova-scheduler's FilterScheduler: filter the hosts, weigh the rest, pick the best.

``select_hosts`` is the decision, vectorised over all hosts; ``SchedulerView`` is one
scheduler worker's cached host state. Each worker counts its own picks (as Nova's
``HostState.consume_from_instance`` does) until the destination's claim makes them
visible to everyone; it never sees another worker's picks before that, so two workers
can send two requests to the same last-fitting host and the claim decides.

Filters run in Kilo's default order, then Kilo's default weighers. Of Kilo's default list, the ones with an effect
on the clouds a scenario can describe today are ``RetryFilter``, ``RamFilter`` and
``ComputeFilter``; availability zones, image properties, capabilities and server
groups pass every host until the scenario can express them (see docs/assumptions.md).
"""
from __future__ import annotations

import random
from dataclasses import dataclass, field

import numpy as np

from models.hosts import HostTable
from models.objects import Flavor


class NoValidHost(Exception):
    """No host passed the filters (nova.exception.NoValidHost)."""

    def __init__(self, reason: str = "No valid host was found.", filters: list | None = None):
        super().__init__(reason)
        self.filters = filters or []


class MaxRetriesExceeded(NoValidHost):
    """The request was scheduled ``max_attempts`` times already."""


@dataclass
class RequestSpec:
    """What the conductor asks the scheduler for (request_spec + filter_properties)."""

    flavor: Flavor
    #: the instance's current flavor (request_spec's instance_properties)
    instance_flavor: Flavor | None = None
    ignore_hosts: list[int] = field(default_factory=list)
    force_hosts: list[int] = field(default_factory=list)
    retry_hosts: list[int] = field(default_factory=list)
    num_attempts: int = 1


@dataclass
class Selection:
    """The scheduler's answer and its reasons."""

    host: int
    weight: float
    weights: dict[str, float]
    filters: list[tuple[str, int, int]]
    best: list[tuple[int, float]]


class SchedulerView:
    """One scheduler worker's in-memory host state: the compute node records plus
    the picks this worker made since each record was last written.

    As in Kilo's HostManager, a pick is counted in the worker's own copy of the host
    (``consume_from_instance``, which counts the instance's own, i.e. old, flavor and
    one more I/O operation) and forgotten when the compute node record is written
    after it: by the destination's claim, a release, or the periodic resource audit.
    A failed claim writes nothing, so its pick stays counted until the next audit.
    """

    def __init__(self, hosts: HostTable, worker: int):
        self.hosts = hosts
        self.worker = worker
        n = len(hosts)
        self.pending_ram_mb = np.zeros(n, dtype=np.int64)
        self.pending_io_ops = np.zeros(n, dtype=np.int64)
        self.consumed_at = np.zeros(n, dtype=float)
        self._any = False

    def refresh(self, now: float) -> None:
        """Take the database's records for hosts written since this worker's picks."""
        if not self._any:
            return
        hosts = self.hosts
        stale = (hosts.written_at > self.consumed_at) | hosts.audited_since(self.consumed_at, now)
        stale &= self.pending_io_ops > 0
        if stale.any():
            self.pending_ram_mb[stale] = 0
            self.pending_io_ops[stale] = 0
            self._any = bool(self.pending_io_ops.any())

    def consume(self, host: int, flavor: Flavor, now: float) -> None:
        """Count a pick (HostState.consume_from_instance)."""
        self.pending_ram_mb[host] += flavor.ram_mb
        self.pending_io_ops[host] += 1
        self.consumed_at[host] = now
        self._any = True

    def free_ram_mb(self) -> np.ndarray:
        return self.hosts.free_ram_mb() - self.pending_ram_mb

    def io_ops(self) -> np.ndarray:
        return self.hosts.io_ops + self.pending_io_ops


def _normalize(values: np.ndarray, minval: float | None = None) -> np.ndarray:
    """Nova's weights.normalize: (x − min) / (max − min) over the candidates, with a
    weigher's fixed ``minval`` when it has one; all equal → 0."""
    lo = values.min() if minval is None else minval
    hi = values.max()
    if hi == lo:
        return np.zeros_like(values, dtype=float)
    return (values - lo) / float(hi - lo)


def select_hosts(view: SchedulerView, spec: RequestSpec, *, host_subset_size: int = 1,
                 ram_weight_multiplier: float = 1.0, io_ops_weight_multiplier: float = -1.0,
                 rng: random.Random | None = None, best_n: int = 3) -> Selection:
    """Filter and weigh every host for one request; raise NoValidHost if none passes."""
    hosts = view.hosts
    n = len(hosts)
    mask = np.ones(n, dtype=bool)
    if spec.ignore_hosts:
        mask[spec.ignore_hosts] = False
    if spec.force_hosts:
        forced = np.zeros(n, dtype=bool)
        forced[spec.force_hosts] = True
        mask &= forced
    verdicts: list[tuple[str, int, int]] = [("ignore_hosts/force_hosts", n, int(mask.sum()))]
    free_ram = view.free_ram_mb()

    def apply(name: str, passes: np.ndarray) -> bool:
        before = int(mask.sum())
        np.logical_and(mask, passes, out=mask)
        after = int(mask.sum())
        verdicts.append((name, before, after))
        return after > 0

    ok = verdicts[0][2] > 0
    if ok:
        retry = np.ones(n, dtype=bool)
        if spec.retry_hosts:
            retry[spec.retry_hosts] = False
        ok = apply("RetryFilter", retry)
    if ok:
        # usable = total × ratio − used, where used = total − free (reserved included)
        usable = hosts.ram_limit_mb - (hosts.ram_mb - free_ram)
        ok = apply("RamFilter", usable >= spec.flavor.ram_mb)
    if ok:
        ok = apply("ComputeFilter", hosts.up)
    if not ok:
        raise NoValidHost(filters=verdicts)

    candidates = np.flatnonzero(mask)
    # Kilo's all_weighers: RAMWeigher (minval 0), IoOpsWeigher; MetricsWeigher has no
    # metrics configured and weighs every host 0.
    ram_w = ram_weight_multiplier * _normalize(free_ram[candidates].astype(float), minval=0.0)
    io_w = io_ops_weight_multiplier * _normalize(view.io_ops()[candidates].astype(float))
    total = ram_w + io_w
    if host_subset_size == 1 and best_n <= 1:
        order = np.array([int(np.argmax(total))])
    else:
        order = np.argsort(-total, kind="stable")
    subset = order[:host_subset_size]
    pick = int(subset[0]) if len(subset) == 1 or rng is None else int(rng.choice(list(subset)))
    host = int(candidates[pick])
    best = [(int(candidates[i]), float(total[i])) for i in order[:best_n]]
    return Selection(host=host, weight=float(total[pick]),
                     weights={"RAMWeigher": float(ram_w[pick]), "IoOpsWeigher": float(io_w[pick])},
                     filters=verdicts, best=best)
