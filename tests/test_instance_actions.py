"""Instance actions and their events (``openstack server event list``), named and
timed as Nova records them (reference section 13), on every path of a move."""
from __future__ import annotations

import csv
import re

import pytest

import simulator
from tests.conftest import events_of, tiny

MODERN = {"release": "modern"}


def actions(result, request=None):
    return [(a.action, a.result) for a in result.instance_actions if request in (None, a.request)]


def events(result, request, *fields):
    fields = fields or ("event", "host", "start", "finish", "result")
    return [tuple(getattr(e, f) for f in fields) for e in result.instance_action_events if e.request == request]


def test_a_kilo_resize_records_its_action_and_events_at_the_handlers_ends():
    # the API's worker: 10 → 10.05 (action_start); the conductor 10.051 → 10.173
    # (scheduler 10.072 → 10.172, its reply 1 ms); prep_resize 10.174 → 10.184;
    # resize_instance from 10.185; finish_resize 1 ms after its cast
    result = simulator.run(tiny())
    (act,) = result.instance_actions
    assert (act.request, act.instance, act.action, act.start, act.result) == (1, "vm1", "resize", 10.05, "Success")
    assert re.fullmatch(r"req-[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}", act.request_id)
    got = events(result, 1)
    assert [e[0] for e in got] == ["cold_migrate", "compute_prep_resize", "compute_resize_instance",
                                   "compute_finish_resize"]
    assert got[0] == ("cold_migrate", None, 10.051, 10.173, "Success")  # Kilo records no host
    assert got[1] == ("compute_prep_resize", None, 10.174, 10.184, "Success")
    assert got[2][2] == 10.185
    cast = [r for r in events_of(result.trace, 1, "rpc.cast") if r["name"] == "finish_resize"][0]
    assert got[2][3] == pytest.approx(cast["t"]) and got[3][2] == pytest.approx(cast["t"] + 0.001)
    assert got[3][3] == pytest.approx(result.request(1)["finished"])
    assert act.finish == got[3][3]  # updated_at: the last event's finish
    assert {e.request_id for e in result.instance_action_events} == {act.request_id}


def test_modern_adds_conductor_migrate_server_around_cold_migrate_and_records_hosts():
    result = simulator.run(tiny(nova=MODERN))
    got = events(result, 1, "event", "host")
    assert got == [("conductor_migrate_server", "controller"), ("cold_migrate", "controller"),
                   ("compute_prep_resize", "cmp2"), ("compute_resize_instance", "cmp1"),
                   ("compute_finish_resize", "cmp2")]
    times = events(result, 1, "start", "finish")
    assert times[0] == times[1]  # both wrap the same handler


def test_a_migrate_is_a_migrate_action():
    result = simulator.run(tiny(workload=[{"op": "migrate", "instance": "vm1", "at": 10}]))
    assert actions(result) == [("migrate", "Success")]


def test_confirm_and_revert_are_actions_of_their_own_with_new_request_ids():
    confirm = simulator.run(tiny(workload=[{"op": "resize", "flavor": "medium", "instance": "vm1", "at": 10,
                                            "confirm_after": 5}]))
    assert actions(confirm) == [("resize", "Success"), ("confirmResize", "Success")]
    assert [e[:2] for e in events(confirm, 1, "action", "event")][-1] == ("confirmResize", "compute_confirm_resize")
    assert len({a.request_id for a in confirm.instance_actions}) == 2
    revert = simulator.run(tiny(workload=[{"op": "resize", "flavor": "medium", "instance": "vm1", "at": 10,
                                           "revert_after": 5}]))
    assert actions(revert) == [("resize", "Success"), ("revertResize", "Success")]
    assert [e for e in events(revert, 1, "action", "event") if e[0] == "revertResize"] == [
        ("revertResize", "compute_revert_resize"), ("revertResize", "compute_finish_revert_resize")]


def test_auto_confirm_records_confirm_resize_under_the_periodic_run_s_context():
    # two moves to the same destination confirmed by one run of its periodic task:
    # one admin context, so one request_id for both confirmResize actions
    sc = tiny(nova={"resize_confirm_window": 1, "periodic_fuzzy_delay": 0},
              instances=[{"name": f"vm{i}", "flavor": "small", "disk_used_gb": 1, "host": "cmp1"} for i in (1, 2)],
              workload=[{"op": "resize", "flavor": "medium", "instance": f"vm{i}", "at": 10} for i in (1, 2)])
    result = simulator.run(sc)
    confirms = [a for a in result.instance_actions if a.action == "confirmResize"]
    finished = max(result.request(r)["finished"] for r in (1, 2))
    assert 60 < finished + 1 <= 120  # both due at the run at 120 s (0.01 s of its time for each)
    assert [(a.request, a.start) for a in confirms] == [(1, 120.01), (2, 120.02)]
    assert confirms[0].request_id == confirms[1].request_id
    assert [a.result for a in confirms] == ["Success", "Success"]


