"""nova-scheduler's RPC side: ``SchedulerManager.select_destinations``.

Each worker is a separate scheduler process with its own cached host state
(``SchedulerView``): it counts its own picks and sees another worker's only once the
destination's claim has written the host's record. The decision itself is
``models.scheduler.select_hosts``; this service adds the notifications and the
processing time, claims the allocation in modern Nova (placement), and records every
decision in ``scheduling.csv`` so a user can see why a host was chosen.
"""
from __future__ import annotations

from typing import Any, Generator

import simpy

from models.scheduler import NoValidHost, SchedulerView, select_hosts
from models.service import NovaService
from simulator.bus import Message

#: columns of scheduling.csv
SCHEDULING_COLUMNS = ("request", "attempt", "worker", "t", "filter", "hosts_in", "hosts_out",
                      "weigher", "host", "weight")


class NovaScheduler(NovaService):
    service = "nova-scheduler"

    def __init__(self, cloud: Any, *args: Any, **kwargs: Any):
        super().__init__(cloud, *args, **kwargs)
        self.views = [SchedulerView(cloud.hosts, w) for w in range(self.pool.workers)]

    def select_destinations(self, msg: Message) -> Generator[simpy.Event, Any, None]:
        req = msg.ctx
        cloud = self.cloud
        spec = msg.args["spec"]
        self.notify(req, "scheduler.select_destinations.start")
        yield from self.busy("select_destinations", req)
        cloud.liveness.refresh(self.env.now)  # ComputeFilter reads the services' reports
        view = self.views[msg.worker]
        view.refresh(self.env.now)
        explain = req.request in cloud.explain
        try:
            sel = select_hosts(view, spec, cloud.scheduler_config, rng=self.rng, explain=explain)
        except NoValidHost as exc:
            self._log(req, msg.worker, exc.filters, None)
            if explain:
                req.explain.append((req.attempt, msg.worker, self.env.now, exc.filters, None,
                                    getattr(exc, "removed", {})))
            cloud.bus.reply(msg, self.who, error=exc)
            return
        if cloud.modern:  # placement: the allocation is claimed as the host is picked
            cloud.hosts.take(sel.host, spec.flavor, self.env.now)
            view.consume(sel.host, None, self.env.now)
        else:  # Kilo counts the instance's own (old) flavor, from instance_properties
            view.consume(sel.host, spec.instance_flavor or spec.flavor, self.env.now)
        self._log(req, msg.worker, sel.filters, sel)
        if explain:
            req.explain.append((req.attempt, msg.worker, self.env.now, sel.filters, sel, sel.removed))
        self.notify(req, "scheduler.select_destinations.end")
        req.enter("conductor", self.env.now)
        drop = orphan = None
        if cloud.modern:
            # the caller gave up: its rollback removes the allocation (at once if it
            # gives up after this claim, see the conductor); the caller is gone
            # (crashed): the allocation is orphaned, a leak Nova has
            alloc = req.allocation = (sel.host, spec.flavor)

            def drop() -> None:
                if req.allocation is alloc:
                    req.allocation = None
                    cloud.hosts.release(alloc[0], alloc[1], self.env.now)

            def orphan() -> None:
                if req.allocation is alloc:
                    req.allocation = None
                    cloud.hosts.leaked.append(alloc)
        cloud.bus.reply(msg, self.who, value=sel, on_drop=drop, on_orphan=orphan)

    def _log(self, req: Any, worker: int, filters: list, sel: Any) -> None:
        """Rows of scheduling.csv: each filter's verdict (hosts in, hosts out), each
        weigher's weight of the chosen host, and the total (or NoValidHost)."""
        table = self.cloud.scheduling
        if table is None:
            return
        base = (req.request, req.attempt, worker, round(self.env.now, 6))
        for name, before, after in filters:
            table.add(base + (name, before, after, None, None, None))
        if sel is None:
            table.add(base + ("NoValidHost", filters[-1][2] if filters else 0, 0, None, None, None))
            return
        host = self.cloud.hosts.names[sel.host]
        for name, w in sel.weights.items():
            table.add(base + (None, None, None, name, host, round(w, 6) + 0.0))
        table.add(base + (None, None, None, "total", host, round(sel.weight, 6) + 0.0))
