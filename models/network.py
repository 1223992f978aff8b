"""The datacenter network and storage of a scenario, and the disk copies over them.

``build_graph`` turns the scenario into a topology: in the simple form each host's
NIC links it to its rack's switch (named after the rack) and each rack switch links
to ``core`` at ``network.uplink_gbps`` (hosts with no rack hang off ``core``); with
``network.leaf_spine`` every rack switch links to every spine instead; the general
form is the list ``network.links``.

``DiskCopier`` runs the disk work of a move (``models.disks``): each piece one flow,
one after another. A copy between hosts crosses the route's links (in wire bytes) and
the two hosts' disks or storage pools; a local ``cp`` or ``qemu-img convert`` uses one
host's disk or pool; a base image fetched from Glance crosses the links from the
``glance`` node and is written to the destination's storage. Each flow has its
stream's own limit (cipher, zlib, local copy, Glance). The cache of base images is
kept per host, or per shared pool. With ``network.model: none`` each flow runs at the
rate it would have alone on an idle network (the foundation's model).
"""
from __future__ import annotations

from dataclasses import replace
from typing import Any, Generator, Mapping, NamedTuple, Sequence

import networkx as nx
import simpy

from models.disks import Work
from models.image_cache import ImageCache
from models.request import Request
from simulator.engine.bandwidth import BandwidthModel
from simulator.engine.recorder import TableStream
from simulator.engine.stats import utilisation_bins
from simulator.engine.topology import NoRoute, Topology


class CopyStalled(Exception):
    """A copy's route stayed down longer than copy.stall_timeout (TCP gave up)."""


class _Copy:
    """One stream in flight (a disk copied, converted or fetched): a network one may be
    rerouted or stall when links go down."""

    __slots__ = ("key", "src", "dst", "extra", "remaining", "done", "route", "finished", "token", "wire", "cap")

    def __init__(self, key: str, src: str, dst: str | None, extra: list, remaining: float,
                 finished: simpy.Event, wire: float, cap: float | None):
        self.key, self.src, self.dst, self.extra = key, src, dst, extra
        self.remaining = remaining
        self.done: simpy.Event | None = None
        self.route: Any = None
        self.finished = finished
        self.token: object | None = None
        #: network bytes per byte of the stream (``dst`` None: a local stream)
        self.wire = wire
        self.cap = cap

GIB = 2 ** 30
MIB = 2 ** 20
CORE = "core"
#: the image service's node on the topology
GLANCE = "glance"

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