def test_a_reschedule_adds_rows_whose_finish_goes_to_the_first_of_their_name():
    # fidelity race: request 2's first claim fails on cmp02 and it is rescheduled to
    # cmp03. Nova's action_event_finish updates the first event of a name: the first
    # cold_migrate and compute_prep_resize take the last finishes, the second ones none
    result = simulator.run("scenarios/fidelity/race.yaml")
    got = events(result, 2, "event", "finish", "result")
    names = [e[0] for e in got]
    assert names == ["cold_migrate", "compute_prep_resize", "cold_migrate", "compute_prep_resize",
                     "compute_resize_instance", "compute_finish_resize"]
    assert got[2][1:] == (None, None) and got[3][1:] == (None, None)
    assert got[0][2] == got[1][2] == "Success"  # the claim's failure was handled
    preps = [r["t"] for r in events_of(result.trace, 2, "step.end") if r["name"] == "prep_resize"]
    conds = [r["t"] for r in events_of(result.trace, 2, "step.end") if r["name"] == "migrate_server"]
    assert got[1][1] == pytest.approx(max(preps)) and got[0][1] == pytest.approx(max(conds))
    assert actions(result, 2) == [("resize", "Success")]


def test_no_valid_host_ends_the_conductor_events_in_error():
    result = simulator.run("scenarios/fidelity/no-valid-host.yaml")
    assert events(result, 1, "event", "result") == [("cold_migrate", "Error")]
    assert actions(result, 1) == [("resize", "Error")]
    modern = simulator.run(tiny(nova=MODERN, hosts=[{"name": "cmp1", "vcpus": 16, "ram_mb": 65536, "disk_gb": 1000}],
                                instances=[{"name": "vm1", "flavor": "small", "disk_used_gb": 1}]))
    assert events(modern, 1, "event", "result") == [("conductor_migrate_server", "Error"), ("cold_migrate", "Error")]


def test_a_failure_on_a_compute_ends_its_event_in_error():
    result = simulator.run(tiny(faults=[{"kind": "boot_fail", "probability": 1.0}]))
    assert events(result, 1, "event", "result")[-1] == ("compute_finish_resize", "Error")
    assert actions(result) == [("resize", "Error")]


def test_a_refused_request_records_no_action():
    result = simulator.run(tiny(workload=[{"op": "resize", "flavor": "small", "instance": "vm1", "at": 10}]))
    assert result.request(1)["status"] == "rejected" and result.instance_actions == []


def test_a_lost_handler_leaves_its_event_open():
    # the source crashes mid-copy: compute_resize_instance never finishes
    result = simulator.run(tiny(faults=[{"kind": "compute_crash", "host": "cmp1", "at": 30}]))
    last = events(result, 1, "event", "finish", "result")[-1]
    assert last == ("compute_resize_instance", None, None)
    assert actions(result) == [("resize", None)]


def test_the_tables_are_written_and_the_operator_s_file_is_renamed(tmp_path):
    out = tmp_path / "o"
    (tmp_path / "o").mkdir()
    simulator.run(tiny(), out=out, plots=False)
    (out / "actions.csv").write_text("an older run's operator actions\n")  # as an older version wrote
    simulator.run(tiny(), out=out, plots=False)
    assert not (out / "actions.csv").exists() and (out / "operator_actions.csv").exists()
    with open(out / "instance_actions.csv") as f:
        rows = list(csv.DictReader(f))
    assert list(rows[0]) == ["request", "instance", "action", "request_id", "start", "finish", "result"]
    with open(out / "instance_action_events.csv") as f:
        ev = list(csv.DictReader(f))
    assert list(ev[0]) == ["request", "request_id", "action", "event", "host", "start", "finish", "result"]
    assert [e["event"] for e in ev] == ["cold_migrate", "compute_prep_resize", "compute_resize_instance",
                                        "compute_finish_resize"]
    assert ev[0]["host"] == "" and rows[0]["result"] == "Success"


def test_a_modern_reschedule_records_the_conductor_s_events_again(monkeypatch):
    from models.hosts import HostTable
    real = HostTable.shortfall

    def refuse_cmp2(self, host, flavor, tests):  # the destination's claim fails on cmp2
        return "injected failure" if self.names[host] == "cmp2" and not tests else real(self, host, flavor, tests)

    monkeypatch.setattr(HostTable, "shortfall", refuse_cmp2)
    result = simulator.run(tiny(nova=MODERN, hosts=[
        {"name": "cmp1", "vcpus": 16, "ram_mb": 65536, "disk_gb": 1000, "nic_gbps": 1},
        {"name": "cmp2", "vcpus": 16, "ram_mb": 65536, "disk_gb": 1000, "nic_gbps": 10},
        {"name": "cmp3", "vcpus": 16, "ram_mb": 32768, "disk_gb": 1000, "nic_gbps": 10}]))
    got = events(result, 1, "event", "host", "result")
    assert got == [("conductor_migrate_server", "controller", "Success"), ("cold_migrate", "controller", "Success"),
                   ("compute_prep_resize", "cmp2", "Success"),
                   ("conductor_migrate_server", "controller", None), ("cold_migrate", "controller", None),
                   ("compute_prep_resize", "cmp3", None),
                   ("compute_resize_instance", "cmp1", "Success"), ("compute_finish_resize", "cmp3", "Success")]
