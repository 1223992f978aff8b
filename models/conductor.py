"""nova-conductor: ``ComputeTaskManager.migrate_server`` → ``_cold_migrate``.

Kilo: counts the attempt (``populate_retry``), asks the scheduler by a blocking
``select_destinations`` call (retried on MessagingTimeout, as Kilo's scheduler client
does), casts ``prep_resize`` to the chosen host and replies. NoValidHost and
MaxRetriesExceeded end the request as Kilo ends it: ``task_state`` back to None,
vm_state unchanged, an instance fault and ``compute_task.migrate_server.error``.

Modern (``nova.release: modern``, MigrationTask): the Migration record is created here,
before scheduling; the scheduler claims the destination's resources as it picks and
returns alternates; a reschedule takes the next alternate (claiming it) without
scheduling again. A failure also puts the migration in ``error``.
"""
from __future__ import annotations

import random
from functools import partial
from typing import Any, Generator

import simpy

from models import states
from models.exceptions import MaxRetriesExceeded, NoValidHost
from models.release import Release
from models.request import Request
from models.request_spec import RequestSpec, RequestSpecs
from models.scheduler import Selection
from models.service import NovaService, ServiceDeps, service_seconds
from models.steps import rpc_handler
from simulator.engine.bus import Message, MessagingTimeout
from simulator.engine.distributions import Sampler


