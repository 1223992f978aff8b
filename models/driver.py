"""The virt driver's timed work, behind the interface the libvirt driver offers Nova.

``SimpleDriver`` is the foundation's model, each step a timed event:

- power off: the guest stops ``guest.shutdown`` seconds after the ACPI request; Nova
  checks once a second, so the stop is seen at the next whole second; a guest still
  running at ``shutdown_timeout`` is destroyed (hard power-off) then;
- disk copy: the instance's used disk (``disk_used_gb``, GiB) over the slower of the
  two hosts' NICs (Gbit/s, 10^9 bit/s); nothing is copied for a same-host resize;
- finish: disk set-up and the time until the domain runs, ``guest.boot``, seen at
  the next half second (Nova polls libvirt every 0.5 s).

The physical-models issue replaces the copy with flows sharing links max-min fairly;
the compute manager only sees these generators and the durations they return.
"""
from __future__ import annotations

import math
import random
from dataclasses import dataclass
from typing import Generator

import simpy

from models.hosts import HostTable
from models.objects import Instance
from simulator.distributions import Sampler

GIB = 1024 ** 3


@dataclass
class PowerOff:
    """How a power-off went: its duration and whether it was a hard destroy."""

    seconds: float
    hard: bool


class SimpleDriver:
    """Timed driver steps with constant-rate copies over the slower NIC."""

    def __init__(self, env: simpy.Environment, hosts: HostTable, *, shutdown: Sampler,
                 boot: Sampler, shutdown_timeout: float, rng_shutdown: random.Random,
                 rng_boot: random.Random):
        self.env = env
        self.hosts = hosts
        self.shutdown = shutdown
        self.boot = boot
        self.shutdown_timeout = shutdown_timeout
        self.rng_shutdown = rng_shutdown
        self.rng_boot = rng_boot

    def power_off(self, instance: Instance) -> Generator[simpy.Event, None, PowerOff]:
        """Clean shutdown with Nova's one-second polling, else destroy at the timeout."""
        stops_after = self.shutdown(self.rng_shutdown)
        seen = float(math.ceil(stops_after))
        if seen >= self.shutdown_timeout:
            result = PowerOff(self.shutdown_timeout, True)
        else:
            result = PowerOff(seen, False)
        if result.seconds > 0:
            yield self.env.timeout(result.seconds)
        return result

    def copy_seconds(self, instance: Instance, source: int, dest: int) -> float:
        """How long copying the instance's disks takes on otherwise idle NICs."""
        if source == dest:
            return 0.0
        gbps = float(min(self.hosts.nic_gbps[source], self.hosts.nic_gbps[dest]))
        return instance.disk_used_gb * GIB * 8 / (gbps * 1e9)

    def copy_disks(self, instance: Instance, source: int, dest: int) -> Generator[simpy.Event, None, float]:
        seconds = self.copy_seconds(instance, source, dest)
        if seconds > 0:
            yield self.env.timeout(seconds)
        return seconds

    def finish_migration(self, instance: Instance, power_on: bool) -> Generator[simpy.Event, None, float]:
        """Set up the disks, define the domain and (unless it was stopped) wait until it runs."""
        seconds = 0.0
        if power_on:
            # Nova polls libvirt every 0.5 s until the domain runs
            seconds = math.ceil(self.boot(self.rng_boot) / 0.5) * 0.5
        if seconds > 0:
            yield self.env.timeout(seconds)
        return seconds
