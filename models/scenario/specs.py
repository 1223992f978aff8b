"""A scenario once loaded: the validated schema model, with its host and instance
name ranges expanded and its server groups resolved."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from models.scenario.schema import Scenario
from simulator.engine.errors import ScenarioError
from simulator.engine.validation import line_of


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
    #: the Glance image it was booted from (a key of ``images``), or None
    image: str | None = None
    disk_format: str = "qcow2"
    boot_from_volume: bool = False
    #: sizes (GiB) of the Cinder volumes attached to it
    volumes: tuple[int, ...] = ()


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
