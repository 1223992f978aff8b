"""What a move does with an instance's disks, timed by hand (reference section 7).

Both hosts have 10 Gbit/s NICs (1,192 MiB/s), so the per-stream limits bind: an
uncompressed ssh stream 500 MiB/s (``copy.cipher_mibps``), a compressing one 35 MiB/s
of bytes read (``copy.compress_mibps``), a local ``cp`` or ``qemu-img convert`` 500
MiB/s (``copy.local_mibps``). The instance's root is 20 GiB, 4 GiB of it allocated; its
image ``cirros`` is 2 GiB; Glance hangs off the core switch at 10 Gbit/s.
"""
from __future__ import annotations

from typing import Any

import pytest

import simulator
from tests.conftest import GIB, events_of, tiny

MIB = 2 ** 20
LINE = 10e9 / 8  # bytes per second of a 10 Gbit/s link
#: the base image fetched from Glance (line rate) and converted to raw (500 MiB/s)
FETCH = 2 * GIB / LINE + 2048 / 500
BOOT = 1.0  # guest.boot: the domain runs a second after it is created


def scenario(release: str = "kilo", copy: dict[str, Any] | None = None, storage: str = "local",
             **instance: Any) -> dict[str, Any]:
    s = tiny(nova={"release": release}, copy=copy or {}, images={"cirros": {"size_gb": 2}},
             guest={"shutdown": 12, "boot": BOOT})
    for h in s["hosts"]:
        h["nic_gbps"] = 10
        h["storage"] = storage
    s["instances"][0].update({"disk_used_gb": 4, **instance})
    return s


def flows(result) -> list[tuple[str, str, int, str]]:
    """(disk, transport, bytes, route) of each stream."""
    return [(f.disk, f.transport, f.bytes, f.route) for f in result.flows]


def finish(result, req: int = 1) -> dict[str, Any]:
    return [r for r in events_of(result.trace, req, "step.end") if r["name"] == "finish_migration"][0]


NET = "cmp1>core>cmp2"
FETCHED = [("_base/cirros", "http", 2 * GIB, "glance>core>cmp2"), ("_base/cirros", "qemu-img", 2 * GIB, "local")]


def test_kilo_flattens_a_qcow2_overlay_onto_its_base_then_rsyncs_it_compressed():
    """Kilo: ``qemu-img convert`` of the 4 GiB overlay onto the 2 GiB base writes a 6
    GiB image (12.288 s at 500 MiB/s); rsync --compress reads it at 35 MiB/s. The
    destination lacks the base: fetched (1.718 s) and converted to raw (4.096 s)."""
    result = simulator.run(scenario(image="cirros"))
    assert flows(result) == [("disk", "qemu-img", 6 * GIB, "local"), ("disk", "rsync -z", 6 * GIB, NET), *FETCHED]
    row = result.request(1)
    assert row["disk_copy"] == pytest.approx(6144 / 500 + 6144 / 35, abs=1e-6)
    end = finish(result)
    assert (end["image"], end["image_fetched"]) == ("cirros", True)
    assert end["fetch_seconds"] == pytest.approx(FETCH, abs=1e-6)
    assert end["seconds"] == pytest.approx(FETCH + BOOT, abs=1e-6)
    assert result.summary["network"]["images"] == {"fetches": 1, "cache_hits": 0}


def test_kilos_flattened_image_is_never_larger_than_the_disks_virtual_size():
    """19 GiB of overlay on a 2 GiB base flatten to at most the 20 GiB root."""
    result = simulator.run(scenario(image="cirros", disk_used_gb=19))
    assert [f[2] for f in flows(result)[:2]] == [20 * GIB, 20 * GIB]
    # the convert reads overlay and base (21 GiB) and writes 20: the 500 MiB/s cap counts the output
    assert result.request(1)["disk_copy"] == pytest.approx(20480 / 500 + 20480 / 35, abs=1e-6)


def test_modern_copies_the_overlay_alone_and_the_destination_fetches_the_base():
    result = simulator.run(scenario("modern", image="cirros"))
    assert flows(result) == [("disk", "scp", 4 * GIB, NET), *FETCHED]
    assert result.request(1)["disk_copy"] == pytest.approx(4096 / 500, abs=1e-6)
    assert finish(result)["seconds"] == pytest.approx(FETCH + BOOT, abs=1e-6)


