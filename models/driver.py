"""The virt driver's timed work, behind the interface the libvirt driver offers Nova.

- ``power_off``: the guest stops ``guest.shutdown`` seconds after the ACPI request;
  Nova checks once a second, so the stop is seen at the next whole second, re-sending
  the request every ``shutdown_retry_interval``; a guest still running at
  ``shutdown_timeout`` (or one of the ``guest.ignore_acpi`` fraction, drawn once per
  move) is destroyed then. An instance already stopped costs nothing.
- ``copy_disks``: the instance's disks, one after another, through
  ``models.network.DiskCopier`` (max-min shared links and disks, or alone).
- ``finish_migration``: disk set-up on the destination (``guest.disk_setup_per_gib``
  per GiB copied), then, unless the instance was stopped, the time until the domain
  runs (``guest.boot``), seen at the next half second as Nova polls every 0.5 s.
"""
from __future__ import annotations

import math
import random
from dataclasses import dataclass
from typing import Any, Generator

import simpy

from models.network import DiskCopier, disks_to_copy
from models.objects import Flavor, Instance
from models.request import Request
from models.steps import NovaFunction, Step
from simulator.engine.distributions import Sampler

GIB = 1024 ** 3
_DRIVER_PY = "nova/virt/libvirt/driver.py"

#: the driver's timed work, as the trace names it (``step.start`` / ``step.end``)
STEPS = {s.name: s for s in (
    Step("power_off", "power off the guest", NovaFunction(_DRIVER_PY, "LibvirtDriver._clean_shutdown")),
    Step("copy_disks", "copy the disks", NovaFunction(_DRIVER_PY, "LibvirtDriver.migrate_disk_and_power_off")),
    Step("finish_migration", "set up the disks and start the guest",
         NovaFunction(_DRIVER_PY, "LibvirtDriver.finish_migration")),
    Step("finish_revert_migration", "restore the disks and start the guest",
         NovaFunction(_DRIVER_PY, "LibvirtDriver.finish_revert_migration")),
)}


@dataclass
class PowerOff:
    """How a power-off went: its duration and whether it was a hard destroy."""

    seconds: float
    hard: bool
    requests: int = 0


class LibvirtDriver:
    """Timed driver steps of a resize or cold migration."""

    def __init__(self, env: simpy.Environment, copier: DiskCopier, *, shutdown: Sampler,
                 boot: Sampler, shutdown_timeout: float, retry_interval: float, ignore_acpi: float,
                 disk_setup_per_gib: float, rng_shutdown: random.Random, rng_boot: random.Random):
        self.env = env
        self.copier = copier
        self.shutdown = shutdown
        self.boot = boot
        self.shutdown_timeout = shutdown_timeout
        self.retry_interval = retry_interval
        self.ignore_acpi = ignore_acpi
        self.disk_setup_per_gib = disk_setup_per_gib
        self.rng_shutdown = rng_shutdown
        self.rng_boot = rng_boot

    def power_off(self, instance: Instance, hung: bool = False) -> Generator[simpy.Event, None, PowerOff]:
        """Clean shutdown with Nova's one-second polling, else destroy at the timeout.
        A ``hung`` guest answers no ACPI request: the whole timeout passes, then the
        destroy is tried (the caller decides that it fails)."""
        if not instance.power_on:
            return PowerOff(0.0, False, 0)  # "Instance already shutdown."
        stops_after = self.shutdown(self.rng_shutdown)
        ignores = self.ignore_acpi > 0 and self.rng_shutdown.random() < self.ignore_acpi
        seen = math.inf if ignores or hung else float(math.ceil(stops_after))
        if seen >= self.shutdown_timeout:
            result = PowerOff(self.shutdown_timeout, True)
        else:
            result = PowerOff(seen, False)
        # the first ACPI request, then one each retry interval while it still runs
        result.requests = 1 + int(max(0.0, result.seconds - 1e-9) // self.retry_interval)
        if result.seconds > 0:
            yield self.env.timeout(result.seconds)
        return result

    def copy_disks(self, req: Request, instance: Instance, source: int, dest: int, old: Flavor,
                   new: Flavor, fail_at: float | None = None) -> Generator[simpy.Event, Any, float]:
        return (yield from self.copier.copy(req, instance, source, dest, old, new, fail_at))

    def finish_migration(self, instance: Instance, power_on: bool, old: Flavor | None = None,
                         new: Flavor | None = None) -> Generator[simpy.Event, None, float]:
        """Set up the disks, define the domain and (unless it was stopped) wait until it runs."""
        seconds = 0.0
        if self.disk_setup_per_gib and old is not None and new is not None:
            gib = sum(d.bytes for d in disks_to_copy(instance, old, new)) / GIB
            seconds += self.disk_setup_per_gib * gib
        if power_on:
            seconds += math.ceil(self.boot(self.rng_boot) / 0.5) * 0.5
        if seconds > 0:
            yield self.env.timeout(seconds)
        return seconds
