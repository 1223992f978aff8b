"""Sweeps: the same tables whichever way the runs are executed, resumable, checked
before anything runs, with confidence intervals from Student's t."""
from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from simulator.commands.cli import main
from simulator.engine.stats import summarise, t_quantile_975
from simulator.commands.sweep import load_sweep, parse_path, run_sweep, set_path

ROOT = Path(__file__).resolve().parent.parent

SWEEP = """\
sweep:
  base: {base}
  replications: 3
  seed: 11
  vary:
    workload[0].arrival.rate: [0.05, 0.2]
    services.scheduler.workers: [1, 2]
  metrics: [latency.mean, latency.p90, services.nova-scheduler.utilisation, throughput.per_hour]
"""


@pytest.fixture
def sweep_file(tmp_path):
    path = tmp_path / "sweep.yaml"
    path.write_text(SWEEP.format(base=ROOT / "scenarios" / "single-resize.yaml"))
    # a base with a Poisson stream to vary
    base = tmp_path / "base.yaml"
    base.write_text((ROOT / "scenarios" / "default.yaml").read_text())
    path.write_text(SWEEP.format(base="base.yaml"))
    return path


def tables(d):
    return (d / "runs.csv").read_text(), (d / "points.csv").read_text()


def test_jobs_1_jobs_2_and_dask_give_the_same_tables(sweep_file, tmp_path):
    sweep = load_sweep(str(sweep_file))
    assert len(sweep.points) == 4
    run_sweep(sweep, tmp_path / "j1", jobs=1)
    run_sweep(sweep, tmp_path / "j2", jobs=2)
    assert tables(tmp_path / "j1") == tables(tmp_path / "j2")
    pytest.importorskip("distributed")
    run_sweep(sweep, tmp_path / "dask", dask="local")
    assert tables(tmp_path / "j1") == tables(tmp_path / "dask")


def test_an_interrupted_sweep_resumes_to_the_same_tables(sweep_file, tmp_path):
    sweep = load_sweep(str(sweep_file))
    run_sweep(sweep, tmp_path / "full", jobs=1)
    calls = []

    class Stop(Exception):
        pass

    def interrupt(rec):
        calls.append(rec)
        if len(calls) == 5:
            raise Stop

    with pytest.raises(Stop):
        run_sweep(sweep, tmp_path / "part", jobs=1, on_run=interrupt)
    assert len(list((tmp_path / "part" / "runs").glob("*.json"))) == 5
    info = run_sweep(sweep, tmp_path / "part", jobs=1)
    assert (info["skipped"], info["ran"]) == (5, 7)
    assert tables(tmp_path / "full") == tables(tmp_path / "part")


def test_replications_use_common_seeds_and_adding_some_keeps_the_first(sweep_file, tmp_path):
    three = load_sweep(str(sweep_file))
    five = load_sweep(str(sweep_file), replications=5)
    assert five.seeds()[:3] == three.seeds()
    run_sweep(three, tmp_path / "a", jobs=1)
    runs = (tmp_path / "a" / "runs.csv").read_text().splitlines()[1:]
    seeds_by_rep = {}
    for line in runs:
        point, rep, seed = line.split(",")[:3]
        seeds_by_rep.setdefault(rep, set()).add(seed)
    assert all(len(s) == 1 for s in seeds_by_rep.values())  # the same seed at every point
    meta = json.loads((tmp_path / "a" / "sweep.json").read_text())
    assert len(meta["runs"]) == 12 and all(len(r["scenario_hash"]) == 16 for r in meta["runs"])


def test_points_hold_the_mean_sd_and_students_t_interval(sweep_file, tmp_path):
    sweep = load_sweep(str(sweep_file))
    run_sweep(sweep, tmp_path / "s", jobs=1)
    import csv

    runs = list(csv.DictReader((tmp_path / "s" / "runs.csv").open()))
    points = list(csv.DictReader((tmp_path / "s" / "points.csv").open()))
    xs = [float(r["latency.mean"]) for r in runs if r["point"] == "0"]
    st = summarise(xs)
    p0 = points[0]
    assert float(p0["latency.mean.mean"]) == pytest.approx(st["mean"])
    half = 4.302653 * st["sd"] / math.sqrt(3)  # t(0.975, 2)
    assert float(p0["latency.mean.ci95_high"]) == pytest.approx(st["mean"] + half)
    assert int(p0["replications"]) == 3


def test_t_quantiles():
    assert t_quantile_975(1) == pytest.approx(12.706205)
    assert t_quantile_975(60) == pytest.approx(2.000298, abs=2e-5)
    assert t_quantile_975(10_000) == pytest.approx(1.960201, abs=1e-5)


