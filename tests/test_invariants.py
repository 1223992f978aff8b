"""Invariants over random small scenarios (hypothesis): whatever the cloud, load,
confirm / revert mix, faults (outages that touch or overlap included) and operator
actions (during moves too), after every event no host is over its limits for the resources
its claims test, and at the end resources are conserved (what was claimed was
released exactly once, but for moves still unconfirmed), every instance is on one
host, and every request has exactly one final status."""
from __future__ import annotations

import os
from collections import Counter

import numpy as np

from hypothesis import HealthCheck, assume, event, given, settings
from hypothesis import strategies as st

from models.build import Sinks, build
from models.scenario import load_scenario
from models.states import REQUEST_STATUSES
from simulator.commands.summary import build_summary
from simulator.engine.environment import Environment
from simulator.engine.errors import ScenarioError
from simulator.engine.random_streams import RandomStreams

#: how many random clouds: 300 in the suite; INVARIANT_EXAMPLES=5000 for a long look
EXAMPLES = int(os.environ.get("INVARIANT_EXAMPLES", "300"))
OUTAGE_KINDS = ("compute_crash", "service_down", "broker_restart", "link_down")

service_time = st.one_of(st.sampled_from([0, 0.01, 0.5]),
                         st.builds(lambda m: {"dist": "exponential", "mean": m}, st.sampled_from([0.05, 2.0])))


