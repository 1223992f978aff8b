"""The scenario's schema: every key a scenario may hold, its type, range and default.

Defaults live here and only here (the release-dependent ones in ``models.release``);
``summary.json`` saves the resolved scenario with every default filled in. Unknown
keys are errors. Numbers are strict: ``"10"`` is not a number, ``true`` is not 1.
Distributions are checked by ``simulator.engine.distributions``. The names of filters,
weighers, handlers and fault kinds come from the models that implement them.
Cross-references (flavor and host names) are checked in ``models.scenario.checks``.
"""
from __future__ import annotations

from typing import Annotated, Any, Literal, Optional

from pydantic import Field, field_validator, model_validator

from models.catalog import SERVICE_OPERATIONS, SERVICES
from models.faults import FAULT_KINDS
from models.notifications import FORMATS
from models.release import RELEASES
from models.scheduler import FILTERS, WEIGHERS
from simulator.engine.fields import (GiB, Gbps, PosGiB, Interval, MiB, MiBps, Multiplier, NonNegInt, PosFloat, PosInt,
                                     PosSeconds, PosWholeGiB, PosWholeMiB, Rate, Seconds, Seed, Strict, Vcpus,
                                     WholeGiB, WholeMiB, Workers, distribution)

__all__ = ["Scenario", "SERVICE_OPERATIONS", "FILTER_NAMES", "WEIGHER_NAMES"]

#: Nova's scheduler filter and weigher classes the simulator implements
FILTER_NAMES = tuple(FILTERS)
WEIGHER_NAMES = tuple(WEIGHERS)


class ServiceConfig(Strict):
    workers: Workers
    service_time: Any = 0.0

    @field_validator("service_time", mode="before")
    @classmethod
    def _check_service_time(cls, v: Any) -> Any:
        if isinstance(v, dict) and "dist" not in v:
            # a per-operation mapping: {default: .., prep_resize: ..}
            out = {}
            for op, spec in v.items():
                try:
                    out[op] = distribution(spec)
                except ValueError as exc:
                    raise ValueError(f"{op}: {exc}") from None
            return out
        return distribution(v)


def _service(workers: int, service_time: Any) -> Any:
    return Field(default_factory=lambda: ServiceConfig(workers=workers, service_time=service_time))


class Services(Strict):
    api: ServiceConfig = _service(4, 0.05)
    conductor: ServiceConfig = _service(4, 0.02)
    scheduler: ServiceConfig = _service(1, 0.05)
    #: per compute host; 64 is oslo.messaging's executor_thread_pool_size
    compute: ServiceConfig = _service(64, 0.01)


class Bus(Strict):
    #: one-way latency of a message through the broker (seconds)
    latency: Any = 0.001

    _check = field_validator("latency", mode="before")(lambda cls, v: distribution(v))


