"""The same scenario and seed give the same run to the last bit, not only to the six
decimals the files keep (issue 13): every shipped scenario run twice in one process and
once more in another process gives identical unrounded rows. (The bandwidth solver
once iterated a set of links in memory-address order: the last digit then changed
between two runs in one process.)"""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

import simulator

ROOT = Path(__file__).resolve().parent.parent
SCENARIOS = sorted(str(p.relative_to(ROOT)) for p in (ROOT / "scenarios").rglob("*.yaml")
                   if "sweeps" not in p.parts)


def shared_uplinks() -> dict:
    """200 hosts in 4 racks behind 4 Gbit/s uplinks, disks that limit too, 600 moves:
    components of many copies with equal fair shares, where the old set order showed."""
    sys.path.insert(0, str(ROOT / "benchmarks"))
    import bench_scale

    s = bench_scale.scenario(200, 600, 4.0)
    s["network"] = {"uplink_gbps": 4}
    s["hosts"] = [dict(h, disk_read_mibps=300, disk_write_mibps=200) for h in s["hosts"]]
    return s


#: the shipped scenarios, and one made to show a solver's order
CASES = SCENARIOS + ["shared-uplinks"]


def fingerprint(path: str) -> str:
    """Every request row, flow row and action row, unrounded (``repr`` of a float is
    exact), and the summary but its wall time."""
    result = simulator.run(shared_uplinks() if path == "shared-uplinks" else str(ROOT / path))
    summary = dict(result.summary)
    summary.pop("wall_seconds", None)
    return repr((result.rows, result.flows, result.actions, result.scheduling,
                 json.dumps(summary, sort_keys=True, default=repr)))


_CHILD = """
import sys
sys.path.insert(0, {root!r})
from tests.test_exact_determinism import fingerprint
for path in sys.argv[1:]:
    print(fingerprint(path))
"""


@pytest.fixture(scope="module")
def other_process() -> dict[str, str]:
    """Each scenario's fingerprint as another Python process computes it."""
    out = subprocess.run([sys.executable, "-c", _CHILD.format(root=str(ROOT)), *CASES],
                         capture_output=True, text=True, check=True, cwd=ROOT).stdout.splitlines()
    assert len(out) == len(CASES)
    return dict(zip(CASES, out))


@pytest.mark.parametrize("path", CASES)
def test_twice_in_one_process_and_in_another_the_same_to_the_last_bit(path, other_process):
    first = fingerprint(path)
    assert fingerprint(path) == first
    assert other_process[path] == first
