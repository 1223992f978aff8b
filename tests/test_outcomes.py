"""How requests end when they do not simply succeed, each as Kilo ends it
(reference sections 5, 6 and 10)."""
from __future__ import annotations

import pytest

import simulator
from tests.conftest import events_of, tiny


def states(result, req):
    return [(r["vm_state"], r["task_state"], r["migration_status"]) for r in events_of(result.trace, req, "state")]


def notes(result, req):
    return [r["name"] for r in events_of(result.trace, req, "notification")]


def test_a_busy_instance_is_refused_with_409_and_nothing_changes():
    s = tiny(workload=[{"op": "resize", "flavor": "medium", "instance": "vm1", "at": 10},
                       {"op": "migrate", "instance": "vm1", "at": 10.01}])
    result = simulator.run(s)
    row = result.request(2)
    assert (row["status"], row["reason"], row["http_status"]) == ("rejected", "InstanceInvalidState", 409)
    assert states(result, 2) == [] and notes(result, 2) == []
    assert events_of(result.trace, 2, "rpc.call", "rpc.cast") == []
    assert result.request(1)["status"] == "resized"


def test_resize_to_the_same_flavor_is_refused_with_400():
    result = simulator.run(tiny(workload=[{"op": "resize", "flavor": "small", "instance": "vm1"}]))
    row = result.request(1)
    assert (row["status"], row["reason"], row["http_status"]) == ("rejected", "CannotResizeToSameFlavor", 400)


def test_no_valid_host():
    """No other host has room: the scheduler sends .start but not .end; the conductor
    sets task_state None (vm_state unchanged), records a fault and notifies
    compute_task.migrate_server.error; the API answers 400 (Kilo's call)."""
    s = tiny(flavors={"small": {"vcpus": 1, "ram_mb": 2048, "root_gb": 20},
                      "huge": {"vcpus": 8, "ram_mb": 200000, "root_gb": 20}},
             workload=[{"op": "resize", "flavor": "huge", "instance": "vm1", "at": 10}])
    result = simulator.run(s)
    row = result.request(1)
    assert (row["status"], row["reason"], row["http_status"], row["dest"]) == ("error", "NoValidHost", 400, None)
    assert states(result, 1) == [("active", "resize_prep", None), ("active", None, None)]
    assert notes(result, 1) == ["scheduler.select_destinations.start", "compute_task.migrate_server.error"]
    faults = events_of(result.trace, 1, "instance_fault")
    assert [f["name"] for f in faults] == ["NoValidHost"]
    assert result.summary["resources"]["claims"] == 1  # only the initial placement


def test_source_is_ignored_unless_same_host_resize_is_allowed():
    one_host = [{"name": "cmp1", "vcpus": 16, "ram_mb": 65536, "disk_gb": 1000, "nic_gbps": 1}]
    result = simulator.run(tiny(hosts=one_host))
    assert result.request(1)["reason"] == "NoValidHost"
    result = simulator.run(tiny(hosts=one_host, nova={"allow_resize_to_same_host": True}))
    assert result.request(1)["dest"] == "cmp1"
    # a migrate needs allow_migrate_to_same_host as well (Kilo's API.resize)
    migrate = [{"op": "migrate", "instance": "vm1"}]
    result = simulator.run(tiny(hosts=one_host, workload=migrate, nova={"allow_resize_to_same_host": True}))
    assert result.request(1)["reason"] == "NoValidHost"
    result = simulator.run(tiny(hosts=one_host, workload=migrate,
                                nova={"allow_resize_to_same_host": True, "allow_migrate_to_same_host": True}))
    assert result.request(1)["dest"] == "cmp1"


