"""The fault kinds modelled so far, each ending as the reference's section 10 says."""
from __future__ import annotations

import pytest

import simulator
from tests.conftest import GIB, events_of, tiny


def states(result, req=1):
    return [(r["vm_state"], r["task_state"], r["migration_status"]) for r in events_of(result.trace, req, "state")]


def notes(result, req=1):
    return [r["name"] for r in events_of(result.trace, req, "notification")]


def test_copy_fails_before_power_off_when_ssh_to_the_destination_fails():
    """Host key verification failed: rollback, the guest untouched, vm_state back,
    task_state None, migration error, a fault; the destination's claim goes."""
    result = simulator.run(tiny(faults=[{"kind": "copy_fail", "probability": 1.0,
                                         "reason": "host_key_verification"}]))
    row = result.request(1)
    assert (row["status"], row["reason"], row["power_off"], row["disk_copy"]) == \
        ("error", "ResizeError", 0, 0)  # libvirt wraps the failed ssh in a ResizeError
    assert states(result)[-2:] == [("active", None, "migrating"), ("active", None, "error")]
    assert notes(result)[-2:] == ["instance.resize.start", "compute.exception"]
    assert [r["name"] for r in events_of(result.trace, 1, "fault")] == ["copy_fail"]
    assert result.summary["resources"] == {"claims": 2, "releases": 1}
    assert result.summary["faults"]["guests_powered_off"] == 0


def test_copy_fails_after_power_off_when_the_destination_disk_is_full():
    """The guest stays off on the source, vm_state ERROR, task_state None, migration
    error; instance.resize.start was sent but no .end; the destination's claim goes."""
    result = simulator.run(tiny(faults=[{"kind": "copy_fail", "probability": 1.0, "reason": "disk_full"}]))
    row = result.request(1)
    assert (row["status"], row["reason"], row["power_off"]) == ("error", "ProcessExecutionError", 12.0)
    full = 20 * GIB * 8 / 1e9
    assert 0 < row["disk_copy"] < full
    fault = events_of(result.trace, 1, "fault")[0]
    assert row["disk_copy"] == pytest.approx(full * fault["fraction"], rel=1e-5)
    assert states(result)[-2:] == [("error", "resize_migrating", "error"), ("error", None, "error")]
    assert "instance.resize.end" not in notes(result) and notes(result)[-1] == "compute.exception"
    last = events_of(result.trace, 1, "state")[-1]
    assert last["instance_host"] == "cmp1"
    assert result.summary["faults"]["guests_powered_off"] == 1
    assert result.summary["faults"]["instances_left"] == {"error/None": 1}
    assert result.summary["resources"] == {"claims": 2, "releases": 1}


def test_a_guest_that_cannot_be_powered_off_stays_running_on_the_source_in_error():
    """The guest hangs: the clean-shutdown wait runs its whole 60 s (ACPI re-sent every
    10 s), then the destroy fails: InstancePowerOffFailure, vm_state ERROR, task_state
    None, migration error; no copy; the guest still runs on cmp1; the destination's
    claim goes; instance.resize.start without .end."""
    result = simulator.run(tiny(faults=[{"kind": "power_off_fail", "probability": 1.0, "host": "cmp[1-1]"}]))
    row = result.request(1)
    assert (row["status"], row["reason"], row["power_off"], row["disk_copy"]) == \
        ("error", "InstancePowerOffFailure", 60.0, 0)
    off = [r for r in events_of(result.trace, 1, "step.end") if r["name"] == "power_off"][0]
    assert (off["hard"], off["failed"], off["acpi_requests"]) == (True, True, 6)
    assert states(result)[-2:] == [("error", "resize_migrating", "error"), ("error", None, "error")]
    assert notes(result)[-2:] == ["instance.resize.start", "compute.exception"]
    assert not any(r["name"] == "copy_disks" for r in result.trace)
    last = events_of(result.trace, 1, "state")[-1]
    assert last["instance_host"] == "cmp1"
    assert result.summary["faults"]["guests_powered_off"] == 0
    assert result.summary["faults"]["struck"] == {"power_off_fail": 1}
    assert result.summary["resources"] == {"claims": 2, "releases": 1}


def test_the_guest_does_not_start_on_the_destination():
    """finish_resize fails: the old flavor back, vm_state ERROR, migration error, the
    instance on the destination; resize_finish.start without .end."""
    result = simulator.run(tiny(faults=[{"kind": "boot_fail", "probability": 1.0}]))
    row = result.request(1)
    assert (row["status"], row["reason"]) == ("error", "LibvirtError")
    assert states(result)[-1] == ("error", None, "error")
    last = events_of(result.trace, 1, "state")[-1]
    assert last["instance_host"] == "cmp2"
    assert notes(result)[-2:] == ["instance.resize_finish.start", "compute.exception"]
    # the resource audit's view: the old flavor on the destination, nothing on the source
    assert result.summary["faults"]["struck"] == {"boot_fail": 1}


