"""The scheduler alone against queueing theory.

Only the scheduler is busy: Poisson arrivals (rate λ), exponential service (mean
1/μ), c workers: an M/M/c queue. Everything else has zero service time and plenty
of workers, and every request targets its own idle instance, so the arrivals reach
the scheduler as they reach the API (shifted by a constant bus latency). The mean
wait in the scheduler's queue must match Erlang C, within three standard errors of
the mean over independent replications.
"""
from __future__ import annotations

import math
import statistics

import pytest

import simulator


def erlang_c_wait(lam: float, mu: float, c: int) -> float:
    """Mean wait in queue of an M/M/c queue."""
    a = lam / mu
    top = a ** c / math.factorial(c) * c / (c - a)
    p_wait = top / (sum(a ** k / math.factorial(k) for k in range(c)) + top)
    return p_wait / (c * mu - lam)


def scheduler_only(lam: float, mean_service: float, c: int, n: int, seed: int) -> dict:
    idle = {"workers": 4000, "service_time": 0}
    return {
        "name": "mmc", "seed": seed,
        "nova": {"rpc_response_timeout": 1e9},
        "services": {"api": idle, "conductor": idle,
                     "scheduler": {"workers": c, "service_time": {"dist": "exponential", "mean": mean_service}},
                     "compute": {"workers": 64, "service_time": 0}},
        "bus": {"latency": 0.001},
        "hosts": [{"name": "cmp[01-40]", "vcpus": 1000, "ram_mb": 10_000_000, "disk_gb": 100000}],
        "flavors": {"a": {"vcpus": 1, "ram_mb": 64, "root_gb": 1}, "b": {"vcpus": 1, "ram_mb": 64, "root_gb": 1}},
        "instances": [{"count": n, "flavor": "a", "disk_used_gb": 0}],
        "guest": {"shutdown": 0, "boot": 0},
        "workload": [{"op": "resize", "flavor": "b", "count": n, "arrival": {"process": "poisson", "rate": lam}}],
    }


@pytest.mark.parametrize("lam, mean_service, c", [(15.0, 0.1, 2), (7.0, 0.1, 1)])
def test_scheduler_wait_matches_erlang_c(lam, mean_service, c):
    expected = erlang_c_wait(lam, 1 / mean_service, c)
    waits = []
    for seed in range(1, 9):
        s = simulator.run(scheduler_only(lam, mean_service, c, n=3000, seed=seed)).summary
        assert s["requests"]["by_status"]["resized"] == 3000
        assert s["services"]["nova-api"]["max_queue"] == 0
        assert s["services"]["nova-conductor"]["max_queue"] == 0
        waits.append(s["services"]["nova-scheduler"]["mean_wait"])
    mean = statistics.fmean(waits)
    se = statistics.stdev(waits) / math.sqrt(len(waits))
    print(f"M/M/{c} λ={lam} μ={1 / mean_service}: Erlang C wait {expected:.4f} s, "
          f"simulated {mean:.4f} ± {se:.4f} s (8 replications)")
    assert abs(mean - expected) <= 3 * se
    assert abs(mean - expected) / expected < 0.1


def pollaczek_khinchine_wait(lam: float, service: float) -> float:
    """Mean wait in queue of an M/D/1 queue (deterministic service)."""
    rho = lam * service
    return rho * service / (2 * (1 - rho))


def test_scheduler_wait_matches_pollaczek_khinchine_for_constant_service():
    lam, service = 7.0, 0.1
    expected = pollaczek_khinchine_wait(lam, service)
    waits = []
    for seed in range(1, 9):
        s = scheduler_only(lam, service, 1, n=3000, seed=seed)
        s["services"]["scheduler"]["service_time"] = service
        summary = simulator.run(s).summary
        waits.append(summary["services"]["nova-scheduler"]["mean_wait"])
    mean = statistics.fmean(waits)
    se = statistics.stdev(waits) / math.sqrt(len(waits))
    print(f"M/D/1 λ={lam} D={service}: Pollaczek-Khinchine wait {expected:.4f} s, "
          f"simulated {mean:.4f} ± {se:.4f} s (8 replications)")
    assert abs(mean - expected) <= 3 * se
