"""Behaviour that differs between Kilo and modern Nova beyond the pipeline's shape
(reference sections 1, 5, 8, 9, 10): long calls with heartbeats, the API's check of
the source's service, counted quotas, the rollback's vm_state, the ssh mkdir's
ResizeError."""
from __future__ import annotations

import pytest
import yaml

import simulator
from simulator.commands.cli import main
from tests.conftest import events_of, tiny

MODERN = {"release": "modern"}


def scheduler(seconds: float, workers: int = 1) -> dict:
    return {"api": {"workers": 1, "service_time": 0.05}, "conductor": {"workers": 4, "service_time": 0.02},
            "scheduler": {"workers": workers, "service_time": seconds},
            "compute": {"workers": 4, "service_time": 0.01}}


def reasons(result):
    return [(r["status"], r["reason"]) for r in result.rows]


def test_a_90_s_scheduler_times_out_in_kilo_but_not_in_modern_nova():
    # modern: select_destinations waits long_rpc_timeout (1800 s) while the scheduler
    # heartbeats every 30 s; Kilo's call gives up after 60 s, three times, and the
    # instance is left in resize_prep
    modern = simulator.run(tiny(nova=MODERN, services=scheduler(90.0)))
    row = modern.request(1)
    assert (row["status"], row["reason"]) == ("resized", None)
    assert row["scheduler"] == pytest.approx(90.0 + 0.001, abs=1e-6)  # the hop there and its work
    kilo = simulator.run(tiny(services=scheduler(90.0)))
    assert reasons(kilo) == [("stuck", "MessagingTimeout")]


def test_a_modern_call_queued_past_the_monitor_gets_no_heartbeat_and_fails():
    # one scheduler worker, 25 s per decision, three moves at 10 s. The first
    # heartbeat comes 30 s after a worker takes the call, and the caller waits 60 s
    # from its send for it: a call must be taken within 30 s. The second waits ~25 s
    # (fine), the third ~50 s: its conductor gives up 60 s after sending
    sc = tiny(nova=MODERN, services=scheduler(25.0),
              hosts=[{"name": f"cmp{i}", "vcpus": 16, "ram_mb": 65536, "disk_gb": 1000} for i in (1, 2, 3)],
              instances=[{"name": f"vm{i}", "flavor": "small", "disk_used_gb": 1, "host": "cmp1"} for i in (1, 2, 3)],
              workload=[{"op": "resize", "flavor": "medium", "instance": f"vm{i}", "at": 10} for i in (1, 2, 3)])
    result = simulator.run(sc)
    assert reasons(result) == [("resized", None), ("resized", None), ("error", "MessagingTimeout")]
    third = result.request(3)
    sent = [r for r in events_of(result.trace, 3, "rpc.call") if r["name"] == "select_destinations"][0]
    fault = events_of(result.trace, 3, "instance_fault")[0]
    assert fault["name"] == "MessagingTimeout" and "no heartbeat in 60 s" in fault["message"]
    assert fault["t"] == pytest.approx(sent["t"] + 60.0)
    assert third["http_status"] == 202  # modern's API had answered at once


def test_long_rpc_timeout_bounds_a_call_that_heartbeats():
    result = simulator.run(tiny(nova={"release": "modern", "long_rpc_timeout": 300}, services=scheduler(400.0)))
    fault = events_of(result.trace, 1, "instance_fault")[0]
    assert reasons(result) == [("error", "MessagingTimeout")]
    assert "(select_destinations, 300 s)" in fault["message"]


