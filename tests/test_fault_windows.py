"""Faults of one target whose windows touch or overlap run as one longer fault: never a
crash, never a dropped outage (issue 13). Two windows [a, b) and [b, c) give the same
run as one window [a, c), for every fault kind; overlapping outages too."""
from __future__ import annotations

import pytest

import simulator
from tests.conftest import tiny


def case(faults: list[dict]) -> dict:
    """vm1 (20 GiB) on a1 in rack r1 migrates at 10 s to b1 in rack r2 over 10 Gbit/s
    links: the copy runs from about 22 s to 39 s."""
    return tiny(hosts=[{"name": "a1", "rack": "r1", "vcpus": 16, "ram_mb": 65536, "disk_gb": 1000, "nic_gbps": 10},
                       {"name": "b1", "rack": "r2", "vcpus": 16, "ram_mb": 65536, "disk_gb": 1000, "nic_gbps": 10}],
                instances=[{"name": "vm1", "flavor": "small", "disk_used_gb": 20, "host": "a1"}],
                workload=[{"op": "migrate", "instance": "vm1", "at": 10, "confirm_after": 5}],
                faults=faults)


#: each kind's target and what makes it bite in ``case``
KINDS = {
    "compute_crash": {"host": "b1"},
    "service_down": {"service": "conductor"},
    "broker_restart": {},
    "link_down": {"a": "r1", "b": "core"},
    "service_slow": {"service": "compute", "factor": 500},
    "message_delay": {"topic": "compute.b1", "extra": 7},
    "message_loss": {"topic": "conductor", "probability": 0.5},
    "copy_fail": {"probability": 0.5},
    "power_off_fail": {"probability": 0.5},
    "boot_fail": {"probability": 0.5},
}


def window(kind: str, at: float, length: float) -> dict:
    length_key = "restart_after" if kind == "compute_crash" else "for"
    return {"kind": kind, **KINDS[kind], "at": at, length_key: length}


def outcome(result: simulator.Result) -> tuple:
    """What a run did, without the fault marks of each window (which name the fault)."""
    events = [(r["t"], r["event"], r["name"], r["host"]) for r in result.trace
              if not (r["event"] == "fault" and "fault" in r)]
    return result.rows, events


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_two_touching_windows_are_one_longer_window(kind):
    one = simulator.run(case([window(kind, 5, 40)]))
    two = simulator.run(case([window(kind, 5, 20), window(kind, 25, 20)]))
    assert outcome(two) == outcome(one)
    assert two.summary["faults"]["struck"].get(kind, 0) >= one.summary["faults"]["struck"].get(kind, 0)


@pytest.mark.parametrize("order", [1, -1])
@pytest.mark.parametrize("kind", ["compute_crash", "service_down", "broker_restart", "link_down"])
def test_overlapping_outages_of_one_target_are_one_outage_from_the_first_to_the_last(kind, order):
    """[5, 30) and [15, 45): down at 5, up at 45, once (either order in the list)."""
    faults = [window(kind, 5, 25), window(kind, 15, 30)][::order]
    result = simulator.run(case(faults))
    marks = [(r["t"], r["phase"]) for r in result.trace if r["event"] == "fault" and r["name"] == kind]
    assert [t for t, _ in marks] == [5, 45]
    assert result.summary["faults"]["struck"][kind] == 2
    assert outcome(result) == outcome(simulator.run(case([window(kind, 5, 40)])))


@pytest.mark.parametrize("kind", ["compute_crash", "service_down", "link_down"])
def test_an_outage_inside_a_permanent_one_does_not_bring_the_target_back(kind):
    permanent = {k: v for k, v in window(kind, 5, 1).items() if k not in ("for", "restart_after")}
    result = simulator.run(case([permanent, window(kind, 15, 10)]))
    marks = [(r["t"], r["phase"]) for r in result.trace if r["event"] == "fault" and r["name"] == kind]
    assert marks == [(5, "stop" if kind != "link_down" else "down")]


def crash(host: str, at: float, restart_after: float) -> dict:
    return {"kind": "compute_crash", "host": host, "at": at, "restart_after": restart_after}


@pytest.mark.parametrize("second, marks", [
    ((50, 30), [(30, "stop"), (40, "restart"), (50, "stop"), (80, "restart")]),
    ((50, 10), [(30, "stop"), (40, "restart"), (50, "stop"), (60, "restart")]),
])
def test_a_crash_while_nova_compute_runs_init_host_keeps_it_from_consuming_until_that_outage_ends(second, marks):
    """a1 crashes mid-copy at 30 s; it restarts at 40 and its init_host boots the guest
    back (finish_revert_migration, 30 s: until 70 s). It crashes again at 50 s: the
    service consumes nothing until both the boot is done and the second outage is over
    (the boot itself is not cut short: a simplification)."""
    result = simulator.run(case([crash("a1", 30, 10), crash("a1", *second)]))
    got = [(round(r["t"], 6), r["phase"]) for r in result.trace if r["event"] == "fault" and r["name"] == "compute_crash"]
    assert got == marks
    row = result.request(1)
    assert (row["status"], row["reason"]) == ("error", "ResetOnStartup")
    revert = [r for r in result.trace if r["event"] == "step.end" and r["name"] == "finish_revert_migration"]
    assert [round(r["t"], 6) for r in revert] == [70]


@pytest.mark.parametrize("kind", ["compute_crash", "service_down", "broker_restart", "link_down"])
def test_recurring_and_scheduled_outages_of_one_target_alternate_down_and_up(kind):
    """Two recurring outages of one target (about every 20 s, 15 s each) and a
    scheduled one: the trace says down, up, down, up... and never twice in a row."""
    faults = [{**window(kind, 0, 15), "rate": 0.05}, {**window(kind, 3, 15), "rate": 0.05}, window(kind, 20, 30)]
    s = case(faults)
    s["workload"][0]["confirm_after"] = 400
    result = simulator.run(s)
    phases = [r["phase"] for r in result.trace if r["event"] == "fault" and r["name"] == kind]
    assert len(phases) >= 6
    down = phases[0]
    assert all((p == down) == (i % 2 == 0) for i, p in enumerate(phases)), phases
    downs = (len(phases) + 1) // 2
    assert result.summary["faults"]["struck"][kind] > downs  # some strikes fell inside an outage
