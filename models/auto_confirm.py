"""nova-compute's periodic ``_poll_unconfirmed_resizes``: the auto-confirm of moves
left in VERIFY_RESIZE longer than ``resize_confirm_window``.

Nova runs the task every ``periodic_interval`` from a random first delay and
confirms migrations that finished at least ``resize_confirm_window`` ago. Only the
runs that have something to confirm are simulated. A confirm that cannot be made
now (the compute is down; in modern Nova, the source is seen down) is put off in a
``ConfirmBacklog`` until the outage ends.
"""
from __future__ import annotations

import math
from typing import Any, Generator

import simpy

from models import states
from models.objects import Migration
from models.steps import periodic_task


class ConfirmBacklog:
    """Auto-confirms put off while a service was down: (the compute, the migration)."""

    def __init__(self) -> None:
        self.items: list[tuple[Any, Migration]] = []

    def __bool__(self) -> bool:
        return bool(self.items)

    def add(self, compute: Any, m: Migration) -> None:
        self.items.append((compute, m))

    def waits_for(self, compute: Any) -> bool:
        """Whether a put-off confirm waits for ``compute``'s restart (its own, or as
        the source of the move)."""
        return any(c is compute or m.source == compute.index for c, m in self.items)

    def rearm(self, not_before: float) -> None:
        """A service is back: each put-off confirm goes to its compute's next
        periodic run."""
        items, self.items = self.items, []
        for compute, m in items:
            compute.auto_confirm_later(m, not_before)


class UnconfirmedResizes:
    """The auto-confirm task of one nova-compute: a mixin of NovaCompute, using its
    pool, conf, release, liveness, compute API and backlog."""

    def auto_confirm_later(self, m: Migration, not_before: float = 0.0) -> None:
        """Queue ``m`` for the first periodic run at which it is old enough (and not
        before ``not_before``)."""
        nova = self.conf
        due = max(m.finished_at + nova.resize_confirm_window, not_before)
        k = max(0, math.ceil((due - self.periodic_offset) / nova.periodic_interval))
        tick = self.periodic_offset + k * nova.periodic_interval
        if tick < due:  # float rounding
            k += 1
            tick = self.periodic_offset + k * nova.periodic_interval
        self._at_tick(m, tick)

    def _at_tick(self, m: Migration, tick: float) -> None:
        batch = self._autoconfirm_ticks.get(tick)
        if batch is None:
            self._autoconfirm_ticks[tick] = [m]
            self.env.process(self._poll_unconfirmed_resizes(tick))
        else:
            batch.append(m)

    @periodic_task("nova/compute/manager.py", "ComputeManager._poll_unconfirmed_resizes")
    def _poll_unconfirmed_resizes(self, tick: float) -> Generator[simpy.Event, Any, None]:
        yield self.env.timeout(tick - self.env.now)
        context_id = None  # the periodic run's admin context, one request_id for all it confirms
        for m in self._autoconfirm_ticks.pop(tick):
            req = m.request
            inst = m.instance
            if m.status != states.FINISHED or inst.migration is not m:
                continue  # confirmed or reverted by the user meanwhile
            if self.pool.stopped:  # no periodic task runs: taken up again after the restart
                self.backlog.add(self, m)
                continue
            if self.release.confirm_checks_source_service and not self.liveness.seen_up(m.source, self.env.now):
                # modern Nova refuses the confirm (409) and retries each minute: at the
                # next run if the source is about to report (just restarted), else once
                # it (or the conductor) is back
                if self.liveness.will_report(m.source):
                    self._at_tick(m, tick + self.conf.periodic_interval)
                else:
                    self.backlog.add(self, m)
                continue
            self.step(req, "_poll_unconfirmed_resizes", "start")
            if req.confirm_started is None:
                req.confirm_started = self.env.now
            yield from self.busy("_poll_unconfirmed_resizes", req)
            if inst.vm_state == states.RESIZED and inst.task_state is None and m.status == states.FINISHED:
                if context_id is None:
                    context_id = self.actions.new_request_id()
                self.objects_sent(req, "auto_confirm")  # the migration read, its save, the action
                self.compute_api.start_confirm(self.who, req, context_id)
            elif m.status == states.FINISHED and inst.migration is m:
                # an operator reset it, or it failed: Nova errors the migration out
                # ("In ERROR state", "In states active/None, not RESIZED/None")
                self.save(req, migration_status=states.MIGRATION_ERROR)
            self.step(req, "_poll_unconfirmed_resizes", "end")
