"""nova-compute's object calls through nova-conductor (reference section 12): their
counts per step, the conductor's load and queue, and a conductor outage holding a
move at its next save."""
from __future__ import annotations

import pytest

import simulator
from tests.conftest import events_of, tiny

INDIRECT = {"use_local": False}


def objects(result, request):
    return [(r["name"], r["writes"], r["reads"]) for r in events_of(result.trace, request, "objects")]


def test_a_kilo_resize_makes_the_reference_s_19_saves_and_3_reads_up_to_verify_resize():
    result = simulator.run(tiny(nova=INDIRECT))
    got = objects(result, 1)
    assert got == [("prep_resize", 5, 1), ("resize_instance", 4, 1), ("resize_instance.end", 3, 0),
                   ("finish_resize", 3, 1), ("finish_resize.end", 4, 0)]
    assert sum(w for _, w, _ in got) == 19 and sum(r for *_, r in got) == 3


def test_modern_makes_19_saves_and_2_reads_and_a_confirm_7_and_1():
    result = simulator.run(tiny(nova=dict(INDIRECT, release="modern"),
                                workload=[{"op": "resize", "flavor": "medium", "instance": "vm1", "at": 10,
                                           "confirm_after": 5}]))
    got = objects(result, 1)
    assert sum(w for n, w, _ in got if n != "confirm_resize") == 19
    assert sum(r for n, _, r in got if n != "confirm_resize") == 2
    assert got[-1] == ("confirm_resize", 7, 1)


def test_each_attached_volume_adds_a_block_device_mapping_save():
    sc = tiny(nova=INDIRECT)
    sc["instances"][0]["volumes"] = {"count": 2, "size_gb": 10}
    got = dict((n, w) for n, w, _ in objects(simulator.run(sc), 1))
    assert got["finish_resize.end"] == 4 + 2


def test_each_step_waits_for_its_calls_round_trip_and_the_conductor_s_work():
    # prep_resize's five saves and a read: 5 × 5 ms + 3 ms at the conductor, two 1 ms hops
    result = simulator.run(tiny(nova=INDIRECT))
    (prep,) = [r for r in events_of(result.trace, 1, "objects") if r["name"] == "prep_resize"]
    assert prep["seconds"] == pytest.approx(5 * 0.005 + 0.003 + 0.002)
    local = simulator.run(tiny()).request(1)
    assert result.request(1)["prep_resize"] == pytest.approx(local["prep_resize"] + prep["seconds"])


def test_use_local_sends_no_object_calls():
    result = simulator.run(tiny())  # tiny writes the database locally
    assert events_of(result.trace, 1, "objects") == []
    assert result.summary["services"]["nova-conductor"]["object_calls"] == {"writes": 0, "reads": 0}


def test_a_slow_conductor_becomes_the_bottleneck_and_its_load_adds_up():
    # one conductor worker, 0.2 s an object: each move needs 22 objects (4.4 s) of it
    # before VERIFY_RESIZE, so five moves at once queue there
    times = {"migrate_server": 0.02, "object_action": 0.2, "object_class_action": 0.2}
    hosts = [{"name": f"cmp{i}", "vcpus": 64, "ram_mb": 262144, "disk_gb": 4000, "nic_gbps": 10} for i in (1, 2)]
    sc = tiny(nova=INDIRECT, hosts=hosts,
              services={"api": {"workers": 8, "service_time": 0.05},
                        "conductor": {"workers": 1, "service_time": times},
                        "scheduler": {"workers": 8, "service_time": 0.1},
                        "compute": {"workers": 8, "service_time": 0.01}},
              instances=[{"name": f"vm{i}", "flavor": "small", "disk_used_gb": 1, "host": "cmp1"} for i in range(5)],
              workload=[{"op": "resize", "flavor": "medium", "instance": f"vm{i}", "at": 10} for i in range(5)])
    result = simulator.run(sc)
    cond = result.summary["services"]["nova-conductor"]
    served = cond["object_calls"]
    moves = [objects(result, r) for r in range(1, 6)]
    assert all(sum(w for _, w, _ in m) == 19 and sum(r for *_, r in m) == 3 for m in moves)
    assert served["writes"] >= 5 * 19 and served["reads"] >= 5 * 3  # the rest: periodic reports and audits
    # utilisation is the workers' time held over the run: per migrate_server 0.02 and
    # the scheduler's 0.1 s with its two hops (the worker waits for the reply), 0.2 per object
    busy = 5 * (0.02 + 0.1 + 0.002) + 0.2 * (served["writes"] + served["reads"])
    assert cond["utilisation"] == pytest.approx(busy / result.summary["sim_time"], abs=1e-6)
    assert cond["max_queue"] >= 4 and cond["mean_wait"] > 0.1
    local = simulator.run(dict(sc, nova={"notification_format": "versioned", "use_local": True}))
    # the slowest move waits for its own 4.4 s of objects and for the others' ahead of it
    slowest = max(r["latency"] for r in result.rows)
    assert slowest > max(r["latency"] for r in local.rows) + 2 * 4.4


