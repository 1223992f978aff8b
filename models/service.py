"""What every Nova service shares: a worker pool on its topic, service times, and
the trace records of its steps and notifications.

A worker (an api / conductor / scheduler process, a nova-compute RPC executor thread)
is held for the whole handler, including the calls it makes and the driver work it
waits on. ``busy(op)`` is the handler's own processing (database, marshalling),
drawn from the scenario's ``service_time`` for that operation.
"""
from __future__ import annotations

import random
from typing import TYPE_CHECKING, Any, Generator

import simpy

from simulator.bus import Message
from simulator.distributions import Sampler
from simulator.workers import WorkerPool

if TYPE_CHECKING:
    from models.cloud import Cloud


class NovaService:
    """Base of nova-api, nova-conductor, nova-scheduler and nova-compute."""

    service = "nova-service"

    def __init__(self, cloud: "Cloud", host: str, workers: int, service_times: dict[str, Sampler],
                 rng: random.Random, topic: str | None):
        self.cloud = cloud
        self.env = cloud.env
        self.host = host
        self.who = (self.service, host)
        self.topic = topic
        self.service_times = service_times
        self.rng = rng
        self.pool = WorkerPool(cloud.env, f"{self.service}@{host}", workers, self._handle)
        if topic is not None:
            cloud.bus.register(topic, self)

    # -- the consumer side of the bus -------------------------------------------------
    def deliver(self, msg: Message) -> None:
        self.pool.submit(msg)

    def queue_depth(self) -> int:
        return self.pool.queue_depth()

    def drop_queue(self) -> int:
        return self.pool.drop_queue()

    def _handle(self, msg: Message, worker: int) -> Generator[simpy.Event, Any, None]:
        req = msg.ctx
        req.queue_wait += msg.wait
        rec = self.cloud.recorder
        attempt = req.attempt  # the attempt this handler began in, for both ends of its step
        rec.emit(self.env.now, req.request, req.instance, self.service, self.host, "step.start",
                 msg.method, worker=worker, wait=round(msg.wait, 6), behind=msg.behind,
                 msg=msg.id, attempt=attempt)
        # the run does not end while a handler works (a request an operator gave up on
        # may still have its disks copying); a crash ends the handler, and the hold
        cloud = self.cloud
        cloud.hold()
        try:
            yield from getattr(self, msg.method)(msg)
            if cloud.bus.blocks(self.who, req):  # it sent while RabbitMQ is down:
                yield cloud.bus.back             # its retries hold it until it is back
        except simpy.Interrupt:  # the process crashed: this message is gone
            rec.emit(self.env.now, req.request, req.instance, self.service, self.host, "fault",
                     "handler_lost", method=msg.method, msg=msg.id, attempt=attempt)
            raise
        finally:
            cloud.unhold()
        rec.emit(self.env.now, req.request, req.instance, self.service, self.host, "step.end",
                 msg.method, worker=worker, msg=msg.id, attempt=attempt)

    # -- helpers for handlers ---------------------------------------------------------
    def busy(self, op: str, req: Any) -> Generator[simpy.Event, Any, None]:
        """The handler's own processing time for ``op`` (for ``req``)."""
        sampler = self.service_times.get(op) or self.service_times["default"]
        t = sampler(self.rng)
        faults = self.cloud.faults
        if faults:  # service_slow
            factor = faults.slow_factor(self.service[len("nova-"):], self.env.now)
            if factor != 1.0:
                self.struck(req, "service_slow", operation=op, factor=factor, seconds=round(t * factor, 6))
                t *= factor
        if t > 0:
            yield self.env.timeout(t)

    def notify(self, req: Any, event_type: str, **payload: Any) -> None:
        """Send a versioned notification (recorded in the trace)."""
        self.cloud.recorder.emit(self.env.now, req.request, req.instance, self.service, self.host,
                                 "notification", event_type, attempt=req.attempt, **payload)

    def fault(self, req: Any, error: BaseException) -> None:
        """Record an instance fault (instance_faults table)."""
        self.cloud.recorder.emit(self.env.now, req.request, req.instance, self.service, self.host,
                                 "instance_fault", type(error).__name__, message=str(error),
                                 attempt=req.attempt)

    def superseded(self, req: Any, scheduled: tuple[int, Any] | None = None) -> bool:
        """Whether a newer request owns the instance now (a crash reset it and a user
        moved it again): Nova's expected-task-state checks make this handler give up.
        The request ends in error; resources taken for it are given back (``scheduled``:
        an allocation placement holds for it)."""
        if req.target.request is req:
            return False
        cloud = self.cloud
        m = req.migration
        if m is not None and m.dest >= 0 and not m.dest_released and m.status != "error":
            m.status = "error"
            m.dest_released = True
            cloud.hosts.release(m.dest, m.new_flavor, self.env.now)
        elif scheduled is not None and (m is None or not m.dest_released):
            # (released already: an audit dropped it, or modern leaked it, at a reset)
            cloud.hosts.release(scheduled[0], scheduled[1], self.env.now)
        self.cloud.recorder.emit(self.env.now, req.request, req.instance, self.service, self.host,
                                 "instance_fault", "UnexpectedTaskStateError",
                                 message="the instance is now in another operation", attempt=req.attempt)
        cloud.finish(req, "error", "UnexpectedTaskStateError")
        return True

    def struck(self, req: Any, kind: str, **extra: Any) -> None:
        """Record a fault that hit this request here (``event: fault``)."""
        self.cloud.recorder.emit(self.env.now, req.request, req.instance, self.service, self.host,
                                 "fault", kind, attempt=req.attempt, **extra)

    def step(self, req: Any, name: str, edge: str, **extra: Any) -> None:
        """Mark the start or end of a sub-step inside a handler (driver work)."""
        self.cloud.recorder.emit(self.env.now, req.request, req.instance, self.service, self.host,
                                 f"step.{edge}", name, attempt=req.attempt, **extra)

    def save(self, req: Any, **changes: Any) -> None:
        self.cloud.db.save(self.env.now, self.who, req.target, req, **changes)