def test_a_slow_conductor_makes_the_api_give_up():
    s = tiny(faults=[{"kind": "service_slow", "service": "conductor", "factor": 5000, "at": 0, "for": 600}])
    row = simulator.run(s).request(1)
    # the conductor's 0.02 s becomes 100 s: the API's call times out after 60 s
    assert (row["status"], row["reason"], row["http_status"]) == ("resized", "MessagingTimeout", 500)
    assert row["conductor"] == pytest.approx(0.001 + 100 + 0.001)
    s["faults"][0]["at"] = 50  # after the request: no effect
    assert simulator.run(s).request(1)["http_status"] == 202


def test_delayed_messages_to_a_compute_host():
    s = tiny(faults=[{"kind": "message_delay", "topic": "compute.cmp[1-2]", "extra": 2.0}])
    row = simulator.run(s).request(1)
    # prep_resize, resize_instance and finish_resize each take 2 s more in transit
    assert row["prep_resize"] == pytest.approx(2.011)
    assert row["resize_instance"] == pytest.approx(2.011)
    assert row["finish_resize"] == pytest.approx(32.011)


def test_a_lost_cast_leaves_the_request_stuck_and_the_run_ends():
    result = simulator.run(tiny(faults=[{"kind": "message_loss", "topic": "compute.cmp1", "probability": 1.0}]))
    row = result.request(1)
    # resize_instance to the source (cmp1) is lost: the instance stays in resize_prep
    assert (row["status"], row["reason"]) == ("stuck", "task_state resize_prep")
    assert result.summary["bus"]["lost"] == 1
    lost = events_of(result.trace, 1, "fault")
    assert [(r["name"], r["method"]) for r in lost] == [("message_loss", "resize_instance")]
    assert result.summary["faults"]["instances_left"] == {"active/resize_prep": 1}


def test_a_lost_call_times_out_in_its_caller():
    s = tiny(faults=[{"kind": "message_loss", "topic": "scheduler", "probability": 1.0}])
    row = simulator.run(s).request(1)
    # Kilo: the conductor retries select_destinations max_attempts times, then the
    # MessagingTimeout escapes leaving resize_prep; the API has answered 500
    assert (row["status"], row["reason"], row["http_status"]) == ("stuck", "MessagingTimeout", 500)


def test_faults_only_strike_in_their_window_and_are_validated(capsys, tmp_path):
    s = tiny(faults=[{"kind": "boot_fail", "probability": 1.0, "at": 1000, "for": 10}])
    assert simulator.run(s).request(1)["status"] == "resized"
    from simulator.commands.cli import main
    import yaml

    for fault, expected in (({"kind": "copy_fail", "probability": 2}, "faults[0].probability"),
                            ({"kind": "message_loss", "topic": "compute.cmp9", "probability": 1},
                             "unknown topic 'compute.cmp9'"),
                            ({"kind": "link_down", "at": 5}, "a link_down fault needs 'a'"),
                            ({"kind": "link_down", "a": "cmp1", "b": "cmp2", "at": 5}, "there is no link between"),
                            ({"kind": "broker_restart", "at": 5}, "a broker_restart fault needs 'for'"),
                            ({"kind": "boot_fail", "probability": 1, "rate": "2/s", "for": 1},
                             "at most once a second"),
                            ({"kind": "boot_fail", "probability": 1, "rate": "2/h", "for": 0},
                             "'for' of a recurring fault must be more than 0 s"),
                            ({"kind": "compute_crash", "at": 5}, "a compute_crash fault needs 'host'")):
        p = tmp_path / "f.yaml"
        p.write_text(yaml.safe_dump(tiny(faults=fault if isinstance(fault, list) else [fault])))
        assert main(["run", str(p), "--quiet", "--out", str(tmp_path / "o")]) == 2
        assert expected in capsys.readouterr().err


def test_a_lost_confirm_leaves_the_request_stuck_confirming():
    s = tiny(faults=[{"kind": "message_loss", "topic": "compute.cmp1", "probability": 1.0, "at": 100}])
    s["workload"][0]["confirm_after"] = 10
    result = simulator.run(s)
    row = result.request(1)
    # VERIFY_RESIZE at 224 s; the confirm_resize cast to the source (cmp1) is lost
    assert (row["status"], row["reason"]) == ("stuck", "migration confirming")
    assert row["latency"] == pytest.approx(214.00469184)
    # the instance looks settled (resized, no task); the summary names its migration
    assert result.summary["faults"]["instances_left"] == {"resized/None, migration confirming": 1}
    # a time limit far off changes nothing: nothing was left to happen, so it is stuck
    late = simulator.run(s, until=100_000)
    assert (late.request(1)["status"], late.summary["sim_time"]) == ("stuck", result.summary["sim_time"])


