"""Bad input gets one clear error naming the file, the key path and what is expected,
exit status 2, and nothing written."""
from __future__ import annotations

import textwrap

import pytest

from simulator.commands.cli import main

GOOD = """\
hosts:
  - {name: "cmp[01-04]", vcpus: 32, ram_mb: 131072, disk_gb: 2000, nic_gbps: 10}
flavors:
  m1.small:  {vcpus: 1, ram_mb: 2048, root_gb: 20}
  m1.medium: {vcpus: 2, ram_mb: 4096, root_gb: 40}
instances:
  - {name: "vm[001-010]", flavor: m1.small, disk_used_gb: 8}
workload:
  - {op: resize, flavor: m1.medium, count: 5, arrival: {process: poisson, rate: 0.1}}
"""


def run_cli(tmp_path, text, capsys, command="run"):
    path = tmp_path / "scenario.yaml"
    path.write_text(textwrap.dedent(text))
    out = tmp_path / "out"
    args = [command, str(path)] + (["--out", str(out), "--quiet"] if command == "run" else [])
    code = main(args)
    err = capsys.readouterr().err
    return code, err, path, out


def test_the_good_scenario_runs(tmp_path, capsys):
    code, err, _, out = run_cli(tmp_path, GOOD, capsys)
    assert code == 0 and err == ""
    assert (out / "summary.json").exists()


@pytest.mark.parametrize("edit, path, expected", [
    # unknown keys, at each level
    (("hosts:", "colour: blue\nhosts:"), "colour", "unknown key"),
    (("nic_gbps: 10}", "nic_gbps: 10, ramm: 3}"), "hosts[0].ramm", "did you mean 'ram_mb'"),
    (("rate: 0.1}", "rate: 0.1, burst: 2}"), "workload[0].arrival.burst", "unknown key"),
    # wrong types
    (("vcpus: 32", "vcpus: '32'"), "hosts[0].vcpus", "valid integer"),
    (("vcpus: 32", "vcpus: true"), "hosts[0].vcpus", "valid integer"),
    (("count: 5", "count: five"), "workload[0].count", "valid integer"),
    # out of range
    (("vcpus: 32", "vcpus: 0"), "hosts[0].vcpus", "greater than 0"),
    (("rate: 0.1", "rate: -1"), "workload[0].arrival.rate", "greater than 0"),
    (("disk_used_gb: 8", "disk_used_gb: 30"), "instances[0].disk_used_gb", "more than flavor m1.small's root disk"),
    # unknown names
    (("flavor: m1.medium, count", "flavor: m1.huge, count"), "workload[0].flavor", "unknown flavor 'm1.huge'"),
    (("flavor: m1.small, disk", "flavor: m1.tiny, disk"), "instances[0].flavor", "unknown flavor 'm1.tiny'"),
    (("disk_used_gb: 8}", "disk_used_gb: 8, host: cmp09}"), "instances[0].host", "unknown host 'cmp09'"),
    (("count: 5,", "instance: vm011, count: 5,"), "workload[0].instance", "unknown instance 'vm011'"),
    # inconsistent entries
    (("op: resize, flavor: m1.medium,", "op: resize,"), "workload[0]", "a resize needs 'flavor'"),
    (("process: poisson", "process: poison"), "workload[0].arrival", "poisson"),
    (('"cmp[01-04]"', '"cmp[04-01]"'), "hosts[0].name", "runs backwards"),
    (('"vm[001-010]"', '"vm[001-010"'), "instances[0].name", "bad name range"),
    # release details and the conductor (issue 15)
    (("hosts:", "nova: {notification_format: json}\nhosts:"), "nova.notification_format", "unversioned"),
    (("hosts:", "nova: {release: modern, long_rpc_timeout: -5}\nhosts:"), "nova.long_rpc_timeout", "greater than 0"),
    (("hosts:", "nova: {use_local: maybe}\nhosts:"), "nova.use_local", "bool"),
    # disks (issue 14)
    (("disk_used_gb: 8}", "disk_used_gb: 8, image: ubuntu}"), "instances[0].image", "unknown image 'ubuntu'"),
    (("disk_used_gb: 8}", "disk_used_gb: 8, image: u, boot_from_volume: true}\nimages: {u: {size_gb: 2}}"),
     "instances[0].image", "volume-backed"),
    (("disk_used_gb: 8}", "disk_used_gb: 8, disk_format: vmdk}"), "instances[0].disk_format", "'qcow2' or 'raw'"),
    (("hosts:", "images: {u: {size_gb: 0}}\nhosts:"), "images.u.size_gb", "greater than 0"),
    (("hosts:", "storage_pools: {nfs: {mibps: 100}}\nhosts:"), "storage_pools.nfs", "no host names storage pool"),
    (("hosts:", "glance: {switch: spine9}\nimages: {u: {size_gb: 1}}\nhosts:"), "glance.switch", "no switch"),
    (("hosts:", "copy: {local_mibps: null}\nhosts:"), "copy.local_mibps", "needs"),
    (("hosts:", "copy: {transport: ftp}\nhosts:"), "copy.transport", "'rsync' or 'scp'"),
    (("disk_used_gb: 8}", "disk_used_gb: 8, volumes: {count: 0, size_gb: 10}}"), "instances[0].volumes.count",
     "greater than 0"),
])
def test_each_error_names_the_key_path_and_what_is_expected(tmp_path, capsys, edit, path, expected):
    old, new = edit
    assert old in GOOD
    code, err, file, out = run_cli(tmp_path, GOOD.replace(old, new, 1), capsys)
    assert code == 2
    assert err.startswith(f"error: {file}:") and f": {path}: " in err and expected in err, err
    assert err.count("\n") == 1 and "Traceback" not in err
    assert not out.exists()


