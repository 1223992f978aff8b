"""The command line as a user meets it."""
from __future__ import annotations

import csv
import json
import subprocess
import sys
from pathlib import Path

import pytest

import simulator
from models.request import COLUMNS, PHASES
from simulator.commands.cli import main

ROOT = Path(__file__).resolve().parent.parent


def test_no_argument_runs_the_default_scenario_into_results_default(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert main([]) == 0
    out = tmp_path / "results" / "default"
    assert sorted(p.name for p in out.iterdir()) == [
        "flows.csv", "instance_action_events.csv", "instance_actions.csv", "latency.png", "links.png",
        "operator_actions.csv", "phases.png", "requests.csv", "scheduling.csv", "states.png", "summary.json",
        "timeline.json", "trace.jsonl"]
    report = capsys.readouterr().out
    assert report.startswith("default: 40 requests") and "results in results/default/" in report


def test_outputs_have_the_contracted_shape(tmp_path):
    out = tmp_path / "o"
    assert main(["run", str(ROOT / "scenarios/default.yaml"), "--out", str(out), "--quiet", "--no-plots"]) == 0
    rows = list(csv.DictReader((out / "requests.csv").open()))
    assert tuple(rows[0]) == COLUMNS
    assert {"api", "conductor", "scheduler", "prep_resize", "power_off", "disk_copy",
            "finish_resize", "confirm", "queue_wait"} <= set(COLUMNS)
    first = json.loads((out / "trace.jsonl").open().readline())
    assert list(first)[:7] == ["t", "request", "instance", "service", "host", "event", "name"]
    s = json.loads((out / "summary.json").read_text())
    assert s["scenario"]["nova"]["ram_allocation_ratio"] == 1.5  # defaults filled in
    assert sum(s["requests"]["by_status"].values()) == s["requests"]["total"] == len(rows)
    for key in ("mean", "p50", "p90", "p99", "max"):
        assert key in s["latency"]
    for svc in ("nova-api", "nova-conductor", "nova-scheduler", "nova-compute"):
        assert {"utilisation", "mean_wait", "max_queue"} <= set(s["services"][svc])
    assert set(s["phases"]) == set(PHASES)
    assert s["events"] > 0 and s["sim_time"] > 0 and "wall_seconds" in s


def test_check_prints_a_one_screen_summary(capsys):
    assert main(["check", str(ROOT / "scenarios/default.yaml")]) == 0
    text = capsys.readouterr().out
    assert "valid" in text and "8 in 2 rack(s)" in text and "40: 30 m1.small, 10 m1.medium" in text
    assert len(text.splitlines()) < 25


def test_an_interrupted_run_leaves_no_file_that_looks_complete(tmp_path, monkeypatch):
    import plots.run_plots

    def boom(*_a, **_k):
        raise KeyboardInterrupt

    monkeypatch.setattr(plots.run_plots, "write_run_plots", boom)
    out = tmp_path / "o"
    with pytest.raises(KeyboardInterrupt):
        simulator.run(str(ROOT / "scenarios/default.yaml"), out=out)
    assert list(out.iterdir()) == []


@pytest.mark.parametrize("args", [["--help"], ["run", "--help"], ["check", "--help"]])
def test_help_everywhere(args):
    p = subprocess.run([sys.executable, str(ROOT / "run_sim.py"), *args], capture_output=True, text=True)
    assert p.returncode == 0 and "usage:" in p.stdout


def test_every_shipped_scenario_passes_its_own_check(capsys):
    for path in sorted((ROOT / "scenarios").rglob("*.yaml")):
        assert main(["check", str(path)]) == 0, path


def test_python_api_returns_summary_rows_and_trace():
    r = simulator.run(str(ROOT / "scenarios/default.yaml"), seed=5)
    assert r.summary["seed"] == 5 and len(r.rows) == 40 and r.trace[0]["t"] == r.trace[0]["t"]
    assert r.request(1)["request"] == 1


def test_explain_shows_each_attempt_the_filters_weights_and_claims(capsys):
    assert main(["explain", str(ROOT / "scenarios/fidelity/race.yaml"), "--request", "2"]) == 0
    text = capsys.readouterr().out
    assert text.count("\nattempt ") == 2
    assert "RetryFilter                           2 → 1        removed: cmp02" in text
    assert "claim on cmp02 refused: Insufficient compute resources" in text
    assert "chosen: cmp03" in text and "claim on cmp03: accepted" in text


def test_explain_names_an_unknown_request(capsys):
    assert main(["explain", str(ROOT / "scenarios/fidelity/race.yaml"), "--request", "9"]) == 2
    assert "request 9 does not exist: the run had 2 request(s)" in capsys.readouterr().err
