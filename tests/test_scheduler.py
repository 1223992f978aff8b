"""Filters and weighers against hand-built host sets, and a scheduler worker's
cached view of the hosts."""
from __future__ import annotations

import random

import pytest

from models.exceptions import ComputeResourcesUnavailable, NoValidHost
from models.hosts import HostTable
from models.objects import Flavor
from models.release import RELEASES
from models.request_spec import RequestSpec
from models.scenario.schema import FILTER_NAMES, WEIGHER_NAMES, Nova
from models.scheduler import FILTERS, WEIGHERS, SchedulerConfig, SchedulerView, _best, _normalize, select_hosts

SMALL = Flavor("small", 1, 2048, 20)
BIG = Flavor("big", 4, 16384, 80)


def table(ram_mb, zones=None, **kw):
    n = len(ram_mb)
    opts = dict(cpu_allocation_ratio=16.0, ram_allocation_ratio=1.5, disk_allocation_ratio=1.0,
                reserved_host_memory_mb=512, reserved_host_disk_mb=0)
    opts.update(kw)
    return HostTable([f"h{i}" for i in range(n)], [None] * n, [16] * n, ram_mb, [1000] * n, [10] * n,
                     zones=zones, **opts)


def test_ram_filter_uses_the_allocation_ratio_and_reserved_memory():
    """h0: 8192 MB → limit 12288 − 512 reserved = 11776 usable: a 16384 MB flavor
    does not pass. h1: 12288 MB → 18432 − 512 = 17920: it passes."""
    hosts = table([8192, 12288])
    sel = select_hosts(SchedulerView(hosts, 0), RequestSpec(BIG))
    assert sel.host == 1
    assert ("RamFilter", 2, 1) in sel.filters
    hosts = table([8192, 12288], ram_allocation_ratio=1.0)
    with pytest.raises(NoValidHost) as exc:
        select_hosts(SchedulerView(hosts, 0), RequestSpec(BIG))
    assert exc.value.filters[-1] == ("RamFilter", 2, 0)


def test_ignore_force_and_retry_filter():
    hosts = table([65536] * 4)
    view = SchedulerView(hosts, 0)
    sel = select_hosts(view, RequestSpec(SMALL, ignore_hosts=[0], retry_hosts=[1]))
    assert sel.filters[:2] == [("ignore_hosts/force_hosts", 4, 3), ("RetryFilter", 3, 2)]
    assert sel.host == 2
    assert select_hosts(view, RequestSpec(SMALL, force_hosts=[3])).host == 3
    with pytest.raises(NoValidHost):
        select_hosts(view, RequestSpec(SMALL, force_hosts=[0], ignore_hosts=[0]))


def test_compute_filter_drops_hosts_that_are_down():
    hosts = table([65536, 32768])
    hosts.up[0] = False
    sel = select_hosts(SchedulerView(hosts, 0), RequestSpec(SMALL))
    assert sel.host == 1 and ("ComputeFilter", 2, 1) in sel.filters
    hosts = table([65536, 32768])
    hosts.enabled[0] = False  # nova service-disable
    assert select_hosts(SchedulerView(hosts, 0), RequestSpec(SMALL)).host == 1


def test_ram_weigher_normalises_from_zero():
    """RAMWeigher sets minval 0: weights are free / max free, not (x − min)/(max − min)."""
    assert list(_normalize(__import__("numpy").array([1000.0, 2000.0, 4000.0]), minval=0.0)) == [0.25, 0.5, 1.0]
    assert list(_normalize(__import__("numpy").array([1.0, 3.0]))) == [0.0, 1.0]
    assert list(_normalize(__import__("numpy").array([2.0, 2.0]))) == [0.0, 0.0]
    hosts = table([16384, 32768, 65536])
    sel = select_hosts(SchedulerView(hosts, 0), RequestSpec(SMALL), best_n=3)
    free = [16384 - 512, 32768 - 512, 65536 - 512]
    assert sel.host == 2 and sel.weights["RAMWeigher"] == 1.0
    assert [b for b in sel.best] == [(2, 1.0), (1, pytest.approx(free[1] / free[2])),
                                     (0, pytest.approx(free[0] / free[2]))]


