"""Flow-level bandwidth sharing: max-min fairness over shared capacities.

A *resource* is a capacity in bytes per second (one direction of a link, a host's
disk read or write throughput, one flow's own cap). A *flow* moves a number of bytes
through a set of resources; it may use a resource with a weight (bytes of that
resource per byte of the flow, as a compressed copy reads more from disk than it
sends on the wire). Rates are max-min fair (SimGrid's flow model, without its TCP
corrections): no flow can go faster without slowing a flow that is no faster.

Rates are computed by progressive filling with a heap over resources: the resource
whose fair share is smallest saturates first, its flows freeze at that share, and
the shares of the resources they also cross are updated. Shares only grow as flows
freeze, so each resource is popped at most once per update.

Rates change only when a flow starts or ends, and only for the flows connected to it
through shared resources (its component); those flows' finish times are moved. A
route's latency is paid once, before the flow starts moving bytes.
"""
from __future__ import annotations

import heapq
import itertools
import math
from typing import Any, Iterable, Iterator

import simpy

#: a flow whose remaining bytes fall below this is done (float rounding)
EPS_BYTES = 1e-6


class Resource:
    """A capacity shared max-min fairly by the flows that use it."""

    __slots__ = ("name", "capacity", "flows", "load", "area", "last", "peak", "series", "bytes", "demand")

    def __init__(self, name: str, capacity: float, now: float = 0.0, keep_series: bool = False):
        if not capacity > 0:
            raise ValueError(f"resource {name!r} needs a capacity > 0")
        self.name = name
        self.capacity = float(capacity)
        self.flows: dict["Flow", float] = {}
        self.load = 0.0          # bytes/s in use now
        self.area = 0.0          # ∫ load dt
        self.last = now
        self.peak = 0.0
        self.bytes = 0.0
        #: Σ weight × (the most each flow could get anywhere): at most the capacity
        #: means the resource can never be a bottleneck ("slack")
        self.demand = 0.0
        self.series: list[tuple[float, float]] | None = [] if keep_series else None

    @property
    def slack(self) -> bool:
        """No sharing of its flows could fill it: it limits no one and couples no one."""
        return self.demand <= self.capacity * (1 + 1e-9)

    def _set_load(self, now: float, load: float) -> None:
        self.area += self.load * (now - self.last)
        self.last = now
        if abs(load - self.load) > 1e-9 * self.capacity:
            self.load = load
            if load > self.peak:
                self.peak = load
            if self.series is not None:
                self.series.append((now, load / self.capacity))

    def utilisation(self, now: float) -> float:
        """Mean fraction of the capacity used from 0 to ``now``."""
        area = self.area + self.load * (now - self.last)
        return area / (self.capacity * now) if now > 0 else 0.0


class Flow:
    """Bytes moving through resources; ``done`` succeeds when the last byte arrives."""

    __slots__ = ("id", "size", "moved", "rate", "uses", "last", "version", "done", "started",
                 "tag", "finished", "bound")

    def __init__(self, id: int, size: float, uses: dict[Resource, float], done: simpy.Event, tag: Any):
        self.id = id
        self.size = float(size)
        self.moved = 0.0
        self.rate = 0.0
        self.uses = uses
        self.last = 0.0
        self.version = 0
        self.done = done
        self.started: float | None = None
        self.finished: float | None = None
        self.tag = tag
        #: the most this flow could move alone: its tightest resource
        self.bound = min(r.capacity / w for r, w in uses.items()) if uses else math.inf

    @property
    def remaining(self) -> float:
        return self.size - self.moved

    def __hash__(self) -> int:
        return self.id

    def __eq__(self, other: object) -> bool:
        return self is other


