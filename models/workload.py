"""The users: requests arriving at nova-api, and their confirms.

Each workload entry is an arrival process (all at ``at``, Poisson, or periodic)
producing ``count`` requests. A request targets a named instance, or one picked at
random (with the entry's own stream) among the instances that can take the move now
(ACTIVE or STOPPED, no task; for a resize, a flavor other than the new one). When no
instance can take it, the pick falls on one that cannot, and nova-api refuses it, as
it would refuse a real user. A user does not pick an instance they have just picked
and nova-api has not answered for yet. Requests are numbered from 1 in order of arrival.
"""
from __future__ import annotations

import itertools
from typing import TYPE_CHECKING, Any, Generator

import simpy

from models.request import Request
from simulator.distributions import make_sampler
from simulator.names import expand_names

if TYPE_CHECKING:
    from models.cloud import Cloud


class Workload:
    """Starts one arrival process per workload entry."""

    def __init__(self, cloud: "Cloud", entries: list[Any]):
        self.cloud = cloud
        self.entries = entries
        self._ids = itertools.count(1)
        self.total = sum(e.count for e in entries)

    def start(self) -> None:
        for i, entry in enumerate(self.entries):
            self.cloud.env.process(self._arrivals(i, entry))

    def _times(self, i: int, e: Any) -> Generator[float, None, None]:
        rng = self.cloud.streams.stream(f"workload[{i}].arrival")
        if e.at is not None:
            for _ in range(e.count):
                yield e.at
        elif e.arrival.process == "poisson":
            t = e.arrival.start
            for _ in range(e.count):
                t += rng.expovariate(e.arrival.rate)
                yield t
        else:
            for k in range(e.count):
                yield e.arrival.start + k * e.arrival.interval

    def _arrivals(self, i: int, e: Any) -> Generator[simpy.Event, Any, None]:
        env = self.cloud.env
        streams = self.cloud.streams
        rng_target = streams.stream(f"workload[{i}].target")
        rng_confirm = streams.stream(f"workload[{i}].confirm_after")
        confirm = make_sampler(e.confirm_after) if e.confirm_after is not None else None
        revert = make_sampler(e.revert_after) if e.revert_after is not None else None
        within = expand_names(e.instance) if e.instance is not None else None
        for t in self._times(i, e):
            if t > env.now:
                yield env.timeout(t - env.now)
            req = Request(next(self._ids), e.op, env.now, i)
            req.flavor_new = e.flavor
            req.requested_host = e.host
            if confirm is not None:
                req.confirm_after = confirm(rng_confirm)
                req.revert_chance = e.revert
            if revert is not None:
                req.revert_after = revert(rng_confirm)
            inst = self._target(rng_target, e, within)
            req.target = inst
            req.instance = inst.name
            req.flavor_old = inst.flavor.name
            self.cloud.arrive(req)

    def _target(self, rng: Any, e: Any, within: list[str] | None) -> Any:
        db = self.cloud.db
        if within is not None and len(within) == 1:
            return db.instances[within[0]]
        exclude = e.flavor if e.op == "resize" else None
        name = db.pick_idle(rng, exclude, within)
        if name is not None:
            db.reserve(name)  # the user will not pick it again before nova-api has answered
        else:
            pool = within if within is not None else list(db.instances)
            others = [n for n in pool if db.instances[n].flavor.name != exclude] or pool
            name = others[rng.randrange(len(others))]
        return db.instances[name]
