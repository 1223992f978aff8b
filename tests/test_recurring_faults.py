"""Faults that recur at a Poisson rate: each occurrence lasts its `for`
(`restart_after`), the next strikes an exponential time after it ends, and they never
keep a run going by themselves."""
from __future__ import annotations

import pytest
import yaml

import simulator
from simulator.commands.cli import main
from simulator.engine.environment import Environment
from simulator.engine.random_streams import RandomStreams
from tests.conftest import tiny


def fault_events(result, kind):
    return [r for r in result.trace if r["event"] == "fault" and r["name"] == kind]


def test_a_recurring_crash_strikes_an_exponential_time_after_each_restart():
    """cmp2 crashes at rate 1/300 s and restarts 20 s later; the stop times are the
    stream's draws, each counted from the previous restart. The user confirms 3000 s
    after VERIFY_RESIZE, so the run lasts long enough for several crashes."""
    s = tiny(faults=[{"kind": "compute_crash", "host": "cmp2", "rate": "12/h", "restart_after": 20}])
    s["workload"][0]["confirm_after"] = 3000
    result = simulator.run(s)
    stops = [r["t"] for r in fault_events(result, "compute_crash") if r["phase"] == "stop"]
    restarts = [r["t"] for r in fault_events(result, "compute_crash") if r["phase"] == "restart"]
    rng = RandomStreams(7).stream("faults[0].cmp2")
    expected, t = [], 0.0
    while True:
        t += rng.expovariate(1 / 300)
        if t > result.summary["sim_time"]:
            break
        expected.append(t)
        t += 20
    assert len(expected) >= 5
    assert stops == pytest.approx(expected, abs=1e-6)
    assert restarts == pytest.approx([x + 20 for x in expected if x + 20 <= result.summary["sim_time"]], abs=1e-6)
    assert result.summary["faults"]["struck"]["compute_crash"] == len(stops)
    assert result.request(1)["status"] in ("confirmed", "stuck")


def test_a_host_range_crashes_each_host_on_its_own():
    """Each host named has its own stream of crashes: here cmp1's first comes at 86 s,
    mid-copy, which ends the move (ResetOnStartup) and the run before cmp2's first."""
    s = tiny(faults=[{"kind": "compute_crash", "host": "cmp[1-2]", "rate": 0.01, "restart_after": 5}])
    s["workload"][0]["confirm_after"] = 2000
    result = simulator.run(s)
    end = result.summary["sim_time"]
    for host in ("cmp1", "cmp2"):
        stops = [r["t"] for r in fault_events(result, "compute_crash") if r["host"] == host and r["phase"] == "stop"]
        first = RandomStreams(7).stream(f"faults[0].{host}").expovariate(0.01)
        assert stops[:1] == ([pytest.approx(first)] if first <= end else [])
    assert result.request(1)["reason"] == "ResetOnStartup"


def test_a_recurring_fault_never_keeps_a_run_going():
    """The prep_resize cast is lost, so the request is stuck at once; crashes that
    recur for ever on cmp1 do not turn that into a run without end."""
    s = tiny(faults=[{"kind": "message_loss", "topic": "compute.cmp2", "probability": 1.0},
                     {"kind": "compute_crash", "host": "cmp1", "rate": 0.001, "restart_after": 60}])
    result = simulator.run(s)
    assert (result.request(1)["status"], result.request(1)["reason"]) == ("stuck", "task_state resize_prep")
    # it ends when it would without the crashes: when nothing else is left to happen
    assert result.summary["sim_time"] == simulator.run(tiny(faults=s["faults"][:1])).summary["sim_time"]


