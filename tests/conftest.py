"""Shared helpers: small scenarios written as dicts, and reading a run's trace."""
from __future__ import annotations

import copy
from typing import Any

import pytest

GIB = 1024 ** 3


def tiny(**overrides: Any) -> dict[str, Any]:
    """A two-host cloud with one instance and every time constant (copies bound by the
    NICs alone), so a run's timing can be computed by hand, with versioned notifications
    and the compute writing the database itself (``use_local``).
    Keys given replace the defaults at the top level (``nova``'s are added to it)."""
    base: dict[str, Any] = {
        "name": "tiny",
        "seed": 7,
        "services": {
            "api": {"workers": 1, "service_time": 0.05},
            "conductor": {"workers": 1, "service_time": 0.02},
            "scheduler": {"workers": 1, "service_time": 0.1},
            "compute": {"workers": 4, "service_time": 0.01},
        },
        "bus": {"latency": 0.001},
        "hosts": [
            {"name": "cmp1", "vcpus": 16, "ram_mb": 65536, "disk_gb": 1000, "nic_gbps": 1},
            {"name": "cmp2", "vcpus": 16, "ram_mb": 65536, "disk_gb": 1000, "nic_gbps": 10},
        ],
        "flavors": {
            "small": {"vcpus": 1, "ram_mb": 2048, "root_gb": 20},
            "medium": {"vcpus": 2, "ram_mb": 4096, "root_gb": 40},
        },
        "instances": [{"name": "vm1", "flavor": "small", "disk_used_gb": 20, "host": "cmp1"}],
        "guest": {"shutdown": 12, "boot": 30},
        # copies at line rate: no per-stream limit (the tests of the limits set them)
        "copy": {"cipher_mibps": None, "compress_mibps": None},
        "workload": [{"op": "resize", "flavor": "medium", "instance": "vm1", "at": 10}],
        # the names of Nova's functional tests, and no object calls to the conductor
        # (tests/test_object_calls.py has them); a test's own ``nova`` keys are added
        "nova": {"notification_format": "versioned", "use_local": True},
    }
    overrides = copy.deepcopy(overrides)
    base["nova"].update(overrides.pop("nova", {}))
    base.update(overrides)
    return base


def events_of(trace: list[dict[str, Any]], request: int, *kinds: str) -> list[dict[str, Any]]:
    return [r for r in trace if r["request"] == request and (not kinds or r["event"] in kinds)]


@pytest.fixture
def tiny_scenario() -> dict[str, Any]:
    return tiny()
