"""The engine on its own: the bus's call / cast / timeout semantics, worker pools,
name ranges, distributions and random streams. None of it knows of Nova."""
from __future__ import annotations

import math
import random
import statistics
from types import SimpleNamespace

import pytest
import simpy

from simulator.engine.bus import MessageBus, MessagingTimeout
from simulator.engine.distributions import check_distribution, make_sampler
from simulator.engine.names import expand_names
from simulator.engine.random_streams import RandomStreams
from simulator.engine.recorder import TraceRecorder
from simulator.engine.workers import WorkerPool


class Echo:
    """A consumer with ``workers`` workers that takes ``work`` seconds per message,
    then replies to calls with the method name."""

    service, host = "echo", "h"

    def __init__(self, env, bus, workers, work, log):
        self.env, self.bus, self.work, self.log = env, bus, work, log
        self.pool = WorkerPool(env, "echo", workers, self.handle)

    def deliver(self, msg):
        self.pool.submit(msg)

    def queue_depth(self):
        return self.pool.queue_depth()

    def handles(self, method):
        return method != "unknown"

    def handle(self, msg, worker):
        self.log.append(("start", msg.method, self.env.now, worker))
        yield self.env.timeout(self.work)
        if msg.kind == "call":
            self.bus.reply(msg, (self.service, self.host), value=msg.method.upper())


CTX = SimpleNamespace(request=1, instance="vm", attempt=1)


def setup(workers=1, work=1.0, latency=0.5):
    env = simpy.Environment()
    rec = TraceRecorder(None)
    bus = MessageBus(env, lambda: latency, rec)
    log = []
    bus.register("echo", Echo(env, bus, workers, work, log))
    return env, bus, rec, log


def test_a_call_waits_for_the_reply_and_a_cast_does_not():
    env, bus, rec, log = setup()
    got = []

    def caller():
        t0 = env.now
        bus.cast(("me", None), "echo", "fire", {}, CTX)
        got.append(("cast returned", env.now - t0))
        value = yield bus.call(("me", None), "echo", "ask", {}, CTX, timeout=60)
        got.append((value, env.now - t0))

    env.process(caller())
    env.run()
    # the cast is handled 0.5 → 1.5, the call queues behind it: 1.5 → 2.5, reply at 3.0
    assert got == [("cast returned", 0), ("ASK", 3.0)]
    assert log == [("start", "fire", 0.5, 0), ("start", "ask", 1.5, 0)]
    assert [r["event"] for r in rec.records] == ["rpc.cast", "rpc.call", "rpc.reply"]


def test_a_call_times_out_and_the_late_reply_is_dropped():
    env, bus, rec, log = setup(work=10.0)
    got = []

    def caller():
        try:
            yield bus.call(("me", None), "echo", "ask", {}, CTX, timeout=5)
        except MessagingTimeout as exc:
            got.append((env.now, str(exc)))

    env.process(caller())
    env.run()
    assert got == [(5, "Timed out waiting for a reply to message ID 1 (ask, 5 s)")]
    assert bus.replies_dropped == 1  # the callee carried on and replied at 11


def _monitored_call(env, bus, timeout, monitor, got):
    def caller():
        try:
            value = yield bus.call(("me", None), "echo", "ask", {}, CTX, timeout=timeout, monitor=monitor)
            got.append((env.now, value))
        except MessagingTimeout as exc:
            got.append((env.now, str(exc)))
    env.process(caller())


def test_a_monitored_call_outlives_its_monitor_while_the_callee_heartbeats():
    # handled 0.5 → 90.5 (heartbeats at 30.5, 60.5), reply at 91: 60 s never pass without one
    env, bus, rec, log = setup(work=90.0)
    got = []
    _monitored_call(env, bus, 1800, 60, got)
    env.run()
    assert got == [(91.0, "ASK")]


def test_a_monitored_call_queued_behind_work_gets_no_heartbeat():
    # the first call holds the one worker 0.5 → 100.5; the second waits in the queue,
    # where nothing heartbeats: it gives up 60 s after its send
    env, bus, rec, log = setup(work=100.0)
    got = []
    bus.cast(("me", None), "echo", "fire", {}, CTX)
    _monitored_call(env, bus, 1800, 60, got)
    env.run()
    assert got == [(60.0, "Timed out waiting for a reply to message ID 2 (ask, no heartbeat in 60 s)")]


def test_a_monitored_call_gives_up_at_its_overall_timeout():
    env, bus, rec, log = setup(work=500.0)
    got = []
    _monitored_call(env, bus, 200, 60, got)
    env.run()
    assert got == [(200.0, "Timed out waiting for a reply to message ID 1 (ask, 200 s)")]


