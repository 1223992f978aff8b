"""Load and validate a scenario: YAML (or a dict) in, a checked ``Scenario`` out.

Validation happens in one pass before anything runs: the schema (types, ranges,
unknown keys), then the cross-references a schema cannot see (flavor and host names,
name ranges, duplicates, disks larger than their flavor). The first problem raises a
``ScenarioError`` naming the file, the key path and what is expected.
"""
from __future__ import annotations

import copy
import difflib
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from simulator.errors import ScenarioError
from simulator.names import expand_names
from simulator.schema import SERVICE_OPERATIONS, Scenario
from simulator.yamlio import load_yaml


@dataclass(frozen=True)
class HostSpec:
    """One compute host after name ranges are expanded."""

    name: str
    rack: str | None
    vcpus: int
    ram_mb: int
    disk_gb: int
    nic_gbps: float
    zone: str = "nova"
    enabled: bool = True
    disk_read_mibps: float | None = None
    disk_write_mibps: float | None = None
    storage: str = "local"
    up: bool = True


@dataclass(frozen=True)
class InstanceSpec:
    """One instance after ranges and counts are expanded."""

    name: str
    flavor: str
    disk_used_gb: float
    host: str | None
    vm_state: str
    group: int
    project: str = "default"
    zone: str | None = None
    same_host: tuple[str, ...] = ()
    different_host: tuple[str, ...] = ()
    ephemeral_used_gb: float = 0.0
    config_drive_mb: float = 0.0


@dataclass
class LoadedScenario:
    """A validated scenario: the schema model plus its expanded hosts and instances."""

    model: Scenario
    source: str
    hosts: list[HostSpec] = field(default_factory=list)
    instances: list[InstanceSpec] = field(default_factory=list)
    #: instance name → (server group name, policy)
    groups: dict[str, tuple[str, str]] = field(default_factory=dict)
    #: key path → line in the file, for errors found after loading
    lines: dict[str, int] = field(default_factory=dict)

    def error(self, path: str, message: str) -> ScenarioError:
        """The error for a problem found at ``path`` once the model is being built."""
        return ScenarioError(self.source, path, message, line_of(self.lines, path))

    def resolved(self) -> dict[str, Any]:
        """The scenario with every default filled in, as saved in summary.json."""
        return self.model.model_dump(mode="json", by_alias=True)


def line_of(lines: dict[str, int], path: str) -> int | None:
    """The line of ``path``, or of the nearest key above it, in the file."""
    probe = path
    while probe:
        if probe in lines:
            return lines[probe]
        probe = probe.rsplit(".", 1)[0] if "." in probe else (probe.rsplit("[", 1)[0] if "[" in probe else "")
    return None


def format_path(loc: typing.Iterable[Any]) -> str:
    """``('workload', 1, 'flavor')`` → ``workload[1].flavor``."""
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out


def _model_at(root: type, loc: tuple[Any, ...]) -> type | None:
    """The pydantic model class found at ``loc`` inside ``root``, if any."""
    cur: Any = root
    for part in loc:
        cur = _unwrap(cur)
        if isinstance(cur, type) and issubclass(cur, BaseModel):
            f = None
            if isinstance(part, str):
                f = cur.model_fields.get(part) or next(
                    (fi for fi in cur.model_fields.values() if fi.alias == part), None)
            if f is None:
                return None
            cur = f.annotation
        elif typing.get_origin(cur) in (list, dict):
            cur = typing.get_args(cur)[-1]
        else:
            return None
    cur = _unwrap(cur)
    return cur if isinstance(cur, type) and issubclass(cur, BaseModel) else None


def _unwrap(tp: Any) -> Any:
    while True:
        origin = typing.get_origin(tp)
        if origin is typing.Annotated:
            tp = typing.get_args(tp)[0]
        elif origin in (typing.Union, getattr(__import__("types"), "UnionType", None)):
            args = [a for a in typing.get_args(tp) if a is not type(None)]
            if len(args) != 1:
                return tp
            tp = args[0]
        else:
            return tp


def _explain(err: dict[str, Any]) -> tuple[tuple[Any, ...], str]:
    loc = tuple(p for p in err["loc"] if not (isinstance(p, str) and p in ("poisson", "periodic")))
    kind = err["type"]
    given = err.get("input")
    if kind == "extra_forbidden":
        parent = _model_at(Scenario, loc[:-1])
        allowed = sorted(f.alias or n for n, f in parent.model_fields.items()) if parent else []
        hint = difflib.get_close_matches(str(loc[-1]), allowed, n=1)
        msg = "unknown key"
        if hint:
            msg += f" (did you mean '{hint[0]}'?)"
        if allowed:
            msg += f"; expected one of: {', '.join(allowed)}"
        return loc, msg
    if kind == "missing":
        return loc, "required key is missing"
    msg = err["msg"]
    if msg.startswith("Value error, "):
        msg = msg[len("Value error, "):]
    elif kind.endswith("_type") or kind in ("greater_than", "greater_than_equal", "less_than",
                                             "literal_error", "too_short", "union_tag_invalid"):
        msg = f"{msg[0].lower()}{msg[1:]} (got {given!r})"
    return loc, msg


