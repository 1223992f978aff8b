"""The cross-checks a schema cannot make: names that must be known (flavors, hosts,
instances, projects, zones, topics, link ends), name ranges, duplicates, disks larger
than their flavor. Each section of the scenario has its check; the
first problem raises a ``ScenarioError`` at its key path.
"""
from __future__ import annotations

import difflib
from typing import Any, Callable, NoReturn

from models.catalog import SERVICE_OPERATIONS, topics
from models.scenario.schema import Scenario
from models.scenario.specs import HostSpec, InstanceSpec, LoadedScenario
from simulator.engine.fields import MAX_COUNT
from simulator.engine.names import MAX_NAMES, expand_names
from simulator.engine.validation import Checker


#: the most hosts a scenario may declare
MAX_HOSTS = 1_000_000


def cross_check(loaded: LoadedScenario, check: Checker) -> LoadedScenario:
    """Expand the hosts and instances of ``loaded`` and check every cross-reference."""
    model = loaded.model
    _hosts(loaded, check)
    host_names = {h.name for h in loaded.hosts}
    _service_times(model, check)
    _links(model, host_names, check)
    _instances(loaded, host_names, check)
    inst_names = {i.name for i in loaded.instances}
    _hints_and_groups(loaded, inst_names, check)
    _faults(model, host_names, check)
    for i, a in enumerate(model.operator.actions):
        check.known_names(("operator", "actions", i, "instance"), a.instance, inst_names, "instance")
    _workload(model, host_names, inst_names, check)
    return loaded


def _hosts(loaded: LoadedScenario, check: Checker) -> None:
    model = loaded.model
    seen: set[str] = set()
    for i, h in enumerate(model.hosts):
        try:
            names = expand_names(h.name, limit=MAX_HOSTS - len(seen))
        except ValueError as exc:
            check.fail(("hosts", i, "name"), str(exc))
        for n in names:
            if n in seen:
                check.fail(("hosts", i, "name"), f"host {n!r} is declared twice")
            seen.add(n)
            loaded.hosts.append(HostSpec(n, h.rack, h.vcpus, h.ram_mb, h.disk_gb, h.nic_gbps,
                                         h.availability_zone, h.enabled, h.disk_read_mibps,
                                         h.disk_write_mibps, h.storage, h.up))
    pools = {h.storage for h in model.hosts} - {"local", "rbd"}
    for name in model.storage_pools:
        if name not in pools:
            check.fail(("storage_pools", name), f"no host names storage pool {name!r} as its 'storage' "
                       f"(pools named: {', '.join(sorted(pools)) or 'none'})")
    if model.copy_.local_mibps is None:
        for i, h in enumerate(model.hosts):
            pooled = h.storage in model.storage_pools and model.storage_pools[h.storage].mibps is not None
            if h.storage != "rbd" and not pooled and (h.disk_read_mibps is None or h.disk_write_mibps is None):
                check.fail(("copy", "local_mibps"), f"with no limit on local copies, hosts[{i}] needs "
                           "disk_read_mibps and disk_write_mibps (or a storage pool with mibps): "
                           "a local copy would take no time")
    switches = {"core"} | {f"spine{k}" for k in range(1, (model.network.leaf_spine.spines
                                                          if model.network.leaf_spine else 0) + 1)}
    for i, h in enumerate(model.hosts):
        if h.rack is not None and (h.rack in seen or h.rack in switches):
            check.fail(("hosts", i, "rack"), f"rack {h.rack!r} has the name of a host or of a switch "
                       f"({', '.join(sorted(switches))}); give the rack its own name")


def _service_times(model: Scenario, check: Checker) -> None:
    for svc, ops in SERVICE_OPERATIONS.items():
        st = getattr(model.services, svc).service_time
        if isinstance(st, dict) and "dist" not in st:
            for op in st:
                if op != "default" and op not in ops:
                    check.fail(("services", svc, "service_time", op),
                               f"unknown operation (expected 'default' or one of: {', '.join(ops)})")


