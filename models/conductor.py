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

from typing import Any, Generator

import simpy

from models import states
from models.scheduler import MaxRetriesExceeded, NoValidHost
from models.service import NovaService
from simulator.bus import Message, MessagingTimeout


class NovaConductor(NovaService):
    service = "nova-conductor"

    def migrate_server(self, msg: Message) -> Generator[simpy.Event, Any, None]:
        req = msg.ctx
        cloud = self.cloud
        nova = cloud.nova
        args = msg.args
        yield from self.busy("migrate_server", req)
        if cloud.modern:
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
        spec = cloud.request_spec(req.target, args["flavor"], ignore_hosts=args["ignore_hosts"],
                                  force_hosts=args["force_hosts"], retry=retry)
        selection = yield from self._select_destinations(msg, spec)
        if selection is None:
            return
        if retry is not None:
            retry["hosts"].append(selection.host)
        self._prep_resize(req, selection.host, dict(args, retry=retry))
        cloud.bus.reply(msg, self.who, value=req.dest)

    def _max_retries(self, req: Any) -> MaxRetriesExceeded:
        return MaxRetriesExceeded(
            f"Exceeded maximum number of retries. Exceeded max scheduling attempts "
            f"{self.cloud.nova.max_attempts} for instance {req.instance}.")

    def _select_destinations(self, msg: Message, spec: Any) -> Generator[simpy.Event, Any, Any]:
        """Call the scheduler; return its selection, or None when the request ended."""
        req = msg.ctx
        cloud = self.cloud
        nova = cloud.nova
        tries = 0
        while True:
            req.enter("scheduler", self.env.now)
            try:
                selection = yield cloud.bus.call(self.who, "scheduler", "select_destinations",
                                                 {"spec": spec}, req, timeout=nova.rpc_response_timeout)
                req.allocation = None  # the claim is the migration's now
                return selection
            except MessagingTimeout as exc:
                tries += 1
                if cloud.modern:
                    if req.allocation is not None:
                        # MigrationTask's rollback puts the source allocation back on
                        # the instance, replacing the one the scheduler made meanwhile
                        host, flavor = req.allocation
                        req.allocation = None
                        cloud.hosts.release(host, flavor, self.env.now)
                    self._no_valid_host(msg, exc)
                    return None
                if tries < nova.max_attempts:
                    continue
                # Kilo: the timeout escapes without resetting the task state
                cloud.finish(req, "stuck", "MessagingTimeout")
                if msg.kind == "call":
                    cloud.bus.reply(msg, self.who, error=exc)
                return None
            except NoValidHost as exc:
                self._no_valid_host(msg, exc)
                return None

    def _prep_resize(self, req: Any, dest: int, args: dict[str, Any]) -> None:
        name = self.cloud.hosts.names[dest]
        req.dest = name
        req.enter("prep_resize", self.env.now)
        self.cloud.bus.cast(self.who, f"compute.{name}", "prep_resize", args, req)

    def _migration_task(self, msg: Message) -> Generator[simpy.Event, Any, None]:
        """Modern Nova's MigrationTask: first scheduling, or the next alternate."""
        req = msg.ctx
        cloud = self.cloud
        args = msg.args
        inst = req.target
        alternates = args.get("alternates")
        if alternates is None:  # first attempt: create the Migration, then schedule
            cloud.db.create_migration(inst, inst.host, -1, inst.flavor, args["flavor"], req)
            self.save(req, migration_status=states.PRE_MIGRATING)
            req.attempt = req.attempts = 1
            spec = cloud.request_spec(inst, args["flavor"], ignore_hosts=args["ignore_hosts"],
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
                if cloud.hosts.shortfall(candidate, args["flavor"], ("ram", "vcpu", "disk")) is None:
                    cloud.hosts.take(candidate, args["flavor"], self.env.now)
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
            cloud.bus.reply(msg, self.who, value=req.dest)

    def _no_valid_host(self, msg: Message, error: Exception) -> None:
        req = msg.ctx
        cloud = self.cloud
        changes: dict[str, Any] = {"task_state": None}
        if cloud.modern and req.target.migration is not None and req.target.migration.request is req:
            changes["migration_status"] = states.MIGRATION_ERROR
        self.save(req, **changes)
        self.fault(req, error)
        self.notify(req, "compute_task.migrate_server.error", error=type(error).__name__)
        if msg.sender[0] == "nova-api":
            # a reschedule's caller (the destination) ends the request itself
            cloud.finish(req, "error", type(error).__name__)
        if msg.kind == "call":
            cloud.bus.reply(msg, self.who, error=error)
