#!/usr/bin/env python3
"""Scheduling cost per request at 100, 1,000 and 10,000 hosts.

Each request runs the whole filter chain and the weighers over every host (Kilo's
defaults, then modern Nova's placement mode), and its pick is counted in the
worker's view and claimed, so usage changes between requests as in a run.

    python benchmarks/bench_scheduler.py [--hosts 100 1000 10000] [--requests 2000]

Prints the median and 90th percentile of the wall time per select_hosts call. Not a
test: timings depend on the machine.
"""
from __future__ import annotations

import argparse
import random
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from models.hosts import HostTable  # noqa: E402
from models.objects import Flavor  # noqa: E402
from models.scheduler import (KILO_FILTERS, KILO_WEIGHERS, MODERN_FILTERS, MODERN_WEIGHERS,  # noqa: E402
                              RequestSpec, SchedulerConfig, SchedulerView, select_hosts)

FLAVORS = [Flavor("small", 1, 2048, 20), Flavor("medium", 2, 4096, 40), Flavor("large", 4, 8192, 80)]


def bench(n_hosts: int, n_requests: int, modern: bool) -> list[float]:
    rng = random.Random(1)
    hosts = HostTable([f"h{i}" for i in range(n_hosts)], [None] * n_hosts, [64] * n_hosts,
                      [262144] * n_hosts, [4000] * n_hosts, [10.0] * n_hosts,
                      cpu_allocation_ratio=16.0, ram_allocation_ratio=1.5, disk_allocation_ratio=1.0,
                      reserved_host_memory_mb=512, reserved_host_disk_mb=0)
    for i in range(n_hosts):  # a cloud already half full, unevenly
        hosts.used_ram_mb[i] = rng.randrange(0, 131072, 2048)
        hosts.io_ops[i] = rng.randrange(0, 3)
    cfg = SchedulerConfig(filters=MODERN_FILTERS if modern else KILO_FILTERS,
                          weighers=MODERN_WEIGHERS if modern else KILO_WEIGHERS,
                          placement=modern, alternates=2 if modern else 0)
    view = SchedulerView(hosts, 0)
    times = []
    for k in range(n_requests):
        flavor = rng.choice(FLAVORS)
        spec = RequestSpec(flavor, instance_flavor=FLAVORS[0], ignore_hosts=[rng.randrange(n_hosts)])
        t0 = time.perf_counter()
        view.refresh(float(k))
        sel = select_hosts(view, spec, cfg, rng=rng)
        view.consume(sel.host, spec.instance_flavor, float(k))
        times.append(time.perf_counter() - t0)
        hosts.take(sel.host, flavor, float(k) + 0.5)
    return times


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--hosts", type=int, nargs="*", default=[100, 1000, 10000])
    p.add_argument("--requests", type=int, default=2000)
    a = p.parse_args()
    for modern in (False, True):
        for n in a.hosts:
            t = sorted(bench(n, a.requests, modern))
            print(f"{'modern' if modern else 'kilo  '} {n:>6} hosts: median {statistics.median(t) * 1e6:7.1f} µs, "
                  f"p90 {t[int(0.9 * len(t))] * 1e6:7.1f} µs per request ({a.requests} requests)", flush=True)


if __name__ == "__main__":
    main()
