"""The out directory: SIGTERM cleans up as Ctrl-C does, a run again leaves only its
own files, a directory holding other files is refused unless --force, an interrupted
run keeps the earlier results, and scenario names are unique plain file names."""
from __future__ import annotations

import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest
import yaml

from models.scenario import load_scenario
from simulator.commands.cli import main
from simulator.commands.results import RUN_FILES
from simulator.engine.errors import ScenarioError
from tests.conftest import tiny

ROOT = Path(__file__).resolve().parent.parent

#: the files every run writes, whatever its options
ALWAYS = {"trace.jsonl", "scheduling.csv", "flows.csv", "operator_actions.csv", "requests.csv", "summary.json",
          "instance_actions.csv", "instance_action_events.csv"}

#: a run of about a million requests: SIGTERM comes long before it ends
LONG = """\
name: long
hosts:
  - {name: "cmp[01-04]", vcpus: 32, ram_mb: 131072, disk_gb: 2000, nic_gbps: 10}
flavors:
  m1.small:  {vcpus: 1, ram_mb: 2048, root_gb: 20}
  m1.medium: {vcpus: 2, ram_mb: 4096, root_gb: 40}
instances:
  - {name: "vm[001-010]", flavor: m1.small, disk_used_gb: 8}
workload:
  - {op: resize, flavor: m1.medium, count: 1000000, arrival: {process: poisson, rate: 10}}
"""


def small(tmp_path: Path) -> Path:
    """A one-request scenario, outside the out directories."""
    path = tmp_path / "small.yaml"
    path.write_text(yaml.safe_dump(tiny(name="small")))
    return path


def contents(d: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(d.iterdir())}


def run_cli(*args: str) -> int:
    return main(["run", *map(str, args), "--quiet", "--until", "3600"])


