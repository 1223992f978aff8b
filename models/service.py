"""What every Nova service shares: a worker pool on its topic, the handlers it
declares, service times, and the trace records of its steps and notifications.

A worker (an api / conductor / scheduler process, a nova-compute RPC executor thread)
is held for the whole handler, including the calls it makes and the driver work it
waits on. ``busy(op)`` is the handler's own processing (database, marshalling),
drawn from the scenario's ``service_time`` for that operation.

A service handles only the messages it declares with ``@rpc_handler``: the bus refuses
to send it any other (``handles``), as oslo.messaging's dispatcher has no such method.
"""
from __future__ import annotations

import random
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable, ClassVar, Generator

import simpy

from models.instance_actions import EventReporter, InstanceActions
from models.notifications import NotificationFormat
from models.object_calls import ConductorUnreachable
from models.steps import NovaFunction, declared_steps
from simulator.engine.bus import Message, MessageBus, MessagingTimeout
from simulator.engine.distributions import Sampler
from simulator.engine.environment import Environment
from simulator.engine.recorder import TraceRecorder
from simulator.engine.workers import WorkerPool

if TYPE_CHECKING:
    from models.database import Database
    from models.faults import FaultPlan
    from models.hosts import HostTable
    from models.lifecycle import RequestBook
    from models.request import Context, Request


@dataclass(frozen=True)
class ServiceDeps:
    """What every service is handed: the clock, the message bus, the trace, the
    database and the compute nodes' records, the fault plan, the book of requests
    (to say when one has ended), the notification format, and the instance actions."""

    env: Environment
    bus: MessageBus
    trace: TraceRecorder
    db: "Database"
    hosts: "HostTable"
    faults: "FaultPlan"
    book: "RequestBook"
    notifications: NotificationFormat
    actions: InstanceActions


