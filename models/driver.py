"""The virt driver's timed work, behind the interface the libvirt driver offers Nova.

- ``power_off``: the guest stops ``guest.shutdown`` seconds after the ACPI request;
  Nova checks once a second, so the stop is seen at the next whole second, re-sending
  the request every ``shutdown_retry_interval``; a guest still running at
  ``shutdown_timeout`` (or one of the ``guest.ignore_acpi`` fraction, drawn once per
  move) is destroyed then. An instance already stopped costs nothing.
- ``copy_disks``: the rest of ``migrate_disk_and_power_off``: the instance's file
  disks flattened (Kilo), copied over ssh or with a local ``cp`` (``models.disks``),
  run by ``models.network.DiskCopier``.
- ``finish_migration``: disk set-up (``guest.disk_setup_per_gib`` per GiB copied), raw
  disks converted to qcow2 (``use_cow_images``), and the base image fetched into the
  destination's ``_base`` if it is missing (Kilo in that order, modern the fetch
  first), then, unless
  the instance was stopped, the time until libvirt reports the domain running
  (``guest.boot``), seen at the next half second as Nova polls every 0.5 s. The guest
  OS's own boot (``guest.os_boot``) is not waited for.
"""
from __future__ import annotations

import math
import random
from dataclasses import dataclass
from typing import Any, Generator

import simpy

from models.disks import DiskLayout, Transport, base_fetch, disk_files, flattened, raw_to_qcow2, source_work
from models.network import DiskCopier
from models.objects import Flavor, Instance
from models.release import Release
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


@dataclass
class Finish:
    """How ``finish_migration`` went: its seconds, and the base image's fetch in it."""

    seconds: float
    #: the base image was fetched (False: cached, or none needed)
    fetched: bool = False
    fetch_seconds: float = 0.0
    #: the image the root disk needs in ``_base`` (None: none)
    image: str | None = None


class LibvirtDriver:
    """Timed driver steps of a resize or cold migration."""

    def __init__(self, env: simpy.Environment, copier: DiskCopier, *, shutdown: Sampler,
                 boot: Sampler, os_boot: Sampler, shutdown_timeout: float, retry_interval: float,
                 ignore_acpi: float, disk_setup_per_gib: float, rng_shutdown: random.Random,
                 rng_boot: random.Random, rng_os_boot: random.Random, release: Release,
                 transport: Transport, force_raw_images: bool, use_cow_images: bool = True):
        self.env = env
        self.copier = copier
        self.shutdown = shutdown
        self.boot = boot
        self.os_boot = os_boot
        self.shutdown_timeout = shutdown_timeout
        self.retry_interval = retry_interval
        self.ignore_acpi = ignore_acpi
        self.disk_setup_per_gib = disk_setup_per_gib
        self.rng_shutdown = rng_shutdown
        self.rng_boot = rng_boot
        self.rng_os_boot = rng_os_boot
        self.release = release
        self.transport = transport
        self.force_raw_images = force_raw_images
        self.use_cow_images = use_cow_images

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

    def _files(self, instance: Instance, source: int, old: Flavor, new: Flavor) -> list:
        return disk_files(instance.disk_used_gb, instance.ephemeral_used_gb, instance.config_drive_mb,
                          instance.disks, old, new, self.release, rbd=self.copier.is_rbd(source))

    def copy_disks(self, req: Request, instance: Instance, source: int, dest: int, old: Flavor,
                   new: Flavor, fail_at: float | None = None) -> Generator[simpy.Event, Any, float]:
        """Flatten (Kilo) and copy the file disks, or ``cp`` them on shared storage or
        the same host; with ``fail_at`` stop part-way (the copy failed)."""
        local = source == dest or self.copier.shares_storage(source, dest)
        works = source_work(self._files(instance, source, old, new), self.release, self.transport, local=local)
        return (yield from self.copier.run(req, instance.name, works, source, dest, fail_at))

    def flattened(self, instance: Instance, source: int, old: Flavor, new: Flavor
                  ) -> tuple[DiskLayout, float] | None:
        """The instance's disks and root allocation on the destination once the move
        has flattened them (Kilo), or None."""
        return flattened(instance.disks, self._files(instance, source, old, new), self.release,
                         instance.disk_used_gb)

    def finish_migration(self, req: Request, instance: Instance, dest: int, power_on: bool,
                         old: Flavor | None = None, new: Flavor | None = None) -> Generator[simpy.Event, Any, Finish]:
        """Fetch a missing base image, set up the disks, define the domain and (unless
        it was stopped) wait until libvirt reports it running."""
        result = Finish(0.0)
        layout = instance.disks
        fetch = layout.image is not None and not layout.boot_from_volume and not self.copier.is_rbd(dest)
        files = self._files(instance, dest, old, new) if old is not None and new is not None else []
        setup = self.disk_setup_per_gib * sum(f.allocated for f in files) / GIB
        converts = raw_to_qcow2(files) if self.use_cow_images else []
        # Kilo grows and converts the copied disks, then _create_image fetches a
        # missing base; modern's _create_image fetches it first
        kilo_order = self.release.flattens_backing_files
        seconds = (yield from self._set_up(req, instance, dest, setup, converts)) if kilo_order else 0.0
        if fetch:
            result.image = layout.image.name
            works = base_fetch(layout.image, self.force_raw_images)
            result.fetch_seconds, result.fetched = yield from self.copier.ensure_base(
                req, instance.name, dest, works, layout.image.name)
        if not kilo_order:
            seconds += yield from self._set_up(req, instance, dest, setup, converts)
        seconds += yield from self.start_guest(power_on)
        result.seconds = result.fetch_seconds + seconds
        return result

    def _set_up(self, req: Request, instance: Instance, dest: int, setup: float, converts: list
                ) -> Generator[simpy.Event, Any, float]:
        """Grow the copied disks (``guest.disk_setup_per_gib``) and convert raw ones to
        qcow2 (``_disk_raw_to_qcow2``); return the seconds."""
        if setup > 0:
            yield self.env.timeout(setup)
        if converts:
            setup += yield from self.copier.run(req, instance.name, converts, dest, dest)
        return setup

    def start_guest(self, power_on: bool) -> Generator[simpy.Event, Any, float]:
        """Create the domain and, unless the instance was stopped, power it on and wait
        (``_wait_for_running``, every 0.5 s, first at once) until libvirt reports it
        running; return the seconds."""
        seconds = math.ceil(self.boot(self.rng_boot) / 0.5) * 0.5 if power_on else 0.0
        if seconds > 0:
            yield self.env.timeout(seconds)
        return seconds

    def guest_os_boot(self) -> float:
        """The guest OS's boot after the domain runs (``guest.os_boot``): not the move's."""
        return max(0.0, float(self.os_boot(self.rng_os_boot)))