def _links(model: Scenario, host_names: set[str], check: Checker) -> None:
    if model.network.links is None:
        return
    c = model.copy_
    unlimited_ok = c.stream_mibps is not None or (c.cipher_mibps is not None and c.compress_mibps is not None)
    net = model.network
    switches = {"core"} | {h.rack for h in model.hosts if h.rack is not None}
    for k, name in enumerate(net.switches or []):
        if name in host_names:
            check.fail(("network", "switches", k), f"{name!r} is a host; list only switches here")
        if name in switches:
            check.fail(("network", "switches", k), f"switch {name!r} is declared already "
                       "(core, a host's rack, or listed before)")
        switches.add(name)
    first: dict[frozenset[str], int] = {}
    for i, link in enumerate(net.links):
        if link.a == link.b:
            check.fail(("network", "links", i, "b"), f"a link from {link.a!r} to itself")
        pair = frozenset((link.a, link.b))
        if pair in first:
            check.fail(("network", "links", i), f"link {link.a}-{link.b} is given twice "
                       f"(first as network.links[{first[pair]}]); give each link once")
        first[pair] = i
        for side, end in (("a", link.a), ("b", link.b)):
            if end not in host_names and end not in switches:
                known = sorted(host_names | switches)
                hint = difflib.get_close_matches(end, known, n=1)
                check.fail(("network", "links", i, side),
                           f"unknown link end {end!r}" + (f" (did you mean {hint[0]!r}?)" if hint else "")
                           + "; expected a host, a rack, core, or a switch listed in network.switches")
    linked = {end for link in net.links for end in (link.a, link.b)}
    for k, name in enumerate(net.switches or []):
        if name not in linked:
            check.fail(("network", "switches", k), f"switch {name!r} is on no link")
    for i, link in enumerate(net.links):
        for end in (link.a, link.b):
            if end in host_names and link.gbps is None and not unlimited_ok:
                check.fail(("network", "links", i, "gbps"),
                           f"the link of host {end} needs a capacity (gbps), or give copies a stream limit "
                           f"(copy.stream_mibps, or both copy.cipher_mibps and copy.compress_mibps): "
                           f"a copy over links that never limit would take no time")


def _known_flavor(model: Scenario, check: Checker, loc: tuple[Any, ...], f: str) -> None:
    if f not in model.flavors:
        check.fail(loc, f"unknown flavor {f!r} (expected one of: {', '.join(model.flavors)})")


def _instances(loaded: LoadedScenario, host_names: set[str], check: Checker) -> None:
    model = loaded.model
    zones = {h.zone for h in loaded.hosts}
    inst_names: set[str] = set()
    per_flavor: dict[str, int] = {}
    for i, g in enumerate(model.instances):
        _known_flavor(model, check, ("instances", i, "flavor"), g.flavor)
        if g.project != "default" and g.project not in model.projects:
            check.fail(("instances", i, "project"), f"unknown project {g.project!r} (declare it under "
                       f"'projects', or leave it out for the unlimited project 'default')")
        if g.availability_zone is not None and g.availability_zone not in zones:
            check.fail(("instances", i, "availability_zone"), f"no host is in availability zone "
                       f"{g.availability_zone!r} (zones: {', '.join(sorted(zones))})")
        fl = model.flavors[g.flavor]
        if g.host is not None:
            check.known(("instances", i, "host"), g.host, host_names, "host")
        used = float(fl.root_gb) if g.disk_used_gb is None else g.disk_used_gb
        if used > fl.root_gb:
            check.fail(("instances", i, "disk_used_gb"),
                       f"{used:g} GiB used is more than flavor {g.flavor}'s root disk of {fl.root_gb} GiB")
        eph = float(fl.ephemeral_gb) if g.ephemeral_used_gb is None else g.ephemeral_used_gb
        if eph > fl.ephemeral_gb:
            check.fail(("instances", i, "ephemeral_used_gb"),
                       f"{eph:g} GiB used is more than flavor {g.flavor}'s ephemeral disk of {fl.ephemeral_gb} GiB")
        if g.image is not None and g.image not in model.images:
            known = ", ".join(sorted(model.images)) or "none declared"
            check.fail(("instances", i, "image"), f"unknown image {g.image!r} (declare it under 'images'; "
                       f"images: {known})")
        if g.image is not None and g.boot_from_volume:
            check.fail(("instances", i, "image"), "a volume-backed instance's root disk is the volume: "
                       "leave out 'image' or 'boot_from_volume'")
        disk_format = g.disk_format or ("qcow2" if model.nova.use_cow_images else "raw")
        room = MAX_COUNT - len(inst_names)
        if g.name is not None:
            try:
                names = expand_names(g.name, limit=min(room, MAX_NAMES))
            except ValueError as exc:
                check.fail(("instances", i, "name"), str(exc))
        else:
            if (g.count or 0) > room:
                check.fail(("instances", i, "count"), f"{g.count:,} instances: at most {MAX_COUNT:,} "
                           f"in all, this simulator's bound")
            start = per_flavor.get(g.flavor, 0)
            names = [f"{g.flavor}-{start + k + 1:03d}" for k in range(g.count or 0)]
            per_flavor[g.flavor] = start + (g.count or 0)
        hints = g.scheduler_hints
        for n in names:
            if n in inst_names:
                check.fail(("instances", i, "name"), f"instance {n!r} is declared twice")
            inst_names.add(n)
            loaded.instances.append(InstanceSpec(
                n, g.flavor, used, g.host, g.vm_state, i, g.project, g.availability_zone,
                tuple(hints.same_host) if hints else (), tuple(hints.different_host) if hints else (),
                eph, g.config_drive_mb, g.image, disk_format, g.boot_from_volume,
                (g.volumes.size_gb,) * g.volumes.count if g.volumes else ()))


