"""Per-project quotas, checked by nova-api for the upsize part of a resize.

Usage is what the project's instances hold once their moves are committed, plus the
reservations of moves in flight, as Nova's quota engine (Kilo: reservations) keeps it:

- ``API.resize`` reserves the upsize deltas (new − old cores and RAM, when positive)
  and refuses the request with 403 if usage + reservations + delta exceeds the quota;
- ``finish_resize`` commits the reservation; a revert gives the upsize back when it
  finishes, a confirm takes a downsize's delta off usage;
- a failed move rolls its reservation back, except a move stuck in ``resize_prep``
  after a timeout, whose reservation stays until it expires (Kilo: 86,400 s, beyond
  most runs; expiry is not modelled).

Modern Nova counts instead (``counted``: Pike on, ``Quotas.check_deltas``): no
reservations; usage is the project's instances' flavors, which change when
``finish_resize`` gives the instance its new flavor (and back at a revert or a failed
boot); ``API.resize`` checks the upsize against that usage alone, so two upsizes in
flight may both pass; ``API.revert_resize`` checks the way back to the old flavor.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from models.exceptions import TooManyInstances
from models.objects import Flavor


@dataclass
class Usage:
    cores: int = 0
    ram_mb: int = 0
    instances: int = 0


@dataclass
class Quotas:
    """Limits (None: unlimited), usage and reservations per project."""

    limits: dict[str, dict[str, int | None]] = field(default_factory=dict)
    usage: dict[str, Usage] = field(default_factory=dict)
    reserved: dict[str, Usage] = field(default_factory=dict)
    #: counted quotas (modern Nova), else Kilo's reservations
    counted: bool = False

    def add_instance(self, project: str, flavor: Flavor) -> None:
        u = self.usage.setdefault(project, Usage())
        u.cores += flavor.vcpus
        u.ram_mb += flavor.ram_mb
        u.instances += 1

    @staticmethod
    def upsize_delta(old: Flavor, new: Flavor) -> tuple[int, int]:
        """Nova's _upsize_quota_delta: only the resources that grow."""
        return max(0, new.vcpus - old.vcpus), max(0, new.ram_mb - old.ram_mb)

    def reserve(self, project: str, delta: tuple[int, int]) -> tuple[int, int]:
        """Reserve ``delta`` (cores, ram_mb) or raise TooManyInstances; return what is
        reserved (nothing when quotas are counted: the delta is only checked)."""
        cores, ram = delta
        if not cores and not ram:
            return (0, 0)
        r = self.reserved.setdefault(project, Usage())
        self.check(project, delta, r)
        if self.counted:
            return (0, 0)
        r.cores += cores
        r.ram_mb += ram
        return delta

    def check(self, project: str, delta: tuple[int, int], reserved: Usage | None = None) -> None:
        """Raise TooManyInstances if usage (+ reservations) + ``delta`` exceeds a limit."""
        cores, ram = delta
        lim = self.limits.get(project, {})
        u = self.usage.setdefault(project, Usage())
        r = reserved or Usage()
        over = []
        if cores and lim.get("cores") is not None and u.cores + r.cores + cores > lim["cores"]:
            over.append("cores")
        if ram and lim.get("ram_mb") is not None and u.ram_mb + r.ram_mb + ram > lim["ram_mb"]:
            over.append("ram")
        if over:
            raise TooManyInstances(f"Quota exceeded for {', '.join(over)}: Requested {cores} cores, "
                                   f"{ram} MB RAM in project {project}")

    def flavor_changed(self, project: str, old: Flavor, new: Flavor) -> None:
        """An instance took another flavor: counted usage follows it (Kilo's usage
        moves only when a reservation is committed)."""
        if self.counted:
            self.adjust(project, new.vcpus - old.vcpus, new.ram_mb - old.ram_mb)

    def rollback(self, project: str, delta: tuple[int, int]) -> None:
        r = self.reserved[project]
        r.cores -= delta[0]
        r.ram_mb -= delta[1]

    def commit(self, project: str, delta: tuple[int, int]) -> None:
        self.rollback(project, delta)
        self.adjust(project, delta[0], delta[1])

    def adjust(self, project: str, cores: int, ram_mb: int) -> None:
        u = self.usage.setdefault(project, Usage())
        u.cores += cores
        u.ram_mb += ram_mb