def terminate_when_running(tmp_path: Path, out: Path) -> subprocess.CompletedProcess:
    """Start ``run_sim.py run`` of the long scenario into ``out``, send it SIGTERM once
    its trace is being written (a .partial file in ``out``), and wait for it."""
    scenario = tmp_path / "long.yaml"
    scenario.write_text(LONG)
    before = set(out.iterdir()) if out.exists() else set()
    proc = subprocess.Popen([sys.executable, str(ROOT / "run_sim.py"), "run", str(scenario), "--out", str(out),
                             "--quiet", "--no-plots", "--until", "100000"],
                            cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 60
        while not any(p.name.endswith(".partial") for p in (set(out.iterdir()) - before if out.exists() else ())):
            assert proc.poll() is None, f"the run ended before it could be stopped: {proc.communicate()}"
            assert time.monotonic() < deadline, "no .partial file appeared"
            time.sleep(0.01)
        proc.send_signal(signal.SIGTERM)
        stdout, stderr = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    return subprocess.CompletedProcess(proc.args, proc.returncode, stdout, stderr)


@pytest.mark.skipif(sys.platform == "win32", reason="SIGTERM cannot be caught on Windows")
def test_sigterm_during_a_run_exits_143_and_leaves_no_partial_file(tmp_path):
    out = tmp_path / "out"
    done = terminate_when_running(tmp_path, out)
    assert done.returncode == 128 + signal.SIGTERM == 143, done.stderr
    assert done.stderr.startswith("terminated: ") and done.stderr.count("\n") == 1, done.stderr
    assert "Traceback" not in done.stderr
    assert list(out.iterdir()) == []  # no .partial left, no summary.json half written or not


@pytest.mark.skipif(sys.platform == "win32", reason="SIGTERM cannot be caught on Windows")
def test_sigterm_during_a_second_run_keeps_the_first_runs_results(tmp_path):
    out = tmp_path / "out"
    assert run_cli(small(tmp_path), "--out", out) == 0
    first = contents(out)
    done = terminate_when_running(tmp_path, out)
    assert done.returncode == 143, done.stderr
    assert contents(out) == first


@pytest.mark.parametrize("error", [KeyboardInterrupt, RuntimeError])
def test_an_interrupted_or_failed_second_run_keeps_the_first_runs_results(tmp_path, monkeypatch, error):
    """The second run fails while drawing its plots, its tables already written under
    temporary names: the first run's files stay as they were, nothing else appears."""
    import plots.run_plots

    out = tmp_path / "out"
    assert run_cli(small(tmp_path), "--out", out, "--request", "1") == 0
    first = contents(out)
    assert {"latency.png", "sequence.svg", "timeline.json"} <= set(first)

    def boom(*_a, **_k):
        raise error

    monkeypatch.setattr(plots.run_plots, "write_run_plots", boom)
    if error is KeyboardInterrupt:
        assert run_cli(ROOT / "scenarios" / "teaching" / "race.yaml", "--out", out) == 130
    else:
        with pytest.raises(RuntimeError):
            run_cli(ROOT / "scenarios" / "teaching" / "race.yaml", "--out", out)
    assert contents(out) == first


def test_a_run_again_with_no_plots_leaves_only_its_own_files(tmp_path):
    out = tmp_path / "out"
    assert run_cli(small(tmp_path), "--out", out, "--request", "1", "--timeline") == 0
    assert main(["plot", str(out)]) == 0  # gantt.png and queues.png, added to the run directory
    written = {p.name for p in out.iterdir()}
    assert {"latency.png", "sequence.png", "sequence.svg", "timeline.json", "gantt.png"} <= written
    assert written <= RUN_FILES  # or a run again there would be refused
    (out / ".trace.jsonl.partial").write_text("{")  # left by a run killed with SIGKILL
    assert run_cli(small(tmp_path), "--out", out, "--no-plots", "--no-timeline") == 0
    assert {p.name for p in out.iterdir()} == ALWAYS


def test_a_directory_holding_other_files_is_refused_unless_force(tmp_path, capsys):
    out = tmp_path / "out"
    out.mkdir()
    (out / "notes.txt").write_text("mine")
    assert run_cli(small(tmp_path), "--out", out) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith(f"error: {out}: --out: holds 'notes.txt'"), err
    assert "--force" in err
    assert contents(out) == {"notes.txt": b"mine"}  # nothing written

    assert run_cli(small(tmp_path), "--out", out, "--force", "--request", "1") == 0
    assert (out / "notes.txt").read_text() == "mine" and (out / "latency.png").exists()
    assert run_cli(small(tmp_path), "--out", out) == 2  # still not only a run's files
    capsys.readouterr()
    assert run_cli(small(tmp_path), "--out", out, "--force", "--no-plots", "--no-timeline") == 0
    assert {p.name for p in out.iterdir()} == ALWAYS | {"notes.txt"}  # the earlier run's plots removed
    assert (out / "notes.txt").read_text() == "mine"


def test_step_refuses_such_a_directory_too(tmp_path, capsys):
    out = tmp_path / "out"
    (out / "sub").mkdir(parents=True)
    teach = ROOT / "scenarios" / "teaching" / "one-resize.yaml"
    assert main(["step", str(teach), "--no-pause", "--out", str(out)]) == 2
    assert "holds 'sub'" in capsys.readouterr().err
    assert main(["step", str(teach), "--no-pause", "--out", str(out), "--force"]) == 0
    assert (out / "sub").is_dir() and (out / "sequence.png").exists()


def test_runs_and_sweeps_keep_to_their_own_directories(tmp_path, capsys):
    base = small(tmp_path)
    sweep = ["sweep", "--base", str(base), "--vary", "guest.boot=20,30", "--quiet"]
    run_dir, sweep_dir = tmp_path / "run", tmp_path / "sweep"
    assert run_cli(base, "--out", run_dir, "--no-plots", "--no-timeline") == 0
    assert main([*sweep, "--out", str(sweep_dir)]) == 0
    capsys.readouterr()
    assert main([*sweep, "--out", str(sweep_dir)]) == 0  # its own directory: resumed
    assert run_cli(base, "--out", sweep_dir) == 2  # a run into a sweep's directory
    assert "no run of this simulator wrote" in capsys.readouterr().err
    assert main([*sweep, "--out", str(run_dir)]) == 2  # a sweep into a run's directory
    assert "no sweep of this simulator wrote" in capsys.readouterr().err
    assert {p.name for p in run_dir.iterdir()} == ALWAYS


def shipped_scenarios() -> list[Path]:
    """Every shipped scenario file (sweep files aside)."""
    paths = []
    for path in sorted((ROOT / "scenarios").rglob("*.yaml")):
        data = yaml.safe_load(path.read_text())
        if not (isinstance(data, dict) and "sweep" in data):
            paths.append(path)
    return paths


def test_every_shipped_scenario_has_a_unique_name():
    """The name is the default out directory (results/<name>): two scenarios of one
    name would overwrite each other's results."""
    names = {path: load_scenario(path).model.name for path in shipped_scenarios()}
    assert len(names) > 20
    twice = {n for n, k in Counter(names.values()).items() if k > 1}
    assert not twice, {n: [str(p.relative_to(ROOT)) for p, m in names.items() if m == n] for n in twice}


BAD_NAMES = ["../x", "/tmp/x", "", ".", "..", "a/b", "a\\b", "C:\\x", "a\0b"]


@pytest.mark.parametrize("name", BAD_NAMES)
def test_a_scenario_name_must_be_a_plain_file_name(tmp_path, name):
    path = tmp_path / "scenario.yaml"
    path.write_text(yaml.safe_dump(tiny(name=name)))
    with pytest.raises(ScenarioError) as caught:
        load_scenario(path)
    assert caught.value.path == "name" and "a plain file name" in caught.value.message, str(caught.value)


@pytest.mark.parametrize("name", ["../x", "/tmp/nova-resize-sim-x"])
def test_a_run_with_a_path_for_its_name_writes_nothing(tmp_path, monkeypatch, capsys, name):
    path = tmp_path / "scenario.yaml"
    path.write_text(yaml.safe_dump(tiny(name=name)))
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    assert main(["run", str(path), "--quiet", "--no-plots"]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"error: {path}") and ": name: " in err and "a plain file name" in err, err
    assert err.count("\n") == 1
    assert list(work.iterdir()) == [] and sorted(p.name for p in tmp_path.iterdir()) == ["scenario.yaml", "work"]
    assert not Path(name).is_absolute() or not Path(name).exists()