def test_the_fault_scenarios_end_as_their_comments_say():
    from pathlib import Path

    root = Path(__file__).resolve().parent.parent / "scenarios" / "faults"
    by = {p.stem: simulator.run(str(p)).summary for p in root.glob("*.yaml")}
    assert by["copy-fail-disk-full"]["requests"]["by_reason"] == {"ProcessExecutionError": 1}
    assert by["copy-fail-disk-full"]["faults"]["guests_powered_off"] == 1
    assert by["boot-fail"]["faults"]["instances_left"] == {"error/None": 1}
    assert by["power-off-fail"]["requests"]["by_reason"] == {"InstancePowerOffFailure": 1}
    # each lost message was a cast a move waited for: that move is stuck where it was
    lost = by["broker-restart"]["bus"]["lost"]
    assert lost > 0 and by["broker-restart"]["requests"]["by_reason"] == {"task_state resize_prep": lost}
    assert by["power-off-fail"]["faults"]["guests_powered_off"] == 0
    assert by["service-slow"]["requests"]["by_reason"] == {"MessagingTimeout": 6}
    assert by["message-loss"]["requests"]["by_status"]["stuck"] >= 1
    assert by["message-delay"]["faults"]["struck"]["message_delay"] > 0
    assert by["compute-crash"]["requests"]["by_status"]["confirmed"] == 1
    assert by["compute-crash-source"]["requests"]["by_reason"] == {"ResetOnStartup": 1}
    assert by["service-down"]["requests"]["by_status"]["stuck"] == 3
    assert by["service-down"]["faults"]["instances_left"] == {"active/resize_prep": 3}
    assert by["link-down"]["requests"]["by_status"]["resized"] == 3
    # a day of recurring crashes, conductor and broker outages: every request ends,
    # and the operator's policy leaves no instance in ERROR or mid-move
    rec = by["recurring"]
    assert sum(rec["requests"]["by_status"].values()) == 720
    assert {"compute_crash", "service_down", "broker_restart"} <= set(rec["faults"]["struck"])
    assert rec["faults"]["instances_left"] == {}
    # one hard reboot per move that left its instance in ERROR (a copy that failed
    # part-way, a source that crashed with resize_instance queued); the others
    # (MessagingTimeout, ResetOnStartup) leave it ACTIVE
    reasons = rec["requests"]["by_reason"]
    in_error = reasons.get("ProcessExecutionError", 0) + reasons.get("UnexpectedTaskStateError", 0)
    assert rec["operator"]["actions"]["hard_reboot"] == in_error > 0
    # the operator resets the 51 instances bad-day leaves in resize_prep; the audit
    # then drops the 24 destination claims their moves held
    assert by["operator"]["operator"]["actions"] == {"reset_state": 51}
    assert by["operator"]["requests"]["by_reason"]["reset-state (was resize_prep)"] == 51
    assert by["operator"]["faults"]["instances_left"] == {}
    assert by["bad-day"]["resources"]["claims"] == by["operator"]["resources"]["claims"]
    assert by["operator"]["resources"]["releases"] - by["bad-day"]["resources"]["releases"] == 24


def crash_case(**fault):
    """Three hosts: vm1 on cmp1 resizes at t=10; cmp2 is the only other host with room."""
    s = tiny(hosts=[{"name": "cmp1", "vcpus": 16, "ram_mb": 65536, "disk_gb": 1000, "nic_gbps": 1},
                    {"name": "cmp2", "vcpus": 16, "ram_mb": 65536, "disk_gb": 1000, "nic_gbps": 10},
                    {"name": "cmp3", "vcpus": 16, "ram_mb": 2048, "disk_gb": 1000, "nic_gbps": 10}],
             faults=[{"kind": "compute_crash", **fault}])
    return s


def test_a_destination_that_crashed_is_still_chosen_and_the_resize_completes_after_its_restart():
    """cmp2's nova-compute crashes at t=8, just before the resize is scheduled. Its last
    report was at 5 s, so the scheduler counts it up until 65 s: it is chosen, the
    prep_resize cast waits in its queue, and at the restart (t=300) init_host runs,
    then the queue is consumed and the resize goes on to VERIFY_RESIZE."""
    result = simulator.run(crash_case(host="cmp2", at=8, restart_after=292))
    row = result.request(1)
    assert (row["dest"], row["status"]) == ("cmp2", "resized")
    prep = [r for r in events_of(result.trace, 1, "step.start") if r["name"] == "prep_resize"][0]
    assert prep["t"] == pytest.approx(300.0, abs=0.02) and prep["wait"] > 289
    # the latency holds the wait: about 290 s more than the crash-free 214 s
    assert row["latency"] == pytest.approx(214.00469184 + (300 - 10.174), abs=0.05)
    assert row["prep_resize"] > 289