class Nova(Strict):
    """Nova's own configuration options, by their Nova names and Kilo defaults (the
    options marked None take the default of the chosen ``release``)."""

    release: Literal[tuple(RELEASES)] = "kilo"  # type: ignore[valid-type]
    allow_resize_to_same_host: bool = False
    allow_migrate_to_same_host: bool = False
    resize_confirm_window: Seconds = 0.0
    shutdown_timeout: Seconds = 60.0
    #: how often the clean shutdown re-sends the ACPI request (libvirt driver)
    shutdown_retry_interval: Interval = 10.0
    rpc_response_timeout: PosSeconds = 60.0
    #: ``[conductor] use_local``: nova-compute writes the database itself instead of
    #: calling nova-conductor for every object (Kilo's option; modern Nova has none)
    use_local: bool = False
    #: how long the long calls wait in modern Nova (``select_destinations``, the
    #: reschedule's ``migrate_server``), heartbeats permitting; Kilo has no such option
    long_rpc_timeout: Optional[PosSeconds] = None
    #: the notifications sent: legacy ``unversioned`` (Kilo's only kind, Nova's
    #: default since Train), ``versioned`` or ``both``
    notification_format: Optional[Literal[FORMATS]] = None  # type: ignore[valid-type]
    max_attempts: Annotated[int, Field(gt=0, le=1000)] = 3
    cpu_allocation_ratio: Optional[PosFloat] = None
    ram_allocation_ratio: Optional[PosFloat] = None
    disk_allocation_ratio: Optional[PosFloat] = None
    reserved_host_memory_mb: WholeMiB = 512
    reserved_host_disk_mb: WholeMiB = 0
    scheduler_default_filters: Optional[list[str]] = None
    scheduler_weight_classes: Optional[list[str]] = None
    ram_weight_multiplier: Multiplier = 1.0
    cpu_weight_multiplier: Multiplier = 1.0
    disk_weight_multiplier: Multiplier = 1.0
    io_ops_weight_multiplier: Multiplier = -1.0
    host_subset_size: PosInt = 1
    periodic_interval: Interval = 60.0
    periodic_fuzzy_delay: Seconds = 60.0
    #: nova-compute reports every report_interval; a service is down once its last
    #: report is older than service_down_time (ComputeFilter)
    report_interval: Interval = 10.0
    service_down_time: PosSeconds = 60.0
    #: instance disks are qcow2 overlays on a base image in the ``_base`` cache (an
    #: instance's ``disk_format`` defaults to ``qcow2``), else raw files
    use_cow_images: bool = True
    #: a base image fetched from Glance in qcow2 is converted to raw in ``_base``
    force_raw_images: bool = True

    @field_validator("scheduler_default_filters")
    @classmethod
    def _known_filters(cls, v: Optional[list[str]]) -> Optional[list[str]]:
        return _known(v, FILTER_NAMES, "filter")

    @field_validator("scheduler_weight_classes")
    @classmethod
    def _known_weighers(cls, v: Optional[list[str]]) -> Optional[list[str]]:
        return _known(v, WEIGHER_NAMES, "weigher")

    @model_validator(mode="after")
    def _release_defaults(self) -> "Nova":
        release = RELEASES[self.release]
        if self.long_rpc_timeout is not None and not release.monitors_long_calls:
            raise ValueError(f"long_rpc_timeout is an option of modern Nova (Rocky on); "
                             f"release {self.release!r} waits rpc_response_timeout for every call")
        for key, value in RELEASES[self.release].defaults.items():
            if getattr(self, key) is None:
                setattr(self, key, list(value) if isinstance(value, tuple) else value)
        return self


def _known(v: Optional[list[str]], names: tuple[str, ...], what: str) -> Optional[list[str]]:
    if v is None:
        return v
    for i, name in enumerate(v):
        if name not in names:
            raise ValueError(f"[{i}]: unknown {what} {name!r} (expected one of: {', '.join(names)})")
    if len(set(v)) != len(v):
        raise ValueError(f"a {what} is named twice")
    return v


class Host(Strict):
    name: str
    rack: Optional[str] = None
    availability_zone: str = "nova"
    #: the nova-compute service is enabled (``nova service-disable`` sets false)
    enabled: bool = True
    #: the nova-compute service is up (reporting); a down host is dropped by ComputeFilter
    up: bool = True
    vcpus: Vcpus
    ram_mb: PosWholeMiB
    disk_gb: PosWholeGiB
    nic_gbps: Gbps = 10.0
    #: the local disk's throughput for copies read from and written to it (None: no limit)
    disk_read_mibps: Optional[MiBps] = None
    disk_write_mibps: Optional[MiBps] = None
    #: ``local`` instance storage; ``rbd`` (``[libvirt] images_type = rbd``: the disks
    #: live in Ceph and are never copied); or the name of a pool of shared file storage
    #: (NFS and the like) that the hosts naming it share
    storage: str = "local"


class Flavor(Strict):
    vcpus: Vcpus
    ram_mb: PosWholeMiB
    root_gb: WholeGiB
    ephemeral_gb: WholeGiB = 0
    swap_mb: WholeMiB = 0


