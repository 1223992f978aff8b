"""What the conductor asks the scheduler for: Nova's RequestSpec (with Kilo's
filter_properties), and how one is made for a boot or a move.

A spec carries the new flavor, the hosts to ignore or force, the hosts already tried,
the instance's zone, its server group's other members' hosts and its scheduler hints.
Hints count at boot; for a move only where the release keeps the boot RequestSpec
(modern Nova): Kilo rebuilt the spec from the instance and lost them.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Mapping

from models.objects import Flavor, Instance


@dataclass
class RequestSpec:
    """What the conductor asks the scheduler for (request_spec + filter_properties)."""

    flavor: Flavor
    #: the instance's current flavor (request_spec's instance_properties)
    instance_flavor: Flavor | None = None
    ignore_hosts: list[int] = field(default_factory=list)
    force_hosts: list[int] = field(default_factory=list)
    retry_hosts: list[int] = field(default_factory=list)
    num_attempts: int = 1
    #: the instance's availability zone (None: any)
    zone: str | None = None
    #: server group policy (``affinity`` / ``anti-affinity``) and its other members' hosts
    group_policy: str | None = None
    group_hosts: list[int] = field(default_factory=list)
    #: scheduler hints, as host indices of the named instances
    same_host: list[int] | None = None
    different_host: list[int] | None = None


class RequestSpecs:
    """Makes the RequestSpec of a boot or a move from the instances' records."""

    def __init__(self, instances: Mapping[str, Instance], group_members: Mapping[str, list[Instance]],
                 keeps_hints: bool):
        self.instances = instances
        self.group_members = group_members
        self.keeps_hints = keeps_hints

    def for_move(self, inst: Instance, flavor: Flavor, *, ignore_hosts: list[int] | None = None,
                 force_hosts: list[int] | None = None, retry: dict | None = None) -> RequestSpec:
        """The spec of a resize or cold migration of ``inst`` to ``flavor``."""
        return self._spec(inst, flavor, self.instances, ignore_hosts, force_hosts, retry, self.keeps_hints)

    def for_boot(self, inst: Instance, flavor: Flavor, placed: Mapping[str, Instance]) -> RequestSpec:
        """The spec of ``inst``'s boot, among the instances ``placed`` so far."""
        return self._spec(inst, flavor, placed, None, None, None, True)

    def _spec(self, inst: Instance, flavor: Flavor, instances: Mapping[str, Instance],
              ignore_hosts: list[int] | None, force_hosts: list[int] | None, retry: dict | None,
              hints: bool) -> RequestSpec:
        spec = RequestSpec(flavor, instance_flavor=inst.flavor, ignore_hosts=ignore_hosts or [],
                           force_hosts=force_hosts or [],
                           retry_hosts=list(retry["hosts"]) if retry else [],
                           num_attempts=retry["num_attempts"] if retry else 1, zone=inst.zone)
        if inst.group is not None:
            spec.group_policy = inst.group[1]
            spec.group_hosts = sorted({m.host for m in self.group_members[inst.group[0]]
                                       if m is not inst and m.host >= 0})
        if hints:
            if inst.same_host:
                spec.same_host = sorted({instances[n].host for n in inst.same_host if n in instances})
            if inst.different_host:
                spec.different_host = sorted({instances[n].host for n in inst.different_host if n in instances})
        return spec