def test_a_cached_base_costs_nothing_and_the_cache_persists_across_moves():
    s = scenario("modern", image="cirros")
    s["instances"] = [{"name": "vm[1-2]", "flavor": "small", "disk_used_gb": 4, "host": "cmp1", "image": "cirros"}]
    s["workload"] = [{"op": "migrate", "instance": "vm1", "host": "cmp2", "at": 0},
                     {"op": "migrate", "instance": "vm2", "host": "cmp2", "at": 1000}]
    result = simulator.run(s)
    first, second = finish(result, 1), finish(result, 2)
    assert (first["image_fetched"], second["image_fetched"]) == (True, False)
    assert second["fetch_seconds"] == 0 and second["seconds"] == BOOT
    assert [f[1] for f in flows(result)] == ["scp", "http", "qemu-img", "scp"]
    assert result.summary["network"]["images"] == {"fetches": 1, "cache_hits": 1}
    # an image every cache holds from the start is never fetched
    s["images"]["cirros"]["cached"] = "all"
    result = simulator.run(s)
    assert [f[1] for f in flows(result)] == ["scp", "scp"]
    assert result.summary["network"]["images"] == {"fetches": 0, "cache_hits": 2}


def test_a_second_move_needing_the_same_base_waits_for_the_fetch_under_way():
    """Two moves reach cmp2's empty cache at once: one downloads, the other waits on
    the cache's lock and then finds the image: one fetch, both wait its length."""
    s = scenario("modern", image="cirros")
    s["services"] = {name: {"workers": 4, "service_time": 0} for name in ("api", "conductor", "scheduler", "compute")}
    s["instances"] = [{"name": "vm[1-2]", "flavor": "small", "disk_used_gb": 4, "host": "cmp1", "image": "cirros"}]
    s["workload"] = [{"op": "migrate", "instance": f"vm{i}", "host": "cmp2", "at": 0} for i in (1, 2)]
    result = simulator.run(s)
    ends = [finish(result, 1), finish(result, 2)]
    assert sorted(e["image_fetched"] for e in ends) == [False, True]
    assert [e["fetch_seconds"] for e in ends] == [pytest.approx(FETCH, abs=1e-6)] * 2
    assert [f[1] for f in flows(result)].count("http") == 1
    assert result.summary["network"]["images"] == {"fetches": 1, "cache_hits": 1}


RAW = 20 * GIB  # a raw 20 GiB root read whole, holes included
#: a compressing stream through the raw root: its 4 GiB of data at 35 MiB/s, its 16
#: GiB of holes at 175 MiB/s (copy.compress_zeros_mibps: zlib runs through zeros faster)
RAW_Z = 4096 / 35 + 16384 / 175


@pytest.mark.parametrize("release, copy, disk_format, label, read, seconds", [
    ("kilo", {}, "qcow2", "rsync -z", 4 * GIB, 4096 / 35),                   # Kilo rsync --compress
    ("kilo", {}, "raw", "rsync -z", RAW, RAW_Z),
    ("kilo", {"compress": False}, "raw", "rsync", RAW, 20480 / 500),
    ("kilo", {"transport": "scp"}, "qcow2", "scp", 4 * GIB, 4096 / 500),    # Kilo's scp fallback
    ("kilo", {"transport": "scp"}, "raw", "scp", RAW, 20480 / 500),
    ("modern", {}, "qcow2", "scp", 4 * GIB, 4096 / 500),                     # remote_filesystem_transport ssh
    ("modern", {}, "raw", "scp -C", RAW, RAW_Z),                             # -C for non-qcow2 (Victoria)
    ("modern", {"transport": "rsync"}, "qcow2", "rsync", 4 * GIB, 4096 / 500),
    ("modern", {"transport": "rsync"}, "raw", "rsync -z", RAW, RAW_Z),
    ("modern", {"compress": True}, "qcow2", "scp -C", 4 * GIB, 4096 / 35),
    ("modern", {"compress_mibps": 60, "compress_zeros_mibps": None}, "raw", "scp -C", RAW, 20480 / 60),
    ("modern", {"compress_zeros_mibps": 350}, "raw", "scp -C", RAW, 4096 / 35 + 16384 / 350),
    ("modern", {"cipher_mibps": 200}, "qcow2", "scp", 4 * GIB, 4096 / 200),
    ("kilo", {"stream_mibps": 100}, "raw", "rsync -z", RAW, 20480 / 100),    # one limit for every stream
])
def test_each_transport_reads_what_it_reads_at_its_own_limit(release, copy, disk_format, label, read, seconds):
    result = simulator.run(scenario(release, copy, disk_format=disk_format))
    assert flows(result)[0] == ("disk", label, read, NET)
    assert result.request(1)["disk_copy"] == pytest.approx(seconds, abs=1e-6)