class BandwidthModel:
    """Runs flows over resources in a SimPy environment, max-min fairly."""

    def __init__(self, env: simpy.Environment, keep_series: bool = False):
        self.env = env
        self.keep_series = keep_series
        self.resources: dict[str, Resource] = {}
        self._ids = itertools.count(1)
        self.active: set[Flow] = set()
        self.recomputes = 0
        self.recomputed_flows = 0
        # finish times of the active flows, one SimPy timer for the earliest: a rate
        # change pushes a new entry (the old one goes stale) instead of a new event
        self._due: list[tuple[float, int, Flow, int]] = []
        self._seq = itertools.count()
        self._wake_at = math.inf
        self._by_event: dict[simpy.Event, Flow] = {}

    def resource(self, name: str, capacity: float) -> Resource:
        """The resource called ``name``, created with ``capacity`` on first use."""
        r = self.resources.get(name)
        if r is None:
            r = self.resources[name] = Resource(name, capacity, self.env.now, self.keep_series)
        return r

    def transfer(self, size: float, uses: Iterable[tuple[Resource, float]], *, cap: float | None = None,
                 latency: float = 0.0, tag: Any = None) -> simpy.Event:
        """Start moving ``size`` bytes through ``uses`` ((resource, weight) pairs),
        at most ``cap`` bytes/s; the returned event's value is the ``Flow``."""
        done = self.env.event()
        uses_map: dict[Resource, float] = {}
        for r, w in uses:
            uses_map[r] = uses_map.get(r, 0.0) + w
        if cap is not None:
            uses_map[Resource(f"cap#{id(done)}", cap)] = 1.0
        if not uses_map:
            raise ValueError("a flow must cross at least one finite resource or have a cap")
        flow = Flow(next(self._ids), size, uses_map, done, tag)
        self._by_event[done] = flow
        if size <= EPS_BYTES:
            flow.started = flow.finished = self.env.now
            done.succeed(flow)
            return done
        if latency > 0:
            self.env.timeout(latency).callbacks.append(lambda _ev: self._start(flow))
        else:
            self._start(flow)
        return done

    # -- internals ---------------------------------------------------------------------
    def abort(self, done: simpy.Event) -> float:
        """Stop a flow where it is (its process is gone); return the bytes it moved.
        Its rates' component is updated; its event never fires."""
        flow = self._by_event.pop(done, None)
        if flow is None or flow.finished is not None:
            return 0.0
        now = self.env.now
        flow.finished = now
        flow.version += 1  # its finish entry goes stale
        if flow.started is None:  # still in its latency: it never started
            return 0.0
        flow.moved += flow.rate * (now - flow.last)
        self.active.discard(flow)
        for r, w in flow.uses.items():
            r.bytes += flow.moved * w
            r.demand -= w * flow.bound
            del r.flows[flow]
            if not r.flows:
                r._set_load(now, 0.0)
        self._update(self._component(flow.uses))
        self._arm()
        return flow.moved

    def _start(self, flow: Flow) -> None:
        if flow.finished is not None:  # aborted during its latency
            return
        now = self.env.now
        flow.started = now
        flow.last = now
        self.active.add(flow)
        for r, w in flow.uses.items():
            r.flows[flow] = w
            r.demand += w * flow.bound
        self._update(self._component(flow.uses))
        self._arm()

    def _wake(self, at: float, _ev: simpy.Event) -> None:
        """The earliest finish time has come: end every flow due now, then update the
        rates of what they touched once."""
        if at != self._wake_at:
            return  # a newer timer was armed for an earlier time
        self._wake_at = math.inf
        now = self.env.now
        ended: list[tuple[float, int, Flow]] = []
        while self._due:
            t, _, f, version = self._due[0]
            if version != f.version or f.finished is not None:
                heapq.heappop(self._due)
                continue
            if t > now + 1e-9 * max(1.0, now):
                break
            heapq.heappop(self._due)
            ended.append((t, f.id, f))
        # flows due at the same time end in the order they were made, whatever order
        # their finish times were pushed in
        ended.sort(key=lambda e: (e[0], e[1]))
        touched: dict[Resource, None] = {}  # (a dict: its order is the same in every run)
        for _, _, f in ended:
            f.moved = f.size
            f.finished = now
            self.active.discard(f)
            for r, w in f.uses.items():
                r.bytes += f.size * w
                r.demand -= w * f.bound
                del r.flows[f]
                touched[r] = None
        for r in touched:
            if not r.flows:
                r._set_load(now, 0.0)
        self._update(self._component(touched))
        for _, _, f in ended:
            self._by_event.pop(f.done, None)
            f.done.succeed(f)
        self._arm()

    def _arm(self) -> None:
        """Make sure a timer wakes the model at the earliest current finish time."""
        due = self._due
        while due and (due[0][3] != due[0][2].version or due[0][2].finished is not None):
            heapq.heappop(due)
        if not due:
            return
        t = due[0][0]
        if t < self._wake_at:
            self._wake_at = t
            self.env.timeout(max(0.0, t - self.env.now)).callbacks.append(
                lambda ev, at=t: self._wake(at, ev))

    @staticmethod
    def _component(start: Iterable[Resource]) -> tuple[dict[Flow, None], dict[Resource, None]]:
        """The flows whose rates may change when ``start``'s flows change: those
        connected to it through resources that can be bottlenecks. A slack resource
        limits none of its flows, so it couples none of them (its load is still
        updated). Both come in the order they were reached, never in a set's order
        (which follows memory addresses): the same in every run, to the last bit."""
        first = dict.fromkeys(start)
        resources: dict[Resource, None] = {}
        flows: dict[Flow, None] = {}
        stack = list(first)
        while stack:
            r = stack.pop()
            if r in resources:
                continue
            resources[r] = None
            if r not in first and r.slack:
                continue
            for f in r.flows:
                if f not in flows:
                    flows[f] = None
                    stack.extend(x for x in f.uses if x not in resources)
        return flows, resources

    def _update(self, comp: tuple[dict[Flow, None], dict[Resource, None]]) -> None:
        flows, resources = comp
        if not flows:
            return
        now = self.env.now
        self.recomputes += 1
        self.recomputed_flows += len(flows)
        for f in flows:  # bytes moved at the old rates
            f.moved += f.rate * (now - f.last)
            f.last = now
        rates = max_min_rates(flows, resources)
        push = heapq.heappush
        for f in flows:
            new = rates[f]
            if f.rate != new or f.version == 0:
                f.rate = new
                f.version += 1
                if new > 0:
                    push(self._due, (now + max(0.0, f.remaining) / new, next(self._seq), f, f.version))
        for r in resources:
            r._set_load(now, sum(f.rate * w for f, w in r.flows.items()))


