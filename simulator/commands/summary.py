"""The run's summary: counts by final status, latency and phase statistics, and each
service's utilisation, mean wait and longest queue (summary.json)."""
from __future__ import annotations

from collections import Counter
from typing import Any

from models.build import Cloud
from models.hosts import over_limit
from models.request import PHASES
from models.states import MOVED, REQUEST_STATUSES
from simulator.engine.stats import stats
from simulator.engine.workers import WorkerPool


def _pools(cloud: Cloud) -> dict[str, list[WorkerPool]]:
    """Each service's worker pools (one per host for nova-compute)."""
    by_service: dict[str, list[WorkerPool]] = {}
    for svc in cloud.services():
        by_service.setdefault(svc.service, []).append(svc.pool)
    return by_service


def snapshot(cloud: Cloud, now: float) -> dict[str, tuple[float, float, int, float]]:
    """Each service's integrals at ``now``, to measure from there on (the warm-up cut)."""
    return {name: (sum(p.busy.integral(now) for p in pools), sum(p.queued.integral(now) for p in pools),
                   sum(p.waits.n for p in pools), sum(p.waits.total for p in pools))
            for name, pools in _pools(cloud).items()}


def service_stats(cloud: Cloud, now: float, since: float = 0.0,
                  start: dict[str, tuple[float, float, int, float]] | None = None) -> dict[str, Any]:
    out = {}
    span = now - since
    for name, pools in _pools(cloud).items():
        b0, q0, n0, w0 = (start or {}).get(name, (0.0, 0.0, 0, 0.0))
        workers = sum(p.workers for p in pools)
        busy = sum(p.busy.integral(now) for p in pools) - b0
        queued = sum(p.queued.integral(now) for p in pools) - q0
        n = sum(p.waits.n for p in pools) - n0
        out[name] = {
            "workers": workers,
            "handled": n,
            "utilisation": round(busy / (workers * span), 6) if span > 0 else 0.0,
            "mean_wait": round((sum(p.waits.total for p in pools) - w0) / n, 6) if n else 0.0,
            "max_wait": round(max(p.waits.max for p in pools), 6),
            "mean_queue": round(queued / span, 6) if span > 0 else 0.0,
            "max_queue": max(p.queued.max for p in pools),
        }
    writes, reads = cloud.conductor.objects_served
    out["nova-conductor"]["object_calls"] = {"writes": writes, "reads": reads}
    return out


def offered_per_hour(cloud: Cloud) -> float:
    """The workload's arrival rate in requests per hour (Poisson and periodic entries)."""
    rate = 0.0
    for e in cloud.loaded.model.workload:
        if e.arrival is not None:
            rate += e.arrival.rate if e.arrival.process == "poisson" else 1.0 / e.arrival.interval
    return rate * 3600.0


def fault_stats(cloud: Cloud) -> dict[str, Any]:
    """What the faults did: how often each struck, and how the instances were left."""
    insts = cloud.db.instances.values()
    left = Counter(f"{i.vm_state}/{i.task_state}" for i in insts if i.vm_state == "error" or i.task_state)
    for r in cloud.book.requests:  # stuck with a settled-looking instance: its migration is not
        i = r.target
        if r.status == "stuck" and (r.reason or "").startswith("migration ") \
                and not (i.vm_state == "error" or i.task_state):
            left[f"{i.vm_state}/None, migration {i.migration.status}"] += 1
    stale = sum(1 for m in cloud.db.migrations
                if m.dest >= 0 and not m.dest_released and m.status in ("pre-migrating", "migrating", "post-migrating")
                and (m.instance.migration is not m
                     or (m.instance.task_state is None and m.instance.vm_state != "resized")))
    return {
        "struck": dict(sorted(cloud.faults.struck.items())),
        "claims_leaked": stale + len(cloud.hosts.leaked),
        "claims_healed": cloud.audit.healed,
        "handlers_lost": sum(s.pool.lost for s in cloud.services()),
        "instances_left": dict(sorted(left.items())),
        "guests_powered_off": sum(1 for i in insts if not i.power_on and i.vm_state != "stopped"),
    }


def build_summary(cloud: Cloud, *, seed: int, sim_time: float, wall: float,
                  events: int, until: float | None, warmup: float = 0.0,
                  start: dict[str, tuple[float, float, int, float]] | None = None) -> dict[str, Any]:
    reqs = cloud.book.requests
    counts = Counter(r.status for r in reqs)
    measured = [r for r in reqs if r.submitted >= warmup]
    moved = [r for r in measured if r.status in MOVED]
    reasons = Counter(r.reason for r in reqs if r.reason)
    confirms = [r.confirm for r in measured if r.confirm is not None]
    # offered load: arrivals over their own span; throughput: moves reaching
    # VERIFY_RESIZE over the span from the first arrival to the last of them (the
    # run's tail of confirms does not dilute it). A pipeline that keeps up moves at
    # the offered rate; one that does not stretches its span or refuses requests.
    first = min((r.submitted for r in measured), default=0.0)
    arrivals = max((r.submitted for r in measured), default=0.0) - first
    window = (max(r.finished for r in moved) - first) if moved else 0.0
    hours = window / 3600.0
    summary: dict[str, Any] = {
        "scenario": cloud.loaded.resolved(),
        "seed": seed,
        "until": until,
        "warmup": warmup,
        "requests": {
            "total": len(reqs),
            "measured": len(measured),
            "not_arrived": cloud.workload.total - len(reqs),
            "by_status": {s: counts.get(s, 0) for s in REQUEST_STATUSES},
            "by_reason": dict(sorted(reasons.items())),
            "attempts": sum(r.attempts for r in reqs),
            "reschedules": sum(max(0, r.attempts - 1) for r in reqs),
        },
        "latency": stats([r.latency for r in moved]),
        "latency_all": stats([r.latency for r in reqs if r.latency is not None]),
        "confirm": stats(confirms),
        "phases": {p: stats([r.phases[p] for r in moved]) for p in PHASES},
        "queue_wait": stats([r.queue_wait for r in moved]),
        "throughput": {"per_hour": round(len(moved) / hours, 6) if hours > 0 else 0.0,
                       "offered_per_hour": round((len(measured) - 1) / arrivals * 3600, 6)
                       if arrivals > 0 else round(offered_per_hour(cloud), 6),
                       "configured_per_hour": round(offered_per_hour(cloud), 6)},
        "services": service_stats(cloud, sim_time, warmup if start is not None else 0.0, start),
        "bus": cloud.bus.summary(),
        "faults": fault_stats(cloud),
        "operator": cloud.operator.summary(),
        "network": cloud.copier.summary(sim_time),
        "resources": cloud.hosts.summary(),
        "hosts": {"over_limit": over_limit(cloud.hosts, cloud.scheduler.config.limited)},
        "sim_time": round(sim_time, 6),
        "events": events,
        "trace_records": cloud.sinks.trace.count,
        "wall_seconds": round(wall, 3),
    }
    return summary
