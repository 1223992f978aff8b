"""nova-compute on one host: the destination's ``prep_resize`` and ``finish_resize``,
the source's ``resize_instance`` and ``confirm_resize``, and the periodic
``_poll_unconfirmed_resizes`` that auto-confirms.

Each handler runs on one of the host's RPC executor threads and records states and
notifications at the points where Nova's ComputeManager records them. A failed
resize claim reschedules as Kilo does: the destination calls the conductor's
``migrate_server`` with the retry counter; when that call fails (attempts exhausted)
the instance ends in ERROR.
"""
from __future__ import annotations

import math
from typing import Any, Generator

import simpy

from models import states
from models.hosts import ComputeResourcesUnavailable
from models.network import CopyStalled
from models.service import NovaService
from models.scheduler import NoValidHost
from simulator.bus import Message, MessagingTimeout


class ResizeError(Exception):
    """The driver refused the resize (``Unable to resize disk down.``)."""


class ProcessExecutionError(Exception):
    """A command on the host failed (ssh / scp / rsync), as oslo.concurrency raises it."""


class InstancePowerOffFailure(Exception):
    """The driver could not destroy the guest."""


class LibvirtError(Exception):
    """libvirt could not start the domain (libvirt.libvirtError)."""


class UnexpectedTaskStateError(Exception):
    """``instance.save(expected_task_state=...)`` found another task state."""


