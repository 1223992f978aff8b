"""Teaching views: the step narration, the sequence diagram, the timeline and the
golden walkthrough."""
from __future__ import annotations

import io
import json
import re
from pathlib import Path

import simulator
from plots.sequence import arrows, draw_sequence
from simulator.commands.cli import main
from simulator.commands.step import step

ROOT = Path(__file__).resolve().parent.parent
TEACH = ROOT / "scenarios" / "teaching"


def step_output(path, request=1, tmp=None):
    buf = io.StringIO()
    assert step(str(path), request, out=str(tmp), pause=True, stdout=buf, stdin=io.StringIO("")) == 0
    return buf.getvalue()


def hops_of(text):
    """(from, to, kind, function) of each hop header."""
    return re.findall(r"^(\S+) → (\S+)\s+(HTTP|CALL|CAST|REPLY)\s+(\S+)", text, flags=re.M)


def test_step_tells_a_resize_hop_by_hop(tmp_path):
    text = step_output(ROOT / "scenarios/single-resize.yaml", tmp=tmp_path)
    assert hops_of(text) == [
        ("user", "nova-api", "HTTP", "resize"),
        ("nova-api", "nova-conductor", "CALL", "migrate_server"),
        ("nova-conductor", "nova-scheduler", "CALL", "select_destinations"),
        ("nova-scheduler", "nova-conductor", "REPLY", "migrate_server"),
        ("nova-conductor", "nova-compute@cmp02", "CAST", "prep_resize"),
        ("nova-conductor", "nova-api", "REPLY", "resize"),
        ("nova-compute@cmp02", "nova-compute@cmp01", "CAST", "resize_instance"),
        ("nova-compute@cmp01", "nova-compute@cmp02", "CAST", "finish_resize"),
        ("user", "nova-api", "HTTP", "confirm_resize"),
        ("nova-api", "nova-compute@cmp01", "CAST", "confirm_resize"),
    ]
    # Nova's file and class for each function
    assert "runs nova/compute/manager.py ComputeManager.prep_resize" in text
    assert "runs nova/conductor/manager.py ComputeTaskManager.migrate_server" in text
    # the states after each change, in order
    states = re.findall(r"^  state: (.*)$", text, flags=re.M)
    assert states[:3] == ["task_state None → resize_prep", "migration None → pre-migrating",
                          "migration pre-migrating → migrating"]
    assert "vm_state active → resized, task_state resize_finish → None, (the API now shows VERIFY_RESIZE)" in states
    assert states[-1] == "vm_state resized → active"
    # why this host
    assert "ignore_hosts/force_hosts           2 → 1    removed cmp01" in text
    assert "chosen: cmp02, the only host left" in text
    # the driver's work and resources
    assert "driver: power_off took 12.000000 s (clean shutdown)" in text
    assert "driver: copy_disks took 585.142857 s" in text
    assert "resources: the new flavor claimed on cmp02" in text
    assert "dest cmp02 used/limit: vcpus 2/256, ram_mb 4608/98304, disk_gb 40/1000" in text
    # not a terminal: no pause, no colour codes
    assert "[Enter]" not in text and "\x1b[" not in text
    assert (tmp_path / "sequence.png").exists() and (tmp_path / "sequence.svg").exists()


def test_step_shows_the_queue_a_hop_waited_in(tmp_path):
    text = step_output(TEACH / "under-load.yaml", request=40, tmp=tmp_path)
    assert re.search(r"waited \d+\.\d+ s in the nova-scheduler queue behind \d+ other message", text)


def test_step_shows_a_reschedule(tmp_path):
    text = step_output(TEACH / "race.yaml", request=2, tmp=tmp_path)
    assert "resource tracker: resize_claim refused: Insufficient compute resources" in text
    assert "RetryFilter                        2 → 1    removed cmp02" in text
    assert ("nova-compute@cmp02", "nova-conductor", "CALL", "migrate_server") in hops_of(text)


def test_step_cli_no_pause_and_an_unknown_request(tmp_path, capsys):
    assert main(["step", str(TEACH / "one-resize.yaml"), "--no-pause", "--out", str(tmp_path)]) == 0
    assert "hop 10" in capsys.readouterr().out
    assert main(["step", str(TEACH / "one-resize.yaml"), "--request", "5", "--out", str(tmp_path / "x")]) == 2
    assert "request 5 does not exist" in capsys.readouterr().err