def test_long_rpc_timeout_is_refused_for_kilo(tmp_path, capsys):
    f = tmp_path / "k.yaml"
    f.write_text(yaml.safe_dump(tiny(nova={"long_rpc_timeout": 300})))
    assert main(["run", str(f), "--out", str(tmp_path / "o"), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert "long_rpc_timeout is an option of modern Nova" in err and "k.yaml" in err


def test_modern_refuses_a_resize_whose_source_compute_is_down():
    hosts = [{"name": "cmp1", "vcpus": 16, "ram_mb": 65536, "disk_gb": 1000, "up": False},
             {"name": "cmp2", "vcpus": 16, "ram_mb": 65536, "disk_gb": 1000}]
    modern = simulator.run(tiny(nova=MODERN, hosts=hosts))
    row = modern.request(1)
    assert (row["status"], row["reason"], row["http_status"]) == ("rejected", "ServiceUnavailable", 409)
    assert events_of(modern.trace, 1, "rpc.cast", "rpc.call") == []  # nothing was sent
    kilo = simulator.run(tiny(hosts=hosts))
    assert kilo.request(1)["http_status"] == 202  # Kilo does not look


def _quota_cloud(**over) -> dict:
    base = dict(projects={"demo": {"quota": {"cores": 4}}},
                instances=[{"name": f"vm{i}", "flavor": "small", "disk_used_gb": 1, "host": "cmp1",
                            "project": "demo"} for i in (1, 2, 3)],
                workload=[{"op": "resize", "flavor": "medium", "instance": "vm1", "at": 10},
                          {"op": "resize", "flavor": "medium", "instance": "vm2", "at": 11}])
    base.update(over)
    return tiny(**base)


def test_kilo_reserves_an_upsize_so_a_second_one_in_flight_is_refused():
    # 3 cores used, 1 reserved for vm1 at 10 s: vm2's +1 at 11 s would make 5 > 4
    result = simulator.run(_quota_cloud())
    assert reasons(result) == [("resized", None), ("rejected", "TooManyInstances")]
    assert result.request(2)["http_status"] == 403


def test_modern_counts_the_flavors_so_two_upsizes_in_flight_both_pass():
    # check_deltas counts the instances' flavors: vm1 is still small at 11 s (its
    # finish_resize is to come), so 3 + 1 <= 4 again; both end over quota (5 cores)
    result = simulator.run(_quota_cloud(nova=MODERN))
    assert reasons(result) == [("resized", None), ("resized", None)]


def test_modern_refuses_an_upsize_once_the_first_has_its_flavor():
    result = simulator.run(_quota_cloud(nova=MODERN, workload=[
        {"op": "resize", "flavor": "medium", "instance": "vm1", "at": 10},
        {"op": "resize", "flavor": "medium", "instance": "vm2", "at": 200}]))
    assert reasons(result) == [("resized", None), ("rejected", "TooManyInstances")]


def test_modern_rechecks_the_way_back_when_a_downsize_is_reverted():
    # 3 cores allowed: vm1 (medium, 2) + vm2 (small, 1). vm1 downsizes (never checked),
    # vm2 upsizes into the freed core once vm1 is small; vm1's revert would need it back
    # (3 + 1 > 3): refused with 500, vm1 stays resized
    sc = tiny(nova=MODERN, projects={"demo": {"quota": {"cores": 3}}},
              flavors={"small": {"vcpus": 1, "ram_mb": 2048, "root_gb": 20},
                       "medium": {"vcpus": 2, "ram_mb": 4096, "root_gb": 20}},
              instances=[{"name": "vm1", "flavor": "medium", "disk_used_gb": 1, "host": "cmp1", "project": "demo"},
                         {"name": "vm2", "flavor": "small", "disk_used_gb": 1, "host": "cmp1", "project": "demo"}],
              workload=[{"op": "resize", "flavor": "small", "instance": "vm1", "at": 10,
                         "revert_after": 300},
                        {"op": "resize", "flavor": "medium", "instance": "vm2", "at": 100}])
    result = simulator.run(sc)
    assert reasons(result) == [("resized", None), ("resized", None)]
    answers = [(r["name"], r["status"], r["error"]) for r in events_of(result.trace, 1, "http.response")]
    assert answers[-1] == ("revert_resize", 500, "TooManyInstances")
    # Kilo commits a downsize only at its confirm: vm1 still counts 2 cores, so
    # vm2's upsize is refused, and vm1's revert has nothing to check
    kilo = simulator.run(dict(sc, nova={}))
    assert [(r["status"], r["reason"]) for r in kilo.rows] == [("reverted", None), ("rejected", "TooManyInstances")]


@pytest.mark.parametrize("release, expected", [("kilo", "active"), ("modern", "stopped")])
def test_a_rollback_before_power_off_restores_active_in_kilo_and_the_old_state_in_modern(release, expected):
    sc = tiny(nova={"release": release},
              instances=[{"name": "vm1", "flavor": "small", "disk_used_gb": 20, "host": "cmp1",
                          "vm_state": "stopped"}],
              faults=[{"kind": "copy_fail", "probability": 1.0, "reason": "host_key_verification"}])
    result = simulator.run(sc)
    row = result.request(1)
    assert (row["status"], row["reason"]) == ("error", "ResizeError")
    last = events_of(result.trace, 1, "state")[-1]
    assert (last["vm_state"], last["task_state"], last["migration_status"]) == (expected, None, "error")
    fault = events_of(result.trace, 1, "instance_fault")[0]
    assert fault["message"] == "Resize error: not able to execute ssh command: Host key verification failed."


LEGACY_RESIZE = ["scheduler.select_destinations.start", "scheduler.select_destinations.end",
                 "compute.instance.exists", "compute.instance.resize.prep.start", "compute.instance.resize.prep.end",
                 "compute.instance.resize.start", "compute.instance.resize.end",
                 "compute.instance.finish_resize.start", "compute.instance.finish_resize.end"]


@pytest.mark.parametrize("release", ["kilo", "modern"])
def test_both_releases_default_to_legacy_notifications(release):
    sc = tiny(nova={"release": release})
    del sc["nova"]["notification_format"]  # tiny asks for versioned names
    result = simulator.run(sc)
    notes = events_of(result.trace, 1, "notification")
    assert [r["name"] for r in notes] == LEGACY_RESIZE
    assert {r["format"] for r in notes} == {"unversioned"}


def test_both_formats_send_each_legacy_notification_then_its_versioned_one():
    result = simulator.run(tiny(nova={"notification_format": "both"}))
    got = [(r["format"], r["name"]) for r in events_of(result.trace, 1, "notification")][:6]
    assert got == [("unversioned", "scheduler.select_destinations.start"),
                   ("versioned", "scheduler.select_destinations.start"),
                   ("unversioned", "scheduler.select_destinations.end"),
                   ("versioned", "scheduler.select_destinations.end"),
                   ("unversioned", "compute.instance.exists"), ("versioned", "instance.exists")]


def test_a_legacy_exception_notification_is_named_for_the_method_it_escaped():
    sc = tiny(nova={"notification_format": "unversioned"},
              faults=[{"kind": "boot_fail", "probability": 1.0}])
    result = simulator.run(sc)
    notes = [r["name"] for r in events_of(result.trace, 1, "notification")]
    assert notes[-2:] == ["compute.instance.finish_resize.start", "finish_resize"]
