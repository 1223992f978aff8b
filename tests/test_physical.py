"""The physical models in a whole run: power-off, what is copied, links and disks
shared max-min, storage, routes, the copy-concurrency scenario."""
from __future__ import annotations

from pathlib import Path

import pytest

import simulator
from models.network import build_graph
from plots.copy_concurrency import copy_times_by_concurrency
from models.scenario import load_scenario
from tests.conftest import GIB, events_of, tiny

ROOT = Path(__file__).resolve().parent.parent
MIB = 2 ** 20


def step_end(result, req, name):
    return [r for r in events_of(result.trace, req, "step.end") if r["name"] == name][0]


def test_a_guest_that_ignores_acpi_is_destroyed_at_shutdown_timeout():
    result = simulator.run(tiny(guest={"shutdown": 12, "boot": 30, "ignore_acpi": 1.0}))
    end = step_end(result, 1, "power_off")
    # ACPI requests at 0, 10, 20, ... 50 s: six, then the destroy at 60 s
    assert (end["seconds"], end["hard"], end["acpi_requests"]) == (60.0, True, 6)
    assert result.request(1)["power_off"] == 60.0


def test_an_already_stopped_instance_skips_power_off_and_stays_stopped():
    s = tiny(instances=[{"name": "vm1", "flavor": "small", "disk_used_gb": 20, "host": "cmp1", "vm_state": "stopped"}])
    s["workload"][0]["confirm_after"] = 10
    result = simulator.run(s)
    row = result.request(1)
    assert row["power_off"] == 0 and row["status"] == "confirmed"
    start = [r for r in events_of(result.trace, 1, "step.start") if r["name"] == "finish_migration"][0]
    assert start["power_on"] is False and step_end(result, 1, "finish_migration")["seconds"] == 0
    states = [(r["vm_state"], r["task_state"]) for r in events_of(result.trace, 1, "state")]
    assert states[0] == ("stopped", "resize_prep") and states[-1] == ("stopped", None)
    # latency: the hand-computed sum without the 12 s power-off and the 30 s boot
    assert row["latency"] == pytest.approx(214.00469184 - 12 - 30)


def test_disks_are_copied_one_after_another_in_the_domains_order():
    """Kilo: the root (no backing file) is copied as it is; the qcow2 ephemeral and swap
    are overlays on a blank base, so each is first flattened by ``qemu-img convert``
    (500 MiB/s, copy.local_mibps) and then copied; the config drive is copied."""
    s = tiny(flavors={"small": {"vcpus": 1, "ram_mb": 2048, "root_gb": 20, "ephemeral_gb": 10, "swap_mb": 1024},
                      "medium": {"vcpus": 2, "ram_mb": 4096, "root_gb": 40, "ephemeral_gb": 10, "swap_mb": 1024}},
             instances=[{"name": "vm1", "flavor": "small", "disk_used_gb": 4, "ephemeral_used_gb": 2,
                         "config_drive_mb": 64, "host": "cmp1"}])
    result = simulator.run(s)
    flows = result.flows
    assert [(f[3], f[10]) for f in flows] == [
        ("disk", "rsync -z"), ("disk.local", "qemu-img"), ("disk.local", "rsync -z"),
        ("disk.swap", "qemu-img"), ("disk.swap", "rsync -z"), ("disk.config", "rsync -z")]
    assert [f[6] for f in flows] == [4 * GIB, 2 * GIB, 2 * GIB, 1024 * MIB, 1024 * MIB, 64 * MIB]
    for a, b in zip(flows, flows[1:]):
        assert b[7] == pytest.approx(a[8])  # each starts when the previous ends
    network = (4 * GIB + 2 * GIB + 1024 * MIB + 64 * MIB) * 8 / 1e9  # the 1 Gbit/s NIC
    converts = (2048 + 1024) / 500
    assert result.request(1)["disk_copy"] == pytest.approx(network + converts)
    assert flows[0][11] == "cmp1>core>cmp2" and flows[1][11] == "local"


def test_swap_is_not_copied_when_the_new_flavor_changes_its_size():
    s = tiny(flavors={"small": {"vcpus": 1, "ram_mb": 2048, "root_gb": 20, "swap_mb": 1024},
                      "medium": {"vcpus": 2, "ram_mb": 4096, "root_gb": 40, "swap_mb": 2048}})
    assert [f[3] for f in simulator.run(s).flows] == ["disk"]