def test_a_recurring_window_fault_strikes_only_inside_its_windows():
    """Messages to the scheduler take 50 s more inside windows of 100 s that open at
    rate 1/100 s; outside them, the broker's 1 ms."""
    s = tiny(instances=[{"name": "vm[01-20]", "flavor": "small", "disk_used_gb": 1, "host": "cmp1"}],
             workload=[{"op": "resize", "flavor": "medium", "instance": "vm[01-20]", "count": 20,
                        "arrival": {"process": "periodic", "interval": 40}}],
             faults=[{"kind": "message_delay", "topic": "scheduler", "extra": 50, "rate": 0.01, "for": 100}])
    result = simulator.run(s)
    marks = [(r["t"], r["phase"]) for r in fault_events(result, "message_delay") if "phase" in r]
    windows = [(a[0], b[0]) for a, b in zip(marks[::2], marks[1::2])]
    assert windows and all(a[1] == "start" and b[1] == "end" for a, b in zip(marks[::2], marks[1::2]))
    assert all(b - a == pytest.approx(100) for a, b in windows)
    sends = [r for r in result.trace if r["event"] == "rpc.call" and r["name"] == "select_destinations"]
    delayed = [r["arrives"] - r["t"] > 40 for r in sends]
    inside = [any(a <= r["t"] < b for a, b in windows) for r in sends]
    assert delayed == inside and any(delayed) and not all(delayed)


def test_background_events_fire_only_while_something_else_is_to_come():
    env = Environment()
    fired = []

    def bg(delay):
        yield env.background(delay)
        fired.append(env.now)

    env.process(bg(5))
    env.process(bg(50))
    env.timeout(10)  # the last thing to happen
    env.run()
    assert fired == [5] and env.now == 10