@pytest.mark.parametrize("text, path, expected", [
    ("sweep:\n  base: base.yaml\n  vary:\n    workload[0].arival.rate: [0.1]\n",
     "sweep.vary", "unknown key (did you mean 'arrival'?)"),
    ("sweep:\n  base: base.yaml\n  vary:\n    workload[7].arrival.rate: [0.1]\n",
     "sweep.vary.workload[7].arrival.rate", "there is no item [7]"),
    ("sweep:\n  base: base.yaml\n  vary:\n    workload[0].arrival.rate: [-1]\n",
     "sweep.vary", "greater than 0"),
    ("sweep:\n  base: base.yaml\n  vary:\n    workload[0].arrival.rate: [0.1]\n  metrics: [latency.p95]\n",
     "sweep.metrics[0]", "not a metric of summary.json"),
    ("sweep:\n  base: nope.yaml\n  vary: {a: [1]}\n", "sweep.base", "not found"),
    ("sweep:\n  base: base.yaml\n  replications: 0\n  vary: {a: [1]}\n", "sweep.replications", ">= 1"),
    ("sweep:\n  base: base.yaml\n  vary: {x: [1], y: [1, 2]}\n  mode: zip\n", "sweep.vary", "one length"),
    ("sweep:\n  base: base.yaml\n  colour: red\n  vary: {a: [1]}\n", "sweep.colour", "unknown key"),
])
def test_a_bad_sweep_is_refused_before_any_run(tmp_path, capsys, text, path, expected):
    (tmp_path / "base.yaml").write_text((ROOT / "scenarios" / "default.yaml").read_text())
    f = tmp_path / "bad.yaml"
    f.write_text(text)
    out = tmp_path / "out"
    assert main(["sweep", str(f), "--out", str(out), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert f"{f}: {path}" in err and expected in err, err
    assert not out.exists()


def test_sweep_from_the_command_line(tmp_path, capsys):
    out = tmp_path / "cli"
    code = main(["sweep", "--base", str(ROOT / "scenarios/default.yaml"), "--vary",
                 "workload[0].arrival.rate=0.05,0.1", "--replications", "2", "--metric", "latency.p50",
                 "--out", str(out), "--quiet"])
    assert code == 0
    assert (out / "points.csv").read_text().count("\n") == 3
    assert (out / "throughput.png").exists() and (out / "metric-latency.p50.png").exists()
    assert main(["plot", str(out)]) == 0


def test_paths():
    assert parse_path("workload[0].arrival.rate") == ["workload", 0, "arrival", "rate"]
    d = {"a": [{"b": 1}]}
    set_path(d, "a[0].c.d", 5)
    assert d == {"a": [{"b": 1, "c": {"d": 5}}]}
    with pytest.raises(ValueError):
        parse_path("a..b[")


def test_a_changed_sweep_in_the_same_directory_does_not_reuse_old_runs(sweep_file, tmp_path):
    first = load_sweep(str(sweep_file))
    run_sweep(first, tmp_path / "s", jobs=1)
    changed = load_sweep(str(sweep_file), vary={"workload[0].arrival.rate": [0.4, 0.8]})
    info = run_sweep(changed, tmp_path / "s", jobs=1)
    assert info["skipped"] == 0 and info["ran"] == 12
    more_metrics = load_sweep(str(sweep_file), vary={"workload[0].arrival.rate": [0.4, 0.8]},
                              metrics=["latency.mean", "phases.disk_copy.mean"])
    info = run_sweep(more_metrics, tmp_path / "s", jobs=1)
    assert info["ran"] == 12
    assert ",," not in (tmp_path / "s" / "points.csv").read_text().splitlines()[1]


def test_three_varied_keys_and_keys_set_together(tmp_path):
    out = tmp_path / "three"
    assert main(["sweep", "--base", str(ROOT / "scenarios/default.yaml"),
                 "--vary", "workload[0].arrival.rate=0.1,0.4", "--vary", "services.scheduler.workers=1,2",
                 "--vary", "hosts[0].nic_gbps,hosts[1].nic_gbps=10,25", "--replications", "1",
                 "--out", str(out), "--quiet"]) == 0
    meta = json.loads((out / "sweep.json").read_text())
    assert len(meta["sweep"]["points"]) == 8
    assert (out / "utilisation.png").exists() and (out / "throughput.png").exists()


@pytest.mark.parametrize("args, expected", [
    (["--vary", "workload[0].arrival.rate=[1,2"], "cannot read the values"),
    (["--vary", "seed=1,2"], "each replication sets the run's seed"),
    (["--vary", "workload[0].arrival.rate=0.1", "--metric", "requests.by_reason.Nope"], "not a metric"),
    (["--vary", "workload[0].arrival.rate=0.1", "--jobs", "0"], "expected a whole number >= 1"),
])
def test_bad_command_line_sweeps(tmp_path, capsys, args, expected):
    with pytest.raises(SystemExit) if "--jobs" in args else _nothing():
        code = main(["sweep", "--base", str(ROOT / "scenarios/default.yaml"), *args, "--out", str(tmp_path / "o"),
                     "--quiet"])
        assert code == 2
    err = capsys.readouterr().err
    assert expected in err and err.count("\n") == 1 and "Traceback" not in err
    assert not (tmp_path / "o").exists()


class _nothing:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False
