"""The shipped fidelity scenarios (scenarios/fidelity/), each asserting Nova's
outcome: states, migration statuses, notifications, resources and answers."""
from __future__ import annotations

from pathlib import Path

import pytest

import simulator
from tests.conftest import events_of, tiny

FID = Path(__file__).resolve().parent.parent / "scenarios" / "fidelity"


def run(name, **kw):
    return simulator.run(str(FID / f"{name}.yaml"), **kw)


def states(result, req):
    return [(r["vm_state"], r["task_state"], r["migration_status"]) for r in events_of(result.trace, req, "state")]


def notes(result, req, host=None):
    return [r["name"] for r in events_of(result.trace, req, "notification") if host in (None, r["host"])]


def test_race_two_workers_pick_the_same_last_host_and_one_reschedules():
    result = run("race")
    r1, r2 = result.request(1), result.request(2)
    assert (r1["dest"], r1["attempts"], r1["status"]) == ("cmp02", 1, "resized")
    assert (r2["dest"], r2["attempts"], r2["status"]) == ("cmp03", 2, "resized")
    # both schedulers chose cmp02 on attempt 1: scheduling.csv shows it
    # columns: request, attempt, worker, t, filter, hosts_in, hosts_out, weigher, host, weight
    chosen = [(row[0], row[1], row[8]) for row in result.scheduling if row[7] == "total"]
    assert chosen == [(1, 1, "cmp02"), (2, 1, "cmp02"), (2, 2, "cmp03")]
    retry = [row for row in result.scheduling if row[0] == 2 and row[1] == 2 and row[4] == "RetryFilter"][0]
    assert retry[5:7] == (2, 1)  # cmp01 is ignored; RetryFilter drops cmp02
    # the trace shows both attempts, each event carrying its attempt
    preps = [(r["host"], r["attempt"]) for r in events_of(result.trace, 2, "step.start") if r["name"] == "prep_resize"]
    assert preps == [("cmp02", 1), ("cmp03", 2)]
    assert result.summary["requests"]["reschedules"] == 1
    assert result.summary["requests"]["attempts"] == 3


def test_exhausted_attempts_end_in_error():
    result = run("exhausted-attempts")
    rows = sorted(result.rows, key=lambda r: (r["status"], r["request"]))
    assert [(r["status"], r["attempts"], r["reason"]) for r in rows] == [
        ("error", 2, "MaxRetriesExceeded"), ("resized", 1, None), ("resized", 2, None)]
    err = [r for r in result.rows if r["status"] == "error"][0]["request"]
    # conductor: task state cleared, compute_task.migrate_server.error; then the last
    # destination: resize.error (the conductor's error), resize_prep.end, vm error,
    # the claim's fault, compute.exception
    assert states(result, err)[-2:] == [("active", None, None), ("error", None, None)]
    # (Kilo's legacy names: the conductor's error, and the exception named for its method)
    assert notes(result, err)[-4:] == ["compute_task.migrate_server", "compute.instance.resize.error",
                                       "compute.instance.resize.prep.end", "prep_resize"]
    faults = [f["name"] for f in events_of(result.trace, err, "instance_fault")]
    assert faults[-3:] == ["MaxRetriesExceeded", "MaxRetriesExceeded", "ComputeResourcesUnavailable"]
    assert result.summary["requests"]["by_reason"] == {"MaxRetriesExceeded": 1}


def test_no_valid_host():
    result = run("no-valid-host")
    row = result.request(1)
    assert (row["status"], row["reason"], row["http_status"], row["attempts"]) == ("error", "NoValidHost", 400, 1)
    assert states(result, 1) == [("active", "resize_prep", None), ("active", None, None)]
    assert notes(result, 1) == ["scheduler.select_destinations.start", "compute_task.migrate_server"]
    verdicts = [(row[4], row[5], row[6]) for row in result.scheduling]
    assert ("RamFilter", 1, 0) in verdicts and verdicts[-1] == ("NoValidHost", 0, 0)


def test_over_quota_is_refused_at_the_api_and_never_enters_the_pipeline():
    result = run("over-quota")
    r1, r2 = result.request(1), result.request(2)
    assert r1["status"] == "resized"
    assert (r2["status"], r2["reason"], r2["http_status"]) == ("rejected", "TooManyInstances", 403)
    assert states(result, 2) == [] and events_of(result.trace, 2, "rpc.call", "rpc.cast") == []
    assert events_of(result.trace, 2, "http.response")[0]["error"] == "TooManyInstances"