def _outage(seconds: float) -> dict:
    # the copy of 20 GiB over 1 Gbit/s runs 22.2 → 194 s; the conductor is down from 100 s
    return tiny(nova=INDIRECT, services={"api": {"workers": 1, "service_time": 0.05},
                                         "conductor": {"workers": 4, "service_time": 0.02},
                                         "scheduler": {"workers": 1, "service_time": 0.1},
                                         "compute": {"workers": 4, "service_time": 0.01}},
                faults=[{"kind": "service_down", "service": "conductor", "at": 100, "for": seconds}])


def test_a_conductor_outage_holds_the_move_at_its_next_save_and_lets_it_go_on_at_its_end():
    short = simulator.run(_outage(120))   # back at 220 s: the call sent at ~194 s waits 26 s
    row = short.request(1)
    assert (row["status"], row["reason"]) == ("resized", None)
    (end,) = [r for r in events_of(short.trace, 1, "objects") if r["name"] == "resize_instance.end"]
    copy_end = [r for r in events_of(short.trace, 1, "step.end") if r["name"] == "copy_disks"][0]["t"]
    # sent at the copy's end, served when the conductor is back at 220 s: 3 saves, one hop back
    assert end["t"] == pytest.approx(220 + 3 * 0.005 + 0.001)
    assert end["seconds"] == pytest.approx(220 + 3 * 0.005 + 0.001 - copy_end)


def test_a_conductor_down_longer_than_the_call_s_timeout_leaves_the_move_stuck():
    result = simulator.run(_outage(170))  # back at 270 s: the call sent at ~194 s gives up at ~254 s
    row = result.request(1)
    assert (row["status"], row["reason"]) == ("stuck", "MessagingTimeout")
    copy_end = [r for r in events_of(result.trace, 1, "step.end") if r["name"] == "copy_disks"][0]["t"]
    (fault,) = [r for r in events_of(result.trace, 1, "fault") if r["name"] == "conductor_unreachable"]
    assert fault["t"] == pytest.approx(copy_end + 60)
    last = events_of(result.trace, 1, "state")[-1]
    assert (last["vm_state"], last["task_state"]) == ("active", "resize_migrating")  # as last saved


def test_an_unanswered_claim_save_gives_the_kilo_claim_back():
    # every message to the conductor takes 2 s more than the 1 s a call waits: the
    # prep_resize saves go unanswered; the exception leaves resize_claim, which aborts
    sc = tiny(nova=dict(INDIRECT, rpc_response_timeout=1.5),
              faults=[{"kind": "message_delay", "topic": "conductor", "extra": 2, "at": 10.1, "for": 100}])
    from models.build import Sinks, build
    from models.scenario import load_scenario
    from simulator.engine.environment import Environment
    from simulator.engine.random_streams import RandomStreams

    cloud = build(load_scenario(sc), Environment(), RandomStreams(7), Sinks.in_memory())
    cloud.run()
    req = cloud.book.requests[0]
    assert (req.status, req.reason) == ("stuck", "MessagingTimeout")
    assert list(cloud.hosts.used_ram_mb) == [2048, 0]  # only the instance on its source