def test_a_lost_handler_stops_the_heartbeats():
    # handling starts at 0.5, heartbeats at 30.5 and 60.5, the process crashes at 75:
    # the caller gives up 60 s after the last heartbeat, at 120.5
    env, bus, rec, log = setup(work=500.0)
    got = []
    _monitored_call(env, bus, 1800, 60, got)
    env.timeout(75).callbacks.append(lambda ev: bus.consumer("echo").pool.stop())
    env.run()
    assert got == [(120.5, "Timed out waiting for a reply to message ID 1 (ask, no heartbeat in 60 s)")]


def test_queue_depth_is_observable_per_topic():
    env, bus, rec, log = setup(workers=2, work=1.0, latency=0)
    for i in range(5):
        bus.cast(("me", None), "echo", f"m{i}", {}, CTX)
    env.run(until=0.5)
    assert bus.queue_depth("echo") == 3
    env.run()
    assert bus.queue_depth("echo") == 0
    pool = bus.consumer("echo").pool
    assert pool.queued.max == 3 and pool.waits.n == 5
    # waits: 0, 0, 1, 1, 2 → mean 0.8; busy 5 worker-seconds over 3 s on 2 workers
    assert pool.waits.mean == pytest.approx(0.8)
    assert pool.busy.integral(env.now) == pytest.approx(5.0) and env.now == 3
    assert [w for *_, w in log] == [0, 1, 0, 1, 0]


def test_sending_to_a_topic_nobody_consumes_is_a_wiring_error():
    env, bus, rec, log = setup()
    with pytest.raises(LookupError, match="no consumer listens on topic 'nowhere'"):
        bus.cast(("me", None), "nowhere", "x", {}, CTX)


@pytest.mark.parametrize("pattern, names", [
    ("cmp[01-03]", ["cmp01", "cmp02", "cmp03"]),
    ("vm[8-11]", ["vm8", "vm9", "vm10", "vm11"]),
    ("r[1-2,5]-x", ["r1-x", "r2-x", "r5-x"]),
    ("web03", ["web03"]),
])
def test_name_ranges(pattern, names):
    assert expand_names(pattern) == names


@pytest.mark.parametrize("bad", ["cmp[03-01]", "cmp[a-b]", "cmp[1-2", "c[1][2]", ""])
def test_bad_name_ranges(bad):
    with pytest.raises(ValueError):
        expand_names(bad)


@pytest.mark.parametrize("spec, mean", [
    (3, 3.0),
    ({"dist": "constant", "value": 2}, 2.0),
    ({"dist": "exponential", "mean": 2}, 2.0),
    ({"dist": "uniform", "low": 1, "high": 3}, 2.0),
    ({"dist": "normal", "mean": 5, "sd": 1}, 5.0),
    ({"dist": "lognormal", "mean": 2, "sd": 1}, 2.0),
    ({"dist": "triangular", "low": 0, "mode": 1, "high": 5}, 2.0),
    ({"dist": "gamma", "mean": 2, "sd": 0.5}, 2.0),
    ({"dist": "choice", "values": [1, 3], "weights": [3, 1]}, 1.5),
])
def test_distributions_have_their_stated_mean(spec, mean):
    s = make_sampler(spec)
    assert s.mean == pytest.approx(mean)
    rng = random.Random(1)
    draws = [s(rng) for _ in range(40000)]
    assert min(draws) >= 0
    sd = statistics.pstdev(draws)
    assert abs(statistics.fmean(draws) - mean) <= 4 * sd / math.sqrt(len(draws)) + 1e-12


@pytest.mark.parametrize("spec, problem", [
    (-1, "finite number >= 0"),
    ("fast", "expected a number of seconds"),
    ({"dist": "weibull"}, "unknown or missing 'dist'"),
    ({"dist": "uniform", "low": 3, "high": 1}, "low <= high"),
    ({"dist": "exponential", "mean": 1, "rate": 2}, "unknown parameter(s) rate"),
    ({"dist": "choice", "values": []}, "non-empty list"),
])
def test_bad_distributions(spec, problem):
    assert problem in check_distribution(spec)


def test_streams_are_independent_and_reproducible():
    a, b = RandomStreams(1), RandomStreams(1)
    x = [a.stream("x").random() for _ in range(3)]
    b.stream("y").random()  # drawing from another stream first changes nothing
    assert [b.stream("x").random() for _ in range(3)] == x
    assert RandomStreams(2).stream("x").random() != x[0]