def test_sequence_arrows_come_from_the_trace(tmp_path):
    """A plain resize, a revert and a reschedule draw different arrows, each exactly
    the messages in the request's trace."""
    drawn = {}
    for name, req in (("one-resize", 1), ("revert", 1), ("race", 2)):
        result = simulator.run(str(TEACH / f"{name}.yaml"), keep_trace=True)
        records = [r for r in result.trace if r["request"] == req]
        got = draw_sequence(records, tmp_path / f"{name}.png", title=name, source=result.request(req)["source"])
        assert got == [a for a in arrows(records)]
        drawn[name] = got
    casts = lambda arr: [(f, t, n) for k, f, t, n in arr if k == "rpc.cast"]  # noqa: E731
    assert ("nova-api", "nova-compute@cmp02", "revert_resize") in casts(drawn["revert"])
    assert ("nova-compute@cmp02", "nova-compute@cmp01", "finish_revert_resize") in casts(drawn["revert"])
    assert not any(n == "revert_resize" for _, _, n in casts(drawn["one-resize"]))
    calls = [(f, t, n) for k, f, t, n in drawn["race"] if k == "rpc.call"]
    assert ("nova-compute@cmp02", "nova-conductor", "migrate_server") in calls  # the reschedule
    assert len([c for c in calls if c[2] == "select_destinations"]) == 2


def test_timeline_is_valid_trace_event_json(tmp_path):
    assert main(["run", str(TEACH / "race.yaml"), "--out", str(tmp_path), "--quiet", "--no-plots"]) == 0
    doc = json.loads((tmp_path / "timeline.json").read_text())
    events = doc["traceEvents"]
    assert all({"ph", "pid"} <= set(e) for e in events)
    names = {e["args"]["name"] for e in events if e["ph"] == "M" and e["name"] == "process_name"}
    assert {"nova-api", "nova-conductor", "nova-scheduler", "nova-compute@cmp01",
            "nova-compute@cmp02", "nova-compute@cmp03"} <= names
    slices = [e for e in events if e["ph"] == "X" and e["args"].get("request") == 2]
    assert [s["name"] for s in sorted(slices, key=lambda s: s["ts"]) if s["cat"] not in ("driver", "user")][:4] == [
        "resize", "migrate_server", "select_destinations", "prep_resize"]
    assert any(s["cat"] == "user" and s["name"] == "HTTP resize" for s in slices)
    # every flow arrow starts inside a slice of its track (or Perfetto drops it)
    tracks = {}
    for e in events:
        if e["ph"] == "X":
            tracks.setdefault((e["pid"], e["tid"]), []).append((e["ts"], e["ts"] + e["dur"]))
    for e in events:
        if e["ph"] == "s":
            assert any(a <= e["ts"] <= b for a, b in tracks[(e["pid"], e["tid"])]), e
    assert all(s["dur"] >= 0 for s in slices)
    starts = {e["id"] for e in events if e["ph"] == "s"}
    ends = {e["id"] for e in events if e["ph"] == "f"}
    assert starts == ends and len(starts) == 15  # 6 messages handled for request 1, 9 for request 2
    assert any(e["ph"] == "M" and e["name"] == "thread_name" for e in events)
    assert any(e["ph"] == "C" and e["name"] == "queue" for e in events)
    assert main(["run", str(TEACH / "race.yaml"), "--out", str(tmp_path / "n"), "--quiet", "--no-plots",
                 "--no-timeline"]) == 0
    assert not (tmp_path / "n" / "timeline.json").exists()


def test_the_walkthrough_matches_what_step_prints_today(tmp_path):
    """docs/walkthrough.md embeds `step --no-pause` of the single-resize scenario; it
    must never drift from the code (regenerate with python docs/make_walkthrough.py)."""
    doc = (ROOT / "docs" / "walkthrough.md").read_text(encoding="utf-8")
    m = re.search(r"<!-- step output begins -->\n```text\n(.*?)```\n<!-- step output ends -->", doc, flags=re.S)
    assert m, "the walkthrough has no step output block"
    text = step_output(ROOT / "scenarios/single-resize.yaml", tmp=tmp_path)
    text = text.replace(str(tmp_path), "results/single-resize")
    assert m.group(1) == text
