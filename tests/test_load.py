"""Load: 200 requests over 10 hosts with busy services. Every request ends in one
recorded final status, the counts add up, the queues show in the summary, and
resources are conserved."""
from __future__ import annotations


import simulator
from models.build import Sinks, build
from models.scenario import load_scenario
from models.states import REQUEST_STATUSES
from simulator.engine.environment import Environment
from simulator.engine.random_streams import RandomStreams

LOAD = {
    "name": "load",
    "seed": 3,
    "nova": {"resize_confirm_window": 300, "rpc_response_timeout": 60},
    "services": {
        "api": {"workers": 8, "service_time": {"dist": "exponential", "mean": 0.3}},
        "conductor": {"workers": 4, "service_time": {"dist": "exponential", "mean": 0.2}},
        "scheduler": {"workers": 1, "service_time": {"dist": "exponential", "mean": 0.4}},
        "compute": {"workers": 2, "service_time": {"dist": "exponential", "mean": 0.5}},
    },
    "bus": {"latency": {"dist": "exponential", "mean": 0.005}},
    "hosts": [{"name": "cmp[01-10]", "vcpus": 32, "ram_mb": 131072, "disk_gb": 2000, "nic_gbps": 10}],
    "flavors": {"s": {"vcpus": 1, "ram_mb": 2048, "root_gb": 20},
                "m": {"vcpus": 2, "ram_mb": 4096, "root_gb": 40},
                "l": {"vcpus": 4, "ram_mb": 8192, "root_gb": 80}},
    "instances": [{"name": "vm[001-240]", "flavor": "s", "disk_used_gb": 10}],
    "guest": {"shutdown": {"dist": "uniform", "low": 2, "high": 70}, "boot": {"dist": "uniform", "low": 10, "high": 40}},
    "workload": [
        {"op": "resize", "flavor": "m", "count": 100, "arrival": {"process": "poisson", "rate": 1.5},
         "confirm_after": {"dist": "exponential", "mean": 60}},
        {"op": "resize", "flavor": "l", "count": 60, "arrival": {"process": "poisson", "rate": 1.0}},
        {"op": "migrate", "count": 40, "arrival": {"process": "periodic", "interval": 0.5, "start": 20},
         "confirm_after": 30},
    ],
}


def test_every_request_ends_in_one_final_status_and_the_counts_add_up():
    result = simulator.run(LOAD)
    s = result.summary
    assert len(result.rows) == s["requests"]["total"] == 200
    assert [r["request"] for r in result.rows] == list(range(1, 201))
    assert all(r["status"] in REQUEST_STATUSES for r in result.rows)
    assert sum(s["requests"]["by_status"].values()) == 200
    assert s["requests"]["by_status"]["in_flight"] == 0
    # requests numbered in order of arrival
    submitted = [r["submitted"] for r in result.rows]
    assert submitted == sorted(submitted)
    # busy services queue, and the summary shows it
    for svc in ("nova-api", "nova-conductor", "nova-scheduler"):
        assert s["services"][svc]["max_queue"] > 0, svc
        assert s["services"][svc]["mean_wait"] > 0, svc
        assert 0 < s["services"][svc]["utilisation"] <= 1, svc
    assert s["queue_wait"]["mean"] > 0
    # trace times never decrease
    times = [r["t"] for r in result.trace]
    assert times == sorted(times)


def test_resources_are_conserved():
    """After the run, each host holds exactly the flavors of the instances on it,
    plus the old flavor of each move still unconfirmed (held on its source)."""
    loaded = load_scenario(LOAD)
    cloud = build(loaded, Environment(), RandomStreams(3), Sinks.in_memory())
    cloud.run()
    expect = [0] * len(cloud.hosts)
    for inst in cloud.db.instances.values():
        expect[inst.host] += inst.flavor.ram_mb
        m = inst.migration
        if m is not None and m.status in ("finished", "confirming"):
            expect[m.source] += m.old_flavor.ram_mb
    assert list(cloud.hosts.used_ram_mb) == expect
    # every pick is forgotten once its host's record is written (claims, audits)
    for view in cloud.scheduler.views:
        assert view.pending_ram_mb.any()
        view.refresh(cloud.env.now + 61)
        assert not view.pending_ram_mb.any() and not view.pending_io_ops.any()


def test_until_reports_what_is_still_in_flight():
    result = simulator.run(LOAD, until=60)
    by = result.summary["requests"]["by_status"]
    assert by["in_flight"] > 0
    assert sum(by.values()) == result.summary["requests"]["total"]
    assert result.summary["requests"]["total"] + result.summary["requests"]["not_arrived"] == 200
    assert result.summary["sim_time"] == 60
