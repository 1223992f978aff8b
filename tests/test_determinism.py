"""Same scenario and seed → byte-identical outputs; another seed changes them."""
from __future__ import annotations

import json

from simulator.commands.cli import main


def _outputs(tmp_path, name, *extra):
    out = tmp_path / name
    assert main(["run", "scenarios/default.yaml", "--out", str(out), "--quiet", "--no-plots", *extra]) == 0
    summary = json.loads((out / "summary.json").read_text())
    summary.pop("wall_seconds")
    return ((out / "trace.jsonl").read_bytes(), (out / "requests.csv").read_bytes(),
            json.dumps(summary, sort_keys=True))


def test_same_seed_gives_identical_bytes(tmp_path):
    a = _outputs(tmp_path, "a")
    b = _outputs(tmp_path, "b")
    assert a == b


def test_another_seed_changes_the_outputs(tmp_path):
    a = _outputs(tmp_path, "a")
    c = _outputs(tmp_path, "c", "--seed", "2")
    assert a[0] != c[0] and a[1] != c[1] and a[2] != c[2]


def test_seed_flag_equals_the_scenario_seed(tmp_path):
    assert _outputs(tmp_path, "a") == _outputs(tmp_path, "b", "--seed", "1")


def test_every_output_file_is_identical_for_the_same_seed(tmp_path):
    """Plots, the timeline and the sequence diagram (PNG and SVG) included."""
    outs = []
    for name in ("a", "b"):
        out = tmp_path / name
        assert main(["run", "scenarios/teaching/one-resize.yaml", "--out", str(out), "--quiet",
                     "--request", "1", "--timeline"]) == 0
        summary = json.loads((out / "summary.json").read_text())
        summary.pop("wall_seconds")
        (out / "summary.json").write_text(json.dumps(summary))
        outs.append({p.name: p.read_bytes() for p in sorted(out.iterdir())})
    assert {"sequence.svg", "sequence.png", "timeline.json", "latency.png", "states.png"} <= set(outs[0])
    assert outs[0] == outs[1]