def test_revert_moves_everything_back():
    result = run("revert")
    r1 = result.request(1)
    assert (r1["status"], r1["flavor_new"]) == ("reverted", "m1.medium")
    assert states(result, 1)[-5:] == [
        ("resized", "resize_reverting", "finished"),      # API: task state first,
        ("resized", "resize_reverting", "reverting"),     # then the migration
        ("resized", "resize_reverting", "reverted"),      # dest cleaned (r2)
        ("resized", "resize_reverting", "reverted"),      # instance.host back (r3)
        ("active", None, "reverted")]                     # reverted (r3)
    dest, source = r1["dest"], r1["source"]
    assert notes(result, 1, host=dest)[-1] == "compute.instance.exists"
    assert notes(result, 1, host=source)[-2:] == ["compute.instance.resize.revert.start",
                                                  "compute.instance.resize.revert.end"]
    hosts = [r["instance_host"] for r in events_of(result.trace, 1, "state")]
    assert hosts[-1] == source
    released = [r["released"] for r in events_of(result.trace, 1, "state") if r.get("released")]
    assert released == [dest]  # revert frees the destination
    # the API, a hop, revert_resize, a hop, finish_revert_resize, the domain's start; and
    # the object calls through the conductor (5 ms a save, 3 ms a read, 2 ms a round
    # trip): revert_resize 5 saves + 2 reads, finish_revert_resize 5 + 1, then 3 saves
    objects = (5 * 0.005 + 2 * 0.003 + 0.002) + (5 * 0.005 + 0.003 + 0.002) + (3 * 0.005 + 0.002)
    assert r1["revert"] == pytest.approx(0.05 + 0.001 + 0.01 + 0.001 + 0.01 + 1 + objects)
    # the second request flipped its coin at VERIFY_RESIZE (seed 4: confirm)
    assert result.request(2)["status"] in ("confirmed", "reverted")


def test_the_coin_decides_between_confirm_and_revert():
    s = tiny(instances=[{"name": "vm[1-40]", "flavor": "small", "disk_used_gb": 1}],
             hosts=[{"name": "cmp[1-8]", "vcpus": 64, "ram_mb": 262144, "disk_gb": 5000}],
             workload=[{"op": "resize", "flavor": "medium", "count": 40,
                        "arrival": {"process": "periodic", "interval": 1}, "confirm_after": 5, "revert": 0.25}])
    by = simulator.run(s).summary["requests"]["by_status"]
    assert by["confirmed"] + by["reverted"] == 40 and 3 <= by["reverted"] <= 20


def test_auto_confirm_runs_in_the_destination_and_refuses_a_late_user_confirm():
    result = run("auto-confirm")
    for row in result.rows:
        assert row["status"] == "confirmed"
        confirming = [r for r in events_of(result.trace, row["request"], "state")
                      if r["migration_status"] == "confirming"][0]
        assert (confirming["service"], confirming["host"]) == ("nova-compute", row["dest"])
        finished = [r for r in events_of(result.trace, row["request"], "state")
                    if r["migration_status"] == "finished"][0]
        assert 300 <= confirming["t"] - finished["t"] <= 360 + 0.1
    late = [r for r in result.trace if r["event"] == "http.response" and r["name"] == "confirm_resize"]
    assert [(r["request"], r["status"]) for r in late] == [(5, 409), (6, 409)]


def test_modern_race_claims_in_placement_and_never_reschedules():
    result = run("modern-race")
    r1, r2 = result.request(1), result.request(2)
    assert (r1["dest"], r1["attempts"]) == ("cmp02", 1)
    assert (r2["dest"], r2["attempts"]) == ("cmp03", 1)
    # the API answered at once (a cast), before the scheduler ran
    resp = events_of(result.trace, 1, "http.response")[0]
    sched = [r for r in events_of(result.trace, 1, "step.start") if r["name"] == "select_destinations"][0]
    assert resp["t"] < sched["t"] and resp["status"] == 202
    kinds = {r["name"]: r["event"] for r in events_of(result.trace, 1, "rpc.call", "rpc.cast")}
    assert kinds["migrate_server"] == "rpc.cast"
    # the conductor created the Migration before scheduling
    first = states(result, 1)[:2]
    assert first == [("active", "resize_prep", None), ("active", "resize_prep", "pre-migrating")]
    creator = events_of(result.trace, 1, "state")[1]
    assert creator["service"] == "nova-conductor"


