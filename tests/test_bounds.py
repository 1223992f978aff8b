"""Huge numbers are refused at load time, quickly, naming the bound (issue 13, item 3).

Each case is the scenario that crashed (OverflowError, SystemError) or hung validation
or the run before the bounds existed; each must now give one line naming the file, the
key path and the bound, exit status 2, in well under a second.
"""
from __future__ import annotations

import textwrap
import time

import pytest

from simulator.commands.cli import main
from simulator.engine import fields
from simulator.engine.names import MAX_NAMES

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


def check(tmp_path, capsys, text: str) -> tuple[int, str, float]:
    path = tmp_path / "scenario.yaml"
    path.write_text(textwrap.dedent(text))
    started = time.perf_counter()
    code = main(["check", str(path)])
    took = time.perf_counter() - started
    err = capsys.readouterr().err
    assert err.startswith(f"error: {path}") and err.count("\n") == 1 and "Traceback" not in err, err
    return code, err, took


def edited(*edits: tuple[str, str]) -> str:
    text = GOOD
    for old, new in edits:
        assert old in text
        text = text.replace(old, new, 1)
    return text


@pytest.mark.parametrize("text, path, bound", [
    # a 400-digit boot time (OverflowError converting it to a float)
    (GOOD + "guest: {boot: " + "9" * 400 + "}\n", "guest.boot", "1e+09"),
    # guest.boot: 1.0e308 passed and crashed mid-run (inf once added to the clock);
    # YAML 1.1 reads it as a string, which is still a number of seconds
    (GOOD + "guest: {boot: 1.0e308}\n", "guest.boot", "1e+09"),
    (GOOD + "guest: {boot: 1.0e+308}\n", "guest.boot", "1e+09"),
    # vcpus: 10^30 (OverflowError in the claim arithmetic)
    (edited(("vcpus: 32", "vcpus: " + str(10 ** 30))), "hosts[0].vcpus", f"{fields.MAX_VCPUS:,}"),
    # ram_mb: "1e20 MiB"
    (edited(("ram_mb: 131072", 'ram_mb: "1e20 MiB"')), "hosts[0].ram_mb", f"{fields.MAX_MIB:,}"),
    # workers: 1000000000 (a list of a billion workers: hangs, then MemoryError)
    (GOOD + "services: {conductor: {workers: 1000000000}}\n", "services.conductor.workers",
     f"{fields.MAX_WORKERS:,}"),
    # lognormal and gamma whose draws overflow (crashed mid-run)
    (GOOD + "guest: {boot: {dist: lognormal, mean: 0.001, sd: 100}}\n", "guest.boot", "sd / mean"),
    (GOOD + "guest: {boot: {dist: gamma, mean: 1, sd: 1.0e-300}}\n", "guest.boot", "sd / mean"),
    # a billion requests (ran for hours)
    (edited(("count: 5,", "count: 1000000000,")), "workload[0].count", f"{fields.MAX_COUNT:,}"),
    # a range of a hundred million hosts (hung validation while expanding it)
    (edited(('"cmp[01-04]"', '"cmp[000000005-100000000]"')), "hosts[0].name", f"{MAX_NAMES:,}"),
    # a billion instances by count
    (edited(('{name: "vm[001-010]", flavor: m1.small, disk_used_gb: 8}',
             "{count: 1000000000, flavor: m1.small}")), "instances[0].count", f"{fields.MAX_COUNT:,}"),
])
def test_a_huge_number_is_refused_at_once_naming_the_bound(tmp_path, capsys, text, path, bound):
    code, err, took = check(tmp_path, capsys, text)
    assert code == 2 and f": {path}: " in err and bound in err, err
    assert took < 1.0, f"{took:.2f} s"


def test_values_at_the_bounds_are_accepted(tmp_path, capsys):
    """The bounds are far beyond any run: values just inside them load."""
    text = edited(("vcpus: 32", f"vcpus: {fields.MAX_VCPUS}"),
                  ("ram_mb: 131072", f"ram_mb: {fields.MAX_MIB}"))
    text += f"guest: {{boot: {fields.MAX_SECONDS:g}}}\nservices: {{conductor: {{workers: {fields.MAX_WORKERS}}}}}\n"
    path = tmp_path / "scenario.yaml"
    path.write_text(text)
    assert main(["check", str(path)]) == 0, capsys.readouterr().err