def test_duplicate_keys_are_errors(tmp_path, capsys):
    text = GOOD.replace("m1.medium: {vcpus: 2", "m1.small: {vcpus: 2")
    code, err, _, out = run_cli(tmp_path, text, capsys)
    assert code == 2 and "duplicate key 'm1.small' (first given on line 4)" in err and ":5:" in err
    assert not out.exists()


def test_malformed_yaml(tmp_path, capsys):
    code, err, _, out = run_cli(tmp_path, GOOD + "  - {op: migrate\n", capsys)
    assert code == 2 and "malformed YAML" in err
    assert not out.exists()


def test_unsafe_yaml_tags_are_refused(tmp_path, capsys):
    code, err, _, _ = run_cli(tmp_path, "!!python/object/apply:os.system ['true']\n", capsys)
    assert code == 2 and "malformed YAML" in err


def test_top_level_must_be_a_mapping(tmp_path, capsys):
    code, err, _, _ = run_cli(tmp_path, "- 1\n- 2\n", capsys)
    assert code == 2 and "expected a mapping" in err


def test_missing_file(tmp_path, capsys):
    assert main(["run", str(tmp_path / "nope.yaml"), "--quiet"]) == 2
    assert "nope.yaml: file not found" in capsys.readouterr().err


def test_distribution_errors(tmp_path, capsys):
    text = GOOD + "guest: {shutdown: {dist: exponential}, boot: 30}\n"
    code, err, _, _ = run_cli(tmp_path, text, capsys)
    assert code == 2 and "guest.shutdown: dist exponential needs mean" in err
    text = GOOD + "services: {api: {workers: 2, service_time: {resize: 0.1, migrate_server: 1}}}\n"
    code, err, _, _ = run_cli(tmp_path, text, capsys)
    assert code == 2 and "services.api.service_time.migrate_server: unknown operation" in err


def test_an_instance_that_cannot_be_placed(tmp_path, capsys):
    text = GOOD.replace('"vm[001-010]"', '"vm[001-200]"').replace("ram_mb: 2048", "ram_mb: 16384")
    code, err, _, out = run_cli(tmp_path, text, capsys)
    assert code == 2 and "instances[0]: no host can take instance vm" in err and "RamFilter leaves no host" in err
    assert not out.exists()
    code, err, _, _ = run_cli(tmp_path, text, capsys, command="check")
    assert code == 2 and "no host can take" in err


def test_bad_command_line_values(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["run", "scenarios/default.yaml", "--seed", "-3"])
    assert exc.value.code == 2
    assert "expected a whole number >= 0" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["run", "scenarios/default.yaml", "--until", "0"])
    assert "expected seconds > 0" in capsys.readouterr().err