@st.composite
def scenarios(draw):
    n_hosts = draw(st.integers(1, 4))
    hosts = [{"name": f"h{i}", "vcpus": draw(st.sampled_from([2, 4, 16])),
              "nic_gbps": draw(st.sampled_from([1, 10])),
              "ram_mb": draw(st.sampled_from([4096, 8192, 16384])), "disk_gb": draw(st.sampled_from([50, 500])),
              "availability_zone": draw(st.sampled_from(["nova", "nova", "az2"]))} for i in range(n_hosts)]
    flavors = {f"f{i}": {"vcpus": draw(st.integers(1, 4)), "ram_mb": draw(st.sampled_from([1024, 2048, 4096])),
                         "root_gb": draw(st.sampled_from([10, 20, 40]))} for i in range(draw(st.integers(2, 3)))}
    names = list(flavors)
    instances = [{"name": f"vm{i}", "flavor": draw(st.sampled_from(names)),
                  "disk_used_gb": draw(st.sampled_from([1, 8]))}
                 for i in range(draw(st.integers(1, 6)))]
    groups = {}
    if len(instances) >= 2 and draw(st.booleans()):
        groups["g"] = {"policy": draw(st.sampled_from(["affinity", "anti-affinity"])),
                       "members": [instances[0]["name"], instances[1]["name"]]}
    workload = []
    for _ in range(draw(st.integers(1, 5))):
        op = draw(st.sampled_from(["resize", "migrate"]))
        entry = {"op": op, "count": draw(st.integers(1, 3))}
        if op == "resize":
            entry["flavor"] = draw(st.sampled_from(names))
        if draw(st.booleans()):
            entry["at"] = draw(st.sampled_from([0, 1, 30]))
        else:
            entry["arrival"] = {"process": "poisson", "rate": draw(st.sampled_from([0.05, 1.0]))}
        action = draw(st.sampled_from(["none", "confirm", "revert", "coin"]))
        if action == "confirm":
            entry["confirm_after"] = draw(st.sampled_from([0, 20]))
        elif action == "revert":
            entry["revert_after"] = draw(st.sampled_from([0, 20]))
        elif action == "coin":
            entry["confirm_after"], entry["revert"] = 5, 0.5
        workload.append(entry)
    faults = []
    for _ in range(draw(st.integers(0, 2))):
        kind = draw(st.sampled_from(["service_slow", "message_delay", "message_loss", "copy_fail", "boot_fail",
                                     "power_off_fail", "compute_crash", "service_down", "broker_restart", "link_down"]))
        f = {"kind": kind}
        # a recurring fault (a rate instead of a time) needs its length
        recurring = draw(st.integers(0, 3)) == 0
        rate = {"rate": draw(st.sampled_from([0.02, "6/min"]))} if recurring else {}
        if kind == "compute_crash":
            f.update(host=draw(st.sampled_from([f"h{draw(st.integers(0, n_hosts - 1))}", f"h[0-{n_hosts - 1}]"])),
                     **(rate or {"at": draw(st.sampled_from([2, 15, 40, 75]))}))
            if recurring or draw(st.booleans()):
                f["restart_after"] = draw(st.sampled_from([5, 100]))
            faults.append(f)
            continue
        if recurring:
            f.update(rate, **{"for": draw(st.sampled_from([5, 30]))})
        if kind == "link_down":
            f.update(a=draw(st.sampled_from([f"h{i}" for i in range(n_hosts)])), b="core")
            if not recurring:
                f["at"] = draw(st.sampled_from([1, 14]))
                if draw(st.booleans()):
                    f["for"] = draw(st.sampled_from([5, 2000]))
            faults.append(f)
            continue
        if kind == "broker_restart":
            if not recurring:
                f.update(at=draw(st.sampled_from([1, 12])), **{"for": draw(st.sampled_from([3, 80]))})
            faults.append(f)
            continue
        if kind == "service_down":
            f.update(service=draw(st.sampled_from(["api", "conductor", "scheduler"])))
            if not recurring:
                f["at"] = draw(st.sampled_from([1, 20]))
                if draw(st.booleans()):
                    f["for"] = draw(st.sampled_from([5, 100]))
            faults.append(f)
            continue
        if not recurring and draw(st.booleans()):
            f["at"], f["for"] = draw(st.sampled_from([0, 5, 40])), draw(st.sampled_from([10, 100]))
        topic = draw(st.sampled_from(["conductor", "scheduler", "compute.h0"]))
        if kind == "service_slow":
            f.update(service=draw(st.sampled_from(["api", "conductor", "scheduler", "compute"])),
                     factor=draw(st.sampled_from([3, 100])))
        elif kind == "message_delay":
            f.update(topic=topic, extra=draw(st.sampled_from([1, 30])))
        elif kind == "message_loss":
            f.update(topic=topic, probability=draw(st.sampled_from([0.3, 1.0])))
        elif kind == "copy_fail":
            f.update(probability=draw(st.sampled_from([0.5, 1.0])),
                     reason=draw(st.sampled_from(["disk_full", "host_key_verification"])))
        else:
            f.update(probability=draw(st.sampled_from([0.5, 1.0])))
        faults.append(f)
    # an outage followed by another of the same target that touches or overlaps it
    outages = [f for f in faults if f["kind"] in OUTAGE_KINDS and "at" in f and "rate" not in f
               and f.get("for", f.get("restart_after")) is not None]
    if outages and draw(st.booleans()):
        first = draw(st.sampled_from(outages))
        length = "restart_after" if first["kind"] == "compute_crash" else "for"
        gap = draw(st.sampled_from([0, 0, -1, -first[length] / 2]))  # touching, or overlapping
        faults.append({**first, "at": max(0, first["at"] + first[length] + gap),
                       length: draw(st.sampled_from([1, 10, 60]))})
    operator = {}
    if draw(st.booleans()):
        operator = {"reset_stuck_after": draw(st.sampled_from([30, 300])), "hard_reboot_errors": draw(st.booleans()),
                    "check_every": draw(st.sampled_from([10, 60]))}
    # the operator's actions at times that fall during moves, at VERIFY_RESIZE or after
    actions = []
    for _ in range(draw(st.integers(0, 2))):
        action = {"action": draw(st.sampled_from(["hard_reboot", "reset_state"])),
                  "instance": draw(st.sampled_from(instances))["name"],
                  "at": draw(st.sampled_from([0.5, 5, 12, 25, 60, 150, 400]))}
        if action["action"] == "reset_state":
            action["state"] = draw(st.sampled_from(["active", "error"]))
        actions.append(action)
    if actions:
        operator["actions"] = actions
    return {
        "name": "random", "seed": draw(st.integers(0, 1000)), "faults": faults, "operator": operator,
        "nova": {"release": draw(st.sampled_from(["kilo", "modern"])),
                 "max_attempts": draw(st.integers(1, 3)),
                 "use_local": draw(st.sampled_from([False, False, True])),
                 "allow_resize_to_same_host": draw(st.booleans()),
                 "resize_confirm_window": draw(st.sampled_from([0, 0, 100])),
                 "rpc_response_timeout": draw(st.sampled_from([1, 60])),
                 "scheduler_default_filters": draw(st.sampled_from([
                     None, ["RetryFilter", "RamFilter", "CoreFilter", "DiskFilter", "ComputeFilter",
                            "ServerGroupAntiAffinityFilter", "ServerGroupAffinityFilter"]]))},
        "services": {"api": {"workers": draw(st.integers(1, 3)), "service_time": draw(service_time)},
                     "conductor": {"workers": draw(st.integers(1, 3)), "service_time": draw(service_time)},
                     "scheduler": {"workers": draw(st.integers(1, 3)), "service_time": draw(service_time)},
                     "compute": {"workers": draw(st.integers(1, 4)), "service_time": draw(service_time)}},
        "hosts": hosts, "flavors": flavors, "instances": instances, "server_groups": groups,
        "guest": {"shutdown": draw(st.sampled_from([3, 70])), "boot": 10},
        "workload": workload,
    }


