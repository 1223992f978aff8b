"""The whole simulated cloud, built from a validated scenario and wired together.

Building takes the same steps every time: flavors and hosts, the database, the bus,
the services on their topics (nova-api, nova-conductor, nova-scheduler, one
nova-compute per host), the driver, the initial placement of instances, then the
workload. ``Cloud`` also keeps the requests' book: each request ends in exactly one
final status, and the run is over when no request has anything still to come.
"""
from __future__ import annotations

from collections import Counter
from typing import Any, Callable


from models import states
from models.api import NovaAPI
from models.compute import NovaCompute
from models.conductor import NovaConductor
from models.database import Database
from models.driver import LibvirtDriver
from models.crashes import Crashes
from models.operator import ACTION_COLUMNS, Operator
from models.faults import FaultPlan
from models.liveness import Liveness
from models.network import FLOW_COLUMNS, DiskCopier
from models.hosts import HostTable
from models.objects import Flavor, Instance
from models.quota import Quotas
from models.request import Request
from models.scheduler import NoValidHost, RequestSpec, SchedulerConfig, SchedulerView, select_hosts
from models.scheduler_manager import SCHEDULING_COLUMNS, NovaScheduler
from models.workload import Workload
from simulator.bus import MessageBus
from simulator.distributions import Sampler, make_sampler
from simulator.engine import Environment
from simulator.random_streams import RandomStreams
from simulator.recorder import TableStream, TraceRecorder
from simulator.scenario import LoadedScenario


def state_label(vm_state: str, task_state: str | None) -> str:
    """One word for an instance's state: its task state when it has one."""
    return task_state or vm_state


def _service_times(spec: Any) -> dict[str, Sampler]:
    if isinstance(spec, dict) and "dist" not in spec:
        out = {op: make_sampler(v) for op, v in spec.items()}
        out.setdefault("default", make_sampler(0))
        return out
    return {"default": make_sampler(spec)}


#: the reason of a Kilo request whose API call to the conductor timed out (HTTP 500)
API_TIMEOUT = "MessagingTimeout"


