#!/usr/bin/env python3
"""Scale benchmark: 1,000 hosts and 10,000 requests (and 1,000 requests for the
per-request cost), writing every output but the plots.

    python benchmarks/bench_scale.py                  # both sizes, a table
    python benchmarks/bench_scale.py --requests 10000 # one size (for farm-bench)
    python benchmarks/bench_scale.py --faults          # with recurring faults on every host

Prints wall time, events per second, wall per request and peak memory (max RSS) of
each run. Not a test: timings depend on the machine.
"""
from __future__ import annotations

import argparse
import resource
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import simulator  # noqa: E402


def faults_of(hosts: str) -> list[dict]:
    """--faults: every compute crashes about every 2 h for 5 min, the conductor goes
    down about every 10 min for 90 s, 1 % of copies fail."""
    return [{"kind": "compute_crash", "host": hosts, "rate": "1/2h", "restart_after": 300},
            {"kind": "service_down", "service": "conductor", "rate": "1/10min", "for": 90},
            {"kind": "copy_fail", "probability": 0.01}]


def scenario(hosts: int, requests: int, rate: float, with_faults: bool = False) -> dict:
    """A cloud of ``hosts`` hosts in racks of 50, with one instance per request
    target pool, under a Poisson mix of resizes (70 %) and migrations (30 %)."""
    width = len(str(hosts))
    racks = max(1, hosts // 50)
    per = hosts // racks
    host_entries = [
        {"name": f"cmp[{r * per + 1:0{width}d}-{(r + 1) * per:0{width}d}]", "rack": f"r{r + 1}",
         "vcpus": 64, "ram_mb": 262144, "disk_gb": 4000, "nic_gbps": 10}
        for r in range(racks)]
    resizes = requests * 7 // 10
    return {
        "name": f"scale-{hosts}h-{requests}r",
        "seed": 1,
        "services": {
            "api": {"workers": 16, "service_time": {"dist": "lognormal", "mean": 0.05, "sd": 0.02}},
            "conductor": {"workers": 16, "service_time": {"dist": "exponential", "mean": 0.03}},
            "scheduler": {"workers": 4, "service_time": {"dist": "exponential", "mean": 0.08}},
            "compute": {"workers": 64, "service_time": {"dist": "exponential", "mean": 0.02}},
        },
        "bus": {"latency": {"dist": "exponential", "mean": 0.002}},
        "hosts": host_entries,
        "faults": faults_of(f"cmp[{1:0{width}d}-{hosts:0{width}d}]") if with_faults else [],
        "flavors": {"m1.small": {"vcpus": 1, "ram_mb": 2048, "root_gb": 20},
                    "m1.medium": {"vcpus": 2, "ram_mb": 4096, "root_gb": 40},
                    "m1.large": {"vcpus": 4, "ram_mb": 8192, "root_gb": 80}},
        "instances": [{"count": max(requests, hosts * 10), "flavor": "m1.small", "disk_used_gb": 10}],
        "guest": {"shutdown": {"dist": "uniform", "low": 5, "high": 30}, "boot": {"dist": "uniform", "low": 10, "high": 40}},
        "workload": [
            {"op": "resize", "flavor": "m1.medium", "count": resizes,
             "arrival": {"process": "poisson", "rate": rate * 0.7}, "confirm_after": 60},
            {"op": "migrate", "count": requests - resizes,
             "arrival": {"process": "poisson", "rate": rate * 0.3}, "confirm_after": 60},
        ],
    }


def one(hosts: int, requests: int, rate: float, faults: bool = False) -> dict:
    with tempfile.TemporaryDirectory() as out:
        t0 = time.perf_counter()
        result = simulator.run(scenario(hosts, requests, rate, faults), out=out, plots=False)
        wall = time.perf_counter() - t0
        trace_mb = (Path(out) / "trace.jsonl").stat().st_size / 2**20
    s = result.summary
    return {"hosts": hosts, "requests": requests, "wall": wall, "events": s["events"],
            "events_per_s": s["events"] / wall, "ms_per_request": 1000 * wall / requests,
            "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
            "sim_time": s["sim_time"], "trace_mb": trace_mb,
            "by_status": {k: v for k, v in s["requests"]["by_status"].items() if v}}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--hosts", type=int, default=1000)
    p.add_argument("--requests", type=int, nargs="*", default=[1000, 10000])
    p.add_argument("--rate", type=float, default=5.0, help="arrivals per second (all ops)")
    p.add_argument("--faults", action="store_true", help="add recurring crashes, outages and copy failures")
    a = p.parse_args()
    for n in a.requests:
        r = one(a.hosts, n, a.rate, a.faults)
        print(f"{r['hosts']} hosts, {r['requests']} requests: wall {r['wall']:.2f} s, "
              f"{r['events']:,} events ({r['events_per_s']:,.0f}/s), "
              f"{r['ms_per_request']:.3f} ms/request, peak RSS {r['peak_rss_mb']:.0f} MiB, "
              f"trace {r['trace_mb']:.0f} MiB, simulated {r['sim_time']:,.0f} s, {r['by_status']}",
              flush=True)


if __name__ == "__main__":
    main()