def test_a_crashed_host_counts_down_only_after_service_down_time():
    """cmp2 crashed at t=2 (before its first report at 5 s): the scheduler counts it down
    at 0 + 60 s. A resize at t=70 goes to cmp3... which has no room: NoValidHost."""
    s = crash_case(host="cmp2", at=2)
    s["workload"][0]["at"] = 70
    assert simulator.run(s).request(1)["reason"] == "NoValidHost"
    s["workload"][0]["at"] = 50  # still counted up: chosen, its cast waits for ever
    row = simulator.run(s).request(1)
    assert (row["dest"], row["status"], row["reason"]) == ("cmp2", "stuck", "task_state resize_prep")


def test_a_source_that_crashes_mid_copy_runs_the_guest_again_after_restart():
    """cmp1 (the source) crashes at t=100, during the 171.8 s copy; it restarts at t=400.
    init_host finds the instance in resize_migrating: finish_revert_migration starts the
    guest again on the source, task_state None; the migration stays migrating; the
    destination's claim goes at its next resource audit."""
    result = simulator.run(crash_case(host="cmp1", at=100, restart_after=300))
    row = result.request(1)
    assert (row["status"], row["reason"]) == ("error", "ResetOnStartup")
    last = [r for r in events_of(result.trace, 1, "state") if r["name"] == "instance.save"][-1]
    assert (last["vm_state"], last["task_state"], last["migration_status"], last["instance_host"]) == \
        ("active", None, "migrating", "cmp1")
    assert last["t"] == pytest.approx(400 + 30)  # the guest started (boot 30 s) after the restart
    audit = [r for r in events_of(result.trace, 1, "state") if r["name"] == "update_available_resource"]
    assert len(audit) == 1 and audit[0]["released"] == "cmp2" and audit[0]["t"] > 430
    assert result.summary["resources"]["claims"] - result.summary["resources"]["releases"] == 1
    assert (result.summary["faults"]["claims_healed"], result.summary["faults"]["claims_leaked"]) == (1, 0)
    flows = result.flows
    assert len(flows) == 1 and flows[0][8] == pytest.approx(100.0, abs=0.01)  # the copy stopped with the crash


def test_a_scheduler_down_for_a_while():
    s = tiny(faults=[{"kind": "service_down", "service": "scheduler", "at": 5, "for": 300}])
    row = simulator.run(s).request(1)
    # Kilo: three select_destinations calls time out (60 s each): stuck in resize_prep
    assert (row["status"], row["reason"]) == ("stuck", "MessagingTimeout")
    s["faults"][0]["for"] = 20  # back before the call times out: the move goes on
    row = simulator.run(s).request(1)
    assert row["status"] == "resized" and row["scheduler"] == pytest.approx(25.101 - 10.071, abs=0.01)


def test_a_broker_restart_loses_the_queued_messages_and_holds_the_senders():
    """The scheduler's queue holds calls when RabbitMQ restarts at t=10.5: they are lost;
    their conductors time out after 60 s and (Kilo) call again, which succeeds, while
    the API has answered 500. The reply the scheduler sent while the broker was down
    goes through once it is back (t=15.5)."""
    s = tiny(instances=[{"name": "vm[1-6]", "flavor": "small", "disk_used_gb": 1, "host": "cmp1"}],
             services={"api": {"workers": 8, "service_time": 0.01}, "conductor": {"workers": 8, "service_time": 0.01},
                       "scheduler": {"workers": 1, "service_time": 1.0}, "compute": {"workers": 8, "service_time": 0.01}},
             workload=[{"op": "migrate", "count": 6, "at": 10}],
             faults=[{"kind": "broker_restart", "at": 10.5, "for": 5}])
    result = simulator.run(s)
    by = result.summary["requests"]["by_status"]
    # one select_destinations was being handled (it finishes); five waited in the queue: lost
    assert result.summary["bus"]["lost"] == 5
    assert by["resized"] == 6 and result.summary["requests"]["by_reason"] == {"MessagingTimeout": 5}
    stop = [r for r in result.trace if r["event"] == "fault" and r["name"] == "broker_restart"]
    assert [r["phase"] for r in stop] == ["stop", "start"] and stop[0]["messages_lost"] == 5
    # the reply of the one handled call was sent during the outage: delivered after it
    cast = [r for r in events_of(result.trace, 1, "rpc.cast") if r["name"] == "prep_resize"][0]
    assert cast["t"] == pytest.approx(15.5 + 0.001, abs=1e-6)  # the held reply, then its transit


def test_the_bad_day(tmp_path):
    """100 resizes, a broker restart and a compute crash: every request ends in one
    status, the lost messages leave instances stuck in resize_prep, states.png is drawn."""
    from pathlib import Path

    path = Path(__file__).resolve().parent.parent / "scenarios" / "faults" / "bad-day.yaml"
    result = simulator.run(str(path), out=tmp_path)
    s = result.summary
    assert sum(s["requests"]["by_status"].values()) == 100 and s["requests"]["by_status"]["in_flight"] == 0
    assert s["bus"]["lost"] > 0 and s["requests"]["by_status"]["stuck"] > 0
    assert s["faults"]["struck"] == {"broker_restart": 1, "compute_crash": 1}
    stuck = sum(v for k, v in s["faults"]["instances_left"].items() if k.endswith("/resize_prep"))
    assert stuck == s["requests"]["by_reason"].get("task_state resize_prep")
    assert (tmp_path / "states.png").exists()


