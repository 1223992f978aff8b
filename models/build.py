"""The one wiring step: a loaded scenario in, the parts of a simulated cloud out, each
handed exactly the collaborators it uses.

Building takes the same steps every time: flavors and the compute nodes' records,
what the servicegroup API sees, the database, the bus, the fault plan, quotas and the
book of requests, the users, the services on their topics (nova-api, nova-conductor,
nova-scheduler, one nova-compute per host), the network and the driver, the initial
placement of instances, then the outages and the operator. A problem only the build
can find (a link that does not exist, a host cut off, an instance that fits nowhere)
is a ``ScenarioError`` at its key path. No part holds the whole: ``Cloud`` is only
what the commands (run, summary, check) read.
"""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Any, Callable, Iterable

from models.api import NovaAPI
from models.auto_confirm import ConfirmBacklog
from models.compute import NovaCompute
from models.conductor import NovaConductor
from models.database import Database
from models.disks import GIB, BaseImage, DiskLayout, Transport
from models.driver import LibvirtDriver
from models.faults import FaultPlan
from models.hosts import HostTable
from models.instance_actions import InstanceActions
from models.lifecycle import RequestBook
from models.liveness import Liveness
from models.network import DiskCopier, FlowRow
from models.notifications import NotificationFormat
from models.object_calls import OBJECT_TIMES, PeriodicObjectLoad
from models.objects import Flavor
from models.operator import ActionRow, Operator
from models.outages import Outages
from models.placement import place_instances
from models.quota import Quotas
from models.release import RELEASES, Release
from models.request_spec import RequestSpecs
from models.resource_audit import ResourceAudit
from models.scenario import LoadedScenario
from models.scheduler import SchedulerConfig
from models.scheduler_manager import NovaScheduler, SchedulingRow
from models.service import NovaService, ServiceDeps
from models.workload import Workload
from simulator.engine.bus import MessageBus
from simulator.engine.distributions import Sampler, make_sampler
from simulator.engine.environment import Environment
from simulator.engine.random_streams import RandomStreams
from simulator.engine.recorder import TableStream, TraceRecorder
from simulator.engine.topology import Topology
from simulator.engine.workers import WorkerPool


@dataclass
class Sinks:
    """Where a run's records go: the trace, and the rows of scheduling.csv, flows.csv
    and operator_actions.csv (kept in memory, or streamed to files once attached to them)."""

    trace: TraceRecorder
    scheduling: TableStream
    flows: TableStream
    actions: TableStream

    @classmethod
    def in_memory(cls, trace: TraceRecorder | None = None) -> "Sinks":
        """Every table kept in memory (and the trace, unless one is given)."""
        return cls(trace or TraceRecorder(None), TableStream(SchedulingRow._fields),
                   TableStream(FlowRow._fields), TableStream(ActionRow._fields))


def state_label(vm_state: str, task_state: str | None) -> str:
    """One word for an instance's state: its task state when it has one."""
    return task_state or vm_state


@dataclass
class Cloud:
    """The parts of one run, built and wired by ``build``."""

    env: Environment
    loaded: LoadedScenario
    release: Release
    sinks: Sinks
    hosts: HostTable
    db: Database
    bus: MessageBus
    faults: FaultPlan
    liveness: Liveness
    quotas: Quotas
    book: RequestBook
    workload: Workload
    api: NovaAPI
    conductor: NovaConductor
    scheduler: NovaScheduler
    computes: list[NovaCompute]
    copier: DiskCopier
    driver: LibvirtDriver
    audit: ResourceAudit
    outages: Outages
    operator: Operator
    #: how many instances were in each state at the start (for states.png)
    initial_states: Counter[str]
    #: the instance actions and their events (instance_actions.csv, instance_action_events.csv)
    actions: InstanceActions

    def start(self) -> None:
        """Start what happens by itself: faults, outages, the operator, the users."""
        self.faults.start(self.env, self.sinks.trace)
        self.outages.start()
        self.operator.start()
        self.workload.start()
        nova = self.loaded.model.nova
        if not nova.use_local:  # the computes' periodic object traffic to the conductor
            PeriodicObjectLoad(self.env, self.bus, self.hosts.up, nova).start()

    def run(self, until: float | None = None, after_step: Callable[[], None] | None = None) -> bool:
        """Run to the end (every request settled, or nothing left to happen) or to
        ``until``, and close the books. Returns whether ``until`` stopped it while
        something was still to happen (its open requests are then in flight).
        ``after_step`` is called after every event."""
        self.start()
        stopped_early = self.env.run_until(self.book.done, until, after_step)
        self.book.close(stopped_early)
        return stopped_early

    def services(self) -> list[NovaService]:
        return [self.api, self.conductor, self.scheduler, *self.computes]

    def pools(self) -> dict[str, WorkerPool]:
        """Every service's worker pool, by lane (``nova-compute@cmp01``)."""
        pools = {"nova-api": self.api.pool, "nova-conductor": self.conductor.pool,
                 "nova-scheduler": self.scheduler.pool}
        for c in self.computes:
            pools[f"nova-compute@{c.host}"] = c.pool
        return pools