def test_io_ops_weigher_prefers_idle_hosts():
    """Two hosts with equal RAM; h0 has 2 instances resizing: its IoOps weight is
    −1 × 1.0, h1's −1 × 0, so h1 wins. With more free RAM on h0 (weight 1.0 against
    0.5) the sum is 0 against 0.5: h1 still wins."""
    hosts = table([65536, 65536])
    hosts.io_ops[0] = 2
    sel = select_hosts(SchedulerView(hosts, 0), RequestSpec(SMALL))
    assert sel.host == 1 and sel.weights == {"RAMWeigher": 1.0, "MetricsWeigher": 0.0, "IoOpsWeigher": -0.0}
    hosts = table([131072 + 512, 65536 + 512])
    hosts.io_ops[0] = 2
    assert select_hosts(SchedulerView(hosts, 0), RequestSpec(SMALL)).host == 1


def test_ties_go_to_the_first_host_and_host_subset_size_picks_among_the_best():
    hosts = table([65536] * 5)
    assert select_hosts(SchedulerView(hosts, 0), RequestSpec(SMALL)).host == 0
    rng = random.Random(4)
    cfg = SchedulerConfig(host_subset_size=3)
    picks = {select_hosts(SchedulerView(hosts, 0), RequestSpec(SMALL), cfg, rng=rng).host
             for _ in range(60)}
    assert picks == {0, 1, 2}


def test_a_worker_counts_its_own_picks_until_the_host_record_is_written():
    """Kilo's consume_from_instance counts the instance's own (old) flavor and one
    more I/O operation; the next write of the host's record (a claim) replaces it."""
    hosts = table([8192, 8192])
    hosts.audit_interval = 60.0
    view = SchedulerView(hosts, 0)
    other = SchedulerView(hosts, 1)
    view.consume(0, SMALL, now=10.0)
    assert view.free_ram_mb()[0] == 8192 - 512 - 2048 and view.io_ops()[0] == 1
    assert other.free_ram_mb()[0] == 8192 - 512  # another worker does not see it
    view.refresh(20.0)
    assert view.pending_ram_mb[0] == 2048  # no write since the pick
    hosts.claim(0, Flavor("m", 2, 4096, 40), now=21.0)
    view.refresh(22.0)
    assert view.pending_ram_mb[0] == 0 and view.free_ram_mb()[0] == 8192 - 512 - 4096
    assert other.free_ram_mb()[0] == 8192 - 512 - 4096  # the claim is seen by all


def test_a_failed_claims_pick_is_forgotten_at_the_next_resource_audit():
    hosts = table([8192])
    hosts.audit_offset[:] = 30.0  # audits at 30, 90, 150, ...
    view = SchedulerView(hosts, 0)
    view.consume(0, SMALL, now=40.0)
    view.refresh(89.9)
    assert view.pending_ram_mb[0] == 2048
    view.refresh(90.0)
    assert view.pending_ram_mb[0] == 0


def test_the_claim_tests_ram_against_the_filters_limit():
    hosts = table([8192])  # 12288 limit − 512 reserved
    hosts.claim(0, Flavor("a", 1, 8192, 10))
    with pytest.raises(ComputeResourcesUnavailable, match="Free memory 3584.00 MB < requested 4096 MB"):
        hosts.claim(0, Flavor("b", 1, 4096, 10))
    hosts.claim(0, Flavor("c", 1, 3584, 10))
    assert hosts.used_ram_mb[0] == 8192 + 3584
    hosts.release(0, Flavor("c", 1, 3584, 10))
    assert (hosts.claims, hosts.releases) == (2, 1)


def cfg(filters, weighers=("RAMWeigher",), **kw):
    return SchedulerConfig(filters=tuple(filters), weighers=tuple(weighers), **kw)


