"""nova-scheduler's RPC side: ``SchedulerManager.select_destinations``.

Each worker is a separate scheduler process with its own cached host state
(``SchedulerView``): it counts its own picks and sees another worker's only once the
destination's claim has written the host's record. The decision itself is
``models.scheduler.select_hosts``; this service adds the notifications and the
processing time, claims the allocation in modern Nova (placement), and records every
decision in ``scheduling.csv`` so a user can see why a host was chosen.
"""
from __future__ import annotations

import random
from typing import Any, Generator, NamedTuple

import simpy

from models.exceptions import NoValidHost
from models.liveness import Liveness
from models.release import Release
from models.request import Request
from models.scheduler import FilterVerdict, SchedulerConfig, SchedulerView, SchedulingRecord, Selection, select_hosts
from models.service import NovaService, ServiceDeps
from models.steps import rpc_handler
from simulator.engine.bus import Message
from simulator.engine.distributions import Sampler
from simulator.engine.recorder import TableStream


class SchedulingRow(NamedTuple):
    """A row of scheduling.csv: a filter's verdict, or a weigher's weight of the
    chosen host (``total``: their sum), or ``NoValidHost``."""

    request: int
    attempt: int
    worker: int
    t: float
    filter: str | None
    hosts_in: int | None
    hosts_out: int | None
    weigher: str | None
    host: str | None
    weight: float | None


class NovaScheduler(NovaService):
    """nova-scheduler: each worker a scheduler process with its own view of the hosts."""

    service = "nova-scheduler"
    TOPIC = "scheduler"

    def __init__(self, deps: ServiceDeps, host: str, workers: int, service_times: dict[str, Sampler],
                 rng: random.Random, *, config: SchedulerConfig, release: Release, liveness: Liveness,
                 decisions: TableStream, explain: set[int]):
        super().__init__(deps, host, workers, service_times, rng)
        self.config = config
        self.release = release
        self.liveness = liveness
        #: scheduling.csv
        self.decisions = decisions
        #: the requests whose scheduling is recorded in full (which hosts each filter removed)
        self.explain = explain
        self.views = [SchedulerView(deps.hosts, w) for w in range(self.pool.workers)]

    @rpc_handler("nova/scheduler/manager.py", "SchedulerManager.select_destinations")
    def select_destinations(self, msg: Message) -> Generator[simpy.Event, Any, None]:
        req = msg.ctx
        spec = msg.args["spec"]
        self.notify(req, "scheduler.select_destinations.start")
        yield from self.busy("select_destinations", req)
        self.liveness.refresh(self.env.now)  # ComputeFilter reads the services' reports
        view = self.views[msg.worker]
        view.refresh(self.env.now)
        explain = req.request in self.explain
        try:
            sel = select_hosts(view, spec, self.config, rng=self.rng, explain=explain)
        except NoValidHost as exc:
            self._log(req, msg.worker, exc.filters, None)
            if explain:
                req.explain.append(SchedulingRecord(req.attempt, msg.worker, self.env.now, exc.filters,
                                                    None, exc.removed))
            self.bus.reply(msg, self.who, error=exc)
            return
        if self.release.placement:  # the allocation is claimed as the host is picked
            self.hosts.take(sel.host, spec.flavor, self.env.now)
            view.consume(sel.host, None, self.env.now)
        else:  # Kilo counts the instance's own (old) flavor, from instance_properties
            view.consume(sel.host, spec.instance_flavor or spec.flavor, self.env.now)
        self._log(req, msg.worker, sel.filters, sel)
        if explain:
            req.explain.append(SchedulingRecord(req.attempt, msg.worker, self.env.now, sel.filters, sel,
                                                sel.removed))
        self.notify(req, "scheduler.select_destinations.end")
        req.enter("conductor", self.env.now)
        drop = orphan = None
        if self.release.placement:
            # the caller gave up: its rollback removes the allocation (at once if it
            # gives up after this claim, see the conductor); the caller is gone
            # (crashed): the allocation is orphaned, a leak Nova has
            alloc = req.allocation = (sel.host, spec.flavor)

            hosts = self.hosts

            def drop() -> None:
                if req.allocation is alloc:
                    req.allocation = None
                    hosts.release(alloc[0], alloc[1], self.env.now)

            def orphan() -> None:
                if req.allocation is alloc:
                    req.allocation = None
                    hosts.leaked.append(alloc)
        self.bus.reply(msg, self.who, value=sel, on_drop=drop, on_orphan=orphan)

    def _log(self, req: Request, worker: int, filters: list[FilterVerdict], sel: Selection | None) -> None:
        """Rows of scheduling.csv: each filter's verdict (hosts in, hosts out), each
        weigher's weight of the chosen host, and the total (or NoValidHost)."""
        add = self.decisions.add
        r, a, t = req.request, req.attempt, round(self.env.now, 6)
        for name, before, after in filters:
            add(SchedulingRow(r, a, worker, t, name, before, after, None, None, None))
        if sel is None:
            add(SchedulingRow(r, a, worker, t, "NoValidHost", filters[-1].hosts_out if filters else 0, 0,
                              None, None, None))
            return
        host = self.hosts.names[sel.host]
        for name, w in sel.weights.items():
            add(SchedulingRow(r, a, worker, t, None, None, None, name, host, round(w, 6) + 0.0))
        add(SchedulingRow(r, a, worker, t, None, None, None, "total", host, round(sel.weight, 6) + 0.0))