def test_hosts_sharing_storage_copy_with_a_local_cp_through_it():
    """On shared storage the source copies each disk with ``cp`` into the new
    directory on the same storage: nothing crosses the network; the cp is bound by
    copy.local_mibps (500 MiB/s), or by the pool's throughput, which it reads and
    writes (each byte twice)."""
    s = tiny()
    for h in s["hosts"]:
        h["storage"] = "nfs"
    result = simulator.run(s)
    assert result.request(1)["disk_copy"] == pytest.approx(20 * 1024 / 500)
    [flow] = result.flows
    assert (flow[3], flow[4], flow[5], flow[6], flow[10], flow[11]) == ("disk", "cmp1", "cmp1", 20 * GIB, "cp", "local")
    assert result.summary["network"]["links"] == {}
    s["storage_pools"] = {"nfs": {"mibps": 200}}
    result = simulator.run(s)
    assert result.request(1)["disk_copy"] == pytest.approx(20 * 1024 / 100)
    assert result.summary["network"]["links"]["pool.nfs"]["peak_utilisation"] == pytest.approx(1.0)


def test_nothing_is_copied_on_rbd():
    """``images_type = rbd``: the disks are Ceph volumes, not files; nothing is copied."""
    s = tiny()
    for h in s["hosts"]:
        h["storage"] = "rbd"
    result = simulator.run(s)
    assert result.request(1)["disk_copy"] == 0 and result.flows == []


def test_two_copies_from_one_host_share_its_nic():
    """Two instances on cmp1 (1 Gbit/s) migrate at once to cmp2 and cmp3 (10 Gbit/s):
    cmp1's NIC carries both, each at 0.5 Gbit/s: twice the 20 GiB alone time. With
    network.model none each copy runs as if alone."""
    s = tiny(hosts=[{"name": "cmp1", "vcpus": 16, "ram_mb": 65536, "disk_gb": 1000, "nic_gbps": 1},
                    {"name": "cmp[2-3]", "vcpus": 16, "ram_mb": 65536, "disk_gb": 1000, "nic_gbps": 10}],
             services={"api": {"workers": 2, "service_time": 0}, "conductor": {"workers": 2, "service_time": 0},
                       "scheduler": {"workers": 2, "service_time": 0}, "compute": {"workers": 4, "service_time": 0}},
             instances=[{"name": "vm[1-2]", "flavor": "small", "disk_used_gb": 20, "host": "cmp1"}],
             workload=[{"op": "migrate", "instance": "vm1", "host": "cmp2"},
                       {"op": "migrate", "instance": "vm2", "host": "cmp3"}])
    alone = 20 * GIB * 8 / 1e9
    rows = simulator.run(s).rows
    assert [r["disk_copy"] for r in rows] == [pytest.approx(2 * alone)] * 2
    s["network"] = {"model": "none"}
    assert [r["disk_copy"] for r in simulator.run(s).rows] == [pytest.approx(alone)] * 2


def test_disk_throughput_stream_cap_and_compression_bound_a_copy():
    s = tiny()
    s["hosts"][0]["disk_read_mibps"] = 50  # slower than the 1 Gbit/s NIC (119 MiB/s)
    assert simulator.run(s).request(1)["disk_copy"] == pytest.approx(20 * 1024 / 50)
    s = tiny(copy={"transport": "scp", "stream_mibps": "100 MiB/s"})
    s["hosts"][0]["nic_gbps"] = 10
    row = simulator.run(s)
    assert row.request(1)["disk_copy"] == pytest.approx(20 * 1024 / 100)
    assert row.flows[0][10] == "scp"
    # compression 2: half the bytes on the wire; the disk reads all of them
    s = tiny(copy={"compression": 2, "cipher_mibps": None, "compress_mibps": None})
    assert simulator.run(s).request(1)["disk_copy"] == pytest.approx(20 * GIB * 8 / 1e9 / 2)


def test_routes_leaf_spine_and_ecmp():
    scenario = {"hosts": [{"name": "a[1-4]", "rack": "r1", "vcpus": 8, "ram_mb": 8192, "disk_gb": 100},
                          {"name": "b[1-4]", "rack": "r2", "vcpus": 8, "ram_mb": 8192, "disk_gb": 100}],
                "flavors": {"f": {"vcpus": 1, "ram_mb": 512, "root_gb": 1}},
                "network": {"leaf_spine": {"spines": 4, "oversubscription": 2}}}
    loaded = load_scenario(scenario)
    g = build_graph(loaded.hosts, loaded.model.network)
    # 4 × 10 Gbit/s of hosts per leaf, 2:1 over 4 spines: 5 Gbit/s per leaf-spine link
    assert g.edges["r1", "spine1"]["bytes_per_s"] == pytest.approx(5e9 / 8)
    from simulator.engine.bandwidth import BandwidthModel
    from simulator.engine.topology import Topology
    import simpy

    topo = Topology(g, BandwidthModel(simpy.Environment()))
    assert len(topo.paths("a1", "b1")) == 4
    spines = {topo.route("a1", "b1", f"flow{i}").nodes[2] for i in range(40)}
    assert spines == {"spine1", "spine2", "spine3", "spine4"}
    assert topo.route("a1", "b1", "x") == topo.route("a1", "b1", "x")  # deterministic
    assert topo.route("a1", "a2", "x").nodes == ("a1", "r1", "a2")