class DiskCopier:
    """Runs the disk work of moves (``models.disks``) over the topology (max-min) or
    alone (none), and keeps each host's (or shared pool's) ``_base`` image cache."""

    def __init__(self, env: simpy.Environment, hosts: Sequence[Any], network: Any, copy: Any, rows: TableStream,
                 *, pools: Mapping[str, Any] | None = None, glance: Any = None, images_used: bool = False):
        self.env = env
        #: ``maxmin`` or ``none`` (network.model)
        self.model = network.model
        self.shared = network.model == "maxmin"
        self.bandwidth = BandwidthModel(env, keep_series=True)
        graph = build_graph(hosts, network)
        if images_used and glance is not None:
            graph.add_edge(GLANCE, glance.switch, bytes_per_s=gbps_to_bytes(glance.gbps), latency=0.0)
        self.topology = Topology(graph, self.bandwidth)
        self.host_names = [h.name for h in hosts]
        self.storage = [h.storage for h in hosts]
        self.read_bps = [None if h.disk_read_mibps is None else h.disk_read_mibps * MIB for h in hosts]
        self.write_bps = [None if h.disk_write_mibps is None else h.disk_write_mibps * MIB for h in hosts]
        self.pool_bps = {name: p.mibps * MIB for name, p in (pools or {}).items() if p.mibps is not None}
        self.stream_bps = _bps(copy.stream_mibps)
        self.cipher_bps = _bps(copy.cipher_mibps)
        self.compress_bps = _bps(copy.compress_mibps)
        self.zeros_bps = _bps(copy.compress_zeros_mibps)
        self.local_bps = _bps(copy.local_mibps)
        self.glance_bps = _bps(glance.stream_mibps) if glance is not None else None
        #: flows.csv
        self.rows = rows
        self._flows = 0
        self.bytes_copied = 0.0
        self.stall_timeout = copy.stall_timeout
        self._moving: set[_Copy] = set()
        self._stalled: set[_Copy] = set()
        #: each host's (or shared pool's) ``_base``
        self.images = ImageCache(env, self.host_names, self.storage)

    # -- where the disks are ---------------------------------------------------------
    def shares_storage(self, source: int, dest: int) -> bool:
        """The two hosts share instance storage (one file pool; not rbd, whose disks
        are not files)."""
        s = self.storage[source]
        return s not in ("local", "rbd") and s == self.storage[dest]

    def is_rbd(self, host: int) -> bool:
        return self.storage[host] == "rbd"

    # -- the work ---------------------------------------------------------------------
    def run(self, req: Request, inst: str, works: Sequence[Work], source: int, dest: int,
            fail_at: float | None = None) -> Generator[simpy.Event, Any, float]:
        """Run ``works`` one after another (local ones on ``source``); return the
        seconds they took. With ``fail_at`` (a fraction of their bytes), they stop
        there (the copy failed)."""
        start = self.env.now
        if fail_at is not None:  # the work until the failure: the pieces before it, part of one
            stop = fail_at * sum(w.bytes for w in works)
            cut = []
            for w in works:
                if stop <= 0:
                    break
                cut.append(replace(w, bytes=min(w.bytes, stop)))
                stop -= w.bytes
            works = cut
        for w in works:
            if w.kind == "fetch":
                yield from self._stream(req, inst, w, GLANCE, dest)
            elif w.kind == "copy":
                yield from self._stream(req, inst, w, source, dest)
            else:
                yield from self._stream(req, inst, w, source, None)
        return self.env.now - start

    def ensure_base(self, req: Request, inst: str, host: int, works: Sequence[Work], image: str
                    ) -> Generator[simpy.Event, Any, tuple[float, bool]]:
        """The destination's ``_base`` gets ``image`` (``works``: the fetch and the
        convert) unless it holds it; returns (seconds, whether this move fetched it)."""
        t0 = self.env.now

        def fetch() -> Generator[simpy.Event, Any, None]:
            for w in works:
                yield from self._stream(req, inst, w, GLANCE if w.kind == "fetch" else host,
                                        host if w.kind == "fetch" else None)
        fetched = yield from self.images.fill(host, image, fetch)
        return self.env.now - t0, fetched

    def _storage(self, host: int, read: float, write: float) -> list[tuple[Any, float]]:
        """The resources a stream uses on ``host``'s storage, per byte it reads: its
        pool's throughput (reads and writes alike), or its disk's read and write."""
        s = self.storage[host]
        if s in self.pool_bps:
            w = read + write
            return [(self.bandwidth.resource(f"pool.{s}", self.pool_bps[s]), w)] if w > 0 else []
        name = self.host_names[host]
        uses = []
        if read > 0 and self.read_bps[host] is not None:
            uses.append((self.bandwidth.resource(f"{name}.disk.read", self.read_bps[host]), read))
        if write > 0 and self.write_bps[host] is not None:
            uses.append((self.bandwidth.resource(f"{name}.disk.write", self.write_bps[host]), write))
        return uses

    def _stream(self, req: Request, inst: str, w: Work, source: int | str, dest: int | None
                ) -> Generator[simpy.Event, Any, None]:
        """One stream: over the network from ``source`` (a host, or ``glance``) to
        ``dest``, or local on ``source`` (``dest`` None)."""
        self._flows += 1
        flow_id = self._flows
        if w.kind in ("copy", "cp"):
            self.bytes_copied += w.bytes
        net = dest is not None
        if isinstance(source, str):  # from Glance: only the destination's storage
            src, extra = source, self._storage(dest, 0.0, w.write)
        else:
            src = self.host_names[source]
            extra = self._storage(source, w.read, 0.0 if net else w.write)
            if net:
                extra += self._storage(dest, 0.0, w.write)
        dst = self.host_names[dest] if net else None
        if w.kind == "fetch":
            cap = self.glance_bps
        elif w.kind == "copy":
            cap = self.stream_bps or (self._compress_cap(w) if w.compressed else self.cipher_bps)
        else:
            cap = self.local_bps
        key = f"{req.request}:{inst}:{w.disk}:{flow_id}"
        c = _Copy(key, src, dst, extra, w.bytes, self.env.event(), w.wire, cap)
        t0 = self.env.now
        if self.shared:
            self._start(c)
            try:
                yield c.finished
            except (simpy.Interrupt, CopyStalled):  # the process died, or TCP gave up
                moved = w.bytes - self._stop(c)
                self.rows.add(FlowRow(flow_id, req.request, inst, w.disk, src, dst or src, int(moved),
                                      round(t0, 6), round(self.env.now, 6), None, w.transport, _where(c)))
                raise
        else:
            c.route = self.topology.route(src, dst, key) if net else None
            latency = c.route.latency if net else 0.0
            yield self.env.timeout(latency + w.bytes / _alone_rate(_uses(c), cap))
        latency = c.route.latency if c.route is not None else 0.0
        t1 = self.env.now
        mibps = w.bytes / MIB / (t1 - t0 - latency) if t1 - t0 > latency else 0.0
        self.rows.add(FlowRow(flow_id, req.request, inst, w.disk, src, dst or src, int(w.bytes),
                              round(t0, 6), round(t1, 6), round(mibps, 3), w.transport, _where(c)))

    def _compress_cap(self, w: Work) -> float | None:
        """A compressing stream's limit in bytes read: zlib's rate through the data,
        and its faster rate through the holes (``w.read`` of the bytes are data)."""
        c, z = self.compress_bps, self.zeros_bps
        if c is None or z is None or w.read >= 1.0:
            return c
        return 1.0 / (w.read / c + (1.0 - w.read) / z)

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
            "images": self.images.summary(),
            "links": {r.name: {"capacity_gbps": round(r.capacity * 8 / 1e9, 6),
                               "mean_utilisation": round(r.utilisation(now), 6),
                               "peak_utilisation": round(r.peak / r.capacity, 6),
                               "gib": round(r.bytes / 2 ** 30, 6),
                               "utilisation_over_time": utilisation_bins(r.series, now, bins)} for r in res[:top]},
            "bin_seconds": round(now / bins, 6),
        }

    # -- links going down and up -----------------------------------------------------------
    def _start(self, c: _Copy) -> None:
        """Move what is left of a stream (over a route that is up), or stall it."""
        latency = 0.0
        if c.dst is not None:
            try:
                c.route = self.topology.route(c.src, c.dst, c.key)
            except NoRoute:
                self._stall(c)
                return
            latency = c.route.latency
        c.done = self.bandwidth.transfer(c.remaining, _uses(c), cap=c.cap, latency=latency)
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



def _alone_rate(uses: list[tuple[Any, float]], cap: float | None) -> float:
    """The rate a stream would get alone: its tightest capacity."""
    rates = [r.capacity / w for r, w in uses]
    if cap is not None:
        rates.append(cap)
    if not rates:
        raise ValueError("a copy crosses no link with a capacity")
    return min(rates)


def _where(c: _Copy) -> str:
    """flows.csv's ``route``: the links crossed, or ``local`` for a stream on one host."""
    if c.dst is None:
        return "local"
    return c.route.describe() if c.route else ""


def _uses(c: _Copy) -> list[tuple[Any, float]]:
    """A stream's resources and its weight on each: the route's links (in wire bytes),
    the disks or pools."""
    links = [(r, c.wire) for r in c.route.links] if c.route is not None and c.wire > 0 else []
    return links + c.extra


def _bps(mibps: float | None) -> float | None:
    return None if mibps is None else mibps * MIB
