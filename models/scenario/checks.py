"""The cross-checks a schema cannot make: names that must be known (flavors, hosts,
instances, projects, zones, topics), name ranges, duplicates, disks larger than their
flavor, outages that would overlap. Each section of the scenario has its check; the
first problem raises a ``ScenarioError`` at its key path.
"""
from __future__ import annotations

from typing import Any, Callable, NoReturn

from models.catalog import SERVICE_OPERATIONS, topics
from models.scenario.schema import Scenario
from models.scenario.specs import HostSpec, InstanceSpec, LoadedScenario
from simulator.engine.names import expand_names
from simulator.engine.validation import Checker


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
            names = expand_names(h.name)
        except ValueError as exc:
            check.fail(("hosts", i, "name"), str(exc))
        for n in names:
            if n in seen:
                check.fail(("hosts", i, "name"), f"host {n!r} is declared twice")
            seen.add(n)
            loaded.hosts.append(HostSpec(n, h.rack, h.vcpus, h.ram_mb, h.disk_gb, h.nic_gbps,
                                         h.availability_zone, h.enabled, h.disk_read_mibps,
                                         h.disk_write_mibps, h.storage, h.up))
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
    unlimited_ok = model.copy_.stream_mibps is not None
    for i, link in enumerate(model.network.links):
        for end in (link.a, link.b):
            if end in host_names and link.gbps is None and not unlimited_ok:
                check.fail(("network", "links", i, "gbps"),
                           f"the link of host {end} needs a capacity (gbps), or set copy.stream_mibps: "
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
        if g.name is not None:
            try:
                names = expand_names(g.name)
            except ValueError as exc:
                check.fail(("instances", i, "name"), str(exc))
        else:
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
                eph, g.config_drive_mb))


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
    check_fault_windows(model.faults, check.fail)


def _workload(model: Scenario, host_names: set[str], inst_names: set[str], check: Checker) -> None:
    for i, w in enumerate(model.workload):
        if w.flavor is not None:
            _known_flavor(model, check, ("workload", i, "flavor"), w.flavor)
        if w.host is not None:
            check.known(("workload", i, "host"), w.host, host_names, "host")
        if w.instance is not None:
            check.known_names(("workload", i, "instance"), w.instance, inst_names, "instance")
        elif not inst_names:
            check.fail(("workload", i), "the workload targets instances but the scenario declares none")
def outage_targets(f: Any) -> list[tuple]:
    """What an outage fault takes down (a host's nova-compute, a service, the broker,
    a link), one key per target; [] for faults that take nothing down."""
    if f.kind == "compute_crash":
        return [("compute", h) for h in expand_names(f.host)]
    if f.kind == "service_down":
        return [("service", f.service)]
    if f.kind == "broker_restart":
        return [("broker",)]
    if f.kind == "link_down":
        return [("link",) + tuple(sorted((f.a, f.b)))]
    return []


def check_fault_windows(faults: list, fail: Callable[..., NoReturn]) -> None:
    """A thing that is down cannot go down again: two outages of the same service,
    host, broker or link may not overlap (the second would start while the first
    holds, and the restart of the first would end both). A recurring outage strikes
    at random times, so it must be the only outage of what it targets."""
    last: dict[tuple, tuple[int, float]] = {}
    recurring: dict[tuple, int] = {}
    for i, f in enumerate(faults):
        if f.rate is not None:
            for key in outage_targets(f):
                recurring.setdefault(key, i)
    order = sorted(range(len(faults)), key=lambda i: (faults[i].at or 0.0, i))
    for i in order:
        f = faults[i]
        for key in outage_targets(f):
            j = recurring.get(key, i)
            if j != i:
                fail(("faults", i), f"faults[{j}] takes down {_target_name(key)} at random times "
                     f"(it has a 'rate'), so this outage of it could overlap one of those; "
                     f"a recurring outage must be the only outage of what it targets")
            if f.rate is not None:
                continue
            at = f.at or 0.0
            if key in last and at < last[key][1]:
                j, end = last[key]
                until = "never comes back" if end == float("inf") else f"is down until {end:g} s"
                fail(("faults", i, "at"), f"overlaps faults[{j}] ({faults[j].kind}): it {until}; "
                     f"start this one at or after that, or merge the two")
            last[key] = (i, at + (float("inf") if f.lasts is None else f.lasts))


def _target_name(key: tuple) -> str:
    if key[0] == "compute":
        return f"{key[1]}'s nova-compute"
    if key[0] == "service":
        return f"nova-{key[1]}"
    return "the broker" if key[0] == "broker" else f"link {key[1]}-{key[2]}"
