"""The datacenter network and storage of a scenario, and the disk copies over them.

``build_graph`` turns the scenario into a topology: in the simple form each host's
NIC links it to its rack's switch (named after the rack) and each rack switch links
to ``core`` at ``network.uplink_gbps`` (hosts with no rack hang off ``core``); with
``network.leaf_spine`` every rack switch links to every spine instead; the general
form is the list ``network.links``.

``DiskCopier`` moves an instance's disks from the source to the destination one after
another, in the domain's order (root, ephemeral, swap, config drive), each as one
flow through the route's links and the two hosts' disks, capped by the transport's
per-stream limit. Nothing crosses the network for a same-host resize or between hosts
that share instance storage. With ``network.model: none`` each copy runs at the rate
it would have alone on an idle network (the foundation's model).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Generator, NamedTuple, Sequence

import networkx as nx
import simpy

from models.objects import Flavor, Instance
from models.request import Request
from simulator.engine.bandwidth import BandwidthModel
from simulator.engine.recorder import TableStream
from simulator.engine.stats import utilisation_bins
from simulator.engine.topology import NoRoute, Topology


class CopyStalled(Exception):
    """A copy's route stayed down longer than copy.stall_timeout (TCP gave up)."""


class _Copy:
    """One disk file's copy in flight: it may be rerouted or stall when links go down."""

    __slots__ = ("key", "src", "dst", "extra", "remaining", "done", "route", "finished", "token")

    def __init__(self, key: str, src: str, dst: str, extra: list, remaining: float, finished: simpy.Event):
        self.key, self.src, self.dst, self.extra = key, src, dst, extra
        self.remaining = remaining
        self.done: simpy.Event | None = None
        self.route: Any = None
        self.finished = finished
        self.token: object | None = None

GIB = 2 ** 30
MIB = 2 ** 20
CORE = "core"

class FlowRow(NamedTuple):
    """A row of flows.csv: one disk file copied (or the part of it a failure left)."""

    flow: int
    request: int
    instance: str
    disk: str
    source: str
    dest: str
    bytes: int
    start: float
    end: float
    mean_mibps: float | None
    transport: str
    route: str


def gbps_to_bytes(gbps: float | None) -> float | None:
    return None if gbps is None else gbps * 1e9 / 8


def build_graph(hosts: Sequence[Any], net: Any) -> nx.Graph:
    """The network of ``hosts`` (the expanded host specs) and the scenario's
    ``network`` section, as a graph with capacities in bytes/s on its edges."""
    g = nx.Graph()
    for h in hosts:
        g.add_node(h.name, kind="host")
    if net.links is not None:
        for link in net.links:
            g.add_edge(link.a, link.b, bytes_per_s=gbps_to_bytes(link.gbps), latency=link.latency)
        return g
    racks: dict[str, list[Any]] = {}
    for h in hosts:
        if h.rack is None:
            g.add_edge(h.name, CORE, bytes_per_s=gbps_to_bytes(h.nic_gbps), latency=net.latency)
        else:
            racks.setdefault(h.rack, []).append(h)
            g.add_edge(h.name, h.rack, bytes_per_s=gbps_to_bytes(h.nic_gbps), latency=net.latency)
    if net.leaf_spine is not None:
        ls = net.leaf_spine
        for rack, members in racks.items():
            if ls.spine_gbps is not None:
                gbps = ls.spine_gbps
            else:
                gbps = sum(h.nic_gbps for h in members) / (ls.oversubscription * ls.spines)
            for s in range(1, ls.spines + 1):
                g.add_edge(rack, f"spine{s}", bytes_per_s=gbps_to_bytes(gbps), latency=net.latency)
        if any(h.rack is None for h in hosts):
            for s in range(1, ls.spines + 1):
                g.add_edge(CORE, f"spine{s}", bytes_per_s=None, latency=net.latency)
    else:
        for rack in racks:
            g.add_edge(rack, CORE, bytes_per_s=gbps_to_bytes(net.uplink_gbps), latency=net.latency)
    return g


@dataclass(frozen=True)
class Disk:
    """One of an instance's disk files to copy."""

    name: str
    bytes: float


