"""nova-scheduler's RPC side: ``SchedulerManager.select_destinations``.

Each worker is a separate scheduler process with its own cached host state
(``SchedulerView``): it counts its own picks and sees another worker's only once the
destination's claim has written the host's record. The decision itself is ``models.scheduler.select_hosts``; this
service adds the notifications, the processing time, and remembers every decision
so a user can see why a host was chosen.
"""
from __future__ import annotations

from typing import Any, Generator

import simpy

from models.scheduler import NoValidHost, SchedulerView, select_hosts
from models.service import NovaService
from simulator.bus import Message


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
        yield from self.busy("select_destinations")
        view = self.views[msg.worker]
        view.refresh(self.env.now)
        try:
            sel = select_hosts(view, spec, host_subset_size=cloud.nova.host_subset_size, rng=self.rng)
        except NoValidHost as exc:
            req.selections.append((req.attempt, msg.worker, exc.filters, None))
            cloud.bus.reply(msg, self.who, error=exc)
            return
        view.consume(sel.host, spec.instance_flavor, self.env.now)
        req.selections.append((req.attempt, msg.worker, sel.filters, sel))
        self.notify(req, "scheduler.select_destinations.end")
        req.enter("conductor", self.env.now)
        cloud.bus.reply(msg, self.who, value=sel)
