"""How a move fails on a compute host, as Nova's ComputeManager ends it.

Nova wraps its handlers in decorators that act when one raises:
``_error_out_instance_on_exception`` (vm_state ERROR), ``@errors_out_migration``
(migration ``error``), ``@reverts_task_state`` (task_state None),
``@wrap_instance_fault`` (an instance fault) and ``@wrap_exception``
(``compute.exception``); ``InstanceFaultRollback`` instead restores the instance
untouched. ``MoveFailures`` gives nova-compute those endings, one per way a move
fails; each also gives back the claims Nova's resource audit would drop within a
minute (at once here, docs/assumptions.md) and ends the request.
"""
from __future__ import annotations

from models import states
from models.exceptions import (InstancePowerOffFailure, LibvirtError, ProcessExecutionError,
                               UnexpectedTaskStateError)
from models.request import Request


class MoveFailures:
    """The failure endings of nova-compute's move handlers: a mixin of NovaCompute,
    using its ``save``, ``fault``, ``notify``, ``struck``, hosts and book."""

    def _still_expected(self, req: Request, expected: str) -> bool:
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

    def _unexpected_task_state(self, req: Request, expected: str) -> None:
        """UnexpectedTaskStateError inside a handler: vm_state ERROR, migration error
        (reference section 10). The books follow Nova's resource audit at once (it
        runs within a minute): the instance's flavor counts where instance.host names,
        and the migration's other claim is dropped."""
        inst = req.target
        m = inst.migration
        error = UnexpectedTaskStateError(f"Unexpected task state: expecting ['{expected}'] but the "
                                         f"actual state is {inst.task_state}")
        was = m.status
        self.save(req, vm_state=states.ERROR, migration_status=states.MIGRATION_ERROR)
        if m.dest >= 0 and not m.dest_released and was not in (states.MIGRATION_ERROR, states.REVERTED):
            self.hosts.abandon_move(inst, m, self.env.now)
        self._failed(req, error)

    def _copy_failed(self, req: Request, fraction: float | None, why: str | None = None) -> None:
        """The copy failed after the power-off (scp / rsync exits non-zero, e.g. the
        destination's disk is full): the partial copy is removed, the source directory
        renamed back; the guest stays off on the source; vm_state ERROR."""
        if fraction is not None:
            self.struck(req, "copy_fail", reason="disk_full", fraction=round(fraction, 6))
        self._errored_out(req, ProcessExecutionError(why or "scp exited with 1: No space left on device"))

    def _power_off_failed(self, req: Request) -> None:
        """The destroy after the clean-shutdown wait fails (a hung guest):
        InstancePowerOffFailure. The guest still runs on the source."""
        if not self._still_expected(req, states.RESIZE_MIGRATING):
            return
        self.struck(req, "power_off_fail")
        self._errored_out(req, InstancePowerOffFailure("Failed to power off instance: operation failed: "
                                                       "failed to kill qemu process with SIGTERM"))

    def _errored_out(self, req: Request, error: Exception) -> None:
        """resize_instance fails in the driver: vm_state ERROR
        (``_error_out_instance_on_exception``), migration error
        (``@errors_out_migration``), task_state None (``@reverts_task_state``), a fault
        and compute.exception. The destination's claim goes (at once: the audit would
        drop it within a minute)."""
        m = req.target.migration
        self.save(req, vm_state=states.ERROR, migration_status=states.MIGRATION_ERROR)
        self.save(req, task_state=None)
        self.hosts.release(m.dest, m.new_flavor, self.env.now)
        self._failed(req, error)

    def _rollback(self, req: Request, error: Exception, vm_state: str) -> None:
        """InstanceFaultRollback: the guest is untouched, the move is abandoned (Kilo
        restores vm_state ACTIVE after a disk shrink; the reference restores the old
        vm_state after an ssh failure)."""
        m = req.target.migration
        self.save(req, vm_state=vm_state, task_state=None)
        self.save(req, migration_status=states.MIGRATION_ERROR)
        # Nova's resource audit drops the destination's claim for a migration in error
        # within a minute; we release it at once (docs/assumptions.md).
        self.hosts.release(m.dest, m.new_flavor, self.env.now)
        self._failed(req, error)

    def _boot_failed(self, req: Request) -> None:
        """finish_resize fails (the domain will not start): the instance takes its old
        flavor back, vm_state ERROR, migration error; it stays on the destination
        (instance.host); the source keeps <dir>_resize. The resource audit then counts
        the old flavor on the destination and drops the source's claim; we apply that
        at once (docs/assumptions.md)."""
        inst = req.target
        m = inst.migration
        self.struck(req, "boot_fail")
        error = LibvirtError("internal error: process exited while connecting to monitor")
        self.db.set_flavor(inst, m.old_flavor)
        inst.power_on = False
        self.save(req, vm_state=states.ERROR, task_state=None, migration_status=states.MIGRATION_ERROR)
        self.hosts.release(m.dest, m.new_flavor, self.env.now)
        self.hosts.take(m.dest, m.old_flavor, self.env.now)
        self.hosts.release(m.source, m.old_flavor, self.env.now)
        self._failed(req, error)

    def _failed(self, req: Request, error: Exception) -> None:
        """``@wrap_instance_fault`` and ``@wrap_exception``: the instance fault and
        ``compute.exception``; the request ends in error."""
        self.fault(req, error)
        self.notify(req, "compute.exception", error=type(error).__name__)
        self.raised()
        self.objects_sent(req, "failure")
        self.book.finish(req, "error", type(error).__name__)
