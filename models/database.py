"""Nova's database as the pipeline sees it: instances, migrations, and their states.

Every state change goes through ``save`` so that it is recorded once, as one
``state`` trace event carrying the instance's ``vm_state``, ``task_state`` and its
migration's ``status`` after the change; it also keeps each host's count of
instances in I/O-heavy task states, which the IoOpsWeigher reads. The database also keeps, per flavor, the
instances that can take a move now, so the workload picks a target in O(#flavors)
rather than scanning every instance.
"""
from __future__ import annotations

import itertools
import random
from typing import Any, Callable, Iterable

from models import states
from models.hosts import HostTable
from models.objects import Flavor, Instance, Migration
from models.request import Request
from simulator.engine.recorder import TraceRecorder

_UNSET: Any = object()


class IndexedSet:
    """A set with O(1) add, remove and uniform random choice, in a stable order."""

    def __init__(self) -> None:
        self.items: list[Any] = []
        self.pos: dict[Any, int] = {}

    def __len__(self) -> int:
        return len(self.items)

    def add(self, x: Any) -> None:
        if x not in self.pos:
            self.pos[x] = len(self.items)
            self.items.append(x)

    def discard(self, x: Any) -> None:
        i = self.pos.pop(x, None)
        if i is None:
            return
        last = self.items.pop()
        if i < len(self.items):
            self.items[i] = last
            self.pos[last] = i


class Database:
    """Instances and migrations, with recorded state changes."""

    def __init__(self, recorder: TraceRecorder, flavors: dict[str, Flavor], hosts: HostTable):
        self.recorder = recorder
        self.flavors = flavors
        self.hosts = hosts
        self.host_names = hosts.names
        self.instances: dict[str, Instance] = {}
        self.migrations: list[Migration] = []
        self._migration_ids = itertools.count(1)
        self.idle: dict[str, IndexedSet] = {f: IndexedSet() for f in flavors}
        #: told of every flavor change, (project, old, new): counted quotas follow them
        self.on_flavor_change: Callable[[str, Flavor, Flavor], None] | None = None

    def add_instance(self, inst: Instance) -> None:
        self.instances[inst.name] = inst
        self._reindex(inst)

    def _reindex(self, inst: Instance) -> None:
        for s in self.idle.values():
            s.discard(inst.name)
        if inst.accepts_move:
            self.idle[inst.flavor.name].add(inst.name)

    def create_migration(self, inst: Instance, source: int, dest: int, old: Flavor, new: Flavor,
                         request: Request) -> Migration:
        m = Migration(next(self._migration_ids), inst, source, dest, old, new, request)
        self.migrations.append(m)
        inst.migration = m
        request.migration = m
        return m

    def save(self, t: float, who: tuple[str, str | None], inst: Instance, request: Request | None, *,
             vm_state: str = _UNSET, task_state: str | None = _UNSET,
             migration_status: str = _UNSET, **extra: Any) -> None:
        """Change an instance's (and its migration's) states and record the change."""
        was_idle = inst.accepts_move
        if inst.io_host >= 0:  # recount the I/O operation where it now is
            self.hosts.io_ops[inst.io_host] -= 1
            inst.io_host = -1
        if vm_state is not _UNSET:
            inst.vm_state = vm_state
        if task_state is not _UNSET:
            inst.task_state = task_state
        if migration_status is not _UNSET:
            assert inst.migration is not None, "no migration to update"
            inst.migration.status = migration_status
        if inst.task_state in states.IO_OPS_TASK_STATES:
            self.hosts.io_ops[inst.host] += 1
            inst.io_host = inst.host
        if was_idle != inst.accepts_move:
            if inst.accepts_move:
                self.idle[inst.flavor.name].add(inst.name)
            else:
                self.idle[inst.flavor.name].discard(inst.name)
        inst.changed_at = t
        m = inst.migration
        if ("claimed" in extra or "released" in extra) and inst.migration is not None:
            # where resources moved: the source's and the destination's use after it
            m = inst.migration
            for role, h in (("source", m.source), ("dest", m.dest)):
                if h >= 0:
                    extra[f"{role}_usage"] = {"host": self.hosts.names[h], "use": self.hosts.usage(h)}
        self.recorder.emit(t, request.request if request else None, inst.name, who[0], who[1],
                           "state", "instance.save", vm_state=inst.vm_state,
                           task_state=inst.task_state,
                           migration_status=m.status if m is not None else None,
                           instance_host=self.host_names[inst.host],
                           attempt=request.attempt if request else None, **extra)

    def reserve(self, name: str) -> None:
        """A user has picked this instance: not idle for other picks until nova-api
        has handled the request (``release`` puts it back if nothing changed)."""
        inst = self.instances[name]
        self.idle[inst.flavor.name].discard(name)

    def release(self, inst: Instance) -> None:
        self._reindex(inst)

    def set_flavor(self, inst: Instance, flavor: Flavor) -> None:
        """The instance takes another flavor (finish_resize), keeping the idle index right."""
        idle = inst.accepts_move
        if idle:
            self.idle[inst.flavor.name].discard(inst.name)
        if self.on_flavor_change is not None:
            self.on_flavor_change(inst.project, inst.flavor, flavor)
        inst.flavor = flavor
        if idle:
            self.idle[flavor.name].add(inst.name)

    def pick_idle(self, rng: random.Random, exclude_flavor: str | None,
                  within: Iterable[str] | None = None) -> str | None:
        """A random instance that can take a move now, whose flavor is not ``exclude_flavor``."""
        if within is not None:
            pool = [n for n in within if self.instances[n].flavor.name != exclude_flavor
                    and n in self.idle[self.instances[n].flavor.name].pos]
            return pool[rng.randrange(len(pool))] if pool else None
        sets = [s for f, s in self.idle.items() if f != exclude_flavor and len(s)]
        total = sum(len(s) for s in sets)
        if not total:
            return None
        k = rng.randrange(total)
        for s in sets:
            if k < len(s):
                return s.items[k]
            k -= len(s)
        raise AssertionError("unreachable")
