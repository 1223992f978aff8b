"""The scenario's schema: every key a scenario may hold, its type, range and default.

Defaults live here and only here; ``summary.json`` saves the resolved scenario with
every default filled in. Unknown keys are errors. Numbers are strict: ``"10"`` is not
a number, ``true`` is not 1. Distributions are checked by ``simulator.distributions``.
Cross-references (flavor and host names) are checked in ``simulator.scenario``.
"""
from __future__ import annotations

from typing import Annotated, Any, Literal, Optional

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from simulator.distributions import check_distribution

PosInt = Annotated[int, Field(gt=0)]
NonNegInt = Annotated[int, Field(ge=0)]
PosFloat = Annotated[float, Field(gt=0)]
NonNegFloat = Annotated[float, Field(ge=0)]

#: The RPC methods / API operations each service handles; ``service_time`` may be
#: given per operation with these names.
SERVICE_OPERATIONS: dict[str, tuple[str, ...]] = {
    "api": ("resize", "confirm_resize"),
    "conductor": ("migrate_server",),
    "scheduler": ("select_destinations",),
    "compute": ("prep_resize", "resize_instance", "finish_resize", "confirm_resize",
                "_poll_unconfirmed_resizes"),
}


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=False)


def _dist(value: Any) -> Any:
    problem = check_distribution(value)
    if problem:
        raise ValueError(problem)
    return value


class ServiceConfig(Strict):
    workers: PosInt
    service_time: Any = 0.0

    @field_validator("service_time", mode="before")
    @classmethod
    def _check_service_time(cls, v: Any) -> Any:
        if isinstance(v, dict) and "dist" not in v:
            # a per-operation mapping: {default: .., prep_resize: ..}
            for op, spec in v.items():
                problem = check_distribution(spec)
                if problem:
                    raise ValueError(f"{op}: {problem}")
            return v
        return _dist(v)


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

    _check = field_validator("latency", mode="before")(lambda cls, v: _dist(v))


class Nova(Strict):
    """Nova's own configuration options, by their Nova names and Kilo defaults."""

    allow_resize_to_same_host: bool = False
    allow_migrate_to_same_host: bool = False
    resize_confirm_window: NonNegFloat = 0.0
    shutdown_timeout: NonNegFloat = 60.0
    rpc_response_timeout: PosFloat = 60.0
    max_attempts: PosInt = 3
    cpu_allocation_ratio: PosFloat = 16.0
    ram_allocation_ratio: PosFloat = 1.5
    disk_allocation_ratio: PosFloat = 1.0
    reserved_host_memory_mb: NonNegInt = 512
    reserved_host_disk_mb: NonNegInt = 0
    host_subset_size: PosInt = 1
    periodic_interval: PosFloat = 60.0
    periodic_fuzzy_delay: NonNegFloat = 60.0


class Host(Strict):
    name: str
    rack: Optional[str] = None
    vcpus: PosInt
    ram_mb: PosInt
    disk_gb: PosInt
    nic_gbps: PosFloat = 10.0


class Flavor(Strict):
    vcpus: PosInt
    ram_mb: PosInt
    root_gb: NonNegInt
    ephemeral_gb: NonNegInt = 0
    swap_mb: NonNegInt = 0


class InstanceGroup(Strict):
    name: Optional[str] = None
    count: Optional[PosInt] = None
    flavor: str
    #: GiB actually allocated on the root disk; defaults to the flavor's root_gb
    disk_used_gb: Optional[NonNegFloat] = None
    host: Optional[str] = None
    vm_state: Literal["active"] = "active"

    @model_validator(mode="after")
    def _name_or_count(self) -> "InstanceGroup":
        if (self.name is None) == (self.count is None):
            raise ValueError("give either 'name' (a name or a range such as 'vm[001-040]') or 'count'")
        return self


class Guest(Strict):
    #: time for the guest to stop after the ACPI shutdown request
    shutdown: Any = 10.0
    #: disk set-up on the destination and the time until the domain runs
    boot: Any = 20.0

    _check = field_validator("shutdown", "boot", mode="before")(lambda cls, v: _dist(v))


class Poisson(Strict):
    process: Literal["poisson"]
    rate: PosFloat
    start: NonNegFloat = 0.0


class Periodic(Strict):
    process: Literal["periodic"]
    interval: PosFloat
    start: NonNegFloat = 0.0


class WorkloadEntry(Strict):
    op: Literal["resize", "migrate"]
    flavor: Optional[str] = None
    instance: Optional[str] = None
    count: PosInt = 1
    at: Optional[NonNegFloat] = None
    arrival: Optional[Annotated[Poisson | Periodic, Field(discriminator="process")]] = None
    confirm_after: Any = None
    host: Optional[str] = None

    @field_validator("confirm_after", mode="before")
    @classmethod
    def _check_confirm(cls, v: Any) -> Any:
        return None if v is None else _dist(v)

    @model_validator(mode="after")
    def _consistent(self) -> "WorkloadEntry":
        if self.op == "resize" and self.flavor is None:
            raise ValueError("a resize needs 'flavor' (the new flavor)")
        if self.op == "migrate" and self.flavor is not None:
            raise ValueError("a migrate keeps the instance's flavor: remove 'flavor' or use op: resize")
        if self.op == "resize" and self.host is not None:
            raise ValueError("'host' names a cold migration's destination; Nova's resize takes no host")
        if self.at is not None and self.arrival is not None:
            raise ValueError("give either 'at' or 'arrival', not both")
        if self.at is None and self.arrival is None:
            self.at = 0.0
        return self


class Scenario(Strict):
    name: str = "scenario"
    description: str = ""
    seed: NonNegInt = 1
    nova: Nova = Field(default_factory=Nova)
    services: Services = Field(default_factory=Services)
    bus: Bus = Field(default_factory=Bus)
    hosts: Annotated[list[Host], Field(min_length=1)]
    flavors: Annotated[dict[str, Flavor], Field(min_length=1)]
    instances: list[InstanceGroup] = Field(default_factory=list)
    guest: Guest = Field(default_factory=Guest)
    workload: list[WorkloadEntry] = Field(default_factory=list)
