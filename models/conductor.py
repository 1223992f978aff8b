"""nova-conductor: ``ComputeTaskManager.migrate_server`` → ``_cold_migrate``.

Counts the attempt (``populate_retry``), asks the scheduler by a blocking
``select_destinations`` call (retried on MessagingTimeout, as Kilo's scheduler client
does), casts ``prep_resize`` to the chosen host and replies. NoValidHost and
MaxRetriesExceeded end the request as Kilo ends it: ``task_state`` back to None,
vm_state unchanged, an instance fault and ``compute_task.migrate_server.error``.
"""
from __future__ import annotations

from typing import Any, Generator

import simpy

from models.scheduler import MaxRetriesExceeded, NoValidHost, RequestSpec
from models.service import NovaService
from simulator.bus import Message, MessagingTimeout


class NovaConductor(NovaService):
    service = "nova-conductor"

    def migrate_server(self, msg: Message) -> Generator[simpy.Event, Any, None]:
        req = msg.ctx
        cloud = self.cloud
        nova = cloud.nova
        args = msg.args
        yield from self.busy("migrate_server")
        # populate_retry: no retry bookkeeping at all when max_attempts is 1
        retry = args["retry"]
        if nova.max_attempts > 1:
            retry = retry or {"num_attempts": 0, "hosts": []}
            retry["num_attempts"] += 1
            if retry["num_attempts"] > nova.max_attempts:
                error = MaxRetriesExceeded(
                    f"Exceeded maximum number of retries. Exceeded max scheduling attempts "
                    f"{nova.max_attempts} for instance {req.instance}.")
                return self._no_valid_host(msg, error)
        req.attempt = retry["num_attempts"] if retry else 1
        req.attempts = max(req.attempts, req.attempt)
        spec = RequestSpec(args["flavor"], instance_flavor=req.target.flavor,
                           ignore_hosts=args["ignore_hosts"],
                           force_hosts=args["force_hosts"],
                           retry_hosts=list(retry["hosts"]) if retry else [],
                           num_attempts=req.attempt)
        tries = 0
        while True:
            req.enter("scheduler", self.env.now)
            try:
                selection = yield cloud.bus.call(self.who, "scheduler", "select_destinations",
                                                 {"spec": spec}, req, timeout=nova.rpc_response_timeout)
                break
            except MessagingTimeout as exc:
                tries += 1
                if tries < nova.max_attempts:
                    continue
                # Kilo: the timeout escapes without resetting the task state
                cloud.finish(req, "stuck", "MessagingTimeout")
                cloud.bus.reply(msg, self.who, error=exc)
                return
            except NoValidHost as exc:
                return self._no_valid_host(msg, exc)
        if retry is not None:
            retry["hosts"].append(selection.host)
        dest = cloud.hosts.names[selection.host]
        req.dest = dest
        req.enter("prep_resize", self.env.now)
        cloud.bus.cast(self.who, f"compute.{dest}", "prep_resize",
                       {"flavor": args["flavor"], "ignore_hosts": args["ignore_hosts"],
                        "force_hosts": args["force_hosts"], "retry": retry}, req)
        cloud.bus.reply(msg, self.who, value=dest)

    def _no_valid_host(self, msg: Message, error: NoValidHost) -> None:
        req = msg.ctx
        self.save(req, task_state=None)
        self.fault(req, error)
        self.notify(req, "compute_task.migrate_server.error", error=type(error).__name__)
        if msg.sender[0] == "nova-api":
            # a reschedule's caller (the destination) ends the request itself
            self.cloud.finish(req, "error", type(error).__name__)
        self.cloud.bus.reply(msg, self.who, error=error)