class InstanceGroup(Strict):
    name: Optional[str] = None
    count: Optional[PosInt] = None
    flavor: str
    #: GiB actually allocated on the root disk; defaults to the flavor's root_gb
    disk_used_gb: Optional[GiB] = None
    #: GiB allocated on the ephemeral disk; defaults to the flavor's ephemeral_gb
    ephemeral_used_gb: Optional[GiB] = None
    #: size of the config drive (disk.config), 0 for none
    config_drive_mb: MiB = 0.0
    host: Optional[str] = None
    vm_state: Literal["active", "stopped"] = "active"
    project: str = "default"
    #: the zone asked for at boot (AvailabilityZoneFilter keeps the instance in it)
    availability_zone: Optional[str] = None
    #: boot-time scheduler hints; modern Nova keeps them in the RequestSpec for moves
    scheduler_hints: Optional["Hints"] = None
    #: the Glance image it was booted from (a name under ``images``): its disk is an
    #: overlay on that base image; none: a disk with no backing file
    image: Optional[str] = None
    #: how its disks are stored: ``qcow2`` (default with ``nova.use_cow_images``) or ``raw``
    disk_format: Optional[Literal["qcow2", "raw"]] = None
    #: the root disk is a Cinder volume: never copied (modern placement claims no
    #: DISK_GB for it; Kilo counts the flavor's root_gb anyway)
    boot_from_volume: bool = False
    #: Cinder volumes attached to it: never copied
    volumes: Optional["Volumes"] = None

    @model_validator(mode="after")
    def _name_or_count(self) -> "InstanceGroup":
        if (self.name is None) == (self.count is None):
            raise ValueError("give either 'name' (a name or a range such as 'vm[001-040]') or 'count'")
        return self


class Volumes(Strict):
    count: Annotated[int, Field(gt=0, le=1000)]
    size_gb: PosWholeGiB


class Image(Strict):
    """A Glance image instances boot from (the base of their qcow2 overlays)."""

    #: its size as Glance stores and serves it, and as its data in ``_base``
    size_gb: PosGiB
    #: Glance's disk format: a qcow2 image is converted to raw when fetched into
    #: ``_base`` (``nova.force_raw_images``)
    disk_format: Literal["qcow2", "raw"] = "qcow2"
    #: whose ``_base`` cache holds it at the start: ``booted`` (the hosts, or shared
    #: pools, its instances start on) or ``all``
    cached: Literal["booted", "all"] = "booted"


class StoragePool(Strict):
    #: the pool's throughput, shared by every copy through it (a ``cp`` on shared
    #: storage reads and writes each byte); none: no limit
    mibps: Optional[MiBps] = None


class Glance(Strict):
    """The image service's node on the topology, where base images are fetched from."""

    #: the switch (``core``, a rack, a spine or one of ``network.switches``) it hangs off
    switch: str = "core"
    #: its link to that switch
    gbps: Gbps = 10.0
    #: one download's own limit (none: only the links limit it)
    stream_mibps: Optional[MiBps] = None


class Hints(Strict):
    same_host: list[str] = Field(default_factory=list)
    different_host: list[str] = Field(default_factory=list)


class Quota(Strict):
    cores: Optional[NonNegInt] = None
    ram_mb: Optional[WholeMiB] = None
    instances: Optional[NonNegInt] = None


class Project(Strict):
    quota: Quota = Field(default_factory=Quota)


class ServerGroup(Strict):
    policy: Literal["affinity", "anti-affinity"]
    members: list[str]


class Guest(Strict):
    #: time for the guest to stop after the ACPI shutdown request
    shutdown: Any = 10.0
    #: the fraction of guests that ignore the ACPI request (drawn once per move)
    ignore_acpi: Annotated[float, Field(ge=0, le=1)] = 0.0
    #: finish_migration's disk set-up (resize / convert) per GiB of the instance's disks
    disk_setup_per_gib: Seconds = 0.0
    #: from the domain's creation until libvirt reports it running, which is all
    #: ``_wait_for_running`` waits for (polled every 0.5 s; an estimate, not a Nova figure)
    boot: Any = 1.0
    #: from then until the guest OS is up: not part of the move (Nova does not wait for
    #: it); requests.csv's ``time_to_ready`` adds it
    os_boot: Any = 0.0

    _check = field_validator("shutdown", "boot", "os_boot", mode="before")(lambda cls, v: distribution(v))


