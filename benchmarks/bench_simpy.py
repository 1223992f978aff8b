#!/usr/bin/env python3
"""Raw SimPy yardstick: the same number of events as a simulator run, with no model.

    python benchmarks/bench_simpy.py --events 430000     # about bench_scale's 10,000 requests

``--requests`` processes arrive as a Poisson stream; each waits on timeouts until the
events asked for are spent (one process per request, about events / requests timeouts
each), as the simulator's requests do. Timing it beside ``bench_scale.py`` with
``farm-bench --vs`` gives the simulator's cost per event as a multiple of SimPy's own.
"""
from __future__ import annotations

import argparse
import random
from typing import Generator

import simpy


def request(env: simpy.Environment, rng: random.Random, steps: int) -> Generator[simpy.Event, None, None]:
    for _ in range(steps):
        yield env.timeout(rng.expovariate(10.0))


def arrivals(env: simpy.Environment, rng: random.Random, requests: int, steps: int) -> Generator[simpy.Event, None, None]:
    for _ in range(requests):
        yield env.timeout(rng.expovariate(5.0))
        env.process(request(env, rng, steps))


def run(events: int, requests: int) -> int:
    """Run until about ``events`` events were processed; returns how many."""
    env = simpy.Environment()
    rng = random.Random(1)
    # each request: its Initialize, its timeouts and its end; each arrival one timeout
    steps = max(1, events // requests - 3)
    env.process(arrivals(env, rng, requests, steps))
    env.run()
    return requests * (steps + 3)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--events", type=int, default=430_000)
    p.add_argument("--requests", type=int, default=10_000)
    a = p.parse_args()
    print(f"{run(a.events, a.requests):,} events")


if __name__ == "__main__":
    main()