def test_the_schema_names_every_filter_and_weigher_the_scheduler_has():
    assert set(FILTER_NAMES) == set(FILTERS) and set(WEIGHER_NAMES) == set(WEIGHERS)
    # each release's defaults name filters and weighers the scheduler has, and are
    # what a scenario of that release resolves to (Kilo's and modern Nova's, reference 8-9)
    assert RELEASES["kilo"].defaults["scheduler_default_filters"] == (
        "RetryFilter", "AvailabilityZoneFilter", "RamFilter", "ComputeFilter", "ComputeCapabilitiesFilter",
        "ImagePropertiesFilter", "ServerGroupAntiAffinityFilter", "ServerGroupAffinityFilter")
    assert RELEASES["kilo"].defaults["scheduler_weight_classes"] == ("RAMWeigher", "MetricsWeigher", "IoOpsWeigher")
    assert RELEASES["modern"].defaults["scheduler_weight_classes"] == (
        "RAMWeigher", "CPUWeigher", "DiskWeigher", "MetricsWeigher", "IoOpsWeigher")
    for name, release in RELEASES.items():
        assert set(release.defaults["scheduler_default_filters"]) <= set(FILTERS)
        assert set(release.defaults["scheduler_weight_classes"]) <= set(WEIGHERS)
        nova = Nova(release=name)
        assert tuple(nova.scheduler_default_filters) == release.defaults["scheduler_default_filters"]
        assert nova.cpu_allocation_ratio == release.defaults["cpu_allocation_ratio"]


def test_core_filter():
    """16 vCPUs × ratio 1.0 = 16; h0 has 14 used: a 4-vCPU flavor does not fit."""
    hosts = table([65536, 65536], cpu_allocation_ratio=1.0)
    hosts.used_vcpus[0] = 14
    sel = select_hosts(SchedulerView(hosts, 0), RequestSpec(BIG), cfg(["CoreFilter"]), explain=True)
    assert sel.host == 1 and sel.removed["CoreFilter"] == [0]
    assert cfg(["RamFilter", "CoreFilter"]).claim_tests == ("ram", "vcpu")


def test_disk_filter_counts_root_ephemeral_and_swap():
    """1000 GB × 1.0; h0 has 930 used: 80 GB root passes with 70 free? No: 70 < 80."""
    hosts = table([65536, 65536])
    hosts.used_disk_gb[0] = 930
    sel = select_hosts(SchedulerView(hosts, 0), RequestSpec(BIG), cfg(["DiskFilter"]))
    assert sel.host == 1
    hosts.used_disk_gb[0] = 920  # 80 free: fits exactly
    assert select_hosts(SchedulerView(hosts, 0), RequestSpec(BIG), cfg(["DiskFilter"])).filters[-1] == ("DiskFilter", 2, 2)
    swap = Flavor("s", 1, 512, 80, swap_mb=1024)  # 81 GB with swap: no longer fits on h0
    sel = select_hosts(SchedulerView(hosts, 0), RequestSpec(swap), cfg(["DiskFilter"]))
    assert sel.filters[-1] == ("DiskFilter", 2, 1)


def test_availability_zone_filter():
    hosts = table([65536] * 3, zones=["az1", "az2", "az2"])
    sel = select_hosts(SchedulerView(hosts, 0), RequestSpec(SMALL, zone="az2"), cfg(["AvailabilityZoneFilter"]),
                       explain=True)
    assert sel.removed["AvailabilityZoneFilter"] == [0] and sel.host == 1
    assert select_hosts(SchedulerView(hosts, 0), RequestSpec(SMALL), cfg(["AvailabilityZoneFilter"])).host == 0
    with pytest.raises(NoValidHost):
        select_hosts(SchedulerView(hosts, 0), RequestSpec(SMALL, zone="az9"), cfg(["AvailabilityZoneFilter"]))


