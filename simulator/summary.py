"""The run's summary: counts by final status, latency and phase statistics, and each
service's utilisation, mean wait and longest queue (summary.json)."""
from __future__ import annotations

from collections import Counter
from typing import Any

from models.cloud import Cloud
from models.request import PHASES
from models.states import REQUEST_STATUSES
from simulator.results import stats

#: statuses whose latency is a completed move (the instance reached VERIFY_RESIZE)
MOVED = ("confirmed", "reverted", "resized")


def _pools(cloud: Cloud) -> dict[str, list[Any]]:
    return {"nova-api": [cloud.api.pool], "nova-conductor": [cloud.conductor.pool],
            "nova-scheduler": [cloud.scheduler.pool],
            "nova-compute": [c.pool for c in cloud.computes]}


def service_stats(cloud: Cloud, now: float) -> dict[str, Any]:
    out = {}
    for name, pools in _pools(cloud).items():
        workers = sum(p.workers for p in pools)
        busy = sum(p.busy.integral(now) for p in pools)
        queued = sum(p.queued.integral(now) for p in pools)
        n = sum(p.waits.n for p in pools)
        out[name] = {
            "workers": workers,
            "handled": n,
            "utilisation": round(busy / (workers * now), 6) if now > 0 else 0.0,
            "mean_wait": round(sum(p.waits.total for p in pools) / n, 6) if n else 0.0,
            "max_wait": round(max(p.waits.max for p in pools), 6),
            "mean_queue": round(queued / now, 6) if now > 0 else 0.0,
            "max_queue": max(p.queued.max for p in pools),
        }
    return out


def utilisation_bins(series: list[tuple[float, float]] | None, now: float, bins: int) -> list[float]:
    """The mean utilisation of a resource in each of ``bins`` equal slices of the run,
    from its step series of (time, utilisation) changes."""
    if not series or now <= 0:
        return [0.0] * bins
    width = now / bins
    out = [0.0] * bins
    points = list(series) + [(now, series[-1][1])]
    level, t0 = 0.0, 0.0
    for t, u in points:
        t = min(t, now)
        a = t0
        k = min(int(a / width), bins - 1)
        while a < t:
            end = (k + 1) * width if k < bins - 1 else now
            if end <= a:
                k += 1
                continue
            b = min(t, end)
            out[k] += level * (b - a)
            a = b
        level, t0 = u, t
    return [round(x / width, 6) for x in out]


def network_stats(cloud: Cloud, now: float, top: int = 20, bins: int = 50) -> dict[str, Any]:
    """Flows copied, and the busiest links and disks: mean and peak utilisation, and
    the mean utilisation over time in ``bins`` equal slices of the run."""
    copier = cloud.copier
    res = [r for r in copier.bandwidth.resources.values() if r.bytes > 0 or r.load > 0]
    res.sort(key=lambda r: (-r.utilisation(now), r.name))
    return {
        "model": cloud.loaded.model.network.model,
        "flows": copier._flows,
        "gib_copied": round(copier.bytes_copied / 2 ** 30, 6),
        "recomputes": copier.bandwidth.recomputes,
        "links": {r.name: {"capacity_gbps": round(r.capacity * 8 / 1e9, 6),
                           "mean_utilisation": round(r.utilisation(now), 6),
                           "peak_utilisation": round(r.peak / r.capacity, 6),
                           "gib": round(r.bytes / 2 ** 30, 6),
                           "utilisation_over_time": utilisation_bins(r.series, now, bins)} for r in res[:top]},
        "bin_seconds": round(now / bins, 6),
    }


def build_summary(cloud: Cloud, *, seed: int, sim_time: float, wall: float,
                  events: int, until: float | None) -> dict[str, Any]:
    reqs = cloud.requests
    counts = Counter(r.status for r in reqs)
    moved = [r for r in reqs if r.status in MOVED]
    reasons = Counter(r.reason for r in reqs if r.reason)
    confirms = [r.confirm for r in reqs if r.confirm is not None]
    hours = sim_time / 3600.0
    summary: dict[str, Any] = {
        "scenario": cloud.loaded.resolved(),
        "seed": seed,
        "until": until,
        "requests": {
            "total": len(reqs),
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
        "throughput": {"per_hour": round(len(moved) / hours, 6) if hours > 0 else 0.0},
        "services": service_stats(cloud, sim_time),
        "bus": {"messages": cloud.bus.sent, "replies_dropped": cloud.bus.replies_dropped},
        "network": network_stats(cloud, sim_time),
        "resources": {"claims": cloud.hosts.claims, "releases": cloud.hosts.releases},
        "sim_time": round(sim_time, 6),
        "events": events,
        "trace_records": cloud.recorder.count,
        "wall_seconds": round(wall, 3),
    }
    return summary
