"""The users: requests arriving at nova-api, and what they do at VERIFY_RESIZE.

Each workload entry is an arrival process (all at ``at``, Poisson, or periodic)
producing ``count`` requests. A request targets a named instance, or one picked at
random (with the entry's own stream) among the instances that can take the move now
(ACTIVE or STOPPED, no task; for a resize, a flavor other than the new one). When no
instance can take it, the pick falls on one that cannot, and nova-api refuses it, as
it would refuse a real user. A user does not pick an instance they have just picked
and nova-api has not answered for yet. Requests are numbered from 1 in order of arrival.

When a request's instance reaches VERIFY_RESIZE, its user confirms it after
``confirm_after`` (or reverts it, with the entry's ``revert`` probability), reverts it
after ``revert_after``, or leaves it to the auto-confirm (or unconfirmed).
"""
from __future__ import annotations

import itertools
import random
from typing import Any, Callable, Generator

import simpy

from models.database import Database
from models.lifecycle import RequestBook
from models.objects import Instance
from models.request import Request
from simulator.engine.distributions import make_sampler
from simulator.engine.names import expand_names
from simulator.engine.random_streams import RandomStreams

#: how a user's HTTP request reaches nova-api: (operation, request)
Http = Callable[[str, Request], None]


class Workload:
    """One arrival process per workload entry, and the users' confirms and reverts."""

    def __init__(self, env: simpy.Environment, streams: RandomStreams, entries: list[Any], db: Database,
                 book: RequestBook):
        self.env = env
        self.streams = streams
        self.entries = entries
        self.db = db
        self.book = book
        self._ids = itertools.count(1)
        self.total = sum(e.count for e in entries)
        self._http: Http | None = None

    def connect(self, http: Http) -> None:
        """Where the users send their HTTP requests (nova-api)."""
        self._http = http

    def start(self) -> None:
        if self._http is None:
            raise RuntimeError("the workload is not connected to nova-api")
        for i, entry in enumerate(self.entries):
            self.env.process(self._arrivals(i, entry))

    def _times(self, i: int, e: Any) -> Generator[float, None, None]:
        rng = self.streams.stream(f"workload[{i}].arrival")
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
        env = self.env
        rng_target = self.streams.stream(f"workload[{i}].target")
        rng_confirm = self.streams.stream(f"workload[{i}].confirm_after")
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
            self.book.arrive(req)
            self._http("resize", req)

    def _target(self, rng: random.Random, e: Any, within: list[str] | None) -> Instance:
        db = self.db
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

    def at_verify_resize(self, req: Request) -> bool:
        """The instance is in VERIFY_RESIZE: the user's confirm or revert, if they make
        one, is sent after its delay. Returns whether one is coming."""
        delay = None
        if req.revert_after is not None:
            req.action, delay = "revert_resize", req.revert_after
        elif req.confirm_after is not None:
            coin = self.streams.stream(f"workload[{req.workload}].revert")
            revert = req.revert_chance > 0 and coin.random() < req.revert_chance
            req.action = "revert_resize" if revert else "confirm_resize"
            delay = req.confirm_after
        if delay is None:
            return False
        req.action_pending = True
        self.env.timeout(delay).callbacks.append(lambda _ev: self._http(req.action, req))
        return True
