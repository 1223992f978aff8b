"""nova-scheduler's RPC side: ``SchedulerManager.select_destinations``.

Each worker is a separate scheduler process with its own cached host state
(``SchedulerView``). The decision itself is ``models.scheduler.select_hosts``; this
service adds the notifications, the processing time, and remembers every decision
so a user can see why a host was chosen.
"""
from __future__ import annotations

from typing import Any, Generator

import simpy

from models.scheduler import NoValidHost, SchedulerView, select_hosts
from models.service import NovaService
from simulator.bus import Message


class Pick:
    """A host counted in one worker's view until its destination claims it."""

    __slots__ = ("view", "host", "flavor", "live")

    def __init__(self, view: SchedulerView, host: int, flavor: Any):
        self.view, self.host, self.flavor, self.live = view, host, flavor, True
        view.consume(host, flavor)

    def release(self) -> None:
        """The claim was made (or failed): the pick no longer needs counting."""
        if self.live:
            self.live = False
            self.view.forget(self.host, self.flavor)


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
        try:
            sel = select_hosts(view, spec, host_subset_size=cloud.nova.host_subset_size, rng=self.rng)
        except NoValidHost as exc:
            req.selections.append((req.attempt, msg.worker, exc.filters, None))
            cloud.bus.reply(msg, self.who, error=exc)
            return
        sel.pick = Pick(view, sel.host, spec.flavor)
        req.selections.append((req.attempt, msg.worker, sel.filters, sel))
        self.notify(req, "scheduler.select_destinations.end")
        req.enter("conductor", self.env.now)
        cloud.bus.reply(msg, self.who, value=sel, on_drop=sel.pick.release)
