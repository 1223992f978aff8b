"""nova-compute on one host: the destination's ``prep_resize`` and ``finish_resize``,
the source's ``resize_instance`` and ``confirm_resize``, the revert's two halves, the
operator's hard reboot, ``init_host`` at a restart, and the periodic
``_poll_unconfirmed_resizes`` that auto-confirms (``models.auto_confirm``).

Each handler runs on one of the host's RPC executor threads and records states and
notifications at the points where Nova's ComputeManager records them. A failed
resize claim reschedules as Kilo does: the destination calls the conductor's
``migrate_server`` with the retry counter; when that call fails (attempts exhausted)
the instance ends in ERROR. The other ways a move fails end as Nova's decorators end
them (``models.compute_failures``).
"""
from __future__ import annotations

import random
from typing import Any, Generator

import simpy

from models import states
from models.auto_confirm import ConfirmBacklog, UnconfirmedResizes
from models.compute_failures import MoveFailures
from models.driver import LibvirtDriver
from models.exceptions import (ComputeResourcesUnavailable, NoValidHost, RESET_ON_STARTUP,
                               ResizeError)
from models.liveness import Liveness
from models.network import CopyStalled
from models.object_calls import ConductorUnreachable, ObjectIndirection
from models.release import Release
from models.request import Request
from models.resource_audit import ResourceAudit
from models.service import NovaService, ServiceDeps
from models.steps import rpc_handler
from simulator.engine.bus import Message, MessagingTimeout
from simulator.engine.distributions import Sampler

MANAGER_PY = "nova/compute/manager.py"


