"""nova-api: ``API.resize`` (resize and cold migrate), ``API.confirm_resize`` and
``API.revert_resize``.

The API's workers serve HTTP requests. A resize or migrate is checked (instance
state, flavor, the project's quota for an upsize), marked ``resize_prep`` and handed
to the conductor: in Kilo by a blocking ``migrate_server`` call, the worker waiting
through scheduling, answering 202, or 400 for NoValidHost, or 500 when the conductor
did not reply within ``rpc_response_timeout``; in modern Nova by a cast, answering 202
at once. A busy instance is refused with 409 (modern Nova: also one whose source
nova-compute is seen down), an over-quota upsize with 403.
"""
from __future__ import annotations

import random
from typing import Any, Generator

import simpy

from models import states
from models.exceptions import (CannotResizeToSameFlavor, InstanceInvalidState, NoValidHost, ServiceUnavailable,
                               TooManyInstances)
from models.instance_actions import CONFIRM_RESIZE, MIGRATE, RESIZE, REVERT_RESIZE
from models.liveness import Liveness
from models.objects import Flavor, Migration
from models.quota import Quotas
from models.release import Release
from models.request import Request
from models.service import NovaService, ServiceDeps
from models.steps import rpc_handler
from simulator.engine.bus import Message, MessagingTimeout
from simulator.engine.distributions import Sampler

API_PY = "nova/compute/api.py"


