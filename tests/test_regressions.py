"""Cases found in review, kept so they stay fixed."""
from __future__ import annotations

import copy
from pathlib import Path

import pytest

import simulator
from models.hosts import HostTable
from simulator.engine.environment import Environment
from simulator.commands.cli import main
from tests.conftest import events_of, tiny

ROOT = Path(__file__).resolve().parent.parent


def test_a_late_prep_resize_after_the_request_ended_errors_out_in_resize_instance():
    """The destination's reschedule call times out (the request ends in ERROR) while
    the conductor carries on and casts prep_resize to another host: the source's
    resize_instance then finds task_state None instead of resize_prep, and Nova's
    expected-task-state check errors the instance out (reference section 10). The
    request keeps its first final status; the late claim is released."""
    s = copy.deepcopy(simulator.run(str(ROOT / "scenarios/fidelity/race.yaml")).summary["scenario"])
    s["nova"]["rpc_response_timeout"] = 0.15   # the reschedule's select_destinations takes 0.1 + transit
    s["services"]["conductor"]["service_time"] = 0.1
    result = simulator.run(s)
    r2 = result.request(2)
    assert (r2["status"], r2["reason"]) == ("error", "MessagingTimeout")
    faults = [f["name"] for f in events_of(result.trace, 2, "instance_fault")]
    assert "UnexpectedTaskStateError" in faults
    last = events_of(result.trace, 2, "state")[-1]
    assert (last["vm_state"], last["migration_status"]) == ("error", "error")
    h = result.summary["resources"]
    # two instances placed, one claim kept (request 1's destination); the late claim freed
    assert h["claims"] - h["releases"] == 3


def test_modern_scheduler_timeout_leaves_no_allocation():
    # (modern's select_destinations waits long_rpc_timeout, heartbeats permitting)
    s = tiny(nova={"release": "modern", "rpc_response_timeout": 5, "long_rpc_timeout": 8},
             flavors={"small": {"vcpus": 1, "ram_mb": 2048, "root_gb": 20},
                      "medium": {"vcpus": 2, "ram_mb": 4096, "root_gb": 40}})
    s["services"]["scheduler"]["service_time"] = 10
    from models.build import Sinks, build
    from models.scenario import load_scenario
    from simulator.engine.random_streams import RandomStreams

    cloud = build(load_scenario(s), Environment(), RandomStreams(1), Sinks.in_memory())
    cloud.start()
    cloud.env.run(until=100)
    assert cloud.book.requests[0].status == "error"
    assert list(cloud.hosts.used_ram_mb) == [2048, 0]


def test_modern_failed_claim_takes_the_next_alternate(monkeypatch):
    """Modern Nova: a claim that fails on the destination gives its allocation back
    and the conductor takes the next alternate, claiming it, with no new scheduling."""
    real = HostTable.shortfall

    def refuse_cmp2(self, host, flavor, tests):
        return "injected failure" if self.names[host] == "cmp2" and not tests else real(self, host, flavor, tests)

    monkeypatch.setattr(HostTable, "shortfall", refuse_cmp2)
    s = tiny(nova={"release": "modern"},
             hosts=[{"name": "cmp1", "vcpus": 16, "ram_mb": 65536, "disk_gb": 1000, "nic_gbps": 1},
                    {"name": "cmp2", "vcpus": 16, "ram_mb": 65536, "disk_gb": 1000, "nic_gbps": 10},
                    {"name": "cmp3", "vcpus": 16, "ram_mb": 32768, "disk_gb": 1000, "nic_gbps": 10}])
    result = simulator.run(s)
    row = result.request(1)
    assert (row["status"], row["dest"], row["attempts"]) == ("resized", "cmp3", 2)
    selects = [r for r in events_of(result.trace, 1, "step.start") if r["name"] == "select_destinations"]
    assert len(selects) == 1  # the alternate needed no scheduling
    assert result.summary["resources"] == {"claims": 3, "releases": 1}  # place, cmp2, cmp3; cmp2 given back


def test_flow_ids_are_unique():
    result = simulator.run(str(ROOT / "scenarios/default.yaml"))
    ids = [f[0] for f in result.flows]
    assert len(ids) == len(set(ids)) and sorted(ids) == list(range(1, len(ids) + 1))


def test_events_on_the_first_destination_carry_its_attempt():
    result = simulator.run(str(ROOT / "scenarios/fidelity/race.yaml"))
    on_cmp02 = [r for r in events_of(result.trace, 2) if r["host"] == "cmp02" and r["event"] != "rpc.call"]
    assert {r["attempt"] for r in on_cmp02} == {1}
    api = [r for r in events_of(result.trace, 2) if r["service"] == "nova-api" and "attempt" in r]
    assert {r["attempt"] for r in api} == {1}


@pytest.mark.parametrize("edit, expected", [
    (lambda s: s["hosts"][0].update(nic_gbps=float("inf")), "hosts[0].nic_gbps"),
    (lambda s: s.update(network={"switches": ["sw"], "links": [{"a": "cmp1", "b": "sw"},
                                                                {"a": "cmp2", "b": "sw", "gbps": 10}]}),
     "network.links[0].gbps: the link of host cmp1 needs a capacity"),
    (lambda s: s["hosts"][0].update(rack="cmp2"), "hosts[0].rack: rack 'cmp2' has the name of a host"),
    (lambda s: s["hosts"][0].update(rack="core"), "hosts[0].rack: rack 'core' has the name of a host or of a switch"),
])
def test_more_bad_inputs_get_one_clear_error(tmp_path, capsys, edit, expected):
    import yaml

    s = tiny()
    edit(s)
    path = tmp_path / "s.yaml"
    path.write_text(yaml.safe_dump(s))
    assert main(["run", str(path), "--quiet", "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert expected in err and "Traceback" not in err
    assert not (tmp_path / "o").exists()


def test_an_out_directory_that_cannot_be_written(tmp_path, capsys):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    assert main(["run", str(ROOT / "scenarios/single-resize.yaml"), "--quiet", "--out", str(blocker)]) == 2
    assert "--out: cannot write results there" in capsys.readouterr().err


def test_a_down_host_is_never_chosen():
    s = tiny(hosts=[{"name": "cmp1", "vcpus": 16, "ram_mb": 65536, "disk_gb": 1000},
                    {"name": "cmp2", "vcpus": 16, "ram_mb": 65536, "disk_gb": 1000, "up": False}])
    assert simulator.run(s).request(1)["reason"] == "NoValidHost"


def test_the_disk_claim_counts_root_and_ephemeral_not_swap():
    from models.objects import Flavor

    h = HostTable(["a"], [None], [8], [65536], [100], [10.0], cpu_allocation_ratio=16, ram_allocation_ratio=1.5,
                  disk_allocation_ratio=1.0, reserved_host_memory_mb=0, reserved_host_disk_mb=0)
    h.used_disk_gb[0] = 60
    assert h.shortfall(0, Flavor("f", 1, 512, 40, swap_mb=4096), ("disk",)) is None
    assert h.shortfall(0, Flavor("g", 1, 512, 41), ("disk",)) is not None