def link_case(**network):
    """vm1 (20 GiB) on a1 in rack r1 moves to b1 in rack r2 over 10 Gbit/s links."""
    return tiny(hosts=[{"name": "a1", "rack": "r1", "vcpus": 16, "ram_mb": 65536, "disk_gb": 1000, "nic_gbps": 10},
                       {"name": "b1", "rack": "r2", "vcpus": 16, "ram_mb": 65536, "disk_gb": 1000, "nic_gbps": 10}],
                instances=[{"name": "vm1", "flavor": "small", "disk_used_gb": 20, "host": "a1"}],
                workload=[{"op": "migrate", "instance": "vm1", "at": 0}], network=network)


def test_a_copy_stalls_while_its_only_route_is_down_then_goes_on():
    """The copy starts at 12.195 s (20 GiB at 10 Gbit/s: 17.18 s); the uplink r1-core is
    down from 15 s to 75 s: the copy stalls 60 s and ends 60 s later than without."""
    base = simulator.run(link_case()).request(1)["disk_copy"]
    s = link_case()
    s["faults"] = [{"kind": "link_down", "a": "r1", "b": "core", "at": 15, "for": 60}]
    result = simulator.run(s)
    assert result.request(1)["disk_copy"] == pytest.approx(base + 60, abs=1e-6)
    assert result.request(1)["status"] == "resized"


def test_a_copy_stalled_longer_than_the_stall_timeout_fails():
    s = link_case()
    s["copy"] = {"stall_timeout": 100}
    s["faults"] = [{"kind": "link_down", "a": "r1", "b": "core", "at": 15, "for": 600}]
    result = simulator.run(s)
    row = result.request(1)
    assert (row["status"], row["reason"]) == ("error", "ProcessExecutionError")
    start = [r for r in events_of(result.trace, 1, "step.start") if r["name"] == "copy_disks"][0]["t"]
    assert start == pytest.approx(12.195)  # the copy starts after the 12 s power-off
    assert row["disk_copy"] == pytest.approx(15 - start + 100, abs=1e-6)  # stalled at 15 s, gave up 100 s later
    assert result.summary["faults"]["guests_powered_off"] == 1


def test_another_link_coming_back_does_not_restart_a_stalled_copys_clock():
    """The copy's uplink stays down; b1's own link flaps every 30 s meanwhile. The copy
    still gives up 100 s after it stalled (it used to wait afresh at every flap)."""
    s = link_case()
    s["copy"] = {"stall_timeout": 100}
    s["faults"] = [{"kind": "link_down", "a": "r1", "b": "core", "at": 15},
                   {"kind": "link_down", "a": "b1", "b": "r2", "at": 40, "for": 10},
                   {"kind": "link_down", "a": "b1", "b": "r2", "at": 80, "for": 10}]
    row = simulator.run(s).request(1)
    assert (row["status"], row["reason"]) == ("error", "ProcessExecutionError")
    assert row["disk_copy"] == pytest.approx(15 - 12.195 + 100, abs=1e-3)


def test_a_copy_reroutes_when_another_path_exists():
    """A leaf-spine with two spines: the copy's spine link goes down, it reroutes over
    the other spine at once; it takes as long as without the fault."""
    s = link_case(leaf_spine={"spines": 2, "spine_gbps": 10})
    base = simulator.run(s)
    route = base.flows[0][11]
    spine = route.split(">")[2]
    s["faults"] = [{"kind": "link_down", "a": "r1", "b": spine, "at": 15, "for": 600}]
    result = simulator.run(s)
    assert result.request(1)["disk_copy"] == pytest.approx(base.request(1)["disk_copy"], abs=1e-6)
    assert spine not in result.flows[0][11]


def test_the_operator_resets_and_hard_reboots_on_schedule():
    """After a failed copy the guest is off and the instance in ERROR on the source: a
    reset-state --active changes only the states; a hard reboot starts the guest on
    the host the database names (the source), 30 s of boot."""
    s = tiny(faults=[{"kind": "copy_fail", "probability": 1.0, "reason": "disk_full"}],
             operator={"actions": [{"action": "hard_reboot", "instance": "vm1", "at": 300}]})
    result = simulator.run(s)
    last = [r for r in result.trace if r["event"] == "state"][-1]
    assert (last["vm_state"], last["task_state"], last["instance_host"], last["t"]) == ("active", None, "cmp1", pytest.approx(300 + 0.001 + 0.01 + 30))
    assert result.summary["faults"]["guests_powered_off"] == 0
    assert [(a[1], a[2], a[5], a[7]) for a in result.actions] == [("hard_reboot", "schedule", "error", "error")]
    s["operator"] = {"actions": [{"action": "reset_state", "instance": "vm1", "at": 300, "state": "active"}]}
    result = simulator.run(s)
    assert [(a[1], a[5], a[7], a[8]) for a in result.actions] == [("reset_state", "error", "active", None)]
    assert result.summary["faults"]["guests_powered_off"] == 1  # a reset does not start the guest
    assert result.summary["resources"] == {"claims": 2, "releases": 1}  # nor touch the claims


