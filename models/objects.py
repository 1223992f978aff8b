"""The records Nova keeps in its database that the pipeline reads and writes."""
from __future__ import annotations

from dataclasses import dataclass, replace

from models import states
from models.disks import PLAIN, DiskLayout


@dataclass(frozen=True)
class Flavor:
    """A flavor (instance type): what an instance of it claims on its host."""

    name: str
    vcpus: int
    ram_mb: int
    root_gb: int
    ephemeral_gb: int = 0
    swap_mb: int = 0
    #: claimed for a volume-backed instance in modern Nova: placement asks no DISK_GB
    #: for the root (Rocky on); Kilo's claims count root_gb anyway
    volume_root: bool = False

    @property
    def disk_gb(self) -> int:
        """Disk the claims count for it: root + ephemeral (ephemeral only for a
        volume-backed instance under placement)."""
        return self.ephemeral_gb if self.volume_root else self.root_gb + self.ephemeral_gb

    def volume_backed(self) -> "Flavor":
        """This flavor as placement claims it for a volume-backed instance."""
        return self if self.volume_root else replace(self, volume_root=True)


class Migration:
    """A Migration record: created by the destination's resize claim (Kilo)."""

    __slots__ = ("id", "instance", "source", "dest", "old_flavor", "new_flavor", "status",
                 "finished_at", "request", "dest_released", "source_disks")

    def __init__(self, id: int, instance: "Instance", source: int, dest: int,
                 old_flavor: Flavor, new_flavor: Flavor, request: object):
        self.id = id
        self.instance = instance
        self.source = source
        self.dest = dest
        self.old_flavor = old_flavor
        self.new_flavor = new_flavor
        self.status = states.PRE_MIGRATING
        self.finished_at: float | None = None
        self.request = request
        #: a resource audit dropped the destination's claim of this (stale) move
        self.dest_released = False
        #: the instance's disks and root allocation on the source, when the move
        #: flattened them on the destination (a revert goes back to these)
        self.source_disks: tuple[DiskLayout, float] | None = None


class Instance:
    """A server: its flavor, host and states. ``host`` is an index into the host table."""

    __slots__ = ("name", "index", "flavor", "host", "vm_state", "task_state", "power_on",
                 "disk_used_gb", "migration", "request", "project", "zone", "group",
                 "same_host", "different_host", "io_host", "ephemeral_used_gb", "config_drive_mb",
                 "old_vm_state", "changed_at", "disks")

    def __init__(self, name: str, index: int, flavor: Flavor, host: int, disk_used_gb: float,
                 vm_state: str = states.ACTIVE, project: str = "default", zone: str | None = None):
        self.name = name
        self.index = index
        self.flavor = flavor
        self.host = host
        self.vm_state = vm_state
        self.task_state: str | None = None
        self.power_on = vm_state != states.STOPPED
        self.disk_used_gb = disk_used_gb
        self.migration: Migration | None = None
        self.request: object | None = None
        self.project = project
        self.zone = zone
        #: the server group it belongs to: (name, policy), or None
        self.group: tuple[str, str] | None = None
        #: boot-time scheduler hints (instance names)
        self.same_host: tuple[str, ...] = ()
        self.different_host: tuple[str, ...] = ()
        #: the host whose I/O-operation count includes this instance (-1: none)
        self.io_host = -1
        self.ephemeral_used_gb = 0.0
        self.config_drive_mb = 0.0
        #: the vm_state before the move (Nova keeps it in system_metadata)
        self.old_vm_state = vm_state
        #: when its states last changed (the operator's "left in a task state this long")
        self.changed_at = 0.0
        #: how its disks are stored (image, format, volumes)
        self.disks: DiskLayout = PLAIN

    @property
    def accepts_move(self) -> bool:
        """What nova-api's check_instance_state lets a resize or migrate start from."""
        return self.vm_state in states.RESIZABLE_VM_STATES and self.task_state is None