def _hints_and_groups(loaded: LoadedScenario, inst_names: set[str], check: Checker) -> None:
    model = loaded.model

    def known_instances(loc: tuple[Any, ...], patterns: list[str]) -> list[str]:
        return [n for k, pattern in enumerate(patterns)
                for n in check.known_names(loc + (k,), pattern, inst_names, "instance")]

    for i, g in enumerate(model.instances):
        if g.scheduler_hints is not None:
            known_instances(("instances", i, "scheduler_hints", "same_host"), g.scheduler_hints.same_host)
            known_instances(("instances", i, "scheduler_hints", "different_host"), g.scheduler_hints.different_host)
    for gname, grp in model.server_groups.items():
        for member in known_instances(("server_groups", gname, "members"), grp.members):
            if member in loaded.groups:
                check.fail(("server_groups", gname, "members"),
                           f"instance {member!r} is already a member of group {loaded.groups[member][0]!r}")
            loaded.groups[member] = (gname, grp.policy)


def _faults(model: Scenario, host_names: set[str], check: Checker) -> None:
    known_topics = topics(host_names)
    for i, f in enumerate(model.faults):
        if f.host is not None:
            named = check.known_names(("faults", i, "host"), f.host, host_names, "host")
            twice = sorted({h for h in named if named.count(h) > 1})
            if twice:
                check.fail(("faults", i, "host"), f"names {', '.join(twice)} more than once")
        if f.kind == "link_down" and model.network.model != "maxmin":
            check.fail(("faults", i), "links go down only with network.model maxmin")
        if f.topic is not None:
            check.known_names(("faults", i, "topic"), f.topic, known_topics, "topic",
                              "conductor, scheduler or compute.<host> (ranges allowed: compute.cmp[01-04])")


def _workload(model: Scenario, host_names: set[str], inst_names: set[str], check: Checker) -> None:
    total = 0
    for i, w in enumerate(model.workload):
        total += w.count
        if total > MAX_COUNT:
            check.fail(("workload", i, "count"), f"{total:,} requests in all: at most {MAX_COUNT:,}, "
                       f"this simulator's bound")
        if w.flavor is not None:
            _known_flavor(model, check, ("workload", i, "flavor"), w.flavor)
        if w.host is not None:
            check.known(("workload", i, "host"), w.host, host_names, "host")
        if w.instance is not None:
            check.known_names(("workload", i, "instance"), w.instance, inst_names, "instance")
        elif not inst_names:
            check.fail(("workload", i), "the workload targets instances but the scenario declares none")
