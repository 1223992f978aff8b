"""nova-scheduler's FilterScheduler: filter the hosts, weigh the rest, pick the best.

``select_hosts`` is the decision, vectorised over all hosts: each filter returns a
boolean mask (or None: it passes every host), each weigher an array of raw values
that is normalised over the candidates, multiplied and summed, as Nova's weights
module does. A request costs a few numpy operations per filter, whatever the number
of hosts. ``SchedulerView`` is one scheduler worker's cached host state.

Filters and weighers are named as in Nova and chosen by the scenario
(``nova.scheduler_default_filters``, ``nova.scheduler_weight_classes``); the
defaults are Kilo's (or modern Nova's with ``nova.release: modern``).

In modern mode the resource filters are replaced by placement: a host must have room
for the new flavor's vCPUs, RAM and disk (with the allocation ratios), and the
scheduler claims the allocation as it picks, so two schedulings cannot both take the
last room; it also returns alternates for the conductor to try if a claim fails.
"""
from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Callable, NamedTuple, Sequence

import numpy as np

from models.exceptions import NoValidHost
from models.hosts import HostTable
from models.objects import Flavor
from models.release import KILO
from models.request_spec import RequestSpec


class FilterVerdict(NamedTuple):
    """One filter's verdict on a request: how many hosts went in and came out."""

    name: str
    hosts_in: int
    hosts_out: int


@dataclass
class Selection:
    """The scheduler's answer and its reasons."""

    host: int
    weight: float
    weights: dict[str, float]
    filters: list[FilterVerdict]
    best: list[tuple[int, float]]
    #: modern mode: other hosts that passed, best first, for the conductor to try
    alternates: list[int] = field(default_factory=list)
    #: per filter, the hosts it removed (only when asked for, see ``explain``)
    removed: dict[str, list[int]] = field(default_factory=dict)
    #: per best host, its weight from each weigher (only when asked for)
    best_weights: list[dict[str, float]] = field(default_factory=list)


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
        self.pending_vcpus = np.zeros(n, dtype=np.int64)
        self.pending_disk_gb = np.zeros(n, dtype=np.int64)
        self.pending_io_ops = np.zeros(n, dtype=np.int64)
        self.consumed_at = np.zeros(n, dtype=float)
        #: hosts with picks still counted (few: the cost of a refresh follows them)
        self._pending: set[int] = set()

    def refresh(self, now: float) -> None:
        """Take the database's records for hosts written since this worker's picks."""
        if not self._pending:
            return
        hosts = self.hosts
        idx = np.fromiter(self._pending, dtype=np.int64, count=len(self._pending))
        since = self.consumed_at[idx]
        stale = idx[(hosts.written_at[idx] > since) | hosts.audited_since(since, now, idx)]
        if len(stale):
            for a in (self.pending_ram_mb, self.pending_vcpus, self.pending_disk_gb, self.pending_io_ops):
                a[stale] = 0
            self._pending.difference_update(stale.tolist())

    def consume(self, host: int, flavor: Flavor | None, now: float) -> None:
        """Count a pick (HostState.consume_from_instance); with no flavor only the I/O
        operation (modern Nova, where placement already holds the resources)."""
        if flavor is not None:
            self.pending_ram_mb[host] += flavor.ram_mb
            self.pending_vcpus[host] += flavor.vcpus
            self.pending_disk_gb[host] += flavor.disk_gb
        self.pending_io_ops[host] += 1
        self.consumed_at[host] = now
        self._pending.add(host)

    def free_ram_mb(self) -> np.ndarray:
        return self.hosts.free_ram_mb() - self.pending_ram_mb

    def used_vcpus(self) -> np.ndarray:
        return self.hosts.used_vcpus + self.pending_vcpus

    def free_disk_gb(self) -> np.ndarray:
        return self.hosts.free_disk_gb() - self.pending_disk_gb

    def io_ops(self) -> np.ndarray:
        return self.hosts.io_ops + self.pending_io_ops