class Link(Strict):
    a: str
    b: str
    gbps: Optional[Gbps] = None
    latency: Seconds = 0.0


class LeafSpine(Strict):
    """Racks are leaves; each leaf links to every spine."""

    spines: Annotated[int, Field(gt=0, le=10_000)]
    #: each leaf-spine link's capacity; or derived from ``oversubscription``
    spine_gbps: Optional[Gbps] = None
    #: leaf's host bandwidth ÷ its uplink bandwidth (e.g. 3 for 3:1)
    oversubscription: Optional[PosFloat] = None

    @model_validator(mode="after")
    def _one(self) -> "LeafSpine":
        if (self.spine_gbps is None) == (self.oversubscription is None):
            raise ValueError("give either 'spine_gbps' or 'oversubscription'")
        return self


class Network(Strict):
    #: ``maxmin``: copies share links and disks max-min fairly; ``none``: each copy runs
    #: alone at its bottleneck's rate (the foundation's model)
    model: Literal["maxmin", "none"] = "maxmin"
    #: each rack switch's link to ``core`` (absent: the uplinks never limit)
    uplink_gbps: Optional[Gbps] = None
    #: latency of every link of the simple form
    latency: Seconds = 0.0
    #: the general form: links between hosts and named switches
    links: Optional[list[Link]] = None
    #: the switches ``links`` names besides the hosts' racks and ``core``
    switches: Optional[list[str]] = None
    leaf_spine: Optional[LeafSpine] = None

    @model_validator(mode="after")
    def _one_form(self) -> "Network":
        if self.links is not None and (self.leaf_spine is not None or self.uplink_gbps is not None):
            raise ValueError("'links' describes the whole network: leave out 'uplink_gbps' and 'leaf_spine'")
        if self.leaf_spine is not None and self.uplink_gbps is not None:
            raise ValueError("give either 'uplink_gbps' (racks to core) or 'leaf_spine', not both")
        if self.switches is not None and self.links is None:
            raise ValueError("'switches' names the switches of 'links': give 'links' too")
        return self


class Copy(Strict):
    #: ``rsync`` or ``scp``; none: the release's (Kilo rsync, modern scp)
    transport: Optional[Literal["rsync", "scp"]] = None
    #: whether the stream compresses; none: as the release does (Kilo's rsync always;
    #: modern only for disks that are not qcow2)
    compress: Optional[bool] = None
    #: one uncompressed ssh stream's limit (one core's cipher); null: no limit
    cipher_mibps: Optional[MiBps] = 500.0
    #: one compressing stream's limit, in bytes read (one core's zlib); null: no limit
    compress_mibps: Optional[MiBps] = 35.0
    #: the same through a raw file's holes (zeros), which zlib runs through about five
    #: times faster than through data; null: as slow as the data
    compress_zeros_mibps: Optional[MiBps] = 175.0
    #: one local copy's limit (``cp`` on a host or shared storage, ``qemu-img convert``);
    #: null: only the disks' and pools' throughput limit it
    local_mibps: Optional[MiBps] = 500.0
    #: one limit for every network stream, replacing the two above; none: those
    stream_mibps: Optional[MiBps] = None
    #: bytes read per byte on the wire of a compressing stream (>= 1); none: 1
    compression: Optional[Annotated[float, Field(ge=1, le=1000, allow_inf_nan=False)]] = None
    #: a copy whose route stays down this long fails (TCP's retransmission give-up)
    stall_timeout: PosSeconds = 900.0