class NovaCompute(NovaService):
    service = "nova-compute"

    def __init__(self, cloud: Any, index: int, *args: Any, **kwargs: Any):
        super().__init__(cloud, *args, **kwargs)
        self.index = index
        #: first run of the periodic tasks: a random whole-second fuzzy delay (oslo.service)
        self.periodic_offset = float(self.rng.randint(0, int(cloud.nova.periodic_fuzzy_delay)))
        self._autoconfirm_ticks: dict[float, list[Any]] = {}

    # -- destination: prep_resize ------------------------------------------------------
    def prep_resize(self, msg: Message) -> Generator[simpy.Event, Any, None]:
        req = msg.ctx
        cloud = self.cloud
        inst = req.target
        flavor = msg.args["flavor"]
        yield from self.busy("prep_resize", req)
        # in modern Nova placement already holds this request's allocation here
        if self.superseded(req, (self.index, msg.args["flavor"]) if cloud.modern else None):
            return
        self.notify(req, "instance.exists")
        self.notify(req, "instance.resize_prep.start")
        source = inst.host
        if cloud.modern:
            # placement holds the allocation already (claimed by the scheduler); the
            # resource tracker's claim tests no limits of its own and the Migration
            # exists; the claim writes the compute node record
            short = cloud.hosts.shortfall(self.index, flavor, cloud.scheduler_config.claim_tests)
            if short is not None:
                cloud.hosts.release(self.index, flavor, self.env.now)  # the allocation goes
                exc = ComputeResourcesUnavailable(f"Insufficient compute resources: {short} on {self.host}")
                self.step(req, "resize_claim", "end", ok=False, message=str(exc))
                yield from self._reschedule_resize_or_reraise(msg, exc)
                return
            self.step(req, "resize_claim", "end", ok=True)
            cloud.hosts.written_at[self.index] = self.env.now
            self.save(req, migration_status=states.PRE_MIGRATING, claimed=self.host)
        else:
            try:
                # _prep_resize → ResourceTracker.resize_claim (tests the filters' limits)
                cloud.hosts.claim(self.index, flavor, self.env.now, cloud.scheduler_config.claim_tests)
            except ComputeResourcesUnavailable as exc:
                self.step(req, "resize_claim", "end", ok=False, message=str(exc))
                yield from self._reschedule_resize_or_reraise(msg, exc)
                return
            self.step(req, "resize_claim", "end", ok=True)
            cloud.db.create_migration(inst, source, self.index, inst.flavor, flavor, req)
            self.save(req, migration_status=states.PRE_MIGRATING, claimed=self.host)
        req.enter("resize_instance", self.env.now)
        cloud.bus.cast(self.who, f"compute.{cloud.hosts.names[source]}", "resize_instance", {}, req)
        self.notify(req, "instance.resize_prep.end")

    def _reschedule_resize_or_reraise(self, msg: Message, error: Exception) -> Generator[simpy.Event, Any, None]:
        req = msg.ctx
        cloud = self.cloud
        self.save(req, task_state=states.RESIZE_PREP)
        retry = msg.args.get("alternates") if cloud.modern else msg.args["retry"]
        rescheduled = False
        mine = req.attempt
        if retry is not None:
            req.enter("conductor", self.env.now)
            try:
                yield cloud.bus.call(self.who, "conductor", "migrate_server", msg.args, req,
                                     timeout=cloud.nova.rpc_response_timeout)
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
        if cloud.modern and m is not None and m.request is req and m.status != states.MIGRATION_ERROR:
            self.save(req, vm_state=states.ERROR, migration_status=states.MIGRATION_ERROR)
        else:
            self.save(req, vm_state=states.ERROR)
        self.fault(req, error)
        if req.target.task_state is not None:
            self.save(req, task_state=None)
        self.notify(req, "compute.exception", error=type(error).__name__)
        cloud.finish(req, "error", reason)

    # -- source: resize_instance -----------------------------------------------------
    def resize_instance(self, msg: Message) -> Generator[simpy.Event, Any, None]:
        req = msg.ctx
        cloud = self.cloud
        inst = req.target
        m = inst.migration
        yield from self.busy("resize_instance", req)
        if self.superseded(req):
            return
        self.save(req, migration_status=states.MIGRATING)
        if inst.task_state != states.RESIZE_PREP:
            # e.g. a late cast after the request was given up: the save expecting
            # resize_prep fails and the instance is errored out, the guest untouched
            return self._unexpected_task_state(req, states.RESIZE_PREP)
        self.save(req, task_state=states.RESIZE_MIGRATING)
        self.notify(req, "instance.resize.start")
        # driver.migrate_disk_and_power_off
        if m.new_flavor.root_gb < m.old_flavor.root_gb or m.new_flavor.ephemeral_gb < m.old_flavor.ephemeral_gb:
            return self._rollback(req, ResizeError("Resize error: Unable to resize disk down."), states.ACTIVE)
        failure = cloud.faults.copy_failure(m.source, self.env.now) if cloud.faults else None
        if failure == "host_key_verification":  # ssh mkdir on the destination fails
            self.struck(req, "copy_fail", reason=failure)
            error = ProcessExecutionError("Host key verification failed.")
            return self._rollback(req, error, inst.old_vm_state)
        driver = cloud.driver
        hung = inst.power_on and bool(cloud.faults and cloud.faults.power_off_failure(m.source, self.env.now))
        req.enter("power_off", self.env.now)
        self.step(req, "power_off", "start")
        result = yield from driver.power_off(inst, hung)
        self.step(req, "power_off", "end", seconds=result.seconds, hard=result.hard,
                  acpi_requests=result.requests, **({"failed": True} if hung else {}))
        if hung:
            return self._power_off_failed(req)
        inst.power_on = False
        req.enter("disk_copy", self.env.now)
        self.step(req, "copy_disks", "start", to_host=cloud.hosts.names[m.dest], gib=inst.disk_used_gb)
        fail_at = cloud.faults.rng.random() if failure == "disk_full" else None
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
        if stalled is not None:
            return self._copy_failed(req, None, str(stalled))
        if fail_at is not None:
            return self._copy_failed(req, fail_at)
        req.enter("resize_instance", self.env.now)
        self.save(req, migration_status=states.POST_MIGRATING)
        inst.host = m.dest
        self.save(req, task_state=states.RESIZE_MIGRATED)
        req.enter("finish_resize", self.env.now)
        cloud.bus.cast(self.who, f"compute.{cloud.hosts.names[m.dest]}", "finish_resize", {}, req)
        self.notify(req, "instance.resize.end")

    def _still_expected(self, req: Any, expected: str) -> bool:
        """After the driver's work: is the instance still this request's, in the task
        state the handler's next ``instance.save(expected_task_state=...)`` expects?
        An operator's reset-state or hard reboot (or a newer move) in the meantime makes
        that save fail; the handler gives up."""
        if self.superseded(req):
            return False
        if req.target.task_state != expected:
            self._unexpected_task_state(req, expected)
            return False
        return True

    def _unexpected_task_state(self, req: Any, expected: str) -> None:
        """UnexpectedTaskStateError inside a handler: vm_state ERROR, migration error
        (reference section 10). The books follow Nova's resource audit at once (it
        runs within a minute): the instance's flavor counts where instance.host names,
        and the migration's other claim is dropped."""
        cloud = self.cloud
        inst = req.target
        m = inst.migration
        error = UnexpectedTaskStateError(f"Unexpected task state: expecting ['{expected}'] but the "
                                         f"actual state is {inst.task_state}")
        was = m.status
        self.save(req, vm_state=states.ERROR, migration_status=states.MIGRATION_ERROR)
        if m.dest >= 0 and not m.dest_released and was not in (states.MIGRATION_ERROR, states.REVERTED):
            cloud.hosts.abandon_move(inst, m, self.env.now)
        self.fault(req, error)
        self.notify(req, "compute.exception", error=type(error).__name__)
        cloud.finish(req, "error", type(error).__name__)

    def _copy_failed(self, req: Any, fraction: float | None, why: str | None = None) -> None:
        """The copy failed after the power-off (scp / rsync exits non-zero, e.g. the
        destination's disk is full): the partial copy is removed, the source directory
        renamed back; the guest stays off on the source; vm_state ERROR."""
        if fraction is not None:
            self.struck(req, "copy_fail", reason="disk_full", fraction=round(fraction, 6))
        self._errored_out(req, ProcessExecutionError(why or "scp exited with 1: No space left on device"))

    def _power_off_failed(self, req: Any) -> None:
        """The destroy after the clean-shutdown wait fails (a hung guest):
        InstancePowerOffFailure. The guest still runs on the source."""
        if not self._still_expected(req, states.RESIZE_MIGRATING):
            return
        self.struck(req, "power_off_fail")
        self._errored_out(req, InstancePowerOffFailure("Failed to power off instance: operation failed: "
                                                       "failed to kill qemu process with SIGTERM"))

    def _errored_out(self, req: Any, error: Exception) -> None:
        """resize_instance fails in the driver: vm_state ERROR
        (``_error_out_instance_on_exception``), migration error
        (``@errors_out_migration``), task_state None (``@reverts_task_state``), a fault
        and compute.exception. The destination's claim goes (at once: the audit would
        drop it within a minute)."""
        cloud = self.cloud
        m = req.target.migration
        self.save(req, vm_state=states.ERROR, migration_status=states.MIGRATION_ERROR)
        self.save(req, task_state=None)
        cloud.hosts.release(m.dest, m.new_flavor, self.env.now)
        self.fault(req, error)
        self.notify(req, "compute.exception", error=type(error).__name__)
        cloud.finish(req, "error", type(error).__name__)

    def _rollback(self, req: Any, error: Exception, vm_state: str) -> None:
        """InstanceFaultRollback: the guest is untouched, the move is abandoned (Kilo
        restores vm_state ACTIVE after a disk shrink; the reference restores the old
        vm_state after an ssh failure)."""
        cloud = self.cloud
        m = req.target.migration
        self.save(req, vm_state=vm_state, task_state=None)
        self.save(req, migration_status=states.MIGRATION_ERROR)
        # Nova's resource audit drops the destination's claim for a migration in error
        # within a minute; we release it at once (docs/assumptions.md).
        cloud.hosts.release(m.dest, m.new_flavor, self.env.now)
        self.fault(req, error)
        self.notify(req, "compute.exception", error=type(error).__name__)
        cloud.finish(req, "error", type(error).__name__)

    # -- destination: finish_resize -----------------------------------------------------
    def finish_resize(self, msg: Message) -> Generator[simpy.Event, Any, None]:
        req = msg.ctx
        cloud = self.cloud
        inst = req.target
        m = inst.migration
        yield from self.busy("finish_resize", req)
        if self.superseded(req):
            return
        if inst.task_state != states.RESIZE_MIGRATED:
            return self._unexpected_task_state(req, states.RESIZE_MIGRATED)
        cloud.db.set_flavor(inst, m.new_flavor)
        self.save(req, task_state=states.RESIZE_FINISH)
        self.notify(req, "instance.resize_finish.start")
        power_on = inst.old_vm_state != states.STOPPED
        self.step(req, "finish_migration", "start", power_on=power_on)
        seconds = yield from cloud.driver.finish_migration(inst, power_on, m.old_flavor, m.new_flavor)
        failed = bool(cloud.faults and cloud.faults.boot_failure(self.index, self.env.now))
        self.step(req, "finish_migration", "end", seconds=round(seconds, 6), **({"failed": True} if failed else {}))
        if not self._still_expected(req, states.RESIZE_FINISH):
            return
        if failed:
            return self._boot_failed(req)
        inst.power_on = power_on
        m.finished_at = self.env.now
        self.save(req, migration_status=states.FINISHED)
        self.save(req, vm_state=states.RESIZED, task_state=None)
        cloud.verify_resize(req)
        self.notify(req, "instance.resize_finish.end")
        if cloud.nova.resize_confirm_window > 0:
            self.auto_confirm_later(m)

    def _boot_failed(self, req: Any) -> None:
        """finish_resize fails (the domain will not start): the instance takes its old
        flavor back, vm_state ERROR, migration error; it stays on the destination
        (instance.host); the source keeps <dir>_resize. The resource audit then counts
        the old flavor on the destination and drops the source's claim; we apply that
        at once (docs/assumptions.md)."""
        cloud = self.cloud
        inst = req.target
        m = inst.migration
        self.struck(req, "boot_fail")
        error = LibvirtError("internal error: process exited while connecting to monitor")
        cloud.db.set_flavor(inst, m.old_flavor)
        inst.power_on = False
        self.save(req, vm_state=states.ERROR, task_state=None, migration_status=states.MIGRATION_ERROR)
        cloud.hosts.release(m.dest, m.new_flavor, self.env.now)
        cloud.hosts.take(m.dest, m.old_flavor, self.env.now)
        cloud.hosts.release(m.source, m.old_flavor, self.env.now)
        self.fault(req, error)
        self.notify(req, "compute.exception", error=type(error).__name__)
        cloud.finish(req, "error", type(error).__name__)

    # -- source: confirm_resize -------------------------------------------------------
    def confirm_resize(self, msg: Message) -> Generator[simpy.Event, Any, None]:
        req = msg.ctx
        cloud = self.cloud
        inst = req.target
        m = inst.migration
        yield from self.busy("confirm_resize", req)
        if self.superseded(req):
            return
        if m.status == states.CONFIRMED:
            return
        self.notify(req, "instance.resize_confirm.start")
        # driver.confirm_migration: delete <instance dir>_resize, undefine the old domain
        self.save(req, migration_status=states.CONFIRMED)
        cloud.hosts.release(m.source, m.old_flavor, self.env.now)
        self.save(req, vm_state=states.ACTIVE if inst.power_on else states.STOPPED, task_state=None,
                  released=self.host)
        self.notify(req, "instance.resize_confirm.end")
        cloud.confirmed(req)

    # -- destination: revert_resize -----------------------------------------------------
    def revert_resize(self, msg: Message) -> Generator[simpy.Event, Any, None]:
        """Destroy the guest here, release the new flavor, hand back to the source."""
        req = msg.ctx
        cloud = self.cloud
        m = req.target.migration
        yield from self.busy("revert_resize", req)
        if self.superseded(req):
            return
        self.notify(req, "instance.exists")
        # driver.destroy: the guest and (storage not shared) its disks on this host
        cloud.hosts.release(m.dest, m.new_flavor, self.env.now)  # drop_resize_claim
        self.save(req, migration_status=states.REVERTED, released=self.host)
        cloud.bus.cast(self.who, f"compute.{cloud.hosts.names[m.source]}", "finish_revert_resize",
                       {}, req)

    # -- source: finish_revert_resize -----------------------------------------------------
    def finish_revert_resize(self, msg: Message) -> Generator[simpy.Event, Any, None]:
        """Restore the old flavor and host, and start the guest kept on the source."""
        req = msg.ctx
        cloud = self.cloud
        inst = req.target
        m = inst.migration
        yield from self.busy("finish_revert_resize", req)
        if self.superseded(req):
            return
        self.notify(req, "instance.resize_revert.start")
        cloud.db.set_flavor(inst, m.old_flavor)
        inst.host = m.source
        self.save(req)
        power_on = inst.old_vm_state != states.STOPPED
        self.step(req, "finish_revert_migration", "start", power_on=power_on)
        seconds = yield from cloud.driver.finish_migration(inst, power_on)
        self.step(req, "finish_revert_migration", "end", seconds=round(seconds, 6))
        if not self._still_expected(req, states.RESIZE_REVERTING):
            return
        inst.power_on = power_on
        self.save(req, vm_state=states.ACTIVE if power_on else states.STOPPED, task_state=None)
        self.notify(req, "instance.resize_revert.end")
        cloud.reverted(req)

    # -- the operator's hard reboot ----------------------------------------------------
    def reboot_instance(self, msg: Message) -> Generator[simpy.Event, Any, None]:
        """``reboot_instance(reboot_type=HARD)``: destroy and recreate the guest on this
        host (the one the database names) and start it."""
        ctx = msg.ctx
        cloud = self.cloud
        inst = ctx.target
        yield from self.busy("reboot_instance", ctx)
        seconds = yield from cloud.driver.finish_migration(inst, True)
        inst.power_on = True
        cloud.db.save(self.env.now, self.who, inst, None, vm_state=states.ACTIVE, task_state=None,
                      action="hard_reboot", seconds=round(seconds, 6))
        cloud.operator.rebooted(inst)

    # -- periodic: _poll_unconfirmed_resizes --------------------------------------------
    def auto_confirm_later(self, m: Any, not_before: float = 0.0) -> None:
        """Queue ``m`` for the first periodic run at which it is old enough (and not
        before ``not_before``).

        Nova runs the task every ``periodic_interval`` from a random first delay and
        confirms migrations that finished at least ``resize_confirm_window`` ago. Only
        the runs that have something to confirm are simulated.
        """
        nova = self.cloud.nova
        due = max(m.finished_at + nova.resize_confirm_window, not_before)
        k = max(0, math.ceil((due - self.periodic_offset) / nova.periodic_interval))
        tick = self.periodic_offset + k * nova.periodic_interval
        if tick < due:  # float rounding
            k += 1
            tick = self.periodic_offset + k * nova.periodic_interval
        self._at_tick(m, tick)

    def _at_tick(self, m: Any, tick: float) -> None:
        batch = self._autoconfirm_ticks.get(tick)
        if batch is None:
            self._autoconfirm_ticks[tick] = [m]
            self.env.process(self._poll_unconfirmed_resizes(tick))
        else:
            batch.append(m)

    def _poll_unconfirmed_resizes(self, tick: float) -> Generator[simpy.Event, Any, None]:
        yield self.env.timeout(tick - self.env.now)
        cloud = self.cloud
        for m in self._autoconfirm_ticks.pop(tick):
            req = m.request
            inst = m.instance
            if m.status != states.FINISHED or inst.migration is not m:
                continue  # confirmed or reverted by the user meanwhile
            if self.pool.stopped:  # no periodic task runs: taken up again after the restart
                cloud.deferred_confirms.append((self, m))
                continue
            if cloud.modern and not cloud.compute_seen_up(m.source):
                # modern Nova refuses the confirm (409) and retries each minute: at the
                # next run if the source is about to report (just restarted), else once
                # it (or the conductor) is back
                if cloud.liveness.will_report(m.source):
                    self._at_tick(m, tick + cloud.nova.periodic_interval)
                else:
                    cloud.deferred_confirms.append((self, m))
                continue
            self.step(req, "_poll_unconfirmed_resizes", "start")
            if req.confirm_started is None:
                req.confirm_started = self.env.now
            yield from self.busy("_poll_unconfirmed_resizes", req)
            if inst.vm_state == states.RESIZED and inst.task_state is None and m.status == states.FINISHED:
                self.cloud.start_confirm(self.who, req)
            elif m.status == states.FINISHED and inst.migration is m:
                # an operator reset it, or it failed: Nova errors the migration out
                # ("In ERROR state", "In states active/None, not RESIZED/None")
                self.save(req, migration_status=states.MIGRATION_ERROR)
            self.step(req, "_poll_unconfirmed_resizes", "end")
