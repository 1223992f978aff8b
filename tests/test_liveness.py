"""Liveness: what ComputeFilter sees of the computes' reports (reference section 10;
the reports go through nova-conductor). Times are hand-computed from
report_interval 10 s (first report at 5 s) and service_down_time 60 s."""
from __future__ import annotations

import numpy as np

import simulator
from models.liveness import Liveness
from tests.conftest import tiny


class Hosts:
    def __init__(self, n: int):
        self.up = np.ones(n, dtype=bool)

    def __len__(self) -> int:
        return len(self.up)


def seen(live: Liveness, t: float) -> list[bool]:
    live.refresh(t)
    return live.hosts.up.tolist()


def make(n: int = 3) -> Liveness:
    return Liveness(Hosts(n), report_interval=10.0, service_down_time=60.0)


def test_a_down_conductor_makes_every_compute_look_down_a_minute_after_the_last_report():
    live = make()
    live.reports_stopped("conductor", 32.0)  # last reports got through at 25 s
    assert seen(live, 85.0) == [True] * 3  # 60 s old: still up (Nova's "<=")
    assert seen(live, 85.001) == [False] * 3
    live.reports_started("conductor", 120.0)  # the queued reports are handled now
    assert seen(live, 120.0) == [True] * 3
    assert seen(live, 185.0) == [True] * 3  # reporting again (125, 135, ...)


def test_a_compute_that_crashed_while_the_conductor_was_down_looks_up_when_the_conductor_returns():
    """Its reports of 35 and 45 s wait in the conductor's queue; handled at 120 s, they
    make the dead host look up until 180 s."""
    live = make()
    live.reports_stopped("conductor", 32.0)
    live.compute_stopped(1, 50.0)
    live.reports_started("conductor", 120.0)
    assert seen(live, 150.0) == [True, True, True]
    assert seen(live, 180.001) == [True, False, True]


def test_a_compute_that_crashed_before_the_conductor_stopped_sent_it_nothing():
    live = make()
    live.compute_stopped(1, 30.0)  # last report at 25 s
    live.reports_stopped("conductor", 32.0)
    live.reports_started("conductor", 70.0)
    assert seen(live, 85.0) == [True, True, True]
    assert seen(live, 85.001) == [True, False, True]


def test_a_restarted_compute_is_up_from_its_first_report_five_seconds_later():
    live = make()
    live.compute_stopped(0, 100.0)  # last report at 95 s: down after 155 s
    assert seen(live, 155.0)[0] and not seen(live, 155.001)[0]
    live.compute_started(0, 200.0)
    assert not seen(live, 204.9)[0]
    assert seen(live, 205.0)[0]
    assert seen(live, 400.0)[0]


def test_a_host_declared_down_stays_down():
    hosts = Hosts(2)
    hosts.up[1] = False
    live = Liveness(hosts, 10.0, 60.0)
    live.reports_stopped("conductor", 10.0)
    live.reports_started("conductor", 20.0)
    assert seen(live, 21.0) == [True, False]


def late_scheduling(conductor_back: float) -> list:
    """The conductor sends select_destinations at about 10 s; the message takes 100 s
    more to reach the scheduler (message_delay), and the conductor stops at 20 s."""
    s = tiny(faults=[{"kind": "message_delay", "topic": "scheduler", "extra": 100},
                     {"kind": "service_down", "service": "conductor", "at": 20, "for": conductor_back - 20}])
    result = simulator.run(s)
    return [(row[4], row[5], row[6]) for row in result.scheduling if row[4] == "ComputeFilter"]


def test_the_scheduler_sees_no_compute_up_while_the_conductor_has_been_down_over_a_minute():
    """At about 110 s the last reports that got through were at 15 s: both hosts down."""
    assert late_scheduling(conductor_back=300) == [("ComputeFilter", 1, 0)]


def test_the_scheduler_sees_the_computes_again_once_the_conductor_is_back():
    """The conductor is back at 60 s: reports flow again, and at 110 s cmp2 passes
    (cmp1 is the source, removed by the filter before: 1 host in)."""
    assert late_scheduling(conductor_back=60) == [("ComputeFilter", 1, 1)]


def test_a_long_broker_outage_makes_every_compute_look_down_until_it_is_back():
    """No report can be sent while RabbitMQ is down (32 s to 150 s); the held ones go
    through when it is back. cmp1's compute crashed at 50 s: its held report died with
    it, so it stays down."""
    live = make()
    live.reports_stopped("broker", 32.0)
    live.compute_stopped(0, 50.0)
    assert seen(live, 85.001) == [False] * 3
    live.reports_started("broker", 150.0)
    assert seen(live, 150.0) == [False, True, True]


def test_reports_wait_for_both_the_broker_and_the_conductor():
    live = make()
    live.reports_stopped("conductor", 32.0)
    live.reports_stopped("broker", 40.0)
    live.reports_started("broker", 60.0)  # the conductor is still down: still held
    assert seen(live, 90.0) == [False] * 3
    live.reports_started("conductor", 100.0)
    assert seen(live, 100.0) == [True] * 3