def test_same_host_resize_holds_both_flavors_until_confirm():
    one_host = [{"name": "cmp1", "vcpus": 16, "ram_mb": 65536, "disk_gb": 1000, "nic_gbps": 1}]
    s = tiny(hosts=one_host, nova={"allow_resize_to_same_host": True})
    result = simulator.run(s)  # unconfirmed
    assert result.request(1)["status"] == "resized"
    s["workload"][0]["confirm_after"] = 500
    from models.build import Sinks, build
    from models.scenario import load_scenario
    from simulator.engine.environment import Environment
    from simulator.engine.random_streams import RandomStreams

    cloud = build(load_scenario(s), Environment(), RandomStreams(1), Sinks.in_memory())
    cloud.start()
    cloud.env.run(until=100)  # mid-move: resized, both flavors held
    assert cloud.hosts.used_ram_mb[0] == 2048 + 4096
    cloud.env.run(until=cloud.book.done)
    assert cloud.hosts.used_ram_mb[0] == 4096 and cloud.book.requests[0].status == "confirmed"


def test_migrate_to_a_named_host_is_still_checked_by_the_scheduler():
    s = tiny(hosts=[{"name": "cmp[1-3]", "vcpus": 16, "ram_mb": 65536, "disk_gb": 1000, "nic_gbps": 10}],
             workload=[{"op": "migrate", "instance": "vm1", "host": "cmp3"}])
    assert simulator.run(s).request(1)["dest"] == "cmp3"  # the weigher alone would take cmp2
    s["workload"][0]["host"] = "cmp1"  # its own host: ignored, so no valid host
    assert simulator.run(s).request(1)["reason"] == "NoValidHost"


def test_resize_down_of_the_root_disk_is_refused_by_the_driver():
    """ResizeError raised after migrating / resize_migrating / resize.start: the guest
    is untouched, vm_state back to active, task_state None, migration error."""
    s = tiny(flavors={"small": {"vcpus": 1, "ram_mb": 2048, "root_gb": 10},
                      "medium": {"vcpus": 2, "ram_mb": 4096, "root_gb": 40}},
             instances=[{"name": "vm1", "flavor": "medium", "disk_used_gb": 5, "host": "cmp1"}],
             workload=[{"op": "resize", "flavor": "small", "instance": "vm1"}])
    result = simulator.run(s)
    row = result.request(1)
    assert (row["status"], row["reason"], row["power_off"], row["disk_copy"]) == ("error", "ResizeError", 0, 0)
    assert states(result, 1)[-3:] == [("active", "resize_migrating", "migrating"),
                                       ("active", None, "migrating"), ("active", None, "error")]
    assert notes(result, 1)[-2:] == ["instance.resize.start", "compute.exception"]
    assert result.summary["resources"] == {"claims": 2, "releases": 1}


def test_api_gives_up_after_rpc_response_timeout_while_the_conductor_carries_on():
    s = tiny()
    s["services"]["conductor"]["service_time"] = 70
    result = simulator.run(s)
    row = result.request(1)
    assert (row["status"], row["reason"], row["http_status"]) == ("resized", "MessagingTimeout", 500)
    response = events_of(result.trace, 1, "http.response")[0]
    assert response["t"] == pytest.approx(10.05 + 60)
    assert result.summary["bus"]["replies_dropped"] == 1


def test_scheduler_timeouts_leave_the_instance_stuck_in_resize_prep():
    """Kilo's scheduler client retries a timed-out select_destinations max_attempts - 1
    more times, then the timeout escapes without resetting the task state."""
    s = tiny()
    s["services"]["scheduler"]["service_time"] = 61
    result = simulator.run(s)
    row = result.request(1)
    assert (row["status"], row["reason"], row["http_status"]) == ("stuck", "MessagingTimeout", 500)
    assert states(result, 1) == [("active", "resize_prep", None)]
    calls = [r for r in events_of(result.trace, 1, "rpc.call") if r["name"] == "select_destinations"]
    assert len(calls) == 3
    assert row["finished"] == pytest.approx(10.05 + 0.021 + 180)
    # the scheduler carried on and replied to the calls that had given up
    assert result.summary["bus"]["replies_dropped"] >= 2