_Filling = tuple[dict[Resource, float], dict[Resource, float], list[tuple[float, int, Any]], Iterator[int]]


def _start_filling(flows: Iterable[Flow], resources: Iterable[Resource]) -> _Filling:
    """Progressive filling's start: each resource that can be a bottleneck with its
    capacity, its flows' total weight and its fair share on a heap; each flow with a
    private cap (a slack resource) on the heap at that cap."""
    remaining: dict[Resource, float] = {}
    weight: dict[Resource, float] = {}
    heap: list[tuple[float, int, Any]] = []
    tie = itertools.count()
    for r in resources:
        if r.slack:
            continue
        w = sum(r.flows.values())
        if w <= 0:
            continue
        remaining[r] = r.capacity
        weight[r] = w
        heap.append((r.capacity / w, next(tie), r))
    for f in flows:
        cap = min((r.capacity / w for r, w in f.uses.items() if r not in weight), default=math.inf)
        if cap < math.inf:
            heap.append((cap, next(tie), f))
    heapq.heapify(heap)
    return remaining, weight, heap, tie


def max_min_rates(flows: Iterable[Flow], resources: Iterable[Resource]) -> dict[Flow, float]:
    """Weighted max-min fair rates of ``flows`` (progressive filling).

    Resources that can be bottlenecks fill in order of their fair share; a slack
    resource acts on each of its flows as a private cap (its capacity / weight).
    """
    remaining, weight, heap, tie = _start_filling(flows, resources)
    rates: dict[Flow, float] = {}

    def freeze(f: Flow, rate: float, at: Any) -> None:
        # the shares of f's other resources can only grow: their heap entries stay
        # lower bounds, corrected when popped
        rates[f] = rate
        for other, wo in f.uses.items():
            if other is at:
                continue
            w = weight.get(other)
            if w is None:
                continue
            remaining[other] -= wo * rate
            if w - wo > 1e-12:
                weight[other] = w - wo
            else:
                del weight[other]

    while heap:
        share, _, item = heapq.heappop(heap)
        if isinstance(item, Flow):
            if item not in rates:
                freeze(item, share, None)
            continue
        r = item
        w = weight.get(r)
        if w is None or w <= 1e-12:
            continue
        current = remaining[r] / w
        if current > share * (1 + 1e-12) + 1e-12:  # stale entry: its share grew
            heapq.heappush(heap, (current, next(tie), r))
            continue
        share = max(0.0, current)
        del weight[r]
        for f in r.flows:
            if f not in rates:
                freeze(f, share, r)
    for f in flows:
        rates.setdefault(f, 0.0)
    return rates