class Fault(Strict):
    """One entry of the fault schedule (reference section 10)."""

    kind: str
    #: when it strikes (none: from the start; with no ``for`` either, the whole run);
    #: with ``rate``, from when it recurs
    at: Optional[Seconds] = None
    duration: Optional[Seconds] = Field(None, alias="for")
    #: a recurring fault: it strikes again an exponential time (mean 1/rate) after each
    #: occurrence ends; per target when ``host`` names several hosts
    rate: Optional[Rate] = None
    service: Optional[Literal[tuple(SERVICES)]] = None  # type: ignore[valid-type]
    host: Optional[str] = None
    topic: Optional[str] = None
    probability: Optional[Annotated[float, Field(ge=0, le=1)]] = None
    factor: Optional[PosFloat] = None
    extra: Any = None
    reason: Optional[Literal["host_key_verification", "disk_full"]] = None
    restart_after: Optional[Seconds] = None
    a: Optional[str] = None
    b: Optional[str] = None

    @field_validator("extra", mode="before")
    @classmethod
    def _check_extra(cls, v: Any) -> Any:
        return None if v is None else distribution(v)

    @property
    def lasts(self) -> Optional[float]:
        """How long each occurrence lasts (``restart_after`` of a crash, else ``for``;
        none: to the end of the run)."""
        return self.restart_after if self.kind == "compute_crash" else self.duration

    @model_validator(mode="after")
    def _fields_of_kind(self) -> "Fault":
        if self.kind not in FAULT_KINDS:
            raise ValueError(f"unknown fault kind {self.kind!r} (expected one of: {', '.join(FAULT_KINDS)})")
        need = {"compute_crash": ("host",), "service_down": ("service",),
                "broker_restart": ("duration",), "link_down": ("a", "b"),
                "service_slow": ("service", "factor"), "message_delay": ("topic", "extra"),
                "message_loss": ("topic", "probability"), "copy_fail": ("probability",),
                "power_off_fail": ("probability",), "boot_fail": ("probability",)}[self.kind]
        for key in need:
            if getattr(self, key) is None:
                raise ValueError(f"a {self.kind} fault needs '{'for' if key == 'duration' else key}'")
        allowed = set(need) | {"kind", "at", "duration", "rate"} | ({"reason", "host"} if self.kind == "copy_fail" else set()) \
            | ({"host"} if self.kind in ("boot_fail", "power_off_fail") else set())
        if self.kind == "compute_crash":
            allowed = (allowed | {"restart_after"}) - {"duration"}
        if self.kind == "service_down" and self.service == "compute":
            raise ValueError("a down nova-compute is a compute_crash of its host")
        given = {k for k in self.model_fields_set if getattr(self, k) is not None}
        extra = given - allowed
        if extra:
            name = "for" if "duration" in extra else sorted(extra)[0]
            raise ValueError(f"'{name}' does not apply to a {self.kind} fault")
        if self.rate is not None:
            name = "restart_after" if self.kind == "compute_crash" else "for"
            if self.lasts is None:
                raise ValueError(f"a recurring {self.kind} fault (with 'rate') needs '{name}': "
                                 f"how long each occurrence lasts")
            if self.lasts <= 0:
                raise ValueError(f"'{name}' of a recurring fault must be more than 0 s")
            if self.rate > 1.0:
                raise ValueError(f"rate {self.rate:g}/s: a recurring fault strikes at most once a second")
        if self.kind == "copy_fail" and self.reason is None:
            self.reason = "disk_full"
        return self


class OperatorAction(Strict):
    action: Literal["reset_state", "hard_reboot"]
    instance: str
    at: Seconds
    #: reset_state only: the vm_state to set (nova reset-state [--active])
    state: Optional[Literal["active", "error"]] = None

    @model_validator(mode="after")
    def _state(self) -> "OperatorAction":
        if self.action == "reset_state" and self.state is None:
            self.state = "error"  # nova reset-state without --active
        if self.action == "hard_reboot" and self.state is not None:
            raise ValueError("'state' is for reset_state")
        return self


