"""nova-api: ``API.resize`` (resize and cold migrate), ``API.confirm_resize`` and
``API.revert_resize``.

The API's workers serve HTTP requests. A resize or migrate is checked (instance
state, flavor, the project's quota for an upsize), marked ``resize_prep`` and handed
to the conductor: in Kilo by a blocking ``migrate_server`` call, the worker waiting
through scheduling, answering 202, or 400 for NoValidHost, or 500 when the conductor
did not reply within ``rpc_response_timeout``; in modern Nova by a cast, answering 202
at once. A busy instance is refused with 409, an over-quota upsize with 403.
"""
from __future__ import annotations

from typing import Any, Generator

import simpy

from models import states
from models.quota import Quotas, TooManyInstances
from models.scheduler import NoValidHost
from models.service import NovaService
from simulator.bus import Message, MessagingTimeout


class InstanceInvalidState(Exception):
    """409: the instance is not ACTIVE/STOPPED with no task (or not RESIZED to confirm)."""


class CannotResizeToSameFlavor(Exception):
    """400: a resize to the flavor the instance already has."""


class NovaAPI(NovaService):
    service = "nova-api"

    def http(self, method: str, req: Any) -> None:
        """A user's HTTP request arrives (resize / migrate / confirm / revert)."""
        msg = Message(self.cloud.bus.next_id(), "http", "osapi_compute", method, {}, req,
                      ("client", None), self.env.now)
        self.cloud.recorder.emit(self.env.now, req.request, req.instance, "client", None,
                                 "http.request", method, to_service=self.service, to_host=self.host,
                                 msg=msg.id, arrives=round(self.env.now, 6),
                                 vm_state=req.target.vm_state, task_state=req.target.task_state)
        self.deliver(msg)

    def respond(self, req: Any, method: str, status: int, error: str | None = None) -> None:
        self.cloud.recorder.emit(self.env.now, req.request, req.instance, self.service, self.host,
                                 "http.response", method, status=status, error=error)

    def resize(self, msg: Message) -> Generator[simpy.Event, Any, None]:
        """API.resize: for a migrate ``flavor_new`` is the instance's own flavor."""
        req = msg.ctx
        cloud = self.cloud
        inst = req.target
        yield from self.busy("resize", req)
        req.flavor_old = inst.flavor.name
        req.source = cloud.hosts.names[inst.host]
        if not inst.accepts_move:
            error = InstanceInvalidState(
                f"Cannot 'resize' instance {inst.name} while it is in vm_state {inst.vm_state}"
                f", task_state {inst.task_state}")
            return self._reject(req, 409, error)
        if req.op == "resize":
            new = cloud.flavors[req.flavor_new]
            if new.name == inst.flavor.name:
                return self._reject(req, 400, CannotResizeToSameFlavor("When resizing, instances must change flavor!"))
            delta = Quotas.upsize_delta(inst.flavor, new)
            try:
                cloud.quotas.reserve(inst.project, delta)
            except TooManyInstances as exc:
                return self._reject(req, 403, exc)
            req.quota_delta = delta
        else:
            new = inst.flavor
            req.flavor_new = new.name
        nova = cloud.nova
        ignore: list[int] = []
        if not nova.allow_resize_to_same_host:
            ignore.append(inst.host)
        if req.op == "migrate" and inst.host not in ignore and (cloud.modern or not nova.allow_migrate_to_same_host):
            ignore.append(inst.host)  # modern Nova never keeps a cold migration on its host
        force = [cloud.hosts.index[req.requested_host]] if req.requested_host else []
        inst.migration = None
        inst.request = req
        inst.old_vm_state = inst.vm_state  # system_metadata['old_vm_state']
        self.save(req, task_state=states.RESIZE_PREP)
        req.enter("conductor", self.env.now)
        args = {"flavor": new, "ignore_hosts": ignore, "force_hosts": force, "retry": None}
        if cloud.modern:
            cloud.bus.cast(self.who, "conductor", "migrate_server", args, req)
            self._answer(req, 202)
            return
        try:
            yield cloud.bus.call(self.who, "conductor", "migrate_server", args, req,
                                 timeout=nova.rpc_response_timeout)
        except NoValidHost as exc:
            self._answer(req, 400, type(exc).__name__)
        except MessagingTimeout:
            self._answer(req, 500, "MessagingTimeout")
            cloud.api_timed_out(req)
        else:
            self._answer(req, 202)

    def _answer(self, req: Any, status: int, error: str | None = None) -> None:
        req.http_status = status
        self.respond(req, "resize", status, error)
        self.cloud.answered(req)

    def _reject(self, req: Any, status: int, error: Exception) -> None:
        self._answer(req, status, type(error).__name__)
        self.cloud.db.release(req.target)  # a refused request changes nothing
        self.cloud.finish(req, "rejected", type(error).__name__)

    def _verify_resize_state(self, req: Any, method: str) -> Any:
        """The checks of confirm and revert: the instance is RESIZED (else 409) and its
        migration is ``finished`` (else 400, MigrationNotFoundByStatus)."""
        inst = req.target
        m = inst.migration
        if inst.vm_state != states.RESIZED or m is None or m.request is not req:
            self.respond(req, method, 409, "InstanceInvalidState")
            return None
        if m.status != states.FINISHED:
            self.respond(req, method, 400, "MigrationNotFoundByStatus")
            return None
        return m

    def confirm_resize(self, msg: Message) -> Generator[simpy.Event, Any, None]:
        """API.confirm_resize: migration ``confirming``, then a cast to the source
        (modern: refused with 409 while the source's nova-compute is seen down)."""
        req = msg.ctx
        yield from self.busy("confirm_resize", req)
        m = self._verify_resize_state(req, "confirm_resize")
        if m is not None and self.cloud.modern and not self.cloud.compute_seen_up(m.source):
            # modern Nova checks the source's service first (reference section 10)
            self.respond(req, "confirm_resize", 409, "ServiceUnavailable")
        elif m is not None:
            req.confirm_started = msg.enqueued_at  # the confirm is timed from its arrival
            self.cloud.start_confirm(self.who, req)
            self.respond(req, "confirm_resize", 204)
        self.cloud.action_done(req)

    def revert_resize(self, msg: Message) -> Generator[simpy.Event, Any, None]:
        """API.revert_resize: ``resize_reverting``, migration ``reverting``, then a cast
        to the destination."""
        req = msg.ctx
        yield from self.busy("revert_resize", req)
        m = self._verify_resize_state(req, "revert_resize")
        self.cloud.action_done(req)
        if m is None:
            return
        req.revert_started = msg.enqueued_at
        self.save(req, task_state=states.RESIZE_REVERTING)
        self.save(req, migration_status=states.REVERTING)
        self.cloud.bus.cast(self.who, f"compute.{self.cloud.hosts.names[m.dest]}", "revert_resize", {}, req)
        self.respond(req, "revert_resize", 202)