def load_scenario(source: str | Path | dict[str, Any]) -> LoadedScenario:
    """Validate a scenario given as a YAML path or as a dict (the Python API)."""
    if isinstance(source, dict):
        data, lines, name = copy.deepcopy(source), {}, "<scenario>"
    else:
        name = str(source)
        data, lines = load_yaml(source)
    if not isinstance(data, dict):
        raise ScenarioError(name, "", f"expected a mapping of scenario keys at the top level, got {type(data).__name__}")

    def fail(loc: tuple[Any, ...] | str, msg: str) -> typing.NoReturn:
        path = loc if isinstance(loc, str) else format_path(loc)
        raise ScenarioError(name, path, msg, line_of(lines, path))

    if "name" not in data and not isinstance(source, dict):
        data["name"] = Path(name).stem
    try:
        model = Scenario.model_validate(data)
    except ValidationError as exc:
        loc, msg = _explain(exc.errors()[0])
        fail(loc, msg)
    return _cross_check(LoadedScenario(model=model, source=name, lines=lines), fail)


def _cross_check(loaded: LoadedScenario, fail: typing.Callable[..., typing.NoReturn]) -> LoadedScenario:
    model = loaded.model
    seen: set[str] = set()
    for i, h in enumerate(model.hosts):
        try:
            names = expand_names(h.name)
        except ValueError as exc:
            fail(("hosts", i, "name"), str(exc))
        for n in names:
            if n in seen:
                fail(("hosts", i, "name"), f"host {n!r} is declared twice")
            seen.add(n)
            loaded.hosts.append(HostSpec(n, h.rack, h.vcpus, h.ram_mb, h.disk_gb, h.nic_gbps,
                                         h.availability_zone, h.enabled, h.disk_read_mibps,
                                         h.disk_write_mibps, h.storage, h.up))
    host_names = seen
    flavors = model.flavors
    switches = {"core"} | {f"spine{k}" for k in range(1, (model.network.leaf_spine.spines
                                                          if model.network.leaf_spine else 0) + 1)}
    for i, h in enumerate(model.hosts):
        if h.rack is not None and (h.rack in host_names or h.rack in switches - {"core"} or h.rack == "core"):
            fail(("hosts", i, "rack"), f"rack {h.rack!r} has the name of a host or of a switch "
                 f"({', '.join(sorted(switches))}); give the rack its own name")

    def known_flavor(loc: tuple[Any, ...], f: str) -> None:
        if f not in flavors:
            fail(loc, f"unknown flavor {f!r} (expected one of: {', '.join(flavors)})")

    def known_host(loc: tuple[Any, ...], h: str) -> None:
        if h not in host_names:
            hint = difflib.get_close_matches(h, sorted(host_names), n=1)
            fail(loc, f"unknown host {h!r}" + (f" (did you mean {hint[0]!r}?)" if hint else ""))

    for svc, ops in SERVICE_OPERATIONS.items():
        st = getattr(model.services, svc).service_time
        if isinstance(st, dict) and "dist" not in st:
            for op in st:
                if op != "default" and op not in ops:
                    fail(("services", svc, "service_time", op),
                         f"unknown operation (expected 'default' or one of: {', '.join(ops)})")

    if model.network.links is not None:
        unlimited_ok = model.copy_.stream_mibps is not None
        for i, link in enumerate(model.network.links):
            for end in (link.a, link.b):
                if end in host_names and link.gbps is None and not unlimited_ok:
                    fail(("network", "links", i, "gbps"),
                         f"the link of host {end} needs a capacity (gbps), or set copy.stream_mibps: "
                         f"a copy over links that never limit would take no time")
    zones = {h.zone for h in loaded.hosts}
    inst_names: set[str] = set()
    per_flavor: dict[str, int] = {}
    for i, g in enumerate(model.instances):
        known_flavor(("instances", i, "flavor"), g.flavor)
        if g.project != "default" and g.project not in model.projects:
            fail(("instances", i, "project"), f"unknown project {g.project!r} (declare it under "
                 f"'projects', or leave it out for the unlimited project 'default')")
        if g.availability_zone is not None and g.availability_zone not in zones:
            fail(("instances", i, "availability_zone"), f"no host is in availability zone "
                 f"{g.availability_zone!r} (zones: {', '.join(sorted(zones))})")
        fl = flavors[g.flavor]
        if g.host is not None:
            known_host(("instances", i, "host"), g.host)
        used = float(fl.root_gb) if g.disk_used_gb is None else g.disk_used_gb
        if used > fl.root_gb:
            fail(("instances", i, "disk_used_gb"),
                 f"{used:g} GiB used is more than flavor {g.flavor}'s root disk of {fl.root_gb} GiB")
        eph = float(fl.ephemeral_gb) if g.ephemeral_used_gb is None else g.ephemeral_used_gb
        if eph > fl.ephemeral_gb:
            fail(("instances", i, "ephemeral_used_gb"),
                 f"{eph:g} GiB used is more than flavor {g.flavor}'s ephemeral disk of {fl.ephemeral_gb} GiB")
        if g.name is not None:
            try:
                names = expand_names(g.name)
            except ValueError as exc:
                fail(("instances", i, "name"), str(exc))
        else:
            start = per_flavor.get(g.flavor, 0)
            names = [f"{g.flavor}-{start + k + 1:03d}" for k in range(g.count or 0)]
            per_flavor[g.flavor] = start + (g.count or 0)
        for n in names:
            if n in inst_names:
                fail(("instances", i, "name"), f"instance {n!r} is declared twice")
            inst_names.add(n)
            hints = g.scheduler_hints
            loaded.instances.append(InstanceSpec(
                n, g.flavor, used, g.host, g.vm_state, i, g.project, g.availability_zone,
                tuple(hints.same_host) if hints else (), tuple(hints.different_host) if hints else (),
                eph, g.config_drive_mb))

    def known_names(loc: tuple[Any, ...], pattern: str, known: set[str], what: str,
                    expected: str = "") -> list[str]:
        """The names a pattern (``vm[1-3]``) stands for, each one of ``known``."""
        try:
            names = expand_names(pattern)
        except ValueError as exc:
            fail(loc, str(exc))
        for t in names:
            if t not in known:
                hint = difflib.get_close_matches(t, sorted(known), n=1)
                fail(loc, f"unknown {what} {t!r}" + (f" (did you mean {hint[0]!r}?)" if hint else "")
                     + (f"; expected {expected}" if expected else ""))
        return names

    def known_instances(loc: tuple[Any, ...], patterns: list[str]) -> list[str]:
        return [n for k, pattern in enumerate(patterns)
                for n in known_names(loc + (k,), pattern, inst_names, "instance")]

    for i, g in enumerate(model.instances):
        if g.scheduler_hints is not None:
            known_instances(("instances", i, "scheduler_hints", "same_host"), g.scheduler_hints.same_host)
            known_instances(("instances", i, "scheduler_hints", "different_host"), g.scheduler_hints.different_host)
    for gname, grp in model.server_groups.items():
        for member in known_instances(("server_groups", gname, "members"), grp.members):
            if member in loaded.groups:
                fail(("server_groups", gname, "members"),
                     f"instance {member!r} is already a member of group {loaded.groups[member][0]!r}")
            loaded.groups[member] = (gname, grp.policy)

    topics = {"conductor", "scheduler"} | {f"compute.{h}" for h in host_names}
    host_set = set(host_names)
    for i, f in enumerate(model.faults):
        if f.host is not None:
            named = known_names(("faults", i, "host"), f.host, host_set, "host")
            twice = sorted({h for h in named if named.count(h) > 1})
            if twice:
                fail(("faults", i, "host"), f"names {', '.join(twice)} more than once")
        if f.kind == "link_down" and model.network.model != "maxmin":
            fail(("faults", i), "links go down only with network.model maxmin")
        if f.topic is not None:
            known_names(("faults", i, "topic"), f.topic, topics, "topic",
                        "conductor, scheduler or compute.<host> (ranges allowed: compute.cmp[01-04])")
    check_fault_windows(model.faults, fail)
    for i, a in enumerate(model.operator.actions):
        known_names(("operator", "actions", i, "instance"), a.instance, inst_names, "instance")
    for i, w in enumerate(model.workload):
        if w.flavor is not None:
            known_flavor(("workload", i, "flavor"), w.flavor)
        if w.host is not None:
            known_host(("workload", i, "host"), w.host)
        if w.instance is not None:
            known_names(("workload", i, "instance"), w.instance, inst_names, "instance")
        elif not inst_names:
            fail(("workload", i), "the workload targets instances but the scenario declares none")
    return loaded


def outage_targets(f: typing.Any) -> list[tuple]:
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


def check_fault_windows(faults: list, fail: typing.Callable[..., typing.NoReturn]) -> None:
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
