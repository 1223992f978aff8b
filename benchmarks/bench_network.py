#!/usr/bin/env python3
"""Network model benchmarks.

1. Recompute cost: on a leaf-spine of 1,000 hosts (25 leaves of 40, 4 spines, 3:1
   oversubscription), start N concurrent flows between random hosts, then time the
   update that one more flow starting causes (and one ending), at N = 10, 100, 1,000.
2. A full scenario of 1,000 hosts (20 racks of 50) and 10,000 resizes and migrations
   with ``network.model: none`` and with the max-min model on three networks: rack
   uplinks that never limit, a 3:1 leaf-spine, and 40 Gbit/s rack uplinks that
   saturate (every flow then shares a few links, the costliest case); the ratios.

    python benchmarks/bench_network.py [--skip-scenario]

Not a test: timings depend on the machine.
"""
from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import simpy  # noqa: E402

import simulator  # noqa: E402
from benchmarks.bench_scale import scenario as scale_scenario  # noqa: E402
from models.network import build_graph  # noqa: E402
from simulator.engine.bandwidth import BandwidthModel  # noqa: E402
from simulator.engine.topology import Topology  # noqa: E402
from models.scenario import load_scenario  # noqa: E402


def leaf_spine(hosts: int = 1000, per_leaf: int = 40, spines: int = 4) -> dict:
    leaves = hosts // per_leaf
    return {"hosts": [{"name": f"h{l:02d}-[01-{per_leaf}]", "rack": f"leaf{l:02d}", "vcpus": 8, "ram_mb": 8192,
                       "disk_gb": 100, "nic_gbps": 25} for l in range(leaves)],
            "flavors": {"f": {"vcpus": 1, "ram_mb": 512, "root_gb": 1}},
            "network": {"leaf_spine": {"spines": spines, "oversubscription": 3}}}


def recompute_cost(n: int, repeats: int = 30) -> tuple[float, float, float]:
    """Median seconds of the update one flow start causes, with n flows running;
    and the mean number of flows recomputed per update."""
    loaded = load_scenario(leaf_spine())
    env = simpy.Environment()
    bw = BandwidthModel(env)
    topo = Topology(build_graph(loaded.hosts, loaded.model.network), bw)
    names = [h.name for h in loaded.hosts]
    rng = random.Random(n)

    def start(i: int) -> None:
        a, b = rng.sample(names, 2)
        route = topo.route(a, b, f"f{i}")
        bw.transfer(1e15, [(r, 1.0) for r in route.links])

    for i in range(n):
        start(i)
    times = []
    flows0 = bw.recomputed_flows
    for k in range(repeats):
        t0 = time.perf_counter()
        start(n + k)
        times.append(time.perf_counter() - t0)
    per = (bw.recomputed_flows - flows0) / repeats
    return statistics.median(times), max(times), per


NETWORKS = {
    "none": {"model": "none"},
    "racks, uplinks unlimited": {"model": "maxmin"},
    "leaf-spine 3:1": {"model": "maxmin", "leaf_spine": {"spines": 4, "oversubscription": 3}},
    "racks, 40G uplinks (saturated)": {"model": "maxmin", "uplink_gbps": 40},
}


def scenario_wall(network: dict) -> tuple[float, int]:
    sc = scale_scenario(1000, 10000, 5.0)
    sc["network"] = network
    with tempfile.TemporaryDirectory() as out:
        t0 = time.perf_counter()
        r = simulator.run(sc, out=out, plots=False)
        return time.perf_counter() - t0, r.summary["network"]["recomputes"]


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--skip-scenario", action="store_true")
    a = p.parse_args()
    for n in (10, 100, 1000):
        med, worst, per = recompute_cost(n)
        print(f"{n:>5} concurrent flows: one start costs {med * 1e3:.2f} ms median "
              f"({worst * 1e3:.2f} max), recomputing {per:.0f} flows", flush=True)
    if not a.skip_scenario:
        base = None
        for name, net in NETWORKS.items():
            wall, rc = scenario_wall(net)
            base = base or wall
            print(f"1000 hosts, 10000 requests, {name}: {wall:.2f} s wall, {rc} rate updates, "
                  f"{wall / base:.2f} × network.model none", flush=True)


if __name__ == "__main__":
    main()