def service_times(spec: Any, own: dict[str, float] | None = None) -> dict[str, Sampler]:
    """A service's ``service_time``: one distribution, or one per operation. ``own``:
    operations with defaults of their own, which only naming them replaces."""
    if isinstance(spec, dict) and "dist" not in spec:
        out = {op: make_sampler(v) for op, v in spec.items()}
        out.setdefault("default", make_sampler(0))
    else:
        out = {"default": make_sampler(spec)}
    for op, seconds in (own or {}).items():
        out.setdefault(op, make_sampler(seconds))
    return out


def _host_table(loaded: LoadedScenario, conf: Any) -> HostTable:
    hs = loaded.hosts
    hosts = HostTable(
        [h.name for h in hs], [h.rack for h in hs], [h.vcpus for h in hs],
        [h.ram_mb for h in hs], [h.disk_gb for h in hs], [h.nic_gbps for h in hs],
        cpu_allocation_ratio=conf.cpu_allocation_ratio, ram_allocation_ratio=conf.ram_allocation_ratio,
        disk_allocation_ratio=conf.disk_allocation_ratio, reserved_host_memory_mb=conf.reserved_host_memory_mb,
        reserved_host_disk_mb=conf.reserved_host_disk_mb, zones=[h.zone for h in hs],
        enabled=[h.enabled for h in hs])
    hosts.up[:] = [h.up for h in hs]
    hosts.audit_interval = conf.periodic_interval
    return hosts


def _scheduler_config(conf: Any, release: Release) -> SchedulerConfig:
    return SchedulerConfig(
        filters=tuple(conf.scheduler_default_filters), weighers=tuple(conf.scheduler_weight_classes),
        multipliers={"ram_weight_multiplier": conf.ram_weight_multiplier,
                     "cpu_weight_multiplier": conf.cpu_weight_multiplier,
                     "disk_weight_multiplier": conf.disk_weight_multiplier,
                     "io_ops_weight_multiplier": conf.io_ops_weight_multiplier,
                     "weight_multiplier": 1.0},
        host_subset_size=conf.host_subset_size, placement=release.placement,
        alternates=release.alternates(conf.max_attempts))


def _check_network(loaded: LoadedScenario, topology: Topology, host_names: list[str], images_used: bool) -> None:
    """Every link a fault takes down exists; every host is connected; Glance hangs off
    a switch that exists (whenever images are declared, used or not)."""
    switch = loaded.model.glance.switch
    if images_used and (switch not in topology.graph or topology.graph.degree(switch) < 2
                        or switch in host_names):
        nodes = sorted(n for n in topology.graph if n not in host_names and n != "glance")
        raise loaded.error("glance.switch", f"no switch {switch!r} in the network for the image service "
                           f"(switches: {', '.join(nodes)})")
    for i, f in enumerate(loaded.model.faults):
        if f.kind == "link_down" and not topology.graph.has_edge(f.a, f.b):
            raise loaded.error(f"faults[{i}]", f"there is no link between {f.a!r} and {f.b!r} "
                               f"(links join hosts to their rack, racks to core or spines)")
    lost = topology.unreachable(host_names)
    if lost:
        raise loaded.error("network", f"no route between {host_names[0]} and host(s) {', '.join(lost[:8])}: "
                           f"every host must be connected")