# -- filters -----------------------------------------------------------------------------

class _Ctx:
    """What filters and weighers read: the hosts, the worker's view, the request."""

    __slots__ = ("hosts", "view", "spec", "n", "_cache")

    def __init__(self, view: SchedulerView, spec: RequestSpec):
        self.hosts = view.hosts
        self.view = view
        self.spec = spec
        self.n = len(view.hosts)
        self._cache: dict[str, np.ndarray] = {}

    def free_ram_mb(self) -> np.ndarray:
        """The worker's view of free RAM, computed once per request."""
        v = self._cache.get("ram")
        if v is None:
            v = self._cache["ram"] = self.view.free_ram_mb()
        return v

    def member(self, hosts: Sequence[int]) -> np.ndarray:
        m = np.zeros(self.n, dtype=bool)
        if hosts:
            m[list(hosts)] = True
        return m


FilterFn = Callable[[_Ctx], "np.ndarray | None"]


def _retry(c: _Ctx) -> np.ndarray | None:
    return ~c.member(c.spec.retry_hosts) if c.spec.retry_hosts else None


def _zone(c: _Ctx) -> np.ndarray | None:
    z = c.spec.zone
    if z is None:
        return None
    zid = c.hosts.zone_id.get(z)
    return c.hosts.zone_of == zid if zid is not None else np.zeros(c.n, dtype=bool)


def _ram(c: _Ctx) -> np.ndarray:
    # usable = total × ratio − used, where used = total − free (reserved included)
    h = c.hosts
    usable = h.ram_limit_mb - (h.ram_mb - c.free_ram_mb())
    return usable >= c.spec.flavor.ram_mb


def _core(c: _Ctx) -> np.ndarray:
    return c.hosts.vcpu_limit - c.view.used_vcpus() >= c.spec.flavor.vcpus


def _disk(c: _Ctx) -> np.ndarray:
    h = c.hosts
    f = c.spec.flavor
    usable = h.disk_limit_gb - (h.disk_gb - c.view.free_disk_gb())
    return usable >= f.disk_gb + f.swap_mb / 1024.0


def _compute(c: _Ctx) -> np.ndarray:
    return c.hosts.up & c.hosts.enabled


def _anti_affinity(c: _Ctx) -> np.ndarray | None:
    if c.spec.group_policy != "anti-affinity" or not c.spec.group_hosts:
        return None
    return ~c.member(c.spec.group_hosts)


def _affinity(c: _Ctx) -> np.ndarray | None:
    if c.spec.group_policy != "affinity" or not c.spec.group_hosts:
        return None
    return c.member(c.spec.group_hosts)


def _same_host(c: _Ctx) -> np.ndarray | None:
    return c.member(c.spec.same_host) if c.spec.same_host else None


def _different_host(c: _Ctx) -> np.ndarray | None:
    return ~c.member(c.spec.different_host) if c.spec.different_host else None


def _passes_all(c: _Ctx) -> None:
    """Extra specs, image properties: nothing in a scenario restricts them."""
    return None


#: filters by Nova's class name
FILTERS: dict[str, FilterFn] = {
    "RetryFilter": _retry,
    "AvailabilityZoneFilter": _zone,
    "RamFilter": _ram,
    "CoreFilter": _core,
    "DiskFilter": _disk,
    "ComputeFilter": _compute,
    "ComputeCapabilitiesFilter": _passes_all,
    "ImagePropertiesFilter": _passes_all,
    "ServerGroupAntiAffinityFilter": _anti_affinity,
    "ServerGroupAffinityFilter": _affinity,
    "SameHostFilter": _same_host,
    "DifferentHostFilter": _different_host,
}

#: the resource each filter sets a claim limit for (Kilo's ``filter_properties['limits']``)
FILTER_LIMITS = {"RamFilter": "ram", "CoreFilter": "vcpu", "DiskFilter": "disk"}