def test_the_operator_policy_resets_stuck_instances_and_reboots_errors():
    """A lost resize_instance cast leaves vm1 in resize_prep: the policy resets it after
    600 s (checked every 60 s); the request ends stuck, reason reset-state."""
    s = tiny(faults=[{"kind": "message_loss", "topic": "compute.cmp1", "probability": 1.0}],
             operator={"reset_stuck_after": 600, "check_every": 60})
    result = simulator.run(s)
    row = result.request(1)
    assert (row["status"], row["reason"]) == ("stuck", "reset-state (was resize_prep)")
    assert [(a[0], a[1], a[2]) for a in result.actions] == [(660.0, "reset_state", "policy")]
    assert result.summary["operator"]["actions"] == {"reset_state": 1}
    s = tiny(faults=[{"kind": "boot_fail", "probability": 1.0}],
             operator={"hard_reboot_errors": True})
    result = simulator.run(s)
    assert [a[1] for a in result.actions] == ["hard_reboot"]
    last = [r for r in result.trace if r["event"] == "state"][-1]
    assert (last["vm_state"], last["instance_host"]) == ("active", "cmp2")  # on the destination


def test_a_reset_mid_move_makes_the_moves_next_save_fail():
    """reset-state --active while resize_instance powers the guest off (a 300 s
    shutdown): the copy still runs, but the save expecting resize_migrating then fails
    (UnexpectedTaskStateError): vm_state ERROR, migration error, the instance stays on
    its source with its old flavor, the destination's claim is dropped."""
    s = tiny(guest={"shutdown": 300}, operator={"actions": [
        {"action": "reset_state", "instance": "vm1", "at": 100, "state": "active"}]})
    result = simulator.run(s)
    row = result.request(1)
    assert (row["status"], row["reason"]) == ("stuck", "reset-state (was resize_migrating)")
    fault = [r for r in result.trace if r["event"] == "instance_fault"]
    assert [(f["name"], f["service"], f["host"]) for f in fault] == [("UnexpectedTaskStateError", "nova-compute", "cmp1")]
    assert "expecting ['resize_migrating'] but the actual state is None" in fault[0]["message"]
    last = [r for r in result.trace if r["event"] == "state"][-1]
    assert (last["vm_state"], last["migration_status"], last["instance_host"]) == ("error", "error", "cmp1")
    assert not any(r["event"] == "rpc.cast" and r["name"] == "finish_resize" for r in result.trace)
    assert result.summary["resources"] == {"claims": 2, "releases": 1}


def reset_at_verify_resize(release: str, **extra):
    """vm1 reaches VERIFY_RESIZE on cmp2 at 224 s; the operator resets it to active at
    300 s, before any confirm (none is scheduled)."""
    s = tiny(nova={"release": release, **extra}, operator={"actions": [
        {"action": "reset_state", "instance": "vm1", "at": 300, "state": "active"}]})
    return simulator.run(s)


def test_a_reset_resized_instance_gives_the_source_claim_back_at_the_audit_in_kilo():
    """Kilo's audit counts a migration only while its instance is RESIZED or in a
    resize task state: after the reset the source's old-flavor claim is dropped; the
    instance keeps its new flavor on the destination; the migration stays finished."""
    result = reset_at_verify_resize("kilo")
    audit = [r for r in result.trace if r["name"] == "update_available_resource"]
    assert [(a["t"], a["host"], a["released"], a["vm_state"], a["migration_status"], a["instance_host"])
            for a in audit] == [(300.0, "cmp1", "cmp1", "active", "finished", "cmp2")]
    assert result.summary["resources"] == {"claims": 2, "releases": 1}
    assert (result.summary["faults"]["claims_healed"], result.summary["faults"]["claims_leaked"]) == (1, 0)


def test_a_reset_resized_instance_leaks_the_source_allocation_in_modern_nova():
    """Placement's allocations are not the audit's to heal: the migration still holds
    the old flavor on the source, a leak (nova-manage placement audit finds it)."""
    result = reset_at_verify_resize("modern")
    assert not [r for r in result.trace if r["name"] == "update_available_resource"]
    assert result.summary["resources"]["releases"] == 0
    assert (result.summary["faults"]["claims_healed"], result.summary["faults"]["claims_leaked"]) == (0, 1)