def test_a_raw_disk_over_scp_writes_its_holes_and_rsync_recreates_them():
    """Both read 20 GiB; the destination's disk writes 20 GiB from scp, 4 from rsync
    --sparse: with a 100 MiB/s destination disk, scp takes 204.8 s, rsync 40.96 s."""
    for transport, seconds in (("scp", 20480 / 100), ("rsync", 20480 / 500)):
        s = scenario(copy={"transport": transport, "compress": False}, disk_format="raw")
        s["hosts"][1]["disk_write_mibps"] = 100
        assert simulator.run(s).request(1)["disk_copy"] == pytest.approx(seconds, abs=1e-6)


def test_the_destination_converts_a_raw_disk_to_qcow2_with_use_cow_images():
    """``_disk_raw_to_qcow2``: the 4 GiB of data of the raw root (not the config drive)
    converted locally at 500 MiB/s before the domain starts; not when the destination
    does not use qcow2."""
    result = simulator.run(scenario("modern", disk_format="raw", config_drive_mb=64))
    assert flows(result)[2:] == [("disk", "qemu-img", 4 * GIB, "local")]
    assert [f.source for f in result.flows[2:]] == ["cmp2"]
    assert finish(result)["seconds"] == pytest.approx(4096 / 500 + BOOT, abs=1e-6)
    s = scenario("modern", disk_format="raw", config_drive_mb=64)
    s["nova"]["use_cow_images"] = False
    result = simulator.run(s)
    assert [f[1] for f in flows(result)] == ["scp -C", "scp -C"] and finish(result)["seconds"] == BOOT


def test_shared_storage_copies_locally_through_the_pool_and_never_fetches():
    """Kilo flattens into the shared directory and only renames it; modern cp's the
    overlay. The pool's cache holds the base (the instance booted there)."""
    kilo = simulator.run(scenario(storage="nfs", image="cirros"))
    assert flows(kilo) == [("disk", "qemu-img", 6 * GIB, "local")]
    assert kilo.request(1)["disk_copy"] == pytest.approx(6144 / 500, abs=1e-6)
    assert (finish(kilo)["image_fetched"], finish(kilo)["seconds"]) == (False, BOOT)
    modern = simulator.run(scenario("modern", storage="nfs", image="cirros"))
    assert flows(modern) == [("disk", "cp", 4 * GIB, "local")]
    assert modern.request(1)["disk_copy"] == pytest.approx(4096 / 500, abs=1e-6)
    # a 200 MiB/s pool: the convert reads and writes each byte through it (100 MiB/s)
    s = scenario(storage="nfs", image="cirros")
    s["storage_pools"] = {"nfs": {"mibps": 200}}
    assert simulator.run(s).request(1)["disk_copy"] == pytest.approx(6144 / 100, abs=1e-6)


def test_a_same_host_resize_copies_locally_and_needs_no_fetch():
    one = [{"name": "cmp1", "vcpus": 16, "ram_mb": 65536, "disk_gb": 1000, "nic_gbps": 10}]
    for release, expected, seconds in (("kilo", [("disk", "qemu-img", 6 * GIB, "local")], 6144 / 500),
                                       ("modern", [("disk", "cp", 4 * GIB, "local")], 4096 / 500)):
        s = scenario(release, image="cirros")
        s["hosts"], s["nova"]["allow_resize_to_same_host"] = one, True
        result = simulator.run(s)
        assert (result.request(1)["source"], result.request(1)["dest"]) == ("cmp1", "cmp1")
        assert flows(result) == expected
        assert result.request(1)["disk_copy"] == pytest.approx(seconds, abs=1e-6)
        assert finish(result)["image_fetched"] is False


def test_rbd_disks_are_not_copied_nor_their_base_fetched():
    """On rbd only Kilo's config drive is a local file (Liberty on imports it into rbd)."""
    kilo = simulator.run(scenario(storage="rbd", image="cirros", config_drive_mb=64))
    assert flows(kilo) == [("disk.config", "rsync -z", 64 * MIB, NET)]
    assert kilo.request(1)["disk_copy"] == pytest.approx(64 / 35, abs=1e-6)
    modern = simulator.run(scenario("modern", storage="rbd", image="cirros", config_drive_mb=64))
    assert flows(modern) == [] and modern.request(1)["disk_copy"] == 0
    assert "image" not in finish(modern) and finish(modern)["seconds"] == BOOT