class Operator(Strict):
    """What the operator does: actions at given times, and policies checked every
    ``check_every`` seconds while the run goes on."""

    actions: list[OperatorAction] = Field(default_factory=list)
    #: reset-state --active the instances left in a task state this long
    reset_stuck_after: Optional[PosSeconds] = None
    #: hard-reboot the instances in ERROR
    hard_reboot_errors: bool = False
    check_every: Interval = 60.0


class Poisson(Strict):
    process: Literal["poisson"]
    rate: Rate
    start: Seconds = 0.0


class Periodic(Strict):
    process: Literal["periodic"]
    interval: Interval
    start: Seconds = 0.0


class WorkloadEntry(Strict):
    op: Literal["resize", "migrate"]
    flavor: Optional[str] = None
    instance: Optional[str] = None
    count: PosInt = 1
    at: Optional[Seconds] = None
    arrival: Optional[Annotated[Poisson | Periodic, Field(discriminator="process")]] = None
    confirm_after: Any = None
    revert_after: Any = None
    revert: Annotated[float, Field(ge=0, le=1)] = 0.0
    host: Optional[str] = None

    @field_validator("confirm_after", "revert_after", mode="before")
    @classmethod
    def _check_confirm(cls, v: Any) -> Any:
        return None if v is None else distribution(v)

    @model_validator(mode="after")
    def _consistent(self) -> "WorkloadEntry":
        if self.op == "resize" and self.flavor is None:
            raise ValueError("a resize needs 'flavor' (the new flavor)")
        if self.op == "migrate" and self.flavor is not None:
            raise ValueError("a migrate keeps the instance's flavor: remove 'flavor' or use op: resize")
        if self.op == "resize" and self.host is not None:
            raise ValueError("'host' names a cold migration's destination; Nova's resize takes no host")
        if self.revert_after is not None and (self.confirm_after is not None or self.revert):
            raise ValueError("give either 'revert_after' (always revert) or 'confirm_after' "
                             "with an optional 'revert' probability, not both")
        if self.revert and self.confirm_after is None:
            raise ValueError("'revert' is the chance that the action at 'confirm_after' is a "
                             "revert: give 'confirm_after' too")
        if self.at is not None and self.arrival is not None:
            raise ValueError("give either 'at' or 'arrival', not both")
        if self.at is None and self.arrival is None:
            self.at = 0.0
        return self


class Scenario(Strict):
    #: also the default out directory's name (results/<name>): a plain file name
    name: str = "scenario"
    description: str = ""
    seed: Seed = 1
    nova: Nova = Field(default_factory=Nova)
    services: Services = Field(default_factory=Services)
    bus: Bus = Field(default_factory=Bus)
    hosts: Annotated[list[Host], Field(min_length=1)]
    flavors: Annotated[dict[str, Flavor], Field(min_length=1)]
    projects: dict[str, Project] = Field(default_factory=dict)
    server_groups: dict[str, ServerGroup] = Field(default_factory=dict)
    instances: list[InstanceGroup] = Field(default_factory=list)
    guest: Guest = Field(default_factory=Guest)
    network: Network = Field(default_factory=Network)
    copy_: Copy = Field(default_factory=Copy, alias="copy")
    images: dict[str, Image] = Field(default_factory=dict)
    storage_pools: dict[str, StoragePool] = Field(default_factory=dict)
    glance: Glance = Field(default_factory=Glance)
    faults: list[Fault] = Field(default_factory=list)
    operator: Operator = Field(default_factory=Operator)
    workload: list[WorkloadEntry] = Field(default_factory=list)


    @field_validator("name")
    @classmethod
    def _plain_name(cls, v: str) -> str:
        bad = [c for c in ("/", "\\", "\0") if c in v]
        if not v.strip() or v in (".", "..") or bad or v != v.strip() or len(v) > 200 \
                or any(not c.isprintable() for c in v):
            raise ValueError(f"{v!r} is not a plain file name (it names the out directory, results/<name>): "
                             "no slash, backslash or control character, not empty, '.' or '..', "
                             "at most 200 characters")
        return v


InstanceGroup.model_rebuild()