def test_the_auto_confirm_errors_out_the_migration_of_a_reset_instance():
    """_poll_unconfirmed_resizes (due from 324 s) finds the migration finished but the
    instance active: "In states active/None, not RESIZED/None": the migration goes to
    error, no confirm. (A second resize at 500 s keeps the run going past the poll.)"""
    s = tiny(nova={"resize_confirm_window": 100}, operator={"actions": [
        {"action": "reset_state", "instance": "vm1", "at": 300, "state": "active"}]})
    s["workload"].append({"op": "resize", "flavor": "small", "instance": "vm1", "at": 500})
    result = simulator.run(s)
    saves = [(r["vm_state"], r["task_state"], r["migration_status"])
             for r in events_of(result.trace, 1, "state") if r["name"] == "instance.save"]
    assert saves[-1] == ("active", None, "error")
    poll = [r for r in events_of(result.trace, 1, "step.start") if r["name"] == "_poll_unconfirmed_resizes"]
    assert len(poll) == 1 and 324 <= poll[0]["t"] < 384
    assert not any(r["event"] == "rpc.cast" and r["name"] == "confirm_resize" for r in result.trace)


def test_in_modern_nova_a_move_restored_on_its_source_leaks_the_destination_allocation():
    """init_host restores the guest on cmp1 as in Kilo, but no audit drops placement's
    allocation for the instance on cmp2: it is leaked, not healed."""
    s = crash_case(host="cmp1", at=100, restart_after=300)
    s["nova"] = {"release": "modern"}
    result = simulator.run(s)
    assert result.request(1)["reason"] == "ResetOnStartup"
    assert not [r for r in result.trace if r["name"] == "update_available_resource"]
    assert (result.summary["faults"]["claims_leaked"], result.summary["faults"]["claims_healed"]) == (1, 0)
    assert result.summary["resources"]["claims"] - result.summary["resources"]["releases"] == 2


def test_a_down_compute_runs_no_auto_confirm_until_it_is_back():
    """resize_confirm_window 60 s: the auto-confirm would run on cmp2 (the destination)
    within two minutes of VERIFY_RESIZE (224 s), but cmp2's nova-compute is down from
    230 s to 1230 s: the confirm comes at its first periodic run after the restart."""
    s = tiny(nova={"resize_confirm_window": 60},
             faults=[{"kind": "compute_crash", "host": "cmp2", "at": 230, "restart_after": 1000}])
    result = simulator.run(s)
    poll = [r["t"] for r in events_of(result.trace, 1, "step.start") if r["name"] == "_poll_unconfirmed_resizes"]
    assert len(poll) == 1 and 1230 < poll[0] <= 1230 + 60
    assert result.request(1)["status"] == "confirmed"


def test_modern_nova_refuses_a_confirm_while_the_source_is_down_and_the_auto_confirm_retries():
    """cmp1 (the source) is down from 230 s; the user's confirm comes 100 s after
    VERIFY_RESIZE, once cmp1 is seen down (after 285 s): 409 ServiceUnavailable. The
    auto-confirm (window 60 s) is put off until cmp1 is back (830 s) and reports."""
    s = tiny(nova={"release": "modern", "resize_confirm_window": 60},
             faults=[{"kind": "compute_crash", "host": "cmp1", "at": 230, "restart_after": 600}])
    s["workload"][0]["confirm_after"] = 100
    result = simulator.run(s)
    answers = [(r["name"], r["status"], r.get("error")) for r in events_of(result.trace, 1, "http.response")]
    assert ("confirm_resize", 409, "ServiceUnavailable") in answers
    poll = [r["t"] for r in events_of(result.trace, 1, "step.start") if r["name"] == "_poll_unconfirmed_resizes"]
    assert len(poll) == 1 and 835 <= poll[0] <= 830 + 5 + 60
    assert result.request(1)["status"] == "confirmed"


def test_init_host_clearing_resize_prep_lets_the_audit_drop_the_destination_claim():
    """cmp1 (the source) crashes at 5 s (resize at 10 s); cmp2 claims at about 10.2 s
    and casts resize_instance to cmp1, where it waits; the broker restart at 20 s loses
    it. At cmp1's restart (105 s) init_host clears resize_prep; cmp2's next audit then
    drops the claim (Kilo): healed, not leaked."""
    s = tiny(faults=[{"kind": "compute_crash", "host": "cmp1", "at": 5, "restart_after": 100},
                     {"kind": "broker_restart", "at": 20, "for": 5}])
    result = simulator.run(s)
    audit = [r for r in result.trace if r["name"] == "update_available_resource"]
    assert len(audit) == 1 and audit[0]["released"] == "cmp2" and 105 < audit[0]["t"] <= 165
    assert (result.summary["faults"]["claims_healed"], result.summary["faults"]["claims_leaked"]) == (1, 0)
    assert result.summary["resources"] == {"claims": 2, "releases": 1}