def test_a_volume_backed_instance_with_two_volumes_copies_nothing():
    s = scenario(boot_from_volume=True, volumes={"count": 2, "size_gb": 100})
    result = simulator.run(s)
    assert flows(result) == [] and result.request(1)["disk_copy"] == 0
    assert finish(result)["seconds"] == BOOT
    # its ephemeral disk is still a local file, and copied
    s["flavors"] = {name: {**f, "ephemeral_gb": 10} for name, f in s["flavors"].items()}
    s["instances"][0]["ephemeral_used_gb"] = 1
    assert [f[0] for f in flows(simulator.run(s))] == ["disk.local", "disk.local"]  # Kilo: convert, rsync


def test_modern_placement_claims_no_disk_for_a_volume_root_and_kilo_does():
    """cmp2 has 30 GiB of disk; the new flavor's root is 40 GiB. Kilo's DiskFilter
    counts root_gb for a volume-backed instance anyway; modern placement asks no
    DISK_GB for it, but does for an image-backed one."""
    def move(release: str, bfv: bool) -> dict[str, Any]:
        s = scenario(release, boot_from_volume=bfv)
        s["hosts"][1]["disk_gb"] = 30
        if release == "kilo":
            s["nova"]["scheduler_default_filters"] = ["RetryFilter", "RamFilter", "DiskFilter", "ComputeFilter"]
        return simulator.run(s).request(1)
    assert move("kilo", True)["reason"] == "NoValidHost"
    assert move("modern", True)["status"] == "resized" and move("modern", True)["dest"] == "cmp2"
    assert move("modern", False)["reason"] == "NoValidHost"


def test_the_domain_start_is_polled_every_half_second_and_os_boot_is_not_latency():
    base = scenario()
    base["guest"]["boot"] = 1.2
    plain = simulator.run(base)
    assert finish(plain)["seconds"] == 1.5  # running after 1.2 s, seen at the 1.5 s check
    base["guest"]["os_boot"] = 20
    booted = simulator.run(base).request(1)
    assert booted["latency"] == plain.request(1)["latency"]
    assert booted["time_to_ready"] == pytest.approx(booted["latency"] + 20, abs=1e-9)
    assert plain.request(1)["time_to_ready"] == plain.request(1)["latency"]


def test_states_and_notifications_do_not_depend_on_the_disks():
    def story(s):
        result = simulator.run(s)
        return ([(r["vm_state"], r["task_state"]) for r in events_of(result.trace, 1, "state")],
                [r["name"] for r in events_of(result.trace, 1, "notification")])
    plain = story(scenario())
    for release in ("kilo", "modern"):
        want = story(scenario(release))
        for kw in ({"image": "cirros"}, {"disk_format": "raw"}, {"boot_from_volume": True},
                   {"storage": "rbd", "image": "cirros"}, {"storage": "nfs", "image": "cirros"}):
            assert story(scenario(release, **kw)) == want
    assert plain == story(scenario("kilo"))


def test_a_disk_kilo_flattened_is_copied_as_it_is_next_time_and_a_revert_restores_its_base():
    """After a Kilo move the destination's root is a 6 GiB qcow2 with no backing file:
    the next move rsyncs it without a convert. A reverted move leaves the source's
    overlay on its base: the next move flattens again."""
    def of(result, req):
        return [(f.disk, f.transport, f.bytes, f.route) for f in result.flows if f.request == req]
    s = scenario(image="cirros")
    s["workload"] = [{"op": "migrate", "instance": "vm1", "host": "cmp2", "at": 0, "confirm_after": 1},
                     {"op": "migrate", "instance": "vm1", "host": "cmp1", "at": 1000}]
    result = simulator.run(s)
    assert [r["status"] for r in result.rows] == ["confirmed", "resized"]
    assert of(result, 2) == [("disk", "rsync -z", 6 * GIB, "cmp2>core>cmp1")]
    assert result.request(2)["disk_copy"] == pytest.approx(6144 / 35, abs=1e-6)
    assert finish(result, 2)["image_fetched"] is False  # cmp1 holds the base: vm1 booted there
    s["workload"] = [{"op": "migrate", "instance": "vm1", "host": "cmp2", "at": 0, "revert": 1.0,
                      "confirm_after": 1},
                     {"op": "migrate", "instance": "vm1", "host": "cmp2", "at": 1000}]
    result = simulator.run(s)
    assert [r["status"] for r in result.rows] == ["reverted", "resized"]
    assert [f[1] for f in of(result, 2)] == ["qemu-img", "rsync -z"]
    assert finish(result, 2)["image_fetched"] is False  # cmp2 fetched it on the first move
