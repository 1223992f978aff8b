"""The operator: ``nova reset-state`` and ``nova reboot --hard``, at given times or by
policy (reference section 10: how operators recover instances left in ERROR or stuck).

- ``reset_state`` sets vm_state (``error``, or ``active`` with ``--active``) and clears
  the task state. It touches neither the migration nor the claims; Nova's resource
  audit then stops counting the move's claims (applied at once, as its own record). A request still open on that instance ends
  ``stuck`` (reason ``reset-state``); a handler still working for it fails at its
  next expected-task-state save.
- ``hard_reboot`` asks the instance's host (the one the database names) to destroy and
  recreate the guest and start it: vm_state ``active``, task_state None, the guest
  running. It goes to that host's nova-compute as a cast, so it waits while the
  service is down. nova-api refuses it (409, ``InstanceInvalidState``) unless the
  instance is active, stopped or in error with no task but a reboot in progress
  (``check_instance_state``: a RESIZED instance, or one mid-move, cannot be rebooted);
  a refused action is a row with status 409 that changes nothing. reset-state has no
  such guard in Nova (an admin's tool): it is always accepted (202).

Policies, checked every ``check_every`` seconds while the run goes on:
``reset_stuck_after`` resets (``--active``) instances left in a task state that long;
``hard_reboot_errors`` hard-reboots instances in ERROR (those nova-api would accept:
no task state left but a reboot's). Every action is a row of
operator_actions.csv and an ``operator`` event in the trace.
"""
from __future__ import annotations

from typing import Any, Callable, Generator, NamedTuple

import simpy

from models import states
from models.database import Database
from models.hosts import HostTable
from models.lifecycle import RequestBook
from models.objects import Instance
from models.request import ActionContext
from models.resource_audit import ResourceAudit
from simulator.engine.bus import MessageBus
from simulator.engine.environment import Environment
from simulator.engine.recorder import TableStream, TraceRecorder


class ActionRow(NamedTuple):
    """A row of operator_actions.csv: one operator action and the states before and after it."""

    t: float
    action: str
    by: str
    instance: str
    host: str
    vm_state_before: str
    task_state_before: str | None
    vm_state_after: str
    task_state_after: str | None
    #: nova-api's answer: 202 accepted, 409 refused (the instance's state forbids it)
    status: int


def rebootable(inst: Instance) -> bool:
    """Whether nova-api accepts a hard reboot of ``inst`` (``API.reboot``'s
    ``check_instance_state``)."""
    return inst.vm_state in states.ALLOW_HARD_REBOOT and inst.task_state in states.ALLOW_REBOOT


class Operator:
    """The operator's scheduled actions and policies."""

    def __init__(self, env: Environment, cfg: Any, *, db: Database, hosts: HostTable, bus: MessageBus,
                 book: RequestBook, audit: ResourceAudit, trace: TraceRecorder, actions: TableStream):
        self.env = env
        self.cfg = cfg
        self.db = db
        self.hosts = hosts
        self.bus = bus
        self.book = book
        self.audit = audit
        self.trace = trace
        #: operator_actions.csv
        self.actions = actions
        self.rebooting: set[str] = set()
        self.count: dict[str, int] = {}

    def summary(self) -> dict[str, Any]:
        """summary.json's ``operator``: how many actions of each kind."""
        return {"actions": dict(sorted(self.count.items()))}

    def start(self) -> None:
        for a in self.cfg.actions:
            self.book.hold()
            self.env.process(self._scheduled(a))
        if self.cfg.reset_stuck_after is not None or self.cfg.hard_reboot_errors:
            self.env.process(self._policy())

    def _scheduled(self, a: Any) -> Generator[simpy.Event, Any, None]:
        yield self.env.timeout(a.at)
        inst = self.db.instances[a.instance]
        if a.action == "reset_state":
            self.reset_state(inst, a.state, "schedule")
            self.book.unhold()
        else:
            self.hard_reboot(inst, "schedule", held=True)

    def _work(self) -> bool:
        """Whether the policies have something left to do (so the run waits for them)."""
        cfg = self.cfg
        for inst in self.db.instances.values():
            if inst.name in self.rebooting:
                continue
            if cfg.reset_stuck_after is not None and inst.task_state is not None:
                return True
            if cfg.hard_reboot_errors and inst.vm_state == states.ERROR and rebootable(inst):
                return True
        return False

    def _policy(self) -> Generator[simpy.Event, Any, None]:
        cfg = self.cfg
        self.book.hold()  # the run waits for the operator's next check after the last request
        while True:
            yield self.env.timeout(cfg.check_every)
            now = self.env.now
            for inst in list(self.db.instances.values()):
                if inst.name in self.rebooting:
                    continue
                if (cfg.reset_stuck_after is not None and inst.task_state is not None
                        and now - inst.changed_at >= cfg.reset_stuck_after):
                    self.reset_state(inst, states.ACTIVE, "policy")
                elif cfg.hard_reboot_errors and inst.vm_state == states.ERROR and rebootable(inst):
                    self.hard_reboot(inst, "policy")
            # (next_time: what else is to happen, a recurring outage's end included)
            if not self._work() and (self.book.open == 0 or self.env.next_time() == float("inf")):
                self.book.unhold()  # nothing left for the policies: the run may end
                return

    def _row(self, action: str, by: str, inst: Instance, before: tuple[str, Any], status: int = 202) -> None:
        key = action if status < 400 else f"{action}_refused"
        self.count[key] = self.count.get(key, 0) + 1
        self.actions.add(ActionRow(round(self.env.now, 6), action, by, inst.name, self.hosts.names[inst.host],
                                   before[0], before[1], inst.vm_state, inst.task_state, status))
        extra = {} if status < 400 else {"status": status, "error": "InstanceInvalidState"}
        self.trace.emit(self.env.now, None, inst.name, "operator", None, "operator", action, by=by,
                        vm_state=inst.vm_state, task_state=inst.task_state, **extra)

    def reset_state(self, inst: Instance, vm_state: str, by: str) -> None:
        before = (inst.vm_state, inst.task_state)
        req = inst.request
        self.db.save(self.env.now, ("operator", None), inst, None, vm_state=vm_state, task_state=None,
                     action="reset_state")
        if inst.migration is not None:
            # Nova's resource audit then skips the move (its instance is in no resize
            # task state); applied at once (it runs within a minute), as its own record
            self.audit.drop_abandoned(inst.migration)
        self._row("reset_state", by, inst, before)
        if req is not None and not req.ended:
            self.book.finish(req, "stuck", f"reset-state (was {before[1] or before[0]})")

    def hard_reboot(self, inst: Instance, by: str, held: bool = False) -> None:
        """``nova reboot --hard``: a cast to the instance's host, if nova-api accepts it."""
        before = (inst.vm_state, inst.task_state)
        if not rebootable(inst):
            self._row("hard_reboot", by, inst, before, status=409)
            if held:
                self.book.unhold()
            return
        if not held:
            self.book.hold()
        self.rebooting.add(inst.name)
        self.db.save(self.env.now, ("operator", None), inst, None, task_state=states.REBOOTING_HARD)
        self._row("hard_reboot", by, inst, before)
        host = self.hosts.names[inst.host]
        self.bus.cast(("nova-api", "controller"), f"compute.{host}", "reboot_instance", {},
                      ActionContext(inst, self._rebooted))

    def _rebooted(self, inst: Instance) -> None:
        self.rebooting.discard(inst.name)
        self.book.unhold()