def _bus(env: Environment, model: Any, streams: RandomStreams, trace: TraceRecorder,
         host_names: list[str]) -> tuple[MessageBus, FaultPlan]:
    """The message bus, and the fault plan it (and the services) consult."""
    latency, rng = make_sampler(model.bus.latency), streams.stream("bus.latency")
    bus = MessageBus(env, (lambda: latency(rng)), trace)
    faults = FaultPlan(model.faults, streams, host_names)
    if faults:
        bus.faults = faults
    return bus, faults


def _driver(env: Environment, copier: DiskCopier, model: Any, release: Release,
            streams: RandomStreams) -> LibvirtDriver:
    guest, conf, copy = model.guest, model.nova, model.copy_
    transport = Transport(copy.transport or release.default_transport, copy.compress, copy.compression or 1.0)
    return LibvirtDriver(env, copier, shutdown=make_sampler(guest.shutdown), boot=make_sampler(guest.boot),
                         os_boot=make_sampler(guest.os_boot),
                         shutdown_timeout=conf.shutdown_timeout, retry_interval=conf.shutdown_retry_interval,
                         ignore_acpi=guest.ignore_acpi, disk_setup_per_gib=guest.disk_setup_per_gib,
                         rng_shutdown=streams.stream("guest.shutdown"), rng_boot=streams.stream("guest.boot"),
                         rng_os_boot=streams.stream("guest.os_boot"), release=release, transport=transport,
                         force_raw_images=conf.force_raw_images, use_cow_images=conf.use_cow_images)


def _service_deps(env: Environment, bus: MessageBus, trace: TraceRecorder, db: Database, hosts: HostTable,
                  faults: FaultPlan, book: RequestBook, conf: Any, release: Release,
                  streams: RandomStreams) -> ServiceDeps:
    """What every service is handed, with the notification format and the instance
    actions (their request ids drawn from a stream of their own)."""
    actions = InstanceActions(streams.stream("ids.request"), release.action_events_record_host)
    return ServiceDeps(env, bus, trace, db, hosts, faults, book, NotificationFormat(conf.notification_format),
                       actions)


def _quotas(model: Any, release: Release, db: Database) -> Quotas:
    """The projects' quotas: Kilo's reservations, or modern's counts of the instances'
    flavors (told of every flavor change)."""
    quotas = Quotas(limits={p: pr.quota.model_dump() for p, pr in model.projects.items()},
                    counted=release.counts_quotas)
    if quotas.counted:
        db.on_flavor_change = quotas.flavor_changed
    return quotas


def _copier(loaded: LoadedScenario, env: Environment, sinks: Sinks, layouts: dict[str, DiskLayout],
            host_names: list[str]) -> DiskCopier:
    """The disk copier over the scenario's network (with Glance when an image is used)."""
    model = loaded.model
    images_used = any(lay.image is not None for lay in layouts.values())
    copier = DiskCopier(env, loaded.hosts, model.network, model.copy_, sinks.flows, pools=model.storage_pools,
                        glance=model.glance, images_used=images_used)
    _check_network(loaded, copier.topology, host_names, images_used or bool(model.images))
    return copier


def _layouts(loaded: LoadedScenario) -> dict[str, DiskLayout]:
    """Each instance's disk layout, by name (instances with none of the keys: PLAIN)."""
    images = {name: BaseImage(name, im.size_gb * GIB, im.disk_format, im.cached == "all")
              for name, im in loaded.model.images.items()}
    out: dict[str, DiskLayout] = {}
    shared: dict[tuple, DiskLayout] = {}
    for spec in loaded.instances:
        key = (spec.image, spec.disk_format, spec.boot_from_volume, spec.volumes)
        if key not in shared:
            shared[key] = DiskLayout(images.get(spec.image) if spec.image else None, spec.disk_format,
                                     spec.boot_from_volume, spec.volumes)
        out[spec.name] = shared[key]
    return out


def _fill_caches(copier: DiskCopier, db: Database, layouts: dict[str, DiskLayout]) -> None:
    """Each image is in the ``_base`` of the hosts its instances booted on (or everywhere)."""
    images = {lay.image.name: lay.image for lay in layouts.values() if lay.image is not None}
    for image in images.values():
        if image.cached_everywhere:
            for h in range(len(copier.host_names)):
                copier.images.add(h, image.name)
    for inst in db.instances.values():
        if inst.disks.image is not None and inst.host >= 0:
            copier.images.add(inst.host, inst.disks.image.name)


