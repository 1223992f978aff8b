"""The cloud at t=0: every instance of the scenario booted on a host.

An instance with a ``host`` is put there (if its flavor fits); the others are placed
one after another by the scheduler's own filters and weighers, as a boot would place
them, with the zone, server group and hints they were booted with. An instance that
fits nowhere is an error of the scenario, at its key path.
"""
from __future__ import annotations

import random
from typing import Mapping

from models.database import Database
from models.disks import PLAIN, DiskLayout
from models.exceptions import NoValidHost
from models.hosts import HostTable
from models.objects import Flavor, Instance
from models.quota import Quotas
from models.release import Release
from models.request_spec import RequestSpecs
from models.scenario import LoadedScenario
from models.scheduler import SchedulerConfig, SchedulerView, select_hosts


def place_instances(loaded: LoadedScenario, *, flavors: dict[str, Flavor], hosts: HostTable, db: Database,
                    quotas: Quotas, specs: RequestSpecs, config: SchedulerConfig, rng: random.Random,
                    layouts: Mapping[str, DiskLayout] | None = None, release: Release | None = None) -> None:
    """Boot the scenario's instances: into ``db``, their flavors counted on their hosts
    and in their projects' quotas, their server groups' members in ``specs``."""
    view = SchedulerView(hosts, worker=-1)
    placed: dict[str, Instance] = {}
    for idx, spec in enumerate(loaded.instances):
        flavor = flavors[spec.flavor]
        layout = layouts.get(spec.name, PLAIN) if layouts else PLAIN
        if layout.boot_from_volume and release is not None and not release.volume_root_claims_disk:
            flavor = flavor.volume_backed()
        inst = Instance(spec.name, idx, flavor, -1, spec.disk_used_gb, spec.vm_state, spec.project, spec.zone)
        inst.group = loaded.groups.get(spec.name)
        if inst.group is not None:
            specs.group_members[inst.group[0]].append(inst)
        inst.same_host, inst.different_host = spec.same_host, spec.different_host
        inst.ephemeral_used_gb, inst.config_drive_mb = spec.ephemeral_used_gb, spec.config_drive_mb
        inst.disks = layout
        if spec.host is not None:
            host = hosts.index[spec.host]
            short = hosts.shortfall(host, flavor, config.claim_tests or ("ram", "vcpu", "disk"))
            if short is not None:
                raise loaded.error(f"instances[{spec.group}].host",
                                   f"instance {spec.name} ({flavor.name}) does not fit on host {spec.host}: {short}")
        else:
            try:
                host = select_hosts(view, specs.for_boot(inst, flavor, placed), config, rng=rng, best_n=1).host
            except NoValidHost as exc:
                why = next((f for f, _, out in exc.filters if out == 0), "")
                raise loaded.error(f"instances[{spec.group}]",
                                   f"no host can take instance {spec.name} ({flavor.name}, {flavor.ram_mb} MB RAM) "
                                   f"at placement: {why} leaves no host (add hosts, raise an allocation ratio, "
                                   f"or relax its zone, group or hints)") from None
        inst.host = host
        hosts.take(host, flavor)
        placed[inst.name] = inst
        db.add_instance(inst)
        quotas.add_instance(inst.project, flavor)