def test_modern_no_valid_host_errors_the_migration():
    s = tiny(nova={"release": "modern"}, hosts=[{"name": "cmp1", "vcpus": 16, "ram_mb": 65536, "disk_gb": 1000}])
    result = simulator.run(s)
    row = result.request(1)
    assert (row["status"], row["reason"], row["http_status"]) == ("error", "NoValidHost", 202)
    assert states(result, 1)[-1] == ("active", None, "error")


def test_modern_cold_migration_never_stays_on_its_host():
    one = [{"name": "cmp1", "vcpus": 16, "ram_mb": 65536, "disk_gb": 1000}]
    both = {"allow_resize_to_same_host": True, "allow_migrate_to_same_host": True}
    migrate = [{"op": "migrate", "instance": "vm1"}]
    assert simulator.run(tiny(hosts=one, workload=migrate, nova=both)).request(1)["dest"] == "cmp1"
    modern = simulator.run(tiny(hosts=one, workload=migrate, nova={**both, "release": "modern"})).request(1)
    assert modern["reason"] == "NoValidHost"


def test_modern_defaults_follow_the_release():
    s = simulator.run(tiny(nova={"release": "modern"})).summary["scenario"]["nova"]
    assert (s["cpu_allocation_ratio"], s["ram_allocation_ratio"]) == (4.0, 1.0)
    assert "RamFilter" not in s["scheduler_default_filters"]
    s = simulator.run(tiny(nova={"release": "modern", "ram_allocation_ratio": 2.0})).summary["scenario"]["nova"]
    assert s["ram_allocation_ratio"] == 2.0


def test_availability_zones_and_server_groups_hold_at_placement_and_on_moves():
    s = tiny(
        hosts=[{"name": "a[1-3]", "availability_zone": "az-a", "vcpus": 16, "ram_mb": 65536, "disk_gb": 1000},
               {"name": "b[1-3]", "availability_zone": "az-b", "vcpus": 16, "ram_mb": 65536, "disk_gb": 1000}],
        server_groups={"web": {"policy": "anti-affinity", "members": ["web[1-3]"]}},
        instances=[{"name": "web[1-3]", "flavor": "small", "disk_used_gb": 1, "availability_zone": "az-a"}],
        workload=[{"op": "migrate", "instance": "web1", "at": 1}])
    result = simulator.run(s)
    row = result.request(1)
    # web1..3 were spread over a1..a3; web1 cannot go to b* (zone) nor to its peers' hosts
    assert row["source"] == "a1" and row["reason"] == "NoValidHost"
    verdicts = {r[4]: (r[5], r[6]) for r in result.scheduling if r[0] == 1 and r[4]}
    assert verdicts["AvailabilityZoneFilter"] == (5, 2) and verdicts["ServerGroupAntiAffinityFilter"] == (2, 0)


def test_disabled_hosts_take_nothing():
    s = tiny(hosts=[{"name": "cmp1", "vcpus": 16, "ram_mb": 65536, "disk_gb": 1000},
                    {"name": "cmp2", "vcpus": 16, "ram_mb": 65536, "disk_gb": 1000, "enabled": False},
                    {"name": "cmp3", "vcpus": 16, "ram_mb": 1024, "disk_gb": 1000}])
    assert simulator.run(s).request(1)["reason"] == "NoValidHost"


def test_core_and_disk_filters_make_the_claim_test_vcpus_and_disk():
    """With CoreFilter enabled, two schedulers racing for the last vCPUs: the claim
    (not the filter) refuses the second, as for RAM."""
    s = simulator.run(str(FID / "race.yaml")).summary["scenario"]
    s["nova"]["scheduler_default_filters"] = ["RetryFilter", "CoreFilter", "ComputeFilter"]
    s["nova"]["cpu_allocation_ratio"] = 1.0
    s["hosts"] = [{"name": "cmp01", "vcpus": 16, "ram_mb": 65536, "disk_gb": 1000},
                  {"name": "cmp02", "vcpus": 2, "ram_mb": 65536, "disk_gb": 1000},
                  {"name": "cmp03", "vcpus": 2, "ram_mb": 32768, "disk_gb": 1000}]
    result = simulator.run(s)
    assert [(r["dest"], r["attempts"]) for r in result.rows] == [("cmp02", 1), ("cmp03", 2)]
    fault = [f for f in result.trace if f["event"] == "instance_fault"][0]
    assert fault["name"] == "ComputeResourcesUnavailable" and "Free CPUs" in fault["message"]