def race_scenario(**nova):
    """Two resizes at once, two scheduler workers, one host (cmp2) preferred by the
    RAM weigher with room for only one new flavor; cmp3 has room for one too."""
    return tiny(
        nova=nova,
        services={"api": {"workers": 2, "service_time": 0.05},
                  "conductor": {"workers": 2, "service_time": 0.02},
                  "scheduler": {"workers": 2, "service_time": 0.1},
                  "compute": {"workers": 4, "service_time": 0.01}},
        hosts=[{"name": "cmp1", "vcpus": 16, "ram_mb": 65536, "disk_gb": 1000},
               {"name": "cmp2", "vcpus": 16, "ram_mb": 4096, "disk_gb": 1000},
               {"name": "cmp3", "vcpus": 16, "ram_mb": 3584, "disk_gb": 1000}],
        instances=[{"name": "vm[1-2]", "flavor": "small", "disk_used_gb": 20, "host": "cmp1"}],
        workload=[{"op": "resize", "flavor": "medium", "instance": "vm1", "at": 10},
                  {"op": "resize", "flavor": "medium", "instance": "vm2", "at": 10}])


def test_two_schedulers_race_for_the_last_host_and_the_loser_reschedules():
    result = simulator.run(race_scenario())
    r1, r2 = result.request(1), result.request(2)
    assert (r1["dest"], r1["attempts"], r1["status"]) == ("cmp2", 1, "resized")
    assert (r2["dest"], r2["attempts"], r2["status"]) == ("cmp3", 2, "resized")
    preps = [(r["host"], r["attempt"]) for r in events_of(result.trace, 2, "step.start") if r["name"] == "prep_resize"]
    assert preps == [("cmp2", 1), ("cmp3", 2)]
    # the first destination calls the conductor, which schedules again with RetryFilter
    calls = [(r["host"], r["name"]) for r in events_of(result.trace, 2, "rpc.call")]
    assert calls == [("controller", "migrate_server"), ("controller", "select_destinations"),
                     ("cmp2", "migrate_server"), ("controller", "select_destinations")]
    # notifications on the first destination around the reschedule (reference section 4)
    on_cmp2 = [r["name"] for r in events_of(result.trace, 2, "notification") if r["host"] == "cmp2"]
    assert on_cmp2 == ["instance.exists", "instance.resize_prep.start", "instance.resize.error",
                       "instance.resize_prep.end"]
    sel = [s for s in result.summary["requests"]["by_reason"]]
    assert sel == []
    assert result.summary["requests"]["attempts"] == 3


def test_a_failed_claim_without_retries_ends_in_error():
    """max_attempts 1: no retry bookkeeping, so the claim's failure is re-raised:
    vm_state error, the claim's fault recorded (@wrap_instance_fault), the task state
    cleared (@reverts_task_state), compute.exception (@wrap_exception)."""
    result = simulator.run(race_scenario(max_attempts=1))
    r2 = result.request(2)
    assert (r2["status"], r2["reason"], r2["attempts"]) == ("error", "ComputeResourcesUnavailable", 1)
    assert states(result, 2)[-2:] == [("error", "resize_prep", None), ("error", None, None)]
    assert notes(result, 2)[-2:] == ["instance.resize_prep.end", "compute.exception"]
    assert [f["name"] for f in events_of(result.trace, 2, "instance_fault")] == ["ComputeResourcesUnavailable"]


def test_a_reschedule_that_finds_no_host_ends_in_error():
    s = race_scenario()
    s["hosts"][2]["ram_mb"] = 2048  # cmp3 too small: the second attempt finds no host
    result = simulator.run(s)
    r2 = result.request(2)
    assert (r2["status"], r2["reason"], r2["attempts"]) == ("error", "NoValidHost", 2)
    assert states(result, 2)[-2:] == [("active", None, None), ("error", None, None)]
    assert notes(result, 2)[-5:] == ["scheduler.select_destinations.start", "compute_task.migrate_server.error",
                                     "instance.resize.error", "instance.resize_prep.end", "compute.exception"]
    # the conductor's fault, the reschedule's, then the claim's: the last one users see
    assert [f["name"] for f in events_of(result.trace, 2, "instance_fault")] == \
        ["NoValidHost", "NoValidHost", "ComputeResourcesUnavailable"]