class NovaService:
    """Base of nova-api, nova-conductor, nova-scheduler and nova-compute."""

    service: ClassVar[str] = "nova-service"
    #: the topic its workers consume (``{host}``: the host it runs on); None: HTTP only
    TOPIC: ClassVar[str | None] = None
    #: the messages this service handles, and the Nova function of each
    rpc_handlers: ClassVar[dict[str, NovaFunction]] = {}
    #: its periodic tasks
    periodic_tasks: ClassVar[dict[str, NovaFunction]] = {}
    #: the instance action events its handlers record (``wrap_instance_event``), by method
    INSTANCE_EVENTS: ClassVar[dict[str, tuple[str, ...]]] = {}

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        cls.rpc_handlers = declared_steps(cls, "rpc")
        cls.periodic_tasks = declared_steps(cls, "periodic")

    def __init__(self, deps: ServiceDeps, host: str, workers: int, service_times: dict[str, Sampler],
                 rng: random.Random):
        self.env = deps.env
        self.bus = deps.bus
        self.trace = deps.trace
        self.db = deps.db
        self.hosts = deps.hosts
        self.faults = deps.faults
        self.book = deps.book
        self.notifications = deps.notifications
        self.actions = deps.actions
        #: records the instance action events of its handlers
        self.events = EventReporter(deps.actions, host, self.INSTANCE_EVENTS)
        #: the message each running handler handles, by its process
        self._handling: dict[simpy.Process, Message] = {}
        self.host = host
        self.who = (self.service, host)
        self.topic = self.TOPIC.format(host=host) if self.TOPIC is not None else None
        self.service_times = service_times
        self.rng = rng
        self._dispatch: dict[str, Callable[[Message], Generator[Any, Any, Any]]] = {
            name: getattr(self, name) for name in self.rpc_handlers}
        self.pool = WorkerPool(deps.env, f"{self.service}@{host}", workers, self._handle)
        if self.topic is not None:
            deps.bus.register(self.topic, self)

    # -- the consumer side of the bus -------------------------------------------------
    def handles(self, method: str) -> bool:
        """Whether ``method`` is one of this service's handlers."""
        return method in self._dispatch

    def deliver(self, msg: Message) -> None:
        self.pool.submit(msg)

    def queue_depth(self) -> int:
        return self.pool.queue_depth()

    def drop_queue(self) -> int:
        return self.pool.drop_queue()

    def _handle(self, msg: Message, worker: int) -> Generator[simpy.Event, Any, None]:
        req = msg.ctx
        if not msg.traced:  # object calls: no trace, no events; their caller waits with its own timer
            yield from self._dispatch[msg.method](msg)
            return
        req.queue_wait += msg.wait
        rec = self.trace
        attempt = req.attempt  # the attempt this handler began in, for both ends of its step
        rec.emit(self.env.now, req.request, req.instance, self.service, self.host, "step.start",
                 msg.method, worker=worker, wait=round(msg.wait, 6), behind=msg.behind,
                 msg=msg.id, attempt=attempt)
        # the run does not end while a handler works (a request an operator gave up on
        # may still have its disks copying); a crash ends the handler, and the hold
        book = self.book
        book.hold()
        proc = self.env.active_process
        self._handling[proc] = msg
        events = self.events.start(msg, self.env.now)
        try:
            yield from self._dispatch[msg.method](msg)
            broker = self.bus.broker
            if broker.blocks(self.who, req):  # it sent while RabbitMQ is down:
                yield broker.back             # its retries hold it until it is back
        except ConductorUnreachable as exc:
            # an object call went unanswered: the handler stops where it stands, the
            # instance as last saved (Nova's error handling cannot save either, nor
            # can the events finish); nothing will move it on
            self.struck(req, "conductor_unreachable", message=str(exc))
            self.book.finish(req, "stuck", MessagingTimeout.__name__)
            events = None
        except simpy.Interrupt:  # the process crashed: this message is gone
            rec.emit(self.env.now, req.request, req.instance, self.service, self.host, "fault",
                     "handler_lost", method=msg.method, msg=msg.id, attempt=attempt)
            raise
        finally:
            del self._handling[proc]
            book.unhold()
        if events:
            self.events.finish(msg, events, self.env.now)
        rec.emit(self.env.now, req.request, req.instance, self.service, self.host, "step.end",
                 msg.method, worker=worker, msg=msg.id, attempt=attempt)

    def raised(self) -> None:
        """The running handler lets Nova's exception escape (after Nova's decorators
        have recorded it): its instance action events end ``Error``."""
        msg = self._handling.get(self.env.active_process)
        if msg is not None:
            self.events.raised(msg)

    # -- helpers for handlers ---------------------------------------------------------
    def busy(self, op: str, req: "Context") -> Generator[simpy.Event, Any, None]:
        """The handler's own processing time for ``op`` (for ``req``)."""
        t = service_seconds(self, op, req)
        if t > 0:
            yield self.env.timeout(t)

    def notify(self, req: "Request", event_type: str, **payload: Any) -> None:
        """Send a notification, named by its versioned event type, in the deployment's
        format (recorded in the trace, one record per name sent)."""
        msg = self._handling.get(self.env.active_process)
        for fmt, name in self.notifications.names(event_type, msg.method if msg is not None else None):
            self.trace.emit(self.env.now, req.request, req.instance, self.service, self.host,
                            "notification", name, attempt=req.attempt, format=fmt, **payload)

    def fault(self, req: "Request", error: BaseException) -> None:
        """Record an instance fault (instance_faults table)."""
        self.trace.emit(self.env.now, req.request, req.instance, self.service, self.host,
                        "instance_fault", type(error).__name__, message=str(error),
                        attempt=req.attempt)

    def superseded(self, req: "Request", scheduled: tuple[int, Any] | None = None) -> bool:
        """Whether a newer request owns the instance now (a crash reset it and a user
        moved it again): Nova's expected-task-state checks make this handler give up.
        The request ends in error; resources taken for it are given back (``scheduled``:
        an allocation placement holds for it)."""
        if req.target.request is req:
            return False
        m = req.migration
        if m is not None and m.dest >= 0 and not m.dest_released and m.status != "error":
            m.status = "error"
            m.dest_released = True
            self.hosts.release(m.dest, m.new_flavor, self.env.now)
        elif scheduled is not None and (m is None or not m.dest_released):
            # (released already: an audit dropped it, or modern leaked it, at a reset)
            self.hosts.release(scheduled[0], scheduled[1], self.env.now)
        self.trace.emit(self.env.now, req.request, req.instance, self.service, self.host,
                        "instance_fault", "UnexpectedTaskStateError",
                        message="the instance is now in another operation", attempt=req.attempt)
        self.raised()
        self.book.finish(req, "error", "UnexpectedTaskStateError")
        return True

    def struck(self, req: "Context", kind: str, **extra: Any) -> None:
        """Record a fault that hit this request here (``event: fault``)."""
        self.trace.emit(self.env.now, req.request, req.instance, self.service, self.host,
                        "fault", kind, attempt=req.attempt, **extra)

    def step(self, req: "Context", name: str, edge: str, **extra: Any) -> None:
        """Mark the start or end of a sub-step inside a handler (driver work)."""
        self.trace.emit(self.env.now, req.request, req.instance, self.service, self.host,
                        f"step.{edge}", name, attempt=req.attempt, **extra)

    def save(self, req: "Request", **changes: Any) -> None:
        self.db.save(self.env.now, self.who, req.target, req, **changes)


def service_seconds(svc: NovaService, op: str, req: "Context", times: int = 1) -> float:
    """``svc``'s processing time for ``op``, ``times`` over, drawn from its
    ``service_time`` and stretched by a ``service_slow`` fault (recorded for ``req``)."""
    sampler = svc.service_times.get(op) or svc.service_times["default"]
    t = sampler(svc.rng) if times == 1 else sum(sampler(svc.rng) for _ in range(times))
    faults = svc.faults
    if faults:  # service_slow
        factor = faults.slow_factor(svc.service[len("nova-"):], svc.env.now)
        if factor != 1.0:
            svc.struck(req, "service_slow", operation=op, factor=factor, seconds=round(t * factor, 6))
            t *= factor
    return t
