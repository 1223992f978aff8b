"""Compute hosts and their resource tracker: what each host has and what is claimed.

One table for all hosts, held in numpy arrays so the scheduler can filter and weigh
every host at once (a request costs a few vector operations, not a Python loop over
hosts). The arrays are the resource trackers' truth, as the compute nodes write it
to the database: a claim or a release changes them at once and every scheduler
worker sees it on its next request.

Accounting follows Kilo's resource tracker: RAM used counts
``reserved_host_memory_mb``; a claim tests a resource against ``total × ratio`` only
when the filter that sets that limit is enabled (``RamFilter`` for RAM in Kilo's
defaults; ``CoreFilter`` for vCPUs and ``DiskFilter`` for disk when added). A flavor's
disk is root + ephemeral GiB (and swap, for the disk test).
"""
from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from models.exceptions import ComputeResourcesUnavailable
from models.objects import Flavor
from models.steps import NovaFunction, Step

#: the destination's claim, a step of prep_resize
RESIZE_CLAIM = Step("resize_claim", "the resource tracker's claim of the new flavor",
                    NovaFunction("nova/compute/resource_tracker.py", "ResourceTracker.resize_claim"))


class HostTable:
    """All compute hosts: capacities, usage, and the claim / release operations."""

    def __init__(self, names: Sequence[str], racks: Sequence[str | None], vcpus: Sequence[int],
                 ram_mb: Sequence[int], disk_gb: Sequence[int], nic_gbps: Sequence[float], *,
                 cpu_allocation_ratio: float, ram_allocation_ratio: float,
                 disk_allocation_ratio: float, reserved_host_memory_mb: int,
                 reserved_host_disk_mb: int, zones: Sequence[str] | None = None,
                 enabled: Sequence[bool] | None = None):
        self.names = list(names)
        self.index = {n: i for i, n in enumerate(self.names)}
        self.racks = list(racks)
        self.zones = list(zones) if zones is not None else ["nova"] * len(self.names)
        zone_ids = {z: i for i, z in enumerate(dict.fromkeys(self.zones))}
        self.zone_id = {z: i for z, i in zone_ids.items()}
        self.zone_of = np.array([zone_ids[z] for z in self.zones], dtype=np.int64)
        self.nic_gbps = np.asarray(nic_gbps, dtype=float)
        self.vcpus = np.asarray(vcpus, dtype=np.int64)
        self.ram_mb = np.asarray(ram_mb, dtype=np.int64)
        self.disk_gb = np.asarray(disk_gb, dtype=np.int64)
        n = len(self.names)
        self.used_vcpus = np.zeros(n, dtype=np.int64)
        self.used_ram_mb = np.zeros(n, dtype=np.int64)
        self.used_disk_gb = np.zeros(n, dtype=np.int64)
        #: the nova-compute service is reporting (faults take it down)
        self.up = np.ones(n, dtype=bool)
        #: the service is enabled (``nova service-disable`` clears it)
        self.enabled = np.ones(n, dtype=bool) if enabled is None else np.asarray(enabled, dtype=bool)
        #: instances on the host in an I/O-heavy task state (the RT's io_workload stat)
        self.io_ops = np.zeros(n, dtype=np.int64)
        #: when each compute node record was last written (a claim, a release, an audit)
        self.written_at = np.zeros(n, dtype=float)
        #: first run of each host's periodic tasks (the resource audit among them)
        self.audit_offset = np.zeros(n, dtype=float)
        self.audit_interval = 60.0
        self.cpu_allocation_ratio = cpu_allocation_ratio
        self.ram_allocation_ratio = ram_allocation_ratio
        self.disk_allocation_ratio = disk_allocation_ratio
        self.reserved_ram_mb = reserved_host_memory_mb
        self.reserved_disk_gb = reserved_host_disk_mb / 1024.0
        # the limits the filters set: total × ratio (RamFilter, CoreFilter, DiskFilter)
        self.ram_limit_mb = self.ram_mb * ram_allocation_ratio
        self.vcpu_limit = self.vcpus * cpu_allocation_ratio
        self.disk_limit_gb = self.disk_gb * disk_allocation_ratio
        self.claims = 0
        self.releases = 0
        #: claims no record will ever release (orphaned by a crash, or held by a move
        #: modern Nova abandoned): (host, flavor)
        self.leaked: list[tuple[int, Flavor]] = []
        #: allocations an abandoned move left larger than the instance's flavor there
        #: (modern: the new flavor on the destination of an instance that kept its old
        #: one): (host, flavor allocated, instance's flavor)
        self.excess: list[tuple[int, Flavor, Flavor]] = []

    def __len__(self) -> int:
        return len(self.names)

    def free_ram_mb(self) -> np.ndarray:
        """Free RAM as the compute node reports it (reserved memory counts as used)."""
        return self.ram_mb - self.reserved_ram_mb - self.used_ram_mb

    def free_vcpus(self) -> np.ndarray:
        return self.vcpus - self.used_vcpus

    def free_disk_gb(self) -> np.ndarray:
        return self.disk_gb - self.reserved_disk_gb - self.used_disk_gb

    def fits_ram(self, host: int, flavor: Flavor) -> bool:
        """The resize claim's RAM test against RamFilter's limit."""
        used = self.reserved_ram_mb + self.used_ram_mb[host]
        return flavor.ram_mb <= self.ram_limit_mb[host] - used

    def shortfall(self, host: int, flavor: Flavor, tests: "Sequence[str]") -> str | None:
        """What a claim of ``flavor`` on ``host`` lacks, testing only ``tests`` (the
        resources whose filter set a limit: ``ram``, ``vcpu``, ``disk``), or None."""
        if "ram" in tests and not self.fits_ram(host, flavor):
            free = self.ram_limit_mb[host] - self.reserved_ram_mb - self.used_ram_mb[host]
            return f"Free memory {free:.2f} MB < requested {flavor.ram_mb} MB"
        if "vcpu" in tests:
            free = self.vcpu_limit[host] - self.used_vcpus[host]
            if flavor.vcpus > free:
                return f"Free CPUs {free:.2f} VCPUs < requested {flavor.vcpus} VCPUs"
        if "disk" in tests:  # Kilo's claim counts root + ephemeral (DiskFilter adds swap)
            need = flavor.disk_gb
            free = self.disk_limit_gb[host] - self.reserved_disk_gb - self.used_disk_gb[host]
            if need > free:
                return f"Free disk {free:.2f} GB < requested {need:g} GB"
        return None

    def audited_since(self, since: np.ndarray, now: float, hosts: np.ndarray | None = None) -> np.ndarray:
        """Which hosts (all, or those in ``hosts``) ran ``update_available_resource``
        in (since, now], writing their record."""
        i = self.audit_interval
        off = self.audit_offset if hosts is None else self.audit_offset[hosts]
        return np.floor((now - off) / i) > np.floor((since - off) / i)

    def claim(self, host: int, flavor: Flavor, now: float = 0.0,
              tests: "Sequence[str]" = ("ram",)) -> None:
        """Test the claim against the limits in ``tests`` and take the flavor's resources."""
        short = self.shortfall(host, flavor, tests)
        if short is not None:
            raise ComputeResourcesUnavailable(
                f"Insufficient compute resources: {short} on {self.names[host]}")
        self.take(host, flavor, now)

    def take(self, host: int, flavor: Flavor, now: float = 0.0) -> None:
        """Count a flavor on a host without testing it."""
        self.written_at[host] = now
        self.used_vcpus[host] += flavor.vcpus
        self.used_ram_mb[host] += flavor.ram_mb
        self.used_disk_gb[host] += flavor.disk_gb
        self.claims += 1

    @staticmethod
    def abandoned_claim(inst: Any, m: Any) -> tuple[int, Flavor]:
        """The claim of an abandoned move that Nova's resource audit stops counting:
        the source's old flavor once the instance is on the destination
        (``resize_instance`` moved it, or on the same host ``finish_resize`` gave it
        the new flavor), else the destination's new flavor."""
        if inst.host == m.dest and (m.dest != m.source or inst.flavor is m.new_flavor):
            return m.source, m.old_flavor
        return m.dest, m.new_flavor

    def abandon_move(self, inst: Any, m: Any, now: float) -> None:
        """The books as Nova's resource audit leaves them after a move is abandoned
        (in error, or its instance reset): the instance's flavor counts where
        instance.host names, the move's other claim is dropped."""
        host, flavor = self.abandoned_claim(inst, m)
        if host == m.source and m.dest != m.source and inst.flavor is not m.new_flavor:
            # on the destination with its old flavor back (finish_resize failed)
            self.release(m.dest, m.new_flavor, now)
            self.take(m.dest, inst.flavor, now)
        self.release(host, flavor, now)

    def release(self, host: int, flavor: Flavor, now: float = 0.0) -> None:
        """Give a flavor's resources back (drop_resize_claim, abort_claim)."""
        self.written_at[host] = now
        self.used_vcpus[host] -= flavor.vcpus
        self.used_ram_mb[host] -= flavor.ram_mb
        self.used_disk_gb[host] -= flavor.disk_gb
        self.releases += 1
        assert self.used_ram_mb[host] >= 0 and self.used_vcpus[host] >= 0, "released more than claimed"

    def summary(self) -> dict[str, int]:
        """summary.json's ``resources``: claims and releases made."""
        return {"claims": self.claims, "releases": self.releases}

    def usage(self, host: int) -> dict[str, str]:
        """Used / limit of each resource on one host, for people to read: the limit is
        the capacity × its allocation ratio (what a claim is tested against); RAM used
        counts the reserved memory."""
        return {
            "vcpus": f"{self.used_vcpus[host]}/{self.vcpu_limit[host]:g}",
            "ram_mb": f"{self.used_ram_mb[host] + self.reserved_ram_mb}/{self.ram_limit_mb[host]:g}",
            "disk_gb": f"{self.used_disk_gb[host]}/{self.disk_limit_gb[host]:g}",
        }


def over_limit(hosts: HostTable, limited: Sequence[str]) -> dict[str, dict[str, str]]:
    """summary.json's ``hosts.over_limit``: each host using more of a resource in
    ``limited`` than its limit (total × allocation ratio), with used/limit. Nova
    gets there without a claim: a failed ``finish_resize`` puts the old flavor back
    on the destination untested."""
    used = {"ram": hosts.used_ram_mb + hosts.reserved_ram_mb, "vcpu": hosts.used_vcpus,
            "disk": hosts.used_disk_gb + hosts.reserved_disk_gb}
    limit = {"ram": hosts.ram_limit_mb, "vcpu": hosts.vcpu_limit, "disk": hosts.disk_limit_gb}
    key = {"ram": "ram_mb", "vcpu": "vcpus", "disk": "disk_gb"}
    out: dict[str, dict[str, str]] = {}
    for res in ("vcpu", "ram", "disk"):
        if res not in limited:
            continue
        for host in np.flatnonzero(used[res] > limit[res] + 1e-9):
            out.setdefault(hosts.names[host], {})[key[res]] = f"{used[res][host]:g}/{limit[res][host]:g}"
    return {h: out[h] for h in sorted(out, key=hosts.index.__getitem__)}