class NovaConductor(NovaService):
    """nova-conductor's ComputeTaskManager: it schedules a move and hands it to the
    destination."""

    service = "nova-conductor"
    TOPIC = "conductor"

    def __init__(self, deps: ServiceDeps, host: str, workers: int, service_times: dict[str, Sampler],
                 rng: random.Random, *, conf: Any, release: Release, specs: RequestSpecs):
        super().__init__(deps, host, workers, service_times, rng)
        self.conf = conf
        self.release = release
        self.specs = specs
        #: object calls served for the computes: [writes, reads]
        self.objects_served = [0, 0]
        # wrap_instance_event(prefix='conductor') (Newton on), then EventReporter('cold_migrate')
        self.pool.timed = self._object_work
        self.events.names = {"migrate_server": ("conductor_migrate_server", "cold_migrate")
                                if release.conductor_migrate_server_event else ("cold_migrate",)}

    @rpc_handler("nova/conductor/manager.py", "ComputeTaskManager.migrate_server")
    def migrate_server(self, msg: Message) -> Generator[simpy.Event, Any, None]:
        req = msg.ctx
        nova = self.conf
        args = msg.args
        yield from self.busy("migrate_server", req)
        if self.release.conductor_creates_migration:
            yield from self._migration_task(msg)
            return
        # populate_retry: no retry bookkeeping at all when max_attempts is 1
        retry = args["retry"]
        if nova.max_attempts > 1:
            retry = retry or {"num_attempts": 0, "hosts": []}
            retry["num_attempts"] += 1
            if retry["num_attempts"] > nova.max_attempts:
                return self._no_valid_host(msg, self._max_retries(req))
        if self.superseded(req):
            return
        req.attempt = retry["num_attempts"] if retry else 1
        req.attempts = max(req.attempts, req.attempt)
        spec = self.specs.for_move(req.target, args["flavor"], ignore_hosts=args["ignore_hosts"],
                                   force_hosts=args["force_hosts"], retry=retry)
        selection = yield from self._select_destinations(msg, spec)
        if selection is None:
            return
        if retry is not None:
            retry["hosts"].append(selection.host)
        self._prep_resize(req, selection.host, dict(args, retry=retry))
        self.bus.reply(msg, self.who, value=req.dest)

    def _max_retries(self, req: Request) -> MaxRetriesExceeded:
        return MaxRetriesExceeded(
            f"Exceeded maximum number of retries. Exceeded max scheduling attempts "
            f"{self.conf.max_attempts} for instance {req.instance}.")

    def _select_destinations(self, msg: Message, spec: RequestSpec) -> Generator[simpy.Event, Any, Selection | None]:
        """Call the scheduler; return its selection, or None when the request ended."""
        req = msg.ctx
        nova = self.conf
        tries = 0
        timeout, monitor = self.release.long_call(nova)
        while True:
            req.enter("scheduler", self.env.now)
            try:
                selection = yield self.bus.call(self.who, "scheduler", "select_destinations",
                                                {"spec": spec}, req, timeout=timeout, monitor=monitor)
                req.allocation = None  # the claim is the migration's now
                return selection
            except MessagingTimeout as exc:
                tries += 1
                if not self.release.scheduler_client_retries:
                    if req.allocation is not None:
                        # MigrationTask's rollback puts the source allocation back on
                        # the instance, replacing the one the scheduler made meanwhile
                        host, flavor = req.allocation
                        req.allocation = None
                        self.hosts.release(host, flavor, self.env.now)
                    self._no_valid_host(msg, exc)
                    return None
                if tries < nova.max_attempts:
                    continue
                # Kilo: the timeout escapes without resetting the task state
                self.raised()
                self.book.finish(req, "stuck", "MessagingTimeout")
                if msg.kind == "call":
                    self.bus.reply(msg, self.who, error=exc)
                return None
            except NoValidHost as exc:
                self._no_valid_host(msg, exc)
                return None

    def _prep_resize(self, req: Request, dest: int, args: dict[str, Any]) -> None:
        name = self.hosts.names[dest]
        req.dest = name
        req.enter("prep_resize", self.env.now)
        self.bus.cast(self.who, f"compute.{name}", "prep_resize", args, req)

    def _migration_task(self, msg: Message) -> Generator[simpy.Event, Any, None]:
        """Modern Nova's MigrationTask: first scheduling, or the next alternate."""
        req = msg.ctx
        args = msg.args
        inst = req.target
        alternates = args.get("alternates")
        if alternates is None:  # first attempt: create the Migration, then schedule
            self.db.create_migration(inst, inst.host, -1, inst.flavor, args["flavor"], req)
            self.save(req, migration_status=states.PRE_MIGRATING)
            req.attempt = req.attempts = 1
            spec = self.specs.for_move(inst, args["flavor"], ignore_hosts=args["ignore_hosts"],
                                       force_hosts=args["force_hosts"])
            selection = yield from self._select_destinations(msg, spec)
            if selection is None:
                return
            dest, alternates = selection.host, list(selection.alternates)
            if self.superseded(req, (dest, args["flavor"])):
                return
        else:  # reschedule: claim the next alternate that still has room, in placement
            dest = None
            while alternates:
                candidate = alternates.pop(0)
                if self.hosts.shortfall(candidate, args["flavor"], ("ram", "vcpu", "disk")) is None:
                    self.hosts.take(candidate, args["flavor"], self.env.now)
                    dest = candidate
                    break
            if dest is None:
                self._no_valid_host(msg, self._max_retries(req))
                return
            req.attempt += 1
            req.attempts = req.attempt
        inst.migration.dest = dest
        self._prep_resize(req, dest, dict(args, alternates=alternates))
        if msg.kind == "call":
            self.bus.reply(msg, self.who, value=req.dest)

    # -- the computes' object traffic (models.object_calls) -----------------------------
    # (their work is timed by the worker pool itself, ``_object_work``: no process each)
    @rpc_handler("nova/conductor/manager.py", "ConductorManager.object_action")
    def object_action(self, msg: Message) -> Generator[simpy.Event, Any, None]:
        """A compute's object saves (and the reads made with them): each is charged
        ``object_action``'s (a read ``object_class_action``'s) service time."""
        yield from self._serve_objects(msg)

    @rpc_handler("nova/conductor/manager.py", "ConductorManager.object_class_action")
    def object_class_action(self, msg: Message) -> Generator[simpy.Event, Any, None]:
        """A compute's object reads (modern ``object_class_action_versions``)."""
        yield from self._serve_objects(msg)

    def _serve_objects(self, msg: Message) -> Generator[simpy.Event, Any, None]:
        seconds, then, _ = self._object_work(msg)
        yield self.env.timeout(seconds)
        if then is not None:
            then()

    def _object_work(self, msg: Message) -> tuple[float, Any, bool] | None:
        """For the worker pool: (the seconds the objects of ``msg`` take, the reply to
        send then, whether it is background work); None for another message."""
        if not msg.method.startswith("object_"):
            return None
        msg.ctx.queue_wait += msg.wait
        args = msg.args
        periodic = args.get("periodic")
        if periodic is not None:  # the reports and audits of a second, each expiring on its own
            (reports, audits), (report_ttl, audit_ttl) = periodic, args["expires"]
            live = audits if msg.wait < audit_ttl else 0
            writes, reads = (reports if msg.wait < report_ttl else 0) + live, 2 * live
        else:
            ttl = args["expires"]
            if ttl is not None and msg.wait >= ttl:
                # expired in the queue: oslo.messaging gives a call's message its timeout as TTL
                return 0.0, None, msg.background
            writes, reads = args["calls"].writes, args["calls"].reads
        self.objects_served[0] += writes
        self.objects_served[1] += reads
        seconds = (service_seconds(self, "object_action", msg.ctx, writes) if writes else 0.0) + \
            (service_seconds(self, "object_class_action", msg.ctx, reads) if reads else 0.0)
        then = partial(self.bus.reply, msg, self.who) if msg.kind == "call" else None
        return seconds, then, msg.background

    def _no_valid_host(self, msg: Message, error: Exception) -> None:
        req = msg.ctx
        changes: dict[str, Any] = {"task_state": None}
        if (self.release.conductor_creates_migration and req.target.migration is not None
                and req.target.migration.request is req):
            changes["migration_status"] = states.MIGRATION_ERROR
        self.save(req, **changes)
        self.fault(req, error)
        self.notify(req, "compute_task.migrate_server.error", error=type(error).__name__)
        self.raised()
        if msg.sender[0] == "nova-api":
            # a reschedule's caller (the destination) ends the request itself
            self.book.finish(req, "error", type(error).__name__)
        if msg.kind == "call":
            self.bus.reply(msg, self.who, error=error)