class Cloud:
    """Services, hosts, database and bus of one run, and the book of its requests."""

    def __init__(self, loaded: LoadedScenario, env: Environment, streams: RandomStreams,
                 recorder: TraceRecorder):
        model = loaded.model
        self.loaded = loaded
        self.env = env
        self.streams = streams
        self.recorder = recorder
        self.nova = model.nova
        self.flavors = {name: Flavor(name, **f.model_dump()) for name, f in model.flavors.items()}
        hs = loaded.hosts
        self.hosts = HostTable(
            [h.name for h in hs], [h.rack for h in hs], [h.vcpus for h in hs],
            [h.ram_mb for h in hs], [h.disk_gb for h in hs], [h.nic_gbps for h in hs],
            cpu_allocation_ratio=self.nova.cpu_allocation_ratio,
            ram_allocation_ratio=self.nova.ram_allocation_ratio,
            disk_allocation_ratio=self.nova.disk_allocation_ratio,
            reserved_host_memory_mb=self.nova.reserved_host_memory_mb,
            reserved_host_disk_mb=self.nova.reserved_host_disk_mb,
            zones=[h.zone for h in hs], enabled=[h.enabled for h in hs])
        self.hosts.up[:] = [h.up for h in hs]
        nova = self.nova
        self.liveness = Liveness(self.hosts, nova.report_interval, nova.service_down_time)
        self.modern = nova.release == "modern"
        self.scheduler_config = SchedulerConfig(
            filters=tuple(nova.scheduler_default_filters),
            weighers=tuple(nova.scheduler_weight_classes),
            multipliers={"ram_weight_multiplier": nova.ram_weight_multiplier,
                         "cpu_weight_multiplier": nova.cpu_weight_multiplier,
                         "disk_weight_multiplier": nova.disk_weight_multiplier,
                         "io_ops_weight_multiplier": nova.io_ops_weight_multiplier,
                         "weight_multiplier": 1.0},
            host_subset_size=nova.host_subset_size,
            placement=self.modern,
            alternates=nova.max_attempts - 1 if self.modern else 0)
        #: requests whose scheduling is recorded in full (which hosts each filter removed)
        self.explain: set[int] = set()
        #: scheduling.csv rows (kept in memory unless the runner streams them to a file)
        self.scheduling: TableStream | None = TableStream(SCHEDULING_COLUMNS)
        self.db = Database(recorder, self.flavors, self.hosts)
        latency = make_sampler(model.bus.latency)
        rng_bus = streams.stream("bus.latency")
        self.bus = MessageBus(env, (lambda: latency(rng_bus)), recorder)
        self.faults = FaultPlan(model.faults, streams, self.hosts.names)
        if self.faults:
            self.bus.faults = self.faults
        svc = model.services
        self.api = NovaAPI(self, "controller", svc.api.workers, _service_times(svc.api.service_time),
                           streams.stream("services.api"), None)
        self.conductor = NovaConductor(self, "controller", svc.conductor.workers,
                                       _service_times(svc.conductor.service_time),
                                       streams.stream("services.conductor"), "conductor")
        self.scheduler = NovaScheduler(self, "controller", svc.scheduler.workers,
                                       _service_times(svc.scheduler.service_time),
                                       streams.stream("services.scheduler"), "scheduler")
        compute_times = _service_times(svc.compute.service_time)
        self.computes = [
            NovaCompute(self, i, name, svc.compute.workers, compute_times,
                        streams.stream(f"services.compute.{name}"), f"compute.{name}")
            for i, name in enumerate(self.hosts.names)]
        self.hosts.audit_offset[:] = [c.periodic_offset for c in self.computes]
        self.hosts.audit_interval = self.nova.periodic_interval
        guest = model.guest
        #: flows.csv rows (kept in memory unless the runner streams them to a file)
        self.flows: TableStream | None = TableStream(FLOW_COLUMNS)
        self.copier = DiskCopier(env, loaded, self.hosts, self.flows)
        for i, f in enumerate(model.faults):
            if f.kind == "link_down" and not self.copier.topology.graph.has_edge(f.a, f.b):
                raise loaded.error(f"faults[{i}]", f"there is no link between {f.a!r} and "
                                    f"{f.b!r} (links join hosts to their rack, racks to core or spines)")
        lost = self.copier.topology.unreachable(self.hosts.names)
        if lost:
            raise loaded.error("network", f"no route between {self.hosts.names[0]} and "
                                f"host(s) {', '.join(lost[:8])}: every host must be connected")
        self.driver = LibvirtDriver(env, self.copier, shutdown=make_sampler(guest.shutdown),
                                    boot=make_sampler(guest.boot),
                                    shutdown_timeout=self.nova.shutdown_timeout,
                                    retry_interval=self.nova.shutdown_retry_interval,
                                    ignore_acpi=guest.ignore_acpi,
                                    disk_setup_per_gib=guest.disk_setup_per_gib,
                                    rng_shutdown=streams.stream("guest.shutdown"),
                                    rng_boot=streams.stream("guest.boot"))
        self._place_instances()
        self.crashes = Crashes(self)
        #: auto-confirms put off while a service was down: (the compute, the migration)
        self.deferred_confirms: list[tuple[Any, Any]] = []
        env.waiting = self.waits_on_outage
        self.operator = Operator(self)
        #: actions.csv rows (kept in memory unless the runner streams them to a file)
        self.actions: TableStream | None = TableStream(ACTION_COLUMNS)
        #: how many instances were in each state at the start (for states.png)
        self.initial_states = Counter(state_label(i.vm_state, i.task_state)
                                      for i in self.db.instances.values())
        self.workload = Workload(self, model.workload)
        self.requests: list[Request] = []
        self.open = self.workload.total
        #: background effects still to come that no request waits for (a resource
        #: audit's release after a crash): the run waits for them too
        self.pending = 0
        self.done = env.event()
        self.on_settle: Callable[[Request], None] | None = None
        if self.open == 0:
            self.done.succeed()

    # -- building ------------------------------------------------------------------
    def _place_instances(self) -> None:
        """Place the scenario's instances at t=0 with the scheduler's own filters and
        weighers (or on the host given), failing loudly when one cannot fit."""
        view = SchedulerView(self.hosts, worker=-1)
        rng = self.streams.stream("placement")
        placed: dict[str, Instance] = {}
        cfg = self.scheduler_config
        self.quotas = Quotas(limits={p: pr.quota.model_dump() for p, pr in self.loaded.model.projects.items()})
        self.group_members: dict[str, list[Instance]] = {g: [] for g in self.loaded.model.server_groups}
        for idx, spec in enumerate(self.loaded.instances):
            flavor = self.flavors[spec.flavor]
            inst = Instance(spec.name, idx, flavor, -1, spec.disk_used_gb, spec.vm_state,
                            spec.project, spec.zone)
            inst.group = self.loaded.groups.get(spec.name)
            if inst.group is not None:
                self.group_members[inst.group[0]].append(inst)
            inst.same_host, inst.different_host = spec.same_host, spec.different_host
            inst.ephemeral_used_gb, inst.config_drive_mb = spec.ephemeral_used_gb, spec.config_drive_mb
            if spec.host is not None:
                host = self.hosts.index[spec.host]
                short = self.hosts.shortfall(host, flavor, cfg.claim_tests or ("ram", "vcpu", "disk"))
                if short is not None:
                    raise self.loaded.error(f"instances[{spec.group}].host",
                                            f"instance {spec.name} ({flavor.name}) does not fit on host "
                                            f"{spec.host}: {short}")
            else:
                req = self.request_spec(inst, flavor, placed=placed, boot=True)
                try:
                    host = select_hosts(view, req, cfg, rng=rng, best_n=1).host
                except NoValidHost as exc:
                    why = next((f for f, _, out in exc.filters if out == 0), "")
                    raise self.loaded.error(f"instances[{spec.group}]",
                                            f"no host can take instance {spec.name} ({flavor.name}, "
                                            f"{flavor.ram_mb} MB RAM) at placement: {why} leaves no host "
                                            f"(add hosts, raise an allocation ratio, or relax its "
                                            f"zone, group or hints)") from None
            inst.host = host
            self.hosts.take(host, flavor)
            placed[inst.name] = inst
            self.db.add_instance(inst)
            self.quotas.add_instance(inst.project, flavor)

    def request_spec(self, inst: Instance, flavor: Flavor, *, ignore_hosts: list[int] | None = None,
                     force_hosts: list[int] | None = None, retry: dict | None = None,
                     placed: dict[str, Instance] | None = None, boot: bool = False) -> RequestSpec:
        """The scheduler's view of a request for ``inst``: its zone, its server group's
        other members' hosts, and its scheduler hints (at boot; for a move only in
        modern Nova, which keeps the boot RequestSpec)."""
        instances = placed if placed is not None else self.db.instances
        spec = RequestSpec(flavor, instance_flavor=inst.flavor, ignore_hosts=ignore_hosts or [],
                           force_hosts=force_hosts or [],
                           retry_hosts=list(retry["hosts"]) if retry else [],
                           num_attempts=retry["num_attempts"] if retry else 1, zone=inst.zone)
        if inst.group is not None:
            spec.group_policy = inst.group[1]
            spec.group_hosts = sorted({m.host for m in self.group_members[inst.group[0]]
                                       if m is not inst and m.host >= 0})
        if boot or self.modern:
            if inst.same_host:
                spec.same_host = sorted({instances[n].host for n in inst.same_host if n in instances})
            if inst.different_host:
                spec.different_host = sorted({instances[n].host for n in inst.different_host if n in instances})
        return spec

    def start(self) -> None:
        self.faults.start(self.env, self.recorder)
        self.crashes.start()
        self.operator.start()
        self.workload.start()

    def rearm_confirms(self, not_before: float) -> None:
        """A service is back: the auto-confirms put off while it was down (or seen
        down) go to their computes' next periodic runs."""
        deferred, self.deferred_confirms = self.deferred_confirms, []
        for compute, m in deferred:
            compute.auto_confirm_later(m, not_before)

    def compute_seen_up(self, host: int) -> bool:
        """Whether Nova's servicegroup API counts ``host``'s nova-compute up now."""
        self.liveness.refresh(self.env.now)
        return bool(self.hosts.up[host])

    def waits_on_outage(self) -> bool:
        """Whether something waits for an outage in progress to end (a recurring
        fault's end is a background event; this makes it happen): messages queued for
        a stopped service, messages held while the broker is down, stalled copies."""
        return any(waits() for waits in self.crashes.waiting)

    # -- the requests' book ------------------------------------------------------------
    def arrive(self, req: Request) -> None:
        self.requests.append(req)
        self.api.http("resize", req)

    def finish(self, req: Request, status: str, reason: str | None = None) -> None:
        """The request has reached a final status; nothing more will come for it."""
        if req.ended:
            return
        if status in ("error", "rejected") and any(req.quota_delta):
            # the move failed: its quota reservation is rolled back
            self.quotas.rollback(req.target.project, req.quota_delta)
            req.quota_delta = (0, 0)
        req.status = status
        if reason is not None and req.reason != API_TIMEOUT:
            # a Kilo API call that timed out keeps that reason whatever its move became
            req.reason = reason
        if req.finished is None:
            req.stop_clock(self.env.now)
        self._end(req)

    def verify_resize(self, req: Request) -> None:
        """The instance is in VERIFY_RESIZE: the request's latency ends here, and the
        user's confirm or revert (if any) is scheduled."""
        if req.ended:
            return
        req.stop_clock(self.env.now)
        req.status = "resized"
        if any(req.quota_delta):  # finish_resize commits the upsize reservation
            self.quotas.commit(req.target.project, req.quota_delta)
        delay = None
        if req.revert_after is not None:
            req.action, delay = "revert_resize", req.revert_after
        elif req.confirm_after is not None:
            coin = self.streams.stream(f"workload[{req.workload}].revert")
            revert = req.revert_chance > 0 and coin.random() < req.revert_chance
            req.action = "revert_resize" if revert else "confirm_resize"
            delay = req.confirm_after
        if delay is not None:
            req.action_pending = True
            self.env.timeout(delay).callbacks.append(lambda _ev: self._user_action(req))
        elif self.nova.resize_confirm_window <= 0:
            self._end(req)

    def _user_action(self, req: Request) -> None:
        self.api.http(req.action, req)

    def start_confirm(self, who: tuple[str, str | None], req: Request) -> None:
        """API.confirm_resize's effect, from nova-api or the auto-confirm task."""
        inst = req.target
        m = inst.migration
        if req.confirm_started is None:
            req.confirm_started = self.env.now
        self.db.save(self.env.now, who, inst, req, migration_status=states.CONFIRMING)
        self.bus.cast(who, f"compute.{self.hosts.names[m.source]}", "confirm_resize", {}, req)

    def confirmed(self, req: Request) -> None:
        req.confirm = self.env.now - req.confirm_started
        m = req.target.migration
        down = (min(0, m.new_flavor.vcpus - m.old_flavor.vcpus), min(0, m.new_flavor.ram_mb - m.old_flavor.ram_mb))
        if any(down):  # a downsize's quota delta is committed at confirm
            self.quotas.adjust(req.target.project, *down)
        self.finish(req, "confirmed")

    def reverted(self, req: Request) -> None:
        req.revert = self.env.now - req.revert_started
        if any(req.quota_delta):  # the committed upsize is given back
            self.quotas.adjust(req.target.project, -req.quota_delta[0], -req.quota_delta[1])
        self.finish(req, "reverted")

    def api_timed_out(self, req: Request) -> None:
        """nova-api gave up on the conductor (HTTP 500); the move may still go on."""
        if not req.settled and req.reason is None:
            req.reason = API_TIMEOUT

    def answered(self, req: Request) -> None:
        """nova-api has sent its HTTP answer for the move."""
        if req.ended:
            self._end(req)

    def action_done(self, req: Request) -> None:
        """nova-api has handled the user's confirm or revert (accepted or refused)."""
        req.action_pending = False
        if req.ended:
            self._end(req)

    def _end(self, req: Request) -> None:
        """Nothing more comes from the pipeline; the request settles once nova-api has
        answered it and handled the user's scheduled confirm or revert, if any."""
        req.ended = True
        if req.http_status is not None and not req.action_pending:
            self._settle(req)

    def _settle(self, req: Request) -> None:
        if req.settled:
            return
        req.settled = True
        self.open -= 1
        if self.on_settle is not None:
            self.on_settle(req)
        self._maybe_done()

    def hold(self) -> None:
        self.pending += 1

    def unhold(self) -> None:
        self.pending -= 1
        self._maybe_done()

    def _maybe_done(self) -> None:
        if self.open == 0 and self.pending == 0 and not self.done.triggered:
            self.done.succeed()

    def _left_as(self, req: Request, inst: Any, m: Any) -> str:
        """What a stuck request's instance was left in, for its reason."""
        if inst.task_state:
            return f"task_state {inst.task_state}"
        if m is not None and m.request is req:
            return f"migration {m.status} (instance {inst.vm_state}, no task)"
        if req.request in self.crashes.cleared:
            return f"resize_prep cleared by init_host (instance {inst.vm_state}, no task)"
        return f"abandoned (instance {inst.vm_state}, no task)"

    def close_books(self, stopped_early: bool) -> None:
        """At the end of the run, name what is still open. Stopped by ``--until``: in
        flight (or resized, if only its confirm was to come). Stopped because nothing
        was left to happen: stuck, with the state the instance was left in."""
        for req in self.requests:
            m = req.target.migration if req.target is not None else None
            if (not req.settled and not stopped_early and req.status == "resized" and m is not None
                    and m.request is req and m.status in ("confirming", "reverting")):
                # the confirm or revert was under way and nothing will finish it
                req.status, req.reason = "stuck", f"migration {m.status}"
                req.settled = True
                continue
            if not req.settled:
                if not req.ended and req.status != "resized":
                    if stopped_early:
                        req.status = "in_flight"
                    else:
                        inst = req.target
                        req.status = "stuck"
                        if req.source is None:  # nova-api never took it (down for good)
                            req.reason = "never handled by nova-api"
                        elif req.reason != API_TIMEOUT and (req.reason is None or not inst.task_state):
                            req.reason = self._left_as(req, inst, m)
                        if req.finished is None:
                            req.stop_clock(self.env.now)
                req.settled = True
