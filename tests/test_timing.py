"""Timings against hand-computed values, with every service time and latency constant.

The tiny cloud (tests/conftest.py): vm1 (20 GiB used) on cmp1 (1 Gbit/s NIC), resized
to cmp2 (10 Gbit/s). Bus latency 1 ms one way; service times api 50 ms, conductor
20 ms, scheduler 100 ms, compute 10 ms; the guest stops in 12 s and boots in 30 s.

    api          0.050                    (service)
    conductor    0.001 + 0.020 + 0.001    (call in, service, scheduler's reply in)
    scheduler    0.001 + 0.100            (call in, service)
    prep_resize  0.001 + 0.010
    resize_inst. 0.001 + 0.010
    power_off   12
    disk_copy   20 GiB × 8 / 1 Gbit/s = 171.79869184
    finish       0.001 + 0.010 + 30
    ---------------------------------
    latency    214.00469184
"""
from __future__ import annotations

import pytest

import simulator
from models.request import PHASES
from tests.conftest import GIB, events_of, tiny

EXPECTED_PHASES = {
    "api": 0.05, "conductor": 0.022, "scheduler": 0.101, "prep_resize": 0.011,
    "resize_instance": 0.011, "power_off": 12.0, "disk_copy": 20 * GIB * 8 / 1e9,
    "finish_resize": 30.011,
}


def test_latency_is_the_hand_computed_sum():
    row = simulator.run(tiny()).request(1)
    for phase, expected in EXPECTED_PHASES.items():
        assert row[phase] == pytest.approx(expected, abs=1e-9), phase
    expected = sum(EXPECTED_PHASES.values())
    print(f"expected latency {expected:.6f} s, simulated {row['latency']:.6f} s")
    assert expected == pytest.approx(214.00469184, abs=1e-8)
    assert row["latency"] == pytest.approx(expected, abs=1e-9)
    assert row["submitted"] == 10 and row["finished"] == pytest.approx(10 + expected, abs=1e-9)
    assert row["queue_wait"] == 0


def test_twenty_gib_at_one_gbit_is_171_8_seconds():
    row = simulator.run(tiny()).request(1)
    assert round(row["disk_copy"], 1) == 171.8


def test_copy_uses_the_slower_nic_and_a_local_cp_for_a_same_host_resize():
    fast = tiny()
    fast["hosts"][0]["nic_gbps"] = 25
    row = simulator.run(fast).request(1)
    assert row["disk_copy"] == pytest.approx(20 * GIB * 8 / 10e9)
    same = tiny(nova={"allow_resize_to_same_host": True},
                hosts=[{"name": "cmp1", "vcpus": 16, "ram_mb": 65536, "disk_gb": 1000, "nic_gbps": 1}])
    result = simulator.run(same)
    row = result.request(1)
    # a same-host resize copies with a local cp (500 MiB/s, copy.local_mibps), no network
    assert (row["source"], row["dest"]) == ("cmp1", "cmp1")
    assert row["disk_copy"] == pytest.approx(20 * 1024 / 500)
    assert [(f[10], f[11]) for f in result.flows] == [("cp", "local")]


@pytest.mark.parametrize("stops_after, seen, hard", [
    (12, 12.0, False),      # stops in 12 s
    (12.3, 13.0, False),    # Nova polls once a second: seen at the next whole second
    (75, 60.0, True),       # ignores the request: destroyed at shutdown_timeout
])
def test_power_off_time(stops_after, seen, hard):
    result = simulator.run(tiny(guest={"shutdown": stops_after, "boot": 30}))
    assert result.request(1)["power_off"] == pytest.approx(seen)
    end = [r for r in events_of(result.trace, 1, "step.end") if r["name"] == "power_off"][0]
    assert (end["seconds"], end["hard"]) == (seen, hard)


def test_phases_add_up_to_latency_on_a_busy_cloud():
    result = simulator.run("scenarios/default.yaml")
    moved = [r for r in result.rows if r["status"] in ("confirmed", "resized")]
    assert moved
    for r in moved:
        assert sum(r[p] for p in PHASES) == pytest.approx(r["latency"], abs=1e-6)


def test_a_second_request_queues_behind_the_first_at_the_api():
    """One API worker is held through the whole migrate_server call: 0.050 (service)
    + 0.022 + 0.101 (to the scheduler's reply at the conductor) + 0.001 (the
    conductor's reply back) = 0.174 s, which request 2 waits."""
    s = tiny(instances=[{"name": "vm[1-2]", "flavor": "small", "disk_used_gb": 20, "host": "cmp1"}],
             workload=[{"op": "resize", "flavor": "medium", "instance": "vm1", "at": 10},
                       {"op": "resize", "flavor": "medium", "instance": "vm2", "at": 10}])
    result = simulator.run(s)
    r1, r2 = result.request(1), result.request(2)
    assert r1["api"] == pytest.approx(0.05)
    assert r2["api"] == pytest.approx(0.174 + 0.05)
    assert r2["queue_wait"] == pytest.approx(0.174)
    start = [r for r in events_of(result.trace, 2, "step.start") if r["service"] == "nova-api"][0]
    assert (start["wait"], start["behind"]) == (pytest.approx(0.174), 0)


def test_auto_confirm_at_the_first_periodic_run_after_the_window():
    """Finished at 224.0047; window 100 s → due at 324.0047; the periodic task runs
    every 60 s from 0 (no fuzzy delay), so it confirms at 360: 0.010 of its own work,
    then the cast to the source (0.001) and confirm_resize there (0.010)."""
    result = simulator.run(tiny(nova={"resize_confirm_window": 100, "periodic_fuzzy_delay": 0}))
    row = result.request(1)
    assert row["status"] == "confirmed"
    assert row["confirm"] == pytest.approx(0.021)
    confirming = [r for r in events_of(result.trace, 1, "state") if r["migration_status"] == "confirming"]
    assert confirming[0]["t"] == pytest.approx(360.01)
    # run by the destination's nova-compute, not through nova-api
    assert (confirming[0]["service"], confirming[0]["host"]) == ("nova-compute", "cmp2")
    assert result.summary["sim_time"] == pytest.approx(360.021)