class NovaCompute(MoveFailures, UnconfirmedResizes, ObjectIndirection, NovaService):
    """nova-compute's ComputeManager on one host."""

    service = "nova-compute"
    TOPIC = "compute.{host}"
    INSTANCE_EVENTS = {m: (f"compute_{m}",) for m in (
        "prep_resize", "resize_instance", "finish_resize", "confirm_resize", "revert_resize",
        "finish_revert_resize")}

    def __init__(self, deps: ServiceDeps, index: int, host: str, workers: int, service_times: dict[str, Sampler],
                 rng: random.Random, *, conf: Any, release: Release, driver: LibvirtDriver,
                 claim_tests: tuple[str, ...], liveness: Liveness, compute_api: Any,
                 backlog: ConfirmBacklog, audit: ResourceAudit):
        super().__init__(deps, host, workers, service_times, rng)
        self.index = index
        self.conf = conf
        self.release = release
        self.driver = driver
        #: the resources the resize claim tests (those whose filter set a limit)
        self.claim_tests = claim_tests
        self.liveness = liveness
        #: nova-api's compute API, which the auto-confirm calls (as Nova's does)
        self.compute_api = compute_api
        self.backlog = backlog
        self.audit = audit
        #: the object calls of each step (None: ``[conductor] use_local``)
        self.object_steps = None if conf.use_local else release.object_calls
        #: first run of the periodic tasks: a random whole-second fuzzy delay (oslo.service)
        self.periodic_offset = float(self.rng.randint(0, int(conf.periodic_fuzzy_delay)))
        self._autoconfirm_ticks: dict[float, list[Any]] = {}

    # -- destination: prep_resize ------------------------------------------------------
    @rpc_handler(MANAGER_PY, "ComputeManager.prep_resize")
    def prep_resize(self, msg: Message) -> Generator[simpy.Event, Any, None]:
        req = msg.ctx
        inst = req.target
        flavor = msg.args["flavor"]
        yield from self.busy("prep_resize", req)
        # in modern Nova placement already holds this request's allocation here
        if self.superseded(req, (self.index, msg.args["flavor"]) if self.release.placement else None):
            return
        self.notify(req, "instance.exists")
        self.notify(req, "instance.resize_prep.start")
        source = inst.host
        if self.release.placement:
            # placement holds the allocation already (claimed by the scheduler); the
            # resource tracker's claim tests no limits of its own and the Migration
            # exists; the claim writes the compute node record
            short = self.hosts.shortfall(self.index, flavor, self.claim_tests)
            if short is not None:
                self.hosts.release(self.index, flavor, self.env.now)  # the allocation goes
                exc = ComputeResourcesUnavailable(f"Insufficient compute resources: {short} on {self.host}")
                self.step(req, "resize_claim", "end", ok=False, message=str(exc))
                yield from self._reschedule_resize_or_reraise(msg, exc)
                return
            self.step(req, "resize_claim", "end", ok=True)
            self.hosts.written_at[self.index] = self.env.now
        else:
            try:
                # _prep_resize → ResourceTracker.resize_claim (tests the filters' limits)
                self.hosts.claim(self.index, flavor, self.env.now, self.claim_tests)
            except ComputeResourcesUnavailable as exc:
                self.step(req, "resize_claim", "end", ok=False, message=str(exc))
                yield from self._reschedule_resize_or_reraise(msg, exc)
                return
            self.step(req, "resize_claim", "end", ok=True)
        try:
            # (the claim taken here, Kilo's, is this handler's to give back if superseded)
            if not (yield from self.objects(req, "prep_resize", None if self.release.placement else (self.index, flavor))):
                return
        except ConductorUnreachable:
            if not self.release.placement:  # Kilo: the exception leaves resize_claim, which aborts
                self.hosts.release(self.index, flavor, self.env.now)
            raise
        if not self.release.conductor_creates_migration:
            self.db.create_migration(inst, source, self.index, inst.flavor, flavor, req)
        self.save(req, migration_status=states.PRE_MIGRATING, claimed=self.host)
        req.enter("resize_instance", self.env.now)
        self.bus.cast(self.who, f"compute.{self.hosts.names[source]}", "resize_instance", {}, req)
        self.notify(req, "instance.resize_prep.end")

    def _reschedule_resize_or_reraise(self, msg: Message, error: Exception) -> Generator[simpy.Event, Any, None]:
        req = msg.ctx
        yield from self.objects(req, "reschedule", check=False)  # its claim is given back already
        self.save(req, task_state=states.RESIZE_PREP)
        retry = msg.args.get("alternates") if self.release.placement else msg.args["retry"]
        rescheduled = False
        mine = req.attempt
        if retry is not None:
            req.enter("conductor", self.env.now)
            timeout, monitor = self.release.long_call(self.conf)
            try:
                yield self.bus.call(self.who, "conductor", "migrate_server", msg.args, req,
                                    timeout=timeout, monitor=monitor)
                rescheduled = True
            except (NoValidHost, MessagingTimeout) as exc:  # MaxRetriesExceeded is a NoValidHost
                self.fault(req, exc)
                self.notify(req, "instance.resize.error", error=type(exc).__name__)
                reason = type(exc).__name__
        if rescheduled:
            # what follows on this host belongs to this attempt, not the next one
            following, req.attempt = req.attempt, mine
            self.fault(req, error)
            self.notify(req, "instance.resize.error", error=type(error).__name__)
            self.notify(req, "instance.resize_prep.end")
            req.attempt = following
            return
        if retry is None:
            reason = type(error).__name__
        self.notify(req, "instance.resize_prep.end")
        # the claim's failure is re-raised: _error_out_instance_on_exception sets
        # vm_state ERROR, @wrap_instance_fault records it, @reverts_task_state clears
        # the task state, @wrap_exception notifies
        m = req.target.migration
        if (self.release.conductor_creates_migration and m is not None and m.request is req
                and m.status != states.MIGRATION_ERROR):
            self.save(req, vm_state=states.ERROR, migration_status=states.MIGRATION_ERROR)
        else:
            self.save(req, vm_state=states.ERROR)
        self.fault(req, error)
        if req.target.task_state is not None:
            self.save(req, task_state=None)
        self.notify(req, "compute.exception", error=type(error).__name__)
        self.raised()
        self.objects_sent(req, "failure")
        self.book.finish(req, "error", reason)

    # -- source: resize_instance -----------------------------------------------------
    @rpc_handler(MANAGER_PY, "ComputeManager.resize_instance")
    def resize_instance(self, msg: Message) -> Generator[simpy.Event, Any, None]:
        req = msg.ctx
        inst = req.target
        m = inst.migration
        yield from self.busy("resize_instance", req)
        if self.superseded(req):
            return
        if not (yield from self.objects(req, "resize_instance")):
            return
        self.save(req, migration_status=states.MIGRATING)
        if inst.task_state != states.RESIZE_PREP:
            # e.g. a late cast after the request was given up: the save expecting
            # resize_prep fails and the instance is errored out, the guest untouched
            return self._unexpected_task_state(req, states.RESIZE_PREP)
        self.save(req, task_state=states.RESIZE_MIGRATING)
        self.notify(req, "instance.resize.start")
        # driver.migrate_disk_and_power_off
        faults = self.faults
        refused, failure = self._refused_before_power_off(req, m)
        if refused is not None:
            # InstanceFaultRollback restores ACTIVE (Kilo) or the vm_state it had (modern)
            return self._rollback(req, refused, inst.old_vm_state if self.release.rollback_keeps_vm_state
                                  else states.ACTIVE)
        driver = self.driver
        hung = inst.power_on and bool(faults and faults.power_off_failure(m.source, self.env.now))
        req.enter("power_off", self.env.now)
        self.step(req, "power_off", "start")
        result = yield from driver.power_off(inst, hung)
        self.step(req, "power_off", "end", seconds=result.seconds, hard=result.hard,
                  acpi_requests=result.requests, **({"failed": True} if hung else {}))
        if hung:
            return self._power_off_failed(req)
        inst.power_on = False
        req.enter("disk_copy", self.env.now)
        self.step(req, "copy_disks", "start", to_host=self.hosts.names[m.dest], gib=inst.disk_used_gb)
        fail_at = faults.rng.random() if failure == "disk_full" else None
        t0 = self.env.now
        stalled = None
        try:
            seconds = yield from driver.copy_disks(req, inst, m.source, m.dest, m.old_flavor, m.new_flavor, fail_at)
        except CopyStalled as exc:  # the route stayed down: scp / rsync gives up
            stalled, seconds = exc, self.env.now - t0
        self.step(req, "copy_disks", "end", seconds=round(seconds, 6),
                  failed=stalled is not None or fail_at is not None)
        if not self._still_expected(req, states.RESIZE_MIGRATING):
            return
        if stalled is not None or fail_at is not None:
            return self._copy_failed(req, fail_at, None) if stalled is None else \
                self._copy_failed(req, None, str(stalled))
        req.enter("resize_instance", self.env.now)
        if not (yield from self.objects(req, "resize_instance.end")):
            return
        self.save(req, migration_status=states.POST_MIGRATING)
        inst.host = m.dest
        self.save(req, task_state=states.RESIZE_MIGRATED)
        req.enter("finish_resize", self.env.now)
        self.bus.cast(self.who, f"compute.{self.hosts.names[m.dest]}", "finish_resize", {}, req)
        self.notify(req, "instance.resize.end")

    def _refused_before_power_off(self, req: Request, m: Any) -> tuple[ResizeError | None, str | None]:
        """The driver's checks before it touches the guest: no disk shrinks, then the
        ssh ``mkdir`` of the instance directory on the destination. Returns the error,
        and the copy failure the fault plan drew for this move (None: none)."""
        if m.new_flavor.root_gb < m.old_flavor.root_gb or m.new_flavor.ephemeral_gb < m.old_flavor.ephemeral_gb:
            return ResizeError("Resize error: Unable to resize disk down."), None
        failure = self.faults.copy_failure(m.source, self.env.now) if self.faults else None
        if failure == "host_key_verification":
            self.struck(req, "copy_fail", reason=failure)
            return ResizeError("Resize error: not able to execute ssh command: Host key verification failed."), failure
        return None, failure

    # -- destination: finish_resize -----------------------------------------------------
    @rpc_handler(MANAGER_PY, "ComputeManager.finish_resize")
    def finish_resize(self, msg: Message) -> Generator[simpy.Event, Any, None]:
        req = msg.ctx
        inst = req.target
        m = inst.migration
        yield from self.busy("finish_resize", req)
        if self.superseded(req):
            return
        if inst.task_state != states.RESIZE_MIGRATED:
            return self._unexpected_task_state(req, states.RESIZE_MIGRATED)
        if not (yield from self.objects(req, "finish_resize")):
            return
        self.db.set_flavor(inst, m.new_flavor)
        self.save(req, task_state=states.RESIZE_FINISH)
        self.notify(req, "instance.resize_finish.start")
        power_on = inst.old_vm_state != states.STOPPED
        self.step(req, "finish_migration", "start", power_on=power_on)
        done = yield from self.driver.finish_migration(req, inst, self.index, power_on, m.old_flavor, m.new_flavor)
        seconds = done.seconds
        failed = bool(self.faults and self.faults.boot_failure(self.index, self.env.now))
        image = {"image": done.image, "image_fetched": done.fetched,
                 "fetch_seconds": round(done.fetch_seconds, 6)} if done.image is not None else {}
        self.step(req, "finish_migration", "end", seconds=round(seconds, 6), **image,
                  **({"failed": True} if failed else {}))
        if not self._still_expected(req, states.RESIZE_FINISH):
            return
        if failed:
            return self._boot_failed(req)
        inst.power_on = power_on
        flat = self.driver.flattened(inst, m.source, m.old_flavor, m.new_flavor)
        if flat is not None:  # Kilo flattened the disks: the destination's have no backing file
            m.source_disks = (inst.disks, inst.disk_used_gb)
            inst.disks, inst.disk_used_gb = flat
        if power_on:  # the guest OS comes up after the move (not part of its latency)
            req.ready = self.env.now + self.driver.guest_os_boot()
        if not (yield from self.objects(req, "finish_resize.end")):
            return
        m.finished_at = self.env.now
        self.save(req, migration_status=states.FINISHED)
        self.save(req, vm_state=states.RESIZED, task_state=None)
        self.book.verify_resize(req)
        self.notify(req, "instance.resize_finish.end")
        if self.conf.resize_confirm_window > 0:
            self.auto_confirm_later(m)

    # -- source: confirm_resize -------------------------------------------------------
    @rpc_handler(MANAGER_PY, "ComputeManager.confirm_resize")
    def confirm_resize(self, msg: Message) -> Generator[simpy.Event, Any, None]:
        req = msg.ctx
        inst = req.target
        m = inst.migration
        yield from self.busy("confirm_resize", req)
        if self.superseded(req):
            return
        if m.status == states.CONFIRMED:
            return
        if not (yield from self.objects(req, "confirm_resize")):
            return
        self.notify(req, "instance.resize_confirm.start")
        # driver.confirm_migration: delete <instance dir>_resize, undefine the old domain
        self.save(req, migration_status=states.CONFIRMED)
        self.hosts.release(m.source, m.old_flavor, self.env.now)
        self.save(req, vm_state=states.ACTIVE if inst.power_on else states.STOPPED, task_state=None,
                  released=self.host)
        self.notify(req, "instance.resize_confirm.end")
        self.book.confirmed(req)

    # -- destination: revert_resize -----------------------------------------------------
    @rpc_handler(MANAGER_PY, "ComputeManager.revert_resize")
    def revert_resize(self, msg: Message) -> Generator[simpy.Event, Any, None]:
        """Destroy the guest here, release the new flavor, hand back to the source."""
        req = msg.ctx
        m = req.target.migration
        yield from self.busy("revert_resize", req)
        if self.superseded(req):
            return
        if not (yield from self.objects(req, "revert_resize")):
            return
        self.notify(req, "instance.exists")
        # driver.destroy: the guest and (storage not shared) its disks on this host
        self.hosts.release(m.dest, m.new_flavor, self.env.now)  # drop_resize_claim
        self.save(req, migration_status=states.REVERTED, released=self.host)
        self.bus.cast(self.who, f"compute.{self.hosts.names[m.source]}", "finish_revert_resize",
                      {}, req)

    # -- source: finish_revert_resize -----------------------------------------------------
    @rpc_handler(MANAGER_PY, "ComputeManager.finish_revert_resize")
    def finish_revert_resize(self, msg: Message) -> Generator[simpy.Event, Any, None]:
        """Restore the old flavor and host, and start the guest kept on the source."""
        req = msg.ctx
        inst = req.target
        m = inst.migration
        yield from self.busy("finish_revert_resize", req)
        if self.superseded(req):
            return
        if not (yield from self.objects(req, "finish_revert_resize")):
            return
        self.notify(req, "instance.resize_revert.start")
        self.db.set_flavor(inst, m.old_flavor)
        inst.host = m.source
        if m.source_disks is not None:  # the source's disks, renamed back, still have their base
            inst.disks, inst.disk_used_gb = m.source_disks
        self.save(req)
        power_on = inst.old_vm_state != states.STOPPED
        self.step(req, "finish_revert_migration", "start", power_on=power_on)
        seconds = yield from self.driver.start_guest(power_on)
        self.step(req, "finish_revert_migration", "end", seconds=round(seconds, 6))
        if not self._still_expected(req, states.RESIZE_REVERTING):
            return
        if not (yield from self.objects(req, "finish_revert_resize.end")):
            return
        inst.power_on = power_on
        self.save(req, vm_state=states.ACTIVE if power_on else states.STOPPED, task_state=None)
        self.notify(req, "instance.resize_revert.end")
        self.book.reverted(req)

    # -- the operator's hard reboot ----------------------------------------------------
    @rpc_handler(MANAGER_PY, "ComputeManager.reboot_instance")
    def reboot_instance(self, msg: Message) -> Generator[simpy.Event, Any, None]:
        """``reboot_instance(reboot_type=HARD)``: destroy and recreate the guest on this
        host (the one the database names) and start it."""
        ctx = msg.ctx
        inst = ctx.target
        yield from self.busy("reboot_instance", ctx)
        seconds = yield from self.driver.start_guest(True)
        inst.power_on = True
        self.db.save(self.env.now, self.who, inst, None, vm_state=states.ACTIVE, task_state=None,
                     action="hard_reboot", seconds=round(seconds, 6))
        ctx.done(inst)

    # -- a restart ---------------------------------------------------------------------
    def init_host(self) -> Generator[simpy.Event, Any, None]:
        """``ComputeManager.init_host``: ``_init_instance`` for each instance whose
        database host is this host. A move left in ``resize_prep`` loses its task state
        (the destination's claim no longer counts at its next audit); one that crashed
        mid-copy is put back on this host (``finish_revert_migration``) and ends in
        error (``ResetOnStartup``)."""
        for inst in list(self.db.instances.values()):
            if inst.host != self.index or inst.request is None:
                continue
            req = inst.request
            if inst.task_state == states.RESIZE_PREP:
                self.save(req, task_state=None)
                req.prep_cleared = True
                self.audit.later(inst.migration)  # a destination's claim no longer counts
            elif inst.task_state == states.RESIZE_MIGRATING:
                # the source crashed mid-copy: finish_revert_migration puts the guest back
                m = inst.migration
                power_on = inst.old_vm_state != states.STOPPED
                self.step(req, "finish_revert_migration", "start", power_on=power_on)
                seconds = yield from self.driver.start_guest(power_on)
                inst.power_on = power_on
                self.step(req, "finish_revert_migration", "end", seconds=round(seconds, 6))
                self.save(req, vm_state=inst.old_vm_state, task_state=None)
                self.audit.later(m)  # before the request ends, so the run waits for it
                self.book.finish(req, "error", RESET_ON_STARTUP)