def build(loaded: LoadedScenario, env: Environment, streams: RandomStreams, sinks: Sinks, *,
          explain: Iterable[int] = ()) -> Cloud:
    """Create the parts of a cloud from ``loaded`` and wire them together. ``explain``
    names the requests whose scheduling is recorded in full. Raises ``ScenarioError``
    for what only the build can find."""
    model = loaded.model
    conf = model.nova
    release = RELEASES[conf.release]
    trace = sinks.trace
    flavors = {name: Flavor(name, **f.model_dump()) for name, f in model.flavors.items()}
    hosts = _host_table(loaded, conf)
    liveness = Liveness(hosts, conf.report_interval, conf.service_down_time)
    config = _scheduler_config(conf, release)
    db = Database(trace, flavors, hosts)
    bus, faults = _bus(env, model, streams, trace, hosts.names)
    quotas = _quotas(model, release, db)
    book = RequestBook(env, quotas, expected=sum(e.count for e in model.workload),
                       auto_confirm=conf.resize_confirm_window > 0)
    workload = Workload(env, streams, model.workload, db, book)
    book.user_action = workload.at_verify_resize
    specs = RequestSpecs(db.instances, {g: [] for g in model.server_groups}, release.keeps_request_spec)
    deps = _service_deps(env, bus, trace, db, hosts, faults, book, conf, release, streams)
    svc = model.services
    api = NovaAPI(deps, "controller", svc.api.workers, service_times(svc.api.service_time),
                  streams.stream("services.api"), conf=conf, release=release, flavors=flavors, quotas=quotas,
                  liveness=liveness)
    workload.connect(api.http)
    conductor = NovaConductor(deps, "controller", svc.conductor.workers,
                              service_times(svc.conductor.service_time, OBJECT_TIMES),
                              streams.stream("services.conductor"), conf=conf, release=release, specs=specs)
    scheduler = NovaScheduler(deps, "controller", svc.scheduler.workers, service_times(svc.scheduler.service_time),
                              streams.stream("services.scheduler"), config=config, release=release,
                              liveness=liveness, decisions=sinks.scheduling, explain=set(explain))
    layouts = _layouts(loaded)
    copier = _copier(loaded, env, sinks, layouts, hosts.names)
    driver = _driver(env, copier, model, release, streams)
    computes: list[NovaCompute] = []
    audit = ResourceAudit(env, hosts, release, trace, book, compute_down=lambda h: computes[h].pool.stopped)
    backlog = ConfirmBacklog()
    compute_times = service_times(svc.compute.service_time)
    computes.extend(
        NovaCompute(deps, i, name, svc.compute.workers, compute_times, streams.stream(f"services.compute.{name}"),
                    conf=conf, release=release, driver=driver, claim_tests=config.claim_tests, liveness=liveness,
                    compute_api=api, backlog=backlog, audit=audit)
        for i, name in enumerate(hosts.names))
    hosts.audit_offset[:] = [c.periodic_offset for c in computes]
    place_instances(loaded, flavors=flavors, hosts=hosts, db=db, quotas=quotas, specs=specs, config=config,
                    rng=streams.stream("placement"), layouts=layouts, release=release)
    _fill_caches(copier, db, layouts)
    outages = Outages(env, streams, faults, trace, bus=bus, liveness=liveness, copier=copier,
                      controllers={"api": api, "conductor": conductor, "scheduler": scheduler},
                      computes=computes, backlog=backlog, audit=audit)
    env.waiting = lambda: outages.waits_on_outage() or conductor.pool.holds_foreground()
    operator = Operator(env, model.operator, db=db, hosts=hosts, bus=bus, book=book, audit=audit, trace=trace,
                        actions=sinks.actions)
    initial = Counter(state_label(i.vm_state, i.task_state) for i in db.instances.values())
    return Cloud(env=env, loaded=loaded, release=release, sinks=sinks, hosts=hosts, db=db, bus=bus, faults=faults,
                 liveness=liveness, quotas=quotas, book=book, workload=workload, api=api, conductor=conductor,
                 scheduler=scheduler, computes=computes, copier=copier, driver=driver, audit=audit,
                 outages=outages, operator=operator, initial_states=initial, actions=deps.actions)
