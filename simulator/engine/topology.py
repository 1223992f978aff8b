"""A network topology whose links are capacities of the bandwidth model.

The topology is an undirected networkx graph of hosts and switches; each edge has a
capacity (``bytes_per_s``, or None for a link that never limits) and a ``latency``.
Links are full duplex: each direction is its own resource with the full capacity.
A flow's route is a shortest path (by hops); among equal paths each flow takes one
chosen by a stable hash of the flow's key, as ECMP does. Shortest-path predecessors
are computed once per source and kept, so routing many flows costs little.
"""
from __future__ import annotations

import zlib
from dataclasses import dataclass

import networkx as nx

from simulator.engine.bandwidth import BandwidthModel, Resource


class NoRoute(Exception):
    """Two nodes of the topology are not connected."""


@dataclass(frozen=True)
class Route:
    """The path a flow takes: its nodes, the link resources it crosses, its latency."""

    nodes: tuple[str, ...]
    links: tuple[Resource, ...]
    latency: float

    def describe(self) -> str:
        return ">".join(self.nodes)


class Topology:
    """Routes between the nodes of a graph, with a resource per link direction."""

    def __init__(self, graph: nx.Graph, bandwidth: BandwidthModel):
        self.graph = graph
        self.bandwidth = bandwidth
        self._preds: dict[str, dict[str, list[str]]] = {}
        self._paths: dict[tuple[str, str], list[tuple[str, ...]]] = {}
        self._links: dict[tuple[str, str], Resource | None] = {}
        #: links that are down (both directions), and the graph routes see
        self.down: set[frozenset[str]] = set()
        self.view: nx.Graph = graph

    def set_link(self, a: str, b: str, up: bool) -> None:
        """Take a link down or bring it back; routes are computed afresh."""
        edge = frozenset((a, b))
        if up:
            self.down.discard(edge)
        else:
            self.down.add(edge)
        self.view = nx.restricted_view(self.graph, [], [tuple(e) for e in self.down]) if self.down else self.graph
        self._preds.clear()
        self._paths.clear()

    def unreachable(self, nodes: list[str]) -> list[str]:
        """The nodes of ``nodes`` not connected to the first one."""
        if not nodes:
            return []
        reach = nx.node_connected_component(self.graph, nodes[0])
        return [n for n in nodes if n not in reach]

    def link(self, u: str, v: str) -> Resource | None:
        """The resource of the direction u → v of a link (None: it never limits)."""
        key = (u, v)
        if key not in self._links:
            bps = self.graph.edges[u, v].get("bytes_per_s")
            self._links[key] = None if bps is None else self.bandwidth.resource(f"{u}->{v}", bps)
        return self._links[key]

    def paths(self, src: str, dst: str) -> list[tuple[str, ...]]:
        """Every shortest path from ``src`` to ``dst``, in a stable order."""
        key = (src, dst)
        paths = self._paths.get(key)
        if (paths is None and src != dst and self.view.degree(src) == 1
                and self.graph.nodes[src].get("kind") == "host"):
            # a host with one link (its NIC): every path leaves through its switch, so
            # the switch's shortest-path tree serves all the hosts behind it
            (via,) = self.view.neighbors(src)
            if via != dst and self.graph.nodes[via].get("kind") != "host":
                paths = [(src,) + p for p in self.paths(via, dst) if src not in p]
                if paths:
                    self._paths[key] = paths
                    return paths
                paths = None
        if paths is None:
            preds = self._preds.get(src)
            if preds is None:
                preds = self._preds[src] = nx.predecessor(self.view, src)
            if dst not in preds:
                raise NoRoute(f"no route from {src} to {dst}")
            paths = []

            def back(node: str, tail: tuple[str, ...]) -> None:
                if node == src:
                    paths.append((src,) + tail)
                    return
                for p in sorted(preds[node]):
                    back(p, (node,) + tail)

            back(dst, ())
            self._paths[key] = paths
        return paths

    def route(self, src: str, dst: str, flow_key: str) -> Route:
        """The route of one flow: among equal shortest paths, the one its key hashes to."""
        paths = self.paths(src, dst)
        path = paths[zlib.crc32(flow_key.encode()) % len(paths)] if len(paths) > 1 else paths[0]
        links = []
        latency = 0.0
        for u, v in zip(path, path[1:]):
            r = self.link(u, v)
            if r is not None:
                links.append(r)
            latency += self.graph.edges[u, v].get("latency", 0.0)
        return Route(path, tuple(links), latency)
