"""``run_sim.py check``: validate a scenario (schema, names, initial placement) and
print a one-screen summary of it. Runs nothing."""
from __future__ import annotations

from collections import Counter

from models.build import Sinks, build
from models.scenario import load_scenario
from simulator.commands.sweep import load_sweep
from simulator.engine.environment import Environment
from simulator.engine.random_streams import RandomStreams
from simulator.engine.yamlio import load_yaml


def check(path: str) -> int:
    """Validate a scenario (or a sweep file) and print a one-screen summary; 0 if valid."""
    data, _ = load_yaml(path)
    if isinstance(data, dict) and "sweep" in data:  # a sweep file: check it as one
        sweep = load_sweep(path)
        print(f"{path}: valid sweep of {sweep.base_path}")
        print(f"  points      {len(sweep.points)} ({sweep.mode} of "
              + ", ".join(f"{k} × {len(v)}" for k, v in sweep.vary.items()) + ")")
        print(f"  runs        {len(sweep.points) * sweep.replications} ({sweep.replications} replications, seed {sweep.seed})")
        print(f"  metrics     {', '.join(sweep.metrics)}")
        return 0
    loaded = load_scenario(path)
    m = loaded.model
    cloud = build(loaded, Environment(), RandomStreams(m.seed), Sinks.in_memory())
    racks = Counter(h.rack or "-" for h in loaded.hosts)
    hosts = cloud.hosts
    ram_total = int(hosts.ram_mb.sum())
    ram_used = int(hosts.used_ram_mb.sum())
    flavors = Counter(i.flavor for i in loaded.instances)
    print(f"{path}: valid")
    print(f"  name        {m.name}" + (f" ({m.description})" if m.description else ""))
    print(f"  seed        {m.seed}")
    print(f"  hosts       {len(loaded.hosts)} in {len(racks)} rack(s): "
          + ", ".join(f"{r} {n}" for r, n in racks.items()))
    print(f"  capacity    {int(hosts.vcpus.sum())} vCPUs, {ram_total // 1024} GiB RAM "
          f"({ram_used / ram_total:.0%} used after placement), {int(hosts.disk_gb.sum())} GiB disk")
    print("  flavors     " + ", ".join(f"{n} ({f.vcpus} vCPU, {f.ram_mb} MB, {f.root_gb} GB)"
                                        for n, f in m.flavors.items()))
    print(f"  instances   {len(loaded.instances)}: " + ", ".join(f"{n} {k}" for k, n in flavors.items()))
    for i, w in enumerate(m.workload):
        when = f"at t={w.at:g} s" if w.at is not None else (
            f"Poisson {w.arrival.rate:g}/s" if w.arrival.process == "poisson"
            else f"every {w.arrival.interval:g} s")
        what = f"resize to {w.flavor}" if w.op == "resize" else "migrate" + (f" to {w.host}" if w.host else "")
        conf = "" if w.confirm_after is None else ", confirmed after a delay"
        print(f"  workload[{i}] {w.count} × {what}, {when}{conf}")
    svc = m.services
    print(f"  services    api {svc.api.workers}, conductor {svc.conductor.workers}, "
          f"scheduler {svc.scheduler.workers} workers; compute {svc.compute.workers} threads per host")
    n = m.nova
    print(f"  nova        rpc_response_timeout {n.rpc_response_timeout:g} s, "
          f"resize_confirm_window {n.resize_confirm_window:g} s, max_attempts {n.max_attempts}, "
          f"ram_allocation_ratio {n.ram_allocation_ratio:g}")
    return 0