def test_general_links_and_a_host_with_no_route(tmp_path, capsys):
    from simulator.commands.cli import main

    s = tiny(network={"switches": ["sw"],
                      "links": [{"a": "cmp1", "b": "sw", "gbps": "1 Gbit/s", "latency": 0.5},
                                {"a": "sw", "b": "cmp2", "gbps": 10}]})
    row = simulator.run(s).request(1)
    assert row["disk_copy"] == pytest.approx(20 * GIB * 8 / 1e9 + 0.5)  # the route's latency, paid once
    path = tmp_path / "s.yaml"
    import yaml

    s["network"]["links"] = s["network"]["links"][:1]
    path.write_text(yaml.safe_dump(s))
    assert main(["run", str(path), "--quiet", "--out", str(tmp_path / "o")]) == 2
    assert "network: no route between cmp1 and host(s) cmp2" in capsys.readouterr().err
    assert not (tmp_path / "o").exists()


def test_copy_time_grows_with_concurrency_over_a_shared_uplink():
    """1, 2, 4, 8 copies of 20 GiB at once over one 10 Gbit/s uplink: n × 17.18 s."""
    result = simulator.run(str(ROOT / "scenarios/network/uplink-concurrency.yaml"))
    alone = 20 * GIB * 8 / 10e9
    got = copy_times_by_concurrency(result.rows)
    print(f"expected {[(n, round(n * alone, 2)) for n in (1, 2, 4, 8)]}, got {got}")
    assert [n for n, _ in got] == [1, 2, 4, 8]
    for n, t in got:
        assert t == pytest.approx(n * alone, rel=1e-6)
    uplink = result.summary["network"]["links"]["r1->core"]
    assert uplink["peak_utilisation"] == pytest.approx(1.0)


def test_units_in_a_scenario():
    s = tiny(hosts=[{"name": "cmp1", "vcpus": 16, "ram_mb": "64 GiB", "disk_gb": "1 TiB", "nic_gbps": "1 Gbit/s"},
                    {"name": "cmp2", "vcpus": 16, "ram_mb": 65536, "disk_gb": 1000, "nic_gbps": "1250 MB/s"}],
             nova={"shutdown_timeout": "1 min"}, guest={"shutdown": "12 s", "boot": {"dist": "constant", "value": "30 s"}})
    s["instances"][0]["disk_used_gb"] = "20480 MiB"
    row = simulator.run(s).request(1)
    assert row["latency"] == pytest.approx(214.00469184)
    resolved = simulator.run(s).summary["scenario"]
    assert resolved["hosts"][0]["ram_mb"] == 65536 and resolved["hosts"][1]["nic_gbps"] == 10.0


def test_link_utilisation_over_time_in_the_summary():
    """The uplink is full while each group copies: its binned utilisation averages to
    its mean utilisation, and the bins during a copy read 1."""
    result = simulator.run(str(ROOT / "scenarios/network/uplink-concurrency.yaml"))
    net = result.summary["network"]
    link = net["links"]["r1->core"]
    bins = link["utilisation_over_time"]
    assert len(bins) == 50 and sum(bins) / 50 == pytest.approx(link["mean_utilisation"], rel=1e-4)
    width = net["bin_seconds"]
    k = int(3060 / width)  # the 8 copies run from about 3005 s to 3142 s
    assert bins[k] == pytest.approx(1.0)


def test_copy_concurrency_plot_reads_a_run_directory(tmp_path, capsys):
    """The plot is drawn from a run's outputs (plots never run the simulator)."""
    from plots.copy_concurrency import main as concurrency

    scenario = str(ROOT / "scenarios/network/uplink-concurrency.yaml")
    simulator.run(scenario, out=tmp_path / "run", plots=False)
    assert concurrency([str(tmp_path / "run")]) == 0
    assert (tmp_path / "run" / "copy_concurrency.png").stat().st_size > 0
    assert "8 at once: 137.44 s each" in capsys.readouterr().out
    assert concurrency([scenario]) == 2
    assert "expected a run's out directory" in capsys.readouterr().err