def limits_hold(cloud):
    """No host over its limits, but a destination that counts an instance's old flavor
    (a failed boot gives it back; a move abandoned after resize_instance leaves the
    instance there with it): Nova's resource audit counts it whatever the limits, and a
    hard reboot that makes the instance ACTIVE keeps it so."""
    h = cloud.hosts
    tests = ("ram", "vcpu", "disk") if cloud.release.placement else cloud.scheduler.config.claim_tests
    ok = np.ones(len(h), dtype=bool)
    if "ram" in tests:
        ok &= h.used_ram_mb + h.reserved_ram_mb <= h.ram_limit_mb
    if "vcpu" in tests:
        ok &= h.used_vcpus <= h.vcpu_limit
    if "disk" in tests:
        ok &= h.used_disk_gb + h.reserved_disk_gb <= h.disk_limit_gb + 1e-9
    for i in np.flatnonzero(~ok):
        if not any(inst.host == i and inst.migration is not None and inst.migration.dest == i
                   and inst.migration.source != i and inst.flavor is inst.migration.old_flavor
                   for inst in cloud.db.instances.values()):
            return False
    return True


@settings(max_examples=EXAMPLES, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
@given(scenarios())
def test_invariants_hold_on_random_clouds(scenario):
    try:
        loaded = load_scenario(scenario)
        env = Environment()
        cloud = build(loaded, env, RandomStreams(scenario["seed"]), Sinks.in_memory())
    except ScenarioError:
        assume(False)
    recorder = cloud.sinks.trace
    used0 = cloud.hosts.used_ram_mb.copy()
    assert limits_hold(cloud) or not (used0 > 0).any()

    def check() -> None:
        assert limits_hold(cloud), f"over a limit at t={env.now}"
        assert env.events_processed < 200_000

    assert not cloud.run(after_step=check)
    steps = env.events_processed

    # every request: one final status; the counts add up, in the summary too
    summary = build_summary(cloud, seed=scenario["seed"], sim_time=env.now, wall=0.0,
                            events=steps, until=None)
    assert sum(summary["requests"]["by_status"].values()) == summary["requests"]["total"] == cloud.workload.total
    assert sum(summary["requests"]["by_reason"].values()) <= summary["requests"]["total"]
    assert summary["requests"]["by_status"]["in_flight"] == 0
    # every instance the summary says is left in ERROR or mid-move is one
    left = sum(1 for i in cloud.db.instances.values() if i.vm_state == "error" or i.task_state)
    assert sum(v for k, v in summary["faults"]["instances_left"].items() if ", migration" not in k) == left
    statuses = Counter(r.status for r in cloud.book.requests)
    assert set(statuses) <= set(REQUEST_STATUSES)
    assert all(r.settled for r in cloud.book.requests)
    assert sum(statuses.values()) == cloud.workload.total == len(cloud.book.requests)
    for action, n in summary["operator"]["actions"].items():
        event(f"operator {action}")
    downs = sum(1 for rec in recorder.records if rec["event"] == "fault" and rec.get("phase") in ("stop", "down"))
    if sum(summary["faults"]["struck"].get(k, 0) for k in OUTAGE_KINDS) > downs:
        event("outages merged")
    for r in cloud.book.requests:
        event(f"{r.status} {r.reason or ''}".strip())
        if r.attempts > 1:
            event("rescheduled")
    # every instance on exactly one host; resources conserved
    h = cloud.hosts
    expect = {"ram": [0] * len(h), "vcpu": [0] * len(h), "disk": [0] * len(h)}
    held = 0
    # what each host must hold. An instance's own allocation: its flavor on its host;
    # but while a move is in progress (or left so by a crash or an operator's
    # reset-state, which touches no claim) the old flavor on the source of its
    # earliest such move (one an audit has dropped after a crash no longer counts).
    # Each move in progress also holds the new flavor on its destination, until an
    # audit drops it.
    in_progress = ("pre-migrating", "migrating", "post-migrating", "finished", "confirming", "reverting")
    moves: dict = {}
    for m in cloud.db.migrations:
        moves.setdefault(m.instance.name, []).append(m)
    for inst in cloud.db.instances.values():
        assert 0 <= inst.host < len(h)
        active = [m for m in moves.get(inst.name, ())
                  if m.dest >= 0 and m.status in in_progress and not m.dest_released]
        m = inst.migration
        if active:
            host, f = active[0].source, active[0].old_flavor
        elif m is not None and m.status == "reverted":
            host, f = m.source, m.old_flavor
        else:
            host, f = inst.host, inst.flavor
        expect["ram"][host] += f.ram_mb
        expect["vcpu"][host] += f.vcpus
        expect["disk"][host] += f.disk_gb
    for m in cloud.db.migrations:
        if m.dest >= 0 and not m.dest_released and m.status in in_progress:
            expect["ram"][m.dest] += m.new_flavor.ram_mb
            expect["vcpu"][m.dest] += m.new_flavor.vcpus
            expect["disk"][m.dest] += m.new_flavor.disk_gb
            held += 1
    for r in cloud.book.requests:  # allocations in a scheduler's reply the run ended before delivering
        if r.allocation is not None:
            expect["ram"][r.allocation[0]] += r.allocation[1].ram_mb
            expect["vcpu"][r.allocation[0]] += r.allocation[1].vcpus
            expect["disk"][r.allocation[0]] += r.allocation[1].disk_gb
            held += 1
    for host, f in h.leaked:  # allocations orphaned by a crash
        expect["ram"][host] += f.ram_mb
        expect["vcpu"][host] += f.vcpus
        expect["disk"][host] += f.disk_gb
        held += 1
    for host, big, small in h.excess:  # a larger allocation than the instance's flavor
        expect["ram"][host] += big.ram_mb - small.ram_mb
        expect["vcpu"][host] += big.vcpus - small.vcpus
        expect["disk"][host] += big.disk_gb - small.disk_gb
    assert list(h.used_ram_mb) == expect["ram"]
    assert list(h.used_vcpus) == expect["vcpu"]
    assert list(h.used_disk_gb) == expect["disk"]
    assert h.claims - h.releases == len(cloud.db.instances) + held
    # io_ops counts only instances still in an I/O task state
    busy = Counter(i.host for i in cloud.db.instances.values() if i.task_state in ("resize_prep", "resize_migrating"))
    assert [busy.get(k, 0) for k in range(len(h))] == list(h.io_ops)
    # quota reservations: only moves left stuck keep theirs
    for project, r in cloud.quotas.reserved.items():
        assert r.cores >= 0 and r.ram_mb >= 0
        if statuses.get("stuck", 0) == 0:
            assert (r.cores, r.ram_mb) == (0, 0)
    # trace times never decrease
    times = [rec["t"] for rec in recorder.records]
    assert times == sorted(times)