def test_slowed_handlers_delayed_messages_and_lost_handlers_are_in_the_trace():
    s = tiny(faults=[{"kind": "service_slow", "service": "scheduler", "factor": 4},
                     {"kind": "message_delay", "topic": "compute.cmp2", "extra": 3, "at": 0, "for": 100},
                     {"kind": "compute_crash", "host": "cmp1", "at": 100, "restart_after": 10}])
    result = simulator.run(s)
    faults = [(r["name"], r.get("phase"), r.get("operation") or r.get("method"), r.get("service"))
              for r in result.trace if r["event"] == "fault"]
    assert ("service_slow", "start", None, "faults") in faults and ("message_delay", "end", None, "faults") in faults
    assert ("service_slow", None, "select_destinations", "nova-scheduler") in faults
    assert ("message_delay", None, "prep_resize", "broker") in faults
    # cmp1 crashes during resize_instance's copy: that handler is lost
    assert ("handler_lost", None, "resize_instance", "nova-compute") in faults
    assert result.summary["faults"]["handlers_lost"] == 1
    slow = [r for r in result.trace if r["event"] == "fault" and r["name"] == "service_slow" and "seconds" in r][0]
    assert slow["seconds"] == pytest.approx(0.4)  # 0.1 s × 4


def test_a_fault_with_no_time_holds_the_whole_run():
    """A compute_crash with neither at nor restart_after: cmp2's nova-compute is down
    from the start; the prep_resize cast waits for ever."""
    row = simulator.run(tiny(faults=[{"kind": "compute_crash", "host": "cmp2"}])).request(1)
    assert (row["status"], row["reason"]) == ("stuck", "task_state resize_prep")


def test_a_link_that_does_not_exist_is_named_with_its_line(tmp_path, capsys):
    import re

    import yaml

    from simulator.commands.cli import main

    p = tmp_path / "f.yaml"
    p.write_text(yaml.safe_dump(tiny(faults=[{"kind": "link_down", "a": "cmp1", "b": "cmp2", "at": 5}])))
    assert main(["run", str(p), "--quiet", "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert re.search(r"f\.yaml:\d+: faults\[0\]: there is no link between 'cmp1' and 'cmp2'", err), err
    assert err.count("\n") == 1


def test_a_timed_out_api_call_keeps_its_reason_whatever_the_move_becomes():
    """The conductor takes 100 s (0.02 s × 5000): nova-api gives up at 60 s (HTTP 500);
    the conductor carries on and the copy then fails. The request takes the status its
    instance reached (error) with reason MessagingTimeout; the copy's error is in the
    trace."""
    s = tiny(faults=[{"kind": "service_slow", "service": "conductor", "factor": 5000},
                     {"kind": "copy_fail", "probability": 1.0}])
    result = simulator.run(s)
    row = result.request(1)
    assert (row["status"], row["reason"], row["http_status"]) == ("error", "MessagingTimeout", 500)
    assert [r["name"] for r in events_of(result.trace, 1, "instance_fault")] == ["ProcessExecutionError"]


def test_a_modern_auto_confirm_in_the_seconds_before_the_restarted_source_reports_retries():
    """cmp1 (the source) crashes at 250 s and restarts at 335 s; its first report comes
    at 340 s. The auto-confirm runs at 337 s, sees the source down, and (as modern Nova
    retries each minute) runs again a minute later and confirms."""
    s = tiny(nova={"release": "modern", "resize_confirm_window": 60},
             faults=[{"kind": "compute_crash", "host": "cmp1", "at": 250, "restart_after": 85}])
    result = simulator.run(s)
    assert result.request(1)["status"] == "confirmed"
    poll = [r["t"] for r in events_of(result.trace, 1, "step.start") if r["name"] == "_poll_unconfirmed_resizes"]
    assert poll == [pytest.approx(397.0)]


def test_a_sender_blocks_while_the_broker_is_down():
    """RabbitMQ is down from 10.1 s to 40.1 s. The scheduler replies at 10.172 s: its
    retries hold it (and its one worker) until the broker is back, then the reply goes;
    the conductor casts prep_resize at once and the resize carries on."""
    result = simulator.run(tiny(faults=[{"kind": "broker_restart", "at": 10.1, "for": 30}]))
    sched = [r for r in events_of(result.trace, 1) if r["service"] == "nova-scheduler"]
    assert [(r["event"], r["t"]) for r in sched] == [
        ("step.start", pytest.approx(10.072)), ("notification", pytest.approx(10.072)),
        ("notification", pytest.approx(10.172)), ("rpc.reply", pytest.approx(10.172)),
        ("step.end", pytest.approx(40.1))]
    cast = [r for r in events_of(result.trace, 1, "rpc.cast") if r["name"] == "prep_resize"][0]
    assert cast["t"] == pytest.approx(40.101)
    assert result.request(1)["status"] == "resized"