# -- weighers ----------------------------------------------------------------------------

#: weighers by Nova's class name: (raw value per host, minval, multiplier option)
WEIGHERS: dict[str, tuple[Callable[[_Ctx], np.ndarray] | None, float | None, str]] = {
    "RAMWeigher": (lambda c: c.free_ram_mb(), 0.0, "ram_weight_multiplier"),
    "CPUWeigher": (lambda c: (c.hosts.vcpu_limit - c.view.used_vcpus()).astype(float), 0.0,
                   "cpu_weight_multiplier"),
    "DiskWeigher": (lambda c: c.view.free_disk_gb().astype(float) * 1024.0, 0.0, "disk_weight_multiplier"),
    "IoOpsWeigher": (lambda c: c.view.io_ops().astype(float), None, "io_ops_weight_multiplier"),
    # no metrics are configured (weight_setting is empty): every host weighs 0
    "MetricsWeigher": (None, None, "weight_multiplier"),
}


def _normalize(values: np.ndarray, minval: float | None = None) -> np.ndarray:
    """Nova's weights.normalize: (x − min) / (max − min) over the candidates, with a
    weigher's fixed ``minval`` when it has one; all equal → 0."""
    lo = values.min() if minval is None else minval
    hi = values.max()
    if hi == lo:
        return np.zeros_like(values, dtype=float)
    return (values - lo) / float(hi - lo)


@dataclass
class SchedulerConfig:
    """The scheduler options of one run."""

    filters: tuple[str, ...] = KILO.defaults["scheduler_default_filters"]
    weighers: tuple[str, ...] = KILO.defaults["scheduler_weight_classes"]
    multipliers: dict[str, float] = field(default_factory=lambda: {
        "ram_weight_multiplier": 1.0, "cpu_weight_multiplier": 1.0, "disk_weight_multiplier": 1.0,
        "io_ops_weight_multiplier": -1.0, "weight_multiplier": 1.0})
    host_subset_size: int = 1
    #: modern Nova: placement checks vCPU, RAM and disk before the filters
    placement: bool = False
    alternates: int = 0

    @property
    def claim_tests(self) -> tuple[str, ...]:
        """The resources a Kilo resize claim tests: those whose filter is enabled."""
        if self.placement:
            return ()
        return tuple(FILTER_LIMITS[f] for f in self.filters if f in FILTER_LIMITS)

    @property
    def limited(self) -> tuple[str, ...]:
        """The resources whose limit (total × allocation ratio) the claims respect:
        placement's three, or the Kilo claim's tests."""
        return ("ram", "vcpu", "disk") if self.placement else self.claim_tests


def _best(total: np.ndarray, k: int) -> np.ndarray:
    """Indices of the ``k`` largest values, best first, ties to the lower index
    (a stable descending sort, in O(n))."""
    n = len(total)
    if k == 1:
        return np.array([int(np.argmax(total))])
    if k >= n:
        return np.lexsort((np.arange(n), -total))
    v = np.partition(total, n - k)[n - k]
    above = np.flatnonzero(total > v)
    equal = np.flatnonzero(total == v)[: k - len(above)]
    pick = np.concatenate([above, equal])
    return pick[np.lexsort((pick, -total[pick]))]