@pytest.mark.parametrize("faults, expected", [
    ([{"kind": "compute_crash", "host": "cmp1", "rate": 0.01}],
     "a recurring compute_crash fault (with 'rate') needs 'restart_after'"),
    ([{"kind": "service_slow", "service": "api", "factor": 2, "rate": "2/h"}],
     "a recurring service_slow fault (with 'rate') needs 'for'"),
    ([{"kind": "boot_fail", "probability": 1, "rate": "2 per fortnight", "for": 5}],
     "unknown time unit 'fortnight'"),
    ([{"kind": "boot_fail", "probability": 1, "rate": 0, "for": 5}], "faults[0].rate"),
    ([{"kind": "compute_crash", "host": "cmp[1-3]", "at": 5}], "unknown host 'cmp3'"),
])
def test_recurring_faults_are_validated(tmp_path, capsys, faults, expected):
    p = tmp_path / "f.yaml"
    p.write_text(yaml.safe_dump(tiny(faults=faults)))
    assert main(["run", str(p), "--quiet", "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert expected in err and err.count("\n") == 1, err


def test_rates_take_units():
    from simulator.engine.units import in_unit

    assert in_unit("2/h", "per_s") == pytest.approx(2 / 3600)
    assert in_unit("1 per day", "per_s") == pytest.approx(1 / 86400)
    assert in_unit("1/12h", "per_s") == pytest.approx(1 / 43200)
    assert in_unit("3 per 30 min", "per_s") == pytest.approx(3 / 1800)
    assert in_unit(0.5, "per_s") == 0.5


def test_a_recurring_crash_restarts_when_a_cast_waits_for_it():
    """Seed 2: cmp2's nova-compute crashes at 9.34 s (recurrences from 9 s at rate 1/s)
    and is down 300 s. The prep_resize cast waits in its queue; the restart is a
    background event, but the waiting cast makes it happen: prep_resize runs then.
    (cmp2 crashes again 0.5 s later, and again while finish_resize runs: at this rate
    the request ends stuck.)"""
    s = tiny(seed=2, faults=[{"kind": "compute_crash", "host": "cmp2", "at": 9, "rate": 1,
                              "restart_after": 300}])
    result = simulator.run(s)
    stop, restart = [r["t"] for r in fault_events(result, "compute_crash")][:2]
    assert stop == pytest.approx(9 + RandomStreams(2).stream("faults[0].cmp2").expovariate(1.0))
    assert restart == pytest.approx(stop + 300)
    assert result.request(1)["dest"] == "cmp2"
    prep = [r for r in result.trace if r["event"] == "step.start" and r["name"] == "prep_resize"][0]
    assert prep["t"] == pytest.approx(restart)


def test_recurring_faults_do_not_keep_each_other_going():
    """Two hosts crashing about once a second, each down 120 s, always overlap; with the
    request stuck at once (its prep_resize cast lost), the run still ends when it would
    without them."""
    lost = {"kind": "message_loss", "topic": "compute.cmp2", "probability": 1.0}
    s = tiny(faults=[lost, {"kind": "compute_crash", "host": "cmp[1-2]", "rate": 1, "restart_after": 120}])
    assert simulator.run(s).summary["sim_time"] == simulator.run(tiny(faults=[lost])).summary["sim_time"]


def test_the_operator_keeps_watching_while_a_recurring_outage_holds_a_cast():
    """Seed 3: cmp2 crashes at 9.27 s (recurrences from 9 s) and is down 300 s with the
    prep_resize cast in its queue; after the restart the guest fails to boot. The
    operator's policy still runs then, and hard-reboots the instance."""
    s = tiny(seed=3, faults=[{"kind": "compute_crash", "host": "cmp2", "at": 9, "rate": 0.5, "restart_after": 300},
                             {"kind": "boot_fail", "probability": 1}],
             operator={"hard_reboot_errors": True, "check_every": 10},
             guest={"shutdown": 0.01, "boot": 0.01},
             instances=[{"name": "vm1", "flavor": "small", "disk_used_gb": 0.01, "host": "cmp1"}])
    result = simulator.run(s)
    assert result.request(1)["reason"] == "LibvirtError"
    assert [(a[1], a[2]) for a in result.actions] == [("hard_reboot", "policy")]
    assert result.summary["faults"]["instances_left"] == {}


def test_an_auto_confirm_put_off_by_a_recurring_crash_waits_for_the_restart():
    """Seed 3: cmp2 (the destination, which runs the auto-confirm) crashes at 312.7 s,
    before its periodic run, and is down 100 s. The confirm put off by the crash makes
    the restart (a background event) happen; the first periodic run after it
    confirms."""
    s = tiny(seed=3, nova={"resize_confirm_window": 60},
             faults=[{"kind": "compute_crash", "host": "cmp2", "rate": 0.05, "at": 310, "restart_after": 100}])
    result = simulator.run(s)
    stop, restart = [r["t"] for r in fault_events(result, "compute_crash")][:2]
    poll = [r["t"] for r in result.trace if r["event"] == "step.start" and r["name"] == "_poll_unconfirmed_resizes"]
    assert stop < 320 and len(poll) == 1 and restart + 5 <= poll[0] < restart + 65
    assert result.request(1)["status"] == "confirmed"


def test_a_host_range_gives_each_host_its_own_failure_windows():
    s = tiny(faults=[{"kind": "boot_fail", "probability": 1.0, "host": "cmp[1-2]", "rate": 0.01, "for": 50}])
    s["workload"][0]["confirm_after"] = 3000
    result = simulator.run(s)
    marks = [(r["host"], r["phase"]) for r in fault_events(result, "boot_fail") if "phase" in r]
    assert {h for h, _ in marks} == {"cmp1", "cmp2"}
    first = {h: RandomStreams(7).stream(f"faults[0].{h}").expovariate(0.01) for h in ("cmp1", "cmp2")}
    starts = {}
    for r in fault_events(result, "boot_fail"):
        if r.get("phase") == "start":
            starts.setdefault(r["host"], r["t"])
    assert starts == pytest.approx(first)


def test_a_host_named_twice_is_refused(tmp_path, capsys):
    p = tmp_path / "f.yaml"
    p.write_text(yaml.safe_dump(tiny(faults=[{"kind": "compute_crash", "host": "cmp[2,2]", "rate": "1/h",
                                              "restart_after": 60}])))
    assert main(["run", str(p), "--quiet", "--out", str(tmp_path / "o")]) == 2
    assert "faults[0].host: names cmp2 more than once" in capsys.readouterr().err
