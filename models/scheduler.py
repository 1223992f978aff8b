"""nova-scheduler's FilterScheduler: filter the hosts, weigh the rest, pick the best.

``select_hosts`` is the decision, vectorised over all hosts; ``SchedulerView`` is one
scheduler worker's cached host state. Each worker counts its own picks (as Nova's
``HostState.consume_from_instance`` does) until the destination's claim makes them
visible to everyone; it never sees another worker's picks before that, so two workers
can send two requests to the same last-fitting host and the claim decides.

Filters run in Kilo's default order. Of Kilo's default list, the ones with an effect
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
    #: the worker's view that counted this pick, until the destination claims it
    pick: object = None


class SchedulerView:
    """One scheduler worker's in-memory host state: the table minus its own picks."""

    def __init__(self, hosts: HostTable, worker: int):
        self.hosts = hosts
        self.worker = worker
        n = len(hosts)
        self.pending_ram_mb = np.zeros(n, dtype=np.int64)
        self.pending_vcpus = np.zeros(n, dtype=np.int64)
        self.pending_disk_gb = np.zeros(n, dtype=np.int64)

    def consume(self, host: int, flavor: Flavor) -> None:
        """Count a pick until the destination has claimed it (or given it up)."""
        self.pending_ram_mb[host] += flavor.ram_mb
        self.pending_vcpus[host] += flavor.vcpus
        self.pending_disk_gb[host] += flavor.disk_gb

    def forget(self, host: int, flavor: Flavor) -> None:
        self.pending_ram_mb[host] -= flavor.ram_mb
        self.pending_vcpus[host] -= flavor.vcpus
        self.pending_disk_gb[host] -= flavor.disk_gb

    def free_ram_mb(self) -> np.ndarray:
        return self.hosts.free_ram_mb() - self.pending_ram_mb


def _normalize(values: np.ndarray) -> np.ndarray:
    """Nova's weights.normalize: scale to 0..1 over the candidates; all equal → 0."""
    lo, hi = values.min(), values.max()
    if hi == lo:
        return np.zeros_like(values, dtype=float)
    return (values - lo) / float(hi - lo)


def select_hosts(view: SchedulerView, spec: RequestSpec, *, host_subset_size: int = 1,
                 ram_weight_multiplier: float = 1.0, rng: random.Random | None = None,
                 best_n: int = 3) -> Selection:
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
    ram_w = ram_weight_multiplier * _normalize(free_ram[candidates].astype(float))
    total = ram_w
    if host_subset_size == 1 and best_n <= 1:
        order = np.array([int(np.argmax(total))])
    else:
        order = np.argsort(-total, kind="stable")
    subset = order[:host_subset_size]
    pick = int(subset[0]) if len(subset) == 1 or rng is None else int(rng.choice(list(subset)))
    host = int(candidates[pick])
    best = [(int(candidates[i]), float(total[i])) for i in order[:best_n]]
    return Selection(host=host, weight=float(total[pick]),
                     weights={"RAMWeigher": float(ram_w[pick])}, filters=verdicts, best=best)