def test_server_group_filters():
    hosts = table([65536] * 4)
    anti = RequestSpec(SMALL, group_policy="anti-affinity", group_hosts=[0, 1])
    f = ["ServerGroupAntiAffinityFilter", "ServerGroupAffinityFilter"]
    assert select_hosts(SchedulerView(hosts, 0), anti, cfg(f)).filters[1:] == [
        ("ServerGroupAntiAffinityFilter", 4, 2), ("ServerGroupAffinityFilter", 2, 2)]
    aff = RequestSpec(SMALL, group_policy="affinity", group_hosts=[3])
    assert select_hosts(SchedulerView(hosts, 0), aff, cfg(f)).host == 3
    # an affinity member cannot leave its host when that host is ignored (the source)
    with pytest.raises(NoValidHost):
        select_hosts(SchedulerView(hosts, 0), RequestSpec(SMALL, group_policy="affinity", group_hosts=[3],
                                                          ignore_hosts=[3]), cfg(f))
    # the first member of an affinity group may go anywhere
    assert select_hosts(SchedulerView(hosts, 0), RequestSpec(SMALL, group_policy="affinity"), cfg(f)).host == 0


def test_same_and_different_host_filters():
    hosts = table([65536] * 4)
    assert select_hosts(SchedulerView(hosts, 0), RequestSpec(SMALL, same_host=[2]), cfg(["SameHostFilter"])).host == 2
    sel = select_hosts(SchedulerView(hosts, 0), RequestSpec(SMALL, different_host=[0, 1]),
                       cfg(["DifferentHostFilter"]))
    assert sel.host == 2 and sel.filters[-1] == ("DifferentHostFilter", 4, 2)


def test_cpu_and_disk_weighers_and_multipliers():
    hosts = table([65536, 65536])
    hosts.used_vcpus[0] = 8
    sel = select_hosts(SchedulerView(hosts, 0), RequestSpec(SMALL), cfg([], ["CPUWeigher"]), best_n=2)
    # free vCPUs 16×16−8 = 248 and 256: normalised from 0 → 248/256 and 1
    assert sel.host == 1 and sel.best[1] == (0, pytest.approx(248 / 256))
    hosts.used_disk_gb[1] = 500
    sel = select_hosts(SchedulerView(hosts, 0), RequestSpec(SMALL), cfg([], ["DiskWeigher"]), best_n=2)
    assert sel.host == 0 and sel.best[1] == (1, pytest.approx(0.5))
    # a negative multiplier stacks instead of spreading
    stack = cfg([], ["RAMWeigher"], multipliers={"ram_weight_multiplier": -1.0})
    hosts.used_ram_mb[1] = 4096
    assert select_hosts(SchedulerView(hosts, 0), RequestSpec(SMALL), stack).host == 1


def test_placement_checks_every_resource_and_returns_alternates():
    hosts = table([65536] * 4)
    hosts.used_vcpus[0] = 16 * 16  # full
    c = cfg(["ComputeFilter"], placement=True, alternates=2)
    sel = select_hosts(SchedulerView(hosts, 0), RequestSpec(SMALL), c)
    assert sel.filters[1] == ("placement", 4, 3) and sel.host == 1 and sel.alternates == [2, 3]
    assert c.claim_tests == ()


def test_best_keeps_a_stable_order_in_linear_time():
    import numpy as np

    w = np.array([0.5, 1.0, 0.5, 1.0, 0.2, 1.0])
    assert list(_best(w, 2)) == [1, 3]
    assert list(_best(w, 4)) == [1, 3, 5, 0]
    assert list(_best(w, 10)) == [1, 3, 5, 0, 2, 4]


def test_filters_that_nothing_in_a_scenario_restricts_pass_every_host():
    """ComputeCapabilitiesFilter and ImagePropertiesFilter: no flavor extra specs or
    image properties exist in a scenario; MetricsWeigher: no metrics are configured."""
    hosts = table([8192, 65536, 16384])
    sel = select_hosts(SchedulerView(hosts, 0), RequestSpec(SMALL),
                       cfg(["ComputeCapabilitiesFilter", "ImagePropertiesFilter"], ["MetricsWeigher"]), best_n=3)
    assert sel.filters[1:] == [("ComputeCapabilitiesFilter", 3, 3), ("ImagePropertiesFilter", 3, 3)]
    assert sel.weights == {"MetricsWeigher": 0.0} and sel.host == 0  # all equal: the first host