def _filter_hosts(ctx: _Ctx, cfg: SchedulerConfig,
                  explain: bool) -> tuple[np.ndarray, list[FilterVerdict], dict[str, list[int]]]:
    """The hosts that pass every filter (a mask), each filter's verdict and, with
    ``explain``, the hosts each removed; NoValidHost when a filter leaves none."""
    spec, hosts, n = ctx.spec, ctx.hosts, ctx.n
    mask = np.ones(n, dtype=bool)
    if spec.ignore_hosts:
        mask[spec.ignore_hosts] = False
    if spec.force_hosts:
        mask &= ctx.member(spec.force_hosts)
    verdicts = [FilterVerdict("ignore_hosts/force_hosts", n, int(np.count_nonzero(mask)))]
    removed: dict[str, list[int]] = {}
    if explain:
        removed["ignore_hosts/force_hosts"] = np.flatnonzero(~mask).tolist()

    def apply(name: str, passes: np.ndarray | None) -> bool:
        before = verdicts[-1].hosts_out
        if passes is not None:
            if explain:
                removed[name] = np.flatnonzero(mask & ~passes).tolist()
            np.logical_and(mask, passes, out=mask)
            after = int(np.count_nonzero(mask))
        else:
            after = before
        verdicts.append(FilterVerdict(name, before, after))
        return after > 0

    ok = verdicts[0].hosts_out > 0
    if ok and cfg.placement:
        f = spec.flavor
        room = ((hosts.ram_limit_mb - hosts.reserved_ram_mb - hosts.used_ram_mb >= f.ram_mb)
                & (hosts.vcpu_limit - hosts.used_vcpus >= f.vcpus)
                & (hosts.disk_limit_gb - hosts.reserved_disk_gb - hosts.used_disk_gb >= f.disk_gb))
        ok = apply("placement", room)
    for name in cfg.filters:
        if not ok:
            break
        ok = apply(name, FILTERS[name](ctx))
    if not ok:
        raise NoValidHost(filters=verdicts, removed=removed)
    return mask, verdicts, removed


def _weigh(ctx: _Ctx, candidates: np.ndarray, cfg: SchedulerConfig) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """Each weigher's weights of the candidates (multiplier × normalised value) and
    their total."""
    parts: dict[str, np.ndarray] = {}
    total = np.zeros(len(candidates))
    for name in cfg.weighers:
        value_fn, minval, option = WEIGHERS[name]
        if value_fn is None:  # weighs every host 0
            parts[name] = np.zeros(len(candidates))
            continue
        w = cfg.multipliers.get(option, 1.0) * _normalize(value_fn(ctx)[candidates].astype(float), minval)
        parts[name] = w
        total += w
    return parts, total


def select_hosts(view: SchedulerView, spec: RequestSpec, config: SchedulerConfig | None = None,
                 *, rng: random.Random | None = None, best_n: int = 1,
                 explain: bool = False) -> Selection:
    """Filter and weigh every host for one request; raise NoValidHost if none passes."""
    cfg = config or SchedulerConfig()
    ctx = _Ctx(view, spec)
    mask, verdicts, removed = _filter_hosts(ctx, cfg, explain)
    candidates = np.flatnonzero(mask)
    parts, total = _weigh(ctx, candidates, cfg)
    if explain:
        best_n = max(best_n, 5)
    k = max(cfg.host_subset_size, best_n, 1 + cfg.alternates)
    order = _best(total, min(k, len(candidates)))
    subset = order[: cfg.host_subset_size]
    pick = int(subset[0]) if len(subset) == 1 or rng is None else int(rng.choice(list(subset)))
    host = int(candidates[pick])
    alternates = [int(candidates[i]) for i in order if int(i) != pick][: cfg.alternates]
    best = [(int(candidates[i]), float(total[i])) for i in order[:best_n]]
    sel = Selection(host=host, weight=float(total[pick]),
                    weights={name: float(w[pick]) for name, w in parts.items()},
                    filters=verdicts, best=best, alternates=alternates)
    if explain:
        sel.removed = removed
        sel.best_weights = [{name: float(w[i]) for name, w in parts.items()} for i in order[:best_n]]
    return sel


@dataclass(frozen=True)
class SchedulingRecord:
    """One scheduling of a request, in full (for ``explain`` and ``step``): which
    attempt, on which scheduler worker, when; each filter's verdict and the hosts it
    removed; the selection (None: NoValidHost)."""

    attempt: int
    worker: int
    t: float
    filters: list[FilterVerdict]
    selection: Selection | None
    removed: dict[str, list[int]]