def disks_to_copy(inst: Instance, old: Flavor, new: Flavor) -> list[Disk]:
    """The files ``migrate_disk_and_power_off`` copies, in the domain's order: the root
    disk's allocated size, the ephemeral disk's, the swap (Kilo copies it unless the
    new flavor changes its size) and the config drive."""
    disks = [Disk("disk", inst.disk_used_gb * GIB)]
    if old.ephemeral_gb and inst.ephemeral_used_gb:
        disks.append(Disk("disk.local", inst.ephemeral_used_gb * GIB))
    if old.swap_mb and new.swap_mb == old.swap_mb:
        disks.append(Disk("disk.swap", old.swap_mb * MIB))
    if inst.config_drive_mb:
        disks.append(Disk("disk.config", inst.config_drive_mb * MIB))
    return [d for d in disks if d.bytes > 0]


class DiskCopier:
    """Copies disks between hosts over the topology (max-min) or alone (none)."""

    def __init__(self, env: simpy.Environment, hosts: Sequence[Any], network: Any, copy: Any, rows: TableStream):
        self.env = env
        #: ``maxmin`` or ``none`` (network.model)
        self.model = network.model
        self.shared = network.model == "maxmin"
        self.bandwidth = BandwidthModel(env, keep_series=True)
        self.topology = Topology(build_graph(hosts, network), self.bandwidth)
        self.host_names = [h.name for h in hosts]
        self.storage = [h.storage for h in hosts]
        self.read_bps = [None if h.disk_read_mibps is None else h.disk_read_mibps * MIB for h in hosts]
        self.write_bps = [None if h.disk_write_mibps is None else h.disk_write_mibps * MIB for h in hosts]
        self.transport = copy.transport
        self.stream_bps = None if copy.stream_mibps is None else copy.stream_mibps * MIB
        self.compression = copy.compression or 1.0
        #: flows.csv
        self.rows = rows
        self._flows = 0
        self.bytes_copied = 0.0
        self.stall_timeout = copy.stall_timeout
        self._moving: set[_Copy] = set()
        self._stalled: set[_Copy] = set()

    def shares_storage(self, source: int, dest: int) -> bool:
        s = self.storage[source]
        return s != "local" and s == self.storage[dest]

    def copy(self, req: Request, inst: Instance, source: int, dest: int, old: Flavor,
             new: Flavor, fail_at: float | None = None) -> Generator[simpy.Event, Any, float]:
        """Copy the instance's disks one after another; return the seconds it took.
        With ``fail_at`` (a fraction of the bytes), the copy stops there (it failed)."""
        start = self.env.now
        if source == dest or self.shares_storage(source, dest):
            return 0.0
        src, dst = self.host_names[source], self.host_names[dest]
        disks = disks_to_copy(inst, old, new)
        if fail_at is not None:  # copy until the failure: the disks before it, part of one
            stop = fail_at * sum(d.bytes for d in disks)
            cut = []
            for d in disks:
                if stop <= 0:
                    break
                cut.append(Disk(d.name, min(d.bytes, stop)))
                stop -= d.bytes
            disks = cut
        for disk in disks:
            self._flows += 1
            flow_id = self._flows
            self.bytes_copied += disk.bytes
            key = f"{req.request}:{inst.name}:{disk.name}:{flow_id}"
            wire = disk.bytes / self.compression
            extra = []  # the two disks, each read or written `compression` bytes per wire byte
            for bps, host in ((self.read_bps[source], f"{src}.disk.read"), (self.write_bps[dest], f"{dst}.disk.write")):
                if bps is not None:
                    extra.append((self.bandwidth.resource(host, bps), self.compression))
            t0 = self.env.now
            if self.shared:
                c = _Copy(key, src, dst, extra, wire, self.env.event())
                self._start(c)
                try:
                    yield c.finished
                except (simpy.Interrupt, CopyStalled):  # the process died, or TCP gave up
                    moved = (wire - self._stop(c)) * self.compression
                    self.rows.add(FlowRow(flow_id, req.request, inst.name, disk.name, src, dst, int(moved),
                                          round(t0, 6), round(self.env.now, 6), None, self.transport,
                                          c.route.describe() if c.route else ""))
                    raise
                route = c.route
            else:
                route = self.topology.route(src, dst, key)
                uses = [(r, 1.0) for r in route.links] + extra
                yield self.env.timeout(route.latency + wire / self._alone_rate(uses))
            t1 = self.env.now
            mibps = disk.bytes / MIB / (t1 - t0 - route.latency) if t1 - t0 > route.latency else 0.0
            self.rows.add(FlowRow(flow_id, req.request, inst.name, disk.name, src, dst, int(disk.bytes),
                                  round(t0, 6), round(t1, 6), round(mibps, 3), self.transport, route.describe()))
        return self.env.now - start

    def summary(self, now: float, top: int = 20, bins: int = 50) -> dict[str, Any]:
        """summary.json's ``network``: flows copied, and the busiest links and disks:
        mean and peak utilisation, and the mean utilisation in each of ``bins`` equal
        slices of the run."""
        res = [r for r in self.bandwidth.resources.values() if r.bytes > 0 or r.load > 0]
        res.sort(key=lambda r: (-r.utilisation(now), r.name))
        return {
            "model": self.model,
            "flows": self._flows,
            "gib_copied": round(self.bytes_copied / 2 ** 30, 6),
            "recomputes": self.bandwidth.recomputes,
            "links": {r.name: {"capacity_gbps": round(r.capacity * 8 / 1e9, 6),
                               "mean_utilisation": round(r.utilisation(now), 6),
                               "peak_utilisation": round(r.peak / r.capacity, 6),
                               "gib": round(r.bytes / 2 ** 30, 6),
                               "utilisation_over_time": utilisation_bins(r.series, now, bins)} for r in res[:top]},
            "bin_seconds": round(now / bins, 6),
        }

    # -- links going down and up -----------------------------------------------------------
    def _start(self, c: _Copy) -> None:
        """Move what is left of a copy over a route that is up, or stall it."""
        try:
            route = self.topology.route(c.src, c.dst, c.key)
        except NoRoute:
            self._stall(c)
            return
        c.route = route
        uses = [(r, 1.0) for r in route.links] + c.extra
        c.done = self.bandwidth.transfer(c.remaining, uses, cap=self.stream_bps, latency=route.latency)
        c.done.callbacks.append(lambda ev, c=c, done=c.done: self._moved(c, done))
        self._moving.add(c)

    def _moved(self, c: _Copy, done: simpy.Event) -> None:
        if c.done is done and not c.finished.triggered:
            self._moving.discard(c)
            c.remaining = 0.0
            c.finished.succeed()

    def _stall(self, c: _Copy) -> None:
        c.done = None
        token = c.token = object()
        self._stalled.add(c)

        def give_up(_ev: simpy.Event) -> None:
            if c in self._stalled and c.token is token:
                self._stalled.discard(c)
                c.finished.defused = True
                c.finished.fail(CopyStalled(f"copy stalled more than {self.stall_timeout:g} s: "
                                            f"no route from {c.src} to {c.dst}"))
        self.env.timeout(self.stall_timeout).callbacks.append(give_up)

    def _stop(self, c: _Copy) -> float:
        """Take a copy out of the network (its process died or gave up); return what
        it still had to move."""
        self._stalled.discard(c)
        if c in self._moving:
            self._moving.discard(c)
            c.remaining -= self.bandwidth.abort(c.done)
        c.done = None
        return max(0.0, c.remaining)

    def stalled(self) -> bool:
        """Whether a copy waits for a link to come back."""
        return bool(self._stalled)

    def set_link(self, a: str, b: str, up: bool) -> None:
        """A link goes down (copies across it reroute, or stall) or comes back (stalled
        copies go on)."""
        self.topology.set_link(a, b, up)
        if up:
            for c in sorted(self._stalled, key=lambda c: c.key):
                try:
                    self.topology.route(c.src, c.dst, c.key)
                except NoRoute:
                    continue  # still cut off: it gives up when it would have
                self._stalled.discard(c)
                c.token = None
                self._start(c)
            return
        edge = {a, b}
        for c in sorted(self._moving, key=lambda c: c.key):
            if c.route is not None and any({u, v} == edge for u, v in zip(c.route.nodes, c.route.nodes[1:])):
                self._moving.discard(c)
                c.remaining -= self.bandwidth.abort(c.done)
                self._start(c)

    def _alone_rate(self, uses: list[tuple[Any, float]]) -> float:
        """The rate a flow would get alone: its tightest capacity."""
        rates = [r.capacity / w for r, w in uses]
        if self.stream_bps is not None:
            rates.append(self.stream_bps)
        if not rates:
            raise ValueError("a copy crosses no link with a capacity")
        return min(rates)
