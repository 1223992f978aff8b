"""summary.json's ``hosts.over_limit`` (issue 13): a failed ``finish_resize`` puts the
old flavor back on the destination without a claim, as Nova does, and can leave the
host above its limit (total × allocation ratio); the summary says so."""
from __future__ import annotations

import simulator
from tests.conftest import tiny


def downsize_onto_a_small_host(**extra) -> dict:
    """vm1 (big: 4096 MB) resizes down to small2 (2048 MB, same disk) onto cmp2, whose
    RAM limit is 2048 × 1.5 = 3072 MB with 512 MB reserved: small2 fits (2560), big
    does not (4608)."""
    s = tiny(hosts=[{"name": "cmp1", "vcpus": 16, "ram_mb": 65536, "disk_gb": 1000, "nic_gbps": 10},
                    {"name": "cmp2", "vcpus": 16, "ram_mb": 2048, "disk_gb": 1000, "nic_gbps": 10}],
             flavors={"big": {"vcpus": 2, "ram_mb": 4096, "root_gb": 20},
                      "small2": {"vcpus": 1, "ram_mb": 2048, "root_gb": 20}},
             instances=[{"name": "vm1", "flavor": "big", "disk_used_gb": 5, "host": "cmp1"}],
             workload=[{"op": "resize", "flavor": "small2", "instance": "vm1", "at": 10}], **extra)
    return s


def test_a_boot_failure_that_puts_the_old_flavor_back_is_flagged_over_the_limit():
    result = simulator.run(downsize_onto_a_small_host(faults=[{"kind": "boot_fail", "probability": 1.0}]))
    assert result.request(1)["status"] == "error"
    assert result.summary["hosts"]["over_limit"] == {"cmp2": {"ram_mb": "4608/3072"}}


def test_no_host_over_its_limit_is_an_empty_mapping():
    result = simulator.run(downsize_onto_a_small_host())
    assert result.request(1)["status"] == "resized"
    assert result.summary["hosts"]["over_limit"] == {}


def test_only_the_limits_the_claims_respect_are_flagged():
    """Kilo's default filters have no CoreFilter: 40 vCPUs on a 16-vCPU host with ratio
    1 is over no limit that Nova respects; with CoreFilter it is flagged."""
    s = downsize_onto_a_small_host(faults=[{"kind": "boot_fail", "probability": 1.0}])
    s["flavors"]["big"]["vcpus"] = 40
    s["hosts"][0]["vcpus"] = 64
    s["nova"] = {"cpu_allocation_ratio": 1.0}
    assert set(simulator.run(s).summary["hosts"]["over_limit"]["cmp2"]) == {"ram_mb"}
    s["nova"]["scheduler_default_filters"] = ["RetryFilter", "RamFilter", "CoreFilter", "ComputeFilter"]
    s["flavors"]["small2"]["vcpus"] = 16
    assert simulator.run(s).summary["hosts"]["over_limit"] == {"cmp2": {"vcpus": "40/16", "ram_mb": "4608/3072"}}