class NovaAPI(NovaService):
    """nova-api's compute API: it reads the instance and flavor records, checks the
    project's quota, and hands the move to nova-conductor (or the confirm and revert
    to the computes)."""

    service = "nova-api"

    def __init__(self, deps: ServiceDeps, host: str, workers: int, service_times: dict[str, Sampler],
                 rng: random.Random, *, conf: Any, release: Release, flavors: dict[str, Flavor],
                 quotas: Quotas, liveness: Liveness):
        super().__init__(deps, host, workers, service_times, rng)
        self.conf = conf
        self.release = release
        self.flavors = flavors
        self.quotas = quotas
        self.liveness = liveness

    def http(self, method: str, req: Request) -> None:
        """A user's HTTP request arrives (resize / migrate / confirm / revert)."""
        if not self.handles(method):
            raise LookupError(f"nova-api has no operation {method!r}")
        msg = Message(self.bus.next_id(), "http", "osapi_compute", method, {}, req,
                      ("client", None), self.env.now)
        self.trace.emit(self.env.now, req.request, req.instance, "client", None,
                                 "http.request", method, to_service=self.service, to_host=self.host,
                                 msg=msg.id, arrives=round(self.env.now, 6),
                                 vm_state=req.target.vm_state, task_state=req.target.task_state)
        self.deliver(msg)

    def respond(self, req: Request, method: str, status: int, error: str | None = None) -> None:
        self.trace.emit(self.env.now, req.request, req.instance, self.service, self.host,
                                 "http.response", method, status=status, error=error)

    @rpc_handler(API_PY, "API.resize")
    def resize(self, msg: Message) -> Generator[simpy.Event, Any, None]:
        """API.resize: for a migrate ``flavor_new`` is the instance's own flavor."""
        req = msg.ctx
        inst = req.target
        yield from self.busy("resize", req)
        req.flavor_old = inst.flavor.name
        req.source = self.hosts.names[inst.host]
        if not inst.accepts_move:
            error = InstanceInvalidState(
                f"Cannot 'resize' instance {inst.name} while it is in vm_state {inst.vm_state}"
                f", task_state {inst.task_state}")
            return self._reject(req, 409, error)
        if self.release.resize_checks_source_service and not self.liveness.seen_up(inst.host, self.env.now):
            # modern check_instance_host(check_is_up=True), after the state check
            return self._reject(req, 409, ServiceUnavailable(
                f"Service is unavailable at this time: nova-compute on {req.source} is down"))
        if req.op == "resize":
            new = self.flavors[req.flavor_new]
            if inst.flavor.volume_root:  # claimed as the instance's flavor is
                new = new.volume_backed()
            if new.name == inst.flavor.name:
                return self._reject(req, 400, CannotResizeToSameFlavor("When resizing, instances must change flavor!"))
            try:  # Kilo reserves the upsize; modern counts (check_deltas)
                req.quota_delta = self.quotas.reserve(inst.project, Quotas.upsize_delta(inst.flavor, new))
            except TooManyInstances as exc:
                return self._reject(req, 403, exc)
        else:
            new = inst.flavor
            req.flavor_new = new.name
        nova = self.conf
        ignore: list[int] = []
        if not nova.allow_resize_to_same_host:
            ignore.append(inst.host)
        if req.op == "migrate" and inst.host not in ignore and (
                not self.release.migrate_honours_same_host_option or not nova.allow_migrate_to_same_host):
            ignore.append(inst.host)  # modern Nova never keeps a cold migration on its host
        force = [self.hosts.index[req.requested_host]] if req.requested_host else []
        inst.migration = None
        inst.request = req
        inst.old_vm_state = inst.vm_state  # system_metadata['old_vm_state']
        self.save(req, task_state=states.RESIZE_PREP)
        req.request_id = self.actions.new_request_id()
        self.actions.action_start(req.request, inst.name, MIGRATE if req.op == "migrate" else RESIZE,
                                  req.request_id, self.env.now)
        req.enter("conductor", self.env.now)
        args = {"flavor": new, "ignore_hosts": ignore, "force_hosts": force, "retry": None}
        if not self.release.api_waits_for_conductor:
            self.bus.cast(self.who, "conductor", "migrate_server", args, req)
            self._answer(req, 202)
            return
        try:
            yield self.bus.call(self.who, "conductor", "migrate_server", args, req,
                                timeout=nova.rpc_response_timeout)
        except NoValidHost as exc:
            self._answer(req, 400, type(exc).__name__)
        except MessagingTimeout:
            self._answer(req, 500, "MessagingTimeout")
            self.book.api_timed_out(req)
        else:
            self._answer(req, 202)

    def _answer(self, req: Request, status: int, error: str | None = None) -> None:
        req.http_status = status
        self.respond(req, "resize", status, error)
        self.book.answered(req)

    def _reject(self, req: Request, status: int, error: Exception) -> None:
        self._answer(req, status, type(error).__name__)
        self.db.release(req.target)  # a refused request changes nothing
        self.book.finish(req, "rejected", type(error).__name__)

    def _verify_resize_state(self, req: Request, method: str) -> Migration | None:
        """The checks of confirm and revert: the instance is RESIZED with no task in
        progress (``check_instance_state``, else 409) and its migration is ``finished``
        (else 400, MigrationNotFoundByStatus)."""
        inst = req.target
        m = inst.migration
        if inst.vm_state != states.RESIZED or inst.task_state is not None or m is None or m.request is not req:
            self.respond(req, method, 409, "InstanceInvalidState")
            return None
        if m.status != states.FINISHED:
            self.respond(req, method, 400, "MigrationNotFoundByStatus")
            return None
        return m

    @rpc_handler(API_PY, "API.confirm_resize")
    def confirm_resize(self, msg: Message) -> Generator[simpy.Event, Any, None]:
        """API.confirm_resize: migration ``confirming``, then a cast to the source
        (modern: refused with 409 while the source's nova-compute is seen down)."""
        req = msg.ctx
        yield from self.busy("confirm_resize", req)
        m = self._verify_resize_state(req, "confirm_resize")
        if m is not None and self.release.confirm_checks_source_service \
                and not self.liveness.seen_up(m.source, self.env.now):
            # modern Nova checks the source's service first (reference section 10)
            self.respond(req, "confirm_resize", 409, "ServiceUnavailable")
        elif m is not None:
            req.confirm_started = msg.enqueued_at  # the confirm is timed from its arrival
            self.start_confirm(self.who, req, self.actions.new_request_id())
            self.respond(req, "confirm_resize", 204)
        self.book.action_done(req)

    def start_confirm(self, who: tuple[str, str | None], req: Request, request_id: str) -> None:
        """The effect of API.confirm_resize, for nova-api itself or for a compute's
        auto-confirm task (which calls the compute API, as Nova's does): migration
        ``confirming``, the ``confirmResize`` action under ``request_id`` (the caller's
        context), a cast of ``confirm_resize`` to the source."""
        inst = req.target
        m = inst.migration
        if req.confirm_started is None:
            req.confirm_started = self.env.now
        self.db.save(self.env.now, who, inst, req, migration_status=states.CONFIRMING)
        req.request_id = request_id
        self.actions.action_start(req.request, inst.name, CONFIRM_RESIZE, request_id, self.env.now)
        self.bus.cast(who, f"compute.{self.hosts.names[m.source]}", "confirm_resize", {}, req)

    @rpc_handler(API_PY, "API.revert_resize")
    def revert_resize(self, msg: Message) -> Generator[simpy.Event, Any, None]:
        """API.revert_resize: ``resize_reverting``, migration ``reverting``, then a cast
        to the destination."""
        req = msg.ctx
        yield from self.busy("revert_resize", req)
        m = self._verify_resize_state(req, "revert_resize")
        self.book.action_done(req)
        if m is None:
            return
        if self.quotas.counted:
            # modern re-checks the way back (a downsize's revert grows again); the
            # revert handler maps no quota error: HTTP 500
            try:
                self.quotas.check(req.target.project, Quotas.upsize_delta(req.target.flavor, m.old_flavor))
            except TooManyInstances as exc:
                self.respond(req, "revert_resize", 500, type(exc).__name__)
                return
        req.revert_started = msg.enqueued_at
        self.save(req, task_state=states.RESIZE_REVERTING)
        self.save(req, migration_status=states.REVERTING)
        req.request_id = self.actions.new_request_id()
        self.actions.action_start(req.request, req.target.name, REVERT_RESIZE, req.request_id, self.env.now)
        self.bus.cast(self.who, f"compute.{self.hosts.names[m.dest]}", "revert_resize", {}, req)
        self.respond(req, "revert_resize", 202)
